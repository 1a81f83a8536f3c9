"""Budget acts through the gateway (``/budget/actions/<verb>``): each relayed and shown by the mirror, and every
hostile caller refused before anything is written (the relayer's nonce and the block number unchanged).

One world for the module: the tests run in order on it (the acts build on each other, the revocation comes
last), and it is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.crypto import keccak
from httpx import Response
from web3.logs import DISCARD

from chain import BUDGET_OFFICE
from chain.budget import fiscal_year_start
from chain.roles import Role
from gateway.client import ACTS_PATHS
from tests.gateway.conftest import Api, module_gateway
from tests.helpers import new_escrow, travel
from tests.world import World

FY_CODES = ("MOD-HQ", "DEF-EQUIP")
ACTS = ACTS_PATHS[BUDGET_OFFICE]
INSTRUMENT = "0x" + keccak(text="FY supplementary budget act").hex()
RATIONALE = "0x" + keccak(text="spares ran short").hex()


@pytest.fixture(scope="module")
def api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The gateway on the session's chain, for this module; the chain rolled back afterwards."""
    with module_gateway(session_world, tmp_path_factory.mktemp("budget-acts"), "budget acts relayer") as api:
        yield api


def line(api: Api, sub_item: str, *, ministry: str = "MOD", fiscal_year: int | None = None) -> dict[str, Any]:
    """A line key as the API takes it."""
    organization, item = FY_CODES if ministry == "MOD" else ("MOFA-HQ", "ODA-GRANT")
    year = api.world.fiscal_year if fiscal_year is None else fiscal_year
    return {"fiscalYear": year, "ministry": ministry, "organization": organization, "item": item, "subItem": sub_item}


def typed(api: Api, label: str, verb: str, fields: dict[str, Any]) -> Response:
    """POST .../typed-data as ``label``."""
    return api.act_typed_data(ACTS, label, verb, fields)


def act(api: Api, label: str, verb: str, fields: dict[str, Any], **overrides: Any) -> Response:
    """Sign in as ``label``, fetch the typed data, sign it and post it (``overrides`` replace body fields)."""
    return api.relay_act(ACTS, label, verb, fields, **overrides)


def mined(api: Api, response: Response) -> Any:
    """The relay's receipt (the chain mines at once), once the act was accepted (202) and succeeded."""
    assert response.status_code == 202, response.text
    relay = response.json()
    assert relay["statusUrl"] == f"{ACTS}/relays/{relay['txHash']}"
    receipt = api.world.w3.eth.get_transaction_receipt(relay["txHash"])
    assert receipt["status"] == 1
    return receipt


def mirrored_line(api: Api, sub_item: str, ministry: str = "MOD") -> dict[str, Any]:
    """The line as GET /budget/lines serves it, after the indexer caught up."""
    api.sync()
    params = {"fiscalYear": api.world.fiscal_year, "ministry": ministry}
    lines = api.client.get("/budget/lines", headers=api.session("auditor"), params=params).json()["data"]
    (found,) = [entry for entry in lines if entry["subItem"] == sub_item]
    return dict(found)


def refused(api: Api, response: Response, status: int, error: str | None, marks: tuple[int, int]) -> dict[str, Any]:
    """The problem of a refusal, after checking that nothing was written on chain."""
    assert response.status_code == status, response.text
    assert api.chain_marks() == marks
    problem: dict[str, Any] = response.json()
    if error is not None:
        assert problem.get("error") == error, problem
    return problem


def request_transfer(api: Api, amount: int) -> dict[str, Any]:
    """A transfer of ``amount`` from MOD's purchase line to its spares line, requested by MOD's finance officer;
    its full content as an approval names it."""
    request = {"from": line(api, "EQUIP-PURCHASE"), "to": line(api, "EQUIP-SPARES"), "amount": amount}
    request["rationaleHash"] = RATIONALE
    receipt = mined(api, act(api, "treasury", "request-transfer", {"request": request}))
    office = api.world.budget_office
    (event,) = office.events.TransferRequested().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    return {
        "transferId": args["transferId"],
        "request": request,
        "requester": args["requester"],
        "requestedAt": args["requestedAt"],
    }


# ---------------------------------------------------------------- every act relayed, the mirror shows it


