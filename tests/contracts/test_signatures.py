"""EIP-712 signed actions: every ``...BySig`` function accepts a wallet signature exactly once, names the
signer, consumes the signer's registry nonce, and refuses replayed, expired, foreign, forged or tampered
signatures with the exact custom error while leaving the chain untouched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from chain import Receipt
from chain.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Action, sign_action, typed_data
from chain.roles import org_id
from tests.helpers import event, new_escrow, reverts, travel_days
from tests.world import World

DOC = b"\x11" * 32
REPORT = b"\x22" * 32
RATIONALE = b"\x33" * 32
REASON = b"\x44" * 32
RULING = b"\x55" * 32
RELAY_GAS = 1_000_000
WATCHED = ("officer", "officer2", "supplier", "supplier_colleague", "eval1", "eval2", "reviewer", "auditor")
ZERO_ADDRESS = "0x" + "00" * 20
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# ------------------------------------------------------------------------------------------------ plumbing


def nonce_of(world: World, label: str) -> int:
    return int(world.registry.functions.nonces(world.accounts[label].address).call())


def sign(
    world: World,
    escrow: Contract,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    nonce: int | None = None,
    deadline: int | None = None,
    chain_id: int | None = None,
    verifying: str | None = None,
    key: str | None = None,
) -> tuple[Action, bytes]:
    """An action signed with ``key``'s private key (default: the signer's own) via eth-account."""
    action = Action(
        primary_type,
        dict(fields),
        nonce_of(world, signer) if nonce is None else nonce,
        world.now() + 3600 if deadline is None else deadline,
    )
    signature = sign_action(
        world.accounts[key or signer],
        action,
        chain_id=world.w3.eth.chain_id if chain_id is None else chain_id,
        escrow=verifying or escrow.address,
    )
    return action, signature


def send(
    world: World,
    escrow: Contract,
    action: Action,
    signer: str,
    signature: bytes,
    *,
    relayer: str = "outsider",
) -> Receipt:
    """Relay a signed action from ``relayer`` (by default an account with no role at all).

    The call is simulated first (a revert surfaces there, with its custom error, and nothing is mined),
    then sent with a fixed gas limit: py-evm's gas estimation would replay the signature check a dozen times.
    """
    fn = getattr(escrow.functions, action.function_name)(*action.call_args(world.accounts[signer].address, signature))
    sender = world.sender(relayer)
    sender.call(fn)
    return sender.transact(fn, gas=RELAY_GAS)


def chain_state(world: World, escrows: list[Contract]) -> tuple[Any, ...]:
    """What an action could change: escrow state, the officer's allowance, and the registry nonces and token
    balances of everyone the signed actions involve."""
    out: list[Any] = []
    for escrow in escrows:
        f = escrow.functions
        milestones = tuple(tuple(f.milestone(i).call()) for i in range(f.milestoneCount().call()))
        amendments = tuple(tuple(f.amendment(i).call()) for i in range(f.amendmentCount().call()))
        allowance = world.token.functions.allowance(world.officer.address, escrow.address).call()
        balance = world.token.functions.balanceOf(escrow.address).call()
        out.append((milestones, amendments, tuple(f.totals().call()), f.paused().call(), allowance, balance))
    for label in WATCHED:
        out.append(world.registry.functions.nonces(world.accounts[label].address).call())
    for label in ("officer", "supplier", "vault"):
        out.append(world.token.functions.balanceOf(world.accounts[label].address).call())
    return tuple(out)


# ------------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    """One ``...BySig`` action, with the set-up that makes it succeed."""

    primary_type: str
    signer: str  # who signs
    impostor: str  # another key, with the same role where the cast has one
    event: str  # the action's own event
    actor_field: str | None  # the event argument naming who acted (None: the event names nobody)
    ready: Callable[[World, Contract], dict[str, Any]]  # bring a fresh escrow to a state where it succeeds
    tamper: Callable[[dict[str, Any]], dict[str, Any]]  # change one signed field
    initial_funding: int | None = None  # None: fully funded


def _ready_fund(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("officer").transact(world.token.functions.approve(escrow.address, 20_000_000))
    return {"amount": 20_000_000}


def _ready_submit(world: World, escrow: Contract) -> dict[str, Any]:
    return {"milestoneId": 0, "documentHash": DOC, "uri": "ipfs://bafy-delivery-note"}


def _ready_attest(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    return {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}


def _ready_reclaim(world: World, escrow: Contract) -> dict[str, Any]:
    travel_days(world, 31)  # milestone 0 is due after 30 days and still Pending
    return {"milestoneId": 0}


def _ready_propose(world: World, escrow: Contract) -> dict[str, Any]:
    return {
        "milestoneId": 0,
        "kind": 0,  # Amount
        "newAmount": 25_000_000,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }


def _ready_approve(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("officer").transact(escrow.functions.proposeAmendment(0, 0, 25_000_000, 0, RATIONALE))
    return {
        "amendmentId": 0,
        "milestoneId": 0,
        "kind": 0,  # Amount
        "newAmount": 25_000_000,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }


def _ready_consent(world: World, escrow: Contract) -> dict[str, Any]:
    """A cancellation of a milestone under evaluation, which needs the supplier's consent."""
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    world.sender("officer").transact(escrow.functions.proposeAmendment(0, 2, 0, 0, RATIONALE))
    return {
        "amendmentId": 0,
        "milestoneId": 0,
        "kind": 2,  # Cancel
        "newAmount": 0,
        "newDueDate": 0,
        "rationaleHash": RATIONALE,
    }


