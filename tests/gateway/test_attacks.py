"""Attacks, each refused with a 4xx problem and nothing written on chain (block number and relayer nonce unchanged)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account

from chain.eip712 import Action, typed_data
from tests.gateway.conftest import REPORT, Api

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
PROBLEM = "application/problem+json"


def _problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    if slug is not None:
        assert body["type"].endswith(":" + slug), body
    return body


def _signed_body(
    api: Api, label: str, headers: dict[str, str], pid: str, action: str, fields: dict[str, Any]
) -> dict[str, Any]:
    typed = api.typed_data(headers, pid, action, fields)
    return {**fields, "deadline": typed["deadline"], "signature": api.sign_typed(label, typed)}


def test_forged_signature_is_refused(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    forged = api.sign_typed("eval1", typed, key=Account.create())
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=evaluator,
        json={**ATTEST, "deadline": typed["deadline"], "signature": forged},
    )
    _problem(response, 403, "signature-mismatch")
    assert api.chain_marks() == marks


def test_signature_of_another_account_is_refused(api: Api, submitted: str) -> None:
    # eval2 signs, but eval1 is signed in: the gateway relays only the signed-in account's own signatures.
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=evaluator,
        json={**ATTEST, "deadline": typed["deadline"], "signature": api.sign_typed("eval2", typed)},
    )
    _problem(response, 403, "signature-mismatch")
    assert api.chain_marks() == marks


_RELAY_FIELDS = ("txHash", "statusUrl", "action", "signer", "nonce", "deadline", "relayer", "gasLimit", "escrow")


def test_a_signed_action_posted_again_is_answered_with_its_first_relay_and_never_sent_twice(
    api: Api, submitted: str
) -> None:
    # A client that timed out posts the very same signed action again: the answer is the first relay's.
    evaluator = api.sign_in("eval1")
    body = _signed_body(api, "eval1", evaluator, submitted, "attest", ATTEST)
    url = f"/procurements/{submitted}/actions/attest"
    first = api.client.post(url, headers=evaluator, json=body)
    assert first.status_code == 202, first.text
    assert first.json()["replayed"] is False
    nonce = int(first.json()["nonce"])
    marks = api.chain_marks()
    for again in (body, body | {"nonce": nonce}):  # without the nonce, and with the one it was signed with
        retried = api.client.post(url, headers=evaluator, json=again)
        assert retried.status_code == 202, retried.text
        assert {k: retried.json()[k] for k in _RELAY_FIELDS} == {k: first.json()[k] for k in _RELAY_FIELDS}
        assert retried.json()["replayed"] is True
    assert api.chain_marks() == marks
    # Claiming another nonce than the one signed is no retry of it: checked at that nonce, and refused.
    _problem(api.client.post(url, headers=evaluator, json=body | {"nonce": nonce + 1}), 403, "signature-mismatch")
    assert api.chain_marks() == marks


def test_another_signed_action_under_a_used_nonce_is_a_conflict_naming_the_relay_that_used_it(
    api: Api, submitted: str
) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    url = f"/procurements/{submitted}/actions/attest"
    body = {
        **ATTEST,
        "deadline": typed["deadline"],
        "nonce": typed["nonce"],
        "signature": api.sign_typed("eval1", typed),
    }
    first = api.client.post(url, headers=evaluator, json=body)
    assert first.status_code == 202, first.text
    marks = api.chain_marks()
    # The signer signs other content (a fail) under the nonce its pass used: refused, naming the pass's relay.
    failing = api.typed_data(evaluator, submitted, "attest", ATTEST | {"pass": False, "deadline": typed["deadline"]})
    failing["typedData"]["message"]["nonce"] = typed["nonce"]
    signature = api.sign_typed("eval1", failing)
    for other in (body | {"pass": False, "signature": signature}, body | {"pass": False}):  # the pass's signature too
        problem = _problem(api.client.post(url, headers=evaluator, json=other), 409, "stale-nonce")
        assert problem["usedBy"] == first.json()["txHash"]
        assert first.json()["txHash"] in problem["detail"]
        assert problem["currentNonce"] == str(int(typed["nonce"]) + 1)
    assert api.chain_marks() == marks


def test_a_nonce_past_any_stored_one_is_a_plain_conflict(api: Api, submitted: str) -> None:
    """A hostile uint256 nonce (past the relay rows' BIGINT) is looked up among earlier relays too: a clear 409, not
    a database error."""
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    huge = 2**256 - 2
    body = {**ATTEST, "deadline": typed["deadline"], "nonce": str(huge), "signature": api.sign_typed("eval1", typed)}
    marks = api.chain_marks()
    _problem(
        api.client.post(f"/procurements/{submitted}/actions/attest", headers=evaluator, json=body), 409, "stale-nonce"
    )
    assert api.chain_marks() == marks


def test_expired_signature_is_refused(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    past = api.world.now() - 60
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST | {"deadline": past})
    assert typed["deadline"] == str(past)
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=evaluator,
        json={**ATTEST, "deadline": past, "signature": api.sign_typed("eval1", typed)},
    )
    _problem(response, 422, "signature-expired")
    assert api.chain_marks() == marks


@pytest.mark.parametrize(
    ("field", "value"),
    [("chainId", 1), ("verifyingContract", "0x" + "12" * 20), ("name", "SomethingElse")],
)
def test_signature_for_another_chain_or_escrow_is_refused(api: Api, submitted: str, field: str, value: Any) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    typed["typedData"]["domain"][field] = value
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=evaluator,
        json={**ATTEST, "deadline": typed["deadline"], "signature": api.sign_typed("eval1", typed)},
    )
    _problem(response, 403, "signature-mismatch")
    assert api.chain_marks() == marks


def test_altered_fields_are_refused(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    body = _signed_body(api, "eval1", evaluator, submitted, "attest", ATTEST)
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest", headers=evaluator, json=body | {"pass": False}
    )
    _problem(response, 403, "signature-mismatch")
    assert api.chain_marks() == marks


def test_supplier_cannot_attest_its_own_milestone(api: Api, submitted: str) -> None:
    supplier = api.sign_in("supplier")
    marks = api.chain_marks()
    _problem(api.client.get(f"/procurements/{submitted}/actions/attest", headers=supplier, params=ATTEST), 403)
    # Even with a correctly signed attestation (typed data built offline), the role check refuses it.
    fields = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": bytes.fromhex(REPORT[2:])}
    escrow = api.state.ledger.escrows_of(bytes.fromhex(submitted[2:]))[0]
    message = typed_data(Action("Attest", fields, 1, 2**40), chain_id=api.state.ledger.chain_id, escrow=escrow)
    signature = api.world.supplier.sign_typed_data(full_message=message).signature.to_0x_hex()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=supplier,
        json={**ATTEST, "deadline": 2**40, "nonce": 1, "signature": signature},
    )
    _problem(response, 403, "forbidden")
    assert api.chain_marks() == marks


def test_evaluator_outside_the_panel_is_refused(api: Api, submitted: str) -> None:
    outsider = api.sign_in("eval4")
    marks = api.chain_marks()
    _problem(api.client.get(f"/procurements/{submitted}/actions/attest", headers=outsider, params=ATTEST), 404)
    _problem(api.client.get(f"/procurements/{submitted}/state", headers=outsider), 404)
    assert api.chain_marks() == marks


def test_contract_refusal_comes_back_with_the_custom_error(api: Api, procurement: str) -> None:
    evaluator = api.sign_in("eval1")
    marks = api.chain_marks()
    response = api.act("eval1", evaluator, procurement, "attest", ATTEST)  # no evidence yet: still Pending
    body = _problem(response, 409, "contract-revert")
    assert body["error"] == "EscrowUnexpectedMilestoneStatus"
    assert body["args"] == {"milestoneId": "0", "current": "0", "allowed": "2"}  # uint256: decimal strings
    assert (
        body["detail"] == "milestone 0 is Pending (no evidence submitted yet); this needs it Submitted"
    )  # in words; raw in `raw`
    assert body["raw"] == "EscrowUnexpectedMilestoneStatus(milestoneId=0, current=0, allowed=2)"
    assert api.chain_marks() == marks


def test_a_refusal_names_the_accounts_organization(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    assert api.act("eval1", evaluator, submitted, "attest", ATTEST, wait=True).status_code == 200
    again = _problem(api.act("eval1", evaluator, submitted, "attest", ATTEST), 409, "contract-revert")
    address = api.world.eval1.address
    assert again["error"] == "EscrowAlreadyAttested"
    assert again["detail"] == f"ATLA's account {address[:6]}...{address[-4:]} already attested milestone 0 in round 1"


def test_supplier_cannot_read_another_suppliers_procurement(api: Api, procurement: str) -> None:
    api.sync()
    other = api.sign_in("other_supplier")
    _problem(api.client.get(f"/procurements/{procurement}", headers=other), 404)
    _problem(api.client.get(f"/procurements/{procurement}/state", headers=other), 404)
    assert api.client.get("/milestones", headers=other, params={"procurementId": procurement}).json()["count"] == 0
    assert api.client.get("/events", headers=other).json()["count"] == 0
    assert api.client.get("/procurements", headers=other).json()["count"] == 0


def test_supplier_cannot_download_another_suppliers_evidence(api: Api, submitted: str) -> None:
    api.sync()
    document = api.client.get("/submissions", headers=api.sign_in("auditor")).json()["data"][0]["documentHash"]
    _problem(api.client.get(f"/evidence/{document}", headers=api.sign_in("other_supplier")), 404)
    assert api.client.get(f"/evidence/{document}", headers=api.sign_in("supplier_colleague")).status_code == 200


def test_sign_in_nonce_cannot_be_used_twice(api: Api) -> None:
    message = api.siwe("supplier")
    body = {"message": message, "signature": api.personal_sign("supplier", message)}
    assert api.client.post("/auth/sign-in", json=body).status_code == 201
    _problem(api.client.post("/auth/sign-in", json=body), 401, "sign-in-failed")


@pytest.mark.parametrize(
    "overrides",
    [
        {"domain": "evil.example"},
        {"uri": "https://evil.example/login"},
        {"chain_id": 1},
        {"nonce": "NotIssuedByServer1"},
        {"issued_at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)},
        {"issued_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)},
        {"expiration_time": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)},
        {"not_before": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)},
        {"scheme": "ftp"},  # grammatical, but not this gateway's origin (EIP-4361: scheme must match it)
        {"scheme": "https"},  # the test gateway is served over http
        {"resources": ("ftp://evil.example/x",), "uri": "ftp://testserver/"},
    ],
    ids=["domain", "uri", "chain", "nonce", "stale", "future", "expired", "not-before", "ftp", "https", "ftp-uri"],
)
def test_sign_in_message_checks(api: Api, overrides: dict[str, Any]) -> None:
    _problem(api.sign_in_response("supplier", **overrides), 401, "sign-in-failed")


def test_sign_in_with_someone_elses_signature_is_refused(api: Api) -> None:
    message = api.siwe("auditor")
    response = api.client.post(
        "/auth/sign-in", json={"message": message, "signature": api.personal_sign("supplier", message)}
    )
    _problem(response, 401, "sign-in-failed")


def test_unknown_account_cannot_sign_in(api: Api) -> None:
    _problem(api.sign_in_response("outsider"), 403, "account-not-permitted")


def test_requests_without_a_live_session_are_refused(api: Api, procurement: str) -> None:
    response = api.client.get("/auth/me")
    _problem(response, 401, "not-authenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    _problem(api.client.get("/auth/me", headers={"Authorization": "Bearer forged"}), 401)
    headers = api.sign_in("supplier")
    assert api.client.post("/auth/sign-out", headers=headers).status_code == 200
    _problem(api.client.get("/auth/me", headers=headers), 401)


def test_oversized_upload_is_refused(api: Api) -> None:
    supplier = api.sign_in("supplier")
    response = api.client.post(
        "/evidence", headers=supplier, files={"file": ("big.pdf", b"x" * (64 * 1024 + 1), "application/pdf")}
    )
    _problem(response, 413, "payload-too-large")
    huge = api.client.post(
        "/evidence", headers=supplier, files={"file": ("huge.pdf", b"x" * (200 * 1024), "application/pdf")}
    )
    _problem(huge, 413, "payload-too-large")
    assert not list((api.state.settings.evidence_dir / "sha256").glob("*/*"))


def test_streamed_body_past_the_limit_is_refused(api: Api) -> None:
    headers = api.sign_in("supplier")

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 8192

    response = api.client.post(
        "/auth/sign-in", headers=headers | {"content-type": "application/json"}, content=chunks()
    )
    _problem(response, 413)


def test_unaccepted_content_type_is_refused(api: Api) -> None:
    supplier = api.sign_in("supplier")
    response = api.client.post("/evidence", headers=supplier, files={"file": ("x.html", b"<script>", "text/html")})
    _problem(response, 415, "unsupported-media-type")


def test_auditor_cannot_upload(api: Api) -> None:
    response = api.client.post(
        "/evidence", headers=api.sign_in("auditor"), files={"file": ("a.pdf", b"%PDF", "application/pdf")}
    )
    _problem(response, 403, "forbidden")


def test_evidence_changed_on_disk_is_never_served(api: Api) -> None:
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"original bytes")
    path = api.state.store.path_for(document["documentHash"])
    path.chmod(0o640)
    path.write_bytes(b"tampered bytes")  # same size
    _problem(api.client.get(f"/evidence/{document['documentHash']}", headers=supplier), 409, "evidence-corrupted")
    path.write_bytes(b"x")  # other size
    _problem(api.client.get(f"/evidence/{document['documentHash']}", headers=supplier), 409, "evidence-corrupted")
    # Uploading the original again heals the store.
    api.upload(supplier, b"original bytes")
    assert api.client.get(f"/evidence/{document['documentHash']}", headers=supplier).content == b"original bytes"


def test_evidence_not_in_the_store_cannot_be_submitted(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    response = api.client.get(
        f"/procurements/{procurement}/actions/submit-evidence",
        headers=supplier,
        params={"milestoneId": 0, "documentHash": "0x" + "ab" * 32},
    )
    _problem(response, 422, "invalid-input")


@pytest.mark.parametrize(
    "body",
    [
        b"{garbage",
        b"[]",
        b'{"milestoneId": 0.5, "round": 1, "pass": true, "reportHash": "0x00", "deadline": 1, "signature": "0x"}',
        b'{"milestoneId": 1e400}',
        b'{"milestoneId": "-1"}',
        b'{"milestoneId": 115792089237316195423570985008687907853269984665640564039457584007913129639936}',
        b"\xff\xfe\x00",
        b'{"a": ' * 5000,
    ],
    ids=["truncated", "array", "float", "overflow-float", "negative", "uint256-overflow", "binary", "deep"],
)
def test_malformed_json_is_a_422_never_a_500(api: Api, submitted: str, body: bytes) -> None:
    evaluator = api.sign_in("eval1")
    marks = api.chain_marks()
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest",
        headers=evaluator | {"content-type": "application/json"},
        content=body,
    )
    assert response.status_code in (400, 422), response.text  # undecodable bytes are a 400, the rest 422
    _problem(response, response.status_code)
    assert api.chain_marks() == marks


def test_float_amounts_are_refused(api: Api, procurement: str) -> None:
    officer = api.sign_in("officer")
    response = api.client.get(f"/procurements/{procurement}/actions/fund", headers=officer, params={"amount": "1.5"})
    _problem(response, 422, "validation-error")
    ok = api.client.get(f"/procurements/{procurement}/actions/fund", headers=officer, params={"amount": "1000"})
    assert ok.status_code == 200
    assert ok.json()["typedData"]["message"]["amount"] == "1000"


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    _problem(api.client.get("/nowhere"), 404)
    _problem(api.client.delete("/auth/nonce"), 405)


def test_unknown_procurement_ids_do_not_make_the_node_scan_the_chain_again(
    api: Api, procurement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of requests naming ids nobody registered (and a reviewer's requests for a procurement it may not
    see, which re-read the registrations) costs one log query over the blocks not yet read each, never a query
    from the deployment block again."""
    ledger = api.state.ledger
    api.client.get(f"/procurements/{procurement}/state", headers=api.sign_in("auditor"))  # registrations read
    queries: list[dict[str, Any]] = []
    result = ledger.rpc.result

    def counted(method: str, params: Any) -> Any:
        if method == "eth_getLogs":
            queries.append(params[0])
        return result(method, params)

    monkeypatch.setattr(ledger.rpc, "result", counted)
    head = ledger.head()
    for label in ("auditor", "reviewer"):
        headers = api.sign_in(label)
        for n in range(20):
            unknown = "0x" + (n + 1).to_bytes(32, "big").hex()
            _problem(api.client.get(f"/procurements/{unknown}/state", headers=headers), 404)
        api.client.get(f"/procurements/{procurement}/state", headers=headers)
    starts = [int(query["fromBlock"], 16) for query in queries]
    assert all(start > head - 5 for start in starts), f"log queries from blocks {starts}, head {head}"
    assert len(queries) <= 60
