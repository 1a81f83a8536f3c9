"""Auditing the mirror: replay it from the chain's history, and verify a live mirror three ways.

``verify`` names every difference as (source, table, key, field, mirror value, other value):

- ``digest``: the per-block digests and the running hash chain, recomputed from the live ``events`` rows;
- ``replay``: every table of the live mirror against a fresh replay up to the same block;
- ``chain``: escrow balances (token.balanceOf), books, pause ends, ruling and grace periods and milestone states
  (dispute lapse times included), organizations, account bindings, role sets and budget lines (allotment,
  obligated, disbursed, carry-over, settled) against the contracts' own view at the mirror's block;
- ``genesis``: the events of a deployment placed in the genesis, against the chain's state at block 0
  (indexer/genesis_check.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Connection, Engine, String, inspect, select

from chain import (
    DEFAULT_ADMIN_ROLE,
    Build,
    CallEncoder,
    ChainSource,
    MilestoneStatus,
    OrgKind,
    Role,
    SystemAddresses,
    checksum,
)
from indexer.cursor import Cursor, chain_mismatch, read_cursor
from indexer.digests import GENESIS, block_digest, chain_next
from indexer.errors import IndexerBusy, IndexerError
from indexer.mappers import MilestoneState, status_name
from indexer.models import TABLES, Uint256
from indexer.schema import make_engine
from indexer.store import Store
from indexer.sync import Indexer, SyncConfig

__all__ = ["Difference", "Report", "compare_chain", "recompute_digests", "replay", "resumed_replay", "verify"]

_ZERO_ADDRESS = "0x" + "0" * 40
_SKIP_TABLES = {"deferred_indexes", "indexer_locks", "self_checks"}  # the mirror's own bookkeeping, not the chain's
_CURSOR_FIELDS = ("block_number", "block_hash", "chain_hash", "start_block")


@dataclass(frozen=True)
class Difference:
    """One disagreement: where, which row, which field, and both values."""

    source: str
    table: str
    key: str
    field: str
    mirror: Any
    other: Any

    def __str__(self) -> str:
        return (
            f"[{self.source}] {self.table} {self.key} {self.field}: mirror={self.mirror!r} {self.source}={self.other!r}"
        )


@dataclass
class Report:
    """The outcome of a verification."""

    cursor: Cursor
    replay_hash: str
    differences: list[Difference]
    checked: dict[str, int]

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return not self.differences


def replay(
    source: ChainSource,
    system: SystemAddresses,
    build: Build,
    url: str,
    *,
    until: int | None = None,
    config: SyncConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Cursor:
    """Build a fresh mirror in the (empty) database ``url`` from the chain's history; returns its final cursor. Its
    secondary indexes are built once at the end (``SyncConfig.defer_indexes_blocks``)."""
    engine = make_engine(url)
    try:
        indexer = Indexer(
            engine, source, system, build, dataclasses.replace(config or SyncConfig(), defer_indexes_blocks=0)
        )
        if indexer.store.cursor() is not None:
            raise IndexerError(
                f"{engine.url.render_as_string()} already holds a mirror: replay needs an empty database"
            )
        with indexer:
            indexer.catch_up(progress=progress, until=until)
            cursor = indexer.store.cursor()
        assert cursor is not None
        return cursor
    finally:
        engine.dispose()


_STREAM_ROWS = 5_000  # rows fetched at a time by the audit's streams: memory stays flat whatever the mirror's size


def recompute_digests(engine: Engine, chain_id: int) -> list[Difference]:
    """Recompute every block digest and the hash chain from the ``events`` rows; list what disagrees.

    The events and the stored digests are read as two streams in block order (one connection, one snapshot) and
    merged a block at a time, so that memory stays flat however many events the mirror holds."""
    events, digests = TABLES["events"], TABLES["block_digests"]
    differences: list[Difference] = []
    chain_hash = GENESIS
    with engine.connect() as conn:
        conn = conn.execution_options(yield_per=_STREAM_ROWS)
        cursor = read_cursor(conn, chain_id)
        rows = conn.execute(
            select(
                events.c.block_number,
                events.c.block_hash,
                events.c.tx_hash,
                events.c.log_index,
                events.c.emitter,
                events.c.event,
                events.c.args,
            )
            .where(events.c.chain_id == chain_id)
            .order_by(events.c.block_number, events.c.log_index)
        )
        stored = iter(
            conn.execute(select(digests).where(digests.c.chain_id == chain_id).order_by(digests.c.block_number))
        )
        kept = next(stored, None)
        for number, (block_hash, entries) in _blocks(rows):
            while kept is not None and kept.block_number < number:
                differences.append(
                    Difference("digest", "block_digests", f"block {kept.block_number}", "<row>", "present", "no events")
                )
                kept = next(stored, None)
            key = f"block {number}"
            digest = block_digest(chain_id, number, block_hash, entries)
            chain_hash = chain_next(chain_hash, digest)
            if kept is None or kept.block_number != number:
                differences.append(Difference("digest", "block_digests", key, "<row>", "missing", digest))
                continue
            if kept.digest != digest:
                differences.append(Difference("digest", "block_digests", key, "digest", kept.digest, digest))
            if kept.chain_hash != chain_hash:
                differences.append(
                    Difference("digest", "block_digests", key, "chain_hash", kept.chain_hash, chain_hash)
                )
            if kept.event_count != len(entries):
                differences.append(
                    Difference("digest", "block_digests", key, "event_count", kept.event_count, len(entries))
                )
            kept = next(stored, None)
        while kept is not None:
            differences.append(
                Difference("digest", "block_digests", f"block {kept.block_number}", "<row>", "present", "no events")
            )
            kept = next(stored, None)
    if cursor is not None and cursor.chain_hash != chain_hash:
        differences.append(
            Difference("digest", "cursors", f"chain {chain_id}", "chain_hash", cursor.chain_hash, chain_hash)
        )
    return differences


def _blocks(rows: Iterable[Any]) -> Iterator[tuple[int, tuple[str, list[tuple[str, int, str, str, str]]]]]:
    """Events rows in block order, grouped: (block number, (block hash, its events as the digest takes them))."""
    number: int | None = None
    block_hash = ""
    entries: list[tuple[str, int, str, str, str]] = []
    for row in rows:
        if row[0] != number:
            if number is not None:
                yield number, (block_hash, entries)
            number, block_hash, entries = row[0], row[1], []
        entries.append((row[2], row[3], row[4], row[5], row[6]))
    if number is not None:
        yield number, (block_hash, entries)


def _in_key_order(conn: Connection, table: str, raw: bool) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Every row of ``table`` as (primary key, row), streamed in key order; ``raw`` reads the driver's values (no
    type processing). Text keys sort by code point on both kinds of database (PostgreSQL's "C" collation), as
    Python compares them, so that two such streams merge."""
    t = TABLES[table]
    names = [column.name for column in t.columns]
    positions = [names.index(column.name) for column in t.primary_key.columns]
    postgres = conn.dialect.name == "postgresql"
    order = [
        column.collate("C") if postgres and isinstance(column.type, String) else column
        for column in t.primary_key.columns
    ]
    query = select(t).order_by(*order)
    options = {"yield_per": _STREAM_ROWS}
    rows: Iterable[Sequence[Any]]
    if raw:
        rows = conn.exec_driver_sql(str(query.compile(dialect=conn.dialect)), execution_options=options)
    else:
        rows = conn.execution_options(**options).execute(query)
    for row in rows:
        yield tuple(row[i] for i in positions), tuple(row)


