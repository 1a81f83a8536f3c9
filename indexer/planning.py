"""Planning a range: from mapped logs to the ``WritePlan`` of one transaction (rows, state, digests, cursor).

Rows are collected as tuples in a fixed column order, to be inserted per table in one bulk statement each. The
derived state of the escrows a range touches (milestones, books) is carried in an ``EscrowState``: read once from
the database when an escrow is first touched, stepped in memory in log order, written once per milestone and
escrow. Each kind of change a mapper may return has one handler, in ``Planner.HANDLERS``; a reorg goes through
the same handlers to rebuild the state it rolls back (``indexer.reorg``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from sqlalchemy import Connection, select

from chain.logs import DecodedLog
from indexer.canonical import event_args_json
from indexer.digests import block_digest, chain_next
from indexer.errors import IndexerError
from indexer.mappers import (
    Books,
    BooksStep,
    Insert,
    MappedLog,
    MilestoneState,
    MilestoneStep,
    NewProcurement,
    Patch,
    Remove,
    TrustEscrow,
    Upsert,
)
from indexer.models import TABLES, Uint256
from indexer.write_plan import MILESTONE_COLUMNS, Op, Row, WritePlan

__all__ = ["EscrowState", "Planner", "chunks"]

_MILESTONE_FIELDS = MilestoneState._fields  # a plan's milestone rows: these, then the block (MILESTONE_COLUMNS)

_CHUNK = 500


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (for ``IN (...)`` lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- rows as tuples

_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(c.name for c in table.columns) for name, table in TABLES.items()}
_PRIMARY_KEYS = {name: tuple(c.name for c in table.primary_key.columns) for name, table in TABLES.items()}
_BIG = {name: frozenset(c.name for c in table.columns if isinstance(c.type, Uint256)) for name, table in TABLES.items()}


_UINT_END = 2**256  # not folded into a constant by the compiler: computed once here, not at every check


def _uint(value: int) -> str:
    """A ``Uint256`` value as the decimal string both databases take (checked as ``Uint256`` checks it)."""
    if type(value) is not int or not 0 <= value < _UINT_END:
        raise ValueError(f"not a uint256: {value!r}")
    return str(value)


def _row_maker(table: str) -> Callable[[Mapping[str, Any]], Row]:
    """Turns a mapper's row (a dict) into a tuple in the table's column order, ``Uint256`` values as decimal
    strings: the form both SQLite (a decimal string is what ``Uint256`` stores there) and PostgreSQL's COPY
    (values travel as text) take, so that writing needs no per-value type processing.

    A table with ``Uint256`` columns gets one compiled function (each such value checked as ``_uint`` checks it,
    inline: most budget rows have two to five); its source holds only the schema's column names (``repr``)."""
    columns = _COLUMNS[table]
    if not _BIG[table]:
        return itemgetter(*columns)
    lines = ["def maker(row):"]
    values = []
    for index, name in enumerate(columns):
        if name not in _BIG[table]:
            values.append(f"row[{name!r}]")
            continue
        value = f"v{index}"
        lines += [
            f"    {value} = row[{name!r}]",
            f"    if {value} is not None:",
            f"        if type({value}) is not int or not 0 <= {value} < UINT_END:",
            f"            raise ValueError(f'not a uint256: {{{value}!r}}')",
            f"        {value} = str({value})",
        ]
        values.append(value)
    lines.append(f"    return ({', '.join(values)},)")
    namespace: dict[str, Any] = {"UINT_END": _UINT_END}
    exec(compile("\n".join(lines), f"<{table} row>", "exec"), namespace)  # noqa: S102 - source built above
    maker: Callable[[Mapping[str, Any]], Row] = namespace["maker"]
    return maker


_ROW_MAKERS = {name: _row_maker(name) for name in TABLES}


def _key_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's primary key values as a tuple (``itemgetter`` gives a bare value for one name)."""
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)


_KEYS = {name: _key_getter(primary) for name, primary in _PRIMARY_KEYS.items()}


