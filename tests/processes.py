"""Process helpers for tests that kill things: who descends from a process, and waiting until a process is gone."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["descendants", "gone"]


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
