"""Live dashboard benchmark: how long a mirrored change takes to reach a procurement page left open in a browser.

The world is the browser tests' (``tests.web``): the demo as `make up` seeds it on eth-tester, the gateway served
by uvicorn, an indexer following the chain (polling every 50 ms), and Debian's Chromium (/usr/bin/chromium) with
the officer's procurement page open. The ministry admin then pauses the escrow ``--changes`` times, one
transaction (one block) at a time; each time the page must show the block without a reload: its live part (htmx
over the page's server-sent events) is swapped for one rendered from a mirror that has the block
(``#live[data-after] >= block``).

Reported in milliseconds: ``fromMined``, from the moment the transaction's receipt was returned (the block mined,
which on a live chain is within a second of the block's timestamp) to the moment the page shows it. Issue 17
measures from the block's timestamp; that clock (``fromBlockTimestamp``) is reported only when the chain's clock
is the machine's: eth-tester stamps each block its parent's time plus one second, so after the demo's seeding its
clock runs about a minute ahead (``chainClockAheadS``) and the figure would mean nothing. p99 of 20 changes is
their maximum.

Run from the repository root: ``nice -n 19 .venv/bin/python scripts/bench_live.py [--changes 20] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, sync_playwright

from chain import TxSender
from chain.clients import EscrowClient
from chain.devnet import DEV_INDEX
from chain.keys import dev_account
from chain.system import error_decoder
from tests.web.conftest import build_demo
from tests.web.live import following, serving

CHROMIUM = "/usr/bin/chromium"
ISSUE_LIMIT_MS = 1_500  # issue 17: a mirrored change reaches an open page within 1.5 s (p99, from the block)


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(values, 50), 1),
        "p99": round(_percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


def _shown(page: Page, block: int, timeout_s: float = 10.0) -> float:
    """When the page shows ``block``: its live part was rendered from a mirror that has it. Polled from here every
    5 ms (Playwright's own wait_for_function evaluates a string in the page, which the pages' CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while int(page.evaluate("document.getElementById('live').dataset.after")) < block:
        if time.monotonic() > deadline:
            raise TimeoutError(f"block {block} did not reach the open page within {timeout_s} s")
        time.sleep(0.005)
    return time.time()


def measure(changes: int) -> dict[str, Any]:
    """Make ``changes`` changes of the demo's procurement and time each one's arrival on the open page."""
    demo = build_demo(Path(tempfile.mkdtemp(prefix="bench-live-")))
    state = demo.app.state.gateway
    chain_id = demo.rpc.chain_id
    admin = TxSender(demo.rpc, dev_account(DEV_INDEX["mod-admin"], chain_id), error_decoder(state.ledger.build))
    escrow = EscrowClient(demo.rpc, demo.escrow, admin, state.ledger.build)
    from_mined: list[float] = []
    from_block: list[float] = []
    with following(demo), serving(demo.app) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(locale="en-GB").new_page()
        page.goto(f"{base_url}/ui/sign-in")
        page.locator("#account").select_option(str(DEV_INDEX["officer"]))
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(f"{base_url}/ui/budget")
        page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
        page.wait_for_load_state("networkidle")
        clock_ahead = demo.rpc.latest_timestamp() - time.time()
        for step in range(changes):
            until = demo.rpc.latest_timestamp() + 3_600 * (step + 1)
            receipt = escrow.pause_until(until)
            mined = time.time()
            block = demo.rpc.request("eth_getBlockByNumber", [hex(receipt.block_number), False])["result"]
            seen = _shown(page, receipt.block_number)
            from_mined.append((seen - mined) * 1000)
            from_block.append((seen - int(block["timestamp"], 16)) * 1000)
        reloaded = page.evaluate("performance.getEntriesByType('navigation').length") != 1
        browser.close()
    same_clock = abs(clock_ahead) < 1.0
    return {
        "changes": changes,
        "fromMined": _summary(from_mined),
        "fromBlockTimestamp": _summary(from_block) if same_clock else None,
        "chainClockAheadS": round(clock_ahead, 1),
        "limitMs": ISSUE_LIMIT_MS,
        "withinLimit": _percentile(from_block if same_clock else from_mined, 99) <= ISSUE_LIMIT_MS,
        "reloaded": reloaded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=20, help="how many changes to time (default: 20)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = measure(args.changes)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['changes']} changes reached the open page (ms):")
    for clock in ("fromMined", "fromBlockTimestamp"):
        figures = result[clock]
        if figures is None:
            continue
        print(f"  {clock:20} p50 {figures['p50']:8.1f}  p99 {figures['p99']:8.1f}  max {figures['max']:8.1f}")
    print(f"  the chain's clock runs {result['chainClockAheadS']} s ahead of this machine's")


if __name__ == "__main__":
    main()
