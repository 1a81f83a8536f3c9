"""Acting from the dashboard over HTTP, as a hostile client would: actions offered only to the roles that may
sign them (and refused to the others when posted anyway), CSRF on every POST, a signature for other content
refused, the demo signer refused on any chain but a dev one, the wallet sign-in checked by the API, and hostile
form content. Nothing refused ever reaches the chain."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from httpx import Response

from chain.devnet import DEV_INDEX
from gateway.main import create_app
from gateway.web.pages import SESSION_COOKIE
from tests.gateway.conftest import EVIDENCE_LIMIT, make_settings
from tests.tester import TesterTransport
from tests.web.browser import wallet_key
from tests.web.conftest import OTHER_SUPPLIER, Demo, build_demo
from tests.web.pages import csrf_of, sign_in
from tests.web.test_pages import _NamedChain

SUPPLIER, EVALUATOR, OFFICER = DEV_INDEX["supplier"], DEV_INDEX["evaluator-atla"], DEV_INDEX["officer"]
TREASURY, FINANCE, AUDITOR = DEV_INDEX["treasury"], DEV_INDEX["finance"], DEV_INDEX["auditor"]
EN = {"Accept-Language": "en"}
FORM_LIMIT = EVIDENCE_LIMIT // 2
_CONTENT = re.compile(r'name="content" value="([^"]*)"')
_OFFERED = re.compile(r'data-verb="([a-z-]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo world, its gateway relaying signed actions; a form's body limited below a document's (as in
    production: 256 KiB against 25 MiB)."""
    return build_demo(tmp_path_factory.mktemp("demo"), relay=True, json_max_bytes=FORM_LIMIT)


@pytest.fixture
def fresh(client: TestClient) -> Iterator[TestClient]:
    """The module's client, its cookies forgotten after the test."""
    yield client
    client.cookies.clear()


def _chain_mark(demo: Demo) -> tuple[int, int]:
    """Block number and relayer nonce: unchanged means nothing was written on chain."""
    relayer = demo.app.state.gateway.ledger.relayer
    return demo.rpc.block_number(), demo.rpc.transaction_count(relayer.address)


def _review(client: TestClient, path: str, **fields: str) -> tuple[str, dict[str, Any]]:
    """The act page reviewing ``fields``: the page, and the content its signing form carries."""
    page = client.get(path, params={**fields, "review": "1"}, headers=EN)
    assert page.status_code == 200, page.text
    found = _CONTENT.search(page.text)
    assert found is not None, page.text
    return page.text, json.loads(html.unescape(found.group(1)))


def _post(client: TestClient, path: str, page: str, content: dict[str, Any], **form: str) -> Response:
    data = {"csrf": csrf_of(page), "content": json.dumps(content), **form}
    response: Response = client.post(path, data=data, headers=EN)
    return response


def _attest_path(demo: Demo) -> str:
    return f"/ui/procurements/{demo.escrow}/act/attest"


def test_each_role_is_offered_the_actions_it_may_sign(fresh: TestClient, demo: Demo) -> None:
    expected = {
        SUPPLIER: ["submit-evidence"],
        EVALUATOR: ["attest"],
        OFFICER: ["propose-amendment", "approve-amendment"],
        AUDITOR: [],
    }
    for account, verbs in expected.items():
        sign_in(fresh, account)
        page = fresh.get(f"/ui/procurements/{demo.escrow}")
        assert page.status_code == 200, page.text
        assert _OFFERED.findall(page.text) == verbs, account
        assert f'sse-connect="/ui/live/procurements/{demo.escrow}?after=' in page.text
    for account, verbs in {TREASURY: ["request-transfer"], FINANCE: ["approve-transfer"], AUDITOR: []}.items():
        sign_in(fresh, account)
        assert _OFFERED.findall(fresh.get("/ui/budget").text) == verbs, account


