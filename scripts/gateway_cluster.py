"""Several gateways behind nginx on one database, as real processes, and signed attestations relayed through them:
what tests/integration/test_gateways_behind_nginx.py checks and scripts/bench_scale.py measures.

Every process (anvil, each gateway under uvicorn, nginx) is started by ``chain.node.spawn``: the leader of its own
process group, dying with this process even when this one is SIGKILLed. Each gateway relays with a relayer account
of its own (dev accounts no cast member uses), shares the database, the var/ folder (deployment manifest,
evidence store) and the sign-in nonce secret, and trusts nginx (loopback) for X-Forwarded-For.

``relay_attestations`` is a client that keeps going while gateways die: a POST that got no answer (a dead
gateway: 502, a reset) is sent again, the same signed action with the same Idempotency-Key (the first answer, if
the dead gateway wrote the relay's row); if the key is still reserved by the dead gateway (409) or the nonce moved
on (the first attempt was sent but never recorded), it signs again from fresh typed data, and a contract refusal
of the attestation as already made means an earlier attempt went through. The chain is the judge: the caller
counts the Attested events. scripts/bench_gateway.py measures a single gateway with the same client.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chain import Signer, typed_data_digest
from chain.keys import dev_account, write_keystore
from chain.node import DEV_CHAIN_ID, NodeProcess, anvil_binary, free_port, spawn
from gateway.nginx import nginx_conf
from gateway.siwe import SiweMessage

__all__ = [
    "NGINX",
    "RELAYER_INDEXES",
    "Cluster",
    "RelayRun",
    "memory_anvil",
    "relay_attestations",
    "sign_in",
    "sign_in_body",
]

NGINX = Path("/usr/sbin/nginx")
# The dev relayer, then dev accounts that no cast member nor bench_gateway's added evaluators use.
RELAYER_INDEXES = (11, 19, 18, 17)
_SECRET = "gateway cluster sign-in nonce secret, shared"  # noqa: S105 - a throwaway local cluster's
_PASSWORD = "cluster"  # noqa: S105 - the throwaway relayer keystores' password


def memory_anvil(state_dir: Path) -> NodeProcess:
    """anvil (chain id 31337, automine, 20 funded dev accounts) with its state in memory, dying with us."""
    port = free_port()
    command = [str(anvil_binary(Path(__file__).resolve().parent.parent)), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--chain-id", str(DEV_CHAIN_ID), "--accounts", "20"]
    log = state_dir / "anvil.log"
    node = NodeProcess(spawn(command, log), f"http://127.0.0.1:{port}", "anvil", log)
    node.wait_ready()
    return node


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)
        return True
    except httpx.HTTPError:
        return False


@dataclass
class Gateway:
    """One gateway process (uvicorn, as ``procure serve`` runs it: no proxy-header rewriting)."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process; call from the main thread (a child dies with the thread that started it)."""
        command = [sys.executable, "-m", "uvicorn", "gateway.main:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-proxy-headers", "--no-access-log"]
        command += ["--log-level", "warning", "--timeout-graceful-shutdown", "5"]
        self.process = spawn(command, self.log, cwd=Path(__file__).resolve().parent.parent, env=self.env)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _exited(self.process):
                raise RuntimeError(f"gateway on {self.port} exited: {self.log.read_text(errors='replace')[-3000:]}")
            if _answers(self.url + "/healthz"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"gateway on {self.port} did not start: {self.log.read_text(errors='replace')[-3000:]}")

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def kill(self) -> None:
        """SIGKILL (no clean stop: its lease, reservations and pending relays are left as they are)."""
        _signal_group(self.pid, signal.SIGKILL)
        _reap(self.process)

    def stop(self) -> None:
        _signal_group(self.pid, signal.SIGTERM)
        if not _reap(self.process, 15):
            _signal_group(self.pid, signal.SIGKILL)
            _reap(self.process)


def _exited(process: subprocess.Popen[bytes] | None) -> bool:
    return process is not None and process.poll() is not None


