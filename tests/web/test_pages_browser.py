"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded
browser) against the gateway served by uvicorn on a free port, over the demo as `make up` seeds it.

Without /usr/bin/chromium the module is skipped, except on CI (``CI=true``), where that is a failure: `.ci/run`
installs it.
"""

from __future__ import annotations

import re

from chain.devnet import DEV_INDEX
from tests.web.browser import require_chromium, sign_in_by_keyboard
from tests.web.conftest import OTHER_SUPPLIER, Demo

FINANCE = DEV_INDEX["finance"]
require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402


def test_finance_sees_the_budget_and_switches_language(page: Page, base_url: str, demo: Demo) -> None:
    sign_in_by_keyboard(page, base_url, FINANCE, "アカウント")
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
    sign_in_by_keyboard(page, base_url, OTHER_SUPPLIER, "アカウント")
    page.goto(f"{base_url}/ui/procurements")
    expect(page.get_by_text("表示できる調達はありません。")).to_be_visible()
    response = page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("見つかりません")
