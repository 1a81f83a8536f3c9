"""The dashboard's pages over HTTP: demo sign-in (dev chains only, CSRF-checked), the budget overview's figures
equal to the ledger's, the language switch, each supplier seeing only its procurements, and hostile input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from chain import project_root
from chain.budget import LineKey
from chain.budget_file import load_budget_file
from chain.clients import budget_clients
from chain.devnet import DEV_BUDGET_FILE, DEV_INDEX, DEV_PENDING_TRANSFER
from chain.roles import Role
from chain.spec import load_spec
from gateway.main import create_app
from gateway.web.i18n import Words, negotiate
from gateway.web.pages import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE
from tests.gateway.conftest import make_settings
from tests.tester import TesterTransport
from tests.web.conftest import OTHER_SUPPLIER, Demo
from tests.web.pages import csrf_of, line_rows, sign_in

FINANCE, SUPPLIER, RELAYER = DEV_INDEX["finance"], DEV_INDEX["supplier"], DEV_INDEX["relayer"]
TITLE = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml").spec.title
JA = {"Accept-Language": "ja,en;q=0.8"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def _set_cookie(response: Response, name: str) -> str:
    headers = [str(v) for k, v in response.headers.multi_items() if k == "set-cookie"]
    found = [header for header in headers if header.startswith(f"{name}=")]
    assert len(found) == 1, headers
    return found[0]


def test_demo_sign_in_opens_a_strict_http_only_session(client: TestClient) -> None:
    response = sign_in(client, FINANCE)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/budget"
    cookie = _set_cookie(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    page = client.get("/ui/budget")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self': no inline script
    token = client.cookies[SESSION_COOKIE]
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})  # the API's own session
    assert me.status_code == 200
    assert me.json()["roles"] == [Role.FINANCE_AUTHORITY.value]


def test_the_budget_overview_shows_the_ledgers_figures(client: TestClient, demo: Demo) -> None:
    sign_in(client, FINANCE)
    page = client.get("/ui/budget", headers=JA)
    assert page.status_code == 200, page.text
    assert f"令和{demo.fiscal_year - 2018}年度 予算の概要" in page.text
    assert "単位: 百万円" in page.text
    rows = line_rows(page.text)
    ledger, _ = budget_clients(demo.rpc, demo.app.state.gateway.ledger.system)
    budget = load_budget_file(DEV_BUDGET_FILE).budget
    expected = {sub.sub_item for item in budget.lines for sub in item.sub_items}
    assert set(rows) == expected
    for item in budget.lines:
        for sub in item.sub_items:
            key = LineKey.of(demo.fiscal_year, item.ministry, item.organization, item.item, sub.sub_item)
            line = ledger.line(key)
            row = rows[sub.sub_item]
            assert row["appropriation"][0] == line.allotted == sub.amount
            assert row["obligated"][0] == line.obligated
            assert row["disbursed"][0] == line.disbursed
            assert row["available"][0] == line.available
            for yen, shown in row.values():
                assert shown == Words.millions(yen)
    source, _, _ = DEV_PENDING_TRANSFER
    assert re.search(rf'<tr data-sub-item="{source}">.*?<td class="num">1</td>\s*</tr>', page.text, re.S)
    assert rows[budget.lines[0].sub_items[0].sub_item]["obligated"][0] > 0  # the demo procurement obligated it


def test_a_ministry_sees_only_its_own_lines(client: TestClient) -> None:
    sign_in(client, DEV_INDEX["mofa-treasury"])
    rows = line_rows(client.get("/ui/budget", headers=EN).text)
    budget = load_budget_file(DEV_BUDGET_FILE).budget
    assert set(rows) == {sub.sub_item for item in budget.lines if item.ministry == "MOFA" for sub in item.sub_items}


def test_a_year_without_lines_says_so(client: TestClient, demo: Demo) -> None:
    sign_in(client, FINANCE)
    page = client.get("/ui/budget", params={"year": demo.fiscal_year + 1}, headers=EN)
    assert page.status_code == 200
    assert f"FY{demo.fiscal_year + 1} budget overview" in page.text
    assert "No budget visible to you in this fiscal year." in page.text


def test_the_language_follows_the_browser_then_the_switch(client: TestClient) -> None:
    sign_in(client, FINANCE)
    assert '<html lang="en">' in client.get("/ui/budget", headers=EN).text
    assert '<html lang="ja">' in client.get("/ui/budget", headers=JA).text
    switched = client.get("/ui/lang/ja", params={"next": "/ui/budget?year=2026"}, headers=EN)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/ui/budget?year=2026"
    assert "samesite=strict" in _set_cookie(switched, LANG_COOKIE).lower()
    page = client.get("/ui/budget", headers=EN)
    assert '<html lang="ja">' in page.text
    assert "令和" in page.text
    client.get("/ui/lang/en", params={"next": "/ui/budget"})
    assert "FY" in client.get("/ui/budget", headers=JA).text


def test_the_language_switch_keeps_the_page_and_its_query(client: TestClient) -> None:
    """The switch each page links to returns to that page with its query: a search in Japanese, words joined."""
    sign_in(client, FINANCE)
    search = client.get("/ui/procurements", params={"q": "暗視 装置", "page": "1"}, headers=EN)
    link = re.search(r'<a href="(/ui/lang/ja\?next=[^"]+)"', search.text)
    assert link is not None
    switched = client.get(html.unescape(link.group(1)))
    assert switched.status_code == 303
    assert switched.headers["location"] == "/ui/procurements?q=%E6%9A%97%E8%A6%96+%E8%A3%85%E7%BD%AE&page=1"
    assert "暗視 装置" in client.get(switched.headers["location"]).text  # the search box keeps the words


def test_ui_with_a_trailing_slash_goes_where_ui_goes(client: TestClient) -> None:
    client.cookies.clear()
    assert client.get("/ui/").headers["location"] == client.get("/ui").headers["location"] == "/ui/sign-in"
    sign_in(client, FINANCE)
    assert client.get("/ui/").status_code == 303
    assert client.get("/ui/").headers["location"] == "/ui/budget"


def test_an_unknown_language_or_a_foreign_next_page_goes_nowhere(client: TestClient) -> None:
    client.cookies.clear()
    refused = client.get("/ui/lang/xx<script>", headers=EN)
    assert refused.status_code == 422
    assert "language must be one of ja, en" in refused.text
    assert "<script>" not in refused.text
    assert LANG_COOKIE not in refused.headers.get("set-cookie", "")
    for foreign in (
        "//evil.example/ui",
        "https://evil.example/ui",
        "/ui/../../etc",
        "/ui//evil.example",
        "/api",
        "/ui/..",
        "/ui/%2e%2e/api",
        "/ui?q=a#x",
        "/ui\\evil.example",
        "/ui?q=" + "a" * 3000,
        "/ui?q=<script>",
    ):
        response = client.get("/ui/lang/en", params={"next": foreign})
        assert response.status_code == 303
        assert response.headers["location"] == "/ui", foreign


def test_a_supplier_sees_its_procurement_with_its_milestones(client: TestClient, demo: Demo) -> None:
    sign_in(client, SUPPLIER)
    listing = client.get("/ui/procurements", headers=EN)
    assert listing.status_code == 200
    assert f'href="/ui/procurements/{demo.escrow}">{TITLE}</a>' in listing.text
    page = client.get(f"/ui/procurements/{demo.escrow}", headers=JA)
    assert page.status_code == 200, page.text
    terms = demo.app.state.gateway.ledger.escrow(demo.escrow).milestones()
    shown = [int(yen) for yen in re.findall(r'data-yen="([0-9]+)">[0-9,]+円<', page.text)]
    assert shown == [milestone.amount for milestone in terms]
    assert "未提出" in page.text  # every milestone still pending
    assert "支払はまだありません。" in page.text


def test_another_supplier_does_not_see_it(client: TestClient, demo: Demo) -> None:
    sign_in(client, OTHER_SUPPLIER)
    listing = client.get("/ui/procurements", headers=EN)
    assert listing.status_code == 200
    assert demo.escrow not in listing.text
    assert "No procurement visible to you." in listing.text
    hidden = client.get(f"/ui/procurements/{demo.escrow}", headers=EN)
    missing = client.get(f"/ui/procurements/0x{'12' * 20}", headers=EN)
    assert hidden.status_code == missing.status_code == 404
    assert "visible to this account" in hidden.text
    assert TITLE not in hidden.text


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/ui/procurements/0xzz", 422, "procurement"),
        ("/ui/procurements/" + "9" * 3000, 422, "procurement"),
        ("/ui/procurements/ocds-b5fd17-MOD-2026-9999", 404, "procurement"),  # a well-formed ocid of nothing
        ("/ui/procurements/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404, "no page"),
        ("/ui/no/such/page", 404, "no page"),
        ("/ui/budget?year=abc", 422, "year"),
        ("/ui/budget?year=99999", 422, "year"),
        ("/ui/budget?year=-1", 422, "year"),
        ("/ui/procurements?page=0", 422, "page"),
        ("/ui/procurements?page=1e9", 422, "page"),
    ],
)
def test_garbage_is_a_clear_error_page(client: TestClient, path: str, status: int, named: str) -> None:
    sign_in(client, SUPPLIER)
    response = client.get(path, headers=EN)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert named in response.text.lower()
    assert "<script>alert" not in response.text


def test_the_stylesheet_is_served_as_css(client: TestClient) -> None:
    response = client.get("/ui/static/dashboard.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/../pages.py").status_code == 404


def test_pages_need_a_session(client: TestClient) -> None:
    client.cookies.clear()
    for path in ("/ui", "/ui/budget", "/ui/procurements", "/ui/procurements/0x" + "12" * 20):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/sign-in"
    client.cookies.set(SESSION_COOKIE, "forged-" + "a" * 40, path="/ui")
    assert client.get("/ui/budget").headers["location"] == "/ui/sign-in"


def test_a_form_without_its_csrf_token_changes_nothing(client: TestClient) -> None:
    client.cookies.clear()
    form = client.get("/ui/sign-in")
    token = csrf_of(form.text)
    for data in ({"account": str(FINANCE)}, {"account": str(FINANCE), "csrf": "x" * 43}, {"csrf": token[::-1]}):
        refused = client.post("/ui/sign-in", data=data)
        assert refused.status_code == 403
        assert "CSRF" in refused.text
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    other = TestClient(client.app, follow_redirects=False)  # a cross-site form: the token, but not the cookie
    assert other.post("/ui/sign-in", data={"account": str(FINANCE), "csrf": token}).status_code == 403
    sign_in(client, FINANCE)
    session = client.cookies[SESSION_COOKIE]
    assert client.post("/ui/sign-out", data={}).status_code == 403
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {session}"}).status_code == 200


def test_signing_out_ends_the_session(client: TestClient) -> None:
    sign_in(client, FINANCE)
    session = client.cookies[SESSION_COOKIE]
    page = client.get("/ui/budget")
    out = client.post("/ui/sign-out", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/sign-in"
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {session}"}).status_code == 401


def test_an_account_without_a_role_or_out_of_range_is_refused(client: TestClient) -> None:
    response = sign_in(client, RELAYER, **EN)
    assert response.status_code == 403
    assert "holds no active role" in response.text
    client.cookies.clear()
    token = csrf_of(client.get("/ui/sign-in").text)
    for account in ("30", "-1", "abc", ""):
        refused = client.post("/ui/sign-in", data={"account": account, "csrf": token})
        assert refused.status_code == 422, account
        assert "account" in refused.text


class _NamedChain(TesterTransport):
    """The demo's chain answering another chain id, as a production node would."""

    def request(self, method: str, params: list[object]) -> dict[str, object]:
        if method == "eth_chainId":
            return {"jsonrpc": "2.0", "id": 1, "result": hex(1)}
        return super().request(method, params)  # type: ignore[arg-type]