def _reap(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> bool:
    if process is None:
        return True
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def _signal_group(pid: int | None, sig: signal.Signals) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class Cluster:
    """``gateways`` gateway processes on ``db_url`` for the chain at ``rpc_url``, and nginx in front of them."""

    def __init__(self, root: Path, rpc_url: str, db_url: str, var_dir: Path, gateways: int, **env: str) -> None:
        if gateways > len(RELAYER_INDEXES):
            raise ValueError(f"at most {len(RELAYER_INDEXES)} gateways (one relayer each)")
        self.root = root
        self.nginx_port = free_port()
        self.nginx_prefix = root / "nginx"
        self.nginx: subprocess.Popen[bytes] | None = None
        self.relayers = [dev_account(index, DEV_CHAIN_ID) for index in RELAYER_INDEXES[:gateways]]
        authority = f"127.0.0.1:{self.nginx_port}"
        self.gateways: list[Gateway] = []
        for n, relayer in enumerate(self.relayers):
            keystore = write_keystore(relayer, root / f"relayer-{n}.json", _PASSWORD)
            gateway_env = {
                "PROCURE_RPC_URL": rpc_url,
                "PROCURE_VAR": str(var_dir),
                "PROCURE_DB_URL": db_url,
                "PROCURE_RELAYER_KEYSTORE": str(keystore),
                "PROCURE_RELAYER_KEYSTORE_PASSWORD": _PASSWORD,
                "PROCURE_SIWE_DOMAIN": authority,
                "PROCURE_SIWE_URI": f"http://{authority}",
                "PROCURE_SIWE_NONCE_SECRET": _SECRET,
                "PROCURE_TRUSTED_PROXIES": "127.0.0.1",
                "PROCURE_LOG_LEVEL": "WARNING",
                "PROCURE_RELAYER_LEASE_S": "4",
            } | env
            self.gateways.append(Gateway(free_port(), gateway_env, root / f"gateway-{n}.log"))

    @property
    def url(self) -> str:
        """nginx's address: what clients use."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def start(self, *, nginx: bool = True) -> None:
        """Start the first gateway (which migrates the database), then the others together, then nginx; return once
        all answer."""
        first, *others = self.gateways
        first.start()
        first.wait_ready()
        for gateway in others:
            gateway.start()
        for gateway in others:
            gateway.wait_ready()
        if nginx:
            self.start_nginx()

    def start_nginx(self) -> None:
        prefix = self.nginx_prefix
        prefix.mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        upstreams = [f"127.0.0.1:{gateway.port}" for gateway in self.gateways]
        config.write_text(nginx_conf(upstreams, f"127.0.0.1:{self.nginx_port}", prefix=prefix))
        command = [str(NGINX), "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
        self.nginx = spawn([*command, "-g", "daemon off;"], prefix / "nginx.log")
        deadline = time.monotonic() + 30
        while not _answers(self.url + "/healthz"):
            if _exited(self.nginx) or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(prefix / 'error.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop nginx and every gateway."""
        _signal_group(None if self.nginx is None else self.nginx.pid, signal.SIGTERM)
        _reap(self.nginx)
        for gateway in self.gateways:
            gateway.stop()


def sign_in_body(nonce: dict[str, Any], account: Signer) -> dict[str, str]:
    """The body of POST /auth/sign-in for a nonce answer: the EIP-4361 message and ``account``'s signature."""
    now = dt.datetime.now(dt.UTC)
    message = SiweMessage(
        domain=nonce["domain"],
        address=account.address,
        uri=nonce["uri"],
        chain_id=nonce["chainId"],
        nonce=nonce["nonce"],
        issued_at=now,
        expiration_time=now + dt.timedelta(hours=1),
    ).to_text()
    signature = "0x" + account.sign_text(message).hex()
    return {"message": message, "signature": signature}


def sign_in(base: str, account: Signer) -> dict[str, str]:
    """Sign in at ``base`` as ``account``; the Authorization header."""
    with httpx.Client(base_url=base, timeout=30.0) as client:
        nonce = client.post("/auth/nonce").json()
        response = client.post("/auth/sign-in", json=sign_in_body(nonce, account))
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class RelayRun:
    """What the clients saw: each accepted relay (202: procurement, milestone, evaluator, tx hash), every retry."""

    accepted: list[tuple[bytes, int, str, str]] = field(default_factory=list)
    done_before: list[tuple[bytes, int, str]] = field(default_factory=list)  # refused as already attested
    retries: int = 0
    failures: list[str] = field(default_factory=list)  # seats given up on (a bug, if any)
    answer_times: list[float] = field(default_factory=list)  # when each POST got its answer (perf_counter)
    unanswered: list[tuple[float, float]] = field(default_factory=list)  # (from, to) of requests that got none
    first_post: float = 0.0
    last_answer: float = 0.0
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # each evaluator's session (any gateway's)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_RETRY_STATUSES = {502, 503, 504}
# A seat whose attestation ran without its answer reaching the client (its gateway was killed between the send
# and the reply, or before the relay's row was written) meets one of these on the next try: the seat is attested
# already, or (the last seat of a full panel) the attestations paid the milestone out. The run's on-chain check
# of every seat tells whether it ran indeed.
_RAN_BEFORE = {"EscrowAlreadyAttested", "EscrowUnexpectedMilestoneStatus"}


def relay_attestations(
    base: str,
    accounts: dict[str, Signer],
    procurements: Sequence[tuple[bytes, tuple[str, ...]]],
    *,
    on_answer: Callable[[int], None] = lambda count: None,
    give_up_s: float = 120.0,
    idempotency_keys: bool = True,
) -> RelayRun:
    """Every seat of every panel attests its three milestones (a pass), one client thread per evaluator, through
    ``base``; ``on_answer`` is told the count of POSTs answered so far (to kill a gateway halfway, say). Without
    ``idempotency_keys`` a POST sent again is the same signed action alone (answered with its first relay)."""
    order = list(accounts)
    evaluators = sorted({label for _, panel in procurements for label in panel}, key=order.index)
    headers = {label: sign_in(base, accounts[label]) for label in evaluators}
    run = RelayRun(headers=headers)
    answered = [0]

    def seat(client: httpx.Client, label: str, pid: bytes, milestone: int) -> None:
        fields: dict[str, str | int | bool] = {"milestoneId": milestone, "round": 1, "pass": True}
        fields["reportHash"] = "0x" + "22" * 32
        url = f"/procurements/0x{pid.hex()}/actions/attest"
        give_up = time.monotonic() + give_up_s
        attempt = 0
        body: dict[str, object] | None = None
        last = "no answer yet"  # the last answer, for the failure if this seat is given up on
        while time.monotonic() < give_up:
            if body is None:
                attempt += 1
                try:
                    typed = client.get(url, params=fields)
                except httpx.HTTPError as exc:
                    last = f"typed data GET: {exc!r}"
                    continue
                if typed.status_code != 200:
                    last = f"typed data GET: {typed.status_code} {typed.text[:300]}"
                    time.sleep(0.05)
                    continue
                data = typed.json()
                signature = "0x" + accounts[label].sign_digest(typed_data_digest(data["typedData"])).hex()
                body = {**fields, "deadline": data["deadline"], "nonce": data["nonce"], "signature": signature}
            key = {"Idempotency-Key": f"{label}-{pid.hex()[:16]}-{milestone}-{attempt}"} if idempotency_keys else {}
            sent_at = time.perf_counter()
            with run.lock:
                if not run.first_post:
                    run.first_post = sent_at
            try:
                response = client.post(url, json=body, headers=key)
            except httpx.HTTPError as exc:
                response = None
                last = f"POST nonce {body['nonce']}: {exc!r}"
            now = time.perf_counter()
            if response is not None:
                last = f"POST nonce {body['nonce']}: {response.status_code} {response.text[:300]}"
            if response is None or response.status_code in _RETRY_STATUSES:
                with run.lock:
                    run.retries += 1
                    run.unanswered.append((sent_at, now))
                time.sleep(0.05)
                continue  # the same body and key: the first answer, if the dead gateway stored one
            with run.lock:
                run.answer_times.append(now)
                run.last_answer = max(run.last_answer, now)
                answered[0] += 1
                count = answered[0]
            on_answer(count)
            if response.status_code == 202:
                with run.lock:
                    run.accepted.append((pid, milestone, label, response.json()["txHash"]))
                return
            problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            if problem.get("error") in _RAN_BEFORE:
                with run.lock:
                    run.done_before.append((pid, milestone, label))
                return
            if response.status_code in (403, 409):  # the key still reserved by a dead gateway, the nonce moved on
                with run.lock:
                    run.retries += 1
                body = None
                continue
            with run.lock:
                run.failures.append(
                    f"{label} {pid.hex()[:8]}/{milestone}: {response.status_code} {response.text[:300]}"
                )
            return
        with run.lock:
            given_up = f"gave up after {give_up_s:.0f} s; last answer {last}"
            run.failures.append(f"{label} {pid.hex()[:8]}/{milestone}: {given_up}")

    def evaluator(index: int) -> None:
        label = evaluators[index]
        work = [(pid, milestone) for pid, panel in procurements if label in panel for milestone in range(3)]
        start = index * len(work) // len(evaluators)  # evaluators work on different procurements at any moment
        with httpx.Client(base_url=base, headers=headers[label], timeout=60.0) as client:
            for pid, milestone in work[start:] + work[:start]:
                seat(client, label, pid, milestone)

    threads = [threading.Thread(target=evaluator, args=(n,)) for n in range(len(evaluators))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run
