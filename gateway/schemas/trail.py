"""A procurement's trail and an account's acts (indexer/trail.py), as the API gives them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.schemas.common import Address, ApiModel, BlockTime, Bytes32

__all__ = ["ActsPublic", "TrailLinePublic", "TrailPublic"]


class TrailLinePublic(ApiModel):
    """One event: where it is on chain, who signed and relayed it, and its block's place in the digest chain."""

    block_number: int
    block_time: BlockTime
    block_hash: Bytes32
    tx_hash: Bytes32
    log_index: int
    emitter: Address
    event: str
    args: dict[str, Any] = Field(description="The event's arguments as mirrored (integers as decimal strings).")
    signer: Address | None = Field(
        description="The signer of a signed action; the account that sent a direct one (null: the node was not asked)."
    )
    relayer: Address | None = Field(description="The transaction's sender (the gateway's relayer for a signed one).")
    by_signature: bool
    documents: list[Bytes32] = Field(description="Hashes of the documents the event names (evidence, reports...).")
    words: str = Field(description="The role and organizations the event names, as people call them.")
    digest: str = Field(description="The block's digest (sha256 of its canonical events).")
    previous_chain_hash: str = Field(description="The mirror's running hash before this block.")
    chain_hash: str = Field(description="sha256(previousChainHash || digest): the running hash after this block.")


class TrailPublic(ApiModel):
    """Every event of one procurement in chain order."""

    escrow: Address
    count: int
    data: list[TrailLinePublic]


class ActsPublic(ApiModel):
    """Every privileged act of one account in chain order."""

    account: Address
    count: int
    data: list[TrailLinePublic]
