"""Full flows through the HTTP API with real signatures: evidence, attestations, payment, mirror, idempotency."""

from __future__ import annotations

from chain.roles import Role
from tests.gateway.conftest import REPORT, Api

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}


def test_supplier_submits_two_evaluators_attest_payment_released_and_mirrored(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    before = api.client.get("/auth/me", headers=supplier).json()["balance"]

    document = api.upload(supplier, b"%PDF-1.7 acceptance test report, lot 1")
    assert document["uri"].startswith("ni:///sha-256;")
    submitted = api.act(
        "supplier",
        supplier,
        procurement,
        "submit-evidence",
        {"milestoneId": 0, "documentHash": document["documentHash"]},
    )
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["action"] == "SubmitEvidence"
    assert submitted.json()["relayer"] == api.relayer

    first = api.act("eval1", api.sign_in("eval1"), procurement, "attest", ATTEST, wait=True)
    assert first.status_code == 200, first.text
    assert first.json()["state"]["milestones"][0]["status"] == "Submitted"
    second = api.act("eval2", api.sign_in("eval2"), procurement, "attest", ATTEST, wait=True)
    assert second.status_code == 200, second.text
    state = second.json()["state"]
    assert state["milestones"][0]["status"] == "Paid"
    assert state["totals"]["released"] == "30000000"

    after = api.client.get("/auth/me", headers=supplier).json()["balance"]
    assert int(after) - int(before) == 30_000_000

    api.sync()
    detail = api.client.get(f"/procurements/{procurement}", headers=supplier).json()
    assert detail["milestones"][0]["status"] == "Paid"
    assert detail["totals"]["released"] == "30000000"
    payments = api.client.get("/payments", headers=supplier, params={"procurementId": procurement}).json()
    assert payments["count"] == 1
    assert payments["data"][0]["amount"] == "30000000"
    assert payments["data"][0]["kind"] == "released"
    attestations = api.client.get("/attestations", headers=supplier, params={"procurementId": procurement}).json()
    assert [a["evaluator"] for a in attestations["data"]] == [api.world.eval1.address, api.world.eval2.address]
    assert all(a["relayer"] == api.relayer and a["pass"] for a in attestations["data"])
    evidence = api.client.get("/submissions", headers=supplier, params={"procurementId": procurement}).json()
    assert evidence["data"][0]["documentHash"] == document["documentHash"]
    assert evidence["data"][0]["uri"] == document["uri"]

    # The evidence is readable by a panel evaluator now that the mirror shows it submitted, byte for byte.
    download = api.client.get(f"/evidence/{document['documentHash']}", headers=api.sign_in("eval3"))
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 acceptance test report, lot 1"

    health = api.client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["indexer"]["lagBlocks"] == 0

    metrics = api.client.get("/metrics").text
    assert 'gateway_relayed_actions_total{action="Attest",outcome="relayed"} 2.0' in metrics
    assert 'route="/procurements/{procurement_id}/actions/attest"' in metrics


def test_request_ids_are_echoed_or_made(api: Api) -> None:
    given = api.client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    made = api.client.get("/healthz", headers={"X-Request-ID": "bad id\n"})
    assert made.headers["x-request-id"] != "bad id\n"
    assert len(made.headers["x-request-id"]) == 32


def test_wait_gives_up_on_a_stalled_mirror_without_failing(api: Api, procurement: str) -> None:
    api.sync()
    evaluator = api.sign_in("eval1")
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"test data")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields).status_code == 202
    # The mirror exists but nobody runs the indexer here: wait gives up after wait_timeout_s, still a 200.
    response = api.act("eval1", evaluator, procurement, "attest", ATTEST, wait=True)
    assert response.status_code == 200
    assert response.json()["mirrored"] is False


def test_idempotency_key_returns_the_first_answer_and_acts_once(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"evidence")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    typed = api.typed_data(supplier, procurement, "submit-evidence", fields)
    body = {**fields, "deadline": typed["deadline"], "signature": api.sign_typed("supplier", typed)}
    url = f"/procurements/{procurement}/actions/submit-evidence"
    headers = supplier | {"Idempotency-Key": "submit-m0-r1"}

    first = api.client.post(url, headers=headers, json=body)
    assert first.status_code == 202, first.text
    marks = api.chain_marks()
    again = api.client.post(url, headers=headers, json=body)
    assert again.status_code == 202
    assert again.json()["txHash"] == first.json()["txHash"]
    assert again.json()["replayed"] is True
    assert api.chain_marks() == marks

    changed = api.client.post(url, headers=headers, json=body | {"uri": "https://elsewhere.example/doc"})
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("idempotency-key-reused")
    assert api.chain_marks() == marks


