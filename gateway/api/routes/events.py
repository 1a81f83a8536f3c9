"""The raw event log of the ledger's contracts, in chain order, with a resumable cursor.

Every page says where to resume (``nextCursor``): after its last event when it is full, else after the last
block the mirror had when the page was read (every matching event up to it was on the page), so a follower
polls with the cursor it was given and never misses or repeats an event. A reorganization deeper than the
indexer's confirmation depth rewrites blocks a follower may already have passed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from chain import OCID_MAX_LENGTH
from gateway.deps import MirrorReader, StateDep
from gateway.schemas.events import EventsPublic
from gateway.services.reads import CURSOR_PATTERN, decode_cursor, encode_cursor

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventsPublic)
def list_events(
    reader: MirrorReader,
    state: StateDep,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="Resume after this position: the nextCursor of the previous page (opaque; omit to start).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Events per page (capped by the server).")] = 100,
    procurement_id: Annotated[
        str | None,
        Query(
            alias="procurementId",
            min_length=1,
            max_length=OCID_MAX_LENGTH,
            description="Only this procurement's events: its ocid, escrow address or on-chain id.",
        ),
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
    mirrored = reader.mirrored_block() or 0  # read first: every event up to it is in the mirror already
    until = mirrored if to_block is None else min(to_block, mirrored)
    data = reader.events(
        after=after,
        limit=limit,
        procurement_id=procurement_id,
        event=event,
        from_block=from_block,
        to_block=until,
    )
    full = len(data) == limit
    next_cursor = encode_cursor(data[-1].block_number, data[-1].log_index) if full else encode_cursor(until)
    return EventsPublic(data=data, count=len(data), next_cursor=next_cursor)