def _shown(column: Any, value: Any) -> Any:
    """A raw driver value as the model reads it (SQLite keeps booleans as 0/1 and Uint256 as text)."""
    if value is None:
        return None
    if isinstance(column.type, Uint256):
        return int(value)
    if isinstance(column.type, Boolean):
        return bool(value)
    return value


def _compare_tables(live: Engine, other: Engine) -> tuple[list[Difference], dict[str, int]]:
    """Every row of every table of ``live`` against ``other``, named by source, table, key and field: compared by
    SQLite itself when both are SQLite files (``_compare_in_sqlite``), else streamed (``_compare_streams``)."""
    if _sqlite_file(live) is not None and _sqlite_file(other) is not None:
        return _compare_in_sqlite(live, other)
    return _compare_streams(live, other)


def _compared_tables() -> Iterator[tuple[str, list[Any], tuple[str, ...]]]:
    """The tables both comparisons cover, in the order they report them: (name, columns, fields compared)."""
    for table in sorted(TABLES):
        if table in _SKIP_TABLES:
            continue
        columns = list(TABLES[table].columns)
        yield table, columns, _CURSOR_FIELDS if table == "cursors" else tuple(column.name for column in columns)


def _compare_streams(live: Engine, other: Engine) -> tuple[list[Difference], dict[str, int]]:
    """Both on one kind of database, rows are compared as the driver stores them (fast); across kinds, as the
    models read them. Each table's rows are streamed from both in key order and merged, so that memory stays flat
    however large the mirror."""
    raw = live.dialect.name == other.dialect.name
    differences: list[Difference] = []
    checked: dict[str, int] = {}
    for table, columns, fields in _compared_tables():
        names = [column.name for column in columns]
        indexes = [names.index(name) for name in fields]
        count = 0
        with live.connect() as a, other.connect() as b:
            mine, theirs = _in_key_order(a, table, raw), _in_key_order(b, table, raw)
            left, right = next(mine, None), next(theirs, None)
            while left is not None or right is not None:
                if right is None or (left is not None and left[0] < right[0]):
                    assert left is not None
                    differences.append(Difference("replay", table, _key_label(left[0]), "<row>", "present", "missing"))
                    count += 1
                    left = next(mine, None)
                elif left is None or right[0] < left[0]:
                    differences.append(Difference("replay", table, _key_label(right[0]), "<row>", "missing", "present"))
                    right = next(theirs, None)
                else:
                    differences += _row_differences(table, columns, indexes, left[0], left[1], right[1])
                    count += 1
                    left, right = next(mine, None), next(theirs, None)
        checked[table] = count
    return differences, checked


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of an SQLite engine, else None."""
    return Path(engine.url.database).resolve() if engine.dialect.name == "sqlite" and engine.url.database else None


def _compare_in_sqlite(live: Engine, other: Engine) -> tuple[list[Difference], dict[str, int]]:
    """Both SQLite files: the replay is attached to a read-only connection of the live mirror, and per table SQLite
    joins the two on the primary key (its index), returning only the rows that differ or lack a partner; those
    are named field by field as ``_compare_streams`` names them, in key order. One read transaction: one snapshot
    of both files. The join runs in SQLite's C code, without the GIL, while the digests are recomputed."""
    live_path, other_path = _sqlite_file(live), _sqlite_file(other)
    assert live_path is not None
    assert other_path is not None
    differences: list[Difference] = []
    checked: dict[str, int] = {}
    db = sqlite3.connect(f"{live_path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("ATTACH DATABASE ? AS replay", (f"{other_path.as_uri()}?mode=ro",))
        db.execute("BEGIN")
        for table, columns, fields in _compared_tables():
            names = [column.name for column in columns]
            keys = [column.name for column in TABLES[table].primary_key.columns]
            positions = [names.index(name) for name in keys]
            indexes = [names.index(name) for name in fields]
            t, on = _quoted(table), " AND ".join(f"a.{_quoted(k)} = b.{_quoted(k)}" for k in keys)
            unmatched = f"b.{_quoted(keys[0])} IS NULL"
            differ = " OR ".join(f"a.{_quoted(f)} IS NOT b.{_quoted(f)}" for f in fields)
            found: list[tuple[tuple[Any, ...], list[Difference]]] = []
            mine = db.execute(
                f"SELECT {', '.join(f'a.{_quoted(n)}' for n in names)}, {unmatched}, "  # noqa: S608 - our own names
                f"{', '.join(f'b.{_quoted(n)}' for n in names)} FROM main.{t} AS a LEFT JOIN replay.{t} AS b ON {on} "
                f"WHERE {unmatched} OR {differ}"
            )
            lone = 0  # the live mirror's rows without a partner in the replay
            for row in mine:
                key = tuple(row[i] for i in positions)
                if row[len(names)]:
                    lone += 1
                    found.append((key, [Difference("replay", table, _key_label(key), "<row>", "present", "missing")]))
                else:
                    theirs = row[len(names) + 1 :]
                    found.append((key, _row_differences(table, columns, indexes, key, row, theirs)))
            count = int(db.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0])  # noqa: S608
            replayed = int(db.execute(f"SELECT count(*) FROM replay.{t}").fetchone()[0])  # noqa: S608
            # Each of the live rows with a partner has its own (its key is unique): if the replay holds no more rows
            # than that, none of its rows lacks a partner, and the search for them is spared.
            if replayed != count - lone or not _unique_key(db, table, keys):
                theirs_only = db.execute(
                    f"SELECT {', '.join(f'b.{_quoted(k)}' for k in keys)} FROM replay.{t} AS b "  # noqa: S608
                    f"WHERE NOT EXISTS (SELECT 1 FROM main.{t} AS a WHERE {on})"
                )
                for key in theirs_only:
                    label = _key_label(tuple(key))
                    found.append((tuple(key), [Difference("replay", table, label, "<row>", "missing", "present")]))
            found.sort(key=lambda item: item[0])
            differences += [difference for _, named in found for difference in named]
            checked[table] = count
        db.execute("COMMIT")
    finally:
        db.close()
    return differences, checked


