"""Acting from the dashboard in a real browser (Playwright driving Debian's Chromium), with an indexer following
the chain as `make up` runs it: the supplier uploads and submits evidence, two evaluators attest (the demo
signer), and the payment appears on a procurement page left open, without a reload; the finance authority approves
a transfer and an open budget overview changes. An injected EIP-1193 wallet (a real key behind
``page.expose_function``, real signatures) signs in and signs an action; a wallet on another chain is refused with
a clear message. The streams an account may hold are bounded.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, expect

from chain.devnet import DEV_INDEX
from chain.keys import dev_account
from gateway.streams import MAX_STREAMS_PER_ACCOUNT, held
from gateway.web.pages import SESSION_COOKIE
from tests.web.browser import require_chromium, wallet_key
from tests.web.conftest import Demo, build_demo
from tests.web.live import following

SUPPLIER, OFFICER, FINANCE = DEV_INDEX["supplier"], DEV_INDEX["officer"], DEV_INDEX["finance"]
EVALUATORS = (DEV_INDEX["evaluator-atla"], DEV_INDEX["evaluator-jqa"])
MILESTONE = 0  # the demo's first milestone: 48,000,000 yen
_SWAPPED = "document.getElementById('live').dataset.after"
require_chromium()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo world, its gateway relaying signed actions, and an indexer following the chain in a thread."""
    world = build_demo(tmp_path_factory.mktemp("demo"), relay=True)
    with following(world):
        yield world


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts (a Japanese browser unless told), each failing the test on any JavaScript error."""
    opened: list[BrowserContext] = []
    errors: list[str] = []

    def new(locale: str = "ja-JP") -> BrowserContext:
        context = browser.new_context(locale=locale)
        # The browser's own /favicon.ico is a 404 no response event sees; every resource a page asks for is seen.
        context.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
        context.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        context.on("weberror", lambda e: errors.append(str(e.error)))
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _demo_sign_in(context: BrowserContext, base_url: str, account: int) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/ui/sign-in")
    page.locator("#account").select_option(str(account))
    page.get_by_role("button", name="サインイン", exact=True).click()
    expect(page).to_have_url(re.compile(r"/ui/budget$"))
    return page


def _until(condition: Callable[[], bool], failure: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def _mark(page: Page) -> None:
    """Mark the page's window: the mark survives a live update, not a reload."""
    page.evaluate("window.__notReloaded = true")


def _not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))


def _sign_with_demo(page: Page) -> None:
    expect(page.locator("#signing-words")).to_be_visible()
    page.get_by_role("button", name="デモアカウントで署名して送信").click()
    expect(page.locator("#act-sent")).to_be_visible()
    expect(page.locator("#tx-hash")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))


def test_evidence_and_two_attestations_pay_on_an_open_page(
    contexts: Callable[..., BrowserContext],
    base_url: str,
    demo: Demo,
) -> None:
    officer = _demo_sign_in(contexts(), base_url, OFFICER)
    officer.goto(f"{base_url}/ui/procurements/{demo.escrow}")
    expect(officer.get_by_text("支払はまだありません。")).to_be_visible()
    expect(officer.locator("#live")).to_have_attribute("sse-connect", re.compile(r"after=\d+$"))
    _mark(officer)

    supplier = _demo_sign_in(contexts(), base_url, SUPPLIER)
    supplier.goto(f"{base_url}/ui/procurements/{demo.escrow}")
    supplier.get_by_role("link", name="成果物を提出する").click()
    supplier.locator("#upload-milestone").select_option(str(MILESTONE))
    supplier.locator("#upload-file").set_input_files(
        files=FilePayload(name="prototype-test.pdf", mimeType="application/pdf", buffer=b"%PDF-1.4 FOM 1850")
    )
    supplier.get_by_role("button", name="アップロードして確認へ").click()
    expect(supplier.locator("#signing-words")).to_contain_text("ocds-b5fd17-MOD-2026-0042")
    _sign_with_demo(supplier)

    for index in EVALUATORS:
        evaluator = _demo_sign_in(contexts(), base_url, index)
        evaluator.goto(f"{base_url}/ui/procurements/{demo.escrow}/act/attest")
        evaluator.get_by_label("マイルストーン").select_option(str(MILESTONE))
        evaluator.get_by_label("結果").select_option("pass")
        evaluator.get_by_label("検査報告書 (ハッシュ)").fill(f"report of evaluator {index}: FOM 1850, pass")
        evaluator.get_by_role("button", name="署名する内容を確認").click()
        expect(evaluator.locator("#signing-words")).to_contain_text("合格")
        _sign_with_demo(evaluator)

    payment = officer.locator("#payments tbody tr").first
    expect(payment).to_contain_text("48,000,000円", timeout=15_000)
    expect(officer.locator("#milestones tbody tr").first).to_contain_text("支払済")
    assert _not_reloaded(officer), "the open page was reloaded, not updated"
    address = dev_account(OFFICER, demo.rpc.chain_id).address
    # each update's page opened its stream, and the page it replaced closed its own
    _until(lambda: held(address) == 1, "the officer holds more than one stream for one open page")


