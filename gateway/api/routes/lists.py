"""The lists of the mirror, each a route made from one pattern: procurements, milestones, evidence submissions,
attestations, payments, amendments and disputes of visible procurements, paged, filtered, in chain order.

A list is a ``Listing`` of gateway/services/reads.py (which rows, as which schema, in which order) and a filter
model here (its query parameters, each named for one of the listing's filters); ``ListRoute`` makes its route.
A new list is one more of each and one ``LISTS`` entry.
"""

# No ``from __future__ import annotations``: FastAPI reads each route's filter model from its annotation.

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from chain import OCID_MAX_LENGTH
from gateway.deps import MirrorReader, PageDep, get_page
from gateway.identity import Principal
from gateway.schemas.common import ApiModel
from gateway.schemas.procurements import (
    AmendmentsPublic,
    AttestationsPublic,
    DisputesPublic,
    EvidencesPublic,
    MilestonesPublic,
    PaymentsPublic,
    ProcurementsPublic,
)
from gateway.services.flags import count_flags
from gateway.services.reads import LISTINGS, Listing

__all__ = ["LISTS", "SEARCH_MAX_LENGTH", "SEARCH_PATTERN", "ListRoute"]

_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_ORG_CODE = r"^[\x21-\x7e]+$"
SEARCH_MAX_LENGTH = 100
SEARCH_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # no control characters (PostgreSQL refuses NUL in text)


class _Filters(BaseModel):
    """Query filters: each field is a filter of the listing by that name (None: not applied)."""

    model_config = ConfigDict(populate_by_name=True)


class ProcurementFilters(_Filters):
    ministry: str | None = Field(
        None, min_length=1, max_length=16, pattern=_ORG_CODE, description="Buying ministry's code, e.g. MOD."
    )
    supplier_org: str | None = Field(
        None,
        alias="supplierOrg",
        min_length=1,
        max_length=16,
        pattern=_ORG_CODE,
        description="Supplier organization's code.",
    )
    supplier: str | None = Field(None, pattern=_ADDRESS, description="Supplier account.")
    evaluator: str | None = Field(None, pattern=_ADDRESS, description="An evaluator on the panel.")
    paused: bool | None = Field(None, description="Only paused (or only running) escrows.")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=SEARCH_MAX_LENGTH,
        pattern=SEARCH_PATTERN,
        description="Words in the title, the supplier's or the ministry's code or name; or a whole ocid, escrow or id.",
    )
    status: Literal["open", "completed"] | None = Field(
        None, description="open: a milestone still to pay; completed: none."
    )
    fiscal_year: int | None = Field(
        None, alias="fiscalYear", ge=1, le=9_998, description="Created in this fiscal year (April to March, JST)."
    )


class _OfProcurement(_Filters):
    procurement_id: str | None = Field(
        None,
        alias="procurementId",
        min_length=1,
        max_length=OCID_MAX_LENGTH,
        description="Only this procurement: its ocid, escrow address or on-chain id.",
    )


class MilestoneFilters(_OfProcurement):
    status: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z]+$", description="e.g. Submitted, Paid.")


class EventRowFilters(_OfProcurement):
    milestone_id: int | None = Field(None, alias="milestoneId", ge=0, le=2**32, description="Only this milestone.")


class PaymentFilters(EventRowFilters):
    kind: str | None = Field(
        None, max_length=16, pattern=r"^(released|deferred|refunded)$", description="released, deferred or refunded."
    )


class AttestationFilters(EventRowFilters):
    evaluator: str | None = Field(None, pattern=_ADDRESS, description="Only this evaluator.")


@dataclass(frozen=True)
class ListRoute:
    """``GET path``: a page of a listing's visible rows, filtered by the query parameters of ``filters``."""

    path: str
    tag: str
    name: str  # the route's name (its OpenAPI operation id starts with it)
    description: str
    listing: Listing
    filters: type[_Filters]
    page: type[ApiModel]  # the answer: {data, count}
    annotate: Callable[[Any, Principal, Sequence[Any]], None] | None = None  # adds to a page's rows (app state)

    def router(self) -> APIRouter:
        """The route, in a router of its own."""
        router = APIRouter(prefix=self.path, tags=[self.tag])
        listing, page_schema, annotate = self.listing, self.page, self.annotate

        known = frozenset(_PAGE_PARAMETERS) | {field.alias or name for name, field in self.filters.model_fields.items()}

        def read(
            request: Request,
            reader: MirrorReader,
            page: PageDep,
            filters: Annotated[self.filters, Query()],  # type: ignore[name-defined]
        ) -> Any:
            _refuse_unknown(request, known)
            data, count = reader.rows(listing, page, filters.model_dump())
            if annotate is not None:
                annotate(request.app.state, reader.principal, data)
            return page_schema.model_validate({"data": data, "count": count})

        router.add_api_route(
            "", read, methods=["GET"], response_model=page_schema, name=self.name, description=self.description
        )
        return router


# The query parameters of gateway.deps.get_page, which every list takes besides its filters.
_PAGE_PARAMETERS = tuple(
    param.name for param in inspect.signature(get_page).parameters.values() if param.name != "state"
)


def _refuse_unknown(request: Request, known: frozenset[str]) -> None:
    """A query parameter this list does not take is a 422 naming it: a filter silently ignored would return
    every row (``/payments?ministry=MOFA``)."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known))
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"unknown filter {name!r}; this list takes {takes}",
                    "type": "extra_forbidden",
                }
                for name in unknown
            ]
        )


LISTS = (
    ListRoute(
        "/procurements",
        "procurements",
        "list_procurements",
        "Procurements visible to the account, oldest first, with filters.",
        LISTINGS["procurements"],
        ProcurementFilters,
        ProcurementsPublic,
        count_flags,
    ),
    ListRoute(
        "/milestones",
        "milestones",
        "milestone_page",
        "Milestones of visible procurements as they stand now.",
        LISTINGS["milestones"],
        MilestoneFilters,
        MilestonesPublic,
    ),
    ListRoute(
        "/submissions",
        "evidence-submissions",
        "evidence",
        "Evidence submitted on chain for milestones of visible procurements, in chain order.",
        LISTINGS["submissions"],
        EventRowFilters,
        EvidencesPublic,
    ),
    ListRoute(
        "/attestations",
        "attestations",
        "attestations",
        "Evaluators' attestations on milestones of visible procurements, in chain order.",
        LISTINGS["attestations"],
        AttestationFilters,
        AttestationsPublic,
    ),
    ListRoute(
        "/payments",
        "payments",
        "payments",
        "Payments released (or deferred) to suppliers, and refunds to the budget, of visible procurements, in chain"
        " order.",
        LISTINGS["payments"],
        PaymentFilters,
        PaymentsPublic,
    ),
    ListRoute(
        "/amendments",
        "amendments",
        "amendments",
        "Amendments proposed (and approved) on visible procurements, in chain order.",
        LISTINGS["amendments"],
        EventRowFilters,
        AmendmentsPublic,
    ),
    ListRoute(
        "/disputes",
        "disputes",
        "disputes",
        "Disputes (and their settlements) on visible procurements, in chain order.",
        LISTINGS["disputes"],
        EventRowFilters,
        DisputesPublic,
    ),
)