def test_no_demo_sign_in_on_another_chain(demo: Demo, tmp_path: Path) -> None:
    state = demo.app.state.gateway
    assert isinstance(demo.rpc, TesterTransport)  # the tests' demo is on eth-tester
    app = create_app(
        make_settings(tmp_path), rpc=_NamedChain(demo.rpc.tester), system=state.ledger.system, build=state.ledger.build
    )
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/ui/sign-in", headers=EN)
        assert form.status_code == 200
        assert "<select" not in form.text
        assert "Demo accounts cannot sign in on this chain (id 1)" in form.text
        refused = client.post("/ui/sign-in", data={"account": str(FINANCE), "csrf": csrf_of_cookie(client)})
        assert refused.status_code == 403
        assert "cannot sign in on this chain (id 1)" in refused.text
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")


def csrf_of_cookie(client: TestClient) -> str:
    """The CSRF cookie the sign-in page set (the page itself has no form on this chain)."""
    return str(client.cookies[CSRF_COOKIE])


def test_words() -> None:
    ja, en = Words("ja"), Words("en")
    assert (ja.fiscal_year(2026), en.fiscal_year(2026), ja.fiscal_year(2019)) == ("令和8年度", "FY2026", "令和元年度")
    assert [Words.millions(yen) for yen in (0, 499_999, 500_000, 1_620_000_000_000, -1_500_000)] == [
        "0",
        "0",
        "1",
        "1,620,000",
        "-2",
    ]
    assert (ja.yen(360_000_000), en.yen(360_000_000)) == ("360,000,000円", "¥360,000,000")
    assert (ja.time(1_767_193_200), en.time(1_767_193_200)) == ("2026年1月1日 00:00", "1 Jan 2026 00:00 JST")
    assert negotiate(None, "ja-JP,en;q=0.5") == "ja"
    assert negotiate(None, "en-US,ja;q=0.5") == "en"
    assert negotiate("ja", "en") == "ja"
    assert negotiate("xx", None) == "en"
    assert set(ja._catalog) == set(en._catalog)
