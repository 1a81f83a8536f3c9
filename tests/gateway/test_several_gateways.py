"""Two gateways on one database, each with its own relayer: statuses, signer nonces and Idempotency-Keys are
shared through the database; a signed action posted again at the other gateway is answered with its first relay;
one relayer is held by one live gateway.
(The same with real processes, nginx and PostgreSQL: tests/integration/test_gateways_behind_nginx.py.)"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from chain import ConfigurationError, TxSender
from chain.system import error_decoder
from gateway.errors import ServiceUnavailable
from gateway.main import create_app
from gateway.models import IdempotencyRecord, RelayerLease, RelayRecord
from gateway.relay.watch import ORPHANS_AFTER_S, STRANDED_AFTER_S
from scripts.fresh_postgres import new_database
from tests.gateway.conftest import REPORT, Api, make_settings
from tests.helpers import new_escrow
from tests.indexer.conftest import postgres_server
from tests.tester import deterministic_account, fund_accounts
from tests.world import World

__all__ = ["postgres_server"]  # the fixture, re-used from the indexer's tests

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
SECRET = "several gateways share this sign-in nonce secret"


def _relayer(world: World, label: str) -> TxSender:
    account = deterministic_account(label)
    fund_accounts(world.tester, [account])
    return TxSender(world.rpc, account, error_decoder(world.build))


def _app(world: World, tmp_path: Path, relayer: TxSender, **settings: Any) -> Any:
    values: dict[str, Any] = {"siwe_nonce_secret": SECRET, "relayer_lease_s": 4.0} | settings
    return create_app(
        make_settings(tmp_path, **values), rpc=world.rpc, system=world.system, relayer=relayer, build=world.build
    )


@contextmanager
def _gateways(world: World, tmp_path: Path, *labels: str, **settings: Any) -> Iterator[list[Api]]:
    """Gateways on one database and one chain, each relaying with a funded key of its own (one per label)."""
    with ExitStack() as stack:
        apis = []
        for label in labels:
            app = _app(world, tmp_path, _relayer(world, label), **settings)
            stack.callback(app.state.gateway.engine.dispose)  # after the client's exit (last in, first out)
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            apis.append(Api(client=client, world=world, app=app))
        yield apis


@pytest.fixture
def gateways(world: World, tmp_path: Path, migrated_database: Path) -> Iterator[tuple[Api, Api]]:
    """Gateways A and B on one SQLite database and one chain, each relaying with a funded key of its own."""
    shutil.copyfile(migrated_database, tmp_path / "ledger.db")
    with _gateways(world, tmp_path, "gateway A relayer", "gateway B relayer") as (a, b):
        yield a, b


def _settled(api: Api, headers: dict[str, str], url: str) -> dict[str, Any]:
    give_up = time.monotonic() + 10
    while True:
        response = api.client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "pending" or time.monotonic() > give_up:
            return body
        time.sleep(0.05)


def _signed(api: Api, label: str, headers: dict[str, str], pid: str, action: str, fields: dict[str, Any]) -> Any:
    typed = api.typed_data(headers, pid, action, fields)
    return {**fields, "deadline": typed["deadline"], "nonce": typed["nonce"], "signature": api.sign_typed(label, typed)}


def _evidence(api: Api, pid: str, milestones: tuple[int, ...]) -> None:
    supplier = api.session("supplier")
    for milestone in milestones:
        document = api.upload(supplier, f"evidence for milestone {milestone}".encode())
        fields = {"milestoneId": milestone, "documentHash": document["documentHash"]}
        posted = api.act("supplier", supplier, pid, "submit-evidence", fields)
        assert posted.status_code == 202, posted.text


def test_a_signer_alternates_gateways_and_every_status_answers_from_both(
    gateways: tuple[Api, Api], procurement: str
) -> None:
    a, b = gateways
    supplier = a.sign_in("supplier")  # one session, valid at both: it lives in the database
    uploaded = [a.upload(supplier, f"report {m}".encode())["documentHash"] for m in (0, 1)]
    first = a.act("supplier", supplier, procurement, "submit-evidence", {"milestoneId": 0, "documentHash": uploaded[0]})
    assert first.status_code == 202, first.text
    # The next action of the same signer at the other gateway: its nonce follows the first one's row.
    typed = b.typed_data(supplier, procurement, "submit-evidence", {"milestoneId": 1, "documentHash": uploaded[1]})
    assert int(typed["nonce"]) == int(first.json()["nonce"]) + 1
    second = b.act(
        "supplier", supplier, procurement, "submit-evidence", {"milestoneId": 1, "documentHash": uploaded[1]}
    )
    assert second.status_code == 202, second.text
    assert first.json()["relayer"] == a.relayer != b.relayer == second.json()["relayer"]
    for body in (first.json(), second.json()):
        for api in (a, b):
            assert _settled(api, supplier, body["statusUrl"])["status"] == "mined"
            assert api.client.get(body["statusUrl"], headers=supplier).json()["txHash"] == body["txHash"]


def test_a_signed_action_posted_again_at_the_other_gateway_is_answered_with_the_first_relay(
    gateways: tuple[Api, Api], procurement: str
) -> None:
    a, b = gateways
    _evidence(a, procurement, (0,))
    evaluator = a.session("eval1")
    body = _signed(a, "eval1", evaluator, procurement, "attest", ATTEST)
    url = f"/procurements/{procurement}/actions/attest"
    relayed = a.client.post(url, headers=evaluator, json=body)
    assert relayed.status_code == 202, relayed.text
    marks = b.chain_marks()
    for again in (body, {k: v for k, v in body.items() if k != "nonce"}):  # a client that timed out, at B
        retried = b.client.post(url, headers=evaluator, json=again)
        assert retried.status_code == 202, retried.text
        assert (retried.json()["txHash"], retried.json()["statusUrl"]) == (
            relayed.json()["txHash"],
            relayed.json()["statusUrl"],
        )
        assert (retried.json()["relayer"], retried.json()["replayed"]) == (a.relayer, True)
    assert b.chain_marks() == marks
    # Another panel member cannot pass eval1's signature off as its own, nor has it answered with eval1's relay.
    eval2 = b.session("eval2")
    hostile = b.client.post(url, headers=eval2, json=body)
    assert hostile.status_code in (403, 409), hostile.text
    assert relayed.json()["txHash"] not in hostile.text
    assert b.chain_marks() == marks
    assert _settled(b, evaluator, relayed.json()["statusUrl"])["status"] == "mined"


def test_on_postgresql_a_retry_is_answered_with_the_first_relay_by_any_gateway_even_one_started_after(
    world: World, tmp_path: Path, postgres_server: str, procurement: str
) -> None:
    database = new_database(postgres_server)
    url = f"/procurements/{procurement}/actions/attest"
    with _gateways(world, tmp_path, "gateway A relayer", "gateway B relayer", database_url=database) as (a, b):
        assert a.state.engine.dialect.name == "postgresql"
        _evidence(a, procurement, (0,))
        evaluator = a.session("eval1")
        body = _signed(a, "eval1", evaluator, procurement, "attest", ATTEST)
        _, params = new_escrow(world)  # another procurement eval1 attests on
        elsewhere = f"/procurements/0x{bytes(params[0]).hex()}/actions/attest"
        relayed = a.client.post(url, headers=evaluator, json=body)
        assert relayed.status_code == 202, relayed.text
        marks = b.chain_marks()
        retried = b.client.post(url, headers=evaluator, json=body)
        assert retried.status_code == 202, retried.text
        assert (retried.json()["txHash"], retried.json()["replayed"]) == (relayed.json()["txHash"], True)
        # The same signature on another procurement's escrow is not this action: refused, naming the relay.
        moved = b.client.post(elsewhere, headers=evaluator, json=body)
        assert moved.status_code == 409, moved.text
        assert moved.json()["usedBy"] == relayed.json()["txHash"]
        assert b.chain_marks() == marks
    # Both gone (a restart, or a gateway started since): a new one answers from the row.
    with _gateways(world, tmp_path, "gateway C relayer", database_url=database) as (c,):
        marks = c.chain_marks()
        again = c.client.post(url, headers=c.session("eval1"), json=body)
        assert again.status_code == 202, again.text
        assert (again.json()["txHash"], again.json()["statusUrl"]) == (
            relayed.json()["txHash"],
            relayed.json()["statusUrl"],
        )
        assert _settled(c, c.session("eval1"), relayed.json()["statusUrl"])["status"] == "mined"
        assert c.chain_marks() == marks


def test_an_idempotency_key_retried_at_the_other_gateway_gets_the_first_answer(
    gateways: tuple[Api, Api], procurement: str
) -> None:
    a, b = gateways
    _evidence(a, procurement, (0,))
    evaluator = a.session("eval1")
    body = _signed(a, "eval1", evaluator, procurement, "attest", ATTEST)
    url = f"/procurements/{procurement}/actions/attest"
    headers = evaluator | {"Idempotency-Key": "attest-once"}
    first = a.client.post(url, headers=headers, json=body)
    assert first.status_code == 202, first.text
    marks = b.chain_marks()
    again = b.client.post(url, headers=headers, json=body)
    assert again.status_code == 202, again.text
    assert again.json()["txHash"] == first.json()["txHash"]
    assert again.json()["replayed"] is True
    assert b.chain_marks() == marks
    other = b.client.post(url, headers=headers, json=body | {"pass": False})
    assert other.status_code == 422, other.text
    by_key = b.client.get(
        f"/procurements/{procurement}/actions/relays", headers=evaluator, params={"idempotencyKey": "attest-once"}
    )
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["txHash"] == first.json()["txHash"]
    waited = b.client.post(url, headers=headers, json=body, params={"wait": "true"})  # waits on A's row
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "mined"


def test_a_status_url_is_scoped_as_at_the_gateway_that_relayed(
    world: World, gateways: tuple[Api, Api], procurement: str
) -> None:
    a, b = gateways
    _evidence(a, procurement, (0,))
    relayed = a.act("eval1", a.session("eval1"), procurement, "attest", ATTEST)
    assert relayed.status_code == 202, relayed.text
    tx = relayed.json()["txHash"]
    outsider = b.client.get(f"/procurements/{procurement}/actions/relays/{tx}", headers=b.sign_in("eval4"))
    assert outsider.status_code == 404, outsider.text  # not on the panel: the procurement is not visible
    _, params = new_escrow(world)
    elsewhere = "0x" + bytes(params[0]).hex()  # a procurement eval1 sees, but not the one acted on
    wrong = b.client.get(f"/procurements/{elsewhere}/actions/relays/{tx}", headers=a.session("eval1"))
    assert wrong.status_code == 404, wrong.text
    auditor = b.sign_in("auditor")
    assert b.client.get(f"/procurements/{procurement}/actions/relays/{tx}", headers=auditor).status_code == 200


def test_a_dead_gateways_pending_relays_are_settled_by_another(gateways: tuple[Api, Api], procurement: str) -> None:
    a, b = gateways
    _evidence(a, procurement, (0,))
    evaluator = a.session("eval1")
    relayed = a.act("eval1", evaluator, procurement, "attest", ATTEST)
    assert relayed.status_code == 202, relayed.text
    tx = relayed.json()["txHash"]
    mined = _settled(a, evaluator, relayed.json()["statusUrl"])
    assert mined["status"] == "mined"
    a.state.relay.stop()  # A dies: nothing of it watches any more
    # ... leaving its row pending, as a SIGKILL between the send and the receipt would.
    with b.state.sessions() as db:
        db.execute(
            update(RelayRecord)
            .where(RelayRecord.tx_hash == tx)
            .values(status="pending", block_number=None, gas_used=None, submitted_at=time.time() - ORPHANS_AFTER_S - 1)
        )
        db.commit()
    watcher = b.state.relay.watcher
    assert watcher is not None
    watcher.poll(rows=True)
    status = b.client.get(relayed.json()["statusUrl"], headers=evaluator).json()
    settled = (status["status"], status["blockNumber"], status["gasUsed"])
    assert settled == ("mined", mined["blockNumber"], mined["gasUsed"])


def test_one_live_gateway_per_relayer(world: World, tmp_path: Path, gateways: tuple[Api, Api]) -> None:
    a, _ = gateways
    relayer = a.state.ledger.relayer
    assert relayer is not None
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="held by a live gateway"):  # A beats every second
        _app(world, tmp_path, relayer)
    assert time.monotonic() - started < 4.0  # seen alive before its lease could expire

    # A gateway that stops beating (as a killed one) loses its relayer after the lease's time, and sends no more.
    lone = _relayer(world, "a lone relayer")
    silent = _app(world, tmp_path, lone)  # never served: no heartbeat thread
    started = time.monotonic()
    successor = _app(world, tmp_path, lone)
    assert time.monotonic() - started >= 4.0
    lease = successor.state.gateway.relay.lease
    assert lease.held_by() == lease.holder
    with pytest.raises(ServiceUnavailable, match="took over"):
        silent.state.gateway.relay.lease.ensure()
    successor.state.gateway.relay.stop()  # a clean stop gives the relayer up: a restart takes it at once
    started = time.monotonic()
    again = _app(world, tmp_path, lone)
    assert time.monotonic() - started < 1.0
    again.state.gateway.relay.stop()


def test_a_key_reserved_by_a_dead_gateway_is_taken_over_and_nothing_is_sent_twice(
    gateways: tuple[Api, Api], procurement: str
) -> None:
    a, b = gateways
    _evidence(a, procurement, (0,))
    evaluator = a.session("eval1")
    body = _signed(a, "eval1", evaluator, procurement, "attest", ATTEST)
    url = f"/procurements/{procurement}/actions/attest"
    headers = evaluator | {"Idempotency-Key": "sent-then-died"}
    first = a.client.post(url, headers=headers, json=body)
    assert first.status_code == 202, first.text

    def reserved_by(holder: str, seconds_ago: int) -> None:
        """As if ``holder`` had reserved the key, sent the transaction and died before storing the answer."""
        with b.state.sessions() as db:
            db.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.key == "sent-then-died")
                .values(response=None, status_code=None, gateway=holder, created_at=int(time.time()) - seconds_ago)
            )
            db.commit()

    reserved_by(a.state.relay.holder, 60)  # A is alive (it beats): its reservation stands
    assert b.client.post(url, headers=headers, json=body).status_code == 409
    reserved_by("a dead gateway", 2)  # dead, but only just: it might still answer
    assert b.client.post(url, headers=headers, json=body).status_code == 409
    reserved_by("a dead gateway", 60)
    marks = b.chain_marks()
    retried = b.client.post(url, headers=headers, json=body)
    assert retried.status_code == 202, retried.text  # taken over, and answered with the relay that carried it
    assert (retried.json()["txHash"], retried.json()["replayed"]) == (first.json()["txHash"], True)
    assert b.chain_marks() == marks
    with b.state.sessions() as db:  # the key holds that answer now
        stored = b.state.idempotency.lookup(db, a.world.eval1.address, "sent-then-died")
    assert stored is not None
    assert stored["txHash"] == first.json()["txHash"]


def test_a_relay_stranded_behind_a_dead_gateways_nonce_gap_is_sent_again_by_another(
    gateways: tuple[Api, Api], procurement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = gateways
    _evidence(a, procurement, (0, 1))
    evaluator = a.session("eval1")
    relayer = b.state.ledger.relayer
    assert relayer is not None
    # B is SIGKILLed while one of its threads holds its relayer's next nonce, unsent, and another thread has sent
    # the one after it: the node queues that transaction behind the gap for good (nobody else has B's key).
    relayer._nonces.take(lambda: relayer.rpc.transaction_count(relayer.address, "pending"))
    monkeypatch.setattr(
        relayer, "_send_raw", lambda raw, expected: "0x" + expected.hex()
    )  # held by the node, never mined
    url = f"/procurements/{procurement}/actions/attest"
    stranded_body = _signed(b, "eval1", evaluator, procurement, "attest", ATTEST)
    stranded = b.client.post(url, headers=evaluator, json=stranded_body)
    assert stranded.status_code == 202, stranded.text  # accepted: it must run
    pipeline = b.state.relay
    assert pipeline.watcher is not None
    assert pipeline.lease is not None
    pipeline.watcher.stop()
    pipeline.lease.stop(release=False)  # killed: its lease row stays, and stops beating
    with a.state.sessions() as db:
        db.execute(update(RelayerLease).values(beat_at=time.time() - 60).where(RelayerLease.relayer == b.relayer))
        db.execute(
            update(RelayRecord)
            .where(RelayRecord.tx_hash == stranded.json()["txHash"].lower())
            .values(submitted_at=time.time() - STRANDED_AFTER_S - 1)
        )
        db.commit()

    watcher = a.state.relay.watcher
    assert watcher is not None
    watcher.poll(rows=True)
    old = a.client.get(stranded.json()["statusUrl"], headers=evaluator).json()
    assert old["status"] == "reverted", old  # settled as stranded, naming the transaction that carries it now
    assert "stranded" in old["error"]["detail"]
    again = old["error"]["detail"].rsplit("it is transaction ", 1)[1].split(" ", 1)[0]
    resent = _settled(a, evaluator, f"/procurements/{procurement}/actions/relays/{again}")
    assert (resent["status"], resent["relayer"], resent["nonce"]) == ("mined", a.relayer, stranded.json()["nonce"])
    marks = a.chain_marks()
    watcher.poll(rows=True)  # once: nothing is sent a third time
    replayed = a.client.post(url, headers=evaluator, json=stranded_body)  # answered with the relay carrying it now
    assert replayed.status_code == 202, replayed.text
    assert (replayed.json()["txHash"], replayed.json()["status"], replayed.json()["replayed"]) == (again, "mined", True)
    assert a.chain_marks() == marks  # the action ran once
    # The signer is not stuck: its next action takes the next nonce and runs.
    following = a.act("eval1", evaluator, procurement, "attest", ATTEST | {"milestoneId": 1})
    assert following.status_code == 202, following.text
    assert int(following.json()["nonce"]) == int(stranded.json()["nonce"]) + 1
    assert _settled(a, evaluator, following.json()["statusUrl"])["status"] == "mined"
