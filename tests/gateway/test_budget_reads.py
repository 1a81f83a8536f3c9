"""Budget lines through the gateway: figures equal to the ledger's own, totals per ministry and per item, pending
transfers with their age, idle funds, burn rate and projected lapse, each caller seeing only its lines."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from chain.budget import LineKey, fiscal_year_start
from chain.roles import org_id
from tests.gateway.conftest import Api
from tests.helpers import new_escrow, travel
from tests.world import DAY, World

OBLIGATE, VIEW = 2, 1  # IBudgetOffice.AccessKind


def _spares(world: World) -> LineKey:
    return LineKey.of(world.fiscal_year, "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-SPARES")


def _request(world: World, source: LineKey, target: LineKey, amount: int) -> tuple[Any, ...]:
    content = (source.as_tuple(), target.as_tuple(), amount, keccak(text=f"rationale {amount}"))
    receipt = world.sender("treasury").transact(world.budget_office.functions.requestTransfer(content))
    (event,) = world.budget_office.events.TransferRequested().process_receipt(receipt.raw, errors=DISCARD)
    args = event["args"]
    return args["transferId"], content, args["requester"], args["requestedAt"]


def _chain_line(world: World, key: LineKey) -> dict[str, Any]:
    names = ("series", "exists", "settled", "allotted", "obligated", "disbursed", "carryOver", "available")
    return dict(zip(names, world.budget.functions.line(key.as_tuple()).call(), strict=True))


def _lines(api: Api, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.client.get("/budget/lines", headers=headers, params={"fiscalYear": api.world.fiscal_year} | params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _by_sub_item(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["subItem"]: line for line in body["data"]}


@pytest.fixture
def budget_world(world: World) -> World:
    """MOD's line obligated by a procurement with one milestone paid; a second MOD line (spares) given 3 bn; a
    transfer of 100 M approved into it and one of 400 M left pending; MOFA's line untouched."""
    world.sender("treasury").transact(world.budget.functions.distribute(_spares(world).as_tuple(), 3_000_000_000))
    finance = world.sender("finance")
    finance.transact(
        world.budget_office.functions.approveTransfer(*_request(world, world.lines["MOD"], _spares(world), 100_000_000))
    )
    _request(world, world.lines["MOD"], _spares(world), 400_000_000)
    escrow, _ = new_escrow(world, amounts=[30_000_000, 50_000_000], due_in_days=[30, 60])
    supplier, f = world.sender("supplier"), escrow.functions
    supplier.transact(f.submitEvidence(0, keccak(text="evidence"), "ipfs://m0"))
    world.sender("eval1").transact(f.attest(0, 1, True, keccak(text="r1")))
    world.sender("eval2").transact(f.attest(0, 1, True, keccak(text="r2")))
    return world


def test_line_figures_are_the_ledgers_and_add_up(api: Api, budget_world: World) -> None:
    world = budget_world
    api.sync()
    auditor = api.sign_in("auditor")
    lines = _by_sub_item(_lines(api, auditor))
    assert set(lines) == {"EQUIP-PURCHASE", "EQUIP-SPARES", "EQUIP-GRANT"}
    for key in (world.lines["MOD"], _spares(world), world.lines["MOFA"]):
        chain = _chain_line(world, key)
        line = lines[key.sub_item.rstrip(b"\0").decode()]
        assert int(line["appropriation"]["total"]) == chain["allotted"]
        assert int(line["obligated"]) == chain["obligated"]
        assert int(line["disbursed"]) == chain["disbursed"]
        assert int(line["available"]) == chain["available"]
        assert int(line["obligatedUnpaid"]) == chain["obligated"] - chain["disbursed"]
        assert line["series"] == chain["series"]
        parts = line["appropriation"]
        assert int(parts["distributed"]) + int(parts["transfersIn"]) - int(parts["transfersOut"]) == chain["allotted"]
    mod = lines["EQUIP-PURCHASE"]
    assert (mod["obligated"], mod["disbursed"]) == ("80000000", "30000000")  # amounts are decimal strings
    assert mod["appropriation"]["transfersOut"] == "100000000"
    assert lines["EQUIP-SPARES"]["appropriation"]["transfersIn"] == "100000000"
    assert (mod["pendingTransfers"], lines["EQUIP-SPARES"]["pendingTransfers"]) == (1, 1)
    # Burn rate: 30 M disbursed on the second day of the year, against a twelfth of the allotment a month.
    burn = mod["burnRate"]
    assert burn["elapsedDays"] in (1, 2)
    assert burn["yearDays"] in (365, 366)
    assert int(burn["plannedPerMonth"]) == int(mod["appropriation"]["total"]) // 12
    assert int(burn["disbursedPerMonth"]) > 30_000_000  # less than a month has passed

    summary = api.client.get("/budget/summary", headers=auditor, params={"fiscalYear": world.fiscal_year}).json()
    ministries = {m["ministry"]: m["totals"] for m in summary["ministries"]}
    assert set(ministries) == {"MOD", "MOFA"}
    mod_lines = [line for line in lines.values() if line["ministry"] == "MOD"]
    for field in ("appropriation", "obligated", "disbursed", "available", "obligatedUnpaid"):
        total = sum(int(line[field] if field != "appropriation" else line[field]["total"]) for line in mod_lines)
        assert int(ministries["MOD"][field]) == total
    assert (ministries["MOD"]["pendingTransfers"], ministries["MOD"]["pendingTransferAmount"]) == (1, "400000000")
    (mod_item,) = [item for item in summary["items"] if item["ministry"] == "MOD"]
    assert (mod_item["item"], mod_item["initial"], mod_item["supplementary"]) == ("DEF-EQUIP", "50000000000", "0")
    assert mod_item["totals"]["lines"] == 2