def _unique_key(db: sqlite3.Connection, table: str, keys: Sequence[str]) -> bool:
    """Whether the live mirror's ``table`` has a unique index (not partial) on exactly its ``keys``, as its
    primary key makes one: a live file whose schema was edited to hold a key twice is not taken at its word."""
    for _, name, unique, _, partial in db.execute(f"PRAGMA main.index_list({_quoted(table)})"):
        if unique and not partial:
            columns = [row[2] for row in db.execute(f"PRAGMA main.index_info({_quoted(name)})")]
            if sorted(columns) == sorted(keys):
                return True
    return False


def _row_differences(
    table: str, columns: Sequence[Any], indexes: Sequence[int], key: tuple[Any, ...], mine: Any, theirs: Any
) -> list[Difference]:
    """The compared fields (``indexes``) in which two rows of one key differ, named with the values as read."""
    return [
        Difference(
            "replay",
            table,
            _key_label(key),
            columns[i].name,
            _shown(columns[i], mine[i]),
            _shown(columns[i], theirs[i]),
        )
        for i in indexes
        if mine[i] != theirs[i]
    ]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_label(key: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(part) for part in key) + ")"


# ---------------------------------------------------------------- on-chain state


_ENCODED = 4_096  # distinct calls whose call data _Calls keeps


