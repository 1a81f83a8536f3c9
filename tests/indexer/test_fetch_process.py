"""The fetch process (indexer/_fetcher.py): a catch-up over HTTP whose prefetched ranges it fetches and decodes
mirrors exactly what one fetching and decoding in process does, look-alike logs included; its death is an error
that leaves whole ranges; a SIGKILLed indexer leaves no fetch process behind."""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import Engine

from chain import ChainSource, DecodeError, JsonRpc, ProviderError
from chain.logs import CONTRACT_KINDS, DecodedLog
from indexer import _fetcher
from indexer.errors import IndexerError
from indexer.pipeline import FetchProcess
from indexer.schema import make_engine
from indexer.sync import Indexer, SyncConfig, map_decoded
from scripts.bench_indexer import Chain, generate_events, running_anvil, send_and_wait
from tests.indexer.golden import dump

pytestmark = pytest.mark.integration

# Small ranges and pieces: many prefetched ranges, several cut into pieces, on a chain of about 1,300 events.
CONFIG = SyncConfig(initial_span=2, max_span=64, target_logs=40)


def _emitter(topics: int) -> str:
    """Creation code of a contract that emits, for any call, one log with ``topics`` topics (the calldata's first
    words) and the rest of the calldata as its data: a look-alike of any event."""
    runtime = b""
    for index in reversed(range(topics)):  # the topics, the first one on top
        runtime += bytes([0x60, 32 * index, 0x35])  # PUSH1 32i CALLDATALOAD
    skip = 32 * topics
    runtime += bytes([0x60, skip, 0x36, 0x03])  # size = CALLDATASIZE - skip
    runtime += bytes([0x80, 0x60, skip, 0x5F, 0x37])  # CALLDATACOPY(0, skip, size)
    runtime += bytes([0x5F, 0xA0 + topics, 0x00])  # LOGn(0, size, topics...); STOP
    init = bytes([0x60, len(runtime), 0x60, 10, 0x5F, 0x39, 0x60, len(runtime), 0x5F, 0xF3])  # copy and return it
    return "0x" + (init + runtime).hex()


def _forge(chain: Chain) -> int:
    """From a contract nobody registered, emit a copy of one log of each of the first escrow's events (well-formed)
    and the same topics with data too short for the event (malformed); returns how many logs were emitted."""
    logs = chain.rpc.result(
        "eth_getLogs",
        [
            {
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [chain.build.codec("MilestoneEscrow").topic("EvidenceSubmitted")],
            }
        ],
    )
    escrow = logs[0]["address"]
    originals: dict[str, dict[str, Any]] = {}
    for log in chain.rpc.result("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": escrow}]):
        originals.setdefault(log["topics"][0], log)
    sender = chain.rpc.result("eth_accounts", [])[0]
    emitters: dict[int, str] = {}
    emitted = 0
    for log in originals.values():
        count = len(log["topics"])
        if count not in emitters:
            emitters[count] = send_and_wait(chain.rpc, {"from": sender, "data": _emitter(count)})["contractAddress"]
        words = "".join(topic[2:] for topic in log["topics"])
        for data in (log["data"][2:], "01"):  # the event as the escrow emitted it; then one byte of data
            if data == "01" and len(log["data"]) <= 4:
                continue  # no data to be short of
            send_and_wait(chain.rpc, {"from": sender, "to": emitters[count], "data": "0x" + words + data})
            emitted += 1
    return emitted


@pytest.fixture(scope="module")
def forged_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chain, int]]:
    """anvil with about 1,300 events, and look-alike escrow logs from an unregistered contract in the middle."""
    with running_anvil(tmp_path_factory.mktemp("fetch-process"), persistent=False) as chain:
        generate_events(chain, 600, milestones=3, per_round=4)
        forged = _forge(chain)
        generate_events(chain, 600, milestones=3, per_round=4)
        yield chain, forged


def _digests(engine: Engine) -> dict[str, str]:
    """The SHA-256 of each table's rows (``golden.dump``)."""
    return {
        name: hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
        for name, rows in dump(engine).items()
    }


def _ready(indexer: Indexer) -> Indexer:
    """``indexer`` with its fetch process started and ready (if its source is over HTTP): a catch-up's first ranges are
    then all its own, however slowly the process starts on a loaded machine."""
    fetcher = indexer._fetch_process() if indexer.source.concurrent else None
    deadline = time.monotonic() + 30
    while fetcher is not None and not fetcher.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    return indexer


