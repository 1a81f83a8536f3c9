"""Mirrors that check each other: several organizations' mirrors of one chain, compared block by block.

Each mirror keeps, per block that produced ledger events, a digest of its events and the running hash chain
(indexer/digests.py); each gateway serves them (``GET /audit/digests``). ``compare_mirrors`` reads them page by
page from every source at once, up to the lowest block all of them have mirrored, and stops at the first block
where they differ: a block one mirror has and another lacks, or the same block with another hash, digest or
chain hash. For that block it reads the events from every mirror and names the rows that differ (by transaction
and log index). A mirror that a local self-check finds whole (its digests recomputed from its own rows) can still
be wrong if whoever edited it rewrote the digests too; the others' copies show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from chain.errors import ConfigurationError
from indexer.cursor import mirror_version
from indexer.models import BlockDigest, EventRow

__all__ = [
    "Comparison",
    "DigestLine",
    "Divergence",
    "EngineMirror",
    "EventLine",
    "MirrorSource",
    "compare_mirrors",
    "read_block_events",
    "read_digests",
]

MAX_PAGE = 10_000


@dataclass(frozen=True)
class DigestLine:
    """One block's line of a mirror's digest chain."""

    block_number: int
    block_hash: str
    event_count: int
    digest: str
    chain_hash: str

    def to_json(self) -> dict[str, object]:
        """The line as the API gives it."""
        return {
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "eventCount": self.event_count,
            "digest": self.digest,
            "chainHash": self.chain_hash,
        }


@dataclass(frozen=True)
class EventLine:
    """One mirrored event, as compared: its place and its content."""

    tx_hash: str
    log_index: int
    emitter: str
    event: str
    args: str  # canonical JSON, as digested

    @property
    def key(self) -> str:
        """Where it is: transaction and log index."""
        return f"{self.tx_hash.lower()}:{self.log_index}"

    @property
    def content(self) -> tuple[str, str, str]:
        """What it says: emitter, event and arguments."""
        return (self.emitter.lower(), self.event, self.args)


def read_digests(conn: Connection, chain_id: int, from_block: int, to_block: int, limit: int) -> list[DigestLine]:
    """The mirror's digest lines of blocks ``from_block``..``to_block``, at most ``limit``, in block order."""
    table = BlockDigest.__table__
    rows = conn.execute(
        select(table.c.block_number, table.c.block_hash, table.c.event_count, table.c.digest, table.c.chain_hash)
        .where(table.c.chain_id == chain_id, table.c.block_number >= from_block, table.c.block_number <= to_block)
        .order_by(table.c.block_number)
        .limit(limit)
    )
    return [DigestLine(*row) for row in rows]


def read_block_events(conn: Connection, chain_id: int, block_number: int) -> list[EventLine]:
    """Every mirrored event of one block, in log order."""
    table = EventRow.__table__
    rows = conn.execute(
        select(table.c.tx_hash, table.c.log_index, table.c.emitter, table.c.event, table.c.args)
        .where(table.c.chain_id == chain_id, table.c.block_number == block_number)
        .order_by(table.c.log_index)
    )
    return [EventLine(*row) for row in rows]


class MirrorSource(Protocol):
    """A mirror to compare: a local database or another organization's gateway."""

    name: str

    def head(self) -> int | None:
        """The last block it has mirrored (None: it has not synced this chain)."""

    def digests(self, from_block: int, to_block: int, limit: int) -> list[DigestLine]:
        """Its digest lines in the range, at most ``limit``."""

    def events(self, block_number: int) -> list[EventLine]:
        """Its events of one block."""


class EngineMirror:
    """A mirror read from its database."""

    def __init__(self, name: str, engine: Engine, chain_id: int) -> None:
        self.name = name
        self.engine = engine
        self.chain_id = chain_id

    def head(self) -> int | None:
        with self.engine.connect() as conn:
            version = mirror_version(conn, self.chain_id)
        return None if version is None else version.block_number

    def digests(self, from_block: int, to_block: int, limit: int) -> list[DigestLine]:
        with self.engine.connect() as conn:
            return read_digests(conn, self.chain_id, from_block, to_block, limit)

    def events(self, block_number: int) -> list[EventLine]:
        with self.engine.connect() as conn:
            return read_block_events(conn, self.chain_id, block_number)


@dataclass(frozen=True)
class Divergence:
    """The first block where the mirrors differ: each mirror's line (None: it has no events there) and the rows
    that differ (by transaction:log index, each mirror's event and arguments, None where it lacks the row)."""

    block_number: int
    lines: Mapping[str, DigestLine | None]
    rows: Mapping[str, Mapping[str, EventLine | None]]


@dataclass(frozen=True)
class Comparison:
    """What was compared and the first difference, if any."""

    mirrors: Sequence[str]
    heads: Mapping[str, int | None]
    from_block: int
    to_block: int  # the last block compared: the lowest head, or the one asked for
    blocks_compared: int
    divergence: Divergence | None = None
    chain_hash: str | None = field(default=None)  # the running hash all agree on at the last block compared

    @property
    def agree(self) -> bool:
        """True if every mirror holds the same digest chain over the range."""
        return self.divergence is None


def _divergence(sources: Sequence[MirrorSource], block: int, lines: Mapping[str, DigestLine | None]) -> Divergence:
    by_source = {source.name: {line.key: line for line in source.events(block)} for source in sources}
    keys = sorted({key for lines_of in by_source.values() for key in lines_of}, key=lambda k: int(k.split(":")[1]))
    rows: dict[str, dict[str, EventLine | None]] = {}
    for key in keys:
        values = {name: found.get(key) for name, found in by_source.items()}
        if len({None if v is None else v.content for v in values.values()}) > 1:
            rows[key] = values
    return Divergence(block_number=block, lines=lines, rows=rows)


def compare_mirrors(
    sources: Sequence[MirrorSource], *, from_block: int = 0, to_block: int | None = None, page: int = MAX_PAGE
) -> Comparison:
    """Compare the mirrors' digest chains block by block over ``from_block``..``to_block`` (default: the lowest
    head of them all), and name the first block where they differ with its differing rows."""
    if len(sources) < 2:
        raise ConfigurationError("name at least two mirrors to compare")
    if len({source.name for source in sources}) != len(sources):
        raise ConfigurationError(f"a mirror is named twice: {', '.join(source.name for source in sources)}")
    heads = {source.name: source.head() for source in sources}
    known = [head for head in heads.values() if head is not None]
    last = min(known) if len(known) == len(heads) else -1
    if to_block is not None:
        last = min(last, to_block)
    names = [source.name for source in sources]
    compared = 0
    agreed: str | None = None
    cursor = from_block
    while cursor <= last:
        pages = {source.name: source.digests(cursor, last, page) for source in sources}
        # A full page covers up to its last block only: compare no further than every source has answered for.
        covered = min((lines[-1].block_number if len(lines) >= page else last) for lines in pages.values())
        by_block: dict[int, dict[str, DigestLine]] = {}
        for name, lines in pages.items():
            for line in lines:
                if line.block_number <= covered:
                    by_block.setdefault(line.block_number, {})[name] = line
        for block in sorted(by_block):
            found = by_block[block]
            values = {(line.block_hash, line.event_count, line.digest, line.chain_hash) for line in found.values()}
            if len(found) != len(sources) or len(values) != 1:
                each = {name: found.get(name) for name in names}
                return Comparison(names, heads, from_block, last, compared, _divergence(sources, block, each), agreed)
            compared += 1
            agreed = next(iter(found.values())).chain_hash
        cursor = covered + 1
    return Comparison(names, heads, from_block, last, compared, None, agreed)