def _ready_redirect(world: World, escrow: Contract) -> dict[str, Any]:
    """Milestone 0 approved while the supplier's organization is suspended: its payment is owed, and the
    supplier cannot hold yen."""
    nve, admin = org_id("NVE"), world.sender("admin")
    admin.transact(world.registry.functions.updateOrganization(nve, True, ZERO_ADDRESS))  # (again) for delivery
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    admin.transact(world.registry.functions.updateOrganization(nve, False, ZERO_ADDRESS))
    for evaluator in ("eval1", "eval2"):
        world.sender(evaluator).transact(escrow.functions.attest(0, 1, True, REPORT))
    return {"milestoneId": 0, "to": ZERO_ADDRESS, "rulingHash": RULING}


def _ready_open_dispute(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    return {"milestoneId": 0, "reasonHash": REASON}


def _ready_settle(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    world.sender("officer").transact(escrow.functions.openDispute(0, REASON))
    return {"milestoneId": 0, "supplierAmount": 10_000_000, "rulingHash": RULING}


def _ready_claim(world: World, escrow: Contract) -> dict[str, Any]:
    """Milestone 0 approved while releases were paused: its payment is owed; the pause has ended since."""
    admin = world.sender("mod_admin")
    admin.transact(escrow.functions.pauseUntil(world.now() + 7 * 86_400))
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    for evaluator in ("eval1", "eval2"):
        world.sender(evaluator).transact(escrow.functions.attest(0, 1, True, REPORT))
    admin.transact(escrow.functions.resume())
    return {"milestoneId": 0}


def _ready_lapse(world: World, escrow: Contract) -> dict[str, Any]:
    """A dispute on milestone 2 (due in 180 days: still open after a second escrow's set-up) no review body ruled
    on within the ruling period (30 days)."""
    world.sender("supplier").transact(escrow.functions.submitEvidence(2, DOC, "ipfs://bafy-delivery-note"))
    world.sender("officer").transact(escrow.functions.openDispute(2, REASON))
    travel_days(world, 31)
    return {"milestoneId": 2}


def _ready_pause(world: World, escrow: Contract) -> dict[str, Any]:
    return {"until": world.now() + 7 * 86_400}


def _ready_resume(world: World, escrow: Contract) -> dict[str, Any]:
    world.sender("mod_admin").transact(escrow.functions.pauseUntil(world.now() + 7 * 86_400))
    return {}


def _with(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda fields: {**fields, **changes}


CASES = [
    Case("Fund", "officer", "officer2", "Funded", "funder", _ready_fund, _with(amount=19_999_999), 50_000_000),
    Case(
        "SubmitEvidence",
        "supplier",
        "supplier_colleague",
        "EvidenceSubmitted",
        "supplier",
        _ready_submit,
        _with(uri="ipfs://bafy-forged-note"),
    ),
    Case("Attest", "eval1", "eval2", "Attested", "evaluator", _ready_attest, _with(**{"pass": False})),
    Case("Reclaim", "officer", "officer2", "MilestoneReclaimed", "officer", _ready_reclaim, _with(milestoneId=1)),
    Case(
        "ProposeAmendment",
        "officer",
        "officer2",
        "AmendmentProposed",
        "proposer",
        _ready_propose,
        _with(newAmount=250_000_000),
    ),
    Case(
        "ApproveAmendment",
        "officer2",
        "officer",
        "AmendmentApproved",
        "approver",
        _ready_approve,
        _with(newAmount=26_000_000),
    ),
    Case(
        "ConsentToAmendment",
        "supplier",
        "supplier_colleague",
        "AmendmentConsented",
        "supplier",
        _ready_consent,
        _with(rationaleHash=b"\x34" * 32),
    ),
    Case(
        "RedirectOwed",
        "reviewer",
        "auditor",
        "OwedRedirectRuled",
        "reviewer",
        _ready_redirect,
        _with(to="0x" + "11" * 20),
    ),
    Case(
        "OpenDispute",
        "supplier",
        "supplier_colleague",
        "DisputeOpened",
        "opener",
        _ready_open_dispute,
        _with(reasonHash=b"\x45" * 32),
    ),
    Case(
        "SettleDispute",
        "reviewer",
        "auditor",
        "DisputeSettled",
        "reviewer",
        _ready_settle,
        _with(supplierAmount=30_000_000),
    ),
    # Anyone may claim or lapse: the signature records who asked (PaymentReleased names the payee, the supplier).
    Case(
        "ClaimPayment",
        "supplier",
        "supplier_colleague",
        "PaymentReleased",
        "supplier",
        _ready_claim,
        _with(milestoneId=1),
    ),
    Case("LapseDispute", "officer", "officer2", "DisputeLapsed", None, _ready_lapse, _with(milestoneId=1)),
    Case(
        "PauseUntil",
        "mod_admin",
        "mofa_admin",
        "PauseChanged",
        "admin",
        _ready_pause,
        lambda fields: {**fields, "until": fields["until"] + 1},
    ),
    Case("Resume", "mod_admin", "mofa_admin", "PauseChanged", "admin", _ready_resume, _with()),  # nothing to tamper
]
CASE_IDS = [case.primary_type for case in CASES]


def make_escrow(world: World, case: Case, tag: str) -> Contract:
    escrow, _ = new_escrow(
        world,
        fund=case.initial_funding,
        procurement_id=keccak(text=f"sig-test-{case.primary_type}-{tag}"),
    )
    return escrow


def _assert_acted(escrow: Contract, receipt: Any, case: Case, signer: str) -> None:
    """The action's own event was emitted, naming the signer where it names who acted."""
    emitted = event(escrow, receipt, case.event)
    if case.actor_field is not None:
        assert emitted[case.actor_field] == signer


# ------------------------------------------------------------------------------------------------ domain


def test_domain_separator_matches_python(world: World) -> None:
    escrow, _ = new_escrow(world, procurement_id=keccak(text="domain-a"))
    other, _ = new_escrow(world, procurement_id=keccak(text="domain-b"))
    chain_id = world.w3.eth.chain_id

    def expected(address: str) -> bytes:
        type_hash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [type_hash, keccak(text="ProcurementEscrow"), keccak(text="1"), chain_id, address],
            )
        )

    separator = bytes(escrow.functions.domainSeparator().call())
    assert separator == expected(escrow.address)
    # eth-account (what chain.eip712 signs with) derives the same separator from the typed-data message.
    message = typed_data(Action("Reclaim", {"milestoneId": 0}, 0, 0), chain_id=chain_id, escrow=escrow.address)
    assert bytes(encode_typed_data(full_message=message).header) == separator
    # Each clone has its own domain, although they share one implementation.
    assert bytes(other.functions.domainSeparator().call()) == expected(other.address) != separator
    assert (DOMAIN_NAME, DOMAIN_VERSION) == ("ProcurementEscrow", "1")


def test_eip712_domain_erc5267(world: World) -> None:
    escrow, _ = new_escrow(world)
    fields, name, version, chain_id, verifying, salt, extensions = escrow.functions.eip712Domain().call()
    assert fields == b"\x0f"  # name, version, chainId, verifyingContract; no salt, no extensions
    assert name == "ProcurementEscrow"
    assert version == "1"
    assert chain_id == world.w3.eth.chain_id
    assert verifying == escrow.address  # the clone, not the shared implementation
    assert verifying != world.system.implementation
    assert salt == b"\x00" * 32
    assert extensions == []


# ------------------------------------------------------------------------------------------------ acceptance


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_signed_action_accepted_once(world: World, case: Case) -> None:
    escrow = make_escrow(world, case, "accept")
    fields = case.ready(world, escrow)
    signer = world.accounts[case.signer].address
    nonce = nonce_of(world, case.signer)
    action, signature = sign(world, escrow, case.signer, case.primary_type, fields)

    receipt = send(world, escrow, action, case.signer, signature, relayer="outsider")

    _assert_acted(escrow, receipt, case, signer)
    assert event(escrow, receipt, "SignatureUsed") == {
        "signer": signer,
        "relayer": world.outsider.address,
        "nonce": nonce,
    }
    logs = escrow.events.SignatureUsed().process_receipt(receipt.raw, errors=DISCARD)
    actions = getattr(escrow.events, case.event)().process_receipt(receipt.raw, errors=DISCARD)
    assert logs[0]["logIndex"] < actions[0]["logIndex"]  # the nonce use is announced before the action
    assert nonce_of(world, case.signer) == nonce + 1

    # The very same signature is spent: relaying it again fails and changes nothing.
    before = chain_state(world, [escrow])
    with reverts("EscrowInvalidSignature", signer):
        send(world, escrow, action, case.signer, signature, relayer="auditor")
    assert chain_state(world, [escrow]) == before


# ------------------------------------------------------------------------------------------------ rejection


def _high_s(signature: bytes) -> bytes:
    """The other valid (malleable) form of the same ECDSA signature: s' = n - s, v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


REJECTIONS = [
    "replayed",
    "expired",
    "wrong_chain_id",
    "wrong_escrow",
    "wrong_signer_key",
    "claims_other_signer",
    "future_nonce",
    "tampered_field",
    "tampered_deadline",
    "malleable_high_s",
]


@pytest.mark.parametrize("kind", REJECTIONS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_signature_rejected_and_changes_nothing(world: World, case: Case, kind: str) -> None:
    escrow = make_escrow(world, case, "a")
    escrows = [escrow]
    if kind == "wrong_escrow":  # a second escrow in the same state, for which the signature is made
        escrows.append(make_escrow(world, case, "b"))  # both created first: a set-up may suspend the supplier
    fields = case.ready(world, escrow)
    if kind == "wrong_escrow":
        assert case.ready(world, escrows[1]) == fields
    signer = case.signer
    signer_address = world.accounts[signer].address
    claimed = signer  # whom the relayed call names as signer

    if kind == "replayed":
        action, signature = sign(world, escrow, signer, case.primary_type, fields)
        send(world, escrow, action, signer, signature)
    elif kind == "expired":
        action, signature = sign(world, escrow, signer, case.primary_type, fields, deadline=world.now() - 1)
    elif kind == "wrong_chain_id":
        action, signature = sign(world, escrow, signer, case.primary_type, fields, chain_id=world.w3.eth.chain_id + 1)
    elif kind == "wrong_escrow":
        action, signature = sign(world, escrow, signer, case.primary_type, fields, verifying=escrows[1].address)
    elif kind == "wrong_signer_key":
        action, signature = sign(world, escrow, signer, case.primary_type, fields, key=case.impostor)
    elif kind == "claims_other_signer":
        action, signature = sign(world, escrow, signer, case.primary_type, fields)
        claimed = case.impostor
    elif kind == "future_nonce":
        action, signature = sign(world, escrow, signer, case.primary_type, fields, nonce=nonce_of(world, signer) + 1)
    elif kind == "tampered_field":
        if not fields:
            pytest.skip(f"{case.primary_type} signs no field to tamper with")
        action, signature = sign(world, escrow, signer, case.primary_type, fields)
        action = Action(action.primary_type, case.tamper(action.fields), action.nonce, action.deadline)
        assert action.fields != fields
    elif kind == "tampered_deadline":
        action, signature = sign(world, escrow, signer, case.primary_type, fields)
        action = Action(action.primary_type, action.fields, action.nonce, action.deadline + 86_400)
    elif kind == "malleable_high_s":
        action, signature = sign(world, escrow, signer, case.primary_type, fields)
        signature = _high_s(signature)
    else:  # pragma: no cover
        raise AssertionError(kind)

    before = chain_state(world, escrows)
    nonce_before = nonce_of(world, signer)
    if kind == "expired":
        with reverts("EscrowSignatureExpired") as info:
            send(world, escrow, action, claimed, signature)
        deadline, now = info.value.values
        assert deadline == action.deadline
        assert now > deadline
        assert now >= world.now()
    else:
        claimed_address = world.accounts[claimed].address
        with reverts("EscrowInvalidSignature", claimed_address):
            send(world, escrow, action, claimed, signature)
    assert chain_state(world, escrows) == before

    if kind == "wrong_escrow":
        # The signature was good, only for the other escrow: there it is accepted.
        receipt = send(world, escrows[1], action, signer, signature)
        _assert_acted(escrows[1], receipt, case, signer_address)
    elif kind != "replayed":
        # The failed attempt burned no nonce: a proper signature for the same action still goes through.
        good, good_signature = sign(world, escrow, signer, case.primary_type, fields)
        assert good.nonce == nonce_before
        receipt = send(world, escrow, good, signer, good_signature)
        _assert_acted(escrow, receipt, case, signer_address)


def test_attest_signature_cannot_flip_the_verdict(world: World) -> None:
    """A relayer cannot turn an evaluator's signed fail into a pass (or change round or report)."""
    escrow, _ = new_escrow(world)
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, DOC, "ipfs://bafy-delivery-note"))
    fields = {"milestoneId": 0, "round": 1, "pass": False, "reportHash": REPORT}
    action, signature = sign(world, escrow, "eval1", "Attest", fields)
    before = chain_state(world, [escrow])
    for forged in ({"pass": True}, {"round": 2}, {"reportHash": b"\x23" * 32}, {"milestoneId": 1}):
        tampered = Action("Attest", {**fields, **forged}, action.nonce, action.deadline)
        with reverts("EscrowInvalidSignature", world.eval1.address):
            send(world, escrow, tampered, "eval1", signature)
    assert chain_state(world, [escrow]) == before
    receipt = send(world, escrow, action, "eval1", signature)
    assert event(escrow, receipt, "Attested")["pass"] is False