class _Calls:
    """Encodes view calls and decodes their results, with the contracts' codecs (``chain``'s ``CallEncoder``).

    The call data of the last ``_ENCODED`` distinct calls is kept: most questions repeat (each escrow's
    ``milestone(i)`` asks one of a few ids, the role checks a few roles), and eth-abi's encoding costs more than
    asking the node."""

    def __init__(self, build: Build) -> None:
        self._build = build
        self.data = lru_cache(maxsize=_ENCODED)(self._data)

    def _encoder(self, contract: str, name: str) -> CallEncoder:
        return self._build.codec(contract).function(name)

    def _data(self, contract: str, name: str, *args: Any) -> str:
        return "0x" + self._encoder(contract, name).encode(args).hex()

    def decode(self, contract: str, name: str, raw: bytes) -> tuple[Any, ...]:
        return self._encoder(contract, name).decode(raw)


_Extract = Callable[[tuple[Any, ...]], Any]


def _rows(conn: Any, table: str, chain: int) -> list[Mapping[str, Any]]:
    t = TABLES[table]
    return [dict(row) for row in conn.execute(select(t).where(t.c.chain_id == chain)).mappings()]


_ESCROW_BATCH = 500  # escrows (their books and milestones) asked about at a time: memory stays flat
_CALL_BATCH = 2_000  # questions held before they are asked, decoded and checked


