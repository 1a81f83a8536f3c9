"""Run Slither on contracts/ with the committed configuration and hold its findings to the triage there.

``make slither`` (part of ``make test``) runs ``python -m tests.contracts.slither_check``. Slither compiles
through the Hardhat project (offline: hardhat.config.js points at the pinned solcjs). Every finding must be
fixed or triaged in slither.config.json: a High or Medium one by its own entry under ``triage`` (keyed
``"<detector> <Contract>.<function>"``), a Low or Informational one by its detector's entry under
``triage_detectors``. An untriaged High or Medium finding fails the run; an untriaged Low or Informational one,
or a triage entry that no longer matches anything, is reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "slither.config.json"
SERIOUS = ("High", "Medium")


def finding_key(result: dict[str, Any]) -> str:
    """``"<detector> <parent>.<name>"`` of a finding's first element (e.g. its function in its contract)."""
    element = result["elements"][0] if result.get("elements") else {}
    parent = element.get("type_specific_fields", {}).get("parent", {}).get("name")
    name = element.get("name", "?")
    return f"{result['check']} {parent}.{name}" if parent else f"{result['check']} {name}"


def run_slither() -> list[dict[str, Any]]:
    """Slither's detector results, from its JSON output."""
    slither = Path(sys.executable).with_name("slither")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "slither.json"
        proc = subprocess.run(
            [str(slither), ".", "--config-file", str(CONFIG), "--json", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if not out.is_file():
            raise SystemExit(f"slither produced no report (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        report = json.loads(out.read_text())
    if not report.get("success"):
        raise SystemExit(f"slither failed: {report.get('error')}\n{proc.stderr[-4000:]}")
    results: list[dict[str, Any]] = report.get("results", {}).get("detectors", [])
    return results


def judge(results: list[dict[str, Any]], config: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(untriaged High/Medium findings, untriaged Low/Informational findings, stale triage entries)."""
    triage: dict[str, str] = config.get("triage", {})
    by_detector: dict[str, str] = config.get("triage_detectors", {})
    serious, minor, used = [], [], set()
    for result in results:
        key = finding_key(result)
        line = f"{result['impact']}: {key}: {result['description'].splitlines()[0]}"
        if key in triage:
            used.add(key)
        elif result["impact"] in SERIOUS:
            serious.append(line)
        elif result["check"] in by_detector:
            used.add(result["check"])
        else:
            minor.append(line)
    stale = sorted((set(triage) | set(by_detector)) - used)
    return serious, minor, stale


def main() -> int:
    """Command-line entry point: exit status 1 on an untriaged High or Medium finding."""
    config = json.loads(CONFIG.read_text())
    results = run_slither()
    serious, minor, stale = judge(results, config)
    print(f"slither: {len(results)} findings, {len(results) - len(serious) - len(minor)} triaged in {CONFIG.name}")
    for line in minor:
        print(f"  untriaged (reported, not failing): {line}")
    for entry in stale:
        print(f"  triage entry that matches nothing (remove it?): {entry}")
    for line in serious:
        print(f"  UNTRIAGED {line}", file=sys.stderr)
    return 1 if serious else 0


if __name__ == "__main__":
    sys.exit(main())
