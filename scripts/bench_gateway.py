"""Gateway benchmark against anvil: read throughput and latency, and relayed signed actions per second.

What is measured, on a fresh anvil chain with the system deployed, ``--procurements`` procurements created and
mirrored by the indexer into SQLite:

* ``read_rps``, ``read_p50_ms``, ``read_p99_ms``: ``GET /procurements/{id}`` (detail with milestones, from the
  mirror, signed in as an auditor) at ``--concurrency`` client threads for ``--seconds``;
* ``bare_rps``, ``bare_p50_ms``, ``bare_p99_ms``: a bare FastAPI endpoint returning the same JSON bytes, under
  the same load: the ceiling of the framework and the HTTP stack on this machine;
* ``read_gateway_cpu_ms``, ``relayed_gateway_cpu_ms``: the gateway process's CPU time (user + system, from
  ``/proc``) per read, and per relayed action (its sign-ins, typed-data GETs, POSTs and the closing status
  checks included): what it costs whatever else shares the cores, where the rates above depend on that;
* ``relayed_actions_per_s``: signed attestations relayed through the gateway and mined successfully, per
  second, sustained. Load model: ``--relay-procurements`` more procurements (default 112), each with evidence
  on its three milestones and a 3-of-3 panel drawn from ``--evaluators`` evaluators (default 6, each of its
  own evaluation body): 9 attestations per procurement (1,008 by default), a third of which reach the quorum
  and pay out. One client thread per evaluator loops over its seats (starting at its own offset, so the
  evaluators work on different procurements at any moment): GET the typed data, sign it with eth-account's
  ``typed_data_digest`` (one real signature per action), POST it (scripts/gateway_cluster.py's
  ``relay_attestations``, without Idempotency-Keys); the POST answers 202 once the transaction is sent, and
  the next GET already carries the next nonce. The clock runs from the first POST until the
  relayer's last transaction is mined (its nonce on chain); only receipts with status 1 count, refusals and
  reverts are reported beside (``relayed_refused``, ``relayed_reverted``), and every status the gateway
  reports is checked against the chain afterwards. anvil keeps its state in memory unless
  ``--persistent-anvil`` (see ``_memory_anvil``).

``--soak SECONDS`` measures something else: whether legitimate clients are served while the gateway is under
attack. ``--clients`` readers (default 8; auditor, supplier, evaluator and officer sessions, each from a
loopback source address of its own, as distinct hosts would be) read procurements, lists, milestones and
``/auth/me`` and follow ``/events`` by its cursor, about 20 requests a second each, signing in again every 15 s;
six evaluators relay real signed attestations, about two a second each. Meanwhile ``--attackers`` unpaced
threads (default 4) flood sign-in nonces and send malformed bodies (180 KB of nested brackets, truncated JSON,
wrong types, 300 KB bodies, junk actions), every request with a forged ``X-Forwarded-For``. It prints the
legitimate clients' success rate (every request answered as it should be: target 100%), their p50 and p99
latency, how many relays were posted and mined, what the attackers got, whether the gateway process survived,
and its resident memory at the start and at its peak (``VmHWM``).

The servers (uvicorn, one worker each) run as child processes on 127.0.0.1; the load comes from this process.
Both share the machine's cores, so the numbers compare the gateway with the bare endpoint rather than
promise absolute capacity. Run from the repository root: ``.venv/bin/python scripts/bench_gateway.py [--json]``,
or ``... --soak 60 [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable without the editable install
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_utils.crypto import keccak
from fastapi import FastAPI, Response

from chain import Signer, TxSender, compile_contracts, fiscal_year_containing, project_root, typed_data_digest
from chain.clients import EscrowClient, FactoryClient, ProcurementSpec, RegistryClient
from chain.connection import connect
from chain.deployment import ensure_deployed
from chain.devnet import DEV_AUTHORITY, DEV_CAST, DEV_INDEX, dev_budget_as, dev_line, seed_cast
from chain.keys import dev_account, write_keystore
from chain.node import NodeProcess, anvil_binary, free_port, start_anvil
from chain.roles import OrgKind, Role
from chain.system import error_decoder
from indexer.schema import make_engine
from indexer.sync import ChainSource, Indexer
from scripts.gateway_cluster import relay_attestations, sign_in, sign_in_body

__all__ = ["bare_app", "main"]

DEV_CHAIN_ID = 31337
# The read procurements' panel: the dev cast's evaluators; the relay run adds more (--evaluators).
_READ_PANEL = tuple(member.label for member in DEV_CAST if member.role is Role.EVALUATOR)
_FIRST_EXTRA_INDEX = max(DEV_INDEX.values()) + 1  # dev accounts after the cast's, for the added evaluators
_BARE_BODY_ENV = "PROCURE_BENCH_BARE_BODY"


def bare_app() -> FastAPI:
    """A bare FastAPI app serving the JSON file named by $PROCURE_BENCH_BARE_BODY at the same path shape."""
    body = Path(os.environ[_BARE_BODY_ENV]).read_bytes()
    app = FastAPI()

    @app.get("/procurements/{procurement_id}")
    def detail(procurement_id: str) -> Response:
        """The same bytes as the gateway's answer."""
        return Response(body, media_type="application/json")

    return app


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _relay_evaluators(count: int) -> tuple[str, ...]:
    """The relay run's ``count`` evaluators: the dev cast's, then ``evaluator-4``, ``evaluator-5``..."""
    added = (f"evaluator-{n}" for n in range(len(_READ_PANEL) + 1, count + 1))
    return (*_READ_PANEL, *added)[:count]