def _escrow_batches(
    conn: Connection, chain: int, escrows: Collection[str] | None
) -> Iterator[tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]]:
    """The mirror's procurements (only ``escrows`` if given), ``_ESCROW_BATCH`` escrows at a time in escrow order,
    each batch with the milestones of its escrows: never the whole table at once."""
    procurements, milestones = TABLES["procurements"], TABLES["milestones"]
    wanted = None if escrows is None else sorted(escrows)
    after = ""  # the last escrow of the previous batch (every address sorts after "")
    for start in itertools.count(0, _ESCROW_BATCH):
        where = [procurements.c.chain_id == chain, procurements.c.escrow > after]
        if wanted is not None:
            if start >= len(wanted):
                return
            where.append(procurements.c.escrow.in_(wanted[start : start + _ESCROW_BATCH]))
        query = select(procurements).where(*where).order_by(procurements.c.escrow).limit(_ESCROW_BATCH)
        batch: list[Mapping[str, Any]] = [dict(row) for row in conn.execute(query).mappings()]
        if not batch:
            if wanted is None:
                return
            continue
        after = batch[-1]["escrow"]
        owned = [milestones.c.chain_id == chain, milestones.c.escrow.in_([p["escrow"] for p in batch])]
        order = (milestones.c.escrow, milestones.c.milestone_id)
        yield batch, [dict(row) for row in conn.execute(select(milestones).where(*owned).order_by(*order)).mappings()]


class _Questions:
    """View calls to ask the contracts at one block, each with the mirror's values to check against its answer;
    asked ``_CALL_BATCH`` at a time (``settle``), so that only a batch's calls and answers are ever held."""

    def __init__(self, calls: _Calls, source: ChainSource, block: int) -> None:
        self._calls, self._source, self._block = calls, source, block
        self._requests: list[tuple[str, str, str, str]] = []  # (to, calldata, contract, function)
        self._checks: list[tuple[int, str, str, str, Any, _Extract]] = []
        self.asked = 0
        self.differences: list[Difference] = []

    def ask(
        self,
        table: str,
        key: str,
        to: str,
        contract: str,
        function: str,
        args: Sequence[Any],
        fields: Sequence[tuple[str, Any, _Extract]],
    ) -> None:
        self._requests.append((to, self._calls.data(contract, function, *args), contract, function))
        for field, mirror, extract in fields:
            self._checks.append((len(self._requests) - 1, table, key, field, mirror, extract))
        if len(self._requests) >= _CALL_BATCH:
            self.settle()

    def settle(self) -> None:
        """Ask what is pending, in one ``call_many``; record what differs."""
        requests, checks = self._requests, self._checks
        if not requests:
            return
        self._requests, self._checks = [], []
        self.asked += len(requests)
        replies = self._source.call_many([(to, data) for to, data, _, _ in requests], self._block)
        decoded = [
            self._calls.decode(contract, function, raw)
            for (_, _, contract, function), raw in zip(requests, replies, strict=True)
        ]
        for index, table, key, field, mirror, extract in checks:
            value = extract(decoded[index])
            if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
                value = checksum(value)
            if value != mirror:
                self.differences.append(Difference("chain", table, key, field, mirror, value))


def _at(*path: int) -> _Extract:
    def extract(values: tuple[Any, ...]) -> Any:
        value: Any = values
        for index in path:
            value = value[index]
        return value

    return extract


# What compare_chain reads of an answer, built once (not per question): the first value; the escrow's books
# (totals); its ruling and grace periods (terms); a milestone's state, as IMilestoneEscrow.milestone returns it.
_FIRST = _at(0)
_BOOKS = [(f, _at(i)) for i, f in enumerate(("total_funded", "total_released", "total_refunded", "total_owed"))]
_PERIODS = [("ruling_period", _at(0, 9)), ("grace_period", _at(0, 10))]
_STATUSES = {status.value: status_name(status.value) for status in MilestoneStatus}
_MILESTONE = [
    (f, (lambda v: _STATUSES.get(v[0][2])) if f == "status" else _at(0, i))
    for i, f in enumerate(MilestoneState._fields)
]

