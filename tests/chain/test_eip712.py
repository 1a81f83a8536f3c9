"""The direct EIP-712 hashing of signed actions agrees with eth-account's generic encoder for every action."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from chain.actions import ACTIONS, StructType
from chain.eip712 import (
    ACTION_TYPES,
    Action,
    action_digest,
    recover_action_signer,
    recover_signer,
    sign_action,
    typed_data,
)
from chain.errors import SignatureError

ESCROW = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
ACCOUNT = Account.from_key(b"\x11" * 32)
OTHER = Account.from_key(b"\x22" * 32)


def _sample(kind: str, n: int, structs: dict[str, StructType]) -> Any:
    if kind.endswith("[]"):
        return [_sample(kind[:-2], n + i, structs) for i in range(n % 4)]
    if kind in structs:
        return {f.name: _sample(f.type, n + i, structs) for i, f in enumerate(structs[kind].fields)}
    if kind.startswith("int"):
        return -(1 << (int(kind[3:]) - 1)) + n
    if kind == "bool":
        return n % 2 == 0
    if kind == "bytes32":
        return bytes([n % 256]) * 32
    if kind == "string":
        return f"ipfs://evidence-{n}/ünïcode"
    if kind == "address":
        return "0x" + f"{n:02x}" * 20
    bits = int(kind[4:])
    return (1 << bits) - 1 - n


def _action(primary_type: str, n: int = 1) -> Action:
    structs = ACTIONS[primary_type].struct_types
    fields = {
        f["name"]: _sample(f["type"], n + i, structs)
        for i, f in enumerate(ACTION_TYPES[primary_type])
        if f["name"] not in ("nonce", "deadline")
    }
    return Action(primary_type, fields, nonce=7 + n, deadline=1_800_000_000 + n)


@pytest.mark.parametrize("primary_type", sorted(ACTION_TYPES))
@pytest.mark.parametrize("chain_id", [1, 31337])
def test_digest_equals_eth_accounts(primary_type: str, chain_id: int) -> None:
    action = _action(primary_type)
    signable = encode_typed_data(full_message=typed_data(action, chain_id=chain_id, escrow=ESCROW))
    assert signable.version == b"\x01"
    expected = bytes(_hash_eip191_message(signable))
    assert action_digest(action, chain_id=chain_id, escrow=ESCROW) == expected


@pytest.mark.parametrize("primary_type", sorted(ACTION_TYPES))
def test_recovers_what_a_wallet_signed_and_nothing_else(primary_type: str) -> None:
    action = _action(primary_type, 3)
    signature = sign_action(ACCOUNT, action, chain_id=31337, escrow=ESCROW)
    message = typed_data(action, chain_id=31337, escrow=ESCROW)
    assert recover_action_signer(action, signature, chain_id=31337, escrow=ESCROW) == ACCOUNT.address
    assert recover_signer(message, signature) == ACCOUNT.address
    # Another chain, another escrow, another nonce or deadline: another signer (never the real one).
    other_escrow = "0x" + "ab" * 20
    assert recover_action_signer(action, signature, chain_id=1, escrow=ESCROW) != ACCOUNT.address
    assert recover_action_signer(action, signature, chain_id=31337, escrow=other_escrow) != ACCOUNT.address
    for changed in (
        Action(action.primary_type, action.fields, action.nonce + 1, action.deadline),
        Action(action.primary_type, action.fields, action.nonce, action.deadline + 1),
    ):
        assert recover_action_signer(changed, signature, chain_id=31337, escrow=ESCROW) != ACCOUNT.address
    forged = sign_action(OTHER, action, chain_id=31337, escrow=ESCROW)
    assert recover_action_signer(action, forged, chain_id=31337, escrow=ESCROW) == OTHER.address


def test_out_of_range_and_malformed_values_are_refused() -> None:
    action = _action("Attest")
    bad = [
        {**action.fields, "milestoneId": -1},
        {**action.fields, "round": 1 << 256},
        {**action.fields, "pass": 1},
        {**action.fields, "reportHash": b"\x01" * 33},
        {**action.fields, "extra": 1},
    ]
    signature = sign_action(ACCOUNT, action, chain_id=31337, escrow=ESCROW)
    for fields in bad:
        with pytest.raises(SignatureError):
            recover_action_signer(Action("Attest", fields, 1, 2), signature, chain_id=31337, escrow=ESCROW)
    proposal = _action("ProposeAmendment")
    with pytest.raises(SignatureError):
        action_digest(Action("ProposeAmendment", {**proposal.fields, "kind": 256}, 1, 2), chain_id=31337, escrow=ESCROW)
    with pytest.raises(SignatureError):
        recover_action_signer(action, b"\x00" * 10, chain_id=31337, escrow=ESCROW)
    with pytest.raises(SignatureError):
        action_digest(Action("Unknown", {}, 1, 2), chain_id=31337, escrow=ESCROW)


def test_nested_structs_and_lists_are_checked_like_fields() -> None:
    authority = _action("EnactAuthority", 2)
    terms = authority.fields["terms"]
    signature = sign_action(ACCOUNT, authority, chain_id=31337, escrow=ESCROW)
    assert recover_action_signer(authority, signature, chain_id=31337, escrow=ESCROW) == ACCOUNT.address
    line = dict(terms["line"])
    bad_terms = [
        {**terms, "line": {k: v for k, v in line.items() if k != "subItem"}},  # a struct without one of its fields
        {**terms, "line": {**line, "extra": 1}},
        {**terms, "line": (1, 2, 3, 4, 5)},  # a tuple is no struct
        {**terms, "schedule": 5},
        {**terms, "schedule": [1, -1]},
        {**terms, "ceiling": 1 << 256},
    ]
    for bad in bad_terms:
        changed = Action("EnactAuthority", {**authority.fields, "terms": bad}, authority.nonce, authority.deadline)
        with pytest.raises(SignatureError):
            action_digest(changed, chain_id=31337, escrow=ESCROW)
        with pytest.raises(SignatureError):
            sign_action(ACCOUNT, changed, chain_id=31337, escrow=ESCROW)
    # Another year's schedule is another signature's (the list is signed element by element).
    other = {**terms, "schedule": [*terms["schedule"], 0]}
    moved = Action("EnactAuthority", {**authority.fields, "terms": other}, authority.nonce, authority.deadline)
    assert recover_action_signer(moved, signature, chain_id=31337, escrow=ESCROW) != ACCOUNT.address
    distribute = _action("Distribute")
    for change in (-(1 << 255) - 1, 1 << 255, True):
        with pytest.raises(SignatureError):
            action_digest(
                Action("Distribute", {**distribute.fields, "change": change}, 1, 2), chain_id=1, escrow=ESCROW
            )
