"""Benchmark the dashboard: the time to answer each read page over a mirror of 1,000 budget lines and 10,000
procurements, and the time a mirrored change takes to reach a page left open in a browser.

    .venv/bin/python scripts/bench_dashboard.py [--json] [--procurements N] [--requests N] [--changes N]
        [--only pages|live]

Pages (``<page>_p50_ms``, ``<page>_p95_ms``):

1. The world is ``scripts/bench_budget.py``'s (its generators, not a third): anvil (in memory) with the system
   deployed and the dev cast seeded; the finance authority enacts 10 items of the Ministry of Defense, its finance
   officer distributes each among 100 sub-item lines (1,000 lines) and 500 transfers are requested and approved;
   the indexer catches up into SQLite; then ``--procurements`` procurements are written **directly in SQL**, each
   obligated on a line (half with a disbursement), and 200 transfers left pending.
2. The gateway (uvicorn, one worker, as ``procure serve``) serves that mirror; the finance authority signs in
   (Sign-In with Ethereum; the session travels in the dashboard's cookie) and each page is read ``--requests``
   times, one request at a time, after a few warm-up reads: the budget overview (the summary of all 1,000 lines,
   a random page of 100 of them and the year's chart), one line's page (a random line: its history, transfers,
   procurements charged and chart), the procurements list (a random page of 50), the list searched (a word of the
   titles matching about 1 in 9, and a fiscal year), one procurement's page (a random one: its records and
   flags), the red flags (the first page, after the flags were computed once) and one procurement's trail (a
   random one). p50 and p95 per page, in ms, as the client sees them on the same machine (target: p95 <= 150 ms
   each).

The procurements written in SQL have the budget rows bench_budget writes (obligation, disbursement) but no
milestones, evidence, attestations, payments or raw events: their procurement and trail pages are therefore the
pages' fixed cost (every query run, little to render). ``scripts/bench_oversight.py`` measures the trail of
procurements with their events.

Live (``live_p50_ms``, ``live_p99_ms``; issue 17's target: p99 <= 1,500 ms from the block's timestamp):

3. The demo world as `procure up` runs it, on a real node: anvil (``chain.node.start_anvil``, persistent, which
   stamps each block with this machine's clock), the system deployed and the demo seeded (the browser tests'
   ``build_demo``), an indexer following the chain (``Indexer.follow``) at `procure index`'s poll interval
   (``--poll``'s default, 0.25 s; ``--index-poll`` here), the gateway served by uvicorn, and Debian's Chromium
   (/usr/bin/chromium) with the officer's procurement page open. The ministry admin then pauses the escrow
   ``--changes`` times, one transaction (one block) at a time; each time the page must show the block without a
   reload: its live part (htmx over the page's server-sent events) is swapped for one rendered from a mirror that has
   the block (``#live[data-after] >= block``), polled every 5 ms.
4. Each change is timed from its block's timestamp to the page showing it. Block timestamps are whole seconds, so
   a figure is up to 1 s more than the time since the block was actually mined (``live_from_mined_*`` is from the
   moment its receipt came back). p99 is by nearest rank: of 30 changes, the largest. If the chain's clock is not
   the machine's (a block stamped more than 1 s before or after its transaction was sent:
   ``live_chain_clock_ahead_s`` is the largest difference), the block figures mean nothing and are null.

Run it with ``nice -n 19`` on a shared machine; timings vary with what else runs.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx

if __package__ in (None, ""):  # run as a file: the live part uses the browser tests' world (tests/web)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain import TxSender, checksum, dev_account, fiscal_year_containing, project_root
from chain.clients import EscrowClient
from chain.connection import connect
from chain.devnet import DEV_INDEX
from chain.node import free_port, start_anvil
from chain.system import error_decoder
from scripts.bench_budget import _all_lines, generate_budget_events, grow_mirror
from scripts.bench_gateway import _gateway_env, _start_gateway
from scripts.bench_indexer import catch_up, running_anvil
from scripts.cli_indexer import POLL_S
from scripts.gateway_cluster import sign_in

TARGET_P95_MS = 150.0
TARGET_LIVE_P99_MS = 1_500.0  # issue 17: a mirrored change reaches an open page within 1.5 s (p99, from the block)
CHROMIUM = "/usr/bin/chromium"
_PAGE_SIZE = 50  # the procurements page's (gateway/web/pages.py)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] if len(values) >= 2 else values[0]


def _read(client: httpx.Client, path: str) -> float:
    """One page read: ms; a page that is not a 200 stops the benchmark."""
    started = time.perf_counter()
    response = client.get(path)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return took


def _measure(client: httpx.Client, paths: Callable[[], str], requests: int, warm_up: int = 5) -> list[float]:
    for _ in range(warm_up):
        _read(client, paths())
    return [_read(client, paths()) for _ in range(requests)]


def run(procurements: int, requests: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The pages' benchmark; returns the result object."""
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=False) as chain:
            started = time.perf_counter()
            generated = generate_budget_events(chain, rounds=0)
            log(f"generated {generated} budget events in {time.perf_counter() - started:.1f} s")
            url = f"sqlite:///{work / 'ledger.db'}"
            catch_up_s, applied, _ = catch_up(chain, url)
            log(f"catch-up: {applied} events in {catch_up_s:.2f} s")
            started = time.perf_counter()
            grown = grow_mirror(work / "ledger.db", chain.rpc.chain_id, procurements, chain.rpc.latest_timestamp())
            log(f"mirror grown in SQL: {grown} in {time.perf_counter() - started:.1f} s")
            port = free_port()
            accounts = {"relayer": dev_account(DEV_INDEX["relayer"], chain.rpc.chain_id)}
            env = _gateway_env(chain.node.url, work, accounts, port) | {"PROCURE_DB_URL": url, "PROCURE_VAR": str(work)}
            gateway = _start_gateway(env, port, work, start_s=600)  # a busy machine starts it slowly
            try:
                base = f"http://127.0.0.1:{port}"
                token = sign_in(base, dev_account(DEV_INDEX["finance"], chain.rpc.chain_id))["Authorization"]
                fiscal_year = fiscal_year_containing(chain.rpc.latest_timestamp())
                with httpx.Client(base_url=base, timeout=600, headers={"Accept-Language": "ja"}) as client:
                    client.cookies.set("procure_session", token.removeprefix("Bearer "), path="/ui")
                    results = _pages(client, token, fiscal_year, procurements, requests, log)
            finally:
                gateway.terminate()
                try:
                    gateway.wait(10)
                except Exception:
                    gateway.kill()
    return {
        "lines": 1_000,
        "procurements_in_sql": procurements,
        "requests_per_page": requests,
        "target_p95_ms": TARGET_P95_MS,
        **results,
    }