def test_an_approved_transfer_changes_an_open_budget_overview(
    contexts: Callable[..., BrowserContext],
    base_url: str,
) -> None:
    watcher = _demo_sign_in(contexts(), base_url, DEV_INDEX["treasury"])
    maintenance = watcher.locator('#lines tr[data-sub-item="EQUIP-MAINT"] td.num').first
    expect(maintenance).to_have_text("610,000")
    _mark(watcher)

    finance = _demo_sign_in(contexts(), base_url, FINANCE)
    finance.get_by_role("link", name="流用を承認する").click()
    finance.get_by_label("流用番号").select_option("1")
    finance.get_by_role("button", name="署名する内容を確認").click()
    expect(finance.locator("#signing-words")).to_contain_text("3,000,000,000円")  # the pending transfer, in words
    _sign_with_demo(finance)

    expect(maintenance).to_have_text("613,000", timeout=15_000)
    assert _not_reloaded(watcher), "the open page was reloaded, not updated"


def _wallet(context: BrowserContext, account: LocalAccount, chain_id: int) -> list[str]:
    """Inject an EIP-1193 wallet holding ``account``'s key on chain ``chain_id``; the methods it was asked."""
    asked: list[str] = []

    def request(method: str, params: list[Any]) -> Any:
        asked.append(method)
        if method == "eth_requestAccounts":
            return [account.address.lower()]  # as MetaMask answers: not checksummed
        if method == "eth_chainId":
            return hex(chain_id)
        if method == "personal_sign":
            message, address = params
            assert address.lower() == account.address.lower()
            return account.sign_message(encode_defunct(hexstr=message)).signature.to_0x_hex()
        if method == "eth_signTypedData_v4":
            address, typed = params
            assert address.lower() == account.address.lower()
            return account.sign_typed_data(full_message=json.loads(typed)).signature.to_0x_hex()
        raise ValueError(f"unsupported method {method}")

    context.expose_function("__testWallet", request)
    context.add_init_script(
        "window.ethereum = { request: ({ method, params }) => window.__testWallet(method, params || []) };"
    )
    return asked


def test_a_wallet_signs_in_and_signs_an_action(
    contexts: Callable[..., BrowserContext],
    base_url: str,
    demo: Demo,
) -> None:
    context = contexts("en-GB")
    officer = wallet_key(OFFICER, demo.rpc.chain_id)  # the officer's key, held by the wallet
    asked = _wallet(context, officer, demo.rpc.chain_id)
    page = context.new_page()
    page.goto(f"{base_url}/ui/sign-in")
    page.get_by_role("button", name="Sign in with a wallet").click()
    expect(page).to_have_url(re.compile(r"/ui/budget$"))
    expect(page.locator(".session .account")).to_contain_text(officer.address)
    page.goto(f"{base_url}/ui/procurements/{demo.escrow}/act/propose-amendment")
    page.get_by_label("Milestone").select_option("2")
    page.get_by_label("Kind of amendment").select_option("amount")
    page.get_by_label("New amount (yen)").fill("239,000,000")
    page.get_by_label("Rationale (hash)").fill("unit price lowered after the field trial")
    page.get_by_role("button", name="Review what you will sign").click()
    expect(page.locator("#signing-words")).to_contain_text("¥239,000,000")
    page.get_by_role("button", name="Sign with your wallet and send").click()
    expect(page.locator("#act-sent")).to_be_visible()
    signing_in = ["eth_requestAccounts", "eth_chainId", "personal_sign"]
    assert asked == [*signing_in, "eth_requestAccounts", "eth_chainId", "eth_signTypedData_v4"]
    tx_hash = page.locator("#tx-hash").inner_text()
    receipt = demo.rpc.request("eth_getTransactionReceipt", [tx_hash])["result"]
    assert receipt is not None
    assert int(receipt["status"], 16) == 1  # relayed and mined: the wallet's signature was the officer's


def test_a_wallet_on_another_chain_is_refused(
    contexts: Callable[..., BrowserContext],
    base_url: str,
    demo: Demo,
) -> None:
    context = contexts("en-GB")
    asked = _wallet(context, wallet_key(OFFICER, demo.rpc.chain_id), 1)
    page = context.new_page()
    page.goto(f"{base_url}/ui/sign-in")
    page.get_by_role("button", name="Sign in with a wallet").click()
    expect(page.locator("#wallet-error")).to_have_text(
        f"Your wallet is on chain id 1, this gateway on {demo.rpc.chain_id}: switch the wallet's network."
    )
    assert "personal_sign" not in asked
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]


def test_live_streams_are_bounded_per_account(
    contexts: Callable[..., BrowserContext],
    base_url: str,
    demo: Demo,
) -> None:
    page = _demo_sign_in(contexts(), base_url, DEV_INDEX["auditor"])
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    after = page.locator("#live").get_attribute("data-after")
    page.close()  # its own stream ends
    auditor = dev_account(DEV_INDEX["auditor"], demo.rpc.chain_id).address
    _until(lambda: held(auditor) == 0, "the closed page's stream was never released")
    with httpx.Client(base_url=base_url, cookies=cookies, timeout=httpx.Timeout(10.0, read=None)) as client:
        garbage = client.get("/ui/live/budget?after=-1")
        assert garbage.status_code == 422
        assert "after: a block number" in garbage.text
        opened = [client.stream("GET", f"/ui/live/budget?after={after}") for _ in range(MAX_STREAMS_PER_ACCOUNT)]
        responses = [stream.__enter__() for stream in opened]
        assert [r.status_code for r in responses] == [200] * MAX_STREAMS_PER_ACCOUNT
        assert responses[0].headers["content-type"].startswith("text/event-stream")
        refused = client.get(f"/ui/live/budget?after={after}")
        assert refused.status_code == 429
        assert "too many open streams" in refused.text
        for stream in opened:
            stream.__exit__(None, None, None)
