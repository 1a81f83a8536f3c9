"""A new signed action is one declaration: its typed data (hashed as eth-account hashes it), the gateway's request
schemas and routes, and the client command all follow from it. Shown with the kinds of action the next issues
add: one that names an amendment's full content, one that names an address, and one of another contract with
an EIP-712 domain of its own (a budget ledger)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError

from chain import (
    ACTIONS,
    MILESTONE_ESCROW,
    Action,
    ActionField,
    ActionType,
    FieldKind,
    Role,
    SignedContract,
    action_digest,
    recover_action_signer,
    sign_action,
    typed_data,
)
from gateway.api.routes.actions import add_action_routes
from gateway.schemas.actions import action_schemas
from scripts.cli_client import action_command

BUDGET_LEDGER = SignedContract("BudgetLedger", "ProcurementBudget")
CONTRACT = "0x" + "5a" * 20
HASH = "0x" + "ab" * 32
KEY = Account.from_key(b"\x07" * 32)

CONSENT = ActionType(
    primary_type="ConsentToAmendment",
    contract=MILESTONE_ESCROW,
    function="consentToAmendmentBySig",
    fields=(
        ActionField("amendmentId", "uint256", FieldKind.NUMBER, argument="AMENDMENT"),
        ActionField("milestoneId", "uint256", FieldKind.NUMBER),
        ActionField("kind", "uint8", FieldKind.CHOICE, choices=("amount", "dueDate", "cancel")),
        ActionField("newAmount", "uint256", FieldKind.YEN, default=0),
        ActionField("newDueDate", "uint64", FieldKind.NUMBER, default=0),
        ActionField("rationaleHash", "bytes32", FieldKind.HASH),
    ),
    signers=(Role.SUPPLIER,),
    gas=120_000,
    verb="consent-to-amendment",
    noun="AmendmentConsent",
    summary="the supplier consents to an amendment, naming its full content.",
    done="consented to amendment {amendmentId}",
)
REDIRECT = ActionType(
    primary_type="RedirectOwed",
    contract=MILESTONE_ESCROW,
    function="redirectOwedBySig",
    fields=(
        ActionField("milestoneId", "uint256", FieldKind.NUMBER, argument="MILESTONE"),
        ActionField("to", "address", FieldKind.ADDRESS),
        ActionField("rulingHash", "bytes32", FieldKind.HASH),
    ),
    signers=(Role.REVIEW_BODY,),
    gas=150_000,
    verb="redirect-owed",
    noun="OwedRedirect",
    summary="a review body redirects yen owed to an offboarded supplier.",
    done="owed yen of milestone {milestoneId} redirected to {to}",
)
TRANSFER = ActionType(
    primary_type="RequestTransfer",
    contract=BUDGET_LEDGER,
    function="requestTransferBySig",
    fields=(
        ActionField("fromLine", "bytes32", FieldKind.HASH),
        ActionField("toLine", "bytes32", FieldKind.HASH),
        ActionField("amount", "uint256", FieldKind.YEN),
    ),
    signers=(Role.MINISTRY_ADMIN,),
    gas=80_000,
    verb="request-transfer",
    noun="TransferRequest",
    summary="a ministry requests moving yen between the sub-items of an item.",
    done="{amount:,} yen transfer requested",
)
WORDS: dict[str, dict[str, Any]] = {  # each action's fields as the API takes them
    "ConsentToAmendment": {
        "amendmentId": 3,
        "milestoneId": 1,
        "kind": "dueDate",
        "newDueDate": 2_000_000_000,
        "rationaleHash": HASH,
    },
    "RedirectOwed": {"milestoneId": 0, "to": "0x" + "c3" * 20, "rulingHash": HASH},
    "RequestTransfer": {"fromLine": HASH, "toLine": "0x" + "cd" * 32, "amount": 5_000_000},
}


@pytest.mark.parametrize("declared", [CONSENT, REDIRECT, TRANSFER], ids=lambda a: a.primary_type)
def test_typed_data_and_its_hash_follow_from_the_declaration(
    monkeypatch: pytest.MonkeyPatch, declared: ActionType
) -> None:
    monkeypatch.setitem(ACTIONS, declared.primary_type, declared)
    action = Action(declared.primary_type, declared.message(WORDS[declared.primary_type]), nonce=4, deadline=2**40)
    message = typed_data(action, chain_id=31337, escrow=CONTRACT)
    assert message["domain"]["name"] == declared.contract.domain_name
    assert message["types"][declared.primary_type] == declared.eip712_types
    expected = bytes(_hash_eip191_message(encode_typed_data(full_message=message)))
    assert action_digest(action, chain_id=31337, escrow=CONTRACT) == expected
    signature = sign_action(KEY, action, chain_id=31337, escrow=CONTRACT)
    assert recover_action_signer(action, signature, chain_id=31337, escrow=CONTRACT) == KEY.address
    assert action.call_args(KEY.address, signature)[: len(declared.fields)] == list(action.fields.values())


@pytest.mark.parametrize("declared", [CONSENT, REDIRECT, TRANSFER], ids=lambda a: a.primary_type)
def test_the_request_schemas_follow_from_the_declaration(declared: ActionType) -> None:
    schemas = action_schemas(declared)
    assert schemas.create.__name__ == f"{declared.noun}Create"
    words = WORDS[declared.primary_type]
    body = schemas.create.model_validate({**words, "deadline": "1", "signature": "0x" + "1b" * 65})
    assert schemas.message(body) == declared.message(words)
    for name in (f.name for f in declared.fields if f.default is None):  # a field left out is refused
        shorter = {k: v for k, v in words.items() if k != name}
        with pytest.raises(ValidationError):
            schemas.create.model_validate({**shorter, "deadline": 1, "signature": "0x" + "1b" * 65})
    with pytest.raises(ValidationError):
        schemas.query.model_validate({**words, "extra": 1})


@pytest.mark.parametrize("declared", [CONSENT, REDIRECT], ids=lambda a: a.primary_type)
def test_the_routes_and_their_openapi_follow_from_the_declaration(declared: ActionType) -> None:
    router = APIRouter(prefix="/procurements/{procurement_id}/actions")
    add_action_routes(router, action_schemas(declared))
    app = FastAPI()
    app.include_router(router)
    path = app.openapi()["paths"][f"/procurements/{{procurement_id}}/actions/{declared.verb}"]
    assert set(path) == {"get", "post"}
    body = path["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{declared.noun}Create"}
    assert {p["name"] for p in path["get"]["parameters"]} >= {f.name for f in declared.fields}


def test_an_address_is_checked_where_the_api_takes_it() -> None:
    schemas = action_schemas(REDIRECT)
    with pytest.raises(ValidationError):
        schemas.query.model_validate({**WORDS["RedirectOwed"], "to": "0x1234"})


@pytest.mark.parametrize("declared", [CONSENT, REDIRECT, TRANSFER], ids=lambda a: a.primary_type)
def test_the_client_command_follows_from_the_declaration(declared: ActionType) -> None:
    command = action_command(declared)
    assert command.name == declared.verb
    assert declared.summary in (command.help or "")
    options = {o for p in command.params for o in getattr(p, "opts", ())}
    for field in declared.fields:
        if field.argument is None:
            assert field.option in options, field.name
