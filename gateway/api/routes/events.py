"""The raw event log of the ledger's contracts, in chain order, with a resumable cursor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, StateDep
from gateway.schemas.events import EventsPublic
from gateway.services.reads import decode_cursor, encode_cursor

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPublic)
def list_events(
    reader: MirrorReader,
    state: StateDep,
    cursor: Annotated[
        str | None, Query(max_length=40, description="Resume after this position (a previous nextCursor).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Events per page (capped by the server).")] = 100,
    procurement_id: Annotated[
        str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this escrow's events.")
    ] = None,
    event: Annotated[
        str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_]+$", description="Only this event, e.g. Attested.")
    ] = None,
    from_block: Annotated[int | None, Query(alias="fromBlock", ge=0, le=2**63 - 1)] = None,
    to_block: Annotated[int | None, Query(alias="toBlock", ge=0, le=2**63 - 1)] = None,
) -> EventsPublic:
    """Events in (block, log index) order; auditors see every ledger event, others their procurements' events."""
    limit = min(limit, state.settings.page_size_max)
    after = None if cursor is None else decode_cursor(cursor)
    data = reader.events(
        after=after,
        limit=limit,
        procurement_id=None if procurement_id is None else procurement_id.lower(),
        event=event,
        from_block=from_block,
        to_block=to_block,
    )
    next_cursor = encode_cursor(data[-1].block_number, data[-1].log_index) if len(data) == limit else None
    return EventsPublic(data=data, count=len(data), next_cursor=next_cursor)
