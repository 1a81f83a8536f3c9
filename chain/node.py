"""Local dev nodes: anvil (persistent under var/) or `npx hardhat node`, as process groups we can stop.

Every process started here (and by `procure up`'s supervisor, through ``spawn``) dies with the process that
started it, also when that one is SIGKILLed: on Linux the kernel sends it SIGTERM (``PR_SET_PDEATHSIG``).
This module imports only the standard library, so that a command can name the local node's address (the
default RPC URL) without loading a JSON-RPC stack.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chain.connection import DEFAULT_PORT
from chain.errors import ChainError, ConfigurationError

__all__ = [
    "DEV_CHAIN_ID",
    "AnvilStateGuard",
    "NodeProcess",
    "PortHolder",
    "anvil_binary",
    "anvil_command",
    "anvil_state_file",
    "free_port",
    "port_holder",
    "spawn",
    "start_anvil",
    "start_hardhat",
    "wait_for_rpc",
]

DEV_CHAIN_ID = 31337

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
    guard: AnvilStateGuard | None = None

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
            if _answers(self.url):
                return
            time.sleep(0.1)
        self.stop()
        raise ChainError(f"{self.kind} did not answer at {self.url} within {timeout:.0f} s: {self._log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL if it lingers. Never leaves an orphan."""
        if self.guard is not None:
            self.guard.stop()
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
        if self.guard is not None:
            self.guard.stop()
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


def _answers(url: str) -> bool:
    """True if a JSON-RPC node at ``url`` answers eth_chainId."""
    import http.client  # here, not at the top: the CLI imports this module for its defaults alone
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310 - our node
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:  # noqa: S310 - http(s) URL of a node we run
            return "result" in json.loads(reply.read())
    except (OSError, http.client.HTTPException, ValueError):  # refused, reset, timed out, HTTP error, not JSON
        return False


def wait_for_rpc(url: str, timeout: float = 60.0) -> None:
    """Block until a JSON-RPC node answers eth_chainId at ``url``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(url):
            return
        time.sleep(0.1)
    raise ChainError(f"no node answered at {url} within {timeout:.0f} s")


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when its parent dies (Linux), or None elsewhere.

    ``prctl`` is looked up here, in the parent: the child, between fork and exec, only calls it. The kernel
    ties the signal to the thread that forks, so spawn from a thread that lives as long as the process (the
    main thread).
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl: the kernel will not tell us
            os._exit(1)

    return preexec


def spawn(
    command: list[str], log_path: Path, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` as the leader of a new process group (so that stopping it stops its children), output
    appended to ``log_path``, dying with this process even on SIGKILL (see the module's docstring)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # only prctl and getppid run between fork and exec
        )


def anvil_state_file(state_dir: Path) -> Path:
    """Where anvil keeps a chain's state (blocks, logs, balances) between runs."""
    return state_dir / "state.json"


