"""Signatures in every form wallets produce (v as 0/1 or 27/28, s high or low) are relayed in the one the
contracts accept; the signer they recover to never changes."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from pydantic import TypeAdapter

from gateway.schemas.common import Signature
from tests.gateway.conftest import REPORT, Api

ATTEST = {"milestoneId": 0, "round": 1, "pass": True, "reportHash": REPORT}
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _v01(signature: str) -> str:
    """The same signature with v as 0/1 (some hardware-wallet stacks)."""
    return signature[:-2] + f"{int(signature[-2:], 16) - 27:02x}"


def _high_s(signature: str) -> str:
    """The same signature's malleable twin: s -> N - s, v flipped."""
    r, s, v = signature[2:66], int(signature[66:130], 16), int(signature[130:], 16)
    return f"0x{r}{N - s:064x}{55 - v:02x}"


@pytest.mark.parametrize("form", [_v01, _high_s, lambda s: _v01(_high_s(s))], ids=["v01", "high-s", "both"])
def test_the_signature_type_normalizes_to_what_the_contract_accepts(form: Any) -> None:
    account = Account.create()
    signed = account.sign_message(encode_defunct(text="x")).signature.to_0x_hex()
    other = form(signed)
    assert other != signed
    assert TypeAdapter(Signature).validate_python(other) == signed
    assert TypeAdapter(Signature).validate_python(signed.upper().replace("0X", "0x")) == signed


@pytest.mark.parametrize("form", [_v01, _high_s], ids=["v01", "high-s"])
def test_an_action_signed_in_another_form_is_relayed_and_mined(api: Api, submitted: str, form: Any) -> None:
    evaluator = api.sign_in("eval1")
    typed = api.typed_data(evaluator, submitted, "attest", ATTEST)
    body = {**ATTEST, "deadline": typed["deadline"], "signature": form(api.sign_typed("eval1", typed))}
    response = api.client.post(
        f"/procurements/{submitted}/actions/attest", headers=evaluator, params={"wait": "true"}, json=body
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "mined"


def test_sign_in_with_v_as_0_or_1(api: Api) -> None:
    message = api.siwe("supplier")
    signature = _v01(api.personal_sign("supplier", message))
    assert api.client.post("/auth/sign-in", json={"message": message, "signature": signature}).status_code == 201
