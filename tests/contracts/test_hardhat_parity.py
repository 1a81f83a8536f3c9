"""Hardhat (hardhat.config.js) and the Python pipeline (chain/_compiler.py) compile to identical bytecode.

The deployed bytecode ends with the CBOR metadata hash, so byte-identity also proves that both used the same
compiler, settings and source unit names. On a mismatch the failure message lists what differs between the
two metadata documents.

Hardhat compiles without ``--force``: its own cache (cache/solidity-files-cache.json, keyed by each source's content
hash and the solc configuration) decides what is stale, so the artifacts it leaves are what it would compile now.
In ``make test`` the slither step has just compiled the same project through Hardhat, which saves this test a
minute and a half of solcjs on two cores; alone, or after any change to a source or to hardhat.config.js, Hardhat
compiles again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chain import Build, compile_contracts, project_root

pytestmark = pytest.mark.integration

EXPECTED = {"AccessRegistry", "YenToken", "ProcurementFactory", "MilestoneEscrow"}


def _hardhat_compile(root: Path) -> None:
    npx = shutil.which("npx")
    if npx is None or not (root / "node_modules" / "hardhat").is_dir():
        pytest.skip("needs node and node_modules (run `make setup`)")
    env = {**os.environ, "CI": "true", "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    proc = subprocess.run(
        [npx, "--no-install", "hardhat", "compile"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"hardhat compile failed:\n{proc.stdout}\n{proc.stderr}"


def _hardhat_metadata(artifact_path: Path, source: str, name: str) -> dict[str, Any]:
    """The metadata JSON of ``name`` from the build-info file Hardhat links to the artifact."""
    debug = json.loads(artifact_path.with_suffix(".dbg.json").read_text())
    build_info = json.loads((artifact_path.parent / debug["buildInfo"]).read_text())
    metadata: dict[str, Any] = json.loads(build_info["output"]["contracts"][source][name]["metadata"])
    return metadata


def _metadata_diff(python: dict[str, Any], hardhat: dict[str, Any]) -> list[str]:
    diffs = []
    if python["compiler"] != hardhat["compiler"]:
        diffs.append(f"compiler: python {python['compiler']} vs hardhat {hardhat['compiler']}")
    for key in sorted(set(python["settings"]) | set(hardhat["settings"])):
        ours, theirs = python["settings"].get(key), hardhat["settings"].get(key)
        if ours != theirs:
            diffs.append(f"settings.{key}: python {ours!r} vs hardhat {theirs!r}")
    ours_src, theirs_src = set(python["sources"]), set(hardhat["sources"])
    if ours_src != theirs_src:
        diffs.append(f"source names only in python: {sorted(ours_src - theirs_src)}")
        diffs.append(f"source names only in hardhat: {sorted(theirs_src - ours_src)}")
    for unit in sorted(ours_src & theirs_src):
        if python["sources"][unit].get("keccak256") != hardhat["sources"][unit].get("keccak256"):
            diffs.append(f"source {unit}: content differs")
    return diffs or ["metadata identical: the difference is in the code itself"]


def test_hardhat_and_python_compile_identical_bytecode() -> None:
    root = project_root()
    _hardhat_compile(root)
    build: Build = compile_contracts(root)
    with_code = {name: a for name, a in build.artifacts.items() if a.deployed_bytecode not in ("", "0x")}
    assert set(with_code) >= EXPECTED, f"missing contracts: {EXPECTED - set(with_code)}"

    mismatches = []
    for name, artifact in sorted(with_code.items()):
        path = root / "artifacts" / artifact.source / f"{name}.json"
        assert path.is_file(), f"hardhat wrote no artifact for {name} at {path}"
        hardhat = json.loads(path.read_text())
        assert hardhat["sourceName"] == artifact.source
        if hardhat["deployedBytecode"] != artifact.deployed_bytecode:
            diffs = _metadata_diff(json.loads(artifact.metadata), _hardhat_metadata(path, artifact.source, name))
            mismatches.append(f"{name}:\n  " + "\n  ".join(diffs))
    assert not mismatches, "deployed bytecode differs:\n" + "\n".join(mismatches)