def test_acts_are_relayed_and_mirrored(api: Api) -> None:
    world = api.world
    item = {"fiscalYear": world.fiscal_year, "ministry": "MOD", "organization": "MOD-HQ", "item": "DEF-EQUIP"}
    supplementary = {"key": item, "act": "supplementary", "amount": 2_000_000_000, "instrumentHash": INSTRUMENT}
    receipt = mined(api, act(api, "finance", "enact-appropriation", supplementary))
    (enacted,) = world.budget.events.AppropriationEnacted().process_receipt(receipt, errors=DISCARD)
    assert enacted["args"]["amount"] == 2_000_000_000

    mined(api, act(api, "treasury", "distribute", {"line": line(api, "EQUIP-SPARES"), "change": 3_000_000_000}))
    spares = mirrored_line(api, "EQUIP-SPARES")
    assert int(spares["appropriation"]["distributed"]) == 3_000_000_000
    assert int(spares["available"]) == 3_000_000_000
    cut = act(api, "treasury", "distribute", {"line": line(api, "EQUIP-SPARES"), "change": "-500000000"})
    mined(api, cut)
    assert int(mirrored_line(api, "EQUIP-SPARES")["available"]) == 2_500_000_000

    approved, refused_one, withdrawn = (request_transfer(api, amount) for amount in (100_000_000, 7, 9))
    assert mirrored_line(api, "EQUIP-SPARES")["pendingTransfers"] == 3
    # An approval may name the transfer only: the gateway fills in its content from the mirror's record.
    api.sync()
    message = typed(api, "finance", "approve-transfer", {"transferId": approved["transferId"]}).json()["typedData"]
    assert message["message"]["request"]["amount"] == str(100_000_000)
    mined(api, act(api, "finance", "approve-transfer", {"transferId": approved["transferId"]}))
    mined(api, act(api, "finance", "refuse-transfer", refused_one | {"reasonHash": RATIONALE}))
    other = withdrawn | {"requester": world.accounts["mofa_treasury"].address}
    marks = api.chain_marks()
    problem = refused(api, typed(api, "treasury", "withdraw-transfer", other), 422, None, marks)
    assert problem["detail"] == f"not the content of transfer {withdrawn['transferId']} as requested: requester differ"
    mined(api, act(api, "treasury", "withdraw-transfer", {"transferId": withdrawn["transferId"]}))
    spares = mirrored_line(api, "EQUIP-SPARES")
    assert (spares["pendingTransfers"], int(spares["appropriation"]["transfersIn"])) == (0, 100_000_000)
    assert int(spares["available"]) == 2_600_000_000

    expires = world.now() + 30 * 86_400
    grant = {"line": line(api, "EQUIP-SPARES"), "grantee": "MOFA", "kind": "view", "expiresAt": expires}
    mined(api, act(api, "treasury", "grant-access", grant))
    mofa = api.session("mofa_treasury")
    api.sync()
    seen = api.client.get("/budget/lines", headers=mofa, params={"fiscalYear": world.fiscal_year}).json()["data"]
    assert "EQUIP-SPARES" in {entry["subItem"] for entry in seen}
    mined(api, act(api, "treasury", "revoke-access", {"line": line(api, "EQUIP-SPARES"), "grantee": "MOFA"}))
    api.sync()
    seen = api.client.get("/budget/lines", headers=mofa, params={"fiscalYear": world.fiscal_year}).json()["data"]
    assert "EQUIP-SPARES" not in {entry["subItem"] for entry in seen}

    terms = {"line": line(api, "EQUIP-SPARES"), "ceiling": 900_000_000, "schedule": [300_000_000, 600_000_000]}
    authority_id = keccak(text="spares authority")
    authority = {"authorityId": "0x" + authority_id.hex(), "terms": terms, "instrumentHash": INSTRUMENT}
    mined(api, act(api, "finance", "enact-authority", authority))
    assert world.budget_office.functions.authority(authority_id).call()[3] == 900_000_000


# ---------------------------------------------------------------- who may act


def test_a_ministry_signing_the_finance_authoritys_act_is_refused_in_the_contracts_words(api: Api) -> None:
    item = {"fiscalYear": api.world.fiscal_year, "ministry": "MOD", "organization": "MOD-HQ", "item": "DEF-EQUIP"}
    fields = {"key": item, "act": "supplementary", "amount": 5_000_000_000, "instrumentHash": INSTRUMENT}
    treasury = api.session("treasury")
    marks = api.chain_marks()
    problem = refused(api, typed(api, "treasury", "enact-appropriation", fields), 403, "BudgetUnauthorized", marks)
    assert "is not the finance authority of MOD" in problem["detail"], problem["detail"]
    # Signed anyway (with the finance authority's typed data shape) and posted: the same refusal.
    finance_typed = typed(api, "finance", "enact-appropriation", fields).json()
    body = fields | {"deadline": finance_typed["deadline"], "signature": api.sign_typed("treasury", finance_typed)}
    posted = api.client.post(f"{ACTS}/enact-appropriation", headers=treasury, json=body)
    assert refused(api, posted, 403, "BudgetUnauthorized", marks)["detail"] == problem["detail"]
    # And a ministry's act signed by the finance authority (distribution is the ministry's own).
    distribute = {"line": line(api, "EQUIP-SPARES"), "change": 1}
    by_finance = typed(api, "finance", "distribute", distribute)
    problem = refused(api, by_finance, 403, "BudgetUnauthorized", marks)
    assert problem["detail"].endswith("is not a treasury (finance) officer of MOD"), problem["detail"]