def test_failed_request_releases_its_idempotency_key(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"evidence")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    typed = api.typed_data(supplier, procurement, "submit-evidence", fields)
    url = f"/procurements/{procurement}/actions/submit-evidence"
    headers = supplier | {"Idempotency-Key": "k1"}
    bad = {**fields, "deadline": typed["deadline"], "signature": "0x" + "11" * 65}
    assert api.client.post(url, headers=headers, json=bad).status_code in (403, 422)
    good = {**fields, "deadline": typed["deadline"], "signature": api.sign_typed("supplier", typed)}
    # Nothing reached the chain, so the corrected retry may reuse the key.
    first = api.client.post(url, headers=headers, json=good)
    assert first.status_code == 202, first.text
    again = api.client.post(url, headers=headers, json=good)
    assert again.json()["replayed"] is True
    assert again.json()["txHash"] == first.json()["txHash"]


def test_revocation_takes_effect_on_the_next_request(api: Api, procurement: str) -> None:
    evaluator = api.sign_in("eval3")
    assert api.client.get("/auth/me", headers=evaluator).status_code == 200
    api.world.sender("admin").transact(
        api.world.registry.functions.revokeRole(Role.EVALUATOR.id, api.world.eval3.address)
    )
    # Until the mirror exists, the directory asks the chain: refused at once.
    response = api.client.get("/auth/me", headers=evaluator)
    assert response.status_code == 403
    assert response.json()["type"].endswith("account-not-permitted")


def test_revocation_through_the_mirror(api: Api, procurement: str) -> None:
    api.sync()
    evaluator = api.sign_in("eval3")
    api.world.sender("admin").transact(
        api.world.registry.functions.revokeRole(Role.EVALUATOR.id, api.world.eval3.address)
    )
    assert api.client.get("/auth/me", headers=evaluator).status_code == 200  # not mirrored yet
    api.sync()
    assert api.client.get("/auth/me", headers=evaluator).status_code == 403


def test_reads_are_scoped_by_role(api: Api, procurement: str) -> None:
    api.sync()
    supplier_count = api.client.get("/procurements", headers=api.sign_in("supplier")).json()["count"]
    colleague_count = api.client.get("/procurements", headers=api.sign_in("supplier_colleague")).json()["count"]
    assert supplier_count == colleague_count == 1
    assert api.client.get("/procurements", headers=api.sign_in("other_supplier")).json()["count"] == 0
    assert api.client.get("/procurements", headers=api.sign_in("officer2")).json()["count"] == 1  # same ministry
    assert api.client.get("/procurements", headers=api.sign_in("mofa_officer")).json()["count"] == 0
    assert api.client.get("/procurements", headers=api.sign_in("eval3")).json()["count"] == 1  # on the panel
    assert api.client.get("/procurements", headers=api.sign_in("eval4")).json()["count"] == 0
    assert api.client.get("/procurements", headers=api.sign_in("reviewer")).json()["count"] == 0  # no dispute
    auditor = api.sign_in("auditor")
    assert api.client.get("/procurements", headers=auditor).json()["count"] == 1
    events = api.client.get("/events", headers=auditor, params={"limit": 5}).json()
    assert events["count"] == 5
    rest = api.client.get("/events", headers=auditor, params={"limit": 10_000, "cursor": events["nextCursor"]}).json()
    positions = [(e["blockNumber"], e["logIndex"]) for e in events["data"] + rest["data"]]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


