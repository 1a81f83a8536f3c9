"""Mirrors that check each other (GET /audit/digests, `procure audit compare`): two organizations' gateways over
their own mirrors of one chain, and copies of a mirror edited as an insider would.

Who may call /audit/digests: auditors and the finance authority. What a hostile caller tries: no session, a
supplier's session, reversed, negative, huge or non-numeric ranges, a page size of zero or past the cap. What must
hold: equal mirrors agree over every block; a mirror whose rows were edited AND whose digests were rewritten to
match (so that its own self-check passes) is caught by the others at the edited block, with the edited row
named; a mirror missing a block's events is named at that block; paging changes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from chain import ChainSource
from gateway.client import GatewayClient
from gateway.main import create_app
from gateway.remote_mirror import GatewayMirror
from indexer.audit import recompute_digests
from indexer.compare import EngineMirror, MirrorSource, compare_mirrors
from indexer.digests import GENESIS, block_digest, chain_next
from indexer.models import TABLES
from indexer.schema import make_engine
from indexer.sync import Indexer
from scripts._common import Context
from scripts.cli import main
from tests.gateway.conftest import make_settings
from tests.helpers import new_escrow
from tests.world import World


class Mirrors:
    """Two gateways (organizations A and B) over their own mirrors, and where A's database lives."""

    def __init__(self, world: World, apps: dict[str, FastAPI], clients: dict[str, TestClient], a_db: Path) -> None:
        self.world = world
        self.apps = apps
        self.clients = clients
        self.a_db = a_db

    def source(self, name: str, label: str = "auditor") -> GatewayMirror:
        client = GatewayClient("http://testserver", self.world.accounts[label], http=self.clients[name])
        return GatewayMirror(name, client, self.world.rpc.chain_id)

    def copy_of_a(self, tmp_path: Path) -> tuple[str, Engine]:
        path = tmp_path / "copy.db"
        shutil.copy(self.a_db, path)
        url = f"sqlite:///{path}"
        return url, make_engine(url)


@pytest.fixture(scope="module")
def mirrors(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirrors]:
    world = session_world
    snapshot = world.tester.take_snapshot()
    year, lines = world.fiscal_year, dict(world.lines)
    tmp = tmp_path_factory.mktemp("mirrors")
    try:
        new_escrow(world)
        new_escrow(world)
        apps, clients = {}, {}
        for name in ("A", "B"):
            settings = make_settings(tmp / name)
            apps[name] = create_app(settings, rpc=world.rpc, system=world.system, build=world.build)
        with TestClient(apps["A"]) as a_client, TestClient(apps["B"]) as b_client:
            clients = {"A": a_client, "B": b_client}
            for app in apps.values():
                with Indexer(app.state.gateway.engine, ChainSource(world.rpc), world.system, world.build) as indexer:
                    indexer.catch_up()
            yield Mirrors(world, apps, clients, tmp / "A" / "ledger.db")
    finally:
        world.tester.revert_to_snapshot(snapshot)
        world.fiscal_year, world.lines = year, lines


def _rewrite_digests(engine: Engine, chain_id: int) -> None:
    """What an insider who edited rows would do next: recompute every digest and the running hash to match."""
    events, digests, cursors = TABLES["events"], TABLES["block_digests"], TABLES["cursors"]
    by_block: dict[int, list[tuple[str, int, str, str, str]]] = defaultdict(list)
    hashes: dict[int, str] = {}
    with engine.begin() as conn:
        rows = conn.execute(
            select(events).where(events.c.chain_id == chain_id).order_by(events.c.block_number, events.c.log_index)
        )
        for row in rows:
            by_block[row.block_number].append((row.tx_hash, row.log_index, row.emitter, row.event, row.args))
            hashes[row.block_number] = row.block_hash
        running = GENESIS
        for number in sorted(by_block):
            digest = block_digest(chain_id, number, hashes[number], by_block[number])
            running = chain_next(running, digest)
            key = (digests.c.chain_id == chain_id) & (digests.c.block_number == number)
            conn.execute(update(digests).where(key).values(digest=digest, chain_hash=running))
        conn.execute(update(cursors).where(cursors.c.chain_id == chain_id).values(chain_hash=running))


