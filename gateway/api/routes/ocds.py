"""OCDS 1.1 publication: release and record packages of the mirror, public without sign-in.

Anyone may read them: a procurement's classified fields (its spec's ``classified``) are withheld and declared in
``withheldInformation``; an auditor's session gets them. Pages hold ``limit`` procurements (every release of each);
the ``Link`` header (``rel="next"``) and ``X-Next-Cursor`` say where the next page starts, absent on the last.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from gateway.core.state import GatewayState
from gateway.deps import BearerCredentials, ProcurementId, StateDep, procurement_named, resolve_caller
from gateway.schemas.ocds import MAX_OCDS_PAGE, OcdsPageQuery, OcdsRecordQuery
from gateway.services.ocds import OcdsPage, OcdsPublisher

router = APIRouter(prefix="/ocds", tags=["ocds"])

_PACKAGE = {
    "type": "object",
    "required": ["uri", "version", "publisher", "publishedDate", "extensions"],
    "properties": {
        "uri": {"type": "string"},
        "version": {"type": "string"},
        "publishedDate": {"type": "string"},
        "publisher": {"type": "object"},
        "extensions": {"type": "array", "items": {"type": "string"}},
        "releases": {"type": "array", "items": {"type": "object"}},
        "records": {"type": "array", "items": {"type": "object"}},
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An OCDS 1.1 package (see the release and record package schemas).",
        "content": {"application/json": {"schema": _PACKAGE}},
    }
}

# Anyone may call these: the bearer token is optional (without one, or with a non-auditor's, the public view).
_OPTIONAL_SIGN_IN: dict[str, Any] = {"security": [{}]}


async def _auditor(request: Request, credentials: BearerCredentials) -> bool:
    """Whether the caller is a signed-in auditor (no credentials: the public; bad credentials: 401)."""
    if credentials is None:
        return False
    caller = await resolve_caller(request, credentials)
    return caller.principal.is_auditor


def _publisher(request: Request, state: StateDep) -> OcdsPublisher:
    return state.ocds


async def _page(
    kind: Literal["release", "record"],
    request: Request,
    response: Response,
    state: GatewayState,
    credentials: HTTPAuthorizationCredentials | None,
    query: OcdsPageQuery,
) -> dict[str, Any]:
    """One page of the publication as a package of ``kind``, the next page's cursor in the headers."""
    auditor = await _auditor(request, credentials)
    publisher = _publisher(request, state)
    page = await run_in_threadpool(
        publisher.page, kind, auditor=auditor, cursor=query.cursor, limit=min(query.limit, MAX_OCDS_PAGE)
    )
    return _answer(page, response, request)


def _answer(page: OcdsPage, response: Response, request: Request) -> dict[str, Any]:
    if page.next_cursor is not None:
        url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
        response.headers["X-Next-Cursor"] = page.next_cursor
    return page.package


@router.get("/releases", response_model=None, responses=_RESPONSES, openapi_extra=_OPTIONAL_SIGN_IN)
async def list_releases(
    request: Request,
    response: Response,
    state: StateDep,
    credentials: BearerCredentials,
    query: Annotated[OcdsPageQuery, Query()],
) -> dict[str, Any]:
    """A release package: every release of a page of procurements, in creation order."""
    return await _page("release", request, response, state, credentials, query)


@router.get("/records", response_model=None, responses=_RESPONSES, openapi_extra=_OPTIONAL_SIGN_IN)
async def list_records(
    request: Request,
    response: Response,
    state: StateDep,
    credentials: BearerCredentials,
    query: Annotated[OcdsPageQuery, Query()],
) -> dict[str, Any]:
    """A record package: a page of procurements, each with its releases and the release compiled from them."""
    return await _page("record", request, response, state, credentials, query)


@router.get(
    "/procurements/{procurement_id}/record", response_model=None, responses=_RESPONSES, openapi_extra=_OPTIONAL_SIGN_IN
)
async def procurement_record(
    request: Request,
    response: Response,
    state: StateDep,
    credentials: BearerCredentials,
    procurement_id: ProcurementId,
    query: Annotated[OcdsRecordQuery, Query()],
) -> dict[str, Any]:
    """A record package holding one procurement's record (named by its ocid, escrow address or on-chain id)."""
    procurement_named(procurement_id)  # 422 naming what is wrong, before any read
    auditor = await _auditor(request, credentials)
    publisher = _publisher(request, state)
    page = await run_in_threadpool(publisher.page, "record", auditor=auditor, name=procurement_id, limit=MAX_OCDS_PAGE)
    return _answer(page, response, request)
