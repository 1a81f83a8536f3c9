"""The supervisor restarts a crashed part, logs it, and stops every process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.supervisor import Part, Supervisor
from tests.processes import gone


def test_crashed_part_is_restarted_and_everything_stops(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    crasher = Part(
        name="crasher",
        # Appends a line per start, then dies at once.
        command=[sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x\\n'); raise SystemExit(3)"],
        log_path=tmp_path / "crasher.log",
    )
    sleeper = Part(
        name="sleeper",
        command=[sys.executable, "-c", "import time; time.sleep(600)"],
        log_path=tmp_path / "sleeper.log",
    )
    lines: list[str] = []
    supervisor = Supervisor([crasher, sleeper], lines.append, max_backoff=0.2)
    supervisor.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not marker.exists() or marker.read_text().count("x") < 3):
        supervisor.poll()
        time.sleep(0.05)
    assert marker.read_text().count("x") >= 3
    assert any("crasher exited with status 3; restarting" in line for line in lines)
    sleeper_pid = sleeper.process.pid if sleeper.process else -1
    supervisor.stop()
    assert any("stopped sleeper" in line for line in lines)
    with pytest.raises(ProcessLookupError):
        os.killpg(sleeper_pid, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_parts_die_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    # A supervisor in its own process starts a part that would sleep ten minutes, prints the part's pid, waits.
    program = f"""
import sys, time
from pathlib import Path
from scripts.supervisor import Part, Supervisor
from tests.processes import gone
part = Part("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], Path({str(tmp_path / "s.log")!r}))
supervisor = Supervisor([part], lambda line: None)
supervisor.start()
print(part.process.pid, flush=True)
time.sleep(600)
"""
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child, 0.2)
        parent.kill()
        parent.wait(10)
        assert gone(child, 10), "the part outlived its SIGKILLed supervisor"
    finally:
        parent.kill()
        if child > 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
