"""Budget lines: a fiscal year's lines and their figures, one line, totals per ministry and per item, and a live
stream (server-sent events) of line changes.

Who sees which line is ``gateway.scope.LineScope``: the finance authority and auditors every line, a ministry
account its ministry's lines and those granted to it (until the grant expires or is revoked); a line outside the
scope is a 404, the same as one that does not exist. Unknown query parameters are refused (422).

The stream sends one message per mirrored change of a visible line (``event: line-change``, ``id`` the change's
``<block>-<logIndex>``, ``data`` a ``LineChangePublic``), polling the mirror every ``_POLL_S``: a change reaches a
client within that of the indexer committing its block. Each poll checks the session and the caller's roles again
(under the mirror's version, as every request does): a signed-out session or a revoked account ends the stream.
"""

# No ``from __future__ import annotations``: FastAPI reads the query models from the annotations.

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.deps import CurrentCaller, StateDep
from gateway.errors import NotAuthenticated, ServiceUnavailable
from gateway.identity import MirrorVersion, Principal
from gateway.schemas.budget import (
    BudgetFilters,
    BudgetSummaryPublic,
    LineDetailPublic,
    LineFilters,
    LineHistoryPublic,
    LinesPublic,
    StreamFilters,
    SummaryFilters,
)
from gateway.services.budget import BudgetReader, Clock, change_public, fiscal_year_of, read_clock
from gateway.services.reads import decode_cursor
from gateway.streams import MAX_STREAMS_PER_ACCOUNT, Live, StreamSlot, open_slot, recheck

router = APIRouter(prefix="/budget", tags=["budget"])

__all__ = ["MAX_STREAMS_PER_ACCOUNT", "router"]

_POLL_S = 0.1  # how often the stream looks for new changes
_HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream


def _mirror(caller_mirror: MirrorVersion | None) -> MirrorVersion:
    if caller_mirror is None:
        raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
    return caller_mirror


def _clock(state: StateDep, mirror: MirrorVersion, idle_days: int) -> Clock:
    return read_clock(state.ledger, mirror, idle_days)


def _reader(state: StateDep, principal: Principal) -> BudgetReader:
    return BudgetReader(state.engine, state.ledger.chain_id, principal)


@router.get("/lines", response_model=LinesPublic)
def list_lines(state: StateDep, caller: CurrentCaller, filters: Annotated[BudgetFilters, Query()]) -> LinesPublic:
    """A fiscal year's budget lines visible to the account, with their figures, in series order."""
    clock = _clock(state, _mirror(caller.mirror), filters.idle_days)
    year = filters.fiscal_year or fiscal_year_of(clock.now)
    limit = min(filters.limit, state.settings.page_size_max)
    data, count = _reader(state, caller.principal).page(
        year, clock, ministry=filters.ministry, item=filters.item, offset=filters.offset, limit=limit
    )
    return LinesPublic(data=data, count=count)


@router.get("/lines/{fiscal_year}/{series}", response_model=LineDetailPublic)
def read_line(
    state: StateDep,
    caller: CurrentCaller,
    fiscal_year: Annotated[int, Path(ge=1, le=9_998, description="The line's fiscal year.")],
    series: Annotated[int, Path(ge=1, le=2**32 - 1, description="The line's series (as in every line read).")],
    filters: Annotated[LineFilters, Query()],
) -> LineDetailPublic:
    """One budget line's figures and its pending transfers with their age (404 if not visible)."""
    clock = _clock(state, _mirror(caller.mirror), filters.idle_days)
    line = _reader(state, caller.principal).line(fiscal_year, series, clock)
    assert isinstance(line, LineDetailPublic)
    return line


