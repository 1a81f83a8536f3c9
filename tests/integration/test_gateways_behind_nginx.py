"""Two gateway processes on one PostgreSQL behind nginx, on anvil: 1,008 signed attestations spread across both,
one gateway SIGKILLed halfway and restarted. Every accepted action is mined exactly once, none is lost, every
status answers from the survivor, no relayer is left with a nonce gap; a forged X-Forwarded-For does not get
past nginx. (The same rules in one process, on SQLite: tests/gateway/test_several_gateways.py.)"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from chain import Signer, compile_contracts, typed_data_digest
from chain.connection import connect
from chain.node import NodeProcess
from gateway.models import RelayRecord
from indexer.schema import make_engine
from scripts.bench_gateway import _setup_chain
from scripts.fresh_postgres import new_database
from scripts.gateway_cluster import NGINX, Cluster, RelayRun, memory_anvil, relay_attestations
from tests.indexer.conftest import postgres_server

__all__ = ["postgres_server"]  # the fixture, re-used from the indexer's tests

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="children die with their parent on Linux"),
]

if not NGINX.exists():  # skipped without Debian's nginx, except on CI (CI=true), where that is a failure
    _MISSING = f"{NGINX} is missing: install Debian's nginx-light (apt-get install -y nginx-light)"
    if os.environ.get("CI") == "true":
        pytest.fail(_MISSING + " (on CI .ci/run installs it)", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)

PROCUREMENTS = 112  # x 3 milestones x a 3-of-3 panel = 1,008 attestations
SIGN_IN_BURST = 10


@dataclass
class Setup:
    node: NodeProcess
    cluster: Cluster
    db_url: str
    accounts: dict[str, Signer]
    procurements: list[tuple[bytes, tuple[str, ...]]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("gateways")
    node = memory_anvil(root)
    try:
        accounts, _, procurements = _setup_chain(node.url, root / "var", 0, PROCUREMENTS, 6, mirror=False)
        db_url = new_database(postgres_server)
        cluster = Cluster(root, node.url, db_url, root / "var", 2, PROCURE_SIGN_IN_BURST=str(SIGN_IN_BURST))
        try:
            cluster.start()
            yield Setup(node, cluster, db_url, accounts, procurements)
        finally:
            cluster.stop()
    finally:
        node.stop()


def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


def test_attestations_through_nginx_survive_a_gateway_killed_halfway(setup: Setup) -> None:
    cluster, accounts, procurements = setup.cluster, setup.accounts, setup.procurements
    survivor, victim = cluster.gateways
    rpc = connect(setup.node.url)
    total = 9 * len(procurements)
    killed_at: list[float] = []
    killed = threading.Event()
    runs: list[RelayRun] = []

    def on_answer(count: int) -> None:
        if count >= total // 2 and not killed.is_set():
            killed_at.append(time.time())
            victim.kill()
            killed.set()

    clients = threading.Thread(
        target=lambda: runs.append(relay_attestations(cluster.url, accounts, procurements, on_answer=on_answer))
    )
    clients.start()
    killed.wait(300)
    # Restarted from this thread: a child dies with the thread that started it (chain.node.spawn).
    victim.start()
    victim.wait_ready()  # its lease is taken back once the dead process's heartbeat stays still (4 s)
    clients.join(300)
    run = runs[0]
    assert killed_at, "the gateway was not killed"
    assert run.failures == []

    # The restarted gateway took its relayer back and sends with it, right after its last nonce.
    relayed = _invalidate_nonces_through(victim.url, run.headers["evaluator-4"], accounts["evaluator-4"])
    assert relayed["relayer"] == cluster.relayers[1].address

    # Every action is on chain exactly once: one Attested event per seat, none missing, none twice.
    topic = compile_contracts().codec("MilestoneEscrow").topic("Attested")
    logs = rpc.result("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}])
    seats = {(log["address"].lower(), int(log["topics"][1], 16), log["topics"][2][-40:].lower()) for log in logs}
    assert len(logs) == len(seats) == total
    # Every accepted relay (202) is one transaction, mined successfully.
    hashes = [tx for *_, tx in run.accepted]
    assert len(hashes) == len(set(hashes)) == total - len(run.done_before)
    receipts = rpc.batch([("eth_getTransactionReceipt", [tx]) for tx in hashes])
    assert all(int(reply["result"]["status"], 16) == 1 for reply in receipts)

    # No relayer is stalled by a nonce gap: everything each one sent is mined.
    for relayer in cluster.relayers:
        _until(
            lambda r=relayer: rpc.transaction_count(r.address, "pending") == rpc.transaction_count(r.address),
            30,
            f"relayer {relayer.address} has transactions stuck behind a gap",
        )

    # Every status answers from the survivor, the killed gateway's relays too (settled by whichever saw them).
    headers = run.headers  # sessions live in the database: valid at every gateway
    with httpx.Client(base_url=survivor.url, timeout=30.0) as client:
        for pid, _, label, tx in run.accepted:
            url = f"/procurements/0x{pid.hex()}/actions/relays/{tx}"

            def mined(url: str = url, label: str = label) -> bool:
                try:
                    answer = client.get(url, headers=headers[label])
                except httpx.RemoteProtocolError:
                    # uvicorn closed this kept-alive connection (idle past its 5 s) as the GET went out, as a
                    # loaded machine made one session's run see; any client asks a GET again. A gateway that
                    # died refuses the next connection and fails the test.
                    return False
                assert answer.status_code == 200, answer.text
                return bool(answer.json()["status"] == "mined")

            _until(mined, 30, f"status of {tx} from the survivor")

    # In the database: no two relays under one (relayer, nonce), no signature (signer, nonce) mined twice, and the
    # killed gateway had relayed before it died.
    engine = make_engine(setup.db_url)
    try:
        with engine.connect() as db:
            per_nonce = db.execute(
                select(RelayRecord.relayer, RelayRecord.relayer_nonce, func.count())
                .group_by(RelayRecord.relayer, RelayRecord.relayer_nonce)
                .having(func.count() > 1)
            ).all()
            assert per_nonce == []
            per_signature = db.execute(
                select(RelayRecord.signer, RelayRecord.signer_nonce, func.count())
                .where(RelayRecord.status == "mined")
                .group_by(RelayRecord.signer, RelayRecord.signer_nonce)
                .having(func.count() > 1)
            ).all()
            assert per_signature == []
            victim_relayer = cluster.relayers[1].address
            before = db.scalar(
                select(func.count())
                .select_from(RelayRecord)
                .where(RelayRecord.relayer == victim_relayer, RelayRecord.submitted_at < killed_at[0])
            )
            assert before, "the killed gateway relayed nothing before it was killed"
            assert db.scalar(select(func.count()).select_from(RelayRecord).where(RelayRecord.status != "mined")) == 0
    finally:
        engine.dispose()


def test_a_forged_x_forwarded_for_does_not_get_past_nginx(setup: Setup) -> None:
    # Sign-in nonces are limited per client address. Were nginx to pass the client's own X-Forwarded-For on, each
    # forged address would get a budget of its own; nginx replaces it with the peer it saw, so all of these are
    # one client (127.0.0.1) and run out after the burst (at each of the two gateways).
    statuses = []
    with httpx.Client(base_url=setup.cluster.url, timeout=30.0) as client:
        for n in range(4 * SIGN_IN_BURST):
            forged = {"X-Forwarded-For": f"203.0.113.{n + 1}", "X-Real-IP": f"198.51.100.{n + 1}"}
            statuses.append(client.post("/auth/nonce", headers=forged).status_code)
    assert 429 in statuses, statuses
    assert set(statuses) <= {200, 201, 429}, statuses


def _invalidate_nonces_through(base: str, headers: dict[str, str], account: Signer) -> dict[str, Any]:
    """A registry act (the signer uses up nonces) relayed by the gateway at ``base`` and waited for: its answer."""
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        acts = "/registry/actions/invalidate-nonces"
        current = client.post(f"{acts}/typed-data", json={"newNonce": 1}).json()["nonce"]
        fields = {"newNonce": int(current) + 3}
        typed = client.post(f"{acts}/typed-data", json=fields)
        assert typed.status_code == 200, typed.text
        signature = "0x" + account.sign_digest(typed_data_digest(typed.json()["typedData"])).hex()
        body = fields | {"deadline": typed.json()["deadline"], "signature": signature}
        answer = client.post(acts, json=body, params={"wait": "true"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "mined"
        data: dict[str, Any] = answer.json()
        return data
