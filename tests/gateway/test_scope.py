"""One scope rule: for every kind of caller, the SQL clause (every read of the mirror) and the check of chain facts
(``/state``, the signed actions) let the same procurements through, and they are the ones the rule names."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from chain import MilestoneStatus, Role, TxSender
from gateway.identity import MirrorDirectory, Principal
from gateway.ledger import Ledger
from gateway.main import create_app
from gateway.scope import Scope
from gateway.services.reads import LISTINGS, Page, Reader
from tests.gateway.conftest import Api, make_settings
from tests.helpers import new_escrow
from tests.world import World

DOCUMENT, REASON, RULING = b"\x11" * 32, b"\x33" * 32, b"\x44" * 32

# Who sees which of the four procurements (see ``procurements``): by the rule of gateway/scope.py.
EXPECTED: dict[str, set[str]] = {
    "auditor": {"mod", "mod-disputed", "mod-settled", "mofa"},
    "officer": {"mod", "mod-disputed", "mod-settled"},  # ministry officer
    "officer2": {"mod", "mod-disputed", "mod-settled"},
    "mod_admin": {"mod", "mod-disputed", "mod-settled"},  # ministry admin
    "treasury": {"mod", "mod-disputed", "mod-settled"},
    "mofa_officer": {"mofa"},
    "mofa_admin": {"mofa"},
    "supplier": {"mod", "mod-settled", "mofa"},
    "supplier_colleague": {"mod", "mod-settled", "mofa"},  # the same supplier organization
    "other_supplier": {"mod-disputed"},
    "eval1": {"mod", "mod-settled", "mofa"},  # on those panels
    "eval3": {"mod", "mod-settled"},
    "eval4": {"mod-disputed"},
    "reviewer": {"mod-disputed", "mod-settled"},  # a milestone disputed, or settled by a ruling
    "outsider": set(),  # no organization, no role
    "revoked": set(),  # an evaluator whose role was revoked
}


def _statuses(ledger: Ledger, escrow: str) -> list[MilestoneStatus]:
    return [m.status for m in ledger.escrow(escrow).milestones()]


def _address(api: Api, label: str) -> str:
    return api.world.accounts["eval2" if label == "revoked" else label].address


def _sign_in(api: Api, label: str) -> Response:
    return api.sign_in_response("eval2" if label == "revoked" else label)


@pytest.fixture
def api(world: World, relayer: TxSender, tmp_path: Path) -> Iterator[Api]:
    """The gateway, with room for every caller's sign-in at once."""
    settings = make_settings(tmp_path)
    app = create_app(settings, rpc=world.rpc, system=world.system, relayer=relayer, build=world.build)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, world=world, app=app)


@pytest.fixture
def procurements(api: Api) -> dict[str, tuple[str, str]]:
    """Four procurements (name -> id, escrow): MOD's (one with a milestone in dispute, one with a dispute settled
    by a ruling, the former for another supplier and panel) and MOFA's; the revoked evaluator sits on panels."""
    world = api.world
    address = {label: account.address for label, account in world.accounts.items()}
    made: dict[str, tuple[str, str]] = {}

    def make(name: str, fund: int | None = None, **overrides: object) -> object:
        escrow, params = new_escrow(world, fund=fund, **overrides)
        made[name] = ("0x" + bytes(params[0]).hex(), escrow.address)
        return escrow

    make("mod")
    disputed = make("mod-disputed", supplier=address["other_supplier"], evaluators=[address["eval4"], address["eval2"]])
    settled = make("mod-settled")
    params = world.procurement_params(evaluators=[address["eval1"], address["eval2"]])
    escrow_address, _ = world.create_procurement(params, 0, label="mofa_officer")
    made["mofa"] = ("0x" + bytes(params[0]).hex(), escrow_address)

    world.sender("other_supplier").transact(disputed.functions.submitEvidence(0, DOCUMENT, "ipfs://a"))  # type: ignore[attr-defined]
    world.sender("other_supplier").transact(disputed.functions.openDispute(0, REASON))  # type: ignore[attr-defined]
    world.sender("supplier").transact(settled.functions.submitEvidence(0, DOCUMENT, "ipfs://b"))  # type: ignore[attr-defined]
    world.sender("supplier").transact(settled.functions.openDispute(0, REASON))  # type: ignore[attr-defined]
    world.sender("reviewer").transact(settled.functions.settleDispute(0, 1_000_000, RULING))  # type: ignore[attr-defined]
    world.sender("admin").transact(world.registry.functions.revokeRole(Role.EVALUATOR.id, address["eval2"]))
    api.sync()
    return made


def test_the_sql_clause_and_the_chain_check_agree_for_every_caller(
    api: Api, procurements: dict[str, tuple[str, str]]
) -> None:
    engine, ledger = api.state.engine, api.state.ledger
    directory = MirrorDirectory(engine, ledger.chain_id)
    name_of = {pid: name for name, (pid, _) in procurements.items()}
    for label, expected in EXPECTED.items():
        principal = directory.lookup(_address(api, label))
        scope = Scope.of(principal)
        reader = Reader(engine, ledger.chain_id, principal)
        listed, _ = reader.rows(LISTINGS["procurements"], Page(0, 100), {})
        in_sql = {name_of[row.procurement_id] for row in listed}
        on_chain = {
            name
            for name, (_, escrow) in procurements.items()
            if scope.allows(ledger.terms(escrow), partial(_statuses, ledger, escrow))
        }
        assert in_sql == on_chain == expected, label
        milestones, _ = reader.rows(LISTINGS["milestones"], Page(0, 100), {})
        assert {name_of[row.procurement_id] for row in milestones} == expected, label  # below follows above


def test_detail_and_state_answer_alike_for_every_caller(api: Api, procurements: dict[str, tuple[str, str]]) -> None:
    for label, expected in EXPECTED.items():
        response = _sign_in(api, label)
        if not expected:  # no active role: no session, or none that reads
            if response.status_code == 201:
                token = {"Authorization": f"Bearer {response.json()['token']}"}
                assert api.client.get("/procurements", headers=token).status_code == 403, label
            else:
                assert response.status_code == 403, label
            continue
        headers = {"Authorization": f"Bearer {response.json()['token']}"}
        for name, (pid, _) in procurements.items():
            detail = api.client.get(f"/procurements/{pid}", headers=headers).status_code
            state = api.client.get(f"/procurements/{pid}/state", headers=headers).status_code
            assert detail == state == (200 if name in expected else 404), (label, name)


def test_the_scope_of_each_kind_of_caller() -> None:
    def principal(*roles: Role, organization: str | None = "MOD") -> Principal:
        return Principal("0x" + "Ab" * 20, organization, None, frozenset(roles))

    assert Scope.of(principal(Role.AUDITOR, organization="BOA")).shape == ("everything",)
    assert Scope.of(principal(Role.TREASURY)).shape == ("ministry",)
    assert Scope.of(principal(Role.SUPPLIER, organization="NVE")).shape == ("supplier",)
    assert Scope.of(principal(Role.EVALUATOR, organization="ATLA")).panel_member == "0x" + "ab" * 20
    assert Scope.of(principal(Role.REVIEW_BODY, organization="REVIEW")).reads_milestones
    nobody = Scope.of(principal())
    assert nobody.shape == ()
    assert str(nobody.where()) == "false"
