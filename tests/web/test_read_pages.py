"""The dashboard's read pages over HTTP, on the demo plus the acts it lacks (tests/web/records.py: evidence, two
passes and the payment, a price raise approved days after creation, the pending transfer approved): what each page
shows equals what the JSON API answers through the same service, each account sees what its scope allows, and
hostile parameters are a clear 4xx page, never a 500."""

from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient

from chain import project_root
from chain.clients import budget_clients
from chain.devnet import DEV_INDEX
from chain.keys import dev_account
from chain.spec import load_spec
from gateway.services.reads import LISTINGS, Page, Reader
from gateway.streams import MAX_STREAMS_PER_ACCOUNT, open_slot
from gateway.streams import held as held_streams
from gateway.web.i18n import Words
from gateway.web.pages import SESSION_COOKIE
from gateway.web.procurement_records import timeline
from indexer.cursor import mirror_version
from indexer.ocds.packages import Export, package_header, write_package
from tests.web.conftest import OTHER_SUPPLIER, Demo
from tests.web.pages import sign_in
from tests.web.records import EVIDENCE_HASH, RAISED, RecordedDemo, build_recorded_demo

AUDITOR, FINANCE, SUPPLIER = DEV_INDEX["auditor"], DEV_INDEX["finance"], DEV_INDEX["supplier"]
MOFA, MOD_ADMIN = DEV_INDEX["mofa-treasury"], DEV_INDEX["mod-admin"]
TITLE = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml").spec.title
EN = {"Accept-Language": "en"}
JA = {"Accept-Language": "ja"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RecordedDemo:
    """The demo world with the records the read pages show (shadows conftest's ``demo`` in this module)."""
    return build_recorded_demo(tmp_path_factory.mktemp("demo"))


def _address(label: str, demo: Demo) -> str:
    return str(dev_account(DEV_INDEX[label], demo.rpc.chain_id).address)


def _api(client: TestClient, path: str, **params: object) -> object:
    """The JSON API's answer for the signed-in session of ``client``."""
    token = client.cookies[SESSION_COOKIE]
    response = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return response.json()


def _line_series(client: TestClient, demo: Demo, sub_item: str) -> int:
    lines = _api(client, "/budget/lines", fiscalYear=demo.fiscal_year)
    assert isinstance(lines, dict)
    return next(int(line["series"]) for line in lines["data"] if line["subItem"] == sub_item)


# ------------------------------------------------------------------ the procurement page


def test_the_procurement_page_shows_its_records(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    page = client.get(f"/ui/procurements/{demo.escrow}", headers=EN)
    assert page.status_code == 200, page.text
    text = page.text
    supplier, atla, jqa = _address("supplier", demo), _address("evaluator-atla", demo), _address("evaluator-jqa", demo)
    submissions = re.search(r'<table id="submissions">(.*?)</table>', text, re.S)
    assert submissions is not None
    assert f'title="{supplier}"' in submissions.group(1)
    assert f'title="0x{EVIDENCE_HASH.hex()}"' in submissions.group(1)
    assert "sent by the signer" in submissions.group(1)  # sent directly: no relayer
    attestations = re.search(r'<table id="attestations">(.*?)</table>', text, re.S)
    assert attestations is not None
    assert attestations.group(1).count(">pass<") == 2
    assert f'title="{atla}"' in attestations.group(1)
    assert f'title="{jqa}"' in attestations.group(1)
    assert "JST" in attestations.group(1)
    first = re.search(r'<tr data-milestone="0"[^>]*>(.*?)</tr>', text, re.S)
    assert first is not None
    assert "Paid" in first.group(1)
    assert 'class="late"' not in text
    payments = re.search(r'<table id="payments">(.*?)</table>', text, re.S)
    milestone = demo.app.state.gateway.ledger.escrow(demo.escrow).milestones()[0]
    assert payments is not None
    assert f'data-yen="{milestone.amount}"' in payments.group(1)
    amendments = re.search(r'<table id="amendments">(.*?)</table>', text, re.S)
    assert amendments is not None
    assert f'data-yen="{RAISED}"' in amendments.group(1)
    assert f'title="{_address("officer", demo)}"' in amendments.group(1)
    assert f'title="{_address("officer-2", demo)}"' in amendments.group(1)  # the approver
    assert "Red flags (1)" in text
    assert 'href="/ui/audit/flags?rule=amendment-soon"' in text
    assert f'href="/ui/audit/procurements/{demo.escrow}/trail"' in text
    assert "No dispute." in text


def test_a_supplier_reads_its_procurement_without_flags(client: TestClient, demo: Demo) -> None:
    sign_in(client, SUPPLIER)
    page = client.get(f"/ui/procurements/{demo.escrow}", headers=JA)
    assert page.status_code == 200
    assert 'id="attestations"' in page.text
    assert "レッドフラグ" not in page.text  # suppliers read no flags (gateway/services/flags.py)
    assert "/ui/audit/procurements/" not in page.text


def test_a_milestone_not_met_by_its_due_date_is_late(client: TestClient, demo: Demo) -> None:
    state = demo.app.state.gateway
    reader = Reader(state.engine, state.ledger.chain_id, state.directory.lookup(_address("auditor", demo)))
    detail = reader.procurement_detail(None, demo.escrow.lower())
    payments, _ = reader.rows(LISTINGS["payments"], Page(0, 50), {"procurement_id": demo.escrow})
    second_due = detail.milestones[1].due_date
    before, after = timeline(detail, payments, second_due), timeline(detail, payments, second_due + 1)
    assert [step.late for step in before] == [False, False, False]
    assert [step.late for step in after] == [False, True, False]  # the paid one was met in time
    assert after[0].met_at is not None
    assert after[0].met_at <= detail.milestones[0].due_date
    assert after[1].met_at is None


# ------------------------------------------------------------------ the budget line page


def test_the_line_page_shows_the_transfer_and_the_procurement_charged(client: TestClient, demo: RecordedDemo) -> None:
    sign_in(client, FINANCE)
    overview = client.get("/ui/budget", headers=EN).text
    source = _line_series(client, demo, "EQUIP-PURCHASE")
    target = _line_series(client, demo, "EQUIP-MAINT")
    assert f'href="/ui/budget/lines/{demo.fiscal_year}/{source}">EQUIP-PURCHASE</a>' in overview
    page = client.get(f"/ui/budget/lines/{demo.fiscal_year}/{source}", headers=EN)
    assert page.status_code == 200, page.text
    history = _api(client, f"/budget/lines/{demo.fiscal_year}/{source}/history")
    assert isinstance(history, dict)
    [transfer] = history["transfers"]
    records = demo.records
    assert transfer["transferId"] == str(records.transfer_id)
    assert (transfer["direction"], transfer["otherSeries"]) == ("out", target)
    assert transfer["requester"] == _address("treasury", demo)
    assert transfer["approver"] == _address("finance", demo)
    assert int(transfer["tookSeconds"]) == int(transfer["decidedAt"]) - int(transfer["requestedAt"])
    row = re.search(rf'<tr data-transfer="{records.transfer_id}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert f'href="/ui/budget/lines/{demo.fiscal_year}/{target}"' in row.group(1)
    assert f'title="{_address("treasury", demo)}"' in row.group(1)
    assert f'title="{_address("finance", demo)}"' in row.group(1)
    assert f'data-yen="{transfer["amount"]}"' in row.group(1)
    ledger, _ = budget_clients(demo.rpc, demo.app.state.gateway.ledger.system)
    line = ledger.line(records.source)
    [charged] = history["procurements"]
    assert (charged["escrow"], charged["title"]) == (demo.escrow, TITLE)
    assert int(charged["disbursed"]) == line.disbursed > 0
    assert f'<a href="/ui/procurements/{demo.escrow}">{TITLE}</a>' in page.text
    assert [event["event"] for event in history["events"]][-3:] == ["Obligated", "Disbursed", "Transferred"]
    assert [act["act"] for act in history["enactments"]] == ["initial"]
    inbound = client.get(f"/ui/budget/lines/{demo.fiscal_year}/{target}", headers=EN)
    assert re.search(rf'<tr data-transfer="{records.transfer_id}">.*?<td>in</td>', inbound.text, re.S)


def test_the_burn_rate_chart_is_an_svg_with_its_numbers(client: TestClient, demo: Demo) -> None:
    sign_in(client, FINANCE)
    source = _line_series(client, demo, "EQUIP-PURCHASE")
    page = client.get(f"/ui/budget/lines/{demo.fiscal_year}/{source}", headers=EN).text
    assert re.search(r'<svg role="img" aria-labelledby="burn-title burn-desc"', page)
    assert '<title id="burn-title">Burn rate: disbursed against the straight-line plan</title>' in page
    line = _api(client, f"/budget/lines/{demo.fiscal_year}/{source}")
    assert isinstance(line, dict)
    numbers = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td class="num" data-yen="(-?[0-9]+)">', page))
    assert numbers["Disbursed"] == line["disbursed"]
    assert numbers["Planned to date"] == line["burnRate"]["plannedToDate"]
    assert numbers["Projected lapse"] == line["projectedLapse"]
    assert f"Disbursed ¥{int(line['disbursed']):,};" in page  # the <desc>, in exact yen on a line's page
    assert 'class="actual" points="' in page
    assert 'class="plan" points="' in page
    overview = client.get("/ui/budget", headers=JA).text
    assert "執行率: 支出済額と均等執行の計画" in overview  # the overview's chart, in millions
    for html in (page, overview):  # the charts draw without a script (the page may load its live updates' scripts)
        for svg in re.findall(r"<svg.*?</svg>", html, re.S):
            assert "<script" not in svg
            assert " on" not in svg.split(">", 1)[0]


def test_a_line_outside_the_accounts_scope_is_a_404(client: TestClient, demo: Demo) -> None:
    sign_in(client, FINANCE)
    source = _line_series(client, demo, "EQUIP-PURCHASE")
    sign_in(client, MOFA)
    hidden = client.get(f"/ui/budget/lines/{demo.fiscal_year}/{source}", headers=EN)
    missing = client.get(f"/ui/budget/lines/{demo.fiscal_year}/4000000", headers=EN)
    assert hidden.status_code == missing.status_code == 404
    assert "EQUIP-PURCHASE" not in hidden.text
    token = client.cookies[SESSION_COOKIE]
    api = client.get(f"/budget/lines/{demo.fiscal_year}/{source}/history", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 404


# ------------------------------------------------------------------ search


def test_search_finds_the_procurement_by_a_word_of_its_title(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    link = f'href="/ui/procurements/{demo.escrow}"'
    for found in ({"q": "goggles"}, {"q": "GOGGLES"}, {"q": "Nippon Vision"}, {"q": "mod"}, {"status": "open"}):
        assert link in client.get("/ui/procurements", params=found, headers=EN).text, found
    assert link in client.get("/ui/procurements", params={"year": demo.fiscal_year}).text
    assert link in client.get("/ui/procurements", params={"q": "ocds-b5fd17-MOD-2026-0042"}).text
    for garbage in ("zqxj", "%", "_", "%%", "'; DROP TABLE procurements; --", "暗視装置", "\\", "ocds-b5fd17"):
        page = client.get("/ui/procurements", params={"q": garbage}, headers=EN)
        assert page.status_code == 200, garbage
        assert link not in page.text, garbage
        assert "No procurement matches." in page.text
    assert link not in client.get("/ui/procurements", params={"status": "completed"}).text
    assert link not in client.get("/ui/procurements", params={"year": demo.fiscal_year - 1}).text
    api = _api(client, "/procurements", q="goggles", status="open", fiscalYear=demo.fiscal_year)
    assert isinstance(api, dict)
    assert api["count"] == 1


def test_search_keeps_to_the_accounts_scope(client: TestClient, demo: Demo) -> None:
    sign_in(client, OTHER_SUPPLIER)
    page = client.get("/ui/procurements", params={"q": "goggles"}, headers=EN)
    assert page.status_code == 200
    link = f'href="/ui/procurements/{demo.escrow}"'
    assert link not in page.text
    assert link not in client.get("/ui/procurements", params={"q": demo.escrow}).text
    assert TITLE not in client.get("/ui/procurements", params={"q": demo.escrow}).text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"q": "x" * 101}, "at most 100 characters"),
        ({"q": "a\x00b"}, "control characters"),
        ({"q": "line\nbreak"}, "control characters"),
        ({"q": "   "}, "spaces alone"),
        ({"status": "closed"}, "status"),
        ({"year": "20x6"}, "year"),
        ({"year": "0"}, "year"),
        ({"page": "-1"}, "page"),
    ],
)
def test_hostile_search_input_is_a_clear_422(client: TestClient, params: dict[str, str], named: str) -> None:
    sign_in(client, AUDITOR)
    page = client.get("/ui/procurements", params=params, headers=EN)
    assert page.status_code == 422, page.text[:300]
    assert named in page.text
    assert page.headers["content-type"].startswith("text/html")


# ------------------------------------------------------------------ the auditor's pages


def test_an_auditor_reads_the_flags_with_their_evidence(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    page = client.get("/ui/audit/flags", headers=EN)
    assert page.status_code == 200
    api = _api(client, "/audit/flags")
    assert isinstance(api, dict)
    assert [flag["rule"] for flag in api["data"]] == ["amendment-soon"]
    assert page.text.count('<li data-rule="') == api["count"] == 1
    assert f'href="/ui/audit/procurements/{demo.escrow}/trail"' in page.text
    assert f"<dt>raise_yen</dt><dd>{RAISED - 72_000_000}</dd>" in page.text  # the evidence: the raise in yen
    for transaction in api["data"][0]["records"]["transactions"]:
        assert f'title="{transaction}"' in page.text
    for params, count in (
        ({"rule": "amendment-soon"}, 1),
        ({"rule": "same-identity"}, 0),
        ({"fy": str(demo.fiscal_year)}, 1),
        ({"fy": str(demo.fiscal_year + 1)}, 0),
        ({"ministry": "MOFA"}, 0),
        ({"ministry": "mod"}, 1),
    ):
        filtered = client.get("/ui/audit/flags", params=params, headers=EN)
        assert filtered.status_code == 200, params
        assert filtered.text.count('<li data-rule="') == count, params


def test_a_ministry_reads_its_own_flags_only_and_a_supplier_none(client: TestClient) -> None:
    sign_in(client, MOFA)
    own = client.get("/ui/audit/flags", headers=EN)
    assert own.status_code == 200
    assert own.text.count('<li data-rule="') == 0  # the flag is MOD's
    other = client.get("/ui/audit/flags", params={"ministry": "MOD"}, headers=EN)
    assert other.status_code == 403
    assert "flags of MOFA only" in other.text
    sign_in(client, MOD_ADMIN)
    assert client.get("/ui/audit/flags", headers=EN).text.count('<li data-rule="') == 1
    sign_in(client, SUPPLIER)
    refused = client.get("/ui/audit/flags", headers=EN)
    assert refused.status_code == 403
    assert "red flags are read by auditors" in refused.text


def test_the_trail_and_the_actor_pages_and_their_csv(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    trail = client.get(f"/ui/audit/procurements/{demo.escrow}/trail", headers=EN)
    assert trail.status_code == 200
    api = _api(client, f"/audit/procurements/{demo.escrow}/trail")
    assert isinstance(api, dict)
    assert trail.text.count("<tr data-event=") == api["count"] > 5
    for event in ("ProcurementCreated", "EvidenceSubmitted", "Attested", "PaymentReleased", "AmendmentApproved"):
        assert f'<tr data-event="{event}">' in trail.text, event
    approver = _address("officer-2", demo)
    assert f'href="/ui/audit/actors/{approver}"' in trail.text
    token = client.cookies[SESSION_COOKIE]
    csv_page = client.get(f"/ui/audit/procurements/{demo.escrow}/trail", params={"format": "csv"})
    bearer = {"Authorization": f"Bearer {token}"}
    csv_api = client.get(f"/audit/procurements/{demo.escrow}/trail", params={"format": "csv"}, headers=bearer)
    assert csv_page.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_page.headers["content-disposition"]
    assert csv_page.text == csv_api.text
    actor = client.get(f"/ui/audit/actors/{approver.lower()}", headers=EN)
    assert actor.status_code == 200
    assert '<tr data-event="AmendmentApproved">' in actor.text
    acts = client.get(f"/ui/audit/actors/{approver}", params={"format": "csv"})
    assert acts.text.count("\n") == 1 + actor.text.count("<tr data-event=")


def test_the_audit_page_shows_the_mirrors_state_and_the_ocds_download(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    page = client.get("/ui/audit", headers=EN)
    assert page.status_code == 200
    state = demo.app.state.gateway
    with state.engine.connect() as conn:
        version = mirror_version(conn, state.ledger.chain_id)
    assert version is not None
    assert f"<dd>{version.block_number}" in page.text
    assert f"<code>{version.chain_hash}</code>" in page.text
    assert "procure audit verify" in page.text
    assert '<a href="/ui/audit/digests.json">' in page.text
    assert "procure audit compare" in page.text
    digests = client.get("/ui/audit/digests.json")
    assert digests.status_code == 200
    token = client.cookies[SESSION_COOKIE]
    assert digests.json() == client.get("/audit/digests", headers={"Authorization": f"Bearer {token}"}).json()
    assert digests.json()["data"][-1]["chainHash"] == version.chain_hash  # the tip the page shows


def _all_api_releases(client: TestClient, token: str) -> list[dict[str, object]]:
    """Every release of ``GET /ocds/releases``, a procurement a page, following its Link headers."""
    releases: list[dict[str, object]] = []
    params: dict[str, object] = {"limit": 1}
    while True:
        answer = client.get("/ocds/releases", params=params, headers={"Authorization": f"Bearer {token}"})
        releases += answer.json()["releases"]
        link = re.search(r"cursor=([^>&]+)>", answer.headers.get("link", ""))
        if link is None:
            return releases
        params = {"limit": 1, "cursor": link.group(1)}


def test_the_ocds_download_is_the_whole_release_package_streamed(client: TestClient, demo: Demo) -> None:
    """The audit page's download is every procurement's releases (the API's pages put end to end), in the package
    `procure audit export-ocds --format release-package` writes (the same exporter and writer)."""
    state = demo.app.state.gateway
    for account, auditor in ((AUDITOR, True), (SUPPLIER, False)):
        sign_in(client, account)
        download = client.get("/ui/audit/ocds/releases.json")
        assert download.status_code == 200
        assert "attachment" in download.headers["content-disposition"]
        assert "content-length" not in download.headers  # streamed
        package = download.json()
        assert package["releases"] == _all_api_releases(client, client.cookies[SESSION_COOKIE])
        buffer = io.StringIO()
        with state.engine.connect() as conn:
            export = Export(
                conn, state.ledger.chain_id, state.ocds.publication, state.ocds.block_times, public=not auditor
            )
            count = write_package(
                buffer, "release", package_header("release", state.ocds.publication, "u", 0), export.releases()
            )
        assert count == len(package["releases"]) >= 1
        assert json.loads(buffer.getvalue())["releases"] == package["releases"]


def test_a_flood_of_ocds_downloads_is_held_to_the_accounts_streams(client: TestClient, demo: Demo) -> None:
    sign_in(client, AUDITOR)
    held = [open_slot(_address("auditor", demo)) for _ in range(MAX_STREAMS_PER_ACCOUNT)]
    try:
        refused = client.get("/ui/audit/ocds/releases.json", headers=EN)
        assert refused.status_code == 429
        assert "too many open streams" in refused.text
    finally:
        for slot in held:
            slot.release()
    assert client.get("/ui/audit/ocds/releases.json").status_code == 200
    assert held_streams(_address("auditor", demo)) == 0  # the download gave its slot back


def test_a_supplier_reads_only_its_own_trail_and_acts(client: TestClient, demo: Demo) -> None:
    sign_in(client, SUPPLIER)
    assert client.get(f"/ui/audit/procurements/{demo.escrow}/trail").status_code == 200  # its own procurement
    own = client.get(f"/ui/audit/actors/{_address('supplier', demo)}", headers=EN)
    assert own.status_code == 200
    other = client.get(f"/ui/audit/actors/{_address('officer-2', demo)}", headers=EN)
    assert other.status_code == 403
    assert "only auditors and the finance authority" in other.text
    sign_in(client, OTHER_SUPPLIER)
    hidden = client.get(f"/ui/audit/procurements/{demo.escrow}/trail", headers=EN)
    assert hidden.status_code == 404
    assert TITLE not in hidden.text
    assert client.get(f"/ui/audit/procurements/{demo.escrow}/trail", params={"format": "csv"}).status_code == 404


# ------------------------------------------------------------------ hostile parameters


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/ui/budget?page=0", 422, "page"),
        ("/ui/budget?page=2", 404, "no page 2 of lines"),
        ("/ui/budget/lines/abc/1", 422, "fiscal year"),
        ("/ui/budget/lines/0/1", 422, "fiscal year"),
        ("/ui/budget/lines/99999/1", 422, "fiscal year"),
        ("/ui/budget/lines/2026/0", 422, "series"),
        ("/ui/budget/lines/2026/-1", 422, "series"),
        ("/ui/budget/lines/2026/99999999999", 422, "series"),
        ("/ui/budget/lines/2026/1e3", 422, "series"),
        ("/ui/budget/lines/2026/%27%20OR%201=1", 422, "series"),
        ("/ui/budget/lines/2026", 404, "no page"),
        ("/ui/audit/actors/0x1234", 422, "40 hex digits"),
        ("/ui/audit/actors/" + "z" * 5000, 422, "40 hex digits"),
        ("/ui/audit/actors/0x" + "12" * 20 + "?format=pdf", 422, "format"),
        ("/ui/audit/procurements/0xzz/trail", 422, "procurement"),
        ("/ui/audit/procurements/" + "9" * 3000 + "/trail", 422, "procurement"),
        ("/ui/audit/procurements/ocds-b5fd17-MOD-2026-9999/trail", 404, "procurement"),
        ("/ui/audit/procurements/0x" + "12" * 20 + "/trail", 404, "procurement"),
        ("/ui/audit/flags?rule=no-such-rule", 422, "unknown rule"),
        ("/ui/audit/flags?rule=" + "r" * 5000, 422, "unknown rule"),
        ("/ui/audit/flags?fy=1e3", 422, "fy"),
        ("/ui/audit/flags?ministry=%00", 422, "ministry"),
        ("/ui/audit/flags?page=0", 422, "page"),
        ("/ui/audit/digests.json?from=-1", 422, "from"),
        ("/ui/audit/digests.json?limit=" + "9" * 40, 422, "limit"),
        ("/ui/audit/digests.json?from=5&to=4", 422, "before"),
    ],
)
def test_hostile_parameters_are_a_clear_error_page(client: TestClient, path: str, status: int, named: str) -> None:
    sign_in(client, AUDITOR)
    response = client.get(path, headers=EN)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert named in response.text
    assert "<script" not in response.text


def test_the_read_pages_need_a_session(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    for path in (
        f"/ui/budget/lines/{demo.fiscal_year}/1",
        "/ui/audit",
        "/ui/audit/flags",
        f"/ui/audit/procurements/{demo.escrow}/trail?format=csv",
        f"/ui/audit/actors/{_address('auditor', demo)}?format=csv",
        "/ui/audit/ocds/releases.json",
        "/ui/audit/digests.json",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/ui/sign-in"


def test_every_word_of_the_read_pages_exists_in_both_languages() -> None:
    ja, en = Words("ja"), Words("en")
    assert set(ja._catalog) == set(en._catalog)
    assert (ja.duration(90_061), en.duration(90_061), en.duration(3_660)) == ("1日1時間", "1 d 1 h", "1 h 1 min")
    assert ja.time("2026-12-07T01:28:00+09:00") == "2026年12月7日 01:28"