# The order in which compare_chain reports its differences, by table.
_CHAIN_TABLES = ("procurements", "milestones", "organizations", "accounts", "role_memberships", "budget_lines")


def compare_chain(
    live: Engine,
    source: ChainSource,
    system: SystemAddresses,
    build: Build,
    cursor: Cursor,
    *,
    escrows: Collection[str] | None = None,
    books_only: bool = False,
) -> tuple[list[Difference], dict[str, int]]:
    """Ask the contracts (at the mirror's block) for every escrow's books and milestones, every organization,
    binding and role the mirror knows; one eth_call per distinct question, decoded once.

    Escrows are read and asked about a batch at a time (``_escrow_batches``, ``_Questions``): memory does not grow
    with the number of procurements. ``escrows``: only these escrows' books and milestones; ``books_only``: no
    organizations, accounts, roles or budget lines (the self-check's questions, indexer/self_check.py)."""
    chain = cursor.chain_id
    questions = _Questions(_Calls(build), source, cursor.block_number)
    ask, at = questions.ask, _at
    escrow_count = milestone_count = 0
    with live.connect() as conn:  # one snapshot for every read
        for procurements, milestones in _escrow_batches(conn, chain, escrows):
            escrow_count += len(procurements)
            milestone_count += len(milestones)
            for p in procurements:
                escrow = p["escrow"]
                held = p["total_funded"] - p["total_released"] - p["total_refunded"]
                balance = [("balanceOf", held, _FIRST)]
                ask("procurements", escrow, system.token, "YenToken", "balanceOf", [escrow], balance)
                books = [(f, p[f], extract) for f, extract in _BOOKS]
                ask("procurements", escrow, escrow, "MilestoneEscrow", "totals", [], books)
                pause = [("paused_until", p["paused_until"], _FIRST)]
                ask("procurements", escrow, escrow, "MilestoneEscrow", "pausedUntil", [], pause)
                periods = [(f, p[f], extract) for f, extract in _PERIODS]
                ask("procurements", escrow, escrow, "MilestoneEscrow", "terms", [], periods)
                count = [("milestone_count", p["milestone_count"], _FIRST)]
                ask("procurements", escrow, escrow, "MilestoneEscrow", "milestoneCount", [], count)
            for m in milestones:
                fields = [(f, m[f], extract) for f, extract in _MILESTONE]
                key = f"({m['escrow']}, {m['milestone_id']})"
                ask("milestones", key, m["escrow"], "MilestoneEscrow", "milestone", [m["milestone_id"]], fields)
            questions.settle()
        # The parties: as many as the ledger has organizations and accounts, not growing with its events.
        others = ("organizations", "accounts", "role_memberships", "budget_lines")
        organizations, accounts, members, lines = ([] if books_only else _rows(conn, t, chain) for t in others)
    kinds = {kind.value: kind.name.lower() for kind in OrgKind}
    for o in organizations:
        fields = [
            ("kind", o["kind"], lambda v: kinds.get(v[0][0])),
            ("active", o["active"], at(0, 1)),
            ("vault", o["vault"], lambda v: checksum(v[0][2])),
        ]
        org = [bytes.fromhex(o["org_id"][2:])]
        ask("organizations", o["org_id"], system.registry, "AccessRegistry", "organization", org, fields)
    for a in accounts:
        fields = [("org_id", a["org_id"], lambda v: _org_or_none(v[0]))]
        ask("accounts", a["account"], system.registry, "AccessRegistry", "organizationOf", [a["account"]], fields)
    role_ids = {"0x" + role.id.hex() for role in Role} | {"0x" + DEFAULT_ADMIN_ROLE.hex()}
    role_ids |= {m["role"] for m in members}
    held_roles = {(m["role"], m["account"]) for m in members}
    for account in sorted({a["account"] for a in accounts} | {m["account"] for m in members}):
        for role in sorted(role_ids):
            fields = [("held", (role, account) in held_roles, _FIRST)]
            args = [bytes.fromhex(role[2:]), account]
            ask("role_memberships", f"({role}, {account})", system.registry, "AccessRegistry", "hasRole", args, fields)
    for line in lines:  # IBudgetLedger.lineOf: (series, exists, settled, allotted, obligated, disbursed, carryOver)
        fields = [
            ("exists", True, at(0, 1)),
            ("settled", line["settled"], at(0, 2)),
            ("allotted", line["allotted"], at(0, 3)),
            ("obligated", line["obligated"], at(0, 4)),
            ("disbursed", line["disbursed"], at(0, 5)),
            ("carry_over", line["carry_over"], at(0, 6)),
        ]
        key = f"({line['series']}, {line['fiscal_year']})"
        args = [line["series"], line["fiscal_year"]]
        ask("budget_lines", key, system.budget, "BudgetLedger", "lineOf", args, fields)
    questions.settle()
    differences = sorted(questions.differences, key=lambda d: _CHAIN_TABLES.index(d.table))  # (a stable sort)
    checked = {
        "chain_calls": questions.asked,
        "escrows": escrow_count,
        "milestones": milestone_count,
        "budget_lines": len(lines),
    }
    return differences, checked


