"""Registry acts through the gateway (``/registry/actions/<verb>``): the registry admin signs in, binds, grants,
revokes, unbinds and updates organizations by signature, relayed; a ministry admin grants inside its ministry; and
every hostile caller is refused with a clear 4xx before anything is written (the relayer's nonce and the block
number unchanged).

One world for the module: the tests run in order on it, and it is rolled back at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from httpx import Response

from chain import ACCESS_REGISTRY
from chain.roles import DEFAULT_ADMIN_ROLE, Role
from gateway.client import ACTS_PATHS
from scripts._common import Context
from scripts.cli import org as org_group
from scripts.cli_budget import budget
from scripts.cli_client import ClientState, client
from tests.gateway.conftest import Api, module_gateway
from tests.world import World


@pytest.fixture(scope="module")
def api(session_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The gateway on the session's chain, for this module; the chain rolled back afterwards."""
    tmp = tmp_path_factory.mktemp("registry-acts")
    # No indexer follows the chain here: ?wait=true is brief.
    with module_gateway(session_world, tmp, "registry acts relayer", wait_timeout_s=0.05) as api:
        api.sync()
        try:
            yield api
        finally:
            _STATES.clear()


def typed(api: Api, label: str, verb: str, fields: dict[str, Any]) -> Response:
    """POST /registry/actions/<verb>/typed-data as ``label``."""
    return api.act_typed_data(ACTS, label, verb, fields)


