"""Auditing: a row edited, deleted or inserted by hand, or a raw event rewritten, is named by verify; verify
against the auditor's own replay; the table comparison in SQLite and as streams, checked against each other."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from chain.logs import ChainSource
from indexer import audit
from indexer.audit import Report, recompute_digests, replay, verify
from indexer.cursor import Cursor
from indexer.errors import IndexerError
from indexer.models import (
    AttestationRow,
    BlockDigest,
    BudgetLineRow,
    CursorRow,
    EventRow,
    MilestoneRow,
    OrganizationRow,
    PaymentRow,
    ProcurementRow,
)
from indexer.schema import make_engine, upgrade
from indexer.store import Store
from indexer.sync import Indexer
from indexer.writer_lock import WriterLock
from scripts.fresh_postgres import new_database
from tests.world import World


def _index(engine: Engine, world: World) -> None:
    with Indexer(engine, ChainSource(world.rpc), world.system, world.build) as indexer:
        indexer.catch_up()


def test_verify_names_an_edited_a_deleted_and_an_inserted_row(engine: Engine, scenario_world: World) -> None:
    _index(engine, scenario_world)
    # Block times mirrored before migration 0008 (NULL) are filled in from the node when the indexer opens.
    with engine.connect() as conn:
        recorded = dict(conn.execute(select(BlockDigest.block_number, BlockDigest.block_time)).all())
    assert None not in recorded.values()
    times = {number: int(stamp) for number, stamp in recorded.items() if stamp is not None}
    with engine.begin() as conn:
        conn.execute(update(BlockDigest).values(block_time=None))
    with Indexer(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build):
        pass
    with engine.connect() as conn:
        assert dict(conn.execute(select(BlockDigest.block_number, BlockDigest.block_time)).all()) == times
    timed = max(times)
    with engine.begin() as conn:
        conn.execute(
            update(BlockDigest).where(BlockDigest.block_number == timed).values(block_time=times[timed] + 3600)
        )
        edited = conn.execute(select(AttestationRow).where(AttestationRow.passed.is_(False)).limit(1)).one()
        conn.execute(
            update(AttestationRow)
            .where(AttestationRow.tx_hash == edited.tx_hash, AttestationRow.log_index == edited.log_index)
            .values(passed=True)
        )
        deleted = conn.execute(select(PaymentRow).where(PaymentRow.kind == "released").limit(1)).one()
        conn.execute(
            delete(PaymentRow).where(PaymentRow.tx_hash == deleted.tx_hash, PaymentRow.log_index == deleted.log_index)
        )
        fake = dict(deleted._mapping) | {"tx_hash": "0x" + "f" * 64, "amount": 999}
        conn.execute(insert(PaymentRow).values(fake))
        event = conn.execute(select(EventRow).where(EventRow.event == "Refunded").limit(1)).one()
        args = json.loads(event.args) | {"amount": "1"}
        conn.execute(
            update(EventRow)
            .where(EventRow.tx_hash == event.tx_hash, EventRow.log_index == event.log_index)
            .values(args=json.dumps(args))
        )
    report = verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)
    found = {(d.source, d.table, d.key, d.field): (d.mirror, d.other) for d in report.differences}
    chain = scenario_world.w3.eth.chain_id
    # Rows are named by primary key: (chain id, block number, log index, tx hash).
    edited_key = f"({chain}, {edited.block_number}, {edited.log_index}, {edited.tx_hash})"
    assert found[("replay", "attestations", edited_key, "passed")] == (True, False)
    deleted_key = f"({chain}, {deleted.block_number}, {deleted.log_index}, {deleted.tx_hash})"
    assert found[("replay", "payments", deleted_key, "<row>")] == ("missing", "present")
    inserted_key = f"({chain}, {deleted.block_number}, {deleted.log_index}, {'0x' + 'f' * 64})"
    assert found[("replay", "payments", inserted_key, "<row>")] == (
        "present",
        "missing",
    )
    event_key = f"({chain}, {event.block_number}, {event.log_index}, {event.tx_hash})"
    assert ("replay", "events", event_key, "args") in found
    assert (
        found[("digest", "block_digests", f"block {event.block_number}", "digest")][0]
        != found[("digest", "block_digests", f"block {event.block_number}", "digest")][1]
    )
    # A block's time is not digested (its hash, which the digest holds, commits to it): the replay names an edit.
    assert found[("replay", "block_digests", f"({chain}, {timed})", "block_time")] == (
        times[timed] + 3600,
        times[timed],
    )
    assert not report.ok


def test_verify_compares_with_the_contracts_themselves(engine: Engine, scenario_world: World) -> None:
    """A consistent lie (the books and the replay agree is impossible to fake): the chain still disagrees."""
    _index(engine, scenario_world)
    from indexer.models import MilestoneRow, ProcurementRow

    with engine.begin() as conn:
        conn.execute(update(MilestoneRow).where(MilestoneRow.status == "Paid").values(status="Pending"))
        conn.execute(update(ProcurementRow).values(total_released=0))
        # The hardened contracts' state: dispute deadlines, pause ends and periods.
        conn.execute(update(MilestoneRow).values(dispute_lapses_at=5))
        conn.execute(update(ProcurementRow).values(paused_until=1, ruling_period=7, grace_period=9))
    report = verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)
    sources = {(d.source, d.table, d.field) for d in report.differences}
    assert ("chain", "milestones", "status") in sources
    assert ("chain", "procurements", "balanceOf") in sources
    assert ("chain", "procurements", "total_released") in sources
    assert ("replay", "milestones", "status") in sources
    for table, field in [
        ("milestones", "dispute_lapses_at"),
        ("procurements", "paused_until"),
        ("procurements", "ruling_period"),
        ("procurements", "grace_period"),
    ]:
        assert ("chain", table, field) in sources
        assert ("replay", table, field) in sources


def test_verify_finds_a_tampered_budget_line(engine: Engine, scenario_world: World) -> None:
    """A line's balances edited in the mirror (every field the ledger reports, and a line the chain never had) are
    named against the ledger's own ``lineOf`` and against a replay; an honest mirror verifies clean."""
    _index(engine, scenario_world)
    clean = verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)
    assert clean.ok, clean.differences
    assert clean.checked["budget_lines"] == 6
    from indexer.models import BudgetLineRow

    with engine.begin() as conn:
        line = conn.execute(select(BudgetLineRow).where(BudgetLineRow.settled.is_(False)).limit(1)).one()
        conn.execute(
            update(BudgetLineRow)
            .where(BudgetLineRow.series == line.series, BudgetLineRow.fiscal_year == line.fiscal_year)
            .values(
                obligated=line.obligated + 1,
                allotted=line.allotted + 7,
                disbursed=line.disbursed + 3,
                carry_over=9,
                settled=True,
            )
        )
        forged = dict(line._mapping) | {"series": 999, "allotted": 10**12}
        conn.execute(insert(BudgetLineRow).values(forged))
    report = verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)
    found = {(d.source, d.table, d.key, d.field): (d.mirror, d.other) for d in report.differences}
    key = f"({line.series}, {line.fiscal_year})"
    assert found[("chain", "budget_lines", key, "obligated")] == (line.obligated + 1, line.obligated)
    for field in ("allotted", "disbursed", "carry_over", "settled"):
        assert ("chain", "budget_lines", key, field) in found
        assert (
            "replay",
            "budget_lines",
            f"({scenario_world.w3.eth.chain_id}, {line.series}, {line.fiscal_year})",
            field,
        ) in found
    assert found[("chain", "budget_lines", f"(999, {line.fiscal_year})", "exists")] == (True, False)
    assert not report.ok