def test_equal_mirrors_agree_block_by_block_and_page_by_page(mirrors: Mirrors) -> None:
    chain_id = mirrors.world.rpc.chain_id
    local = EngineMirror("A's database", mirrors.apps["A"].state.gateway.engine, chain_id)
    sources: list[MirrorSource] = [mirrors.source("A"), mirrors.source("B"), local]
    whole = compare_mirrors(sources)
    assert whole.agree
    assert whole.blocks_compared > 2
    assert whole.to_block == mirrors.world.rpc.block_number()
    paged = compare_mirrors(sources, page=1)  # one line per request: the same answer
    assert (paged.agree, paged.blocks_compared, paged.chain_hash) == (True, whole.blocks_compared, whole.chain_hash)
    cursor = TABLES["cursors"]
    with mirrors.apps["B"].state.gateway.engine.connect() as conn:
        assert conn.execute(select(cursor.c.chain_hash)).scalar() == whole.chain_hash


def test_an_edited_mirror_that_passes_its_own_check_is_caught_by_the_others(mirrors: Mirrors, tmp_path: Path) -> None:
    chain_id = mirrors.world.rpc.chain_id
    _, copy = mirrors.copy_of_a(tmp_path)
    events = TABLES["events"]
    with copy.begin() as conn:
        target = conn.execute(
            select(events).where(events.c.event == "ProcurementCreated").order_by(events.c.block_number.desc())
        ).first()
        assert target is not None
        args = json.loads(target.args)
        key = next(k for k, v in args.items() if isinstance(v, str) and v.isdigit())
        args[key] = str(int(args[key]) + 1)
        edited = json.dumps(args, separators=(",", ":"), sort_keys=True)
        where = (events.c.tx_hash == target.tx_hash) & (events.c.log_index == target.log_index)
        conn.execute(update(events).where(where).values(args=edited))
    _rewrite_digests(copy, chain_id)
    assert recompute_digests(copy, chain_id) == []  # its own check is blind to it
    found = compare_mirrors([mirrors.source("A"), EngineMirror("copy", copy, chain_id), mirrors.source("B")])
    copy.dispose()
    assert not found.agree
    divergence = found.divergence
    assert divergence is not None
    assert divergence.block_number == target.block_number
    assert list(divergence.rows) == [f"{target.tx_hash.lower()}:{target.log_index}"]
    row = divergence.rows[f"{target.tx_hash.lower()}:{target.log_index}"]
    assert row["copy"] is not None
    assert row["copy"].args == edited
    assert row["A"] == row["B"]
    assert row["A"] is not None
    assert json.loads(row["A"].args)[key] == json.loads(target.args)[key]


def test_the_command_names_a_mirror_missing_a_block(mirrors: Mirrors, tmp_path: Path) -> None:
    chain_id = mirrors.world.rpc.chain_id
    url, copy = mirrors.copy_of_a(tmp_path)
    events, digests = TABLES["events"], TABLES["block_digests"]
    with copy.begin() as conn:
        block = conn.execute(select(digests.c.block_number).order_by(digests.c.block_number.desc())).scalar()
        conn.execute(delete(events).where(events.c.block_number == block))
        conn.execute(delete(digests).where(digests.c.block_number == block))
    copy.dispose()
    original = f"sqlite:///{mirrors.a_db}"
    args = ["audit", "compare", "--db", original, "--db", url, "--chain-id", str(chain_id), "--json"]
    result = CliRunner().invoke(main, args, obj=Context(var_dir=tmp_path / "var"))
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["divergence"]["block"] == block
    assert report["divergence"]["lines"][f"db {url}"] is None
    assert all(values[f"db {url}"] is None for values in report["divergence"]["rows"].values())
    same = CliRunner().invoke(
        main, ["audit", "compare", "--db", original, "--db", original, "--chain-id", str(chain_id)]
    )
    assert same.exit_code == 1
    assert "named twice" in same.output
    alone = CliRunner().invoke(main, ["audit", "compare", "--db", original])
    assert alone.exit_code == 1
    assert "at least two mirrors" in alone.output


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "5", "to": "4"}, 422),
        ({"from": "-1"}, 422),
        ({"to": str(2**64)}, 422),
        ({"from": "abc"}, 422),
        ({"limit": "0"}, 422),
        ({"limit": "10001"}, 422),
        ({"from": str(2**62)}, 200),
    ],
)
def test_hostile_digest_ranges_get_a_clear_answer(mirrors: Mirrors, params: dict[str, str], status: int) -> None:
    client = mirrors.source("A").client
    response = mirrors.clients["A"].get("/audit/digests", params=params, headers=client._headers())
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["data"] == []


def test_only_auditors_and_the_finance_authority_read_digests(mirrors: Mirrors) -> None:
    assert mirrors.clients["A"].get("/audit/digests").status_code == 401
    for label, status in (("supplier", 403), ("officer", 403), ("treasury", 403), ("auditor", 200), ("finance2", 200)):
        client = mirrors.source("A", label).client
        assert mirrors.clients["A"].get("/audit/digests", headers=client._headers()).status_code == status