def test_pending_transfers_age_and_idle_funds(api: Api, budget_world: World) -> None:
    world = budget_world
    travel(world, 10 * DAY)
    api.sync()
    treasury = api.sign_in("treasury")
    response = api.client.get(
        f"/budget/lines/{world.fiscal_year}/{_chain_line(world, _spares(world))['series']}", headers=treasury
    )
    assert response.status_code == 200, response.text
    (pending,) = response.json()["pending"]
    assert (pending["direction"], pending["amount"], pending["fromSubItem"]) == ("in", "400000000", "EQUIP-PURCHASE")
    assert 10 * DAY <= int(pending["ageSeconds"]) <= 10 * DAY + 3_600
    # Untouched for 10 days: idle at 5 days, not at 30; MOFA's line (not MOD's) is not visible to MOD's treasury.
    idle = _by_sub_item(_lines(api, treasury, idleDays=5))
    assert set(idle) == {"EQUIP-PURCHASE", "EQUIP-SPARES"}
    assert all(line["idle"] for line in idle.values())
    assert not any(line["idle"] for line in _lines(api, treasury, idleDays=30)["data"])
    summary = api.client.get("/budget/summary", headers=treasury, params={"idleDays": 5}).json()
    (mod,) = summary["ministries"]
    assert int(mod["totals"]["idleFunds"]) == sum(int(line["available"]) for line in idle.values())


def test_each_caller_sees_its_lines_and_lines_granted_to_it(api: Api, world: World) -> None:
    api.sync()
    fy, mod = world.fiscal_year, world.lines["MOD"]
    series = _chain_line(world, mod)["series"]
    seen = {
        label: {line["ministry"] for line in _lines(api, api.sign_in(label))["data"]}
        for label in ("auditor", "finance", "treasury", "officer", "mofa_treasury", "supplier", "eval1")
    }
    assert seen == {
        "auditor": {"MOD", "MOFA"},
        "finance": {"MOD", "MOFA"},
        "treasury": {"MOD"},
        "officer": {"MOD"},
        "mofa_treasury": {"MOFA"},
        "supplier": set(),
        "eval1": set(),
    }
    mofa = api.sign_in("mofa_treasury")
    assert api.client.get(f"/budget/lines/{fy}/{series}", headers=mofa).status_code == 404
    # A grant to MOFA shows MOD's line to MOFA until it is revoked, or until it expires.
    office = world.budget_office.functions
    world.sender("treasury").transact(office.grantAccess(mod.as_tuple(), org_id("MOFA"), VIEW, 0, world.now() + DAY))
    api.sync()
    assert api.client.get(f"/budget/lines/{fy}/{series}", headers=mofa).status_code == 200
    assert {line["ministry"] for line in _lines(api, mofa)["data"]} == {"MOD", "MOFA"}
    travel(world, 2 * DAY)
    api.sync()
    time.sleep(1.1)  # the gateway reads the chain's clock at most once a second
    assert api.client.get(f"/budget/lines/{fy}/{series}", headers=mofa).status_code == 404
    world.sender("treasury").transact(office.grantAccess(mod.as_tuple(), org_id("MOFA"), VIEW, 0, world.now() + DAY))
    api.sync()
    assert api.client.get(f"/budget/lines/{fy}/{series}", headers=mofa).status_code == 200
    world.sender("treasury").transact(office.revokeAccess(mod.as_tuple(), org_id("MOFA")))
    api.sync()
    assert api.client.get(f"/budget/lines/{fy}/{series}", headers=mofa).status_code == 404
    # Not signed in: 401.
    assert api.client.get("/budget/lines").status_code == 401


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/budget/lines", {"fiscalYear": "2026", "ministery": "MOD"}),  # a misspelt parameter
        ("/budget/lines", {"fiscalYear": "1.5"}),
        ("/budget/lines", {"idleDays": "0"}),
        ("/budget/lines", {"ministry": "A" * 17}),
        ("/budget/summary", {"offset": "3"}),  # summary has no pages
        ("/budget/lines/2026/1", {"ministry": "MOD"}),
        ("/budget/stream", {"after": "x"}),
    ],
)
def test_bad_query_parameters_are_a_422_naming_them(api: Api, path: str, params: dict[str, str]) -> None:
    api.sync()
    response = api.client.get(path, headers=api.sign_in("auditor"), params=params)
    assert response.status_code == 422, response.text
    assert list(params)[-1] in response.text  # the parameter at fault is named


