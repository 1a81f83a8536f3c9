"""The actions that had neither a command nor a route (pause, resume, claim a deferred payment, lapse a dispute),
a milestone's evidence for the parties who may see it, and a procurement named by its escrow or id: who may,
what a hostile caller gets (wrong party, revoked party, reused signature, hostile body), and the invariant that
survives (nothing written on chain, nothing served that the caller may not see)."""

from __future__ import annotations

import time
from typing import Any

from eth_utils.crypto import keccak

from chain import Role
from gateway.evidence_bundle import BundleMember, bundle_manifest
from tests.gateway.conftest import Api
from tests.gateway.test_attacks import _problem, _signed_body
from tests.helpers import travel_days

DAY = 86_400
ATTEST_PASS = {"round": 1, "pass": True, "reportHash": "0x" + "22" * 32}


def _pause_body(api: Api, label: str, headers: dict[str, str], pid: str) -> dict[str, Any]:
    return _signed_body(api, label, headers, pid, "pause", {"until": api.world.now() + 7 * DAY})


def test_the_ministry_admin_pauses_and_resumes_through_the_gateway(api: Api, procurement: str) -> None:
    admin = api.sign_in("mod_admin")
    escrow = api.world.escrow(api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))[0])
    until = api.world.now() + 7 * DAY
    response = api.act("mod_admin", admin, procurement, "pause", {"until": until}, wait=True)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "mined"
    assert escrow.functions.pausedUntil().call() == until
    [event] = escrow.events.PauseChanged().get_logs(from_block=response.json()["blockNumber"])
    assert event.args.admin == api.world.accounts["mod_admin"].address  # the signer, not the relayer
    assert api.act("mod_admin", admin, procurement, "resume", {}, wait=True).status_code == 200
    assert escrow.functions.paused().call() is False


def test_only_the_buying_ministry_admin_may_pause(api: Api, procurement: str) -> None:
    marks = api.chain_marks()
    officer = api.sign_in("officer")  # an officer of the ministry: not its admin
    response = api.client.get(f"/procurements/{procurement}/actions/pause", headers=officer, params={"until": 1})
    _problem(response, 403)
    other = api.sign_in("mofa_admin")  # another ministry's admin does not even see the procurement
    response = api.client.get(f"/procurements/{procurement}/actions/pause", headers=other, params={"until": 1})
    _problem(response, 404)
    assert api.chain_marks() == marks


def test_a_revoked_admin_cannot_pause_with_a_signature_made_before(api: Api, procurement: str) -> None:
    admin = api.sign_in("mod_admin")
    body = _pause_body(api, "mod_admin", admin, procurement)
    api.world.sender("admin").transact(
        api.world.registry.functions.revokeRole(Role.MINISTRY_ADMIN.id, api.world.accounts["mod_admin"].address)
    )
    marks = api.chain_marks()
    response = api.client.post(f"/procurements/{procurement}/actions/pause", headers=admin, json=body)
    assert response.status_code == 403, response.text
    assert api.chain_marks() == marks


def test_a_pause_signature_is_used_once(api: Api, procurement: str) -> None:
    admin = api.sign_in("mod_admin")
    body = _pause_body(api, "mod_admin", admin, procurement)
    url = f"/procurements/{procurement}/actions/pause"
    first = api.client.post(url, headers=admin, json=body)
    assert first.status_code == 202, first.text
    marks = api.chain_marks()
    again = api.client.post(url, headers=admin, json=body)  # posted again: answered with the first relay
    assert again.status_code == 202, again.text
    assert (again.json()["txHash"], again.json()["replayed"]) == (first.json()["txHash"], True)
    # The same signature for another pause end is not a signature of it.
    _problem(api.client.post(url, headers=admin, json=body | {"until": int(body["until"]) + 1}), 403)
    assert api.chain_marks() == marks


