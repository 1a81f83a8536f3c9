"""What the gateway says of itself and its lists: a query parameter a list does not take is refused, never ignored;
refunds are listed with payments; /healthz fails against another chain than the mirror's; /docs works offline."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from chain import ChainSource, ConfigurationError, Role, org_id
from chain.clients import DAY
from gateway.main import create_app
from indexer.models import TABLES
from indexer.sync import Indexer
from tests.gateway.conftest import Api, make_settings
from tests.helpers import new_escrow
from tests.tester import new_tester


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/payments", {"ministry": "MOFA"}),
        ("/procurements", {"ministri": "MOD"}),
        ("/milestones", {"procurementId": "0x" + "00" * 32, "colour": "red"}),
        ("/attestations", {"pass": "true"}),
    ],
)
def test_an_unknown_filter_is_a_422_naming_it(api: Api, path: str, query: dict[str, str]) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    response = api.client.get(path, headers=auditor, params=query)
    assert response.status_code == 422, response.text
    body = response.json()
    unknown = next(name for name in query if name not in ("procurementId",))
    assert body["errors"][0]["loc"] == ["query", unknown]
    assert body["detail"].startswith(f"query.{unknown}: unknown filter {unknown!r}; this list takes ")
    assert "limit" in body["detail"]
    assert "offset" in body["detail"]


def test_known_filters_and_paging_still_work(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    response = api.client.get("/procurements", headers=auditor, params={"ministry": "MOD", "limit": 5, "offset": 0})
    assert response.status_code == 200, response.text
    assert response.json()["count"] >= 1


def test_refunds_are_listed_with_payments(api: Api) -> None:
    world = api.world
    escrow, params = new_escrow(world)
    pid = "0x" + bytes(params[0]).hex()
    world.tester.time_travel(params[5][0] + DAY)  # milestone 0 is past due, never delivered: the ministry reclaims
    world.sender("officer").transact(escrow.functions.reclaim(0))
    api.sync()
    auditor = api.sign_in("auditor")
    rows = api.client.get("/payments", headers=auditor, params={"procurementId": pid}).json()
    assert rows["count"] == 1
    (refund,) = rows["data"]
    assert refund["kind"] == "refunded"
    assert refund["amount"] == str(params[4][0])
    assert refund["to"] == world.system.budget
    assert refund["supplier"] is None
    only = api.client.get("/payments", headers=auditor, params={"procurementId": pid, "kind": "released"}).json()
    assert only["count"] == 0


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


def test_times_in_reads_carry_iso_8601_with_the_jst_offset(api: Api, procurement: str) -> None:
    api.sync()
    auditor = api.sign_in("auditor")
    detail = api.client.get(f"/procurements/{procurement}", headers=auditor).json()
    for milestone in detail["milestones"]:
        due = dt.datetime.fromisoformat(milestone["dueAt"])
        assert due.utcoffset() == dt.timedelta(hours=9)
        assert int(due.timestamp()) == milestone["dueDate"]
    assert detail["pausedUntilAt"] is None