def test_signature_for_one_action_type_is_not_valid_for_another(world: World) -> None:
    """Reclaim(milestoneId) and Fund(amount) have the same shape, as do ApproveAmendment and ConsentToAmendment;
    the type hash tells them apart."""
    escrow, _ = new_escrow(world, fund=50_000_000)
    world.sender("officer").transact(world.token.functions.approve(escrow.address, 20_000_000))
    reclaim, signature = sign(world, escrow, "officer", "Reclaim", {"milestoneId": 20_000_000})
    as_funding = Action("Fund", {"amount": 20_000_000}, reclaim.nonce, reclaim.deadline)
    before = chain_state(world, [escrow])
    with reverts("EscrowInvalidSignature", world.officer.address):
        send(world, escrow, as_funding, "officer", signature)
    assert chain_state(world, [escrow]) == before

    fields = _ready_consent(world, escrow)
    consent, signature = sign(world, escrow, "officer2", "ConsentToAmendment", fields)
    as_approval = Action("ApproveAmendment", fields, consent.nonce, consent.deadline)
    before = chain_state(world, [escrow])
    with reverts("EscrowInvalidSignature", world.officer2.address):
        send(world, escrow, as_approval, "officer2", signature)
    assert chain_state(world, [escrow]) == before


def test_registry_nonce_is_shared_by_all_escrows(world: World) -> None:
    first, _ = new_escrow(world, procurement_id=keccak(text="nonce-a"))
    second, _ = new_escrow(world, procurement_id=keccak(text="nonce-b"))
    fields = _ready_submit(world, first)
    nonce = nonce_of(world, "supplier")
    # Two signatures made while the nonce was the same, one for each escrow.
    for_first, sig_first = sign(world, first, "supplier", "SubmitEvidence", fields, nonce=nonce)
    for_second, sig_second = sign(world, second, "supplier", "SubmitEvidence", fields, nonce=nonce)

    receipt = send(world, first, for_first, "supplier", sig_first)
    assert event(first, receipt, "SignatureUsed")["nonce"] == nonce
    assert nonce_of(world, "supplier") == nonce + 1

    before = chain_state(world, [first, second])
    with reverts("EscrowInvalidSignature", world.supplier.address):
        send(world, second, for_second, "supplier", sig_second)
    assert chain_state(world, [first, second]) == before

    # Any other kind of action by the same signer is also bound to the shared sequence.
    dispute, sig_dispute = sign(
        world, first, "supplier", "OpenDispute", {"milestoneId": 0, "reasonHash": REASON}, nonce=nonce
    )
    with reverts("EscrowInvalidSignature", world.supplier.address):
        send(world, first, dispute, "supplier", sig_dispute)

    fresh, sig_fresh = sign(world, second, "supplier", "SubmitEvidence", fields)
    assert fresh.nonce == nonce + 1
    receipt = send(world, second, fresh, "supplier", sig_fresh)
    assert event(second, receipt, "SignatureUsed")["nonce"] == nonce + 1
    assert nonce_of(world, "supplier") == nonce + 2