def test_dispute_and_settlement(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"delivery note")
    fields = {"milestoneId": 0, "documentHash": document["documentHash"]}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields).status_code == 202
    reason = {"milestoneId": 0, "reasonHash": "0x" + "33" * 32}
    assert api.act("supplier", supplier, procurement, "open-dispute", reason).status_code == 202
    reviewer = api.sign_in("reviewer")
    ruling = {"milestoneId": 0, "supplierAmount": "20000000", "rulingHash": "0x" + "44" * 32}
    settled = api.act("reviewer", reviewer, procurement, "settle-dispute", ruling, wait=True)
    assert settled.status_code == 200, settled.text
    assert settled.json()["state"]["milestones"][0]["status"] == "Settled"
    assert settled.json()["state"]["totals"]["released"] == "20000000"
    api.sync()
    disputes = api.client.get("/disputes", headers=api.sign_in("auditor")).json()
    assert disputes["data"][0]["supplierAmount"] == "20000000"
    assert disputes["data"][0]["ministryAmount"] == "10000000"


def test_amendment_needs_two_officers(api: Api, procurement: str) -> None:
    officer = api.sign_in("officer")
    due = api.world.now() + 200 * 86_400
    proposal = {
        "milestoneId": 1,
        "kind": "dueDate",
        "newDueDate": due,
        "rationaleHash": "0x" + "55" * 32,
    }
    assert api.act("officer", officer, procurement, "propose-amendment", proposal).status_code == 202
    same = api.act("officer", officer, procurement, "approve-amendment", {"amendmentId": 0})
    assert same.status_code == 403
    assert same.json()["error"] == "EscrowSameOfficer"
    approved = api.act(
        "officer2", api.sign_in("officer2"), procurement, "approve-amendment", {"amendmentId": 0}, wait=True
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"]["milestones"][1]["dueDate"] == due


def test_an_approval_signs_the_amendments_full_content(api: Api, procurement: str) -> None:
    """The typed data of an approval is filled in from the stored amendment; content that is not the stored one
    is refused before any gas is spent, and a signature for one amendment's content cannot approve another."""
    officer, officer2 = api.sign_in("officer"), api.sign_in("officer2")
    due = api.world.now() + 200 * 86_400
    later = {"milestoneId": 1, "kind": "dueDate", "newDueDate": due, "rationaleHash": "0x" + "55" * 32}
    cancel = {"milestoneId": 1, "kind": "cancel", "rationaleHash": "0x" + "66" * 32}
    for proposal in (later, cancel):  # amendments 0 and 1
        assert api.act("officer", officer, procurement, "propose-amendment", proposal).status_code == 202

    typed = api.typed_data(officer2, procurement, "approve-amendment", {"amendmentId": 0})
    message = typed["typedData"]["message"]
    assert (message["milestoneId"], message["kind"], message["newDueDate"]) == ("1", "1", str(due))
    assert message["rationaleHash"] == "0x" + "55" * 32

    wrong = api.client.get(
        f"/procurements/{procurement}/actions/approve-amendment",
        headers=officer2,
        params={"amendmentId": 0, "kind": "cancel"},
    )
    assert wrong.status_code == 422, wrong.text
    assert "kind cancel (amendment 0: dueDate)" in wrong.json()["detail"]
    unknown = api.client.get(
        f"/procurements/{procurement}/actions/approve-amendment", headers=officer2, params={"amendmentId": 9}
    )
    assert unknown.status_code == 404, unknown.text

    # officer2 signed an approval of the extension (amendment 0): relayed as an approval of the cancellation
    # (amendment 1), with the signed content it is refused as not amendment 1's, without it the signature fails.
    signature = api.sign_typed("officer2", typed)
    signed = {"deadline": typed["deadline"], "nonce": typed["nonce"], "signature": signature}
    path = f"/procurements/{procurement}/actions/approve-amendment"
    content = {"milestoneId": 1, "kind": "dueDate", "newDueDate": due, "rationaleHash": "0x" + "55" * 32}
    as_other = api.client.post(path, headers=officer2, json={"amendmentId": 1, **content, **signed})
    assert as_other.status_code == 422, as_other.text
    bare = api.client.post(path, headers=officer2, json={"amendmentId": 1, **signed})
    assert bare.status_code == 403, bare.text

    approved = api.client.post(path, headers=officer2, json={"amendmentId": 0, **signed}, params={"wait": "true"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"]["milestones"][1]["dueDate"] == due
    assert approved.json()["state"]["milestones"][1]["status"] == "Pending"  # not cancelled
