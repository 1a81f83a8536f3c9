"""The raw event log, paged by a resumable cursor."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, BlockTime, Bytes32, FromJsonText

__all__ = ["EventPublic", "EventsPublic"]


class EventPublic(ApiModel):
    """One decoded log of a ledger contract; integers in ``args`` are decimal strings."""

    block_number: int
    block_time: BlockTime = None
    block_hash: Bytes32
    tx_index: int
    tx_hash: Bytes32
    log_index: int
    emitter: Address
    event: str
    args: Annotated[dict[str, Any], FromJsonText]


class EventsPublic(ApiModel):
    """A page of events in chain order; pass ``nextCursor`` as ``cursor`` to resume after the last one."""

    data: list[EventPublic]
    count: int = Field(description="Events on this page.")
    next_cursor: str = Field(
        description=(
            "Where to resume: pass it as cursor. After the last event of a full page; after the mirror's last "
            "block when the page was short or empty (poll with it to follow the chain)."
        )
    )
