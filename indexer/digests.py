"""The audit chain: per block, a SHA-256 digest of its canonical events, chained as h_n = sha256(h_{n-1} || d_n).

The planner (``indexer.planning``) writes one digest row per block with the rows it covers; ``indexer.audit``
recomputes them from the stored events and a replay compares the final hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["GENESIS", "block_digest", "chain_next"]

GENESIS = "0" * 64  # h_0 of the running hash chain


def block_digest(chain_id: int, number: int, block_hash: str, events: Iterable[Sequence[Any]]) -> str:
    """sha256 of the canonical JSON ``[chain id, number, hash, [[tx, log index, emitter, event, args]...]]``.

    ``args`` is each event's canonical JSON (as stored in ``events.args``), embedded verbatim.
    """
    body = ",".join([f'["{tx}",{index},"{emitter}","{name}",{args}]' for tx, index, emitter, name, args in events])
    text = f'[{chain_id},{number},"{block_hash}",[{body}]]'
    return hashlib.sha256(text.encode()).hexdigest()


def chain_next(previous: str, digest: str) -> str:
    """h_n = sha256(h_{n-1} || digest_n), over the raw 32-byte values."""
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(digest)).hexdigest()
