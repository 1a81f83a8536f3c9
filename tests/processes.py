"""Process helpers for tests that run and kill things: a `procure` command as its own process, who descends from a
process, waiting until a process is gone, and who listens on a port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from chain import project_root

__all__ = ["descendants", "gone", "listeners", "run_procure"]


def run_procure(env: dict[str, str], *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run one `procure` command to its end, as a person at a terminal would; its exit code and text output."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project_root(),
        timeout=timeout,
        check=False,
    )


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name in (...) may hold spaces
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children, ...), read from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _state_and_parent(int(entry.name))) is not None and found[0] != "Z":
            parents[int(entry.name)] = found[1]
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return below


def gone(pid: int, timeout: float = 0.0) -> bool:
    """True once ``pid`` runs no more, waiting up to ``timeout`` seconds. A zombie counts as gone: it runs no code
    and holds no port, only an entry until whoever adopted it reaps it."""
    deadline = time.monotonic() + timeout
    while True:
        found = _state_and_parent(pid)
        if found is None or found[0] == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def listeners(port: int) -> list[int]:
    """The processes listening on a local TCP port, read from /proc. Not a connect: on a machine running other
    test suites another process may take the freed port and answer, which says nothing of what procure left."""
    sockets: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    sockets.add(f"socket:[{fields[9]}]")
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if sockets.intersection(os.readlink(fd) for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
    return holders
