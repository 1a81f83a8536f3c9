"""Health."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.common import ApiModel

__all__ = ["HealthPublic", "IndexerHealthPublic"]


class IndexerHealthPublic(ApiModel):
    """How far the mirror is behind the chain."""

    block_number: int | None = Field(description="The last mirrored block, null if the mirror is empty.")
    lag_blocks: int | None = Field(description="Chain head minus the last mirrored block.")


class HealthPublic(ApiModel):
    """The gateway's view of its dependencies."""

    status: str = Field(
        description="ok, degraded (mirror behind or missing), wrong-chain (the node is not the mirror's chain) or "
        "unavailable (no chain)."
    )
    problem: str | None = Field(None, description="What is wrong, in words (null when nothing is).")
    chain_id: int | None
    chain_head: int | None
    relayer: bool = Field(description="Whether signed actions can be relayed.")
    indexer: IndexerHealthPublic
