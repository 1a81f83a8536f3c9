"""Live pages: a server-sent event stream per open procurement page and budget overview, sending ``changed`` when
the mirror has something new for it; htmx (its SSE extension, templates/_actions.html) then fetches the page again
and swaps its main part. Without JavaScript the pages are the same, only not live.

The stream of a page starts after the mirror's block the page was rendered at (``after``, put in the page), so a
change mirrored between the page and its stream is not missed. Each poll checks the session and the roles again
(``gateway.streams.recheck``), and reads the mirror's own feeds, scoped to the caller as the API's reads are: a
procurement's events (``Reader.events``, as ``GET /events``), the budget's line changes
(``BudgetReader.changes_after``, as ``GET /budget/stream``). Streams count against the same per-account bound as
the API's (``gateway.streams``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.core.state import GatewayState
from gateway.errors import GatewayError, InvalidInput, NotAuthenticated, ServiceUnavailable
from gateway.identity import Principal
from gateway.services.budget import BudgetReader
from gateway.services.reads import Reader
from gateway.streams import Live, StreamSlot, open_slot, recheck
from gateway.web.actions import call_api
from gateway.web.pages import SESSION_COOKIE, _Context, _signed_in, _templates

__all__ = ["POLL_S", "router"]

router = APIRouter(prefix="/ui/live", include_in_schema=False)

POLL_S = 0.1  # how often a stream looks at the mirror (as the API's budget stream)
_HEARTBEAT_S = 15.0
# Whether the mirror has anything new for a page after a block: (state, principal, after block, up to block).
Probe = Callable[[GatewayState, Principal, int, int], bool]


def live_after(request: Request) -> int:
    """The mirror's block a page is rendered at (what its stream starts after; 0 before the first sync)."""
    caller = getattr(request.state, "caller", None)
    mirror = None if caller is None else caller.mirror
    return 0 if mirror is None else int(mirror.block_number)


def _procurement_probe(escrow: str) -> Probe:
    def probe(state: GatewayState, principal: Principal, after: int, until: int) -> bool:
        reader = Reader(state.engine, state.ledger.chain_id, principal)
        return bool(reader.events(after=(after, 10**9), limit=1, procurement_id=escrow, to_block=until))

    return probe


def _budget_probe(state: GatewayState, principal: Principal, after: int, until: int) -> bool:
    reader = BudgetReader(state.engine, state.ledger.chain_id, principal)
    now = state.ledger.now(max_age_s=1.0)
    with state.engine.connect() as conn:
        return any(row.block_number <= until for row in reader.changes_after(conn, (after, 10**9), now, limit=1))


def _after(text: str | None) -> int:
    if text is None or not text.isdigit() or len(text) > 19:
        raise InvalidInput(f"after: a block number, got {(text or '')[:40]!r}")
    return int(text)


async def _stream(request: Request, probe: Probe, check: Callable[[Any], Any] | None = None) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return Response("sign in first", status_code=401, media_type="text/plain")
    try:
        after = _after(request.query_params.get("after"))
        if caller.mirror is None:
            raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
        if check is not None:
            await check(caller)
        slot = open_slot(caller.principal.address)
    except GatewayError as exc:
        return _Context(request, caller).problem(exc)
    token = request.cookies.get(SESSION_COOKIE, "")
    events = _events(request, probe, token, Live(caller.principal, caller.mirror), after, slot)
    slot.bind(events)
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


async def _events(
    request: Request, probe: Probe, token: str, live: Live, after: int, slot: StreamSlot
) -> AsyncIterator[bytes]:
    state: GatewayState = request.app.state.gateway
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    try:
        yield b": changes follow\n\n"
        while not await request.is_disconnected():
            try:
                live = await run_in_threadpool(recheck, state, token, live)
            except NotAuthenticated:
                yield b"event: end\ndata: signed out, or no active role\n\n"
                return
            until = int(live.mirror.block_number)
            if until > after:
                if await run_in_threadpool(probe, state, live.principal, after, until):
                    yield f"id: {until}\nevent: changed\ndata: {until}\n\n".encode()
                    last_sent = loop.time()
                after = until
            if loop.time() - last_sent >= _HEARTBEAT_S:
                yield b": keep-alive\n\n"
                last_sent = loop.time()
            await asyncio.sleep(POLL_S)
    finally:
        slot.release()


@router.get("/procurements/{procurement_id}")
async def procurement_changes(request: Request, procurement_id: str) -> Response:
    """Server-sent events: ``changed`` when the mirror has a new event of the procurement (one it may see)."""

    async def visible(caller: Any) -> None:  # a procurement the account may not see is the page's 404
        await call_api(request, "GET", f"/procurements/{procurement_id}", request.cookies.get(SESSION_COOKIE))

    if not procurement_id.startswith("0x") or len(procurement_id) != 42:
        return _Context(request, await _signed_in(request)).problem(
            InvalidInput("procurement: its escrow address, as the page links it")
        )
    return await _stream(request, _procurement_probe(procurement_id), visible)


@router.get("/budget")
async def budget_changes(request: Request) -> Response:
    """Server-sent events: ``changed`` when the mirror has a new change of a budget line the account may see."""
    return await _stream(request, _budget_probe)


_templates.env.globals["live_after"] = live_after