def test_a_finance_officer_acting_on_another_ministrys_line_is_refused(api: Api) -> None:
    marks = api.chain_marks()
    problem = refused(
        api,
        typed(api, "mofa_treasury", "distribute", {"line": line(api, "EQUIP-SPARES"), "change": 1}),
        403,
        None,
        marks,
    )
    assert problem["error"] == "BudgetUnauthorized"
    assert problem["detail"].endswith("is not a treasury (finance) officer of MOD"), problem["detail"]
    moved = {"from": line(api, "EQUIP-PURCHASE"), "to": line(api, "EQUIP-SPARES"), "amount": 1}
    request = {"request": moved | {"rationaleHash": RATIONALE}}
    refused(api, typed(api, "mofa_treasury", "request-transfer", request), 403, "BudgetOfficeUnauthorized", marks)


def test_a_signature_reused_on_another_line_or_fiscal_year_is_refused(api: Api) -> None:
    treasury = api.session("treasury")
    fields = {"line": line(api, "EQUIP-SPARES"), "change": 1_000}
    data = typed(api, "treasury", "distribute", fields).json()
    signature = api.sign_typed("treasury", data)
    marks = api.chain_marks()
    for other in (line(api, "EQUIP-PURCHASE"), line(api, "EQUIP-SPARES", fiscal_year=api.world.fiscal_year + 1)):
        body = {"line": other, "change": 1_000, "deadline": data["deadline"], "signature": signature}
        posted = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)
        assert refused(api, posted, 403, None, marks)["type"].endswith("signature-mismatch")
    body = {**fields, "change": 1_001, "deadline": data["deadline"], "signature": signature}  # another amount
    posted = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)
    refused(api, posted, 403, None, marks)
    body = {**fields, "deadline": data["deadline"], "signature": signature}  # as signed: relayed
    first = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)
    mined(api, first)
    marks = api.chain_marks()
    posted = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)  # and never twice: the first relay
    assert posted.status_code == 202, posted.text
    assert (posted.json()["txHash"], posted.json()["statusUrl"]) == (first.json()["txHash"], first.json()["statusUrl"])
    assert posted.json()["replayed"] is True
    assert api.chain_marks() == marks


@pytest.mark.parametrize(
    ("verb", "fields", "where"),
    [
        ("distribute", {"line": {"fiscalYear": 2026, "ministry": "MOD"}, "change": 1}, "organization"),
        ("distribute", {"line": None}, "line"),
        ("request-transfer", {"request": {"amount": -5}}, "amount"),
        ("distribute", {"line": None, "change": "1" + "0" * 39}, "change"),
        ("grant-access", {"kind": "edit"}, "kind"),
        ("enact-appropriation", {"act": "emergency"}, "act"),
        ("distribute", {"change": 2**56}, "change"),
        ("distribute", {"change": 1.5}, "change"),
        ("distribute", {"line": {"subItem": "X" * 17}}, "subItem"),
        ("distribute", {"unexpected": 1}, "unexpected"),
    ],
)
def test_a_hostile_body_is_refused_naming_the_field(api: Api, verb: str, fields: dict[str, Any], where: str) -> None:
    treasury = api.session("treasury")
    bodies: dict[str, dict[str, Any]] = {
        "distribute": {"line": line(api, "EQUIP-SPARES"), "change": 1},
        "request-transfer": {
            "request": {"from": line(api, "EQUIP-PURCHASE"), "to": line(api, "EQUIP-SPARES"), "amount": 1}
            | {"rationaleHash": RATIONALE}
        },
        "grant-access": {"line": line(api, "EQUIP-SPARES"), "grantee": "MOFA", "kind": "view", "expiresAt": 2**40},
        "enact-appropriation": {
            "key": {"fiscalYear": 2026, "ministry": "MOD", "organization": "MOD-HQ", "item": "DEF-EQUIP"},
            "act": "initial",
            "amount": 1,
            "instrumentHash": INSTRUMENT,
        },
    }
    body = _merged(bodies[verb], fields)
    signed = body | {"deadline": 2**40, "signature": "0x" + "11" * 64 + "1b"}
    marks = api.chain_marks()
    for response in (
        typed(api, "treasury", verb, body),
        api.client.post(f"{ACTS}/{verb}", headers=treasury, json=signed),
    ):
        problem = refused(api, response, 422, None, marks)
        assert where in response.text, problem


