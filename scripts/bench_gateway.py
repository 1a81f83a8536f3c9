"""Gateway benchmark against anvil: read throughput and latency, and relayed signed actions per second.

What is measured, on a fresh anvil chain with the system deployed, ``--procurements`` procurements created and
mirrored by the indexer into SQLite:

* ``read_rps``, ``read_p50_ms``, ``read_p99_ms``: ``GET /procurements/{id}`` (detail with milestones, from the
  mirror, signed in as an auditor) at ``--concurrency`` client threads for ``--seconds``;
* ``bare_rps``, ``bare_p50_ms``, ``bare_p99_ms``: a bare FastAPI endpoint returning the same JSON bytes, under
  the same load: the ceiling of the framework and the HTTP stack on this machine;
* ``relayed_actions_per_s``: signed attestations (GET typed data, sign, POST; one client thread per
  evaluator, since each evaluator's nonce orders its own signatures) relayed through the gateway until each
  is mined.

The servers (uvicorn, one worker each) run as child processes on 127.0.0.1; the load comes from this process.
Both share the machine's cores, so the numbers compare the gateway with the bare endpoint rather than
promise absolute capacity. Run from the repository root: ``.venv/bin/python scripts/bench_gateway.py [--json]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable without the editable install
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from fastapi import FastAPI, Response

from chain._compiler import compile_contracts, project_root
from chain._tx import TxSender
from chain.clients import EscrowClient, FactoryClient, ProcurementSpec, RegistryClient, TokenClient
from chain.connection import connect
from chain.deployment import ensure_deployed
from chain.keys import dev_account, write_keystore
from chain.node import NodeProcess, free_port, start_anvil
from chain.roles import OrgKind, Role
from chain.system import error_decoder
from gateway.siwe import SiweMessage
from indexer.schema import make_engine
from indexer.sync import ChainSource, Indexer

__all__ = ["bare_app", "main"]

DEV_CHAIN_ID = 31337
_CAST = ("admin", "officer", "treasury", "supplier", "eval1", "eval2", "eval3", "auditor", "relayer", "vault")
_ORGS = (
    ("MOD", OrgKind.MINISTRY, "Ministry of Defense"),
    ("NVE", OrgKind.SUPPLIER, "Nippon Vision Electronics K.K."),
    ("ATLA", OrgKind.EVALUATION_BODY, "ATLA test center"),
    ("JQA", OrgKind.EVALUATION_BODY, "Japan Quality Assurance Organization"),
    ("NITE", OrgKind.EVALUATION_BODY, "National Institute of Technology and Evaluation"),
    ("BOA", OrgKind.AUDIT_BODY, "Board of Audit of Japan"),
)
_MEMBERS = (
    ("officer", "MOD", Role.PROCUREMENT_OFFICER),
    ("treasury", "MOD", Role.TREASURY),
    ("vault", "MOD", None),
    ("supplier", "NVE", Role.SUPPLIER),
    ("eval1", "ATLA", Role.EVALUATOR),
    ("eval2", "JQA", Role.EVALUATOR),
    ("eval3", "NITE", Role.EVALUATOR),
    ("auditor", "BOA", Role.AUDITOR),
)
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


def _setup_chain(rpc_url: str, var_dir: Path, procurements: int) -> tuple[dict[str, LocalAccount], list[bytes]]:
    """Deploy, register the cast, mint, and create ``procurements`` procurements (3-of-3 panels)."""
    w3 = connect(rpc_url)
    build = compile_contracts()
    accounts = {label: dev_account(i, DEV_CHAIN_ID) for i, label in enumerate(_CAST)}

    def sender(label: str) -> TxSender:
        return TxSender(w3, accounts[label], error_decoder(build))

    system = ensure_deployed(sender("admin"), var_dir, build).system
    registry = RegistryClient(w3, system.registry, sender("admin"), build)
    for code, kind, name in _ORGS:
        registry.register_organization(code, kind, name)
    for label, code, role in _MEMBERS:
        registry.bind_account(accounts[label].address, code)
        if role is not None:
            registry.grant_role(role, accounts[label].address)
    registry.update_organization("MOD", active=True, vault=accounts["vault"].address)
    TokenClient(w3, system.token, sender("treasury"), build).mint(
        accounts["officer"].address, 10**12, keccak(text="FY2026/MOD/bench")
    )
    TokenClient(w3, system.token, sender("officer"), build).approve(system.factory, 2**256 - 1)
    factory = FactoryClient(w3, system.factory, sender("officer"), build)
    now = int(w3.eth.get_block("latest")["timestamp"])
    ids = []
    for i in range(procurements):
        spec = ProcurementSpec(
            procurement_id=keccak(text=f"ocds-bench-{i}"),
            supplier=accounts["supplier"].address,
            evaluators=tuple(accounts[e].address for e in ("eval1", "eval2", "eval3")),
            quorum=3,
            amounts=(30_000_000, 50_000_000, 120_000_000),
            due_dates=(now + 30 * 86_400, now + 90 * 86_400, now + 180 * 86_400),
            spec_hash=keccak(text=f"spec {i}"),
            title=f"Night-vision goggles, lot {i}",
        )
        created = factory.create(spec, sum(spec.amounts))
        EscrowClient(w3, created.escrow, sender("supplier"), build).submit_evidence(
            0, keccak(text=f"evidence {i}"), f"ipfs://bench-{i}"
        )
        ids.append(spec.procurement_id)
    engine = make_engine(f"sqlite:///{var_dir / 'ledger.db'}")
    with Indexer(engine, ChainSource(w3), system, build) as indexer:
        indexer.catch_up()
    engine.dispose()
    return accounts, ids


def _start_server(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
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
    deadline = time.monotonic() + 60
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


def _sign_in(base: str, account: LocalAccount) -> dict[str, str]:
    with httpx.Client(base_url=base) as client:
        nonce = client.post("/auth/nonce").json()
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
        signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
        response = client.post("/auth/sign-in", json={"message": message, "signature": signature})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}


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
        "p50_ms": 1000 * statistics.median(flat),
        "p99_ms": 1000 * _percentile(flat, 0.99),
    }


def _relay(base: str, accounts: dict[str, LocalAccount], ids: list[bytes]) -> float:
    """Each evaluator attests milestone 0 of every procurement through the gateway; actions per second."""
    evaluators = ("eval1", "eval2", "eval3")
    headers = {label: _sign_in(base, accounts[label]) for label in evaluators}
    failures: list[str] = []

    def worker(label: str) -> None:
        fields: dict[str, str | int | bool] = {
            "milestoneId": 0,
            "round": 1,
            "pass": True,
            "reportHash": "0x" + "22" * 32,
        }
        with httpx.Client(base_url=base, headers=headers[label], timeout=60.0) as client:
            for pid in ids:
                url = f"/procurements/0x{pid.hex()}/actions/attest"
                typed = client.get(url, params=fields).json()
                signature = accounts[label].sign_typed_data(full_message=typed["typedData"]).signature.to_0x_hex()
                body = {**fields, "deadline": typed["deadline"], "nonce": typed["nonce"], "signature": signature}
                response = client.post(url, json=body)
                if response.status_code != 200:
                    failures.append(response.text)

    threads = [threading.Thread(target=worker, args=(label,)) for label in evaluators]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} relayed actions failed, e.g. {failures[0][:300]}")
    return len(evaluators) * len(ids) / elapsed


def measure(procurements: int, concurrency: int, seconds: float, log: Callable[[str], None]) -> dict[str, float]:
    """Run the whole benchmark in a temporary directory; returns the numbers."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        root = Path(tmp)
        node: NodeProcess = start_anvil(project_root(), root / "anvil", port=free_port())
        servers: list[subprocess.Popen[bytes]] = []
        try:
            log(f"anvil at {node.url}; deploying and creating {procurements} procurements")
            accounts, ids = _setup_chain(node.url, root / "var", procurements)
            write_keystore(accounts["relayer"], root / "relayer.json", "bench")
            port, bare_port = free_port(), free_port()
            env = os.environ | {
                "PROCURE_RPC_URL": node.url,
                "PROCURE_VAR": str(root / "var"),
                "PROCURE_RELAYER_KEYSTORE": str(root / "relayer.json"),
                "PROCURE_RELAYER_KEYSTORE_PASSWORD": "bench",
                "PROCURE_SIWE_DOMAIN": f"127.0.0.1:{port}",
                "PROCURE_SIWE_URI": f"http://127.0.0.1:{port}",
                "PROCURE_LOG_LEVEL": "WARNING",
            }
            servers.append(
                _start_server(
                    ["gateway.main:create_app", "--factory", "--log-level", "warning", "--no-access-log"],
                    env,
                    port,
                    root / "gateway.log",
                )
            )
            base = f"http://127.0.0.1:{port}"
            auditor = _sign_in(base, accounts["auditor"])
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
            log(f"reads: {concurrency} threads for {seconds:.0f} s each (gateway, then bare)")
            read = _load(base, paths, auditor, concurrency, seconds)
            bare = _load(f"http://127.0.0.1:{bare_port}", paths, {}, concurrency, seconds)
            log(f"relaying {3 * len(ids)} signed attestations")
            relayed = _relay(base, accounts, ids)
        finally:
            for server in servers:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            node.stop()
    return {
        "read_rps": round(read["rps"], 1),
        "read_p50_ms": round(read["p50_ms"], 2),
        "read_p99_ms": round(read["p99_ms"], 2),
        "bare_rps": round(bare["rps"], 1),
        "bare_p50_ms": round(bare["p50_ms"], 2),
        "bare_p99_ms": round(bare["p99_ms"], 2),
        "relayed_actions_per_s": round(relayed, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    parser.add_argument("--procurements", type=int, default=20, help="procurements to create (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads for reads (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each read run (default 5)")
    args = parser.parse_args(argv)
    if not (1 <= args.procurements <= 500 and 1 <= args.concurrency <= 64 and 0.5 <= args.seconds <= 120):
        parser.error("out of range: procurements 1..500, concurrency 1..64, seconds 0.5..120")
    quiet = args.json
    numbers = measure(args.procurements, args.concurrency, args.seconds, (lambda _: None) if quiet else print)
    if args.json:
        print(json.dumps(numbers))
    else:
        for key, value in numbers.items():
            print(f"  {key:<24} {value:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
