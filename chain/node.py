"""Local dev nodes: anvil (persistent under var/) or `npx hardhat node`, as process groups we can stop."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from chain.errors import ChainError, ConfigurationError

__all__ = [
    "DEV_CHAIN_ID",
    "NodeProcess",
    "anvil_binary",
    "anvil_command",
    "free_port",
    "start_anvil",
    "start_hardhat",
    "wait_for_rpc",
]

DEV_CHAIN_ID = 31337


def anvil_binary(root: Path) -> Path:
    """The native anvil shipped by the npm package @foundry-rs/anvil (not its Node launcher)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    system = platform.system().lower()
    candidate = root / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if candidate.is_file():
        return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ConfigurationError(f"no anvil binary at {candidate}: run `npm ci` (or `make setup`)")


@dataclass
class NodeProcess:
    """A running node: its process (leader of its own process group) and RPC URL."""

    process: subprocess.Popen[bytes]
    url: str
    kind: str
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        """The node's process id (also its process group id)."""
        return self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the node answers eth_chainId; fail with its log tail if it dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainError(f"{self.kind} exited with status {self.process.returncode}: {self._log_tail()}")
            try:
                reply = requests.post(
                    self.url,
                    json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                    timeout=2,
                )
                if reply.ok and "result" in reply.json():
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ChainError(f"{self.kind} did not answer at {self.url} within {timeout:.0f} s: {self._log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL if it lingers. Never leaves an orphan."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout)
        # Children of a launcher may outlive it: sweep the group either way.
        self._signal_group(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole group at once (crash simulation)."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(15)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-5:]) or "(empty log)"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (for nodes and servers started by tests and tools)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_rpc(url: str, timeout: float = 60.0) -> None:
    """Block until a JSON-RPC node answers eth_chainId at ``url``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = requests.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2
            )
            if reply.ok and "result" in reply.json():
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.1)
    raise ChainError(f"no node answered at {url} within {timeout:.0f} s")


def _spawn(cmd: list[str], log_path: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - handed to the child; closed when we return
    try:
        return subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        log.close()


def start_anvil(root: Path, state_dir: Path, *, port: int = 8545, host: str = "127.0.0.1") -> NodeProcess:
    """Start anvil with chain id 31337, automine, and its state persisted in ``state_dir``.

    ``--state`` loads the file at start and ``--state-interval 1`` rewrites it every second, with historical
    states kept, so blocks, logs and balances survive a restart and even a SIGKILL (losing at most the last
    second).
    """
    cmd = anvil_command(root, state_dir, port=port, host=host)
    node = NodeProcess(_spawn(cmd, state_dir / "anvil.log"), f"http://{host}:{port}", "anvil", state_dir / "anvil.log")
    node.wait_ready()
    return node


def anvil_command(root: Path, state_dir: Path, *, port: int = 8545, host: str = "127.0.0.1") -> list[str]:
    """The anvil command line `start_anvil` runs (for supervisors that run it themselves)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return [
        str(anvil_binary(root)),
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        str(DEV_CHAIN_ID),
        "--state",
        str(state_dir / "state.json"),
        "--state-interval",
        "1",
        "--preserve-historical-states",
        "--accounts",
        "20",
    ]


def start_hardhat(root: Path, log_dir: Path, *, port: int = 8545, host: str = "127.0.0.1") -> NodeProcess:
    """Start `hardhat node` from hardhat.config.js (in memory: nothing survives a restart).

    Node runs Hardhat's CLI directly rather than through npx, so that the node is our own child process
    and is reaped when stopped.
    """
    node_bin = shutil.which("node")
    cli = root / "node_modules" / "hardhat" / "internal" / "cli" / "bootstrap.js"
    if node_bin is None or not cli.is_file():
        raise ConfigurationError("Hardhat is not installed: run `npm ci` (needs Node.js 20)")
    cmd = [node_bin, str(cli), "node", "--hostname", host, "--port", str(port)]
    node = NodeProcess(
        _spawn(cmd, log_dir / "hardhat.log", cwd=root),
        f"http://{host}:{port}",
        "hardhat",
        log_dir / "hardhat.log",
    )
    node.wait_ready(timeout=120)
    return node
