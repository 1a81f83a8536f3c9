"""Compile `contracts/` through the Solidity standard-JSON interface, cached by source hash.

A native ``solc`` of the pinned version is used through py-solc-x when one is installed; otherwise the
pinned solcjs from ``node_modules``. Both get the same input, so they produce the same bytecode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.abi import ContractCodec, ErrorDecoder
from chain.errors import CompilationError, ConfigurationError

__all__ = [
    "EVM_VERSION",
    "OPTIMIZER_RUNS",
    "SOLC_VERSION",
    "Artifact",
    "Build",
    "compile_contracts",
    "load_contracts",
    "project_root",
    "standard_input",
]

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200

_IMPORT = re.compile(r"""^\s*import\s+(?:[^'";]*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)
_OUTPUTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    source: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    metadata: str
    source_hash: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (hex strings with 0x)."""
        return {
            "name": self.name,
            "source": self.source,
            "abi": list(self.abi),
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "metadata": self.metadata,
            "sourceHash": self.source_hash,
        }


@dataclass(frozen=True)
class Build:
    """The artifacts of one compilation, keyed by contract name."""

    input_hash: str
    compiler: str
    artifacts: dict[str, Artifact]
    _codecs: dict[str, ContractCodec] = field(default_factory=dict, init=False, repr=False, compare=False)
    _errors: list[ErrorDecoder] = field(default_factory=list, init=False, repr=False, compare=False)

    def __getitem__(self, name: str) -> Artifact:
        try:
            return self.artifacts[name]
        except KeyError:
            raise CompilationError(f"no compiled contract named {name!r}") from None

    def codec(self, name: str) -> ContractCodec:
        """The ABI codec of contract ``name`` (one per build)."""
        codec = self._codecs.get(name)
        if codec is None:
            codec = self._codecs.setdefault(name, ContractCodec(name, self[name].abi))
        return codec

    def error_decoder(self) -> ErrorDecoder:
        """A decoder for every custom error of the compiled contracts (one per build)."""
        if not self._errors:
            self._errors.append(ErrorDecoder(self.error_abis()))
        return self._errors[0]

    def error_abis(self) -> list[dict[str, Any]]:
        """Every custom error declared in any compiled contract, without duplicates."""
        seen: dict[str, dict[str, Any]] = {}
        for artifact in self.artifacts.values():
            for entry in artifact.abi:
                if entry.get("type") == "error":
                    key = entry["name"] + json.dumps(entry["inputs"], sort_keys=True)
                    seen.setdefault(key, entry)
        return list(seen.values())


def project_root() -> Path:
    """The repository root: ``$PROCURE_ROOT`` if set, else the folder holding ``contracts/``."""
    env = os.environ.get("PROCURE_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def _unit_path(root: Path, unit: str) -> Path:
    if unit.startswith("contracts/"):
        return root / unit
    return root / "node_modules" / unit


def _resolve_import(importer: str, target: str) -> str:
    if target.startswith("./") or target.startswith("../"):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))
    return target


def standard_input(root: Path | None = None) -> dict[str, Any]:
    """The standard-JSON input for every ``.sol`` file under ``contracts/`` and what it imports."""
    root = root or project_root()
    contracts_dir = root / "contracts"
    if not contracts_dir.is_dir():
        raise ConfigurationError(f"no contracts/ folder under {root}")
    pending = sorted(p.relative_to(root).as_posix() for p in contracts_dir.rglob("*.sol"))
    sources: dict[str, dict[str, str]] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = _unit_path(root, unit)
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            hint = " (run `npm ci`)" if not unit.startswith("contracts/") else ""
            raise CompilationError(f"cannot find source {unit!r} at {path}{hint}") from None
        sources[unit] = {"content": content}
        pending.extend(_resolve_import(unit, target) for target in _IMPORT.findall(content))
    return {
        "language": "Solidity",
        "sources": dict(sorted(sources.items())),
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "viaIR": True,
            "outputSelection": {"*": {"*": _OUTPUTS}},
        },
    }


def _native_solc() -> Path | None:
    """A native solc of the pinned version: one installed by py-solc-x, else one on PATH."""
    import solcx  # here, not at the top: a command that only reads the compiled cache need not load it (0.15 s)

    with contextlib.suppress(Exception):  # py-solc-x raises several types when the version is absent
        return Path(solcx.install.get_executable(SOLC_VERSION))
    found = shutil.which("solc")
    if found is None:
        return None
    try:
        version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(found) if f"Version: {SOLC_VERSION}+" in version else None


def _run_native(solc: Path, source: dict[str, Any]) -> dict[str, Any]:
    import solcx
    from solcx.exceptions import SolcError

    try:
        result: dict[str, Any] = solcx.compile_standard(source, solc_binary=solc)
    except SolcError as exc:
        raise CompilationError(str(exc)) from exc
    return result


def _run_solcjs(root: Path, source: dict[str, Any]) -> dict[str, Any]:
    script = root / "node_modules" / "solc" / "solc.js"
    if not script.is_file():
        raise CompilationError(
            f"no native solc {SOLC_VERSION} and no solcjs at {script}: run `npm ci` (or `make setup`)"
        )
    node = shutil.which("node")
    if node is None:
        raise CompilationError("no native solc and no `node` on PATH to run solcjs")
    # solcjs reads stdin with readFileSync, which fails with EAGAIN on a pipe, and exits before a piped
    # stdout is flushed: give it regular files for both.
    with tempfile.TemporaryFile("w+") as stdin, tempfile.TemporaryFile("w+") as stdout:
        json.dump(source, stdin)
        stdin.seek(0)
        proc = subprocess.run(
            [node, str(script), "--standard-json"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
            check=False,
        )
        stdout.seek(0)
        text = stdout.read()
    # solcjs prints ">>> Cannot retry compilation with SMT..." before the JSON.
    start = text.find("{")
    if start < 0:
        raise CompilationError(f"solcjs produced no JSON (exit {proc.returncode}): {proc.stderr.strip()}")
    try:
        result: dict[str, Any] = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise CompilationError(f"solcjs output is not JSON: {exc}") from exc
    return result


def _check_errors(output: dict[str, Any]) -> None:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        message = "\n".join(e.get("formattedMessage", e.get("message", "?")) for e in errors)
        raise CompilationError(f"Solidity compilation failed:\n{message}")


def _artifacts(output: dict[str, Any], source: dict[str, Any], root: Path) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for unit, contracts in output.get("contracts", {}).items():
        if not unit.startswith("contracts/"):
            continue
        source_hash = hashlib.sha256(source["sources"][unit]["content"].encode()).hexdigest()
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                source=unit,
                abi=tuple(data["abi"]),
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + data["evm"]["deployedBytecode"]["object"],
                metadata=data["metadata"],
                source_hash=source_hash,
            )
    return artifacts


def _cache_file(root: Path, source: dict[str, Any]) -> tuple[str, Path]:
    """The input hash of ``source`` (with the compiler version) and where its compiled result is cached."""
    canonical = json.dumps({"solc": SOLC_VERSION, "input": source}, sort_keys=True).encode()
    input_hash = hashlib.sha256(canonical).hexdigest()
    return input_hash, root / "var" / "cache" / "solc" / f"{input_hash}.json"


def load_contracts(root: Path | None = None) -> Build:
    """The cached result for exactly the sources now in ``contracts/``, never compiling (a server must not spend
    minutes compiling at start-up): `procure compile`, which `make setup` runs, fills the cache."""
    root = root or project_root()
    _, cache_file = _cache_file(root, standard_input(root))
    if not cache_file.is_file():
        raise CompilationError("contracts/ not compiled since their last change: run `procure compile` first")
    return _build_from_json(json.loads(cache_file.read_text()))


def compile_contracts(root: Path | None = None, *, force: bool = False) -> Build:
    """Compile ``contracts/`` (or load the cached result for identical sources and settings)."""
    root = root or project_root()
    source = standard_input(root)
    input_hash, cache_file = _cache_file(root, source)
    cache_dir = cache_file.parent
    if cache_file.is_file() and not force:
        cached = json.loads(cache_file.read_text())
        return _build_from_json(cached)

    native = _native_solc()
    output = _run_native(native, source) if native else _run_solcjs(root, source)
    _check_errors(output)
    compiler = f"solc {SOLC_VERSION} ({'native' if native else 'solcjs'})"
    build = Build(input_hash=input_hash, compiler=compiler, artifacts=_artifacts(output, source, root))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(
            {
                "inputHash": input_hash,
                "compiler": compiler,
                "artifacts": {n: a.to_json() for n, a in build.artifacts.items()},
            }
        )
    )
    tmp.replace(cache_file)  # atomic: a concurrent reader sees the old file or the whole new one
    return build


def _build_from_json(data: dict[str, Any]) -> Build:
    artifacts = {
        name: Artifact(
            name=a["name"],
            source=a["source"],
            abi=tuple(a["abi"]),
            bytecode=a["bytecode"],
            deployed_bytecode=a["deployedBytecode"],
            metadata=a["metadata"],
            source_hash=a["sourceHash"],
        )
        for name, a in data["artifacts"].items()
    }
    return Build(input_hash=data["inputHash"], compiler=data["compiler"], artifacts=artifacts)
