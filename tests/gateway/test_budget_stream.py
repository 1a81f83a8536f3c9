"""The live stream of budget line changes, end to end on anvil: a running indexer loop, the gateway under uvicorn,
and a client reading server-sent events. Each change arrives once, within 1 s of its block."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chain import ChainSource, dev_account, fiscal_year_containing
from chain.devnet import DEV_INDEX, dev_line
from chain.node import free_port
from gateway.api.routes.budget import MAX_STREAMS_PER_ACCOUNT
from indexer.schema import make_engine
from indexer.sync import Indexer, SyncConfig
from scripts.bench_gateway import _gateway_env, _start_gateway
from scripts.bench_indexer import Chain, running_anvil, send_and_wait
from scripts.gateway_cluster import sign_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chain, str]]:
    """anvil with the dev cast, an indexer following it (polling every 50 ms) and the gateway over its mirror."""
    root = tmp_path_factory.mktemp("stream")
    with running_anvil(root, persistent=False) as chain:
        url = f"sqlite:///{root / 'ledger.db'}"
        stop = threading.Event()
        engine = make_engine(url)
        indexer = Indexer(engine, ChainSource(chain.rpc), chain.system, chain.build, SyncConfig(poll_interval_s=0.05))
        indexer.open()
        indexer.catch_up()
        follower = threading.Thread(target=indexer.follow, args=(stop.is_set,), daemon=True)
        follower.start()
        port = free_port()
        accounts = {"relayer": dev_account(DEV_INDEX["relayer"], chain.rpc.chain_id)}
        env = _gateway_env(chain.node.url, root, accounts, port) | {"PROCURE_DB_URL": url, "PROCURE_VAR": str(root)}
        gateway = _start_gateway(env, port, root, start_s=300)
        try:
            yield chain, f"http://127.0.0.1:{port}"
        finally:
            gateway.terminate()  # uvicorn waits for open streams: bounded here, by `procure serve` to 5 s
            try:
                gateway.wait(10)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait(10)
            stop.set()
            follower.join(10)
            indexer.close()
            engine.dispose()


def _listen(
    base: str, headers: dict[str, str], into: queue.Queue[tuple[float, str, dict[str, Any]]], opened: threading.Event
) -> None:
    """Read the stream, putting (arrival time, id, data) of each line-change message into ``into``; ``opened`` is
    set at its first line (the stream then starts from the mirror's block at that moment)."""
    client = httpx.Client(base_url=base, timeout=httpx.Timeout(5.0, read=None))
    with client, client.stream("GET", "/budget/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            opened.set()
            if line == "":
                if fields.get("event") == "line-change":
                    into.put((time.monotonic(), fields["id"], json.loads(fields["data"])))
                if fields.get("event") == "end":
                    return
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


def test_each_line_change_arrives_once_within_a_second_of_its_block(served: tuple[Chain, str]) -> None:
    chain, base = served
    rpc = chain.rpc
    finance = sign_in(base, dev_account(DEV_INDEX["finance"], rpc.chain_id))
    messages: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
    opened = threading.Event()
    listener = threading.Thread(target=_listen, args=(base, finance, messages, opened), daemon=True)
    listener.start()
    assert opened.wait(30)
    line = dev_line(fiscal_year_containing(rpc.latest_timestamp()))
    distribute = chain.build.codec("BudgetLedger").function("distribute")
    treasury = dev_account(DEV_INDEX["treasury"], rpc.chain_id).address
    latencies: list[float] = []
    seen: list[str] = []
    for change in (1_000, -400, 2_500):
        data = "0x" + distribute.encode([line.as_tuple(), change]).hex()
        receipt = send_and_wait(rpc, {"from": treasury, "to": chain.system.budget, "data": data})
        mined = time.monotonic()
        arrived, event_id, body = messages.get(timeout=5)
        latencies.append(arrived - mined)
        seen.append(event_id)
        assert body["event"] == "Distributed"
        assert (body["ministry"], body["subItem"], body["fiscalYear"]) == ("MOD", "EQUIP-PURCHASE", line.fiscal_year)
        assert event_id == f"{int(receipt['blockNumber'], 16)}-{body['logIndex']}"
        assert body["obligated"] is None  # not reported by a distribution
        assert body["blockTime"].endswith("+09:00")  # anvil's logs carry their block's time: no header asked
    assert max(latencies) < 1.0, latencies
    assert len(set(seen)) == 3
    time.sleep(0.5)
    assert messages.empty()  # one message per change, none repeated


def test_an_account_holds_a_bounded_number_of_streams(served: tuple[Chain, str]) -> None:
    """Each stream polls the mirror: a fifth one of one account is a 429 until one of its four ends (a stream whose
    client went away frees its place)."""
    chain, base = served
    auditor = sign_in(base, dev_account(DEV_INDEX["auditor"], chain.rpc.chain_id))
    client = httpx.Client(base_url=base, timeout=httpx.Timeout(30.0, read=None))
    with client:
        opened = [client.stream("GET", "/budget/stream", headers=auditor) for _ in range(MAX_STREAMS_PER_ACCOUNT)]
        responses = [stream.__enter__() for stream in opened]
        assert [response.status_code for response in responses] == [200] * MAX_STREAMS_PER_ACCOUNT
        refused = client.get("/budget/stream", headers=auditor)
        assert refused.status_code == 429
        assert "too many open streams" in refused.json()["detail"]
        opened[0].__exit__(None, None, None)  # the client goes away
        deadline = time.monotonic() + 10
        while True:
            with client.stream("GET", "/budget/stream", headers=auditor) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the closed stream's place was never freed"
            time.sleep(0.2)
        for stream in opened[1:]:
            stream.__exit__(None, None, None)
