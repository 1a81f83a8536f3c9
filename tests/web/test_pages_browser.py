"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded
browser) against the gateway served by uvicorn on a free port, over the demo as `make up` seeds it.

Without /usr/bin/chromium the module is skipped, except on CI (``CI=true``), where that is a failure: `.ci/run`
installs it.
"""

from __future__ import annotations

import re

from chain import project_root
from chain.devnet import DEV_INDEX
from chain.spec import load_spec
from tests.web.browser import require_chromium, sign_in_by_keyboard
from tests.web.conftest import OTHER_SUPPLIER, Demo

FINANCE = DEV_INDEX["finance"]
TITLE = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml").spec.title
require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


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


# ------------------------------------------------------------------ keyboard and labels

# Every control a keyboard must reach, marked with its order in the document, and the names a screen reader reads.
_MARK_CONTROLS = """() => {
  const controls = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
    .filter(el => el.type !== 'hidden' && !el.disabled && el.tabIndex >= 0 && el.getClientRects().length > 0);
  controls.forEach((el, i) => { el.dataset.tabOrder = String(i); });
  const named = el => Boolean(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || (el.labels && el.labels.length) || el.getAttribute('title'));
  const unlabelled = [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && !named(el) && !['submit', 'button'].includes(el.type))
    .map(el => el.outerHTML.slice(0, 120));
  const nameless = [...document.querySelectorAll('a[href], button')]
    .filter(el => !(el.innerText || '').trim() && !named(el)).map(el => el.outerHTML.slice(0, 120));
  const unread = [...document.querySelectorAll('img, svg')]
    .filter(el => !(el.getAttribute('alt') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
      || el.getAttribute('aria-hidden') === 'true' || el.querySelector(':scope > title')))
    .map(el => el.outerHTML.slice(0, 120));
  return {count: controls.length, unlabelled, nameless, unread};
}"""


def _walk_the_tab_order(page: Page) -> None:
    """Tab from the top of the page to its last control: each is reached once, in document order (a control of
    several stops, as a date field, counted once), and every form control, link, button, image and chart has a
    name."""
    marked = page.evaluate(_MARK_CONTROLS)
    assert marked["unlabelled"] == [], f"form controls without a label: {marked['unlabelled']}"
    assert marked["nameless"] == [], f"links or buttons without a name: {marked['nameless']}"
    assert marked["unread"] == [], f"images or charts without text: {marked['unread']}"
    assert marked["count"] > 3
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached: list[int] = []
    last = marked["count"] - 1
    for _ in range(4 * marked["count"]):  # a date field is 3 stops (year, month, day) in Chromium
        page.keyboard.press("Tab")
        order = page.evaluate("() => document.activeElement ? document.activeElement.dataset.tabOrder : undefined")
        assert order is not None, f"Tab left the page's controls after {reached}"
        if not reached or reached[-1] != int(order):
            reached.append(int(order))
        if reached[-1] == last:
            break
    assert reached == list(range(marked["count"]))


def test_the_overview_and_a_procurement_page_are_walked_by_keyboard(page: Page, base_url: str, demo: Demo) -> None:
    sign_in_by_keyboard(page, base_url, DEV_INDEX["officer"], "アカウント")
    _walk_the_tab_order(page)  # the budget overview, with its chart and the officer's actions
    page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
    _walk_the_tab_order(page)
    action = page.locator('a[href*="/act/"]').first.get_attribute("href")  # an action's form: fields, then review
    assert action is not None
    page.goto(base_url + action)
    _walk_the_tab_order(page)
    page.goto(f"{base_url}/ui/procurements?q=x")
    _walk_the_tab_order(page)


def test_the_sign_in_and_the_auditors_pages_are_walked_by_keyboard(page: Page, base_url: str, demo: Demo) -> None:
    page.goto(f"{base_url}/ui/sign-in")
    _walk_the_tab_order(page)
    sign_in_by_keyboard(page, base_url, DEV_INDEX["auditor"], "アカウント")
    for path in (
        "/ui/audit",
        "/ui/audit/flags",
        f"/ui/audit/procurements/{demo.escrow}/trail",
        f"/ui/budget/lines/{demo.fiscal_year}/1",
    ):
        response = page.goto(base_url + path)
        assert response is not None
        assert response.status == 200, path
        _walk_the_tab_order(page)


def test_the_read_pages_are_read_without_javascript(browser: Browser, base_url: str, demo: Demo) -> None:
    """With JavaScript off, the demo sign-in (a plain form) and the read pages work: the overview's figures, a
    procurement's milestones, the auditor's page."""
    context = browser.new_context(locale="en-GB", java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in_by_keyboard(page, base_url, FINANCE, "Account")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"FY{demo.fiscal_year} budget overview")
        expect(page.locator('#lines tr[data-sub-item="EQUIP-PURCHASE"] td.num').first).to_have_text("1,620,000")
        page.goto(f"{base_url}/ui/procurements/{demo.escrow}")
        expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
        page.goto(f"{base_url}/ui/audit")
        expect(page.locator("#mirror dd").first).not_to_be_empty()
    finally:
        context.close()