def test_the_page_says_what_is_signed_beside_the_typed_data(fresh: TestClient, demo: Demo) -> None:
    sign_in(fresh, OFFICER)
    page, content = _review(
        fresh,
        f"/ui/procurements/{demo.escrow}/act/propose-amendment",
        milestoneId="1",
        kind="amount",
        newAmount="71,500,000",
        rationaleHash="supplier's cost rise",
    )
    assert "ocds-b5fd17-MOD-2026-0042" in page
    assert "<dd>¥71,500,000</dd>" in page  # exact yen
    assert re.search(r"Signature valid until</dt><dd><time datetime=\"[^\"]+\+09:00\">[^<]+ JST</time>", page)
    assert "&#34;primaryType&#34;: &#34;ProposeAmendment&#34;" in page  # the raw typed data beside the words
    assert content["newAmount"] == 71_500_000
    assert content["rationaleHash"].startswith("0x")
    assert len(content["rationaleHash"]) == 66
    assert 'id="sign-demo"' in page  # a dev chain, a demo account


def test_a_role_that_may_not_act_sees_no_form_and_is_refused(fresh: TestClient, demo: Demo) -> None:
    sign_in(fresh, EVALUATOR)
    _page, content = _review(fresh, _attest_path(demo), milestoneId="1", **{"pass": "pass"}, reportHash="ok")
    sign_in(fresh, SUPPLIER)
    refused = fresh.get(_attest_path(demo), headers=EN)
    assert refused.status_code == 403
    assert "EVALUATOR_ROLE" in refused.text
    assert "act-fields" not in refused.text
    mark = _chain_mark(demo)
    posted = _post(fresh, _attest_path(demo), fresh.get(f"/ui/procurements/{demo.escrow}").text, content, signer="dev")
    assert posted.status_code == 403, posted.text
    sign_in(fresh, AUDITOR)
    budget = fresh.get("/ui/budget").text
    refused = _post(fresh, "/ui/budget/act/approve-transfer", budget, {"transferId": 1, "deadline": 1}, signer="dev")
    assert refused.status_code == 403
    assert "FINANCE_AUTHORITY_ROLE" in refused.text
    assert _chain_mark(demo) == mark


@pytest.mark.parametrize("csrf", [None, "x" * 43, ""])
def test_a_post_without_its_csrf_token_changes_nothing(fresh: TestClient, demo: Demo, csrf: str | None) -> None:
    sign_in(fresh, EVALUATOR)
    _, content = _review(fresh, _attest_path(demo), milestoneId="1", **{"pass": "pass"}, reportHash="ok")
    mark = _chain_mark(demo)
    data = {"content": json.dumps(content), "signer": "dev"}
    if csrf is not None:
        data["csrf"] = csrf
    refused = fresh.post(_attest_path(demo), data=data, headers=EN)
    assert refused.status_code == 403
    assert "CSRF token is missing or does not match" in refused.text
    assert _chain_mark(demo) == mark


def test_a_signature_for_other_content_is_refused(fresh: TestClient, demo: Demo) -> None:
    """A wallet's signature of one attestation, posted with other content (the other verdict, another milestone)
    or for another action: the API's relay refuses it before any gas is spent."""
    sign_in(fresh, EVALUATOR)
    page, content = _review(fresh, _attest_path(demo), milestoneId="1", **{"pass": "pass"}, reportHash="ok")
    typed = fresh.get(
        f"/procurements/{demo.escrow}/actions/attest",
        params={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in content.items() if k != "nonce"},
        headers={"Authorization": f"Bearer {fresh.cookies[SESSION_COOKIE]}"},
    ).json()["typedData"]
    account = wallet_key(EVALUATOR, demo.rpc.chain_id)
    signature = account.sign_typed_data(full_message=typed).signature.to_0x_hex()
    mark = _chain_mark(demo)
    for other in ({**content, "pass": False}, {**content, "milestoneId": 2}):
        refused = _post(fresh, _attest_path(demo), page, other, signer="wallet", signature=signature)
        assert refused.status_code == 403, refused.text
        assert "signature" in refused.text.lower()
    sign_in(fresh, OFFICER)
    proposal, amendment = _review(
        fresh,
        f"/ui/procurements/{demo.escrow}/act/propose-amendment",
        milestoneId="1",
        kind="cancel",
        rationaleHash="x",
    )
    path = f"/ui/procurements/{demo.escrow}/act/propose-amendment"
    refused = _post(fresh, path, proposal, amendment, signer="wallet", signature=signature)
    assert refused.status_code == 403, refused.text
    assert _chain_mark(demo) == mark


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"content": "not json", "signer": "dev"}, "content: not JSON"),
        ({"content": "[1, 2]", "signer": "dev"}, "content: not an action"),
        (
            {"content": '{"deadline": 1, "a": "' + "a" * 17_000 + '"}', "signer": "dev"},
            "content: the signed content is",
        ),
        ({"content": '{"deadline": 1}', "signer": "root"}, "signer: sign with your wallet"),
        ({"content": '{"deadline": 1}', "signer": "wallet", "signature": "0x12"}, "signature: the wallet"),
        ({"content": '{"milestoneId": "1; drop", "deadline": 1}', "signer": "dev"}, "milestoneId"),
    ],
)
def test_hostile_form_content_is_a_clear_error(fresh: TestClient, demo: Demo, form: dict[str, str], named: str) -> None:
    sign_in(fresh, EVALUATOR)
    page = fresh.get(_attest_path(demo), headers=EN)
    mark = _chain_mark(demo)
    refused = fresh.post(_attest_path(demo), data={"csrf": csrf_of(page.text), **form}, headers=EN)
    assert refused.status_code in (403, 422), refused.text
    assert named in html.unescape(refused.text)
    assert _chain_mark(demo) == mark