def _org_or_none(value: bytes) -> str | None:
    raw = bytes(value)
    return None if raw == b"\x00" * 32 else "0x" + raw.hex()


def verify(
    live: Engine,
    source: ChainSource,
    system: SystemAddresses,
    build: Build,
    *,
    replay_url: str | None = None,
    against_replay: str | None = None,
    config: SyncConfig | None = None,
) -> Report:
    """Compare the live mirror with its own digests, a replay to the same block, and the chain.

    The replay is made afresh (into ``replay_url``, else a temporary SQLite file), or is the auditor's own, made
    earlier by ``replay`` into ``against_replay`` and caught up to the live mirror's block (``resumed_replay``)."""
    chain_id = source.chain_id
    cursor = Store(live, chain_id).cursor()
    if cursor is None:
        raise IndexerError(f"the database holds no mirror of chain {chain_id}: run `procure index --once` first")
    if replay_url is not None and against_replay is not None:
        raise IndexerError("replay afresh into a database, or verify against an earlier replay: not both")
    # Over HTTP the node answers the contract calls while we replay and compare; the digests are recomputed (in
    # Python) while SQLite compares the tables (in C, without the GIL).
    with ThreadPoolExecutor(2) as pool:
        on_chain = pool.submit(compare_chain, live, source, system, build, cursor) if source.concurrent else None
        with contextlib.ExitStack() as stack:
            if against_replay is not None:
                other, replayed = stack.enter_context(
                    resumed_replay(live, cursor, source, system, build, against_replay, config=config)
                )
            else:
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="procure-replay-"))
                url = replay_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
                replayed = replay(source, system, build, url, until=cursor.block_number, config=config)
                other = make_engine(url)
                stack.callback(other.dispose)
            digests = pool.submit(recompute_digests, live, chain_id)
            found, checked = _compare_tables(live, other)
            differences = digests.result()
        chain_differences, chain_checked = (
            on_chain.result() if on_chain is not None else compare_chain(live, source, system, build, cursor)
        )
    from indexer.genesis_check import genesis_differences  # (it names its differences with this module's type)

    genesis_found, checked["genesis_calls"] = genesis_differences(live, source, system, build)
    differences += found + chain_differences + genesis_found
    checked |= chain_checked
    return Report(cursor=cursor, replay_hash=replayed.chain_hash, differences=differences, checked=checked)