def _catch_up(
    chain: Chain, url: str, *, apart: bool, until: int | None = None, progress: Any = None
) -> tuple[Indexer, int]:
    """Catch the mirror at ``url`` up, through the fetch process (``apart``) or fetching and decoding in process
    (a source that allows no second thread); returns the indexer (closed) and the ranges the fetch process served."""
    source = ChainSource(chain.rpc)
    if not apart:
        source.concurrent = False
    served = 0
    engine = make_engine(url)
    try:
        with Indexer(engine, source, chain.system, chain.build, CONFIG) as indexer:
            _ready(indexer).catch_up(progress, until)
            if indexer._fetcher is not None:
                served = next(indexer._fetcher._numbers)
    finally:
        engine.dispose()
    return indexer, served


def _fresh_digests(chain: Chain, path: Path, until: int | None = None) -> dict[str, str]:
    """The table digests of a fresh SQLite mirror at ``path`` caught up in process (up to ``until``)."""
    url = f"sqlite:///{path}"
    _catch_up(chain, url, apart=False, until=until)
    engine = make_engine(url)
    try:
        return _digests(engine)
    finally:
        engine.dispose()


def test_a_catch_up_through_the_fetch_process_mirrors_what_one_in_process_does(
    forged_chain: tuple[Chain, int], db_url: str, tmp_path: Path
) -> None:
    chain, forged = forged_chain
    assert forged >= 6
    apart, served = _catch_up(chain, db_url, apart=True)
    assert served >= 10  # most ranges were fetched and decoded by the fetch process
    assert apart.stats.ranges < len(apart.stats.history)  # some were cut into pieces
    in_process, none = _catch_up(chain, f"sqlite:///{tmp_path / 'in-process.db'}", apart=False)
    assert none == 0
    # The look-alike logs, well-formed or not, are ignored on both paths, and counted.
    assert apart.stats.ignored_logs == in_process.stats.ignored_logs == forged
    assert apart.stats.logs_applied == in_process.stats.logs_applied > 1000
    mirrors = [make_engine(db_url), make_engine(f"sqlite:///{tmp_path / 'in-process.db'}")]
    try:
        assert _digests(mirrors[0]) == _digests(mirrors[1])
    finally:
        for engine in mirrors:
            engine.dispose()


def test_the_fetch_process_killed_mid_catch_up_is_an_error_that_leaves_whole_ranges(
    forged_chain: tuple[Chain, int], tmp_path: Path
) -> None:
    chain, _ = forged_chain
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    source = ChainSource(chain.rpc)
    engine = make_engine(url)
    killed: list[int] = []
    try:
        with Indexer(engine, source, chain.system, chain.build, CONFIG) as indexer:

            def progress(block: int, target: int) -> None:
                fetcher = indexer._fetcher
                if not killed and fetcher is not None and len(indexer.stats.history) >= 3:
                    killed.append(fetcher.process.pid)
                    os.kill(fetcher.process.pid, signal.SIGKILL)

            with pytest.raises(IndexerError, match=r"the fetch process died \(exit code -9\)"):
                _ready(indexer).catch_up(progress)
            assert killed
            cursor = indexer.store.cursor()
            assert cursor is not None
            stopped = cursor.block_number
            assert stopped < chain.rpc.block_number()
            at_stop = _digests(engine)
            # The next catch-up starts a new fetch process and ends the mirror.
            indexer.catch_up()
            assert indexer._fetcher is not None
            assert indexer._fetcher.process.pid != killed[0]
        at_end = _digests(engine)
    finally:
        engine.dispose()
    # Stopped, it held what a catch-up up to that block holds (whole transactions: nothing of the next one);
    # resumed, what a catch-up of everything holds.
    for until, held in ((stopped, at_stop), (None, at_end)):
        assert _fresh_digests(chain, tmp_path / f"fresh-{until}.db", until) == held


def test_prefetches_discarded_midway_leave_the_fetch_process_serving_the_next_ones(
    forged_chain: tuple[Chain, int], tmp_path: Path
) -> None:
    """A prefetch dropped with ranges still asked of the fetch process (as a reorg, a moved chain or an error drops
    it): their answers are thrown away as they come, the same process serves the next requests, and the mirror is
    the one an in-process catch-up makes."""
    chain, _ = forged_chain
    url = f"sqlite:///{tmp_path / 'discarded.db'}"
    engine = make_engine(url)
    discarded: list[int] = []
    try:
        with Indexer(engine, ChainSource(chain.rpc), chain.system, chain.build, CONFIG) as indexer:
            fetcher = _ready(indexer)._fetcher
            assert fetcher is not None

            def progress(block: int, target: int) -> None:
                if indexer._ahead is not None and len(indexer.stats.history) % 3 == 1:
                    discarded.append(block)
                    indexer._discard_prefetch()

            indexer.catch_up(progress)
            assert indexer._fetcher is fetcher
            assert fetcher.dead is None
            asked = next(fetcher._numbers)
        at_end = _digests(engine)
    finally:
        engine.dispose()
    assert len(discarded) >= 3
    assert asked > len(indexer.stats.history) // 2  # the process kept serving after each discard
    assert _fresh_digests(chain, tmp_path / "fresh.db") == at_end


