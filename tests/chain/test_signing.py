"""chain/signing.py against eth-account: the same keys, addresses and signature bytes, the same signer recovered, the
same dev accounts; so that signing without eth-account cannot silently diverge from it."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address as eth_utils_is_checksum
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from chain import (
    DEV_MNEMONIC,
    Signer,
    checksum_address,
    dev_account,
    is_checksum_address,
    personal_digest,
    recover,
    signer_of,
)
from chain.actions import ACTIONS
from chain.eip712 import recover_signer, sign_action, typed_data, typed_data_digest
from chain.errors import SignatureError
from tests.chain.test_eip712 import ESCROW, _action

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
keys = st.integers(min_value=1, max_value=N - 1).map(lambda k: k.to_bytes(32, "big"))
texts = st.text(max_size=300) | st.binary(max_size=300)

Account.enable_unaudited_hdwallet_features()


@settings(max_examples=25, deadline=None)
@given(key=keys, text=texts)
def test_personal_sign_is_eth_accounts(key: bytes, text: str | bytes) -> None:
    theirs = Account.from_key(key)
    ours = Signer(key)
    assert ours.address == theirs.address
    signable = encode_defunct(text=text) if isinstance(text, str) else encode_defunct(primitive=text)
    expected = bytes(theirs.sign_message(signable).signature)
    assert ours.sign_text(text) == expected
    assert ours.sign_message(signable).signature == expected
    assert recover(personal_digest(text), expected) == theirs.address


@settings(max_examples=25, deadline=None)
@given(key=keys, digest=st.binary(min_size=32, max_size=32))
def test_a_digest_is_signed_and_recovered_as_eth_account_does(key: bytes, digest: bytes) -> None:
    theirs = Account.from_key(key)
    signature = Signer(key).sign_digest(digest)
    assert signature == bytes(theirs.unsafe_sign_hash(digest).signature)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = r + (N - s).to_bytes(32, "big") + bytes([55 - v])  # the malleable twin eth-account also accepts
    for form in (signature, signature[:64] + bytes([v - 27]), high_s):
        assert recover(digest, form) == Account._recover_hash(digest, signature=form) == theirs.address


@settings(max_examples=50, deadline=None)
@given(raw=st.binary(min_size=20, max_size=20), prefix=st.sampled_from(["0x", "0X", ""]), case=st.booleans())
def test_checksums_are_eth_utils(raw: bytes, prefix: str, case: bool) -> None:
    written = prefix + (raw.hex().upper() if case else raw.hex())
    expected = to_checksum_address(written)
    assert checksum_address(written) == checksum_address(raw) == expected
    for text in (expected, written, expected.lower(), expected[2:]):
        assert is_checksum_address(text) == eth_utils_is_checksum(text), text


def test_what_is_not_an_address_is_refused() -> None:
    for hostile in ("0x" + "g" * 40, "0x" + "a" * 39, "0x" + "a" * 41, "", "0x", b"\x01" * 19, " 0x" + "a" * 40):
        with pytest.raises(ValueError, match="is not an address"):
            checksum_address(hostile)
        assert not is_checksum_address(hostile)


@pytest.mark.parametrize("primary_type", sorted(ACTIONS))
def test_every_declared_action_is_signed_as_eth_account_signs_its_typed_data(primary_type: str) -> None:
    theirs = Account.from_key(b"\x5a" * 32)
    action = _action(primary_type, 5)
    message = typed_data(action, chain_id=31337, escrow=ESCROW)
    expected = bytes(theirs.sign_typed_data(full_message=message).signature)
    assert sign_action(theirs, action, chain_id=31337, escrow=ESCROW) == expected
    as_json = _json(message)  # what the gateway answers: integers as decimal strings, bytes as hex
    assert Signer(theirs.key).sign_digest(typed_data_digest(as_json)) == expected
    assert recover_signer(as_json, expected) == theirs.address


def test_dev_accounts_are_the_mnemonics() -> None:
    for index in range(30):
        theirs = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        ours = dev_account(index, 31337)
        assert (ours.address, ours.key) == (theirs.address, bytes(theirs.key))
    assert dev_account(0, 31337).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first account


def test_typed_data_that_is_not_its_declaration_is_refused() -> None:
    message = typed_data(_action("Attest"), chain_id=31337, escrow=ESCROW)
    fewer = {**message, "types": {**message["types"], "Attest": message["types"]["Attest"][1:]}}
    other_domain = {**message, "domain": {**message["domain"], "name": "Evil"}}
    unknown = {**message, "primaryType": "Steal"}
    bad_chain = {**message, "domain": {**message["domain"], "chainId": "0x7a69"}}
    bad_contract = {**message, "domain": {**message["domain"], "verifyingContract": "0xnothex"}}
    for hostile, words in [
        (fewer, "not those of a Attest"),
        (other_domain, "is not a MilestoneEscrow"),
        (unknown, "unknown action type 'Steal'"),
        (bad_chain, "chainId '0x7a69' is not a whole number"),
        (bad_contract, "is not an address"),
        ({"primaryType": "Attest"}, "no message"),
    ]:
        with pytest.raises(SignatureError, match=words):
            typed_data_digest(hostile)


def test_malformed_keys_and_signatures_are_refused() -> None:
    for key in (b"", b"\x00" * 32, N.to_bytes(32, "big"), b"\x01" * 31):
        with pytest.raises(ValueError, match="a private key is 32 bytes"):
            Signer(key)
    signer = Signer(b"\x01" * 32)
    assert "0x" not in repr(signer).replace(signer.address, "")  # the key never shows
    assert signer_of(signer) is signer
    good = signer.sign_digest(b"\x02" * 32)
    for bad, words in [
        (good[:64], "65 bytes"),
        (good[:64] + b"\x25", "v is 0, 1, 27 or 28"),
        (bytes(32) + good[32:], "r and s"),
        (good[:32] + N.to_bytes(32, "big") + good[64:], "r and s"),
    ]:
        with pytest.raises(ValueError, match=words):
            recover(b"\x02" * 32, bad)
    with pytest.raises(ValueError, match="a digest is 32 bytes"):
        signer.sign_digest(b"\x02" * 31)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_json(member) for member in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value