def test_hostile_pause_bodies_are_refused_before_the_chain(api: Api, procurement: str) -> None:
    admin = api.sign_in("mod_admin")
    body = _pause_body(api, "mod_admin", admin, procurement)
    url = f"/procurements/{procurement}/actions/pause"
    marks = api.chain_marks()
    for until in (1.5, "soon", -1, 2**64, None, [1]):
        _problem(api.client.post(url, headers=admin, json=body | {"until": until}), 422)
    beyond = _signed_body(api, "mod_admin", admin, procurement, "pause", {"until": api.world.now() + 400 * DAY})
    refused = _problem(api.client.post(url, headers=admin, json=beyond), 409)
    assert "EscrowInvalidPause" in str(refused)  # the dry run names the contract's refusal; no gas spent
    assert api.chain_marks() == marks


def test_a_payment_deferred_by_a_pause_is_claimed_through_the_gateway(api: Api, submitted: str) -> None:
    admin = api.sign_in("mod_admin")
    assert api.act("mod_admin", admin, submitted, "pause", {"until": api.world.now() + 7 * DAY}).status_code == 202
    for label in ("eval1", "eval2"):
        headers = api.sign_in(label)
        assert api.act(label, headers, submitted, "attest", {"milestoneId": 0, **ATTEST_PASS}).status_code == 202
    supplier = api.sign_in("supplier")
    url = f"/procurements/{submitted}/actions/claim-payment"
    marks = api.chain_marks()
    early = _signed_body(api, "supplier", supplier, submitted, "claim-payment", {"milestoneId": 0})
    assert "EscrowPaused" in str(_problem(api.client.post(url, headers=supplier, json=early), 409))
    assert api.chain_marks() == marks
    evaluator = api.sign_in("eval3")  # not a party the payment concerns
    _problem(api.client.get(url, headers=evaluator, params={"milestoneId": 0}), 403)
    assert api.act("mod_admin", admin, submitted, "resume", {}).status_code == 202
    before = api.world.token.functions.balanceOf(api.world.accounts["supplier"].address).call()
    claimed = api.act("supplier", supplier, submitted, "claim-payment", {"milestoneId": 0}, wait=True)
    assert claimed.status_code == 200, claimed.text
    after = api.world.token.functions.balanceOf(api.world.accounts["supplier"].address).call()
    assert after - before == int(claimed.json()["state"]["milestones"][0]["amount"])
    marks = api.chain_marks()
    again = _signed_body(api, "supplier", supplier, submitted, "claim-payment", {"milestoneId": 0})
    assert "EscrowNothingOwed" in str(_problem(api.client.post(url, headers=supplier, json=again), 409))
    assert api.chain_marks() == marks


def test_a_dispute_past_its_ruling_period_is_lapsed_through_the_gateway(api: Api, submitted: str) -> None:
    supplier = api.sign_in("supplier")
    reason = {"milestoneId": 0, "reasonHash": "0x" + "44" * 32}
    assert api.act("supplier", supplier, submitted, "open-dispute", reason, wait=True).status_code == 200
    early = _signed_body(api, "supplier", supplier, submitted, "lapse-dispute", {"milestoneId": 0})
    url = f"/procurements/{submitted}/actions/lapse-dispute"
    assert "EscrowDisputeNotLapsed" in str(_problem(api.client.post(url, headers=supplier, json=early), 409))
    travel_days(api.world, 31)
    time.sleep(1.1)  # the gateway reads the chain's clock at most once a second (a real one never jumps a month)
    officer = api.sign_in("officer")
    lapsed = api.act("officer", officer, submitted, "lapse-dispute", {"milestoneId": 0}, wait=True)
    assert lapsed.status_code == 200, lapsed.text
    assert lapsed.json()["state"]["milestones"][0]["status"] == "Submitted"


# ------------------------------------------------------------------ a procurement by any of its names