def _setup_chain(
    rpc_url: str,
    var_dir: Path,
    procurements: int,
    relay_procurements: int = 0,
    evaluators: int = 3,
    *,
    mirror: bool = True,
) -> tuple[dict[str, Signer], list[bytes], list[tuple[bytes, tuple[str, ...]]]]:
    """Deploy, register the dev cast, mint, and create the procurements (3-of-3 panels).

    ``procurements`` for the reads (the cast's three evaluators, evidence on milestone 0), then ``relay_procurements``
    for the relay run: evidence on all three milestones, and the panel of the k-th one is the three
    consecutive evaluators from the (3k)-th, round the ``evaluators`` (each from its own evaluation body).
    Returns the accounts, the read procurements, and the relay procurements with their panels. With ``mirror``,
    the indexer then mirrors it all into SQLite under ``var_dir``.
    """
    rpc = connect(rpc_url)
    build = compile_contracts()
    accounts = {label: dev_account(index, DEV_CHAIN_ID) for label, index in DEV_INDEX.items()}
    extra = _relay_evaluators(evaluators)[len(_READ_PANEL) :]
    accounts |= {label: dev_account(_FIRST_EXTRA_INDEX + i, DEV_CHAIN_ID) for i, label in enumerate(extra)}

    def sender(label: str) -> TxSender:
        return TxSender(rpc, accounts[label], error_decoder(build))

    system = ensure_deployed(sender("admin"), var_dir, build).system
    registry = RegistryClient(rpc, system.registry, sender("admin"), build)
    addresses = {index: accounts[label].address for label, index in DEV_INDEX.items()}
    seed_cast(registry, dev_budget_as(rpc, system, build), addresses)
    for label in extra:
        code = f"EB-{label.upper()}"
        registry.register_organization(code, OrgKind.EVALUATION_BODY, f"Evaluation body {label}")
        registry.bind_account(accounts[label].address, code)
        registry.grant_role(Role.EVALUATOR, accounts[label].address)
    factory = FactoryClient(rpc, system.factory, sender("officer"), build)
    now = rpc.latest_timestamp()
    line, authority = dev_line(fiscal_year_containing(now)), keccak(text=DEV_AUTHORITY)  # milestones may cross a year
    ids: list[bytes] = []
    relay: list[tuple[bytes, tuple[str, ...]]] = []
    pool = _relay_evaluators(evaluators)
    for i in range(procurements + relay_procurements):
        k = i - procurements
        panel = _READ_PANEL if k < 0 else tuple(pool[(3 * k + n) % len(pool)] for n in range(3))
        spec = ProcurementSpec(
            procurement_id=keccak(text=f"ocds-bench-{i}"),
            supplier=accounts["supplier"].address,
            evaluators=tuple(accounts[e].address for e in panel),
            quorum=3,
            amounts=(30_000_000, 50_000_000, 120_000_000),
            due_dates=(now + 30 * 86_400, now + 90 * 86_400, now + 180 * 86_400),
            spec_hash=keccak(text=f"spec {i}"),
            title=f"Night-vision goggles, lot {i}",
        )
        # Funded with what falls due this fiscal year: the rest is obligated under the multi-year authority later.
        this_year = fiscal_year_containing(now)
        due_now = sum(
            a for a, due in zip(spec.amounts, spec.due_dates, strict=True) if fiscal_year_containing(due) == this_year
        )
        created = factory.create(spec, due_now, line, authority)
        supplier = EscrowClient(rpc, created.escrow, sender("supplier"), build)
        for milestone in range(1 if i < procurements else len(spec.amounts)):
            supplier.submit_evidence(
                milestone, keccak(text=f"evidence {i}/{milestone}"), f"ipfs://bench-{i}-{milestone}"
            )
        if k < 0:
            ids.append(spec.procurement_id)
        else:
            relay.append((spec.procurement_id, panel))
    if mirror:
        engine = make_engine(f"sqlite:///{var_dir / 'ledger.db'}")
        with Indexer(engine, ChainSource(rpc), system, build) as indexer:
            indexer.catch_up()
        engine.dispose()
    return accounts, ids, relay


