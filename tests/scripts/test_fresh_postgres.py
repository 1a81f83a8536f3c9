"""``temporary_server_process``: a server of its own whose process id is the one serving its connections (what
``scripts/profile_indexer.py`` counts the server's CPU seconds from), stopped after the block."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # pgserver's dependency
import pytest
from sqlalchemy import create_engine, make_url, text

from scripts.fresh_postgres import temporary_server_process


def test_the_servers_pid_is_the_parent_of_its_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", os.environ.get("XDG_RUNTIME_DIR", str(tmp_path)))  # platformdirs warns
    with temporary_server_process("procure-test-pid-") as server:
        assert make_url(server.url).drivername == "postgresql+psycopg"
        assert server.pid is not None
        engine = create_engine(server.url)
        try:
            with engine.connect() as conn:
                backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                assert backend in {child.pid for child in psutil.Process(server.pid).children(recursive=True)}
        finally:
            engine.dispose()
    assert _exited(server.pid)


def _exited(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` ends within ``within_s`` (gone, or a zombie: the server is not our child, and
    whoever adopted it reaps it in its own time; `pg_ctl -w stop` returns once the server removed its pid file,
    a moment before it exits)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