def test_unknown_actions_and_fields_are_named(fresh: TestClient, demo: Demo) -> None:
    sign_in(fresh, OFFICER)
    unknown = fresh.get(f"/ui/procurements/{demo.escrow}/act/fund", headers=EN)
    assert unknown.status_code == 404
    assert "no action 'fund' here" in html.unescape(unknown.text)
    wrong = fresh.get(
        f"/ui/procurements/{demo.escrow}/act/propose-amendment",
        params={"milestoneId": "1", "kind": "amount", "newAmount": "1.5", "rationaleHash": "x", "review": "1"},
        headers=EN,
    )
    assert wrong.status_code == 422
    assert "newAmount: a whole number (yen have no minor unit)" in html.unescape(wrong.text)


def test_the_demo_signer_is_refused_on_another_chain(demo: Demo, tmp_path: Path) -> None:
    """On a chain that is not a dev chain the review offers no demo signer, and posting it anyway is refused; the
    wallet sign-in (the API's SIWE check) works there as anywhere."""
    state = demo.app.state.gateway
    assert isinstance(demo.rpc, TesterTransport)  # the tests' demo is on eth-tester
    rpc = _NamedChain(demo.rpc.tester)
    system = dataclasses.replace(state.ledger.system, chain_id=1)  # as deployed there
    app = create_app(make_settings(tmp_path), rpc=rpc, system=system, build=state.ledger.build)
    named = Demo(rpc=rpc, app=app, escrow=demo.escrow, fiscal_year=demo.fiscal_year)
    named.sync()
    account = wallet_key(OFFICER, demo.rpc.chain_id)  # the officer's key, held in a wallet
    with TestClient(app, follow_redirects=False) as client:
        _wallet_sign_in(client, account)
        path = f"/ui/procurements/{demo.escrow}/act/propose-amendment"
        page, content = _review(client, path, milestoneId="1", kind="cancel", rationaleHash="x")
        assert 'id="sign-demo"' not in page
        assert 'id="sign-wallet"' in page
        mark = _chain_mark(demo)
        refused = _post(client, path, page, content, signer="dev")
        assert refused.status_code == 403
        assert "(id 1)" in refused.text
        assert _chain_mark(demo) == mark


def _wallet_sign_in(client: TestClient, account: Any) -> None:
    """Sign in as a wallet does: the message the page asks for, personal_sign, the signed message posted back."""
    page = client.get("/ui/sign-in", headers=EN)
    csrf = csrf_of_cookie(client) if 'name="csrf"' not in page.text else csrf_of(page.text)
    asked = client.post("/ui/sign-in/wallet/message", data={"csrf": csrf, "address": account.address.lower()})
    assert asked.status_code == 200, asked.text
    message = asked.json()["message"]
    assert account.address in message  # checksummed for the wallet
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    done = client.post("/ui/sign-in/wallet", data={"csrf": csrf, "message": message, "signature": signature})
    assert done.status_code == 200, done.text
    assert done.json() == {"next": "/ui/budget"}
    assert SESSION_COOKIE in client.cookies


def csrf_of_cookie(client: TestClient) -> str:
    return str(client.cookies["procure_csrf"])


