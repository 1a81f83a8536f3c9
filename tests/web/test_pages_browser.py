"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded
browser) against the gateway served by uvicorn on a free port, over the demo as `make up` seeds it.

Without /usr/bin/chromium the module is skipped, except on CI (``CI=true``), where that is a failure: `.ci/run`
installs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.devnet import DEV_INDEX
from tests.web.conftest import OTHER_SUPPLIER, Demo
from tests.web.live import serving

CHROMIUM = Path("/usr/bin/chromium")
FINANCE = DEV_INDEX["finance"]

if not CHROMIUM.exists():
    reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (on CI .ci/run installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def base_url(demo: Demo) -> Iterator[str]:
    """The demo's gateway, served by uvicorn on a free port in a thread of this process."""
    with serving(demo.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, started once for the module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies), for a Japanese browser; fails the test on any JavaScript error."""
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "404" not in message.text:  # the 404 page the test asks for
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _sign_in(page: Page, base_url: str, account: int, label: str) -> None:
    """Sign in as demo account ``account`` with the keyboard: choose it, Tab to the button, Enter."""
    page.goto(f"{base_url}/ui")
    expect(page).to_have_url(f"{base_url}/ui/sign-in")
    select = page.get_by_label(label)
    select.select_option(str(account))
    select.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/budget$"))


def test_finance_sees_the_budget_and_switches_language(page: Page, base_url: str, demo: Demo) -> None:
    _sign_in(page, base_url, FINANCE, "アカウント")
    reiwa = demo.fiscal_year - 2018
    expect(page.get_by_role("heading", level=1)).to_have_text(f"令和{reiwa}年度 予算の概要")
    purchase = page.locator('#lines tr[data-sub-item="EQUIP-PURCHASE"] td.num')
    expect(purchase.first).to_have_text("1,620,000")  # 1.62 trillion yen, in millions
    expect(page.locator('#lines tr[data-sub-item="OSA-EQUIP"] td.num').first).to_have_text("8,100")
    expect(page.locator('#lines tr[data-sub-item="EQUIP-PURCHASE"] td.num').last).to_have_text("1")  # pending
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"FY{demo.fiscal_year} budget overview")
    expect(page.get_by_role("columnheader", name="Appropriation").first).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))


def test_a_supplier_cannot_open_another_suppliers_procurement(page: Page, base_url: str, demo: Demo) -> None:
    _sign_in(page, base_url, OTHER_SUPPLIER, "アカウント")
    page.goto(f"{base_url}/ui/procurements")
    expect(page.get_by_text("表示できる調達はありません。")).to_be_visible()
    response = page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("見つかりません")