def _merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            nested = merged[key] if key != "line" else {}  # a partial line key replaces the whole key
            merged[key] = _merged(nested, value) if key != "line" else value
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def test_a_transfer_the_mirror_never_saw_is_not_found(api: Api) -> None:
    marks = api.chain_marks()
    for transfer_id in (999, 2**256 - 1):
        response = typed(api, "finance", "approve-transfer", {"transferId": transfer_id})
        assert refused(api, response, 404, None, marks)["detail"].startswith(f"no transfer {transfer_id} requested")


def test_an_obligation_raised_for_an_amended_escrow_by_its_officer_only(api: Api) -> None:
    world = api.world
    escrow, params = new_escrow(world)
    raised, more = params[4][0] + 5_000, keccak(text="more")
    world.sender("officer").transact(escrow.functions.proposeAmendment(0, 0, raised, 0, more))
    world.sender("officer2").transact(escrow.functions.approveAmendment(0, 0, 0, raised, 0, more))
    marks = api.chain_marks()
    other = act(api, "mofa_officer", "increase-obligation", {"escrow": escrow.address, "amount": 5_000})
    problem = refused(api, other, 403, "BudgetUnauthorized", marks)
    assert problem["detail"].endswith("is not a procurement officer of MOFA"), problem["detail"]
    too_much = act(api, "officer", "increase-obligation", {"escrow": escrow.address, "amount": 5_001})
    refused(api, too_much, 409, "BudgetObligationExceedsNeed", marks)
    before = world.budget.functions.obligation(escrow.address).call()[2]
    mined(api, act(api, "officer", "increase-obligation", {"escrow": escrow.address, "amount": 5_000}))
    assert world.budget.functions.obligation(escrow.address).call()[2] == before + 5_000


# ---------------------------------------------------------------- last: a revoked finance officer


def test_a_revoked_finance_officer_is_refused_before_and_after_the_mirror_knows(api: Api) -> None:
    world = api.world
    fields = {"line": line(api, "EQUIP-SPARES"), "change": 5}
    treasury = api.session("treasury")
    data = typed(api, "treasury", "distribute", fields).json()
    body = fields | {"deadline": data["deadline"], "signature": api.sign_typed("treasury", data)}
    world.sender("admin").transact(world.registry.functions.revokeRole(Role.TREASURY.id, world.treasury.address))
    travel(world, 1)
    # The mirror has not seen the revocation: the contract's dry run refuses it, and nothing is sent.
    marks = api.chain_marks()
    posted = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)
    problem = refused(api, posted, 403, "BudgetUnauthorized", marks)
    assert problem["detail"].endswith("is not a treasury (finance) officer of MOD"), problem["detail"]
    # Once it has, the gateway refuses the account at once: it holds no role any more.
    api.sync()
    again = api.client.post(f"{ACTS}/distribute", headers=treasury, json=body)
    assert refused(api, again, 403, None, marks)["type"].endswith("account-not-permitted")


# ---------------------------------------------------------------- the very last: the year end


def test_year_end_acts_are_relayed_once_the_year_is_over(api: Api) -> None:
    world = api.world
    carry = {"line": line(api, "EQUIP-SPARES"), "kind": "authorized", "amount": 1_000_000, "reasonHash": RATIONALE}
    marks = api.chain_marks()
    early = refused(api, act(api, "finance", "approve-carry-over", carry), 409, "BudgetYearNotOver", marks)
    assert "is not over" in early["detail"], early["detail"]
    travel(world, fiscal_year_start(world.fiscal_year + 1) - world.now() + 1)
    deadline = {"deadline": world.now() + 3_600}  # the gateway's clock may be a second older than the travel
    mined(api, act(api, "finance", "approve-carry-over", carry | deadline))
    assert int(mirrored_line(api, "EQUIP-SPARES")["carryOver"]) == 1_000_000
    mined(api, act(api, "finance", "close-fiscal-year", {"fiscalYear": world.fiscal_year} | deadline))
    assert world.budget.functions.fiscalYearClosed(world.fiscal_year).call()