def _values(table: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    big = _BIG[table]
    return tuple(_uint(value) if name in big and value is not None else value for name, value in row.items())


def _op(change: Upsert | Patch | Remove) -> Op:
    """A current-state change as the plain statement a ``WritePlan`` carries."""
    table = change.table
    if isinstance(change, Upsert):
        return ("upsert", table, _PRIMARY_KEYS[table], tuple(change.row), _values(table, change.row))
    if isinstance(change, Patch):
        params = _values(table, change.values) + _values(table, change.key)
        return ("patch", table, tuple(change.key), tuple(change.values), params)
    return ("remove", table, tuple(change.key), (), _values(table, change.key))


# Column orders of the rows the planner builds as tuples (the insert names its columns, so any order works).
_EVENT_COLUMNS = (
    "chain_id",
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "tx_index",
    "emitter",
    "event",
    "args",
)
_HISTORY_COLUMNS = (
    "chain_id",
    "tx_hash",
    "log_index",
    "milestone_id",
    "block_number",
    "escrow",
    "event",
    *_MILESTONE_FIELDS,
)
_NEW_MILESTONE_COLUMNS = ("chain_id", "escrow", "milestone_id", *MILESTONE_COLUMNS)
# What a block's digest takes of each of its events rows: tx hash, log index, emitter, event, args.
_DIGESTED = itemgetter(*(_EVENT_COLUMNS.index(name) for name in ("tx_hash", "log_index", "emitter", "event", "args")))
_DIGEST_COLUMNS = ("chain_id", "block_number", "block_hash", "event_count", "digest", "chain_hash", "block_time")


# ---------------------------------------------------------------- escrow state


class EscrowState:
    """Milestones and books of the escrows seen so far, complete per escrow (all its milestones).

    One ``Store.apply`` starts from an empty one and loads what it touches inside its transaction. A pipelined
    catch-up (``indexer.pipeline``) carries one across its transactions instead: a range is planned while the
    previous one is still being written, so it must not read the state back from the database.
    """

    def __init__(self) -> None:
        self.milestones: dict[tuple[str, int], MilestoneState] = {}
        self.milestone_block: dict[tuple[str, int], int] = {}
        self.milestone_ids: dict[str, list[int]] = defaultdict(list)
        self.books: dict[str, Books] = {}
        self.loaded: set[str] = set()

    def load(self, conn: Connection, chain_id: int, escrows: Iterable[str]) -> None:
        """Read the committed state of the ``escrows`` not loaded yet."""
        wanted = sorted(set(escrows) - self.loaded)
        milestones, procurements = TABLES["milestones"], TABLES["procurements"]
        for chunk in chunks(wanted):
            for row in conn.execute(
                select(milestones).where(milestones.c.chain_id == chain_id, milestones.c.escrow.in_(chunk))
            ).mappings():
                key = (row["escrow"], row["milestone_id"])
                self.milestones[key] = MilestoneState(**{name: row[name] for name in _MILESTONE_FIELDS})
                self.milestone_block[key] = row["block_number"]
                self.milestone_ids[key[0]].append(key[1])
            for row in conn.execute(
                select(procurements).where(procurements.c.chain_id == chain_id, procurements.c.escrow.in_(chunk))
            ).mappings():
                self.books[row["escrow"]] = Books(
                    total_funded=row["total_funded"],
                    total_released=row["total_released"],
                    total_refunded=row["total_refunded"],
                    paused_until=row["paused_until"],
                )
        self.loaded.update(wanted)

    def owed(self, escrow: str) -> int:
        """What the escrow owes, as ``totals().owed`` says: its milestones' deferred payments to the supplier."""
        total = 0
        for index in self.milestone_ids.get(escrow, ()):
            milestone = self.milestones[(escrow, index)]
            total += milestone.owed
        return total


# ---------------------------------------------------------------- the planner


class Planner:
    """Plans one transaction on the cursor ``base``: its rows, state updates, digests and cursor.

    Escrow state comes from ``state`` (loaded through ``load`` when first touched) and is updated in place.
    """

    HANDLERS: ClassVar[dict[type, Callable[[Planner, DecodedLog, Any], None]]]

    def __init__(
        self, chain_id: int, base: tuple[int, str, str], state: EscrowState, load: Callable[[Iterable[str]], None]
    ) -> None:
        self.chain_id = chain_id
        self.base = base
        self.state = state
        self.load = load
        self.rows: dict[str, list[Row]] = defaultdict(list)
        self.events: list[Row] = []
        self.history: list[Row] = []
        self.digests: list[Row] = []
        self.ops: list[Op] = []
        # (table, key values) -> the row (column -> value as written) of its upsert still open to merging, and
        # where that upsert sits in ``ops``: made into a statement when the plan is finished (``_merged_ops``).
        self._upserted: dict[tuple[str, tuple[Any, ...]], tuple[int, dict[str, Any]]] = {}
        self.new_milestones: set[tuple[str, int]] = set()
        self.dirty_milestones: set[tuple[str, int]] = set()
        self.procurements: dict[str, dict[str, Any]] = {}
        self.dirty_books: set[str] = set()

    def plan(self, mapped: Sequence[MappedLog], to_block: int, to_hash: str) -> WritePlan:
        """The plan of ``mapped`` (logs above the base, in chain order), moving the cursor to ``to_block``."""
        self.load({log.emitter for log, _ in mapped if log.kind == "escrow"})
        chain_hash = self.base[2]
        chain = self.chain_id
        events, rows, makers, handlers = self.events, self.rows, _ROW_MAKERS, self.HANDLERS
        block_start = len(events)  # the current block's events are events[block_start:]
        current: DecodedLog | None = None
        for log, changes in mapped:
            if current is not None and log.block_number != current.block_number:
                chain_hash = self._digest(current, block_start, chain_hash)
                block_start = len(events)
            current = log
            args = event_args_json(log)
            events.append(
                (
                    chain,
                    log.tx_hash,
                    log.log_index,
                    log.block_number,
                    log.block_hash,
                    log.tx_index,
                    log.emitter,
                    log.event,
                    args,
                )
            )
            for change in changes:
                if type(change) is Insert:  # the common case first
                    rows[change.table].append(makers[change.table](change.row))
                else:
                    handlers[type(change)](self, log, change)
        if current is not None:
            chain_hash = self._digest(current, block_start, chain_hash)
        return self.finish((to_block, to_hash, chain_hash))

    def _digest(self, log: DecodedLog, start: int, previous: str) -> str:
        """The digest row of ``log``'s block, whose events are ``self.events[start:]``; returns its chain hash."""
        events = self.events[start:]
        digest = block_digest(self.chain_id, log.block_number, log.block_hash, map(_DIGESTED, events))
        chain_hash = chain_next(previous, digest)
        self.digests.append(
            (self.chain_id, log.block_number, log.block_hash, len(events), digest, chain_hash, log.block_time)
        )
        return chain_hash

    # ------------------------------------------------------------ one handler per kind of change

    def _insert(self, log: DecodedLog, change: Insert) -> None:
        self.rows[change.table].append(_ROW_MAKERS[change.table](change.row))

    def _step_milestone(self, log: DecodedLog, change: MilestoneStep) -> None:
        key = (change.escrow, change.milestone_id)
        current = self.state.milestones.get(key)
        if current is None:
            raise IndexerError(
                f"{log.event} at {log.tx_hash}:{log.log_index} names milestone {change.milestone_id} of "
                f"{change.escrow}, which the mirror does not know"
            )
        self._milestone(log, key, change.step(current))

    def _step_books(self, log: DecodedLog, change: BooksStep) -> None:
        books = self.state.books.get(change.escrow)
        if books is None:
            raise IndexerError(f"{log.event} at {log.tx_hash}:{log.log_index}: unknown escrow {change.escrow}")
        self.state.books[change.escrow] = change.step(books)
        self.dirty_books.add(change.escrow)

    def _new_procurement(self, log: DecodedLog, change: NewProcurement) -> None:
        state = self.state
        escrow = str(change.row["escrow"])
        self.procurements[escrow] = dict(change.row)
        state.books[escrow] = Books()
        state.loaded.add(escrow)
        ids = state.milestone_ids[escrow]
        for index, milestone in enumerate(change.milestones):
            self.new_milestones.add((escrow, index))
            if index not in ids:
                ids.append(index)
            self._milestone(log, (escrow, index), milestone)

    def _current_state(self, log: DecodedLog, change: Upsert | Patch | Remove) -> None:
        """A current-state statement; consecutive upserts of one row become one (a budget line moves with most of
        its events), which sets every column they set, each to its last value: the same row as each in turn."""
        table = change.table
        if not isinstance(change, Upsert):
            key = tuple(change.key.get(name) for name in _PRIMARY_KEYS[table])
            self._close_upsert((table, key))
            self.ops.append(_op(change))
            return
        row = change.row
        at = (table, _KEYS[table](row))
        open_upsert = self._upserted.get(at)
        if open_upsert is None:
            self._upserted[at] = (len(self.ops), dict(row))
            self.ops.append(("upsert", table, _PRIMARY_KEYS[table], (), ()))  # its statement comes at the end
        else:
            open_upsert[1].update(row)

    def _close_upsert(self, at: tuple[str, tuple[Any, ...]]) -> None:
        """The open upsert of row ``at`` (if any) as its statement: later changes of the row start anew."""
        open_upsert = self._upserted.pop(at, None)
        if open_upsert is not None:
            index, row = open_upsert
            _, table, primary, _, _ = self.ops[index]
            self.ops[index] = ("upsert", table, primary, tuple(row), _values(table, row))

    def _trust(self, log: DecodedLog, change: TrustEscrow) -> None:
        pass  # the escrow is known through its procurement / registration row

    def _milestone(self, log: DecodedLog, key: tuple[str, int], state: MilestoneState) -> None:
        self.state.milestones[key] = state
        self.state.milestone_block[key] = log.block_number
        self.dirty_milestones.add(key)
        amount, due_date, status, round_, passes, fails, owed, lapses_at = state
        self.history.append(
            (
                self.chain_id,
                log.tx_hash,
                log.log_index,
                key[1],
                log.block_number,
                key[0],
                log.event,
                str(amount),  # Uint256 as stored: a MilestoneState holds ints from decoded uint256 words
                due_date,
                status,
                round_,
                passes,
                fails,
                str(owed),
                lapses_at,
            )
        )

    # ------------------------------------------------------------ rebuilding (a reorg)

    def apply(self, log: DecodedLog, change: Any) -> None:
        """Apply one change through its handler (as ``plan`` does for each change of each log)."""
        handler = self.HANDLERS.get(type(change))
        if handler is None:
            raise IndexerError(f"unknown change {change!r}")
        handler(self, log, change)

    def restore_milestone(self, key: tuple[str, int], state: MilestoneState, block_number: int) -> None:
        """Set a milestone back to a state it had (a reorg restores its last surviving history row)."""
        self.state.milestones[key] = state
        self.state.milestone_block[key] = block_number
        self.dirty_milestones.add(key)

    def reopen_books(self, escrow: str) -> None:
        """Start an escrow's books again from before its first row (a reorg then replays the rows that remain)."""
        self.state.books[escrow] = Books()
        self.dirty_books.add(escrow)

    # ------------------------------------------------------------ the plan

    def finish(self, cursor: tuple[int, str, str]) -> WritePlan:
        """The plan of everything collected so far, moving the cursor to ``cursor``."""
        chain, state = self.chain_id, self.state
        inserts: list[tuple[str, tuple[str, ...], list[Row]]] = [
            ("events", _EVENT_COLUMNS, self.events),
            ("block_digests", _DIGEST_COLUMNS, self.digests),
            ("milestone_history", _HISTORY_COLUMNS, self.history),
        ]
        inserts += [(name, _COLUMNS[name], rows) for name, rows in self.rows.items()]
        if self.procurements:
            maker = _ROW_MAKERS["procurements"]
            rows = [
                maker(row | _books_row(state.books[escrow]) | {"total_owed": state.owed(escrow)})
                for escrow, row in self.procurements.items()
            ]
            inserts.append(("procurements", _COLUMNS["procurements"], rows))
        if self.new_milestones:
            milestone_rows: list[Row] = []
            for key in sorted(self.new_milestones):
                milestone_rows.append((chain, key[0], key[1], *_milestone_values(state, key)))
            inserts.append(("milestones", _NEW_MILESTONE_COLUMNS, milestone_rows))
        milestones: list[Row] = []
        for key in sorted(self.dirty_milestones - self.new_milestones):
            milestones.append((*_milestone_values(state, key), chain, key[0], key[1]))
        books: list[Row] = []
        for escrow in sorted((self.dirty_books | {e for e, _ in self.dirty_milestones}) - set(self.procurements)):
            found = state.books.get(escrow)
            if found is not None:
                funded, released, refunded, paused_until = found
                books.append(
                    (str(funded), str(released), str(refunded), str(state.owed(escrow)), paused_until, chain, escrow)
                )
        for at in list(self._upserted):
            self._close_upsert(at)
        return WritePlan(chain, self.base, inserts, milestones, books, self.ops, cursor)


Planner.HANDLERS = {
    Insert: Planner._insert,
    MilestoneStep: Planner._step_milestone,
    BooksStep: Planner._step_books,
    NewProcurement: Planner._new_procurement,
    Upsert: Planner._current_state,
    Patch: Planner._current_state,
    Remove: Planner._current_state,
    TrustEscrow: Planner._trust,
}


def _books_row(books: Books) -> dict[str, Any]:
    return {
        "total_funded": books.total_funded,
        "total_released": books.total_released,
        "total_refunded": books.total_refunded,
        "paused_until": books.paused_until,
    }


def _milestone_values(state: EscrowState, key: tuple[str, int]) -> tuple[Any, ...]:
    """A milestone's ``MILESTONE_COLUMNS`` values (``Uint256`` ones as decimal strings)."""
    amount, due_date, status, round_, passes, fails, owed, lapses_at = state.milestones[key]
    block = state.milestone_block[key]
    return (str(amount), due_date, status, round_, passes, fails, str(owed), lapses_at, block)