@router.get("/lines/{fiscal_year}/{series}/history", response_model=LineHistoryPublic)
def read_line_history(
    state: StateDep,
    caller: CurrentCaller,
    fiscal_year: Annotated[int, Path(ge=1, le=9_998, description="The line's fiscal year.")],
    series: Annotated[int, Path(ge=1, le=2**32 - 1, description="The line's series (as in every line read).")],
    filters: Annotated[LineFilters, Query()],
) -> LineHistoryPublic:
    """One budget line (as ``/lines/{fiscal_year}/{series}``) with its history: its item's enactments, every event
    that moved it, the transfers carried out with requester, approver and time taken, and the procurements charged
    to it (404 if not visible)."""
    clock = _clock(state, _mirror(caller.mirror), filters.idle_days)
    return _reader(state, caller.principal).history(fiscal_year, series, clock)


@router.get("/summary", response_model=BudgetSummaryPublic)
def budget_summary(
    state: StateDep, caller: CurrentCaller, filters: Annotated[SummaryFilters, Query()]
) -> BudgetSummaryPublic:
    """A fiscal year's visible lines summed per ministry and per item (with the item's enactments)."""
    clock = _clock(state, _mirror(caller.mirror), filters.idle_days)
    year = filters.fiscal_year or fiscal_year_of(clock.now)
    return _reader(state, caller.principal).summary(year, clock, filters.idle_days, ministry=filters.ministry)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events: line-change."}},
)
async def stream_line_changes(
    request: Request,
    state: StateDep,
    caller: CurrentCaller,
    filters: Annotated[StreamFilters, Query()],
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,19}-[0-9]{1,9}$", include_in_schema=False)
    ] = None,
) -> StreamingResponse:
    """Server-sent events: one ``line-change`` message per mirrored change of a visible line, from now on (or
    after ``after`` / ``Last-Event-ID``)."""
    mirror = _mirror(caller.mirror)
    resume = last_event_id or filters.after
    after = decode_cursor(resume) if resume is not None else (mirror.block_number, 10**9)
    token = request.headers.get("authorization", "").partition(" ")[2]
    account = caller.principal.address.lower()
    slot = open_slot(account)
    events = _events(request, state, token, caller.principal, mirror, after, slot)
    slot.bind(events)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    state: StateDep,
    token: str,
    principal: Principal,
    mirror: MirrorVersion,
    after: tuple[int, int],
    slot: StreamSlot,
) -> AsyncIterator[bytes]:
    try:
        async for chunk in _changes(request, state, token, principal, mirror, after):
            yield chunk
    finally:
        slot.release()


async def _changes(
    request: Request,
    state: StateDep,
    token: str,
    principal: Principal,
    mirror: MirrorVersion,
    after: tuple[int, int],
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    yield b": line changes follow\n\n"
    while not await request.is_disconnected():
        try:
            principal, mirror, rows = await run_in_threadpool(_poll, state, token, principal, mirror, after)
        except NotAuthenticated:
            yield b'event: end\ndata: {"reason": "signed out, or no active role"}\n\n'
            return
        for row in rows:
            after = (row.block_number, row.log_index)
            body = json.dumps(change_public(row).model_dump(mode="json", by_alias=True))
            yield f"id: {row.block_number}-{row.log_index}\nevent: line-change\ndata: {body}\n\n".encode()
            last_sent = loop.time()
        if not rows:
            if loop.time() - last_sent >= _HEARTBEAT_S:
                yield b": keep-alive\n\n"
                last_sent = loop.time()
            await asyncio.sleep(_POLL_S)


def _poll(
    state: StateDep, token: str, principal: Principal, mirror: MirrorVersion, after: tuple[int, int]
) -> tuple[Principal, MirrorVersion, list[Any]]:
    """The session checked again, the caller's roles as of the mirror's version now, and the changes after."""
    live = recheck(state, token, Live(principal, mirror))
    reader = _reader(state, live.principal)
    now = state.ledger.now(max_age_s=1.0)
    with state.engine.connect() as conn:
        rows = reader.changes_after(conn, after, now)
    return live.principal, live.mirror, list(rows)
