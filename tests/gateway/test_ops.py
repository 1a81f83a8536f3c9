"""What the gateway says of itself: /healthz against another chain than the mirror's, a mirror that serves what
the chain does not say, or one whose indexes are still to build; /docs offline; a relayer given a role."""

from __future__ import annotations

import gc
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from chain import ChainSource, ConfigurationError, Role, TxSender, org_id
from chain.clients import DAY
from gateway.main import create_app
from indexer.deferred_indexes import DEFERRABLE, build_deferred, defer_indexes
from indexer.models import TABLES
from indexer.sync import Indexer
from tests.gateway.conftest import Api, make_settings
from tests.helpers import new_escrow
from tests.tester import new_tester
from tests.world import World


def test_healthz_fails_against_another_chain_than_the_mirrors(api: Api, procurement: str) -> None:
    api.sync()
    assert api.client.get("/healthz").json()["status"] == "ok"
    _, other = new_tester()  # the mirror was made from another chain of the same id (a node started afresh)
    theirs = ChainSource(other).genesis_hash()
    cursors = TABLES["cursors"]
    with api.state.engine.begin() as conn:
        conn.execute(update(cursors).values(genesis_hash=theirs))
    health = api.client.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "wrong-chain"
    ours = ChainSource(api.world.rpc).genesis_hash()
    assert body["problem"] == (
        f"the node is another chain {api.world.rpc.chain_id} than the mirror's: its genesis block is {ours}, the "
        f"mirror's {theirs} (a node started afresh?)"
    )


def test_docs_work_offline_every_asset_served_by_the_gateway(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    referenced = re.findall(r"""(?:src|href|url)\s*[:=(]\s*['"]([^'"]+)['"]""", page.text)
    assert referenced, page.text
    external = [url for url in referenced if "//" in url]
    assert not external, f"/docs loads from elsewhere: {external}"
    assets = [url for url in referenced if url.startswith("/docs/assets/")]
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    for url in assets:
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "/openapi.json" in referenced
    assert '"validatorUrl": null' in page.text  # nor does Swagger UI send the document to its online validator
    assert api.client.get("/openapi.json").status_code == 200
    assert api.client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not served


def test_a_relayer_given_a_role_stops_relaying_and_cannot_start(api: Api, procurement: str, tmp_path: Path) -> None:
    world, relayer = api.world, api.relayer
    admin = world.sender("admin")
    admin.transact(world.registry.functions.bindAccount(relayer, org_id("MOD")))
    admin.transact(world.registry.functions.grantRole(Role.PROCUREMENT_OFFICER.id, relayer))
    api.sync()
    supplier = api.sign_in("supplier")
    marks = api.chain_marks()
    document = api.upload(supplier, b"evidence for milestone 0")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    refused = api.act("supplier", supplier, procurement, "submit-evidence", fields)
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"].startswith(
        f"the gateway's relayer {relayer} is bound to MOD and holds procurement-officer: a relayer is an account "
        "nobody else uses"
    )
    assert api.chain_marks() == marks
    with pytest.raises(ConfigurationError, match="a relayer is an account nobody else uses"):
        create_app(
            make_settings(tmp_path / "again"),
            rpc=world.rpc,
            system=world.system,
            relayer=api.state.ledger.relayer,
            build=world.build,
        )


def test_healthz_reports_a_hand_edited_row_with_its_block(api: Api) -> None:
    world = api.world
    escrow, params = new_escrow(world)
    world.tester.time_travel(params[5][0] + DAY)
    world.sender("officer").transact(escrow.functions.reclaim(0))
    api.sync()
    indexer = Indexer(api.state.engine, ChainSource(world.rpc), world.system, world.build)
    assert indexer.check_served("recent").ok
    healthy = api.client.get("/healthz").json()
    assert healthy["status"] == "ok"
    assert healthy["indexer"]["firstBadBlock"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", healthy["indexer"]["checkedAt"])
    refunds = TABLES["refunds"]
    with api.state.engine.begin() as conn:
        block = conn.execute(select(refunds.c.block_number)).scalar_one()
        conn.execute(update(refunds).values(amount=1))
    assert not indexer.check_served("recent").ok
    health = api.client.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "mismatch"
    assert body["indexer"]["firstBadBlock"] == block
    assert body["problem"].startswith(f"the mirror differs from the chain at block {block}: refunds row (block {block}")


def test_healthz_says_the_mirrors_indexes_are_still_to_build(api: Api, procurement: str) -> None:
    says_the_indexes_still_to_build(api)


def says_the_indexes_still_to_build(api: Api) -> None:
    """/healthz on a mirror whose indexes were dropped and not built: degraded (200) with their count, also while
    they are being built; ok once built (test_postgres runs it on PostgreSQL)."""
    api.sync()
    healthy = api.client.get("/healthz").json()
    assert (healthy["status"], healthy["problem"], healthy["indexer"]["pendingIndexes"]) == ("ok", None, 0)
    # What a fresh mirror's catch-up leaves when it is killed after its last block and before building the indexes it
    # dropped: every deferrable index gone and recorded, in one transaction (as Indexer.catch_up drops them).
    with api.state.engine.begin() as conn:
        dropped = defer_indexes(conn)
    assert sorted(dropped) == sorted(DEFERRABLE)
    pending = api.client.get("/healthz")
    assert pending.status_code == 200  # right but slow: no load balancer should take the gateway out for it
    body = pending.json()
    assert body["status"] == "degraded"
    assert body["indexer"]["lagBlocks"] == 0
    assert body["indexer"]["pendingIndexes"] == len(DEFERRABLE)
    assert f"gateway_indexer_pending_indexes {len(DEFERRABLE)}.0" in api.client.get("/metrics").text
    assert body["problem"] == (
        f"{len(DEFERRABLE)} of the mirror's indexes are not built yet (its first catch-up builds them when it reaches "
        "its target): reads that need them are slow until then"
    )
    # While the indexer builds them (its transaction open), /healthz answers at once from what was committed.
    with api.state.engine.connect() as builder:
        building = builder.begin()
        assert len(build_deferred(builder)) == len(DEFERRABLE)
        during = api.client.get("/healthz")
        building.rollback()
    assert during.status_code == 200
    assert during.json()["indexer"]["pendingIndexes"] == len(DEFERRABLE)
    api.sync()  # the next catch-up builds them
    built = api.client.get("/healthz").json()
    assert (built["status"], built["problem"], built["indexer"]["pendingIndexes"]) == ("ok", None, 0)
    assert "gateway_indexer_pending_indexes 0.0" in api.client.get("/metrics").text


def test_the_start_up_heap_is_frozen_while_the_gateway_runs(
    world: World, relayer: TxSender, tmp_path: Path, migrated_database: Path
) -> None:
    """Out of the cyclic collector's sight while the gateway serves (a full collection in a request walks only what
    requests left), and given back when it stops."""
    shutil.copyfile(migrated_database, tmp_path / "ledger.db")
    app = create_app(make_settings(tmp_path), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert gc.get_freeze_count() > len(gc.get_objects())  # the heap built before it started, the app among it
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0
