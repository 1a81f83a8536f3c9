"""Serving the demo's gateway and following its chain as `make up` does, for the browser tests and
scripts/bench_dashboard.py's live measure: uvicorn on a free port in a thread, and an indexer following the chain
(``Indexer.follow``, `procure index`'s loop) in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from indexer.sync import ChainSource, Indexer, SyncConfig
from tests.web.conftest import Demo

__all__ = ["following", "serving"]

FOLLOW_POLL_S = 0.05  # how often the tests' indexer looks for a new block (`procure index`: 0.25 s)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1, in a thread of this process: its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def following(demo: Demo, poll_s: float = FOLLOW_POLL_S) -> Iterator[None]:
    """An indexer mirroring the demo's chain into its gateway's database as blocks come, looking for a new block
    every ``poll_s`` seconds, until the block ends."""
    state = demo.app.state.gateway
    stop = threading.Event()
    failed: list[BaseException] = []

    def follow() -> None:
        try:
            config = SyncConfig(poll_interval_s=poll_s)
            source = ChainSource(demo.rpc)
            with Indexer(state.engine, source, state.ledger.system, state.ledger.build, config) as indexer:
                indexer.catch_up()
                indexer.follow(stop.is_set)
        except BaseException as exc:  # surfaced when the block ends
            failed.append(exc)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not failed, f"the indexer stopped: {failed[0]!r}"