def test_replay_refuses_a_database_that_is_not_empty(engine: Engine, scenario_world: World) -> None:
    _index(engine, scenario_world)
    with pytest.raises(IndexerError, match="replay needs an empty database"):
        replay(
            ChainSource(scenario_world.rpc),
            scenario_world.system,
            scenario_world.build,
            str(engine.url.render_as_string(hide_password=False)),
        )


def test_verify_of_an_empty_database_is_a_clear_error(engine: Engine, scenario_world: World) -> None:
    from indexer.schema import upgrade

    upgrade(engine)
    with pytest.raises(IndexerError, match="holds no mirror"):
        verify(engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build)


def test_recomputed_digests_name_a_missing_and_an_orphan_digest_wherever_they_fall(
    engine: Engine, scenario_world: World
) -> None:
    """Digests and events are merged as two block-ordered streams: an orphan digest before the first block of
    events, between two and after the last, and a digest deleted, are each named once, in block order."""
    _index(engine, scenario_world)
    chain = scenario_world.w3.eth.chain_id
    with engine.begin() as conn:
        blocks = sorted(conn.execute(select(EventRow.block_number).distinct()).scalars())
        assert len(blocks) >= 3
        gap = next(n + 1 for n, m in itertools.pairwise(blocks) if m > n + 1)
        dropped = blocks[len(blocks) // 2]
        template = dict(conn.execute(select(BlockDigest).where(BlockDigest.block_number == dropped)).one()._mapping)
        conn.execute(delete(BlockDigest).where(BlockDigest.block_number == dropped))
        orphans = [n for n in (gap, blocks[-1] + 5) if n not in blocks]
        if blocks[0] > 0:
            orphans.insert(0, blocks[0] - 1)
        for number in orphans:
            conn.execute(insert(BlockDigest).values(template | {"block_number": number}))
    found = [(d.table, d.key, d.field, d.mirror) for d in recompute_digests(engine, chain)]
    assert ("block_digests", f"block {dropped}", "<row>", "missing") in found
    for number in orphans:
        assert found.count(("block_digests", f"block {number}", "<row>", "present")) == 1
    # The hash chain runs on from a recomputed digest where one is missing: the blocks after it agree.
    assert [key for _, key, field, _ in found if field == "chain_hash"] == []
    numbers = [int(key.split()[1]) for table, key, _, _ in found if table == "block_digests"]
    assert numbers == sorted(numbers)


def test_compare_chain_asks_a_batch_of_escrows_at_a_time_and_finds_the_same(
    engine: Engine, scenario_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escrows are read and asked about a batch at a time (memory flat at any scale): with batches of one escrow
    and a handful of calls, the report is the one of a single batch, a tampered first and last escrow caught, and
    an ``escrows`` filter (unknown addresses included) asks about those escrows only."""
    from indexer import audit
    from indexer.models import MilestoneRow, ProcurementRow
    from indexer.store import Store

    _index(engine, scenario_world)
    with engine.connect() as conn:
        escrows = sorted(conn.execute(select(ProcurementRow.escrow)).scalars())
    assert len(escrows) >= 3
    first, last = escrows[0], escrows[-1]
    with engine.begin() as conn:
        conn.execute(update(ProcurementRow).where(ProcurementRow.escrow == first).values(total_funded=1))
        conn.execute(update(MilestoneRow).where(MilestoneRow.escrow == last).values(amount=7))
    source, world = ChainSource(scenario_world.rpc), scenario_world
    cursor = Store(engine, source.chain_id).cursor()
    assert cursor is not None

    def compare(**kwargs: object) -> tuple[list[audit.Difference], dict[str, int]]:
        return audit.compare_chain(engine, source, world.system, world.build, cursor, **kwargs)  # type: ignore[arg-type]

    whole = compare()
    monkeypatch.setattr(audit, "_ESCROW_BATCH", 1)
    monkeypatch.setattr(audit, "_CALL_BATCH", 3)
    batched = compare()
    assert batched == whole
    found = {(d.table, d.key, d.field) for d in batched[0]}
    assert ("procurements", first, "total_funded") in found
    assert any(
        table == "milestones" and key.startswith(f"({last},") and field == "amount" for table, key, field in found
    )
    assert [d.table for d in batched[0]] == sorted((d.table for d in batched[0]), key=audit._CHAIN_TABLES.index)
    assert whole[1]["escrows"] == len(escrows)

    only, checked = compare(escrows={last, "0x" + "ab" * 20}, books_only=True)
    assert checked["escrows"] == 1
    assert {d.key.split(",")[0].strip("()") for d in only} == {last}
    assert any(d.table == "milestones" and d.field == "amount" for d in only)


# ---------------------------------------------------------------- against the auditor's own replay


@pytest.fixture(scope="module")
def live(module_engine: Engine, scenario_world: World) -> Cursor:
    """The live mirror of the scenario, indexed once per module (the tests only read it)."""
    with Indexer(module_engine, ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build) as ix:
        ix.catch_up()
    cursor = Store(module_engine, scenario_world.system.chain_id).cursor()
    assert cursor is not None
    return cursor


@pytest.fixture(scope="module")
def half_replay(tmp_path_factory: pytest.TempPathFactory, scenario_world: World) -> Path:
    """An auditor's replay that stopped halfway through the chain's blocks (an SQLite file)."""
    path = tmp_path_factory.mktemp("replay") / "half.db"
    world = scenario_world
    halfway = (world.system.deployed_block + world.w3.eth.block_number) // 2
    done = replay(ChainSource(world.rpc), world.system, world.build, f"sqlite:///{path}", until=halfway)
    assert world.system.deployed_block < done.block_number < world.w3.eth.block_number
    return path


@pytest.fixture(scope="module")
def whole_replay(tmp_path_factory: pytest.TempPathFactory, scenario_world: World) -> Iterator[Engine]:
    """An honest replay of the whole chain (an SQLite file), only read."""
    url = f"sqlite:///{tmp_path_factory.mktemp('replay') / 'whole.db'}"
    replay(ChainSource(scenario_world.rpc), scenario_world.system, scenario_world.build, url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _copy(source: Path, target: Path) -> str:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{target}"


def _verify(engine: Engine, world: World, against: str) -> Report:
    return verify(engine, ChainSource(world.rpc), world.system, world.build, against_replay=against)


def test_an_earlier_replay_is_caught_up_then_compared(
    module_engine: Engine, scenario_world: World, live: Cursor, half_replay: Path, tmp_path: Path
) -> None:
    url = _copy(half_replay, tmp_path / "mine.db")
    report = _verify(module_engine, scenario_world, url)
    assert report.ok, report.differences
    assert report.replay_hash == live.chain_hash
    assert report.checked["events"] > 0
    replayed = make_engine(url)
    try:
        assert Store(replayed, live.chain_id).cursor() == live  # caught up to the live block, in the file itself
    finally:
        replayed.dispose()


def _edit_cursor(**values: object) -> Callable[[str], None]:
    def edit(url: str) -> None:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(update(CursorRow).values(**values))
        finally:
            engine.dispose()

    return edit


def _hold_lock(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            chain_id = conn.execute(select(CursorRow.chain_id)).scalar_one()
        WriterLock(engine, f"indexer:{chain_id}", ttl_s=600).acquire()  # as an indexer following it would
    finally:
        engine.dispose()


def _upgrade_only(url: str) -> None:
    """An empty mirror database: the schema, no cursor."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("case", "prepare", "refusal"),
    [
        ("missing", None, "no such file"),
        ("empty", _upgrade_only, "holds no mirror of chain"),
        ("another chain", _edit_cursor(genesis_hash="0x" + "ab" * 32), "is no replay of this chain: the node is"),
        ("another system", _edit_cursor(registry_address="0x" + "12" * 20), "replays another system"),
        ("past the live mirror", _edit_cursor(block_number=10**9), "past the live mirror's"),
        ("being written", _hold_lock, "is being written by an indexer"),
    ],
)
def test_what_is_no_replay_of_the_live_mirror_is_refused_untouched(
    module_engine: Engine,
    scenario_world: World,
    live: Cursor,
    half_replay: Path,
    tmp_path: Path,
    case: str,
    prepare: Callable[[str], None] | None,
    refusal: str,
) -> None:
    target = tmp_path / "other.db"
    url = f"sqlite:///{target}"
    if case != "missing":
        if case != "empty":
            _copy(half_replay, target)
        assert prepare is not None
        prepare(url)
    before = target.read_bytes() if target.exists() else None
    with pytest.raises(IndexerError, match=refusal):
        _verify(module_engine, scenario_world, url)
    assert (target.read_bytes() if target.exists() else None) == before  # nothing caught up, migrated or created


def test_the_live_mirror_itself_is_no_replay(module_engine: Engine, scenario_world: World, live: Cursor) -> None:
    with pytest.raises(IndexerError, match="is the live mirror itself"):
        _verify(module_engine, scenario_world, module_engine.url.render_as_string(hide_password=False))


# ---------------------------------------------------------------- the table comparison, two ways

Named = tuple[str, str, str, Any, Any]  # table, key, field, the live mirror's value, the replay's


def _key(*parts: object) -> str:
    return "(" + ", ".join(str(part) for part in parts) + ")"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tampered(
    request: pytest.FixtureRequest,
    scenario_world: World,
    whole_replay: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, Engine, set[Named]]]:
    """A live mirror of its own (each kind of database) with a row tampered in each kind of table, an honest
    replay of it (an SQLite file), and what the comparison must name."""
    world = scenario_world
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tampered') / 'live.db'}"
    else:
        url = new_database(request.getfixturevalue("postgres_server"))
    live = make_engine(url)
    with Indexer(live, ChainSource(world.rpc), world.system, world.build) as indexer:
        indexer.catch_up()
    cursor = indexer.store.cursor()
    assert cursor is not None
    assert Store(whole_replay, cursor.chain_id).cursor() == cursor
    chain = cursor.chain_id
    expected: set[Named] = set()
    with live.begin() as conn:
        # An event row's boolean, one deleted, one forged (append-only tables, keyed by the event's place).
        vote = conn.execute(select(AttestationRow).order_by(AttestationRow.block_number).limit(1)).one()
        conn.execute(
            update(AttestationRow)
            .where(AttestationRow.tx_hash == vote.tx_hash, AttestationRow.log_index == vote.log_index)
            .values(passed=not vote.passed)
        )
        vote_key = _key(chain, vote.block_number, vote.log_index, vote.tx_hash)
        expected.add(("attestations", vote_key, "passed", not vote.passed, vote.passed))
        paid = conn.execute(select(PaymentRow).order_by(PaymentRow.block_number.desc()).limit(1)).one()
        conn.execute(
            delete(PaymentRow).where(PaymentRow.tx_hash == paid.tx_hash, PaymentRow.log_index == paid.log_index)
        )
        expected.add(
            ("payments", _key(chain, paid.block_number, paid.log_index, paid.tx_hash), "<row>", "missing", "present")
        )
        forged = "0x" + "f" * 64
        conn.execute(insert(PaymentRow).values(dict(paid._mapping) | {"tx_hash": forged}))
        expected.add(
            ("payments", _key(chain, paid.block_number, paid.log_index, forged), "<row>", "present", "missing")
        )
        # Current state: a uint256 (stored as text), a procurement's books, a budget line's flag and balance.
        milestone = conn.execute(select(MilestoneRow).order_by(MilestoneRow.escrow).limit(1)).one()
        conn.execute(
            update(MilestoneRow)
            .where(MilestoneRow.escrow == milestone.escrow, MilestoneRow.milestone_id == milestone.milestone_id)
            .values(amount=milestone.amount + 10**30)
        )
        expected.add(
            ("milestones", _key(chain, milestone.escrow, milestone.milestone_id), "amount",
             milestone.amount + 10**30, milestone.amount)
        )  # fmt: skip
        books = conn.execute(select(ProcurementRow).order_by(ProcurementRow.escrow.desc()).limit(1)).one()
        conn.execute(update(ProcurementRow).where(ProcurementRow.escrow == books.escrow).values(total_released=0))
        if books.total_released != 0:
            expected.add(("procurements", _key(chain, books.escrow), "total_released", 0, books.total_released))
        line = conn.execute(select(BudgetLineRow).limit(1)).one()
        conn.execute(
            update(BudgetLineRow)
            .where(BudgetLineRow.series == line.series, BudgetLineRow.fiscal_year == line.fiscal_year)
            .values(settled=not line.settled, carry_over=line.carry_over + 5)
        )
        line_key = _key(chain, line.series, line.fiscal_year)
        expected.add(("budget_lines", line_key, "settled", not line.settled, line.settled))
        expected.add(("budget_lines", line_key, "carry_over", line.carry_over + 5, line.carry_over))
        # Text, a raw event's arguments, a NULL where the replay has a value, the cursor (its compared fields only).
        org = conn.execute(select(OrganizationRow).limit(1)).one()
        conn.execute(update(OrganizationRow).where(OrganizationRow.org_id == org.org_id).values(name=org.name + " "))
        expected.add(("organizations", _key(chain, org.org_id), "name", org.name + " ", org.name))
        event = conn.execute(select(EventRow).order_by(EventRow.block_number.desc()).limit(1)).one()
        args = json.dumps(json.loads(event.args) | {"forged": 1})
        conn.execute(
            update(EventRow)
            .where(EventRow.tx_hash == event.tx_hash, EventRow.log_index == event.log_index)
            .values(args=args)
        )
        expected.add(
            ("events", _key(chain, event.block_number, event.log_index, event.tx_hash), "args", args, event.args)
        )
        digest = conn.execute(select(BlockDigest).order_by(BlockDigest.block_number).limit(1)).one()
        conn.execute(update(BlockDigest).where(BlockDigest.block_number == digest.block_number).values(block_time=None))
        expected.add(("block_digests", _key(chain, digest.block_number), "block_time", None, digest.block_time))
        conn.execute(update(CursorRow).values(block_hash="0x" + "0" * 64, updated_at_ms=1))
        expected.add(("cursors", _key(chain), "block_hash", "0x" + "0" * 64, cursor.block_hash))
    try:
        yield live, whole_replay, expected
    finally:
        live.dispose()