def test_a_wallet_sign_in_is_the_apis_check(fresh: TestClient, demo: Demo) -> None:
    """A message signed by another key, or reused, or posted without the CSRF token, opens no session."""
    fresh.cookies.clear()
    page = fresh.get("/ui/sign-in", headers=EN)
    csrf = csrf_of(page.text)
    finance = wallet_key(FINANCE, demo.rpc.chain_id)
    asked = fresh.post("/ui/sign-in/wallet/message", data={"csrf": csrf, "address": finance.address})
    message = asked.json()["message"]
    stranger = Account.create()
    forged = stranger.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    refused = fresh.post("/ui/sign-in/wallet", data={"csrf": csrf, "message": message, "signature": forged})
    assert refused.status_code == 401, refused.text
    assert SESSION_COOKIE not in fresh.cookies
    signature = finance.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    no_csrf = fresh.post("/ui/sign-in/wallet", data={"message": message, "signature": signature})
    assert no_csrf.status_code == 403
    assert fresh.post("/ui/sign-in/wallet", data={"csrf": csrf, "message": message, "signature": signature}).is_success
    fresh.cookies.delete(SESSION_COOKIE, path="/ui")
    again = fresh.post("/ui/sign-in/wallet", data={"csrf": csrf, "message": message, "signature": signature})
    assert again.status_code == 401  # the nonce is single-use
    bad = fresh.post("/ui/sign-in/wallet/message", data={"csrf": csrf, "address": "0x12"})
    assert bad.status_code == 422
    assert "address" in bad.json()["detail"]


def test_the_vendor_scripts_come_from_node_modules(fresh: TestClient) -> None:
    for name, marker in (("htmx.min.js", b"htmx"), ("sse.min.js", b"sse")):
        served = fresh.get(f"/ui/static/vendor/{name}")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/javascript")
        assert marker in served.content
    assert fresh.get("/ui/static/vendor/..%2F..%2Fpackage.json").status_code == 404
    assert fresh.get("/ui/static/vendor/lodash.js").status_code == 404


def _sent(response: Response) -> str:
    """The relayed transaction's hash on the page that answers a signed action."""
    assert response.status_code == 200, response.text
    found = re.search(r'<code id="tx-hash">(0x[0-9a-f]{64})</code>', response.text)
    assert found is not None, response.text
    return found.group(1)


def _mined(demo: Demo, tx_hash: str) -> None:
    receipt = demo.rpc.request("eth_getTransactionReceipt", [tx_hash])["result"]
    assert receipt is not None
    assert int(receipt["status"], 16) == 1


def test_a_second_officer_approves_an_amendment_named_in_full(fresh: TestClient, demo: Demo) -> None:
    """The approval's content (the stored amendment) is filled in from the chain and shown before signing."""
    path = f"/ui/procurements/{demo.escrow}/act/propose-amendment"
    sign_in(fresh, OFFICER)
    page, content = _review(fresh, path, milestoneId="2", kind="dueDate", newDueDate="2028-03-31", rationaleHash="x")
    assert "31 Mar 2028 23:59 JST" in page  # the end of that day, in JST
    _mined(demo, _sent(_post(fresh, path, page, content, signer="dev")))
    demo.sync()
    bearer = {"Authorization": f"Bearer {fresh.cookies[SESSION_COOKIE]}"}
    amendments = fresh.get("/amendments", params={"procurementId": demo.escrow}, headers=bearer).json()["data"]
    amendment = next(a for a in amendments if a["milestoneId"] == 2 and a["kind"] == "due_date")
    sign_in(fresh, DEV_INDEX["officer-2"])
    approve = f"/ui/procurements/{demo.escrow}/act/approve-amendment"
    offered = re.findall(r'<option value="([0-9]+)">[0-9]+: due_date', fresh.get(approve, headers=EN).text)
    assert offered == [str(amendment["amendmentId"])]  # the unapproved amendment, to choose
    page, content = _review(fresh, approve, amendmentId=str(amendment["amendmentId"]))
    assert "31 Mar 2028 23:59 JST" in page  # the stored amendment's content, in words
    assert content == {
        "amendmentId": amendment["amendmentId"],
        "nonce": content["nonce"],
        "deadline": content["deadline"],
    }  # the rest is the chain's, filled in again
    tx_hash = _sent(_post(fresh, approve, page, content, signer="dev"))
    _mined(demo, tx_hash)
    deadline = time.monotonic() + 10
    while True:  # the page's link: the API's relay status, pending until the relay's watcher has the receipt
        status = fresh.get(f"{approve}/relays/{tx_hash}", headers=EN)
        assert status.status_code == 200, status.text
        if 'id="relay-status">Sent' not in status.text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert re.search(r'id="relay-status">In a block \(Block [0-9]+\)<', status.text)
    unknown = fresh.get(f"{approve}/relays/0x{'ab' * 32}", headers=EN)
    assert unknown.status_code == 404
    assert "no action" in unknown.text
    garbage = fresh.get(f"{approve}/relays/0x12;drop", headers=EN)
    assert garbage.status_code == 422