def test_a_procurement_is_named_by_its_escrow_or_its_id_and_nothing_else(api: Api, submitted: str) -> None:
    procurement = submitted  # with evidence submitted: its escrow has events of its own
    auditor = api.sign_in("auditor")
    [escrow] = api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))
    by_id = api.client.get(f"/procurements/{procurement}/state", headers=auditor)
    by_escrow = api.client.get(f"/procurements/{escrow}/state", headers=auditor)
    assert by_id.status_code == by_escrow.status_code == 200, by_escrow.text
    assert by_escrow.json()["procurementId"] == procurement
    truncated = api.client.get(f"/procurements/{escrow[:-1]}/state", headers=auditor)
    assert "neither an escrow address" in _problem(truncated, 422)["detail"]
    # An ocid names keccak256(ocid): a procurement created under another ocid is simply not found.
    _problem(api.client.get("/procurements/ocds-b5fd17-MOD-2026-9999/state", headers=auditor), 404)
    # An account that is not an escrow of this ledger, and an escrow the caller may not see, are the same 404.
    _problem(api.client.get(f"/procurements/{api.world.accounts['outsider'].address}/state", headers=auditor), 404)
    other = api.sign_in("mofa_officer")
    _problem(api.client.get(f"/procurements/{escrow}/state", headers=other), 404)
    api.sync()  # the mirror's detail takes the same names
    mirrored = api.client.get(f"/procurements/{escrow.lower()}", headers=auditor)
    assert mirrored.status_code == 200, mirrored.text
    assert mirrored.json()["procurementId"] == procurement
    _problem(api.client.get(f"/procurements/{escrow}", headers=other), 404)
    for path in ("/milestones", "/events"):  # the filters take the same names
        by_id = api.client.get(path, headers=auditor, params={"procurementId": procurement}).json()
        by_address = api.client.get(path, headers=auditor, params={"procurementId": escrow}).json()
        assert by_id["data"]
        assert by_address["data"] == by_id["data"]
        wrong = api.client.get(path, headers=auditor, params={"procurementId": escrow[:-1]})
        assert "procurementId: " in _problem(wrong, 422)["detail"]
    officer = api.sign_in("officer")
    typed = api.client.get(f"/procurements/{escrow}/actions/reclaim", headers=officer, params={"milestoneId": 0})
    assert typed.status_code == 200, typed.text
    assert typed.json()["typedData"]["domain"]["verifyingContract"] == escrow


# ------------------------------------------------------------------ a milestone's evidence


def _submit(api: Api, label: str, pid: str, content: bytes, milestone: int = 0) -> str:
    headers = api.sign_in(label)
    document = api.upload(headers, content)["documentHash"]
    fields = {"milestoneId": milestone, "documentHash": document}
    assert api.act(label, headers, pid, "submit-evidence", fields).status_code == 202
    return str(document)


def _upload_json(api: Api, headers: dict[str, str], content: bytes) -> str:
    response = api.client.post(
        "/evidence", headers=headers, files={"file": ("bundle.json", content, "application/json")}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["documentHash"])


def test_the_panel_downloads_a_bundle_of_documents_and_outsiders_do_not(api: Api, procurement: str) -> None:
    supplier = api.sign_in("supplier")
    report, data = b"%PDF- inspection report", b"unit,fom\n1,1850\n"
    members = [
        BundleMember(str(api.upload(supplier, content)["documentHash"]), name, "application/pdf", len(content))
        for name, content in (("report.pdf", report), ("data.csv", data))
    ]
    manifest = _upload_json(api, supplier, bundle_manifest(members))
    fields = {"milestoneId": 0, "documentHash": manifest}
    assert api.act("supplier", supplier, procurement, "submit-evidence", fields).status_code == 202
    api.sync()
    url = f"/procurements/{procurement}/milestones/0/evidence"
    evaluator = api.sign_in("eval1")
    listed = api.client.get(url, headers=evaluator)
    assert listed.status_code == 200, listed.text
    [submission] = listed.json()["data"]
    assert submission["bundle"] is True
    assert submission["documentHash"] == manifest
    assert [d["filename"] for d in submission["documents"]] == ["report.pdf", "data.csv"]
    got = api.client.get(submission["documents"][0]["downloadUrl"], headers=evaluator)
    assert got.status_code == 200
    assert got.content == report
    # Not on the panel, another supplier, a review body before any dispute: the procurement's 404.
    for label in ("eval4", "other_supplier", "reviewer"):
        _problem(api.client.get(url, headers=api.sign_in(label)), 404)
        _problem(api.client.get(submission["documents"][0]["downloadUrl"], headers=api.sign_in(label)), 404)


