"""The deployment manifest: where the system lives on a chain, written once per chain id."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain._compiler import Build, compile_contracts
from chain._tx import TxSender
from chain.abi import checksum
from chain.errors import ConfigurationError, LedgerError
from chain.finality import DEFAULT_FINALITY, Finality
from chain.genesis_events import GenesisLog
from chain.system import SystemAddresses, deploy_system
from chain.transport import Transport

__all__ = [
    "DeploymentError",
    "DeploymentResult",
    "ensure_deployed",
    "load_manifest",
    "manifest_path",
    "require_manifest",
    "var_dir_from_env",
]

_CONTRACTS = ("registry", "token", "factory", "implementation", "budget", "budget_office")


class DeploymentError(LedgerError):
    """A manifest is missing, unreadable, or points at addresses with no code."""


@dataclass(frozen=True)
class DeploymentResult:
    """What ``ensure_deployed`` found or did."""

    system: SystemAddresses
    created: bool
    manifest: Path


def manifest_path(var_dir: Path, chain_id: int) -> Path:
    """``var/deployments/<chain id>.json``."""
    return var_dir / "deployments" / f"{chain_id}.json"


def load_manifest(path: Path) -> SystemAddresses | None:
    """The system recorded in ``path``, or None if there is no manifest."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SystemAddresses(
            chain_id=int(data["chainId"]),
            registry=checksum(data["registry"]),
            token=checksum(data["token"]),
            factory=checksum(data["factory"]),
            implementation=checksum(data["implementation"]),
            deployed_block=int(data["deployedBlock"]),
            admin=checksum(data["admin"]),
            budget=checksum(data["budget"]),
            budget_office=checksum(data["budgetOffice"]),
            finality=Finality.parse(data.get("finality", DEFAULT_FINALITY.to_json())),
            genesis_logs=tuple(GenesisLog.from_json(log) for log in data.get("genesisEvents", ())),
        )
    except ConfigurationError as exc:
        raise DeploymentError(f"manifest {path}: {exc}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"manifest {path} is unreadable: {exc}") from None


def _missing_code(rpc: Transport, system: SystemAddresses) -> list[str]:
    return [f"{name} {getattr(system, name)}" for name in _CONTRACTS if not rpc.code(getattr(system, name))]


def require_manifest(rpc: Transport, var_dir: Path) -> SystemAddresses:
    """The system deployed on ``rpc``'s chain, checked to have code; a clear error otherwise."""
    chain_id = rpc.chain_id
    path = manifest_path(var_dir, chain_id)
    system = load_manifest(path)
    if system is None:
        raise DeploymentError(f"nothing deployed on chain {chain_id}: no {path} (run `procure deploy`)")
    missing = _missing_code(rpc, system)
    if missing:
        raise DeploymentError(f"manifest {path} points at addresses with no code: {', '.join(missing)}")
    return system


def ensure_deployed(sender: TxSender, var_dir: Path, build: Build | None = None) -> DeploymentResult:
    """Deploy the system once per chain; if the manifest exists and its code is there, do nothing.

    A manifest whose addresses have no code (the chain was reset) is an error, never silently reused or
    overwritten: the operator decides.
    """
    rpc = sender.rpc
    chain_id = rpc.chain_id
    path = manifest_path(var_dir, chain_id)
    existing = load_manifest(path)
    if existing is not None:
        missing = _missing_code(rpc, existing)
        if missing:
            raise DeploymentError(
                f"manifest {path} points at addresses with no code on chain {chain_id}: {', '.join(missing)}; "
                "the chain was probably reset: move the manifest away to deploy afresh"
            )
        return DeploymentResult(system=existing, created=False, manifest=path)
    build = build or compile_contracts()
    system = deploy_system(sender, build)
    _write_manifest(path, system, build)
    return DeploymentResult(system=system, created=True, manifest=path)


def _write_manifest(path: Path, system: SystemAddresses, build: Build) -> None:
    data: dict[str, Any] = system.to_json()
    data["compiler"] = build.compiler
    data["buildInput"] = build.input_hash
    data["artifacts"] = {
        name: {"sourceHash": artifact.source_hash, "source": artifact.source}
        for name, artifact in sorted(build.artifacts.items())
        if len(artifact.deployed_bytecode) > 2
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def var_dir_from_env() -> Path:
    """``$PROCURE_VAR`` or ``var/`` under the project root."""
    from chain._compiler import project_root

    value = os.environ.get("PROCURE_VAR")
    path = Path(value) if value else project_root() / "var"
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"{path} is not a directory")
    return path
