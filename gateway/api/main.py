"""All routers, gathered."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.routes import (
    actions,
    amendments,
    attestations,
    auth,
    disputes,
    events,
    evidence,
    health,
    milestones,
    payments,
    procurements,
    submissions,
)

api_router = APIRouter()
for module in (
    health,
    auth,
    procurements,
    actions,
    milestones,
    submissions,
    attestations,
    payments,
    amendments,
    disputes,
    events,
    evidence,
):
    api_router.include_router(module.router)
