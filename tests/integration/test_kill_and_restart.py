"""SIGKILL of `procure up` or `procure node` leaves no process and a free port, and the next start resumes the
same chain; a chain node of this var/ left running (as older versions left one) is named, with what to do."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain import project_root
from chain.node import anvil_command, free_port, wait_for_rpc
from tests.processes import descendants, gone, listeners, run_procure

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="children die with their parent on Linux"),
]


class Procure:
    """A `procure` command running in the background, its output read line by line."""

    def __init__(self, var: Path, *args: str) -> None:
        self.var = str(var)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PROCURE_VAR": str(var)},
            cwd=project_root(),
        )
        self.lines: list[str] = []
        self.children: set[int] = set()

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip())
            if text in line:
                return
        self.process.kill()
        raise AssertionError(f"no {text!r} from procure:\n" + "\n".join(self.lines))

    def kill_and_check_nothing_is_left(self, ports: tuple[int, ...]) -> None:
        """SIGKILL the command alone (not its process group), then every process it started must end."""
        self.children = descendants(self.process.pid)
        assert self.children, "procure started no process"
        self.process.kill()
        self.process.wait(10)
        left = [pid for pid in self.children if not gone(pid, 30)]
        assert not left, f"left running after SIGKILL: {[_command(pid) for pid in left]}"
        for port in ports:
            holders = [pid for pid in listeners(port) if pid in self.children or self.var in _command(pid)]
            assert not holders, f"port {port} still held by {[_command(pid) for pid in holders]}"

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        return "\n".join([*self.lines, out])


@pytest.fixture
def running() -> Iterator[list[Procure]]:
    """Whatever a test started is stopped at its end, and so is anything those left behind."""
    started: list[Procure] = []
    yield started
    for procure in started:
        children = procure.children | descendants(procure.process.pid)
        procure.process.kill()
        procure.process.wait(10)
        for pid in children:
            if not gone(pid, 10):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return f"pid {pid}"


def test_up_killed_leaves_nothing_and_starts_again(tmp_path: Path, running: list[Procure]) -> None:
    var, port, api_port = tmp_path / "var", free_port(), free_port()
    args = ("up", "--port", str(port), "--api-port", str(api_port), "--no-demo")
    first = Procure(var, *args)
    running.append(first)
    first.wait_for("Ctrl-C stops the ledger")
    assert "system deployed" in "\n".join(first.lines)
    first.kill_and_check_nothing_is_left((port, api_port))

    second = Procure(var, *args)
    running.append(second)
    second.wait_for("Ctrl-C stops the ledger")
    assert "system found (deployed earlier)" in "\n".join(second.lines)  # the same chain, resumed
    out = second.stop()
    assert second.process.returncode == 0, out
    assert "stopped chain (anvil)" in out


def test_node_killed_leaves_nothing_and_starts_again(tmp_path: Path, running: list[Procure]) -> None:
    var, port = tmp_path / "var", free_port()
    first = Procure(var, "node", "--port", str(port))
    running.append(first)
    first.wait_for("Ctrl-C stops it")
    first.kill_and_check_nothing_is_left((port,))

    second = Procure(var, "node", "--port", str(port))
    running.append(second)
    second.wait_for("Ctrl-C stops it")
    out = second.stop()
    assert second.process.returncode == 0, out
    assert "anvil stopped" in out


def test_a_stale_node_of_this_ledger_is_named(tmp_path: Path) -> None:
    var, port = tmp_path / "var", free_port()
    # A node of this var/ whose parent is not a `procure`: what a SIGKILLed `procure up` used to leave.
    stale = subprocess.Popen(
        anvil_command(project_root(), var / "anvil", port=port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_rpc(f"http://127.0.0.1:{port}")
        env = {**os.environ, "PROCURE_VAR": str(var)}
        for args in (["up", "--port", str(port), "--api-port", str(free_port())], ["node", "--port", str(port)]):
            done = run_procure(env, *args)
            assert done.returncode == 1, done.stdout + done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1, done.stderr
            assert f"port {port} is held by a stale chain node of this ledger (anvil, pid {stale.pid}" in lines[0]
            assert f"`kill {stale.pid}`" in lines[0]
        # Another var/'s node on the port is not ours: only the port and who holds it.
        done = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "node", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "PROCURE_VAR": str(tmp_path / "other")},
            cwd=project_root(),
            timeout=120,
            check=False,
        )
        assert done.returncode == 1
        assert f"port {port} is in use by pid {stale.pid} (anvil): stop it or pick another with --port" in done.stderr
        assert "stale" not in done.stderr
    finally:
        stale.kill()
        stale.wait(10)
