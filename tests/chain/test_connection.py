"""The HTTP transport: replies as the node sent them (large ones too), batches in order, kept-alive connections
that the node closed are reopened, a node that is away is a ConnectionError; and the relay path through it
against a real anvil (simulation, refusal with the custom error, signing, receipts)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chain import (
    CallEncoder,
    ChainError,
    ConfigurationError,
    ContractRevert,
    JsonRpc,
    NodeProcess,
    TxSender,
    anvil_binary,
    compile_contracts,
    connect,
    dev_account,
    ensure_deployed,
    error_decoder,
    free_port,
    project_root,
    start_anvil,
)

BIG = 3_000_000  # bytes of one large reply: read in many pieces


class _Node(BaseHTTPRequestHandler):
    """Answers eth_blockNumber with 0x10, eth_big with a long string, anything else with an error; batches in
    reverse order. Remembers the Authorization header it was sent."""

    protocol_version = "HTTP/1.1"
    close_next = False
    chunked = False
    authorization: str | None = None

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).authorization = self.headers.get("Authorization")

        def answer(call: dict[str, Any]) -> dict[str, Any]:
            if call["method"] == "eth_blockNumber":
                return {"jsonrpc": "2.0", "id": call["id"], "result": "0x10"}
            if call["method"] == "eth_big":
                return {"jsonrpc": "2.0", "id": call["id"], "result": "ab" * (BIG // 2)}
            return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32601, "message": "no such method"}}

        reply = [answer(c) for c in reversed(payload)] if isinstance(payload, list) else answer(payload)
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if type(self).chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 7 if len(body) < 10_000 else 65_000
            for i in range(0, len(body), step):
                piece = body[i : i + step]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        if type(self).close_next:  # the node drops the kept-alive connection without saying so
            type(self).close_next = False
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_request_and_batch(stub: str) -> None:
    rpc = JsonRpc(stub)
    assert rpc.request("eth_blockNumber", [])["result"] == "0x10"
    assert rpc.request("eth_nothing", [])["error"]["message"] == "no such method"
    replies = rpc.batch([("eth_blockNumber", []), ("eth_nothing", []), ("eth_blockNumber", [])])
    assert [("result" in r, "error" in r) for r in replies] == [(True, False), (False, True), (True, False)]
    assert rpc.batch([]) == []


def test_chunked_replies(stub: str) -> None:
    rpc = JsonRpc(stub)
    _Node.chunked = True
    try:
        for _ in range(3):  # on the same kept-alive connection
            assert rpc.request("eth_blockNumber", [])["result"] == "0x10"
        assert len(rpc.batch([("eth_blockNumber", [])] * 20)) == 20
        assert rpc.result("eth_big", []) == "ab" * (BIG // 2)
        assert rpc.block_number() == 16  # the connection is still usable after a long chunked reply
    finally:
        _Node.chunked = False


def test_large_replies_with_a_length(stub: str) -> None:
    rpc = JsonRpc(stub)
    for _ in range(2):
        assert rpc.result("eth_big", []) == "ab" * (BIG // 2)
    assert rpc.block_number() == 16


def test_basic_authentication_from_the_url(stub: str) -> None:
    JsonRpc(stub.replace("http://", "http://ledger:s%40cret@")).block_number()
    assert _Node.authorization == "Basic " + base64.b64encode(b"ledger:s@cret").decode()
    JsonRpc(stub).block_number()
    assert _Node.authorization is None


def test_a_connection_the_node_closed_is_reopened(stub: str) -> None:
    rpc = JsonRpc(stub)
    _Node.close_next = True
    assert rpc.request("eth_blockNumber", [])["result"] == "0x10"
    time.sleep(0.05)
    assert rpc.request("eth_blockNumber", [])["result"] == "0x10"  # on a new connection, transparently


def test_a_node_that_is_away_is_a_connection_error() -> None:
    rpc = JsonRpc(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ConnectionError):
        rpc.request("eth_blockNumber", [])
    with pytest.raises(ConfigurationError):
        JsonRpc("ws://127.0.0.1:8546")


def test_an_error_reply_is_a_provider_error_naming_the_method(stub: str) -> None:
    with pytest.raises(ChainError, match="eth_nothing failed"):
        JsonRpc(stub).result("eth_nothing", [])


def test_connect_checks_the_node_answers(stub: str) -> None:
    with pytest.raises(ConfigurationError, match="must start with http"):
        connect("ws://127.0.0.1:8546")
    with pytest.raises(ChainError, match="no Ethereum node answers"):
        connect(f"http://127.0.0.1:{free_port()}", timeout=2)


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    try:
        anvil_binary(project_root())
    except ConfigurationError:
        pytest.skip("no anvil binary (npm ci)")
    node = start_anvil(project_root(), Path(tmp_path_factory.mktemp("anvil")), port=free_port())
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.integration
def test_relay_path_against_anvil(anvil: NodeProcess, tmp_path: Path) -> None:
    anvil_var = tmp_path / "var"
    rpc = connect(anvil.url)
    decoder = error_decoder()
    admin = TxSender(rpc, dev_account(0, 31337), decoder)
    assert rpc.latest_timestamp() == int(rpc.result("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    system = ensure_deployed(admin, anvil_var).system
    abi = list(compile_contracts()["YenToken"].abi)
    outsider = dev_account(15, 31337)
    # A refused simulation is the custom error, and nothing is sent.
    minter = CallEncoder(abi, "mint")
    nonce = rpc.transaction_count(admin.address)
    with pytest.raises(ContractRevert) as info:
        admin.submit_data(system.token, minter.encode([outsider.address, 5, b"\x01" * 32]), min_gas=100_000)
    assert info.value.name == "YenTokenUnauthorizedMinter"
    assert rpc.transaction_count(admin.address) == nonce
    # A call that succeeds is sent with the worst-case limit, signed directly, and its receipt is found.
    approve = CallEncoder(abi, "approve")
    sent = [
        admin.submit_data(
            system.token, approve.encode([outsider.address, n]), min_gas=90_000, block_identifier="pending"
        )
        for n in range(1, 4)
    ]
    assert [s.gas for s in sent] == [90_000] * 3
    give_up = time.monotonic() + 20
    receipts = admin.outcomes(sent)
    while any(r is None for r in receipts) and time.monotonic() < give_up:
        time.sleep(0.05)
        receipts = admin.outcomes(sent)
    assert [r.status if r else None for r in receipts] == [1, 1, 1]
    assert admin.mined_count() == nonce + 3
    allowance = CallEncoder(abi, "allowance")
    assert allowance.decode(admin.call_data(system.token, allowance.encode([admin.address, outsider.address]))) == (3,)
