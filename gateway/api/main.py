"""All routers, gathered."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.routes import (
    actions,
    auth,
    budget,
    digests,
    events,
    evidence,
    flags,
    health,
    lists,
    milestone_evidence,
    ocds,
    procurements,
    trail,
)

api_router = APIRouter()
for router in (
    health.router,
    auth.router,
    lists.LISTS[0].router(),  # /procurements, before /procurements/{id}
    procurements.router,
    actions.router,
    actions.budget_router,
    actions.registry_router,
    milestone_evidence.router,
    *(route.router() for route in lists.LISTS[1:]),
    events.router,
    evidence.router,
    budget.router,
    ocds.router,
    flags.router,
    trail.router,
    digests.router,
):
    api_router.include_router(router)
