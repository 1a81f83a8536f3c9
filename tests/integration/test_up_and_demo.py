"""`procure up` serves the API with the demo procurement and resumes without seeding twice; `make demo` passes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain import dev_account, fiscal_year_containing, project_root
from chain.connection import connect
from chain.devnet import due_from_today
from chain.node import free_port
from chain.spec import load_spec
from scripts import demo
from tests.processes import run_procure

pytestmark = pytest.mark.integration

OCID = "ocds-b5fd17-MOD-2026-0042"


def _up(var: Path, port: int, api_port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PROCURE_VAR": str(var)}
    command = [sys.executable, "-m", "scripts.cli", "up", "--port", str(port), "--api-port", str(api_port)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=project_root()
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "Ctrl-C stops the ledger" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("procure up did not come up:\n" + "\n".join(lines))


_MODULES_AFTER = """
import contextlib, io, json, sys
from scripts.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main.main(sys.argv[1:], prog_name="procure", standalone_mode=False)
packages = sorted({name.partition(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "output": out.getvalue(), "packages": packages}))
"""


def _modules_of_procure(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run `procure ARGS` in a fresh interpreter: its output and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=project_root(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def test_up_serves_the_demo_and_resumes(tmp_path: Path) -> None:
    port, api_port = free_port(), free_port()
    var = tmp_path / "var"
    proc, lines = _up(var, port, api_port)
    try:
        text = "\n".join(lines)
        assert "system deployed" in text
        assert "demo procurement 'ocds-b5fd17-MOD-2026-0042' created (funded with what is due this fiscal year)" in text
        assert f"API docs  http://127.0.0.1:{api_port}/docs" in text
        # Every account it uses, the relayer too, and where `procure client` goes (not this port by default).
        assert f"export PROCURE_GATEWAY_URL=http://127.0.0.1:{api_port}" in text
        for index, label in ((0, "admin"), (1, "officer"), (8, "auditor"), (11, "relayer")):
            assert f"{index:>2} {label:<15}" in text, text
        assert "(pays the gateway's gas; give it no role)" in text
        assert httpx.get(f"http://127.0.0.1:{api_port}/docs", timeout=10).status_code == 200
        assert f"dashboard http://127.0.0.1:{api_port}/ui " in text
        sign_in = httpx.get(f"http://127.0.0.1:{api_port}/ui/sign-in", timeout=10)
        assert sign_in.status_code == 200
        assert '<option value="12">12 finance</option>' in sign_in.text  # anvil is a dev chain: demo accounts
        env = {**os.environ, "PROCURE_GATEWAY_URL": f"http://127.0.0.1:{api_port}", "PROCURE_DEV_ACCOUNT": "8"}
        shown = run_procure(env, "client", "show", OCID)
        assert shown.returncode == 0, shown.stderr
        # What is due in the chain's fiscal year (the demo falls due from the day it was seeded on; later years'
        # parts are planned under the multi-year authority and funded in their own years).
        now = connect(f"http://127.0.0.1:{port}").latest_timestamp()
        year = fiscal_year_containing(now)
        example = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml")
        spec = due_from_today(example, now).spec
        this_year = sum(m.amount for m in spec.milestones if fiscal_year_containing(m.due_timestamp()) == year)
        assert f"funded {this_year:,}" in shown.stdout
        # A read-only chain command loads no key handling, signer, compiler, TLS or web3 (issue 13: a command's own
        # overhead; eth_abi and eth_utils, which load pydantic, it still does).
        chain_env = {**env, "PROCURE_RPC_URL": f"http://127.0.0.1:{port}", "PROCURE_VAR": str(var)}
        loaded = _modules_of_procure(chain_env, "org", "show", "MOD")
        assert loaded["output"].startswith("MOD: ministry, active"), loaded
        assert not {"eth_account", "coincurve", "solcx", "ssl", "web3"} & set(loaded["packages"]), loaded["packages"]
        # A signing command derives its dev key and signs in without eth-account (whose keystore code loads
        # py_ecc's BLS curves, about 0.5 s): chain/signing.py.
        loaded = _modules_of_procure(env, "client", "whoami")
        assert loaded["output"].startswith(dev_account(8, 31337).address), loaded
        assert not {"eth_account", "eth_keyfile", "py_ecc", "solcx", "web3"} & set(loaded["packages"]), loaded
    finally:
        out = _stop(proc)
    assert "stopped chain (anvil)" in out

    proc, lines = _up(var, port, api_port)
    try:
        text = "\n".join(lines)
        assert "system found (deployed earlier)" in text
        assert "demo cast found (registered earlier)" in text
        assert "found (created earlier)" in text
    finally:
        _stop(proc)


def test_demo_tells_the_whole_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "the supplier received 48,000,000 yen for milestone 0" in out
    # The transfer: the receiving line before, the request's and approval's block times, and request -> funds.
    before = re.search(r"EQUIP-MAINT shows ([\d,]+) yen available on the gateway before the transfer", out)
    assert before, out
    assert int(before[1].replace(",", "")) > 0  # the seeded budget file's line
    times = re.search(
        r"transfer of 1,500,000,000 yen from EQUIP-PURCHASE to EQUIP-MAINT: requested by MOD's finance officer at "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) JST \(block time\), approved by the finance authority at "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) JST \((\d+) seconds? later\)",
        out,
    )
    assert times, out
    requested, approved = (dt.datetime.fromisoformat(times[i]) for i in (1, 2))
    assert (approved - requested).total_seconds() == int(times[3])
    waited = re.search(r"request -> funds available: (\d+\.\d) seconds? until the gateway showed EQUIP-MAINT", out)
    assert waited, out
    assert 0 < float(waited[1]) < 60  # the demo gives up (a MISMATCH) after 60 s
    assert "audit verify: mirror verified: no differences" in out
    assert "MISMATCH" not in out