@contextlib.contextmanager
def resumed_replay(
    live: Engine,
    cursor: Cursor,
    source: ChainSource,
    system: SystemAddresses,
    build: Build,
    url: str,
    *,
    config: SyncConfig | None = None,
) -> Iterator[tuple[Engine, Cursor]]:
    """The replay that ``replay`` made into ``url``, caught up to the live mirror's ``cursor`` (the same catch-up,
    resumed from where it stopped), as (its engine, its cursor); it must not move while in use.

    Refused, with what is wrong: a database that is the live mirror itself, that holds no mirror, that mirrors
    another chain or another system, that an indexer is writing now, or that is past the live mirror's block (a
    replay is only ever caught up, never rolled back). Only who built it can say it is an honest replay: rows
    copied from the live mirror would agree with it whatever it holds."""
    chain_id = cursor.chain_id
    engine = make_engine(url)
    shown = engine.url.render_as_string()
    try:
        if engine.dialect.name == "sqlite" and not Path(engine.url.database or "").is_file():
            raise IndexerError(
                f"no replay at {shown}: no such file (make one with `procure audit replay --db {shown}`)"
            )
        if _same_database(live, engine):
            raise IndexerError(f"{shown} is the live mirror itself, not a replay of it")
        with engine.connect() as conn:
            mirrored = inspect(conn).has_table("cursors")
            mismatch = chain_mismatch(conn, chain_id, source.genesis_hash()) if mirrored else None
            replayed = read_cursor(conn, chain_id) if mirrored and mismatch is None else None
        if mismatch is not None:
            raise IndexerError(f"{shown} is no replay of this chain: {mismatch}")
        if replayed is None:
            raise IndexerError(
                f"{shown} holds no mirror of chain {chain_id}: not a replay (make one with "
                f"`procure audit replay --db {shown}`)"
            )
        systems = [(c.registry, c.token, c.factory, c.start_block) for c in (replayed, cursor)]
        if systems[0] != systems[1]:
            raise IndexerError(
                f"{shown} replays another system (registry {replayed.registry}, from block {replayed.start_block}) "
                f"than the live mirror's (registry {cursor.registry}, from block {cursor.start_block})"
            )
        if replayed.block_number > cursor.block_number:
            raise IndexerError(
                f"the replay at {shown} reaches block {replayed.block_number}, past the live mirror's "
                f"{cursor.block_number}: a replay is caught up, never rolled back; verify when the live mirror has "
                "caught up, or make a new replay"
            )
        indexer = Indexer(engine, source, system, build, config)
        try:
            with indexer:  # takes the replay's writer lock: refused if an indexer is writing it
                if replayed.block_number < cursor.block_number:
                    indexer.catch_up(until=cursor.block_number)
        except IndexerBusy as busy:
            raise IndexerError(f"{shown} is being written by an indexer, not a finished replay: {busy}") from None
        replayed = Store(engine, chain_id).cursor()
        assert replayed is not None
        if replayed.block_number != cursor.block_number:
            raise IndexerError(
                f"the replay at {shown} reached block {replayed.block_number} only (the node's safe head), the "
                f"live mirror is at {cursor.block_number}"
            )
        yield engine, replayed
        if Store(engine, chain_id).cursor() != replayed:
            raise IndexerError(f"the replay at {shown} was written while it was compared: verify again")
    finally:
        engine.dispose()


def _same_database(a: Engine, b: Engine) -> bool:
    """Whether two engines reach one database (one SQLite file, or one PostgreSQL database on one server)."""
    if a.dialect.name != b.dialect.name:
        return False
    if a.dialect.name == "sqlite":
        paths = [Path(engine.url.database or "") for engine in (a, b)]
        return all(path.is_file() for path in paths) and paths[0].samefile(paths[1])
    return (a.url.host, a.url.port, a.url.database) == (b.url.host, b.url.port, b.url.database)


def format_report(report: Report, limit: int | None = None) -> Iterable[str]:
    """Lines for a person: the differences, then a summary."""
    shown: Sequence[Difference] = report.differences if limit is None else report.differences[:limit]
    for difference in shown:
        yield str(difference)
    if limit is not None and len(report.differences) > limit:
        yield f"... and {len(report.differences) - limit} more"
    yield json.dumps(
        {
            "block": report.cursor.block_number,
            "mirror_hash": report.cursor.chain_hash,
            "replay_hash": report.replay_hash,
            "differences": len(report.differences),
            "checked": report.checked,
        },
        sort_keys=True,
    )
