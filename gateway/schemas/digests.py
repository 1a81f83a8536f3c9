"""A mirror's digest chain, as the API gives it (indexer/compare.py)."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.common import ApiModel, Bytes32

__all__ = ["DigestLinePublic", "DigestsPublic"]


class DigestLinePublic(ApiModel):
    """One block that produced ledger events: its hash, how many events, their digest and the running hash."""

    block_number: int
    block_hash: Bytes32
    event_count: int
    digest: str = Field(description="sha256 of the block's canonical events (hex, 64 digits).")
    chain_hash: str = Field(description="sha256(previous chainHash || digest): the running hash after this block.")


class DigestsPublic(ApiModel):
    """A page of the mirror's digest chain in block order; resume at ``nextFromBlock`` (null: the range is done)."""

    chain_id: int
    mirrored_block: int | None = Field(description="How far this mirror goes (null: it has not synced the chain).")
    from_block: int
    to_block: int
    count: int
    data: list[DigestLinePublic]
    next_from_block: int | None