def _pages(
    client: httpx.Client, token: str, fiscal_year: int, procurements: int, requests: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """p50 and p95 of each page, read ``requests`` times."""
    rng = random.Random(17)  # noqa: S311 - which lines and procurements are read, not a secret
    lines = [line["series"] for line in _all_lines(client, {"Authorization": token}, fiscal_year)]
    assert len(lines) >= 1_000, f"the finance authority sees {len(lines)} lines, not 1,000"
    escrows = [checksum("0x" + f"{i + 1:040x}") for i in range(procurements)]  # bench_budget's grown procurements
    pages = max((procurements + _PAGE_SIZE - 1) // _PAGE_SIZE, 1)
    started = time.perf_counter()
    _read(client, "/ui/audit/flags")  # the flags are computed once, on the first read (then refreshed behind)
    log(f"red flags computed in {time.perf_counter() - started:.1f} s")
    plan: dict[str, Callable[[], str]] = {
        "overview": lambda: f"/ui/budget?year={fiscal_year}&page={rng.randrange(1, 11)}",
        "line": lambda: f"/ui/budget/lines/{fiscal_year}/{rng.choice(lines)}",
        "list": lambda: f"/ui/procurements?page={rng.randrange(1, pages + 1)}",
        "list_search": lambda: f"/ui/procurements?q=procurement+{rng.randrange(1, 10)}&year={fiscal_year}",
        "procurement": lambda: f"/ui/procurements/{rng.choice(escrows)}",
        "flags": lambda: "/ui/audit/flags",
        "trail": lambda: f"/ui/audit/procurements/{rng.choice(escrows)}/trail",
    }
    results: dict[str, Any] = {}
    for name, path in plan.items():
        times = _measure(client, path, requests)
        p50, p95 = round(statistics.median(times), 1), round(_p95(times), 1)
        results[f"{name}_p50_ms"], results[f"{name}_p95_ms"] = p50, p95
        log(f"{name}: p50 {p50} ms, p95 {p95} ms")
    results["all_within_target"] = all(results[f"{name}_p95_ms"] <= TARGET_P95_MS for name in plan)
    return results


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def _shown(page: Any, block: int, timeout_s: float = 30.0) -> float:
    """When the open page shows ``block`` (its live part rendered from a mirror that has it), by this machine's
    clock. Polled from here every 5 ms (Playwright's wait_for_function evaluates a string in the page, which the
    pages' CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while int(page.evaluate("document.getElementById('live').dataset.after")) < block:
        if time.monotonic() > deadline:
            raise TimeoutError(f"block {block} did not reach the open page within {timeout_s} s")
        time.sleep(0.005)
    return time.time()


def live(changes: int, log: Callable[[str], None], index_poll_s: float = POLL_S) -> dict[str, Any]:
    """Time ``changes`` mirrored changes of the demo's procurement on its open page (the docstring's 3 and 4)."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import build_demo  # the browser tests' demo world and serving, not a second copy
    from tests.web.live import following, serving

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-live-") as folder:
        work = Path(folder)
        node = start_anvil(project_root(), work / "anvil", port=free_port())
        try:
            demo = build_demo(work, rpc=connect(node.url))
            state = demo.app.state.gateway
            chain_id = demo.rpc.chain_id
            admin = TxSender(demo.rpc, dev_account(DEV_INDEX["mod-admin"], chain_id), error_decoder(state.ledger.build))
            escrow = EscrowClient(demo.rpc, demo.escrow, admin, state.ledger.build)
            from_mined: list[float] = []
            from_block: list[float] = []
            with following(demo, index_poll_s), serving(demo.app) as base_url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_context(locale="en-GB").new_page()
                page.goto(f"{base_url}/ui/sign-in")
                page.locator("#account").select_option(str(DEV_INDEX["officer"]))
                page.get_by_role("button", name="Sign in", exact=True).click()
                page.wait_for_url(f"{base_url}/ui/budget")
                page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
                page.wait_for_load_state("networkidle")
                ahead: list[float] = []  # the block's timestamp less when it was sent (-1 < ... <= RPC time)
                for step in range(changes):
                    sent = time.time()
                    receipt = escrow.pause_until(demo.rpc.latest_timestamp() + 3_600 * (step + 1))
                    mined = time.time()
                    block = demo.rpc.request("eth_getBlockByNumber", [hex(receipt.block_number), False])["result"]
                    seen = _shown(page, receipt.block_number)
                    from_mined.append((seen - mined) * 1000)
                    from_block.append((seen - int(block["timestamp"], 16)) * 1000)
                    ahead.append(int(block["timestamp"], 16) - sent)
                    time.sleep(_spread_pause(step))
                reloaded = page.evaluate("performance.getEntriesByType('navigation').length") != 1
                browser.close()
        finally:
            node.stop()
    # Stamped with this machine's clock, a block's timestamp is the second it was mined in: after the second the
    # transaction was sent in began, not after the receipt came back.
    same_clock = all(-1.0 < value <= 1.0 for value in ahead)
    p99 = round(_nearest_rank(from_block, 99), 1) if same_clock else None
    log(f"live: {changes} changes, p50 {_nearest_rank(from_block, 50):.0f} ms, p99 {p99} ms from the block's timestamp")
    return {
        "live_changes": changes,
        "live_p50_ms": round(_nearest_rank(from_block, 50), 1) if same_clock else None,
        "live_p99_ms": p99,
        "live_from_mined_p50_ms": round(_nearest_rank(from_mined, 50), 1),
        "live_from_mined_p99_ms": round(_nearest_rank(from_mined, 99), 1),
        "live_timestamp_resolution_s": 1,
        "live_chain_clock_ahead_s": round(max(ahead), 2),
        "live_index_poll_s": index_poll_s,
        "live_target_p99_ms": TARGET_LIVE_P99_MS,
        "live_within_target": p99 is not None and p99 <= TARGET_LIVE_P99_MS and not reloaded,
        "live_page_reloaded": reloaded,
    }


def _spread_pause(step: int) -> float:
    """A pause after each change, spread over one second, so that changes land at every point of a block's second
    (mined right after the indexer polled or right before; early or late in the timestamp's second)."""
    return ((step * 7) % 10) / 10 + 0.05


@click.command()
@click.option(
    "--procurements", type=click.IntRange(1), default=10_000, show_default=True, help="Procurements written in SQL."
)
@click.option("--requests", type=click.IntRange(2), default=200, show_default=True, help="Reads of each page timed.")
@click.option(
    "--changes", type=click.IntRange(1), default=30, show_default=True, help="Live changes timed on the open page."
)
@click.option(
    "--index-poll",
    type=click.FloatRange(0.01, 5),
    default=POLL_S,
    show_default=True,
    help="The live part's indexer poll interval, in seconds (`procure index --poll`).",
)
@click.option("--only", type=click.Choice(["pages", "live"]), default=None, help="Run one part only (default: both).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
def main(procurements: int, requests: int, changes: int, index_poll: float, only: str | None, as_json: bool) -> None:
    """Time the dashboard's read pages over bench_budget's world, and mirrored changes reaching an open page."""

    def log(line: str) -> None:
        click.echo(line, err=True)

    result: dict[str, Any] = {}
    if only in (None, "pages"):
        result |= run(procurements, requests, log)
    if only in (None, "live"):
        result |= live(changes, log, index_poll)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<24} {value}")


if __name__ == "__main__":
    main()
