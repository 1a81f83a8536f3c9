"""The mirror checks what it serves against the chain, on a schedule: the recent blocks often, everything rarely.

A check fetches a block range's logs from the node again, decodes and maps them as the indexer did, and compares
every append-only row they give (payments, attestations, evidence ...) with the row the mirror serves, column by
column. The current-state rows the gateway serves besides, each milestone as it stands and each procurement's
books (funded, released, refunded, owed, paused until), are compared with the contracts' own view at the mirror's
block (``audit.compare_chain``, the questions ``procure audit verify`` asks): every escrow's in a full check, those
of the escrows whose milestones moved in the range in a recent one. A wrong milestone row is placed at the block
of its last change; a procurement's books at the latest change of its milestones (or its creation). The outcome
(the range, and the first block where anything differs, with what differs) is kept in ``self_checks``, where
``/healthz`` and
``procure index status`` read it: a row edited by hand is reported within one recent-blocks period if it is
recent, within one full period otherwise. ``procure audit verify`` remains the complete audit (the raw events
against their digests and hash chain, current state against the contracts, a whole replay).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from indexer.mappers import Insert
from indexer.models import EVENT_KEY, TABLES

if TYPE_CHECKING:
    from indexer.sync import Indexer

__all__ = ["SelfCheck", "last_self_check", "run_self_check"]

_CHECKS = TABLES["self_checks"]
# The append-only tables whose rows a log's mapper gives (the raw ``events`` rows are checked by their digests).
_CHECKED_TABLES = tuple(
    name
    for name, table in TABLES.items()
    if name != "events" and tuple(sorted(c.name for c in table.primary_key)) == tuple(sorted(EVENT_KEY))
)


@dataclass(frozen=True)
class SelfCheck:
    """One check of blocks ``from_block`` to ``to_block``: ``first_bad_block`` and what differs there, if any."""

    chain_id: int
    scope: str  # "recent" or "all"
    from_block: int
    to_block: int
    rows: int
    first_bad_block: int | None
    difference: str | None
    checked_at_ms: int

    @property
    def ok(self) -> bool:
        """True when the mirror served what the chain says."""
        return self.first_bad_block is None

    def __str__(self) -> str:
        checked = f"blocks {self.from_block}..{self.to_block} ({self.rows} rows, {self.scope})"
        if self.ok:
            return f"the mirror matches the chain over {checked}"
        return f"the mirror differs from the chain at block {self.first_bad_block}: {self.difference} [{checked}]"


def run_self_check(
    indexer: Indexer, scope: str, from_block: int, to_block: int, between_spans: Callable[[], None] = lambda: None
) -> SelfCheck:
    """Check blocks ``from_block`` to ``to_block`` (clamped to what the mirror holds) and record the outcome;
    ``between_spans`` runs after each ``max_span`` blocks (the indexer renews its lock there)."""
    cursor = indexer.store.cursor()
    assert cursor is not None, "open the indexer first"
    lo, hi = max(from_block, cursor.start_block), min(to_block, cursor.block_number)
    found: list[tuple[int, str]] = []
    rows = 0
    from indexer.sync import decode_range  # the indexer's own decoding and mapping: no second derivation

    trusted = dict(indexer.trusted)
    span = max(1, indexer.config.max_span)
    for start in range(lo, hi + 1, span):
        end = min(hi, start + span - 1)
        raw = indexer.chain_logs(start, end)
        mapped, _ = decode_range(indexer.decoder, raw, trusted, indexer.chain_id)
        expected: dict[str, dict[tuple[Any, ...], Mapping[str, Any]]] = {name: {} for name in _CHECKED_TABLES}
        for log in mapped:
            for change in log.changes:
                if type(change) is Insert and change.table in expected:
                    expected[change.table][tuple(change.row[k] for k in EVENT_KEY)] = change.row
        with indexer.engine.connect() as conn:
            for name in _CHECKED_TABLES:
                served = _served(conn, name, indexer.chain_id, start, end)
                rows += len(served)
                found += _differences(name, expected[name], served)
        if found:  # the first bad block is in this span
            break
        between_spans()
    state_found, state_rows = _state_differences(indexer, scope, lo, hi)
    found += state_found
    rows += state_rows
    first = min(found, default=None)
    check = SelfCheck(
        chain_id=indexer.chain_id,
        scope=scope,
        from_block=lo,
        to_block=hi,
        rows=rows,
        first_bad_block=None if first is None else first[0],
        difference=None if first is None else first[1],
        checked_at_ms=int(time.time() * 1000),
    )
    _record(indexer.engine, check)
    return check


def _state_differences(indexer: Indexer, scope: str, lo: int, hi: int) -> tuple[list[tuple[int, str]], int]:
    """The served milestones and procurement books against the contracts at the mirror's block (see above), as
    (block, what differs); and how many rows were checked."""
    from indexer.audit import compare_chain

    milestones, procurements = TABLES["milestones"], TABLES["procurements"]
    with indexer.engine.connect() as conn:
        moved = conn.execute(
            select(milestones.c.escrow, milestones.c.milestone_id, milestones.c.block_number).where(
                milestones.c.chain_id == indexer.chain_id
            )
        ).all()
        created = conn.execute(
            select(procurements.c.escrow, procurements.c.block_number).where(
                procurements.c.chain_id == indexer.chain_id
            )
        ).all()
    last_change: dict[str, int] = {}  # a milestone's key as audit names it, or an escrow: the block of its last change
    for escrow, block in created:
        last_change[escrow] = int(block)
    for escrow, index, block in moved:
        last_change[f"({escrow}, {index})"] = int(block)
        last_change[escrow] = max(last_change.get(escrow, 0), int(block))
    escrows = None if scope == "all" else {e for e, _ in created if lo <= last_change[e] <= hi}
    if escrows is not None and not escrows:
        return [], 0
    cursor = indexer.store.cursor()
    assert cursor is not None
    differences, checked = compare_chain(
        indexer.engine, indexer.source, indexer.system, indexer.build, cursor, escrows=escrows, books_only=True
    )
    found = [
        (
            last_change.get(d.key, cursor.block_number),
            f"{d.table} row {d.key} {d.field} is {d.mirror!r} in the mirror, {d.other!r} on the chain",
        )
        for d in differences
    ]
    return found, checked["escrows"] + checked["milestones"]


def last_self_check(conn: Connection, chain_id: int) -> SelfCheck | None:
    """The latest recorded check that found a difference, else the latest one; None before the first."""
    rows = conn.execute(select(_CHECKS).where(_CHECKS.c.chain_id == chain_id)).all()
    if not rows:
        return None
    checks = [
        SelfCheck(
            row.chain_id,
            row.scope,
            row.from_block,
            row.to_block,
            row.rows,
            row.first_bad_block,
            row.difference,
            row.checked_at_ms,
        )
        for row in rows
    ]
    bad = [check for check in checks if not check.ok]
    return max(bad or checks, key=lambda check: check.checked_at_ms)


def _served(conn: Connection, name: str, chain_id: int, lo: int, hi: int) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    table = TABLES[name]
    query = select(table).where(table.c.chain_id == chain_id, table.c.block_number.between(lo, hi))
    return {tuple(row[k] for k in EVENT_KEY): dict(row) for row in conn.execute(query).mappings()}


def _differences(
    name: str,
    expected: Mapping[tuple[Any, ...], Mapping[str, Any]],
    served: Mapping[tuple[Any, ...], Mapping[str, Any]],
) -> Iterable[tuple[int, str]]:
    for key in expected.keys() | served.keys():
        block, where = int(key[1]), f"{name} row (block {key[1]}, log {key[2]}, tx {str(key[3])[:10]}...)"
        mine, theirs = served.get(key), expected.get(key)
        if theirs is None:
            yield block, f"{where} is served but the chain has no such event"
        elif mine is None:
            yield block, f"{where} is missing from the mirror"
        else:
            for column, value in theirs.items():
                if not _same(mine.get(column), value):
                    yield block, f"{where} {column} is {mine.get(column)!r} in the mirror, {value!r} on the chain"
                    break


def _same(mirror: Any, chain: Any) -> bool:
    if mirror == chain:
        return True
    return str(mirror).lower() == str(chain).lower()  # an address's case, a number kept as text


def _record(engine: Engine, check: SelfCheck) -> None:
    values = {
        "chain_id": check.chain_id,
        "scope": check.scope,
        "from_block": check.from_block,
        "to_block": check.to_block,
        "rows": check.rows,
        "first_bad_block": check.first_bad_block,
        "difference": None if check.difference is None else check.difference[:1000],
        "checked_at_ms": check.checked_at_ms,
    }
    dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(_CHECKS).values(**values)
    statement = statement.on_conflict_do_update(index_elements=["chain_id", "scope"], set_=values)
    with engine.begin() as conn:
        conn.execute(statement)