def test_a_finance_officer_requests_a_transfer_on_its_own_lines_only(fresh: TestClient, demo: Demo) -> None:
    path = "/ui/budget/act/request-transfer"
    sign_in(fresh, TREASURY)
    form = fresh.get(path, headers=EN).text
    lines = re.findall(r'<option value="(2[0-9]{3}/MOD/[^"]+)"', form)
    assert len(lines) >= 4  # each MOD line, in both selects
    fields = {
        "request.from": lines[0],
        "request.to": lines[1],
        "request.amount": "1000000",
        "request.rationaleHash": "r",
    }
    page, content = _review(fresh, path, **fields)
    assert "<dd>¥1,000,000</dd>" in page
    _mined(demo, _sent(_post(fresh, path, page, content, signer="dev")))
    sign_in(fresh, DEV_INDEX["mofa-treasury"])
    assert "/MOD/" not in fresh.get(path, headers=EN).text  # another ministry's lines are not offered
    mark = _chain_mark(demo)
    refused = fresh.get(path, params={**fields, "review": "1"}, headers=EN)  # asked anyway
    assert refused.status_code == 403
    assert "is not a treasury (finance) officer of MOD" in refused.text  # the contract's refusal, in words
    posted = _post(fresh, path, refused.text, content, signer="dev")
    assert posted.status_code == 403
    assert _chain_mark(demo) == mark


def test_the_page_uploads_as_much_as_the_api_takes(fresh: TestClient, demo: Demo) -> None:
    """The page's upload is limited as ``POST /evidence`` is (the evidence limit, not a form's): a document past a
    form's limit is stored, a body past the evidence limit refused by its declared size before it is read."""
    sign_in(fresh, SUPPLIER)
    page = fresh.get(f"/ui/procurements/{demo.escrow}/act/submit-evidence", headers=EN).text
    path = f"/ui/procurements/{demo.escrow}/evidence"
    report = b"%PDF-1.4 " + bytes(EVIDENCE_LIMIT - 9)
    assert len(report) > FORM_LIMIT
    form = {"csrf": csrf_of(page), "milestoneId": "1"}
    stored = fresh.post(path, data=form, files={"file": ("report.pdf", report, "application/pdf")})
    assert stored.status_code == 303, stored.text
    assert f"documentHash=0x{hashlib.sha256(report).hexdigest()}" in stored.headers["location"]
    refused = fresh.post(path, data=form, files={"file": ("report.pdf", bytes(3 * EVIDENCE_LIMIT), "application/pdf")})
    assert refused.status_code == 413
    assert "exceeds" in refused.text


def test_a_live_stream_is_for_a_page_the_account_may_see(fresh: TestClient, demo: Demo) -> None:
    """Another supplier's procurement has no stream for it (the page's 404), nor has anyone signed out; a stream
    asks where to start."""
    fresh.cookies.clear()
    assert fresh.get(f"/ui/live/procurements/{demo.escrow}?after=0").status_code == 401
    sign_in(fresh, OTHER_SUPPLIER)
    hidden = fresh.get(f"/ui/live/procurements/{demo.escrow}?after=0", headers=EN)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"].startswith("text/html")
    assert fresh.get(f"/ui/live/procurements/{demo.escrow}", headers=EN).status_code == 422
    assert fresh.get("/ui/live/procurements/MOD-2026-0042?after=0", headers=EN).status_code == 422
