"""Health."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.common import ApiModel

__all__ = ["HealthPublic", "IndexerHealthPublic"]


class IndexerHealthPublic(ApiModel):
    """How far the mirror is behind the chain."""

    block_number: int | None = Field(description="The last mirrored block, null if the mirror is empty.")
    lag_blocks: int | None = Field(description="Chain head minus the last mirrored block.")
    checked_at: str | None = Field(
        None, description="When the indexer last checked what the mirror serves against the chain (ISO 8601, JST)."
    )
    checked_blocks: str | None = Field(None, description="The blocks that check covered, e.g. 100..355.")
    first_bad_block: int | None = Field(None, description="The first block where the mirror differs (null: none).")
    pending_indexes: int | None = Field(
        None,
        description="How many of the mirror's secondary indexes are not built yet: a fresh mirror's first catch-up "
        "drops them and builds them when it reaches its target, and reads that need them are slow until then "
        "(0: all built; null: the mirror cannot be read).",
    )


class HealthPublic(ApiModel):
    """The gateway's view of its dependencies."""

    status: str = Field(
        description="ok, degraded (mirror behind or missing, or its indexes not built yet: right but slow), "
        "wrong-chain (the node is not the mirror's chain), "
        "mismatch (the mirror serves what the chain does not say) or unavailable (no chain)."
    )
    problem: str | None = Field(None, description="What is wrong, in words (null when nothing is).")
    chain_id: int | None
    chain_head: int | None
    relayer: bool = Field(description="Whether signed actions can be relayed.")
    indexer: IndexerHealthPublic
