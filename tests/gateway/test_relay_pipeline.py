"""Pipelined relaying: 202 at once with a status URL, signer nonces past in-flight relays, gas for the worst
case, failures after sending visible in the status, Idempotency-Key answers and status by key."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import update

from chain import ACTIONS, Finality, SentTx
from gateway.models import RelayRecord
from tests.gateway.conftest import REPORT, Api

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}


def _settled(api: Api, headers: dict[str, str], status_url: str) -> dict[str, Any]:
    """Poll a relay's status URL until it is no longer pending."""
    give_up = time.monotonic() + 10
    while True:
        response = api.client.get(status_url, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "pending" or time.monotonic() > give_up:
            return body
        time.sleep(0.05)


def test_post_answers_202_with_a_status_url_that_ends_mined(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    response = api.act("eval1", evaluator, submitted, "attest", ATTEST)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] in ("pending", "mined")
    assert body["statusUrl"] == f"/procurements/{submitted}/actions/relays/{body['txHash']}"
    assert body["gasLimit"] >= ACTIONS["Attest"].gas
    final = _settled(api, evaluator, body["statusUrl"])
    assert final["status"] == "mined"
    assert final["txHash"] == body["txHash"]
    assert final["blockNumber"] is not None
    assert final["gasUsed"] > 0
    assert final["error"] is None
    receipt = api.world.w3.eth.get_transaction_receipt(body["txHash"])  # type: ignore[arg-type]
    assert receipt["status"] == 1
    assert receipt["blockNumber"] == final["blockNumber"]


def test_unknown_relay_status_is_404(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    response = api.client.get(f"/procurements/{submitted}/actions/relays/0x{'ab' * 32}", headers=evaluator)
    assert response.status_code == 404


def test_signer_signs_again_before_the_first_is_mined(api: Api, submitted: str) -> None:
    # The typed data after a relay carries the next nonce at once, and the gateway accepts it.
    evaluator = api.sign_in("eval1")
    first = api.act("eval1", evaluator, submitted, "attest", ATTEST)
    assert first.status_code == 202, first.text
    supplier = api.sign_in("supplier")
    document = api.upload(supplier, b"evidence for milestone 1")
    fields = {"milestoneId": 1, "documentHash": document["documentHash"]}
    assert api.act("supplier", supplier, submitted, "submit-evidence", fields).status_code == 202
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST | {"milestoneId": 1})
    assert int(typed["nonce"]) == int(first.json()["nonce"]) + 1
    second = api.act("eval1", evaluator, submitted, "attest", ATTEST | {"milestoneId": 1})
    assert second.status_code == 202, second.text
    assert int(second.json()["nonce"]) == int(first.json()["nonce"]) + 1
    for body in (first.json(), second.json()):
        assert _settled(api, evaluator, body["statusUrl"])["status"] == "mined"


def test_next_nonce_skips_the_signers_relays_in_flight(api: Api) -> None:
    relay = api.state.relay
    signer = api.world.eval1.address
    on_chain = api.state.ledger.registry.nonce(signer)
    # As if another gateway had sent two relays of this signer a minute ago, not mined yet: rows in the database.
    with api.state.sessions() as db:
        for n in (0, 1):
            db.add(
                RelayRecord(
                    tx_hash=f"0x{n + 1:064x}",
                    relayer=api.world.eval4.address,
                    relayer_nonce=n,
                    primary_type="Attest",
                    contract=api.world.eval4.address,
                    signer=signer,
                    signer_nonce=on_chain + n,
                    deadline="1",
                    gas_limit=1,
                    transaction="{}",
                    status="pending",
                    submitted_at=time.time() - 60,
                    gateway="another gateway",
                )
            )
        db.commit()
    assert relay.nonces.next(signer) == on_chain + 2
    with api.state.sessions() as db:
        db.execute(update(RelayRecord).where(RelayRecord.signer == signer).values(status="reverted"))
        db.commit()
    assert relay.nonces.next(signer) == on_chain


def test_the_quorum_attestation_pays_out_within_its_gas_limit(api: Api, submitted: str) -> None:
    # Both attestations are posted before either is looked at again: the second reaches the quorum and pays.
    one = api.act("eval1", api.sign_in("eval1"), submitted, "attest", ATTEST)
    two = api.act("eval2", api.sign_in("eval2"), submitted, "attest", ATTEST)
    assert one.status_code == two.status_code == 202
    auditor = api.sign_in("auditor")
    payout = _settled(api, auditor, two.json()["statusUrl"])
    assert payout["status"] == "mined", payout
    assert payout["gasUsed"] < payout["gasLimit"]
    state = api.client.get(f"/procurements/{submitted}/state", headers=auditor).json()
    assert state["milestones"][0]["status"] == "Paid"


def test_an_attestation_after_the_quorum_is_refused_before_gas(api: Api, submitted: str) -> None:
    assert api.act("eval1", api.sign_in("eval1"), submitted, "attest", ATTEST).status_code == 202
    assert api.act("eval2", api.sign_in("eval2"), submitted, "attest", ATTEST).status_code == 202
    marks = api.chain_marks()
    late = api.act("eval3", api.sign_in("eval3"), submitted, "attest", ATTEST)
    assert late.status_code in (403, 409, 422), late.text
    assert late.json()["type"].endswith("contract-revert")
    assert api.chain_marks() == marks


def test_a_revert_after_sending_shows_in_the_status(api: Api, submitted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # eval3's attestation passes the simulation, then eval2's (sent around the gateway) reaches the quorum
    # before eval3's is mined: eval3's transaction reverts on chain, and its status says why.
    world = api.world
    assert api.act("eval1", api.sign_in("eval1"), submitted, "attest", ATTEST).status_code == 202
    escrow = world.escrow(api.state.ledger.escrows_of(bytes.fromhex(submitted[2:]))[0])
    relayer = api.state.ledger.relayer
    assert relayer is not None
    submit = relayer.submit

    def race_then_submit(tx: Mapping[str, Any]) -> SentTx:  # called once the simulation passed
        world.sender("eval2").transact(escrow.functions.attest(0, 1, True, bytes.fromhex(REPORT[2:])))
        return submit(tx)

    monkeypatch.setattr(relayer, "submit", race_then_submit)
    evaluator = api.sign_in("eval3")
    response = api.act("eval3", evaluator, submitted, "attest", ATTEST)
    monkeypatch.undo()
    assert response.status_code == 202, response.text
    final = _settled(api, evaluator, response.json()["statusUrl"])
    assert final["status"] == "reverted", final
    assert final["error"]["error"].startswith("Escrow"), final
    assert final["gasUsed"] < final["gasLimit"]  # a refusal, not out of gas
    # The signer's nonce was not used: the next typed data asks for it again.
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    assert typed["nonce"] == response.json()["nonce"]


def test_wait_true_still_waits_for_the_receipt_and_the_state(api: Api, submitted: str) -> None:
    response = api.act("eval1", api.sign_in("eval1"), submitted, "attest", ATTEST, wait=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "mined"
    assert body["blockNumber"] is not None
    assert body["state"]["milestones"][0]["passes"] == 1


def test_idempotent_retry_returns_the_first_transaction_and_its_status(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    body = {**ATTEST, "deadline": typed["deadline"], "signature": api.sign_typed("eval1", typed)}
    url = f"/procurements/{submitted}/actions/attest"
    headers = evaluator | {"Idempotency-Key": "attest-m0"}
    first = api.client.post(url, headers=headers, json=body)
    assert first.status_code == 202, first.text
    _settled(api, evaluator, first.json()["statusUrl"])
    marks = api.chain_marks()
    again = api.client.post(url, headers=headers, json=body)
    assert again.status_code == 202
    assert again.json()["txHash"] == first.json()["txHash"]
    assert again.json()["replayed"] is True
    assert again.json()["status"] == "mined"
    assert api.chain_marks() == marks
    by_key = api.client.get(
        f"/procurements/{submitted}/actions/relays", headers=evaluator, params={"idempotencyKey": "attest-m0"}
    )
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["txHash"] == first.json()["txHash"]
    assert by_key.json()["status"] == "mined"
    unknown = api.client.get(
        f"/procurements/{submitted}/actions/relays", headers=evaluator, params={"idempotencyKey": "nope"}
    )
    assert unknown.status_code == 404


def test_junk_posts_spend_no_gas(api: Api, submitted: str) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    url = f"/procurements/{submitted}/actions/attest"
    marks = api.chain_marks()
    for i in range(20):
        junk = {**ATTEST, "deadline": typed["deadline"], "signature": "0x" + f"{i + 1:02x}" * 65}
        assert api.client.post(url, headers=evaluator, json=junk).status_code in (403, 422)
    assert api.chain_marks() == marks
    good = {**ATTEST, "deadline": typed["deadline"], "signature": api.sign_typed("eval1", typed)}
    assert api.client.post(url, headers=evaluator, json=good).status_code == 202


def test_a_relay_beyond_the_in_flight_cap_waits_until_one_is_mined(api: Api, submitted: str) -> None:
    in_flight = api.state.relay.in_flight
    evaluator = api.sign_in("eval1")
    first = api.act("eval1", evaluator, submitted, "attest", ATTEST)
    assert first.status_code == 202, first.text
    assert _settled(api, evaluator, first.json()["statusUrl"])["status"] == "mined"
    mined = api.state.relay.status(first.json()["txHash"])
    assert mined is not None
    # A relay in flight that the watcher cannot settle (its relayer nonce is far ahead of the chain).
    relay = dataclasses.replace(mined, sent=dataclasses.replace(mined.sent, nonce=10**9), settled=threading.Event())
    in_flight.max_in_flight = 1
    with in_flight._lock:
        in_flight._pending[relay.sent.nonce] = relay
    waited = threading.Event()

    def wait() -> None:
        in_flight.wait_for_room(lambda: None)
        waited.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert not waited.wait(0.3)  # no room while it is in flight
    in_flight.settle(relay, relay.block_number, relay.gas_used, None)  # mined: room again
    assert waited.wait(5)
    waiter.join()


def test_a_relay_is_final_at_the_chains_finality_depth(
    api: Api, submitted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluator = api.sign_in("eval1")
    response = api.act("eval1", evaluator, submitted, "attest", ATTEST)
    assert response.status_code == 202, response.text
    assert response.json()["final"] in (False, True)  # final only if already mined (this chain's finality: 0)
    settled = _settled(api, evaluator, response.json()["statusUrl"])
    assert (settled["status"], settled["final"]) == ("mined", True)
    ledger = api.state.ledger
    monkeypatch.setattr(ledger, "system", dataclasses.replace(ledger.system, finality=Finality(2)))
    assert api.client.get(settled["statusUrl"], headers=evaluator).json()["final"] is False
    api.world.tester.mine_blocks(1)
    assert api.client.get(settled["statusUrl"], headers=evaluator).json()["final"] is False
    api.world.tester.mine_blocks(1)
    assert api.client.get(settled["statusUrl"], headers=evaluator).json()["final"] is True
