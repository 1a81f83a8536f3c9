"""Benchmark the budget mirror and its reads: the indexer's catch-up of budget events against its ceiling, and
the gateway's per-ministry summary and one line's detail over a mirror of 1,000 lines and 100,000 procurements.

    .venv/bin/python scripts/bench_budget.py [--json] [--rounds N] [--runs N] [--procurements N] [--requests N]

1. anvil (in memory) with the system deployed and the dev cast seeded (``scripts.bench_indexer``); on it the
   finance authority enacts 10 items of the Ministry of Defense and its finance officer distributes each among 100
   sub-item lines (1,000 lines: SeriesRegistered and Distributed), then ``--rounds`` more distributions of every
   line (one yen taken back or given) and 500 transfers between lines requested and approved (TransferRequested,
   TransferApproved, Transferred): budget events, each moving a line.
2. The indexer catches up into SQLite (its pipelined catch-up); the ceiling is the same ``eth_getLogs`` ranges
   fetched and decoded without writing (``bench_indexer``'s). ``catch_up_vs_ceiling_pct`` is the ratio: the median
   of ``--runs`` catch-ups of a fresh mirror, each against the ceiling measured right after it
   (``bench_indexer.catch_up_runs``), with the lowest and highest.
3. The mirror is then grown **directly in SQL** (no chain behind these rows, so ``audit verify`` would name them):
   ``--procurements`` procurements of the ministry spread over the 1,000 lines, each with its obligation, half with a
   disbursement, their line changes, and the lines' totals made to agree with them; 200 more transfers left pending.
4. The gateway (uvicorn, one worker, as ``procure serve``) serves that mirror; signed in as the finance authority
   (who sees every line), the fiscal year's summary (all 1,000 lines summed per ministry and per item, with pending
   transfers, idle funds and projected lapse) and one random line's detail are each read ``--requests`` times, one
   request at a time: ``summary_p99_ms`` and ``line_p99_ms`` (targets: 50 ms each).

Run it with ``nice -n 19`` on a shared machine; timings vary with what else runs.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
from eth_utils.crypto import keccak

from chain import checksum, dev_account, fiscal_year_containing
from chain.budget import AppropriationAct, ItemKey, LineKey
from chain.devnet import DEV_INDEX
from chain.node import free_port
from chain.roles import org_id
from scripts.bench_gateway import _gateway_env, _start_gateway
from scripts.bench_indexer import Chain, _send_phase, catch_up_runs, running_anvil, spread
from scripts.gateway_cluster import sign_in

_ITEMS, _LINES_PER_ITEM = 10, 100
_ITEM_YEN = 10**12  # an item's appropriation
_LINE_YEN = 5 * 10**9  # a line's first distribution
_TRANSFERS = 500
_PENDING = 200


def _codes(item: int, sub: int | None = None) -> tuple[str, str, str | None]:
    return ("MOD-HQ", f"BENCH-ITEM-{item}", None if sub is None else f"B-{item}-{sub:03d}")


def _lines(fiscal_year: int) -> list[LineKey]:
    return [
        LineKey.of(fiscal_year, "MOD", "MOD-HQ", f"BENCH-ITEM-{item}", f"B-{item}-{sub:03d}")
        for item in range(_ITEMS)
        for sub in range(_LINES_PER_ITEM)
    ]


def generate_budget_events(chain: Chain, rounds: int) -> int:
    """Enact, distribute, redistribute and transfer on anvil; returns how many budget events that emitted."""
    rpc, build, system = chain.rpc, chain.build, chain.system
    chain_id = rpc.chain_id
    fiscal_year = fiscal_year_containing(rpc.latest_timestamp())
    finance = dev_account(DEV_INDEX["finance"], chain_id).address
    treasury = dev_account(DEV_INDEX["treasury"], chain_id).address
    ledger, office = build.codec("BudgetLedger"), build.codec("BudgetOffice")
    enact, distribute = ledger.function("enactAppropriation"), ledger.function("distribute")
    request, approve = office.function("requestTransfer"), office.function("approveTransfer")

    def tx(sender: str, to: str, data: bytes) -> dict[str, Any]:
        return {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(1_000_000)}

    rpc.result("evm_setAutomine", [False])
    rpc.result("evm_setBlockGasLimit", [hex(2_000_000_000)])
    try:
        items = [ItemKey(fiscal_year, org_id("MOD"), *(org_id(c) for c in _codes(i)[:2])) for i in range(_ITEMS)]
        instrument = keccak(text="bench budget")
        _send_phase(
            rpc,
            [
                tx(
                    finance,
                    system.budget,
                    enact.encode([key.as_tuple(), int(AppropriationAct.INITIAL), _ITEM_YEN, 3, instrument]),
                )
                for key in items
            ],
        )
        lines = _lines(fiscal_year)
        _send_phase(
            rpc, [tx(treasury, system.budget, distribute.encode([line.as_tuple(), _LINE_YEN])) for line in lines]
        )
        for round_ in range(rounds):
            change = -1 if round_ % 2 == 0 else 1
            _send_phase(
                rpc, [tx(treasury, system.budget, distribute.encode([line.as_tuple(), change])) for line in lines]
            )
        # Transfers between neighbouring lines of one item, requested and approved.
        pairs = [(lines[i], lines[i + 1]) for i in range(0, 2 * _TRANSFERS, 2)]
        requested_at: list[int] = []
        first = rpc.block_number() + 1
        _send_phase(
            rpc,
            [
                tx(
                    treasury,
                    system.budget_office,
                    request.encode([(a.as_tuple(), b.as_tuple(), 1_000, keccak(text=f"r{i}"))]),
                )
                for i, (a, b) in enumerate(pairs)
            ],
        )
        topic = office.topic("TransferRequested")
        logs = rpc.result("eth_getLogs", [{"fromBlock": hex(first), "toBlock": "latest", "topics": [topic]}])
        decoded = sorted((int(log["topics"][1], 16), int(log["data"][-64:], 16)) for log in logs)
        requested_at = [at for _, at in decoded]
        ids = [transfer_id for transfer_id, _ in decoded]
        _send_phase(
            rpc,
            [
                tx(
                    finance,
                    system.budget_office,
                    approve.encode(
                        [ids[i], (a.as_tuple(), b.as_tuple(), 1_000, keccak(text=f"r{i}")), treasury, requested_at[i]]
                    ),
                )
                for i, (a, b) in enumerate(pairs)
            ],
        )
    finally:
        rpc.result("evm_setAutomine", [True])
    lines_count = _ITEMS * _LINES_PER_ITEM
    return _ITEMS + 2 * lines_count + rounds * lines_count + 3 * _TRANSFERS


def _insert(db: sqlite3.Connection, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` into ``table`` (the schema's own names only; every value is a parameter)."""
    marks = ", ".join(["?"] * len(columns.split(",")))
    db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def grow_mirror(path: Path, chain_id: int, procurements: int, now: int, seed: int = 15) -> dict[str, int]:
    """Write ``procurements`` procurements with their budget rows straight into the SQLite mirror at ``path``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible spread, not a secret
    db = sqlite3.connect(path)
    try:
        head = db.execute("SELECT block_number FROM cursors WHERE chain_id = ?", (chain_id,)).fetchone()[0]
        series = [row[0] for row in db.execute("SELECT series FROM budget_series WHERE item LIKE '0x42454e4348%'")]
        year = db.execute("SELECT MAX(fiscal_year) FROM budget_lines").fetchone()[0]
        mod, nve = "0x" + org_id("MOD").hex(), "0x" + org_id("NVE").hex()
        officer = "0x" + "0f" * 20
        procurement_rows: list[tuple[Any, ...]] = []
        obligations: list[tuple[Any, ...]] = []
        disbursements: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        obligated: dict[int, int] = dict.fromkeys(series, 0)
        disbursed: dict[int, int] = dict.fromkeys(series, 0)
        for i in range(procurements):
            escrow = checksum("0x" + f"{i + 1:040x}")  # as the indexer writes addresses
            block = 1 + i * head // procurements
            tx = "0x" + keccak(text=f"bench tx {i}").hex()
            line = series[i % len(series)]
            amount = rng.randrange(1_000_000, 40_000_000)
            terms = (chain_id, escrow, "0x" + keccak(text=f"pid {i}").hex(), mod, nve, officer, officer, "[]", 2)
            made = (f"Bench procurement {i}", "0x" + "00" * 32, str(amount), 3, 2_592_000, 7_776_000, block, tx, 0)
            procurement_rows.append((*terms, *made, str(amount), "0", "0", "0", 0))
            obligated[line] += amount
            obligations.append(
                (
                    chain_id,
                    tx,
                    1,
                    block,
                    escrow,
                    line,
                    year,
                    mod,
                    mod,
                    officer,
                    str(amount),
                    str(obligated[line]),
                    str(amount),
                )
            )
            changes.append(
                (chain_id, tx, 1, block, line, year, "Obligated", None, str(obligated[line]), None, None, None, None)
            )
            if i % 2 == 0:
                paid = amount // 3
                disbursed[line] += paid
                pay_tx = "0x" + keccak(text=f"bench pay {i}").hex()
                disbursements.append((chain_id, pay_tx, 2, block, escrow, line, year, str(paid), str(disbursed[line])))
                changes.append(
                    (
                        chain_id,
                        pay_tx,
                        2,
                        block,
                        line,
                        year,
                        "Disbursed",
                        None,
                        None,
                        str(disbursed[line]),
                        None,
                        None,
                        None,
                    )
                )
        with db:
            _insert(
                db,
                "procurements",
                "chain_id, escrow, procurement_id, ministry_org, supplier_org, supplier, officer, panel, quorum, "
                "title, spec_hash, funded, milestone_count, ruling_period, grace_period, block_number, tx_hash, "
                "log_index, total_funded, total_released, total_refunded, total_owed, paused_until",
                procurement_rows,
            )
            _insert(
                db,
                "budget_obligations",
                "chain_id, tx_hash, log_index, block_number, escrow, series, fiscal_year, buyer, line_ministry, "
                "officer, amount, line_obligated, escrow_obligated",
                obligations,
            )
            _insert(
                db,
                "budget_disbursements",
                "chain_id, tx_hash, log_index, block_number, escrow, series, fiscal_year, amount, line_disbursed",
                disbursements,
            )
            _insert(
                db,
                "budget_line_changes",
                "chain_id, tx_hash, log_index, block_number, series, fiscal_year, event, allotted, obligated, "
                "disbursed, carry_over, lapsed, settled",
                changes,
            )
            for line in series:
                db.execute(
                    "UPDATE budget_lines SET obligated = ?, disbursed = ?, block_number = ? "
                    "WHERE chain_id = ? AND series = ? AND fiscal_year = ?",
                    (str(obligated[line]), str(disbursed[line]), rng.randrange(1, head + 1), chain_id, line, year),
                )
            codes = {
                row[0]: row[1:] for row in db.execute("SELECT series, organization, item, sub_item FROM budget_series")
            }
            requester = "0x" + "0e" * 20
            _insert(
                db,
                "budget_transfer_requests",
                "chain_id, tx_hash, log_index, block_number, transfer_id, ministry, requester, fiscal_year, "
                "from_organization, from_item, from_sub_item, to_organization, to_item, to_sub_item, amount, "
                "rationale_hash, between_items, requested_at",
                [
                    (chain_id, "0x" + keccak(text=f"pending {k}").hex(), 0, head, str(10**9 + k), mod, requester, year)
                    + codes[series[k]]
                    + codes[series[-1 - k]]
                    + ("1000", "0x" + "00" * 32, 0, now - 86_400 * (k % 30))
                    for k in range(_PENDING)
                ],
            )
    finally:
        db.close()
    return {"procurements": procurements, "obligations": len(obligations), "disbursements": len(disbursements)}


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else values[0]


def _timed(client: httpx.Client, path: str, headers: dict[str, str], count: int) -> list[float]:
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return times


def run(rounds: int, procurements: int, requests: int, log: Callable[[str], None], *, runs: int = 5) -> dict[str, Any]:
    """The whole benchmark; returns the result object."""
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=False) as chain:
            started = time.perf_counter()
            generated = generate_budget_events(chain, rounds)
            log(f"generated {generated} budget events in {time.perf_counter() - started:.1f} s")
            url = f"sqlite:///{work / 'ledger.db'}"

            @contextmanager
            def fresh_mirror(run: int) -> Iterator[str]:
                for path in work.glob("ledger.db*"):  # the previous run's mirror, its WAL and shared memory
                    path.unlink()
                yield url

            catch_ups = catch_up_runs(chain, {"sqlite": fresh_mirror}, runs, log)["sqlite"]
            lowest, median, highest = spread([c.ratio_pct for c in catch_ups])
            applied = catch_ups[-1].events
            started = time.perf_counter()
            now = chain.rpc.latest_timestamp()
            grown = grow_mirror(work / "ledger.db", chain.rpc.chain_id, procurements, now)
            log(f"mirror grown in SQL: {grown} in {time.perf_counter() - started:.1f} s")
            port = free_port()
            accounts = {"relayer": dev_account(DEV_INDEX["relayer"], chain.rpc.chain_id)}
            env = _gateway_env(chain.node.url, work, accounts, port) | {"PROCURE_DB_URL": url, "PROCURE_VAR": str(work)}
            gateway = _start_gateway(env, port, work, start_s=600)  # a busy machine starts it slowly
            try:
                base = f"http://127.0.0.1:{port}"
                finance = sign_in(base, dev_account(DEV_INDEX["finance"], chain.rpc.chain_id))
                fiscal_year = fiscal_year_containing(chain.rpc.latest_timestamp())
                with httpx.Client(base_url=base, timeout=30) as client:
                    summary_path = f"/budget/summary?fiscalYear={fiscal_year}"
                    summary = client.get(summary_path, headers=finance).json()
                    lines = sum(m["totals"]["lines"] for m in summary["ministries"])
                    series = [line["series"] for line in _all_lines(client, finance, fiscal_year)]
                    _timed(client, summary_path, finance, 20)  # warm up
                    summary_ms = _timed(client, summary_path, finance, requests)
                    rng = random.Random(7)  # noqa: S311 - which lines are read, not a secret
                    line_ms: list[float] = []
                    for _ in range(requests):
                        line_ms += _timed(client, f"/budget/lines/{fiscal_year}/{rng.choice(series)}", finance, 1)
            finally:
                gateway.terminate()
                try:
                    gateway.wait(10)
                except Exception:
                    gateway.kill()
            log(
                f"summary of {lines} lines: p50 {statistics.median(summary_ms):.1f} ms, p99 {_p(summary_ms, 99):.1f} ms"
            )
            log(f"one line: p50 {statistics.median(line_ms):.1f} ms, p99 {_p(line_ms, 99):.1f} ms")
            return {
                "lines": lines,
                "procurements_in_sql": procurements,
                "budget_events_generated": generated,
                "events_applied": applied,
                "catch_up_events_per_s": round(statistics.median(c.events_per_s for c in catch_ups)),
                "ceiling_events_per_s": round(statistics.median(c.ceiling_events_per_s for c in catch_ups)),
                "catch_up_vs_ceiling_pct": round(median, 1),
                "catch_up_vs_ceiling_pct_min": round(lowest, 1),
                "catch_up_vs_ceiling_pct_max": round(highest, 1),
                "catch_up_runs": runs,
                "summary_p50_ms": round(statistics.median(summary_ms), 1),
                "summary_p99_ms": round(_p(summary_ms, 99), 1),
                "line_p50_ms": round(statistics.median(line_ms), 1),
                "line_p99_ms": round(_p(line_ms, 99), 1),
            }


def _all_lines(client: httpx.Client, headers: dict[str, str], fiscal_year: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = client.get(
            "/budget/lines", headers=headers, params={"fiscalYear": fiscal_year, "offset": len(found), "limit": 500}
        ).json()
        found += page["data"]
        if len(found) >= page["count"] or not page["data"]:
            return found


@click.command()
@click.option("--rounds", type=click.IntRange(0), default=20, show_default=True, help="Redistributions of every line.")
@click.option(
    "--procurements", type=click.IntRange(0), default=100_000, show_default=True, help="Procurements written in SQL."
)
@click.option("--requests", type=click.IntRange(2), default=300, show_default=True, help="Reads of each kind timed.")
@click.option(
    "--runs",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Catch-ups of fresh mirrors, each with its ceiling; the median ratio is reported.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
def main(rounds: int, procurements: int, requests: int, runs: int, as_json: bool) -> None:
    """Generate budget events on anvil, grow the mirror, and measure the catch-up and the gateway's budget reads."""

    def log(line: str) -> None:
        click.echo(line, err=True)

    result = run(rounds, procurements, requests, log, runs=runs)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<26} {value}")


if __name__ == "__main__":
    main()
