"""The gateway on a real PostgreSQL server (pgserver): its migrations, sign-in, a relayed flow and scoped reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain import TxSender
from gateway.main import create_app
from scripts.fresh_postgres import new_database
from tests.gateway import test_budget_reads as budget_reads
from tests.gateway.conftest import REPORT, Api, make_settings
from tests.gateway.test_budget_reads import budget_world
from tests.gateway.test_ops import says_the_indexes_still_to_build
from tests.indexer.conftest import postgres_server
from tests.world import World

__all__ = ["budget_world", "postgres_server"]  # the fixtures, re-used from the budget reads' and indexer's tests

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}


@pytest.fixture
def pg_api(world: World, relayer: TxSender, tmp_path: Path, postgres_server: str) -> Iterator[Api]:
    """The gateway on the fixture chain, its mirror and tables in a fresh PostgreSQL database."""
    settings = make_settings(tmp_path, database_url=new_database(postgres_server))
    app = create_app(settings, rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, world=world, app=app)
    app.state.gateway.engine.dispose()


def test_a_milestone_is_paid_through_the_api_and_read_back_from_postgres(pg_api: Api, procurement: str) -> None:
    api = pg_api
    assert api.state.engine.dialect.name == "postgresql"
    assert not api.state.inline_point_reads  # reads by key go to the thread pool: a network round trip
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"%PDF-1.7 acceptance test report, lot 1")
    submitted = api.act(
        "supplier",
        supplier,
        procurement,
        "submit-evidence",
        {"milestoneId": 0, "documentHash": document["documentHash"]},
    )
    assert submitted.status_code == 202, submitted.text
    for evaluator in ("eval1", "eval2"):
        attested = api.act(evaluator, api.sign_in(evaluator), procurement, "attest", ATTEST, wait=True)
        assert attested.status_code == 200, attested.text
    api.sync()

    detail = api.client.get(f"/procurements/{procurement}", headers=supplier)
    assert detail.status_code == 200, detail.text
    assert detail.json()["milestones"][0]["status"] == "Paid"
    assert detail.json()["totals"]["released"] == "30000000"
    payments = api.client.get("/payments", headers=supplier, params={"procurementId": procurement}).json()
    assert [p["amount"] for p in payments["data"]] == ["30000000"]
    attestations = api.client.get("/attestations", headers=supplier, params={"procurementId": procurement}).json()
    assert [a["evaluator"] for a in attestations["data"]] == [api.world.eval1.address, api.world.eval2.address]

    # Scoping holds on this backend too: an auditor sees it, an evaluator off the panel does not.
    assert api.client.get(f"/procurements/{procurement}", headers=api.sign_in("auditor")).status_code == 200
    outsider = api.client.get(f"/procurements/{procurement}", headers=api.sign_in("eval4"))
    assert outsider.status_code == 404


def test_healthz_says_the_mirrors_indexes_are_still_to_build_on_postgres(pg_api: Api, procurement: str) -> None:
    assert pg_api.state.engine.dialect.name == "postgresql"
    says_the_indexes_still_to_build(pg_api)


# The budget reads' statements are built once with every value a parameter (lists of ministries expanded at
# execution, the chain's clock against grants' expiry): the same reads on PostgreSQL.


def test_budget_lines_and_summary_read_from_postgres(pg_api: Api, budget_world: World) -> None:
    assert pg_api.state.engine.dialect.name == "postgresql"
    budget_reads.test_line_figures_are_the_ledgers_and_add_up(pg_api, budget_world)


def test_pending_transfers_and_idle_funds_read_from_postgres(pg_api: Api, budget_world: World) -> None:
    budget_reads.test_pending_transfers_age_and_idle_funds(pg_api, budget_world)


def test_budget_lines_granted_read_from_postgres(pg_api: Api, world: World) -> None:
    budget_reads.test_each_caller_sees_its_lines_and_lines_granted_to_it(pg_api, world)
