"""A small process supervisor for `procure up`: start parts, restart a part that crashes, stop all on a signal.

Parts are started by ``chain.node.spawn``: each dies with the supervisor, even when it is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chain.node import spawn

__all__ = ["Part", "Supervisor"]


@dataclass
class Part:
    """One supervised process: its command, environment and log file."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[], str | None] | None = None  # run before every start; what it returns is logged
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0


class Supervisor:
    """Runs parts as process groups; a part that exits is restarted with back-off, and the restart logged.

    ``log`` receives one line per event (start, exit, restart, stop).
    """

    def __init__(self, parts: list[Part], log: Callable[[str], None], *, max_backoff: float = 10.0) -> None:
        self.parts = parts
        self.log = log
        self.max_backoff = max_backoff
        self._stopping = False

    def start(self) -> None:
        """Start every part not started yet."""
        for part in self.parts:
            if part.process is None:
                self.spawn(part)

    def spawn(self, part: Part) -> None:
        """Start one part now (it must be in ``parts``); it dies with this process, even on SIGKILL."""
        if part.prepare is not None:
            notice = part.prepare()
            if notice:
                self.log(f"{_now()} {part.name}: {notice}")
        part.process = spawn(part.command, part.log_path, env=part.env)
        part.started_at = time.monotonic()
        self.log(f"{_now()} started {part.name} (pid {part.process.pid}, log {part.log_path})")

    def poll(self) -> None:
        """Restart any part that has exited (unless stopping)."""
        for part in self.parts:
            if part.process is None or self._stopping:
                continue
            code = part.process.poll()
            if code is None:
                continue
            ran = time.monotonic() - part.started_at
            # Back off when a part keeps crashing right after start; reset once it ran a while.
            part.restarts = part.restarts + 1 if ran < 30 else 1
            delay = min(self.max_backoff, 0.5 * 2 ** (part.restarts - 1))
            self.log(f"{_now()} {part.name} exited with status {code}; restarting in {delay:.1f} s")
            time.sleep(delay)
            self.spawn(part)

    @contextlib.contextmanager
    def signals_stop(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM only ask the supervisor to stop; on leaving, every part is stopped.

        Enter it before starting anything, so that a signal at any moment still stops every part.
        """

        def handler(signum: int, frame: object) -> None:
            self._stopping = True

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            self.stop()
            for sig, old in previous.items():
                signal.signal(sig, old)

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self._stopping

    def run_until_signal(self, interval: float = 0.5) -> None:
        """Poll until SIGINT or SIGTERM, then stop every part."""
        with self.signals_stop():
            while not self._stopping:
                self.poll()
                time.sleep(interval)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every part (SIGTERM to its group, then SIGKILL), last started first."""
        self._stopping = True
        for part in reversed(self.parts):
            process = part.process
            if process is None:
                continue
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(process.pid, signal.SIGKILL)
                    process.wait(timeout)
            _signal_group(process.pid, signal.SIGKILL)
            self.log(f"{_now()} stopped {part.name}")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _now() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")