def signed_body(api: Api, label: str, verb: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields, signed by ``label`` over the typed data the gateway gave it."""
    return api.signed_act(ACTS, label, verb, fields)


def post(api: Api, label: str, verb: str, body: dict[str, Any], **params: str) -> Response:
    return api.post_act(ACTS, label, verb, body, **params)


def act(api: Api, label: str, verb: str, fields: dict[str, Any]) -> Response:
    """Sign in as ``label``, fetch the typed data, sign it and post it."""
    return api.relay_act(ACTS, label, verb, fields)


def mined(api: Api, response: Response, event: str) -> dict[str, Any]:
    """The relay (202, polled to mined) of an act that emitted ``event`` naming the signer as its sender."""
    assert response.status_code == 202, response.text
    relay = response.json()
    assert relay["statusUrl"] == f"/registry/actions/relays/{relay['txHash']}"
    assert relay["registry"] == api.world.system.registry
    status = api.client.get(relay["statusUrl"], headers=api.session(relay_label(api, relay["signer"])))
    assert status.status_code == 200, status.text
    assert status.json()["txHash"] == relay["txHash"]
    receipt = api.world.w3.eth.get_transaction_receipt(relay["txHash"])
    registry = api.world.registry
    (log,) = getattr(registry.events, event)().process_receipt(receipt)
    if "sender" in log.args:
        assert log.args["sender"] == relay["signer"]
    api.sync()
    return dict(relay)


def relay_label(api: Api, signer: str) -> str:
    return next(label for label, account in api.world.accounts.items() if account.address == signer)


def refused(api: Api, response: Response, status: int, error: str | None) -> dict[str, Any]:
    """The problem of a refusal (nothing was written on chain: checked by the caller's marks)."""
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    if error is not None:
        assert problem.get("error") == error, problem
    return problem


def test_the_registry_admin_signs_in_as_the_registry_admin_and_nothing_else(api: Api) -> None:
    me = api.client.get("/auth/me", headers=api.session("admin")).json()
    assert me["registryAdmin"] is True
    assert me["roles"] == []
    assert me["organization"] is None
    # It sees no procurement and no budget line: its principal lets it act on the registry, nothing more.
    assert api.client.get("/procurements", headers=api.session("admin")).json()["count"] == 0
    officer = api.client.get("/auth/me", headers=api.session("officer")).json()
    assert officer["registryAdmin"] is False


def test_the_admin_binds_grants_revokes_and_unbinds_by_signature(api: Api) -> None:
    outsider = api.world.accounts["outsider"].address
    mined(api, act(api, "admin", "bind-account", {"account": outsider, "orgId": "NITE"}), "AccountBound")
    mined(api, act(api, "admin", "grant-role", {"role": "evaluator", "account": outsider}), "RoleGranted")
    assert api.client.get("/auth/me", headers=api.sign_in("outsider")).json()["roles"] == ["EVALUATOR_ROLE"]
    mined(api, act(api, "admin", "revoke-role", {"role": "evaluator", "account": outsider}), "RoleRevoked")
    waited = post(
        api, "admin", "unbind-account", signed_body(api, "admin", "unbind-account", {"account": outsider}), wait="true"
    )
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "mined"  # (mirrored: no indexer follows the chain in this module)
    assert api.state.ledger.registry.organization_of(outsider) is None


def test_the_admin_deactivates_and_reactivates_an_organization(api: Api) -> None:
    zero = "0x" + "00" * 20
    fields = {"orgId": "OTHERCO", "active": False, "vault": zero}
    mined(api, act(api, "admin", "update-organization", fields), "OrganizationUpdated")
    other = api.state.ledger.registry.organization("OTHERCO")
    assert other is not None
    assert other.active is False
    mined(api, act(api, "admin", "update-organization", fields | {"active": True}), "OrganizationUpdated")


def test_a_ministry_admin_grants_and_revokes_inside_its_ministry_only(api: Api) -> None:
    vault = api.world.accounts["vault"].address  # MOD's account, no role
    mined(api, act(api, "mod_admin", "grant-role", {"role": "treasury", "account": vault}), "RoleGranted")
    mined(api, act(api, "mod_admin", "revoke-role", {"role": "treasury", "account": vault}), "RoleRevoked")
    marks = api.chain_marks()
    # Another ministry's account: the contract refuses it when the act is simulated, in words.
    mofa = api.world.accounts["mofa_officer"].address
    problem = refused(
        api,
        act(api, "mod_admin", "revoke-role", {"role": "procurement-officer", "account": mofa}),
        409,
        "RegistryCrossOrganizationGrant",
    )
    assert "may grant or revoke roles only inside its own ministry" in problem["detail"]
    assert "MOFA's account" in problem["detail"]
    # A role whose admin is the registry's: refused as not the registry admin.
    eval4 = api.world.accounts["eval4"].address
    problem = refused(
        api,
        act(api, "mod_admin", "grant-role", {"role": "evaluator", "account": eval4}),
        403,
        "AccessControlUnauthorizedAccount",
    )
    assert "is not the registry admin" in problem["detail"]
    assert api.chain_marks() == marks


def test_a_role_the_organization_cannot_hold_is_refused_in_words(api: Api) -> None:
    marks = api.chain_marks()
    atla = api.world.accounts["eval1"].address
    problem = refused(
        api,
        act(api, "admin", "grant-role", {"role": "procurement-officer", "account": atla}),
        409,
        "RegistryRoleKindMismatch",
    )
    assert f"ATLA's account {atla[:6]}" in problem["detail"]
    assert "an evaluation body, which cannot be a procurement officer" in problem["detail"]
    assert api.chain_marks() == marks


def test_a_non_admin_is_refused_before_anything_is_signed(api: Api) -> None:
    marks = api.chain_marks()
    outsider = api.world.accounts["outsider"].address
    for label in ("officer", "auditor", "eval1"):
        problem = refused(api, typed(api, label, "bind-account", {"account": outsider, "orgId": "NITE"}), 403, None)
        assert problem["error"] == "AccessControlUnauthorizedAccount"
        assert "is not the registry admin" in problem["detail"]
    # Signed anyway, posted: refused the same.
    body = {"account": outsider, "orgId": "NITE", "deadline": 2**40, "signature": "0x" + "11" * 65}
    refused(api, post(api, "officer", "bind-account", body), 403, "AccessControlUnauthorizedAccount")
    assert api.chain_marks() == marks


def test_a_replayed_signature_is_answered_with_its_relay_and_one_for_other_content_is_refused(api: Api) -> None:
    outsider = api.world.accounts["outsider"].address
    body = signed_body(api, "admin", "bind-account", {"account": outsider, "orgId": "NITE"})
    first = post(api, "admin", "bind-account", body)
    mined(api, first, "AccountBound")
    marks = api.chain_marks()
    replayed = post(api, "admin", "bind-account", body)  # posted again: its relay, nothing sent
    assert replayed.status_code == 202, replayed.text
    assert (replayed.json()["txHash"], replayed.json()["replayed"]) == (first.json()["txHash"], True)
    assert replayed.json()["statusUrl"] == first.json()["statusUrl"]
    moved = post(api, "admin", "bind-account", body | {"account": api.world.accounts["eval4"].address})
    assert moved.status_code in (403, 409), moved.text
    # Signed for one account, posted for another: the signature recovers to someone else.
    other = signed_body(api, "admin", "grant-role", {"role": "evaluator", "account": outsider})
    eval4 = api.world.accounts["eval4"].address
    problem = refused(api, post(api, "admin", "grant-role", other | {"account": eval4}), 403, None)
    assert "signature" in problem["detail"]
    assert api.chain_marks() == marks
    mined(api, post(api, "admin", "grant-role", other), "RoleGranted")  # the genuine one still goes through


def test_an_expired_deadline_is_refused(api: Api) -> None:
    outsider = api.world.accounts["outsider"].address
    fields = {"role": "evaluator", "account": outsider}
    now = api.world.now()
    data = typed(api, "admin", "revoke-role", fields | {"deadline": now - 60})
    assert data.status_code == 200, data.text
    body = {**fields, "deadline": now - 60, "signature": api.sign_typed("admin", data.json())}
    marks = api.chain_marks()
    problem = refused(api, post(api, "admin", "revoke-role", body), 422, None)
    assert "deadline" in problem["detail"]
    assert api.chain_marks() == marks


@pytest.mark.parametrize(
    ("verb", "fields", "named"),
    [
        ("grant-role", {"role": "wizard", "account": "0x" + "12" * 20}, "role"),
        ("grant-role", {"role": "evaluator", "account": "0x12"}, "account"),
        ("bind-account", {"account": "0x" + "12" * 20, "orgId": "X" * 17}, "orgId"),
        ("update-organization", {"orgId": "NITE", "active": "perhaps", "vault": "0x" + "00" * 20}, "active"),
        ("unbind-account", {"account": "0x" + "12" * 20, "extra": 1}, "extra"),
    ],
)
def test_garbage_bodies_are_422_naming_the_field(api: Api, verb: str, fields: dict[str, Any], named: str) -> None:
    marks = api.chain_marks()
    for response in (
        typed(api, "admin", verb, fields),
        post(api, "admin", verb, fields | {"deadline": 2**40, "signature": "0x" + "11" * 65}),
    ):
        assert response.status_code == 422, response.text
        assert named in response.text
    assert (
        api.client.post("/registry/actions/bind-account", headers=api.session("admin"), content=b"[").status_code == 422
    )
    assert api.chain_marks() == marks


def test_a_revoked_admin_is_refused(api: Api) -> None:
    world = api.world
    second = world.accounts["outsider"].address  # an admin of its own: bound to NITE above, which does not matter
    admin = world.sender("admin")
    registry = world.registry
    admin.transact(registry.functions.grantRole(DEFAULT_ADMIN_ROLE, second))
    api.sync()
    headers = api.sign_in("outsider")
    assert api.client.get("/auth/me", headers=headers).json()["registryAdmin"] is True
    body = signed_body(api, "outsider", "unbind-account", {"account": world.accounts["eval4"].address}) | {}
    api.sessions.pop("outsider", None)
    admin.transact(registry.functions.revokeRole(DEFAULT_ADMIN_ROLE, second))
    admin.transact(registry.functions.revokeRole(Role.EVALUATOR.id, second))
    api.sync()
    marks = api.chain_marks()
    response = api.client.post("/registry/actions/unbind-account", headers=headers, json=body)
    assert response.status_code == 403, response.text
    assert "no longer holds an active role" in response.json()["detail"]
    assert api.chain_marks() == marks


def test_the_relayer_is_not_bound_nor_granted_a_role_through_the_gateway(api: Api) -> None:
    marks = api.chain_marks()
    for verb, fields in (
        ("bind-account", {"account": api.relayer, "orgId": "MOD"}),
        ("grant-role", {"role": "procurement-officer", "account": api.relayer}),
    ):
        problem = refused(api, typed(api, "admin", verb, fields), 422, None)
        assert "is this gateway's relayer" in problem["detail"]
    assert api.chain_marks() == marks


def org(api: Api, label: str, *args: str) -> Result:
    """``procure org ARGS`` as ``label`` through the module's gateway (signed in once per label)."""
    if label not in _STATES:
        context = Context(account=api.world.accounts[label], var_dir=_VAR)
        _STATES[label] = ClientState(context, "http://testserver", http=api.client)
    return CliRunner().invoke(org_group, list(args), obj=_STATES[label])


_STATES: dict[str, ClientState] = {}
_VAR = Path("/nonexistent-var")  # no relayer keystore of `procure up` here: the gateway's own check applies
TX = r": tx 0x[0-9a-f]{64}"
ACTS = ACTS_PATHS[ACCESS_REGISTRY]


def test_procure_org_commands_relay_through_the_gateway_and_say_refusals_in_words(api: Api) -> None:
    outsider = api.world.accounts["outsider"].address
    done = org(api, "admin", "unbind", outsider)
    assert re.fullmatch(f"{outsider} unbound{TX}\n", done.output), done.output
    done = org(api, "admin", "bind", outsider.lower(), "NITE")
    assert re.fullmatch(f"{outsider} bound to NITE{TX}\n", done.output), done.output
    done = org(api, "admin", "grant", "evaluator", outsider)
    assert re.fullmatch(f"evaluator granted to {outsider}{TX}\n", done.output), done.output
    done = org(api, "admin", "update", "OTHERCO", "--inactive")
    assert re.fullmatch(f"organization OTHERCO inactive, vault 0x{'0' * 40}{TX}\n", done.output), done.output
    done = org(api, "admin", "update", "OTHERCO", "--active")
    assert done.exit_code == 0, done.output
    marks = api.chain_marks()
    atla = api.world.accounts["eval1"].address
    refused_ = org(api, "admin", "grant", "procurement-officer", atla)
    assert refused_.exit_code == 1
    assert refused_.output == (
        "Error: gateway answered 409 The contract refused the action: ATLA's account "
        f"{atla[:6]}...{atla[-4:]} belongs to an evaluation body, which cannot be a procurement officer\n"
    )
    officer = api.world.accounts["officer"].address
    refused_ = org(api, "officer", "bind", outsider, "MOD")
    assert refused_.exit_code == 1
    assert refused_.output.endswith(f": MOD's account {officer[:6]}...{officer[-4:]} is not the registry admin\n")
    refused_ = org(api, "admin", "grant", "wizard", outsider)
    assert refused_.exit_code == 2
    assert "'wizard' is not one of" in refused_.output
    refused_ = org(api, "admin", "bind", "0x12", "MOD")
    assert refused_.exit_code == 2
    assert "'0x12' is not an address" in refused_.output
    assert api.chain_marks() == marks


def test_budget_show_tells_the_registry_admin_who_may_read_the_budget(api: Api) -> None:
    org(api, "admin", "--help")  # the admin's client state, signed in once for the module
    shown = CliRunner().invoke(budget, ["show"], obj=_STATES["admin"])
    assert shown.exit_code == 0, shown.output
    admin = api.world.accounts["admin"].address
    assert f"no budget lines you may see ({admin}: the registry admin). The finance authority and auditors" in (
        shown.output
    )


def test_a_signer_withdraws_its_outstanding_signatures(api: Api) -> None:
    officer = api.world.accounts["officer"].address
    outstanding = signed_body(api, "officer", "invalidate-nonces", {"newNonce": 10**6})  # signed, never sent
    nonce = api.state.ledger.registry.nonce(officer)
    if "officer" not in _STATES:
        org(api, "officer", "--help")
    done = CliRunner().invoke(client, ["withdraw-signatures", "--new-nonce", str(nonce + 5)], obj=_STATES["officer"])
    assert re.fullmatch(f"signatures withdrawn up to nonce {nonce + 5}{TX}\n", done.output), done.output
    assert api.state.ledger.registry.nonce(officer) == nonce + 5
    marks = api.chain_marks()
    refused(api, post(api, "officer", "invalidate-nonces", outstanding), 403, None)  # signed for a used nonce
    assert api.chain_marks() == marks