class _LimitingProxy:
    """A JSON-RPC proxy in front of the node that refuses ``eth_getLogs`` over more than ``blocks`` blocks (as hosted
    providers do), and every one after ``answers`` answers; ``refused`` lists the first block of each refusal."""

    def __init__(self, node_url: str, blocks: int, answers: int | None = None) -> None:
        self.blocks, self.answers, self.refused = blocks, answers, list[int]()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept alive, as JsonRpc expects

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                if isinstance(request, dict) and request.get("method") == "eth_getLogs":
                    lo, hi = (int(request["params"][0][key], 16) for key in ("fromBlock", "toBlock"))
                    if hi - lo + 1 > proxy.blocks or proxy.answers == 0:
                        proxy.refused.append(lo)
                        refusal = {"code": -32005, "message": "query returned more than 4 blocks, or too many queries"}
                        return self._reply(
                            json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": refusal}).encode()
                        )
                    if proxy.answers is not None:
                        proxy.answers -= 1
                forwarded = urllib.request.Request(node_url, body, {"Content-Type": "application/json"})  # noqa: S310
                with urllib.request.urlopen(forwarded, timeout=30) as answer:  # noqa: S310 - the test's own anvil
                    self._reply(answer.read())

            def _reply(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_provider_errors_in_the_fetch_process_shrink_the_span_or_stop_with_whole_ranges(
    forged_chain: tuple[Chain, int], tmp_path: Path
) -> None:
    """ProviderErrors of the fetch process's eth_getLogs come back as values: the indexer halves its span as it
    does in process, and raises the error where the span is one block already; the mirror keeps whole ranges."""
    chain, _ = forged_chain
    limited, refusing = _LimitingProxy(chain.node.url, blocks=4), _LimitingProxy(chain.node.url, blocks=4, answers=12)
    url = f"sqlite:///{tmp_path / 'limited.db'}"
    engine = make_engine(url)
    try:
        with Indexer(engine, ChainSource(JsonRpc(refusing.url)), chain.system, chain.build, CONFIG) as indexer:
            with pytest.raises(ProviderError, match="too many queries"):
                indexer.catch_up()
            assert indexer._fetcher is not None  # the ranges after the first were asked of the fetch process
        stopped = indexer.store.cursor()
        assert stopped is not None
        assert 0 <= stopped.block_number < chain.rpc.block_number()
        with Indexer(engine, ChainSource(JsonRpc(limited.url)), chain.system, chain.build, CONFIG) as indexer:
            stats = _ready(indexer).catch_up()
            served = next(indexer._fetcher._numbers) if indexer._fetcher is not None else 0
        first = stats.history[0][0]
        assert stats.shrinks > 0
        assert served > 0
        assert any(lo > first for lo in limited.refused)  # refused to the fetch process, and halved for it
        at_end = _digests(engine)
    finally:
        engine.dispose()
        limited.close()
        refusing.close()
    assert _fresh_digests(chain, tmp_path / "fresh.db") == at_end


_INDEX_AND_HANG = """
import sys, time
from pathlib import Path
from chain import ChainSource, compile_contracts, connect, require_manifest
from indexer.schema import make_engine
from indexer.sync import Indexer, SyncConfig
rpc = connect(sys.argv[1])
indexer = Indexer(make_engine(sys.argv[3]), ChainSource(rpc), require_manifest(rpc, Path(sys.argv[2])),
                  compile_contracts(), SyncConfig(initial_span=2, max_span=64, target_logs=40))
indexer.open()

def progress(block, target):
    if indexer._fetcher is not None and indexer.stats.history:
        print(indexer._fetcher.process.pid, flush=True)
        time.sleep(600)

indexer.catch_up(progress)
"""


def test_a_sigkilled_indexer_leaves_no_fetch_process(forged_chain: tuple[Chain, int], tmp_path: Path) -> None:
    chain, _ = forged_chain
    process = subprocess.Popen(
        [sys.executable, "-c", _INDEX_AND_HANG, chain.node.url, str(chain.var_dir), f"sqlite:///{tmp_path / 'm.db'}"],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        fetcher = int(process.stdout.readline())
        assert _running(fetcher)
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 10
        while _running(fetcher) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(fetcher), f"the fetch process {fetcher} outlived its indexer"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


# ---------------------------------------------------------------- without a chain


def _log(emitter: str, **changes: Any) -> DecodedLog:
    fields: dict[str, Any] = {
        "chain_id": 31337,
        "block_number": 7,
        "block_hash": "0x" + "b" * 64,
        "tx_hash": "0x" + "a" * 64,
        "tx_index": 0,
        "log_index": 1,
        "emitter": emitter,
        "kind": "escrow",
        "event": "EvidenceSubmitted",
        "args": {"milestoneId": 2**200, "uri": "x", "list": [1, {"a": True}]},
    }
    return DecodedLog(**(fields | changes))


def test_decoded_logs_cross_the_wire_unchanged() -> None:
    """What the fetch process sends is what it decoded: values, the shared empty ``raw_strings``, read-only raw
    strings, block times, markers of undecodable logs; a hash shared by several logs is one string on arrival."""
    emitter = "0x" + "E" * 40
    logs: list[_fetcher.Decoded] = [
        _log(emitter),
        _log(emitter, log_index=2, raw_strings=MappingProxyType({"uri": "0xff00"}), block_time=1_700_000_000),
        _fetcher.Undecodable(emitter, "cannot decode EvidenceSubmitted at 0xaa:0x3: data has 1 bytes"),
    ]
    back = _fetcher.from_wire(marshal.loads(marshal.dumps([_fetcher._to_wire(log) for log in logs])))  # noqa: S302
    assert back == logs
    assert [type(log) for log in back] == [DecodedLog, DecodedLog, _fetcher.Undecodable]
    first, second, _ = back
    assert isinstance(first, DecodedLog)
    assert isinstance(second, DecodedLog)
    assert first.raw_strings is DecodedLog._field_defaults["raw_strings"]
    assert isinstance(second.raw_strings, MappingProxyType)
    assert first.block_hash is second.block_hash


def test_an_undecodable_log_is_an_error_only_if_its_emitter_is_trusted() -> None:
    trusted_escrow, stranger = "0x" + "1" * 40, "0x" + "2" * 40
    bad = [_fetcher.Undecodable(stranger, "cannot decode EvidenceSubmitted: data has 1 bytes")]
    assert map_decoded(bad, {trusted_escrow: "escrow"}) == ([], 1)
    with pytest.raises(DecodeError, match="data has 1 bytes"):
        map_decoded(
            [_fetcher.Undecodable(trusted_escrow, "cannot decode EvidenceSubmitted: data has 1 bytes")],
            {trusted_escrow: "escrow"},
        )


def test_a_dead_fetch_process_is_named_not_waited_for() -> None:
    fetcher = FetchProcess(("http://127.0.0.1:9", 1.0, 31337, [], {}, [], {}), stall_s=60)  # a hello it cannot use
    try:
        with pytest.raises(IndexerError, match=r"the fetch process (died|is gone)"):
            fetcher.fetch(1, 2, 40, 160)
    finally:
        fetcher.stop()


class _Silent(BaseHTTPRequestHandler):
    """A node that takes each request and never answers it."""

    def do_POST(self) -> None:
        time.sleep(30)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("how", ["its node never answers", "it is stopped (SIGSTOP)"])
def test_a_stuck_fetch_process_is_killed_and_named_not_waited_for(how: str) -> None:
    """A fetch process that is alive but sends nothing (waiting on a node that never answers, with its own timeout
    of 60 s; or frozen) is killed after ``stall_s`` and the catch-up gets an IndexerError saying so."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    no_events: dict[str, list[Any]] = {kind: [] for kind in CONTRACT_KINDS}
    fetcher = FetchProcess((url, 60.0, 31337, [], {}, [], no_events), stall_s=1.0)
    try:
        deadline = time.monotonic() + 30
        while not fetcher.ready:
            assert time.monotonic() < deadline, "the fetch process never started"
            time.sleep(0.01)
        if how.startswith("it is stopped"):
            os.kill(fetcher.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(IndexerError, match=r"the fetch process sent nothing for 1\.\d s: stopped as stuck"):
            fetcher.fetch(1, 2, 40, 160)
        assert 1.0 <= time.monotonic() - started < 5
        assert fetcher.process.wait(5) == -signal.SIGKILL
        with pytest.raises(IndexerError, match="stopped as stuck"):  # and it stays named so
            fetcher.fetch(3, 4, 40, 160)
    finally:
        fetcher.stop()
        server.shutdown()
        server.server_close()