def _memory_anvil(state_dir: Path) -> NodeProcess:
    """anvil as ``start_anvil`` runs it (chain id 31337, automine, 20 dev accounts) but without persistence.

    As in scripts/bench_indexer.py: ``procure up``'s anvil rewrites its whole history to disk every second,
    which stalls every RPC call for a moment and would measure that rather than the gateway (about a fifth
    fewer relays per second; ``--persistent-anvil`` measures it).
    """
    port = free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "anvil-memory.log"
    cmd = [str(anvil_binary(project_root())), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--chain-id", str(DEV_CHAIN_ID), "--accounts", "20"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    node = NodeProcess(process, f"http://127.0.0.1:{port}", "anvil", log_path)
    node.wait_ready()
    return node


def _start_server(
    args: list[str], env: dict[str, str], port: int, log: Path, start_s: float = 60.0
) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=project_root(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        handle.close()
    deadline = time.monotonic() + start_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")


def _gateway_env(rpc_url: str, root: Path, accounts: dict[str, Signer], port: int) -> dict[str, str]:
    """The gateway's environment: this chain, var/ under ``root``, the relayer's keystore (written here)."""
    write_keystore(accounts["relayer"], root / "relayer.json", "bench")
    return os.environ | {
        "PROCURE_RPC_URL": rpc_url,
        "PROCURE_VAR": str(root / "var"),
        "PROCURE_RELAYER_KEYSTORE": str(root / "relayer.json"),
        "PROCURE_RELAYER_KEYSTORE_PASSWORD": "bench",
        "PROCURE_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "PROCURE_SIWE_URI": f"http://127.0.0.1:{port}",
        "PROCURE_LOG_LEVEL": "WARNING",
    }


def _start_gateway(env: dict[str, str], port: int, root: Path, start_s: float = 60.0) -> subprocess.Popen[bytes]:
    """The gateway under uvicorn as ``procure serve`` runs it (no proxy-header rewriting)."""
    args = ["gateway.main:create_app", "--factory", "--log-level", "warning", "--no-access-log"]
    return _start_server([*args, "--no-proxy-headers"], env, port, root / "gateway.log", start_s)


def _load(base: str, paths: list[str], headers: dict[str, str], concurrency: int, seconds: float) -> dict[str, float]:
    """GET ``paths`` round-robin from ``concurrency`` threads for ``seconds``; throughput and latency."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as client:
            i = index
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = client.get(paths[i % len(paths)])
                latencies[index].append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors[index] += 1
                i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = [x for chunk in latencies for x in chunk]
    if sum(errors):
        raise RuntimeError(f"{sum(errors)} of {len(flat)} reads failed")
    return {
        "rps": len(flat) / elapsed,
        "count": len(flat),
        "p50_ms": 1000 * statistics.median(flat),
        "p99_ms": 1000 * _percentile(flat, 0.99),
    }


def _relay(
    rpc_url: str, base: str, accounts: dict[str, Signer], procurements: list[tuple[bytes, tuple[str, ...]]]
) -> dict[str, float]:
    """Relayed signed attestations per second, sustained; see the module docstring for the load model (the
    clients are scripts/gateway_cluster.py's, without Idempotency-Keys: a plain relay opens no database session)."""
    rpc = connect(rpc_url)
    relayer = accounts["relayer"].address
    attempted = sum(3 * len(panel) for _, panel in procurements)
    start_nonce = rpc.transaction_count(relayer)
    run = relay_attestations(base, accounts, procurements, idempotency_keys=False)
    posted = time.perf_counter()
    hashes = [tx for *_, tx in run.accepted]
    # The clock stops when the last relayed transaction is mined (the relayer's nonce counts them).
    deadline = time.monotonic() + 300
    while rpc.transaction_count(relayer) < start_nonce + len(hashes):
        if time.monotonic() > deadline:
            raise RuntimeError("relayed transactions still not mined after 300 s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - run.first_post
    receipts = [rpc.result("eth_getTransactionReceipt", [tx]) for tx in hashes]
    succeeded = sum(int(receipt["status"], 16) == 1 for receipt in receipts)
    max_gas_used = max((int(receipt["gasUsed"], 16) for receipt in receipts), default=0)
    # The gateway must tell the same story: every status it reports is final and agrees with the chain.
    statuses: dict[str, int] = {}
    for pid, _, label, tx in run.accepted:
        with httpx.Client(base_url=base, headers=run.headers[label], timeout=60.0) as client:
            answer = client.get(f"/procurements/0x{pid.hex()}/actions/relays/{tx}")
        key = answer.json()["status"] if answer.status_code == 200 else f"http {answer.status_code}"
        statuses[key] = statuses.get(key, 0) + 1
    if statuses.get("mined", 0) != succeeded or statuses.get("reverted", 0) != len(hashes) - succeeded:
        raise RuntimeError(f"the gateway's relay statuses {statuses} disagree with the chain ({succeeded} mined)")
    refused = [*run.failures, *(f"{label} {pid.hex()[:8]}/{m}: attested before" for pid, m, label in run.done_before)]
    if refused:
        print(f"{len(refused)} attestations refused, e.g. {refused[0][:300]}", file=sys.stderr)
    return {
        "per_s": succeeded / elapsed,
        "attempted": attempted,
        "succeeded": succeeded,
        "refused": len(refused),
        "reverted": len(hashes) - succeeded,
        "retries": run.retries,
        "post_s": posted - run.first_post,
        "total_s": elapsed,
        "max_gas_used": max_gas_used,
    }


def measure(
    procurements: int,
    concurrency: int,
    seconds: float,
    log: Callable[[str], None],
    *,
    relay_procurements: int = 112,
    evaluators: int = 6,
    skip_reads: bool = False,
    persistent_anvil: bool = False,
) -> dict[str, float]:
    """Run the whole benchmark in a temporary directory; returns the numbers."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        root = Path(tmp)
        node: NodeProcess = (
            start_anvil(project_root(), root / "anvil", port=free_port())
            if persistent_anvil
            else _memory_anvil(root / "anvil")
        )
        servers: list[subprocess.Popen[bytes]] = []
        try:
            log(f"anvil at {node.url}; deploying and creating {procurements} + {relay_procurements} procurements")
            accounts, ids, relay = _setup_chain(node.url, root / "var", procurements, relay_procurements, evaluators)
            port, bare_port = free_port(), free_port()
            env = _gateway_env(node.url, root, accounts, port)
            servers.append(_start_gateway(env, port, root))
            base = f"http://127.0.0.1:{port}"
            auditor = sign_in(base, accounts["auditor"])
            paths = [f"/procurements/0x{pid.hex()}" for pid in ids]
            sample = httpx.get(base + paths[0], headers=auditor)
            sample.raise_for_status()
            (root / "bare.json").write_bytes(sample.content)
            servers.append(
                _start_server(
                    ["scripts.bench_gateway:bare_app", "--factory", "--log-level", "warning", "--no-access-log"],
                    env | {_BARE_BODY_ENV: str(root / "bare.json")},
                    bare_port,
                    root / "bare.log",
                )
            )
            numbers: dict[str, float] = {}
            gateway_pid = servers[0].pid
            if not skip_reads:
                log(f"reads: {concurrency} threads for {seconds:.0f} s each (gateway, then bare)")
                cpu_before = _cpu_s(gateway_pid)
                read = _load(base, paths, auditor, concurrency, seconds)
                read_cpu_ms = 1000 * (_cpu_s(gateway_pid) - cpu_before) / read["count"]
                bare = _load(f"http://127.0.0.1:{bare_port}", paths, {}, concurrency, seconds)
                numbers |= {
                    "read_rps": round(read["rps"], 1),
                    "read_p50_ms": round(read["p50_ms"], 2),
                    "read_p99_ms": round(read["p99_ms"], 2),
                    "read_gateway_cpu_ms": round(read_cpu_ms, 3),
                    "bare_rps": round(bare["rps"], 1),
                    "bare_p50_ms": round(bare["p50_ms"], 2),
                    "bare_p99_ms": round(bare["p99_ms"], 2),
                }
            log(f"relaying {9 * len(relay)} signed attestations from {evaluators} evaluators")
            cpu_before = _cpu_s(gateway_pid)
            relayed = _relay(node.url, base, accounts, relay)
            relay_cpu_ms = 1000 * (_cpu_s(gateway_pid) - cpu_before) / relayed["attempted"]
        finally:
            for server in servers:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            node.stop()
    return numbers | {
        "relayed_actions_per_s": round(relayed["per_s"], 2),
        "relayed_attempted": relayed["attempted"],
        "relayed_mined": relayed["succeeded"],
        "relayed_refused": relayed["refused"],
        "relayed_retries": relayed["retries"],
        "relayed_reverted": relayed["reverted"],
        "relayed_post_s": round(relayed["post_s"], 2),
        "relayed_total_s": round(relayed["total_s"], 2),
        "relayed_max_gas_used": relayed["max_gas_used"],
        "relayed_gateway_cpu_ms": round(relay_cpu_ms, 3),
    }


# ---------------------------------------------------------------- the soak

_SOAK_READERS = ("auditor", "supplier", "eval1", "officer")
_DEEP = b"[" * 90_000 + b"]" * 90_000
_REPORT = "0x" + "22" * 32


@dataclass
class _Tally:
    """What the legitimate clients saw: every request's outcome and latency (thread-safe)."""

    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, kind: str, expected: int, client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
        """Send a request, record whether it got ``expected``; its JSON body, or None."""
        started = time.perf_counter()
        try:
            response = client.request(method, url, **kw)
            status, body = response.status_code, response.text
        except httpx.HTTPError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        ok = status == expected
        with self.lock:
            self.latencies.append(elapsed)
            self.outcomes[f"{kind} {'ok' if ok else status}"] += 1
            if not ok and len(self.failures) < 20:
                self.failures.append(f"{method} {url} -> {status}: {body[:200]}")
        return response.json() if ok and status != 0 else None


def _source(n: int) -> str:
    """A loopback source address of its own for simulated client ``n`` (every 127.x.y.z is this host)."""
    return f"127.0.{n // 250}.{n % 250 + 2}"


def _client_from(base: str, source: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=60.0, transport=httpx.HTTPTransport(local_address=source))


def _soak_sign_in(tally: _Tally, client: httpx.Client, account: Signer) -> dict[str, str]:
    nonce = tally.call("sign-in", 200, client, "POST", "/auth/nonce")
    session = (
        None
        if nonce is None
        else tally.call("sign-in", 201, client, "POST", "/auth/sign-in", json=sign_in_body(nonce, account))
    )
    return {} if session is None else {"Authorization": f"Bearer {session['token']}"}


def _soak_reader(base: str, n: int, account: Signer, ids: list[bytes], tally: _Tally, stop: threading.Event) -> None:
    """Reads at about 20 a second, following the event log, signing in again every 15 s."""
    with _client_from(base, _source(n)) as client:
        headers = _soak_sign_in(tally, client, account)
        signed_in, cursor, i = time.monotonic(), None, n
        while not stop.is_set():
            pid = "0x" + ids[i % len(ids)].hex()
            kind = i % 5
            if kind == 0:
                tally.call("read", 200, client, "GET", f"/procurements/{pid}", headers=headers)
            elif kind == 1:
                tally.call("read", 200, client, "GET", "/procurements", headers=headers, params={"limit": 20})
            elif kind == 2:
                params = {"limit": 50} | ({"cursor": cursor} if cursor else {})
                page = tally.call("read", 200, client, "GET", "/events", headers=headers, params=params)
                cursor = cursor if page is None else page["nextCursor"]
            elif kind == 3:
                by_procurement = {"procurementId": pid}
                tally.call("read", 200, client, "GET", "/milestones", headers=headers, params=by_procurement)
            else:
                tally.call("read", 200, client, "GET", "/auth/me", headers=headers)
            if time.monotonic() - signed_in > 15:
                headers, signed_in = _soak_sign_in(tally, client, account), time.monotonic()
            i += 1
            time.sleep(0.05)


def _soak_relayer(
    base: str,
    n: int,
    account: Signer,
    work: list[tuple[bytes, int]],
    tally: _Tally,
    stop: threading.Event,
    sent: list[str],
) -> None:
    """One evaluator's attestations, about two a second: typed data, a real signature, the POST."""
    with _client_from(base, _source(n)) as client:
        headers = _soak_sign_in(tally, client, account)
        for pid, milestone in work:
            if stop.is_set():
                return
            fields: dict[str, Any] = {
                "milestoneId": milestone,
                "round": 1,
                "pass": True,
                "reportHash": "0x" + "22" * 32,
            }
            url = f"/procurements/0x{pid.hex()}/actions/attest"
            typed = tally.call("relay", 200, client, "GET", url, headers=headers, params=fields)
            if typed is None:
                continue
            signature = "0x" + account.sign_digest(typed_data_digest(typed["typedData"])).hex()
            body = {**fields, "deadline": typed["deadline"], "nonce": typed["nonce"], "signature": signature}
            relayed = tally.call("relay", 202, client, "POST", url, headers=headers, json=body)
            if relayed is not None:
                sent.append(relayed["txHash"])
            time.sleep(0.5)


def _soak_attacker(base: str, n: int, pid: str, outcomes: Counter[str], stop: threading.Event) -> None:
    """Unpaced: nonce floods and malformed bodies, each with a forged X-Forwarded-For."""
    attacks: list[tuple[str, str, dict[str, Any]]] = [
        ("nonce-flood", "/auth/nonce", {}),
        ("deep-json", "/auth/sign-in", {"content": _DEEP, "headers": {"Content-Type": "application/json"}}),
        ("deep-json", f"/procurements/{pid}/actions/attest", {"content": _DEEP}),
        ("malformed", "/auth/sign-in", {"content": b'{"message": "x', "headers": {"Content-Type": "application/json"}}),
        ("wrong-types", "/auth/sign-in", {"json": {"message": [1] * 1000, "signature": {"v": 27}}}),
        ("oversized", "/auth/sign-in", {"content": b"x" * 300_000, "headers": {"Content-Type": "application/json"}}),
        ("junk-action", f"/procurements/{pid}/actions/attest", {"json": {"milestoneId": "0x1", "signature": "0x"}}),
    ]
    with _client_from(base, f"127.0.9.{n + 2}") as client:
        i = n
        while not stop.is_set():
            name, url, kw = attacks[i % len(attacks)]
            forged = {"X-Forwarded-For": f"{(i * 7) % 223 + 1}.{i % 256}.{(i // 256) % 256}.{n}"}
            request = kw | {"headers": kw.get("headers", {}) | forged}
            try:
                outcome = str(client.post(url, **request).status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            outcomes[f"{name} {outcome}"] += 1  # this attacker's own counter
            i += 1


def _cpu_s(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def soak(seconds: float, clients: int, attackers: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The soak of the module docstring; returns the legitimate clients' figures and the gateway's memory."""
    relayers = 6
    relay_procurements = max(2, min(400, int(seconds * 2 * relayers / 9) + 1))
    with tempfile.TemporaryDirectory(prefix="soak-gateway-") as tmp:
        root = Path(tmp)
        node = _memory_anvil(root / "anvil")
        server: subprocess.Popen[bytes] | None = None
        try:
            log(f"anvil at {node.url}; deploying, creating 10 + {relay_procurements} procurements")
            accounts, ids, relay = _setup_chain(node.url, root / "var", 10, relay_procurements, relayers)
            port = free_port()
            server = _start_gateway(_gateway_env(node.url, root, accounts, port), port, root)
            base = f"http://127.0.0.1:{port}"
            rss_start = _rss_kib(server.pid, "VmRSS")
            rpc = connect(node.url)
            relayer_address = accounts["relayer"].address
            start_nonce = rpc.transaction_count(relayer_address)
            tally, stop, sent = _Tally(), threading.Event(), list[str]()
            attacks = [Counter[str]() for _ in range(attackers)]
            labels = _relay_evaluators(relayers)
            threads = [
                threading.Thread(target=_soak_reader, args=(base, n, accounts[_SOAK_READERS[n % 4]], ids, tally, stop))
                for n in range(clients)
            ]
            for k, label in enumerate(labels):
                work = [(pid, m) for pid, panel in relay if label in panel for m in range(3)]
                args = (base, clients + k, accounts[label], work, tally, stop, sent)
                threads.append(threading.Thread(target=_soak_relayer, args=args))
            target = "0x" + ids[0].hex()
            threads += [
                threading.Thread(target=_soak_attacker, args=(base, n, target, attacks[n], stop))
                for n in range(attackers)
            ]
            log(f"soak: {clients} readers, {relayers} relaying evaluators, {attackers} attackers for {seconds:.0f} s")
            rss_peak = rss_start
            for thread in threads:
                thread.start()
            ends = time.monotonic() + seconds
            while time.monotonic() < ends and server.poll() is None:
                rss_peak = max(rss_peak, _rss_kib(server.pid, "VmRSS"))
                time.sleep(0.5)
            stop.set()
            for thread in threads:
                thread.join()
            survived = server.poll() is None
            rss_peak = max(rss_peak, _rss_kib(server.pid, "VmHWM") if survived else 0)
            deadline = time.monotonic() + 120
            while survived and rpc.transaction_count(relayer_address) < start_nonce + len(sent):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            receipts = [rpc.result("eth_getTransactionReceipt", [tx]) for tx in sent]
            mined = sum(r is not None and int(r["status"], 16) == 1 for r in receipts)
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            node.stop()
    attacked = sum(attacks, Counter[str]())
    legit = sum(tally.outcomes.values())
    ok = sum(count for key, count in tally.outcomes.items() if key.endswith(" ok"))
    for failure in tally.failures:
        print(f"legitimate request failed: {failure}", file=sys.stderr)
    return {
        "soak_s": seconds,
        "legit_requests": legit,
        "legit_success_pct": round(100 * ok / legit, 3) if legit else 0.0,
        "legit_p50_ms": round(1000 * statistics.median(tally.latencies), 2) if tally.latencies else None,
        "legit_p99_ms": round(1000 * _percentile(tally.latencies, 0.99), 2) if tally.latencies else None,
        "legit_outcomes": dict(sorted(tally.outcomes.items())),
        "relays_posted": len(sent),
        "relays_mined": mined,
        "attack_requests": sum(attacked.values()),
        "attack_5xx": sum(count for key, count in attacked.items() if key.split()[-1].startswith("5")),
        "attack_outcomes": dict(sorted(attacked.items())),
        "gateway_survived": survived,
        "gateway_rss_start_mb": round(rss_start / 1024, 1),
        "gateway_rss_peak_mb": round(rss_peak / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    parser.add_argument("--procurements", type=int, default=20, help="procurements to create (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads for reads (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each read run (default 5)")
    parser.add_argument(
        "--relay-procurements",
        type=int,
        default=112,
        help="procurements for the relay run, 9 attestations each (default 112: 1,008 attestations)",
    )
    parser.add_argument(
        "--evaluators", type=int, default=6, help="evaluators (one client thread each) in the relay run (default 6)"
    )
    parser.add_argument("--skip-reads", action="store_true", help="measure only the relay")
    parser.add_argument(
        "--persistent-anvil", action="store_true", help="run anvil as `procure up` does (state on disk every second)"
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="instead: legitimate reads, sign-ins and relays for SECONDS while attackers flood (see the docstring)",
    )
    parser.add_argument("--clients", type=int, default=8, help="--soak: reading clients (default 8)")
    parser.add_argument("--attackers", type=int, default=4, help="--soak: attacking threads (default 4)")
    args = parser.parse_args(argv)
    if args.soak is not None:
        if not (5 <= args.soak <= 3600 and 1 <= args.clients <= 200 and 0 <= args.attackers <= 32):
            parser.error("out of range: soak 5..3600 s, clients 1..200, attackers 0..32")
        result = soak(args.soak, args.clients, args.attackers, (lambda _: None) if args.json else print)
        if args.json:
            print(json.dumps(result))
        else:
            for key, value in result.items():
                print(f"  {key:<24} {value}")
        return 0 if result["gateway_survived"] else 1
    if not (1 <= args.procurements <= 500 and 1 <= args.concurrency <= 64 and 0.5 <= args.seconds <= 120):
        parser.error("out of range: procurements 1..500, concurrency 1..64, seconds 0.5..120")
    if not (1 <= args.relay_procurements <= 2000 and 3 <= args.evaluators <= 10):
        parser.error("out of range: relay procurements 1..2000, evaluators 3..10")
    quiet = args.json
    numbers = measure(
        args.procurements,
        args.concurrency,
        args.seconds,
        (lambda _: None) if quiet else print,
        relay_procurements=args.relay_procurements,
        evaluators=args.evaluators,
        skip_reads=args.skip_reads,
        persistent_anvil=args.persistent_anvil,
    )
    if args.json:
        print(json.dumps(numbers))
    else:
        for key, value in numbers.items():
            print(f"  {key:<24} {value:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
