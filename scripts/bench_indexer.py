"""Indexer benchmark: generate procurement events on anvil, then measure catch-up into SQLite and PostgreSQL
against the fetch-and-decode ceiling over the same ranges, live latency while following, and replay + verify.

    python scripts/bench_indexer.py [--events 100000] [--runs 5] [--scale [N]] [--json]

Events are generated fast: anvil's unlocked dev accounts send unsigned transactions in JSON-RPC batches with
automine off, one phase per block (create, submit evidence, attest, attest again); so blocks hold hundreds of
events each. ``generate_events`` is also what the indexer's integration tests use for their chains.

The chain is generated once; each of ``--runs`` runs then catches it up into a fresh SQLite file and a fresh
PostgreSQL database, and measures the ceiling (the same ``eth_getLogs`` ranges fetched and decoded, writing
nothing) between the two catch-ups; odd runs write PostgreSQL first. A run's ratios are its catch-ups' rates
against its own ceiling, taken seconds apart, so that other work on a shared machine weighs on both alike; the
median of the runs is the result, printed with the lowest and highest. Replay + verify and live latency then run
on the last run's SQLite mirror.

``--scale [N]`` (1,000,000 events if no number is given) then builds a second chain of N events on a fresh
in-memory anvil (200 procurements per round of four blocks) and runs what an operator and an auditor run on it,
each as a child process whose peak resident memory is the kernel's (``wait4``'s ``ru_maxrss``): `procure index
--once` into a fresh SQLite mirror, `procure audit replay` into another, `procure audit verify` of the first;
then times the gateway's reads of a procurement on that mirror (its detail, its attestations page, its events
page, through ``gateway.services.reads.Reader``, as an auditor and as a supplier), over procurements spread
across the chain. Its ``scale_*`` keys join the JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import click
from eth_utils.crypto import keccak

from chain import (
    DEV_CHAIN_ID,
    DEV_INDEX,
    Build,
    ChainSource,
    EventDecoder,
    JsonRpc,
    NodeProcess,
    ProcurementSpec,
    SystemAddresses,
    TxSender,
    anvil_binary,
    checksum,
    compile_contracts,
    connect,
    dev_account,
    dev_budget_as,
    dev_line,
    ensure_deployed,
    error_decoder,
    fiscal_year_containing,
    fiscal_year_start,
    free_port,
    project_root,
    seed_cast,
    start_anvil,
    system_clients,
)
from indexer.audit import verify
from indexer.schema import make_engine
from indexer.sync import Indexer, SyncConfig, decode_logs, trusted_emitters
from scripts.fresh_postgres import fresh_database as _fresh_database
from scripts.fresh_postgres import temporary_server

__all__ = [
    "CatchUpRun",
    "Chain",
    "catch_up",
    "catch_up_runs",
    "ceiling",
    "create_procurement",
    "free_port",
    "generate_events",
    "measure_scale",
    "running_anvil",
    "send_and_wait",
    "setup_chain",
    "spread",
]

# Dev account indexes of the dev cast's officer, supplier and evaluators (EVAL_C sits on the panels, never attests).
OFFICER, SUPPLIER = DEV_INDEX["officer"], DEV_INDEX["supplier"]
EVAL_A, EVAL_B, EVAL_C = DEV_INDEX["evaluator-atla"], DEV_INDEX["evaluator-jqa"], DEV_INDEX["evaluator-nite"]
_EVENTS_PER_CREATE = 3  # EscrowRegistered, Transfer (initial funding), ProcurementCreated
_EVENTS_PER_MILESTONE = 6  # EvidenceSubmitted, Attested, Attested, MilestoneApproved, PaymentReleased, Transfer


@dataclass
class Chain:
    """A running anvil with the system deployed and the dev cast seeded."""

    node: NodeProcess
    rpc: JsonRpc
    system: SystemAddresses
    build: Build
    var_dir: Path


def setup_chain(node: NodeProcess, var_dir: Path) -> Chain:
    """Deploy the system (manifest under ``var_dir``) and seed the dev cast and its budget line."""
    rpc = connect(node.url)
    chain_id = rpc.chain_id
    build = compile_contracts()
    decoder = error_decoder(build)
    admin = TxSender(rpc, dev_account(0, chain_id), decoder)
    system = ensure_deployed(admin, var_dir, build).system
    registry, _, _ = system_clients(rpc, system, admin, build)
    # The chain's clock moves to the second day of the next fiscal year, so that the procurements generated (due
    # within weeks) fall in the fiscal year whose budget line is seeded.
    next_year = fiscal_year_containing(rpc.latest_timestamp()) + 1
    rpc.result("evm_setNextBlockTimestamp", [fiscal_year_start(next_year) + 86_400])
    rpc.result("evm_mine", [])
    addresses = {i: dev_account(i, chain_id).address for i in DEV_INDEX.values()}
    seed_cast(registry, dev_budget_as(rpc, system, build), addresses)
    return Chain(node=node, rpc=rpc, system=system, build=build, var_dir=var_dir)


@contextmanager
def running_anvil(state_dir: Path, *, persistent: bool = True) -> Iterator[Chain]:
    """A fresh anvil on a free port with the system deployed; stopped on exit.

    ``persistent`` is ``chain.node.start_anvil`` (state written to disk every second, history kept, as
    `procure up` runs it); otherwise anvil keeps its state in memory only. The benchmark uses the latter: with
    100,000 events the once-a-second dump of the whole history stalls every RPC call for most of a second,
    which would measure anvil's persistence rather than the indexer.
    """
    node = (
        start_anvil(project_root(), state_dir / "anvil", port=free_port()) if persistent else _memory_anvil(state_dir)
    )
    try:
        yield setup_chain(node, state_dir)
    finally:
        node.stop()


def _memory_anvil(state_dir: Path) -> NodeProcess:
    """anvil as ``start_anvil`` runs it (chain id 31337, automine, 20 dev accounts) but without persistence."""
    port = free_port()
    log_path = state_dir / "anvil-memory.log"
    state_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(anvil_binary(project_root())), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--chain-id", str(DEV_CHAIN_ID), "--accounts", "20"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    node = NodeProcess(process, f"http://127.0.0.1:{port}", "anvil", log_path)
    node.wait_ready()
    return node


def _rpc_batch(rpc: JsonRpc, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    results: list[Any] = []
    for start in range(0, len(calls), 1000):
        for reply in rpc.batch(list(calls[start : start + 1000])):
            if "error" in reply:
                raise RuntimeError(f"{reply['error']}")
            results.append(reply["result"])
    return results


def send_and_wait(rpc: JsonRpc, tx: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send an unsigned transaction from an unlocked account and wait for its receipt; a failure raises."""
    tx_hash = rpc.result("eth_sendTransaction", [tx])
    deadline = time.monotonic() + timeout
    while (receipt := rpc.result("eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{tx_hash} not mined within {timeout:.0f} s")
        time.sleep(0.005)
    if receipt["status"] != "0x1":
        raise RuntimeError(f"{tx_hash} failed")
    return dict(receipt)


def _send_phase(rpc: JsonRpc, txs: Sequence[dict[str, Any]]) -> None:
    """Send unsigned transactions from unlocked accounts, mine them, and check that none failed."""
    # anvil serves a batch concurrently: give each transaction its nonce, or two would get the same one.
    nonces: dict[str, int] = {}
    for tx in txs:
        sender = tx["from"]
        if sender not in nonces:
            nonces[sender] = rpc.transaction_count(sender, "pending")
        tx["nonce"] = hex(nonces[sender])
        nonces[sender] += 1
    hashes = _rpc_batch(rpc, [("eth_sendTransaction", [tx]) for tx in txs])
    while int(rpc.result("txpool_status", [])["pending"], 16) > 0:
        rpc.result("evm_mine", [])
    receipts = _rpc_batch(rpc, [("eth_getTransactionReceipt", [h]) for h in hashes])
    failed = [r["transactionHash"] for r in receipts if r is None or r["status"] != "0x1"]
    if failed:
        raise RuntimeError(f"{len(failed)} generated transactions failed, e.g. {failed[0]}")


def generate_events(chain: Chain, events: int, *, milestones: int = 10, per_round: int = 40) -> int:
    """Create procurements and run each milestone to payment until at least ``events`` events exist.

    Returns the number of ledger events generated. Each procurement yields 3 + 6 * ``milestones`` events.
    """
    rpc, system, build = chain.rpc, chain.system, chain.build
    chain_id = rpc.chain_id
    who = {i: dev_account(i, chain_id).address for i in (OFFICER, SUPPLIER, EVAL_A, EVAL_B)}
    create = build.codec("ProcurementFactory").function("createProcurement")
    escrow = build.codec("MilestoneEscrow")
    submit, attest = escrow.function("submitEvidence"), escrow.function("attest")
    created_topic = build.codec("ProcurementFactory").topic("ProcurementCreated")
    per_procurement = _EVENTS_PER_CREATE + _EVENTS_PER_MILESTONE * milestones
    produced = 0
    serial = rpc.block_number()
    rpc.result("evm_setAutomine", [False])
    rpc.result("evm_setBlockGasLimit", [hex(2_000_000_000)])
    try:
        while produced < events:
            count = min(per_round, -(-(events - produced) // per_procurement))
            now = rpc.latest_timestamp()
            creates = []
            for k in range(count):
                serial += 1
                spec = ProcurementSpec(
                    procurement_id=keccak(text=f"ocds-bench-{chain_id}-{serial}-{k}-{time.time_ns()}"),
                    supplier=who[SUPPLIER],
                    evaluators=(who[EVAL_A], who[EVAL_B], dev_account(EVAL_C, chain_id).address),
                    quorum=2,
                    amounts=tuple(1_000 + i for i in range(milestones)),
                    due_dates=tuple(now + 30 * 86_400 + i for i in range(milestones)),
                    spec_hash=keccak(text=f"spec {serial}"),
                    title=f"Bench procurement {serial}",
                )
                line = dev_line(fiscal_year_containing(now)).as_tuple()
                data = "0x" + create.encode([spec.as_tuple(), sum(spec.amounts), line, b"\x00" * 32]).hex()
                creates.append({"from": who[OFFICER], "to": system.factory, "data": data, "gas": hex(3_000_000)})
            first_block = rpc.block_number() + 1
            _send_phase(rpc, creates)
            query = {"fromBlock": hex(first_block), "toBlock": "latest", "address": system.factory}
            logs = rpc.result("eth_getLogs", [query | {"topics": [created_topic]}])
            escrows = [checksum("0x" + log["topics"][2][-40:]) for log in logs]
            if len(escrows) != count:
                raise RuntimeError(f"expected {count} new escrows, found {len(escrows)}")
            pairs = [(address, m) for address in escrows for m in range(milestones)]
            evidence = [
                {
                    "from": who[SUPPLIER],
                    "to": address,
                    "gas": hex(300_000),
                    "data": "0x" + submit.encode([m, keccak(text=f"{address}{m}"), f"ipfs://bench/{m}"]).hex(),
                }
                for address, m in pairs
            ]
            _send_phase(rpc, evidence)
            for evaluator in (EVAL_A, EVAL_B):
                attestations = [
                    {
                        "from": who[evaluator],
                        "to": address,
                        "gas": hex(300_000),
                        "data": "0x" + attest.encode([m, 1, True, keccak(text=f"r{evaluator}{m}")]).hex(),
                    }
                    for address, m in pairs
                ]
                _send_phase(rpc, attestations)
            produced += count * per_procurement
    finally:
        rpc.result("evm_setAutomine", [True])
    return produced


def create_procurement(chain: Chain, milestones: int) -> str:
    """Create one funded procurement with open milestones (automine on); returns its escrow address."""
    chain_id = chain.rpc.chain_id
    factory = chain.build.codec("ProcurementFactory")
    now = chain.rpc.latest_timestamp()
    spec = ProcurementSpec(
        procurement_id=keccak(text=f"ocds-open-{time.time_ns()}"),
        supplier=dev_account(SUPPLIER, chain_id).address,
        evaluators=tuple(dev_account(i, chain_id).address for i in (EVAL_A, EVAL_B, EVAL_C)),
        quorum=2,
        amounts=tuple(5_000 + i for i in range(milestones)),
        due_dates=tuple(now + 30 * 86_400 + i for i in range(milestones)),
        spec_hash=keccak(text="open spec"),
        title="Open procurement",
    )
    args = [spec.as_tuple(), sum(spec.amounts), dev_line(fiscal_year_containing(now)).as_tuple(), b"\x00" * 32]
    data = "0x" + factory.function("createProcurement").encode(args).hex()
    officer = dev_account(OFFICER, chain_id).address
    receipt = send_and_wait(chain.rpc, {"from": officer, "to": chain.system.factory, "data": data})
    topic = factory.topic("ProcurementCreated")
    (log,) = [log for log in receipt["logs"] if log["topics"][0] == topic]
    return checksum("0x" + log["topics"][2][-40:])


# ---------------------------------------------------------------- measurements


def catch_up(chain: Chain, url: str) -> tuple[float, int, list[tuple[int, int]]]:
    """Catch the mirror at ``url`` up with the chain: the seconds it took (migrations aside), the events applied
    and the block ranges written."""
    engine = make_engine(url)
    try:
        indexer = Indexer(engine, ChainSource(chain.rpc), chain.system, chain.build, SyncConfig())
        with indexer:
            start_block = indexer.store.cursor().block_number  # type: ignore[union-attr]
            started = time.perf_counter()
            stats = indexer.catch_up()
            seconds = time.perf_counter() - started
        ranges = []
        lo = start_block + 1
        for hi, _ in stats.history:
            ranges.append((lo, hi))
            lo = hi + 1
        return seconds, stats.logs_applied, ranges
    finally:
        engine.dispose()


def ceiling(chain: Chain, ranges: Sequence[tuple[int, int]]) -> tuple[float, int]:
    """Fetch and decode the same ranges, writing nothing: the seconds it took and the events decoded (trusting none,
    as the indexer decodes before it maps)."""
    source = ChainSource(chain.rpc)
    decoder = EventDecoder(chain.build)
    topics = decoder.topics()
    kinds = trusted_emitters(chain.system)
    decoded = 0
    started = time.perf_counter()
    for lo, hi in ranges:
        raw = source.logs(lo, hi, topics)
        logs, _ = decode_logs(decoder, raw, kinds, source.chain_id)
        decoded += len(logs)
    return time.perf_counter() - started, decoded


@dataclass(frozen=True)
class CatchUpRun:
    """One catch-up of a fresh mirror, and the ceiling measured next to it in the same run."""

    events: int
    seconds: float
    ceiling_events: int
    ceiling_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def ceiling_events_per_s(self) -> float:
        return self.ceiling_events / self.ceiling_seconds

    @property
    def ratio_pct(self) -> float:
        """The catch-up's rate as a percentage of the ceiling's."""
        return 100 * self.events_per_s / self.ceiling_events_per_s


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(lowest, median, highest) of ``values``."""
    return min(values), statistics.median(values), max(values)


def catch_up_runs(
    chain: Chain,
    mirrors: Mapping[str, Callable[[int], AbstractContextManager[str]]],
    runs: int,
    log: Callable[[str], None],
) -> dict[str, list[CatchUpRun]]:
    """``runs`` runs, each catching up a fresh mirror of each kind (``mirrors[name](run)`` gives a fresh
    database's URL for the run) with the ceiling measured once, right after the first catch-up of the run; the
    order of the mirrors turns around on odd runs. Returns the runs of each mirror kind."""
    results: dict[str, list[CatchUpRun]] = {name: [] for name in mirrors}
    for run in range(runs):
        order = list(mirrors)
        if run % 2:
            order.reverse()
        timed: dict[str, tuple[float, int]] = {}
        measured: tuple[float, int] | None = None
        for name in order:
            with mirrors[name](run) as url:
                seconds, applied, ranges = catch_up(chain, url)
            timed[name] = (seconds, applied)
            if measured is None:
                measured = ceiling(chain, ranges)
        assert measured is not None
        ceiling_s, decoded = measured
        for name, (seconds, applied) in timed.items():
            results[name].append(CatchUpRun(applied, seconds, decoded, ceiling_s))
        line = ", ".join(
            f"{name} {of[-1].events_per_s:,.0f} events/s ({of[-1].ratio_pct:.1f}%)" for name, of in results.items()
        )
        log(f"run {run + 1}/{runs}: ceiling {decoded / ceiling_s:,.0f} events/s; {line}")
    return results


def _live_latency(chain: Chain, url: str, samples: int) -> list[float]:
    """Follow with a separate indexer process; for each new transaction, time from its block to its row."""
    env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(chain.var_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli_indexer", "index", "--db", url, "--poll", "0.02"],
        cwd=project_root(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    engine = make_engine(url)
    latencies: list[float] = []
    try:
        from sqlalchemy import text

        chain_id = chain.rpc.chain_id
        # By the primary key (chain id, block number, log index, tx hash), as the gateway finds rows.
        query = text("SELECT 1 FROM events WHERE chain_id = :c AND block_number = :b AND tx_hash = :h LIMIT 1")

        def present(receipt: dict[str, Any]) -> bool:
            number = int(str(receipt["blockNumber"]), 16)
            with engine.connect() as conn:
                found = conn.execute(query, {"c": chain_id, "b": number, "h": str(receipt["transactionHash"])})
                return found.first() is not None

        time.sleep(1.0)
        supplier = dev_account(SUPPLIER, chain_id).address
        approve = chain.build.codec("YenToken").function("approve")
        # Wait until the follower has caught up with what exists.
        deadline = time.monotonic() + 300
        head_tx: dict[str, Any] | None = None
        while head_tx is None or not present(head_tx):
            if process.poll() is not None:
                raise RuntimeError(f"the indexer exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            head_tx = send_and_wait(
                chain.rpc,
                {"from": supplier, "to": chain.system.token, "data": "0x" + approve.encode([supplier, 1]).hex()},
            )
            time.sleep(0.5)
            if time.monotonic() > deadline:
                raise RuntimeError("the follower did not catch up within 300 s")
        for i in range(samples):
            data = "0x" + approve.encode([supplier, i + 2]).hex()
            receipt = send_and_wait(chain.rpc, {"from": supplier, "to": chain.system.token, "data": data})
            mined = time.perf_counter()  # the block exists from here on
            while not present(receipt):
                if time.perf_counter() - mined > 30:
                    raise RuntimeError(f"{receipt['transactionHash']} not indexed within 30 s")
                time.sleep(0.002)
            latencies.append((time.perf_counter() - mined) * 1000)
            time.sleep(0.01)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        engine.dispose()
    return latencies


@contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with temporary_server("bench-pg-") as server_url:
        yield server_url


def _ratios(name: str, runs: Sequence[CatchUpRun]) -> dict[str, float]:
    lowest, median, highest = spread([run.ratio_pct for run in runs])
    return {
        f"{name}_ratio_median": round(median, 1),
        f"{name}_ratio_min": round(lowest, 1),
        f"{name}_ratio_max": round(highest, 1),
    }


# ---------------------------------------------------------------- scale: a million events


def _child(argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, int, str]:
    """Run a command as a child process to its end: its wall seconds, its peak resident memory in MiB (the
    kernel's ``ru_maxrss`` of that child alone, from ``wait4``) and its output; a failure raises."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            list(argv),
            cwd=project_root(),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} exited with {process.returncode}: {output[-2000:]}")
    return seconds, usage.ru_maxrss // 1024, output


def _read_latencies(url: str, chain_id: int, samples: int) -> dict[str, list[float]]:
    """The gateway's reads of a procurement on the mirror at ``url``, as its routes make them (``Reader``, an
    auditor's and the supplier's scope): its detail, its attestations page and its events page, each timed
    ``samples`` times over procurements spread across the whole chain. Milliseconds per read, by read."""
    from sqlalchemy import text

    from chain.roles import OrgKind, Role, org_code
    from gateway.identity import Principal
    from gateway.services.reads import LISTINGS, Page, Reader

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT procurement_id, supplier_org FROM procurements WHERE chain_id = :c ORDER BY escrow"),
                {"c": chain_id},
            ).all()
        step = max(1, len(rows) // samples)
        picked = [rows[i] for i in range(0, len(rows), step)][:samples]
        auditor = Principal("0x" + "aa" * 20, None, OrgKind.AUDIT_BODY, frozenset({Role.AUDITOR}))
        supplier_org = org_code(bytes.fromhex(str(picked[0].supplier_org)[2:]))
        supplier = Principal("0x" + "bb" * 20, supplier_org, OrgKind.SUPPLIER, frozenset({Role.SUPPLIER}))
        readers = [Reader(engine, chain_id, auditor), Reader(engine, chain_id, supplier)]
        timed: dict[str, list[float]] = {"detail": [], "attestations": [], "events": []}
        for n, row in enumerate(picked):
            reader = readers[n % 2]
            pid = str(row.procurement_id)
            reads: dict[str, Callable[[], object]] = {
                "detail": partial(reader.procurement_detail, pid),
                "attestations": partial(reader.rows, LISTINGS["attestations"], Page(0, 100), {"procurement_id": pid}),
                "events": partial(reader.events, after=None, limit=100, procurement_id=pid),
            }
            for name, read in reads.items():
                if n < 2:  # each reader's first reads compile and cache its statements, as a gateway's first do
                    read()
                started = time.perf_counter()
                read()
                timed[name].append((time.perf_counter() - started) * 1000)
        return timed
    finally:
        engine.dispose()


def _p99(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


def measure_scale(events: int, samples: int, log: Callable[[str], None]) -> dict[str, Any]:
    """A chain of ``events`` events on an in-memory anvil; then, each as the command-line tool runs it in a child
    process of its own (its peak resident memory measured): catch-up into a fresh SQLite mirror (`procure index
    --once`), `procure audit replay` into another, `procure audit verify --against-replay` of the first against
    that replay (the auditor's workflow: ``scale_replay_verify_s`` is the two), and `procure audit verify` with a
    replay of its own (``scale_verify_s``); then the gateway's reads on that mirror. The 1-minute load average is
    sampled before each command (``scale_load_avg``: the lowest and the highest)."""
    loads: list[float] = []

    def timed(name: str, argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, int, str]:
        loads.append(os.getloadavg()[0])
        seconds, mib, output = _child(argv, env)
        log(f"scale: {name} {seconds:.1f} s, peak RSS {mib} MiB (load average {loads[-1]:.1f} before it)")
        return seconds, mib, output

    def differences(output: str) -> int:
        return len(json.loads(output.strip().splitlines()[-1])["differences"])

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=False) as chain:
            started = time.perf_counter()
            produced = generate_events(chain, events, per_round=200)
            log(f"scale: generated {produced:,} events in {time.perf_counter() - started:.0f} s")
            env = {**os.environ, "PROCURE_RPC_URL": chain.node.url, "PROCURE_VAR": str(work)}
            cli = [sys.executable, "-m", "scripts.cli_indexer"]
            mirror, replayed = f"sqlite:///{work / 'scale.db'}", f"sqlite:///{work / 'replay.db'}"
            catch_up_s, index_mb, _ = timed("index --once", [*cli, "index", "--db", mirror, "--once"], env)
            engine = make_engine(mirror)
            try:
                with engine.connect() as conn:
                    from sqlalchemy import text

                    mirrored = int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
            finally:
                engine.dispose()
            log(f"scale: caught up {mirrored:,} events ({mirrored / catch_up_s:,.0f} events/s)")
            replay_s, replay_mb, _ = timed("audit replay", [*cli, "audit", "replay", "--db", replayed], env)
            verify_args = [*cli, "audit", "verify", "--db", mirror, "--json"]
            against_s, against_mb, against = timed(
                "audit verify --against-replay", [*verify_args, "--against-replay", replayed], env
            )
            verify_s, verify_mb, alone = timed("audit verify (its own replay)", verify_args, env)
            log(f"scale: differences {differences(against)} (against the replay), {differences(alone)} (alone)")
            timed_reads = _read_latencies(mirror, chain.rpc.chain_id, samples)
            p99s = {name: _p99(values) for name, values in timed_reads.items()}
            log("scale: gateway reads p99 " + ", ".join(f"{name} {p99:.1f} ms" for name, p99 in p99s.items()))
            return {
                "scale_events": mirrored,
                "scale_catch_up_s": round(catch_up_s, 1),
                "scale_events_per_s": round(mirrored / catch_up_s),
                "scale_replay_s": round(replay_s, 1),
                "scale_verify_against_replay_s": round(against_s, 1),
                "scale_replay_verify_s": round(replay_s + against_s, 1),
                "scale_verify_s": round(verify_s, 1),
                "scale_verify_differences": differences(against) + differences(alone),
                "scale_peak_rss_mb": max(index_mb, replay_mb, against_mb, verify_mb),
                "scale_index_rss_mb": index_mb,
                "scale_replay_rss_mb": replay_mb,
                "scale_verify_against_replay_rss_mb": against_mb,
                "scale_verify_rss_mb": verify_mb,
                "scale_load_avg": [round(min(loads), 1), round(max(loads), 1)],
                "scale_read_p99_ms": round(max(p99s.values()), 1),
                **{f"scale_read_{name}_p99_ms": round(p99, 1) for name, p99 in p99s.items()},
            }


def run(
    events: int,
    postgres_url: str | None,
    samples: int,
    log: Any,
    *,
    runs: int = 5,
    persistent: bool = False,
) -> dict[str, Any]:
    """The whole benchmark; returns the result object."""
    with tempfile.TemporaryDirectory(prefix="bench-indexer-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=persistent) as chain:
            started = time.perf_counter()
            produced = generate_events(chain, events)
            log(f"generated {produced} events in {time.perf_counter() - started:.1f} s")
            sqlite_url = f"sqlite:///{work / 'bench.db'}"

            @contextmanager
            def fresh_sqlite(run: int) -> Iterator[str]:
                for path in work.glob("bench.db*"):  # the previous run's mirror, its WAL and shared memory
                    path.unlink()
                yield sqlite_url

            with _postgres(postgres_url) as server_url:
                measured = catch_up_runs(
                    chain,
                    {"sqlite": fresh_sqlite, "postgres": lambda run: _fresh_database(server_url, f"bench_{run}")},
                    runs,
                    log,
                )
            sqlite_runs, postgres_runs = measured["sqlite"], measured["postgres"]
            for name, of in measured.items():
                lowest, median, highest = spread([r.ratio_pct for r in of])
                log(
                    f"{name}: {median:.1f}% of the ceiling, median of {runs} runs "
                    f"(lowest {lowest:.1f}%, highest {highest:.1f}%)"
                )
            started = time.perf_counter()
            engine = make_engine(sqlite_url)
            try:
                report = verify(engine, ChainSource(chain.rpc), chain.system, chain.build)
            finally:
                engine.dispose()
            replay_verify_s = time.perf_counter() - started
            log(f"replay + verify: {replay_verify_s:.2f} s, {len(report.differences)} differences")
            latencies = _live_latency(chain, sqlite_url, samples)
            p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
            log(f"live: p50 {statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms over {len(latencies)} txs")
            return {
                "events": sqlite_runs[-1].events,
                "runs": runs,
                "sqlite_events_per_s": round(statistics.median(r.events_per_s for r in sqlite_runs)),
                "postgres_events_per_s": round(statistics.median(r.events_per_s for r in postgres_runs)),
                "ceiling_events_per_s": round(statistics.median(r.ceiling_events_per_s for r in sqlite_runs)),
                **_ratios("sqlite", sqlite_runs),
                **_ratios("postgres", postgres_runs),
                "live_p99_ms": round(p99, 1),
                "replay_verify_s": round(replay_verify_s, 2),
                "verify_differences": len(report.differences),
            }


@click.command()
@click.option(
    "--events", type=click.IntRange(100), default=100_000, show_default=True, help="Events to generate (the chain)."
)
@click.option(
    "--runs",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Catch-ups of fresh mirrors of that chain, each with its ceiling; the median is reported.",
)
@click.option(
    "--postgres-url",
    default=None,
    help="PostgreSQL server to measure, on which a database per run is created and dropped (default: a temporary "
    "pgserver).",
)
@click.option("--samples", type=click.IntRange(2), default=200, show_default=True, help="Live-latency samples.")
@click.option(
    "--persistent-anvil",
    is_flag=True,
    help="Run anvil as `procure up` does (state dumped to disk every second), not in memory.",
)
@click.option(
    "--scale",
    type=click.IntRange(1_000),
    is_flag=False,
    flag_value=1_000_000,
    default=None,
    help="Then build a chain of this many events (1,000,000 if given without a number) and measure catch-up, "
    "`procure audit replay`, `audit verify --against-replay` and `audit verify` with its own replay (time and peak "
    "memory, each a process of its own) and the gateway's reads on that mirror.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
def main(
    events: int,
    runs: int,
    postgres_url: str | None,
    samples: int,
    persistent_anvil: bool,
    scale: int | None,
    as_json: bool,
) -> None:
    """Generate events on anvil and measure the indexer."""

    def log(line: str) -> None:
        click.echo(line, err=True)

    result = run(events, postgres_url, samples, log, runs=runs, persistent=persistent_anvil)
    if scale is not None:
        result |= measure_scale(scale, samples, log)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<24} {value}")


if __name__ == "__main__":
    main()