def start_anvil(root: Path, state_dir: Path, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> NodeProcess:
    """Start anvil with chain id 31337, automine, and its state persisted in ``state_dir``.

    ``--state`` loads the file at start and ``--state-interval 1`` rewrites it every second, with historical
    states kept, so blocks, logs and balances survive a restart and even a SIGKILL (losing at most the last
    second or two: an `AnvilStateGuard` keeps a whole copy for the case where the kill tore the file).
    """
    guard = AnvilStateGuard(state_dir)
    guard.restore()
    cmd = anvil_command(root, state_dir, port=port, host=host)
    log_path = state_dir / "anvil.log"
    node = NodeProcess(spawn(cmd, log_path), f"http://{host}:{port}", "anvil", log_path, guard)
    node.wait_ready()
    guard.start()
    return node


class AnvilStateGuard:
    """Keeps a whole copy of anvil's state file, and puts it back when a crash left the file torn.

    anvil rewrites its state file in place (truncate, then write) every second: a SIGKILL in the middle of a
    write leaves a torn file, which anvil refuses at its next start ("failed to parse json file: EOF while
    parsing"). The guard copies each complete version of the file (one that parses as JSON: a prefix of a JSON
    object never does) to ``state.last-good.json``, through a temporary file and a rename, from a daemon thread
    every ``interval`` seconds; the copy is skipped while the file's bytes are unchanged. ``restore``, run before
    anvil starts, moves a torn file aside (``state.torn-<UTC time>.json``, for inspection) and puts the last
    whole copy in its place. Cost: one read and hash of the state file per interval, and a JSON parse when it
    changed (about 15 ms for the 2 MB of a 100-procurement chain).
    """

    def __init__(self, state_dir: Path, *, interval: float = 1.0) -> None:
        self.state = anvil_state_file(state_dir)
        self.copy = state_dir / "state.last-good.json"
        self.log_path = state_dir / "anvil.log"
        self.interval = interval
        self._saved_digest = b""
        self.restored: str | None = None  # what the last `restore` did, if anything
        self._lock = threading.Lock()  # one writer of the copy at a time (the thread, `restore`)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> AnvilStateGuard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def restore(self) -> str | None:
        """Before anvil starts: keep a whole state file, or replace a torn one by the last whole copy.

        Returns (and appends to anvil's log) what was done, or None when the state file was whole or absent.
        Raises ChainError when the file is torn and no whole copy exists (the torn file is left in place).
        """
        with self._lock:
            return self._restore()

    def _restore(self) -> str | None:
        if not self.state.exists():
            return None
        if self._save():
            return None
        if not _whole_json(self.copy.read_bytes() if self.copy.exists() else b""):
            raise ChainError(
                f"anvil's state file {self.state} is torn (anvil was killed while writing it) and there is no whole "
                f"copy ({self.copy.name}) to restore: move the file away to start a fresh chain"
            )
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        torn = self.state.with_name(f"state.torn-{stamp}.json")
        self.state.rename(torn)
        _replace_atomically(self.state, self.copy.read_bytes())
        age = time.time() - self.copy.stat().st_mtime
        message = (
            f"anvil's state file was torn (anvil was killed while writing it): kept it as {torn.name} and restored "
            f"the last whole copy, written {age:.0f} s before this start"
        )
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{stamp} {message}\n")
        self.restored = message
        return message

    def save(self) -> bool:
        """Copy the state file if it is whole and changed since the last copy; True if it is whole."""
        with self._lock:
            return self._save()

    def _save(self) -> bool:
        try:
            data = self.state.read_bytes()
        except FileNotFoundError:
            return False
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == self._saved_digest:
            return True
        if not _whole_json(data):
            return False
        _replace_atomically(self.copy, data)
        self._saved_digest = digest
        return True

    def start(self) -> None:
        """Copy every ``interval`` seconds from a daemon thread until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="anvil-state-guard", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the copying thread (a copy in progress completes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError):
                self.save()


def _whole_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:  # also UnicodeDecodeError
        return False
    return True


def _replace_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def anvil_command(root: Path, state_dir: Path, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> list[str]:
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
        str(anvil_state_file(state_dir)),
        "--state-interval",
        "1",
        "--preserve-historical-states",
        "--accounts",
        "20",
    ]


def start_hardhat(root: Path, log_dir: Path, *, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> NodeProcess:
    """Start `hardhat node` from hardhat.config.js (in memory: nothing survives a restart).

    Node runs Hardhat's CLI directly rather than through npx, so that the node is our own child process
    and is reaped when stopped.
    """
    node_bin = shutil.which("node")
    cli = root / "node_modules" / "hardhat" / "internal" / "cli" / "bootstrap.js"
    if node_bin is None or not cli.is_file():
        raise ConfigurationError("Hardhat is not installed: run `npm ci` (needs Node.js 20)")
    cmd = [node_bin, str(cli), "node", "--hostname", host, "--port", str(port)]
    log_path = log_dir / "hardhat.log"
    node = NodeProcess(spawn(cmd, log_path, cwd=root), f"http://{host}:{port}", "hardhat", log_path)
    node.wait_ready(timeout=120)
    return node


@dataclass(frozen=True)
class PortHolder:
    """The process listening on a TCP port, and its parent."""

    pid: int
    command: tuple[str, ...]
    parent_pid: int
    parent_command: tuple[str, ...]

    def runs_anvil_on(self, state_dir: Path) -> bool:
        """True if this is anvil keeping its state in ``state_dir`` (a node of that var/)."""
        command = list(self.command)
        if not command or Path(command[0]).name != "anvil" or "--state" not in command[:-1]:
            return False
        state = Path(command[command.index("--state") + 1])
        return state.resolve() == anvil_state_file(state_dir).resolve()


def port_holder(port: int) -> PortHolder | None:
    """Linux: the process listening on TCP ``port`` on this host, or None if none can be seen (not Linux, no
    listener, or another user's process)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                listening = fields[3] == "0A"
                if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    pid = int(proc.name)
                    parent = _parent_pid(pid)
                    return PortHolder(pid, _command_line(pid), parent, _command_line(parent))
    return None


def _parent_pid(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])  # the command name in (...) may hold spaces
    return 0


def _command_line(pid: int) -> tuple[str, ...]:
    with contextlib.suppress(OSError):
        return tuple(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1])
    return ()