def _named(found: list[audit.Difference]) -> list[Named]:
    assert {d.source for d in found} <= {"replay"}
    return [(d.table, d.key, d.field, d.mirror, d.other) for d in found]


def test_a_tampered_row_of_each_kind_of_table_is_named(tampered: tuple[Engine, Engine, set[Named]]) -> None:
    live, other, expected = tampered
    found, checked = audit._compare_tables(live, other)
    assert set(_named(found)) == expected
    assert [d.table for d in found] == sorted(d.table for d in found)
    assert checked["events"] > 0
    assert checked["cursors"] == 1


@pytest.mark.parametrize("tampered", ["sqlite"], indirect=True)  # SQLite compares inside itself: two SQLite files
def test_sqlites_own_join_names_what_the_streams_name(
    tampered: tuple[Engine, Engine, set[Named]], tmp_path: Path
) -> None:
    """Two derivations of one comparison, checked against each other: the same differences in the same order
    (table, then key), the same rows counted."""
    live, other, expected = tampered
    assert live.dialect.name == "sqlite"
    in_sqlite, streamed = audit._compare_in_sqlite(live, other), audit._compare_streams(live, other)
    assert in_sqlite == streamed
    assert set(_named(in_sqlite[0])) == expected


@pytest.mark.parametrize("key_kept", [True, False])
def test_a_row_deleted_where_another_is_doubled_is_named(
    whole_replay: Engine, tmp_path: Path, *, key_kept: bool
) -> None:
    """SQLite's comparison spares the search for replayed rows without a live partner when the counts say there
    are none: each live row with a partner has its own only if the live key is unique. A live file whose payments
    table was rebuilt without its key, one row doubled and another deleted (the counts even), is searched all the
    same; with the key kept, the same edit (a row forged in place of the doubled one) is found by the counts."""
    assert whole_replay.url.database is not None
    live_url = _copy(Path(whole_replay.url.database), tmp_path / "live.db")
    db = sqlite3.connect(tmp_path / "live.db")
    with db:
        if not key_kept:
            db.execute("CREATE TABLE unkeyed AS SELECT * FROM payments")
            db.execute("DROP TABLE payments")
            db.execute("ALTER TABLE unkeyed RENAME TO payments")
        rows = db.execute(
            "SELECT chain_id, block_number, log_index, tx_hash FROM payments ORDER BY block_number, log_index"
        ).fetchall()
        assert len(rows) >= 2
        gone = rows[-1]
        db.execute("DELETE FROM payments WHERE block_number = ? AND log_index = ? AND tx_hash = ?", gone[1:])
        copied = db.execute(
            "SELECT * FROM payments WHERE tx_hash = ? AND log_index = ?", (rows[0][3], rows[0][2])
        ).fetchone()
        marks = ", ".join("?" for _ in copied)
        if key_kept:  # the key refuses a double: the row comes back under a forged hash
            columns = [c[1] for c in db.execute("PRAGMA table_info(payments)")]
            forged = [
                "0x" + "e" * 64 if name == "tx_hash" else value for name, value in zip(columns, copied, strict=True)
            ]
            copied = tuple(forged)
        db.execute(f"INSERT INTO payments VALUES ({marks})", copied)  # noqa: S608
    db.close()
    live = make_engine(live_url)
    try:
        found, checked = audit._compare_in_sqlite(live, whole_replay)
    finally:
        live.dispose()
    named = set(_named(found))
    assert ("payments", _key(*gone), "<row>", "missing", "present") in named
    assert checked["payments"] == len(rows)
