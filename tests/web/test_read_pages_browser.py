"""The read pages in Debian's Chromium (tests/web/browser.py), over the demo plus its records (tests/web/records.py):
an auditor follows a red flag to the procurement's trail and on to an actor; the line page, opened from the
overview, shows the approved transfer; the search finds the demo procurement by a word of its title and not by
garbage; a supplier opens neither another supplier's procurement nor the auditor's pages."""

from __future__ import annotations

import re

import pytest

from chain.devnet import DEV_INDEX
from chain.keys import dev_account
from tests.web.browser import require_chromium, sign_in_by_keyboard
from tests.web.conftest import OTHER_SUPPLIER
from tests.web.records import RecordedDemo, build_recorded_demo

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

LABEL = "アカウント"  # the account selector's label on a Japanese browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RecordedDemo:
    """The demo world with its records (shadows conftest's ``demo`` in this module)."""
    return build_recorded_demo(tmp_path_factory.mktemp("demo"))


def test_an_auditor_follows_a_flag_to_its_trail_and_to_an_actor(page: Page, base_url: str, demo: RecordedDemo) -> None:
    sign_in_by_keyboard(page, base_url, DEV_INDEX["auditor"], LABEL)
    page.get_by_role("link", name="監査", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("監査")
    page.get_by_role("link", name="レッドフラグ").click()
    flag = page.locator('li[data-rule="amendment-soon"]')
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("18,000,000")
    flag.locator("a.trail").click()
    expect(page).to_have_url(re.compile(rf"/ui/audit/procurements/{demo.escrow}/trail$"))
    expect(page.locator('tr[data-event="AmendmentApproved"]')).to_have_count(1)
    approver = str(dev_account(DEV_INDEX["officer-2"], demo.rpc.chain_id).address)
    page.locator('tr[data-event="AmendmentApproved"]').get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/ui/audit/actors/{approver}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(approver)
    expect(page.locator('tr[data-event="AmendmentApproved"]')).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV でダウンロード").click()
    assert download.value.suggested_filename == f"acts-{approver}.csv"


def test_the_line_page_shows_the_transfer(page: Page, base_url: str, demo: RecordedDemo) -> None:
    sign_in_by_keyboard(page, base_url, DEV_INDEX["finance"], LABEL)
    page.locator("#lines").get_by_role("link", name="EQUIP-PURCHASE").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("EQUIP-PURCHASE")
    transfer = page.locator(f'#transfers tr[data-transfer="{demo.records.transfer_id}"]')
    expect(transfer).to_contain_text("払出")
    expect(transfer).to_contain_text("3,000,000,000円")
    expect(page.locator("#charged")).to_contain_text("Night-vision goggles")
    chart = page.get_by_role("img", name="執行率: 支出済額と均等執行の計画")
    expect(chart).to_be_visible()


def test_search_finds_the_procurement_by_a_word_of_its_title(page: Page, base_url: str, demo: RecordedDemo) -> None:
    sign_in_by_keyboard(page, base_url, DEV_INDEX["auditor"], LABEL)
    page.goto(f"{base_url}/ui/procurements")
    search = page.get_by_role("searchbox", name="検索")
    search.fill("goggles")
    search.press("Enter")
    expect(page.locator("#procurements").get_by_role("link")).to_have_text(re.compile("Night-vision goggles"))
    search = page.get_by_role("searchbox", name="検索")
    search.fill("%_' OR 1=1 --")
    search.press("Enter")
    expect(page.get_by_text("条件に合う調達はありません。")).to_be_visible()
    expect(page.locator("#procurements")).to_have_count(0)


def test_a_supplier_opens_neither_anothers_procurement_nor_the_audit_pages(
    page: Page, base_url: str, demo: RecordedDemo
) -> None:
    sign_in_by_keyboard(page, base_url, OTHER_SUPPLIER, LABEL)
    for path, status in (
        (f"/ui/procurements/{demo.escrow}", 404),
        (f"/ui/audit/procurements/{demo.escrow}/trail", 404),
        ("/ui/audit/flags", 403),
        (f"/ui/audit/actors/{dev_account(DEV_INDEX['officer'], demo.rpc.chain_id).address}", 403),
    ):
        response = page.goto(f"{base_url}{path}")
        assert response is not None
        assert response.status == status, path
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "見つかりません" if status == 404 else "権限がありません"
        )
        expect(page.get_by_text("Night-vision goggles")).to_have_count(0)