def test_a_bundle_naming_another_organizations_document_is_refused_and_never_serves_it(
    api: Api, procurement: str
) -> None:
    # Another supplier's confidential document, whose hash is known (say from its own procurement's events).
    secret = b"OTHERCO confidential price breakdown"
    secret_hash = str(api.upload(api.sign_in("other_supplier"), secret)["documentHash"])
    supplier = api.sign_in("supplier")
    mine = b"%PDF- our report"
    members = [
        BundleMember(str(api.upload(supplier, mine)["documentHash"]), "report.pdf", "application/pdf", len(mine)),
        BundleMember(secret_hash, "prices.pdf", "text/html", len(secret)),
    ]
    manifest = _upload_json(api, supplier, bundle_manifest(members))
    marks = api.chain_marks()
    typed = api.client.get(
        f"/procurements/{procurement}/actions/submit-evidence",
        headers=supplier,
        params={"milestoneId": 0, "documentHash": manifest},
    )
    assert secret_hash in _problem(typed, 422)["detail"]
    assert api.chain_marks() == marks
    # Submitted straight to the chain (no gateway to refuse it), the foreign member is still never served.
    escrow = api.world.escrow(api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))[0])
    api.world.sender("supplier").transact(
        escrow.functions.submitEvidence(0, bytes.fromhex(manifest[2:]), "ni:///bundle")
    )
    api.sync()
    officer = api.sign_in("officer")
    url = f"/procurements/{procurement}/milestones/0/evidence"
    [submission] = api.client.get(url, headers=officer).json()["data"]
    assert [d["documentHash"] for d in submission["documents"]] == [members[0].document_hash]
    _problem(api.client.get(f"{url}/{secret_hash}", headers=officer), 404)
    # Nor is a document never submitted for the milestone, even one in the store.
    _problem(api.client.get(f"{url}/0x{keccak(b'x').hex()}", headers=officer), 404)


def test_the_evidence_list_answers_from_the_chain_past_the_mirrors_block(api: Api, procurement: str) -> None:
    """Evidence mined after the block the mirror has synced is listed from the chain (no 503, no wait on the
    indexer), each submission once whether it comes from the mirror or the chain; outsiders still get a 404."""
    api.sync()
    supplier = api.sign_in("supplier")
    document = str(api.upload(supplier, b"evidence the mirror has not seen yet")["documentHash"])
    escrow = api.world.escrow(api.state.ledger.escrows_of(bytes.fromhex(procurement[2:]))[0])
    receipt = api.world.sender("supplier").transact(
        escrow.functions.submitEvidence(0, bytes.fromhex(document[2:]), "ni:///unmirrored")
    )
    url = f"/procurements/{procurement}/milestones/0/evidence"
    evaluator = api.sign_in("eval1")
    for _ in ("from the chain", "from the mirror"):
        listed = api.client.get(url, headers=evaluator)
        assert listed.status_code == 200, listed.text
        [submission] = listed.json()["data"]
        assert (submission["documentHash"], submission["blockNumber"]) == (document, receipt.block_number)
        assert submission["uri"] == "ni:///unmirrored"
        assert [d["documentHash"] for d in submission["documents"]] == [document]
        api.sync()
    _problem(api.client.get(url, headers=api.sign_in("eval4")), 404)