def test_projected_lapse_counts_multi_year_parts_still_expected(api: Api, world: World) -> None:
    fy, mod = world.fiscal_year, world.lines["MOD"]
    office = world.budget_office.functions
    authority = keccak(text="radar, two years")
    terms = (mod.as_tuple(), 300_000_000, [100_000_000, 200_000_000])
    world.sender("finance").transact(office.enactAuthority(authority, terms, keccak(text="act")))
    world.create_procurement(
        world.procurement_params(amounts=[60_000_000, 150_000_000], due_in_days=[30, 400]),
        60_000_000,
        authority=authority,
    )
    # Next year's line, enacted and distributed in advance: 150 M of it are expected by the multi-year part.
    nxt = mod.in_year(fy + 1)
    world.enact_line("MOD", nxt, 1_000_000_000, 500_000_000, "treasury")
    api.sync()
    auditor = api.sign_in("auditor")
    (line,) = [x for x in _lines(api, auditor, fiscalYear=fy + 1)["data"] if x["ministry"] == "MOD"]
    assert (line["available"], line["expectedObligations"], line["projectedLapse"]) == (
        "500000000",
        "150000000",
        "350000000",
    )
    assert line["burnRate"]["elapsedDays"] == 0
    assert line["burnRate"]["disbursedPerMonth"] == "0"
    assert fiscal_year_start(fy + 1) > world.now()


def test_projected_lapse_counts_an_amendments_raise_not_yet_obligated(api: Api, world: World) -> None:
    """A radar line of MOD's equipment item, worked by hand (M = million yen):

    - distributed 400 M, then a supplementary budget of 600 M enacted on the item and distributed to it; a transfer
      of 250 M approved into it: allotment 400 + 600 + 250 = 1,250 M;
    - a procurement (multi-year authority: 300 M this year, 200 M the next) obligates 300 M for milestone 0 (due in
      60 days) and schedules 200 M next year for milestone 1 (due in 400 days, after this year's end): obligated
      300 M, available 1,250 - 300 = 950 M;
    - amendments raise milestone 0 to 380 M and milestone 1 to 260 M, nobody obligating more yet. Before this year
      ends the procurement still expects to pay 380 M against 300 M obligated: 80 M expected (milestone 1's raise
      falls due next year and is not this year's); projected lapse 950 - 80 = 870 M (it was 950 M: the raise was
      ignored).
    - The officer then obligates the 80 M: obligated 380 M, available 870 M, nothing expected, projected lapse
      still 870 M (obligating what was expected moves it, it does not change the projection).
    """
    fy, mod = world.fiscal_year, world.lines["MOD"]
    radar = LineKey.of(fy, "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-RADAR")
    budget, office = world.budget.functions, world.budget_office.functions
    treasury, finance = world.sender("treasury"), world.sender("finance")
    treasury.transact(budget.distribute(radar.as_tuple(), 400_000_000))
    supplementary = keccak(text="FY supplementary budget (radar)")
    finance.transact(budget.enactAppropriation(radar.item_key.as_tuple(), 1, 600_000_000, 3, supplementary))
    treasury.transact(budget.distribute(radar.as_tuple(), 600_000_000))
    finance.transact(office.approveTransfer(*_request(world, mod, radar, 250_000_000)))
    authority = keccak(text="radar, two years")
    terms = (radar.as_tuple(), 500_000_000, [300_000_000, 200_000_000])
    finance.transact(office.enactAuthority(authority, terms, keccak(text="act")))
    address, _ = world.create_procurement(
        world.procurement_params(amounts=[300_000_000, 200_000_000], due_in_days=[60, 400]),
        300_000_000,
        line=radar,
        authority=authority,
    )
    escrow = world.escrow(address).functions
    for amendment_id, (milestone, amount) in enumerate(((0, 380_000_000), (1, 260_000_000))):
        rationale = keccak(text=f"scope grew {milestone}")
        world.sender("officer").transact(escrow.proposeAmendment(milestone, 0, amount, 0, rationale))
        world.sender("officer2").transact(escrow.approveAmendment(amendment_id, milestone, 0, amount, 0, rationale))
    api.sync()
    auditor = api.sign_in("auditor")

    def radar_figures() -> tuple[str, ...]:
        line = _by_sub_item(_lines(api, auditor))["EQUIP-RADAR"]
        detail = api.client.get(f"/budget/lines/{fy}/{line['series']}", headers=auditor).json()
        assert {key: detail[key] for key in line} == line
        names = ("obligated", "available", "expectedObligations", "projectedLapse")
        return (line["appropriation"]["total"], *(line[name] for name in names))

    assert radar_figures() == ("1250000000", "300000000", "950000000", "80000000", "870000000")
    world.sender("officer").transact(budget.increaseObligation(address, 80_000_000))
    api.sync()
    assert radar_figures() == ("1250000000", "380000000", "870000000", "0", "870000000")
