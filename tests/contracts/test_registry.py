"""AccessRegistry: organizations, accounts, roles, the factory link, escrow registration and nonces.

The helpers at the top are shared by the other contract test modules (test_token, test_factory,
test_escrow): revert matching, the cast, the "only these people may call this" check, and the escrow books
invariant.
"""

from __future__ import annotations

import ast
import itertools
import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed as EthTesterFailure
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from chain import ACCESS_REGISTRY, ACTIONS, ErrorDecoder, Receipt
from chain.eip712 import Action, sign_action
from chain.errors import ContractRevert
from chain.roles import DEFAULT_ADMIN_ROLE, OrgKind, Role, org_id
from chain.system import error_decoder
from tests.helpers import event, events
from tests.world import World, contract_at

# ----------------------------------------------------------------------------------------------- shared helpers

#: Everyone in the standard world, in a fixed order.
CAST: tuple[str, ...] = (
    "admin",
    "mod_admin",
    "officer",
    "officer2",
    "treasury",
    "vault",
    "mofa_officer",
    "mofa_admin",
    "mofa_treasury",
    "finance",
    "finance2",
    "supplier",
    "supplier_colleague",
    "other_supplier",
    "eval1",
    "eval2",
    "eval3",
    "eval4",
    "reviewer",
    "auditor",
    "outsider",
)

#: Gas for transactions expected to succeed: a fixed limit skips py-evm's binary-search estimate (2x faster).
GAS = 5_000_000
ZERO = "0x" + "00" * 20

Expected = tuple[str, tuple[Any, ...]]

MOD, MOFA, NVE, OTHERCO = org_id("MOD"), org_id("MOFA"), org_id("NVE"), org_id("OTHERCO")
ATLA, JQA, NITE, REVIEW, BOA = org_id("ATLA"), org_id("JQA"), org_id("NITE"), org_id("REVIEW"), org_id("BOA")
OFFICER, ADMIN, TREASURY = Role.PROCUREMENT_OFFICER.id, Role.MINISTRY_ADMIN.id, Role.TREASURY.id
SUPPLIER, EVALUATOR = Role.SUPPLIER.id, Role.EVALUATOR.id
REVIEW_BODY, AUDITOR = Role.REVIEW_BODY.id, Role.AUDITOR.id


_REVERTS = (EthTesterFailure, ContractCustomError, ContractLogicError, ContractPanicError)


@cache
def _decoder() -> ErrorDecoder:
    return error_decoder()


def _decode_failure(exc: BaseException) -> ContractRevert:
    """The custom error behind a revert, whichever way the provider reported it.

    A JSON-RPC node's revert arrives as a web3 ContractCustomError; web3's eth-tester provider lets
    eth-tester's own TransactionFailed through instead, with the revert bytes as a repr in its message.
    """
    if isinstance(exc, ContractRevert):
        return exc
    if isinstance(exc, ContractCustomError | ContractLogicError | ContractPanicError):
        data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
        decoded = _decoder().decode(data if isinstance(data, str) else None)
        return decoded if decoded is not None else ContractRevert("Unknown", {"message": str(exc)})
    raw: Any = exc.args[0] if exc.args else b""
    if isinstance(raw, str):
        reason = raw.removeprefix("execution reverted: ")
        if not reason.startswith(("b'", 'b"')):
            return ContractRevert("Error", {"reason": reason})
        raw = ast.literal_eval(reason)
    found = _decoder().decode(bytes(raw))
    return found if found is not None else ContractRevert("Unknown", {"data": bytes(raw)})


def normalize(values: Any) -> Any:
    """Comparable values: lower-case addresses, plain bytes, tuples for lists."""
    if isinstance(values, list | tuple):
        return tuple(normalize(v) for v in values)
    if isinstance(values, str) and values.startswith("0x") and len(values) == 42:
        return values.lower()
    if isinstance(values, bytes | bytearray):
        return bytes(values)
    return values


@contextmanager
def reverts(name: str, *args: Any) -> Iterator[list[ContractRevert]]:
    """Assert that the block reverts with custom error ``name`` and, if given, exactly ``args``.

    Yields a list that holds the decoded error once the block has reverted.
    """
    caught: list[ContractRevert] = []
    try:
        yield caught
    except (ContractRevert, *_REVERTS) as exc:
        error = _decode_failure(exc)
    else:
        raise AssertionError(f"expected a {name} revert, but nothing reverted")
    caught.append(error)
    assert error.name == name, f"expected {name}, got {error}"
    if args:
        assert normalize(error.values) == normalize(args), f"{name} arguments: got {error}, expected {args}"


def send(world: World, label: str, fn: ContractFunction) -> Receipt:
    """Send a transaction that must succeed."""
    return world.sender(label).transact(fn, gas=GAS)


def attempt(world: World, label: str, fn: ContractFunction) -> Receipt:
    """Send a transaction that may revert.

    A call on the pending block (where the transaction will run, at the same timestamp) raises the revert
    before anything is mined; it executes once, where gas estimation would run a binary search.
    """
    sender = world.sender(label)
    try:
        fn.call({"from": sender.address}, block_identifier="pending")
    except _REVERTS as exc:
        raise _decode_failure(exc) from None
    return sender.transact(fn, gas=GAS)


def relayed(
    world: World,
    escrow: Contract,
    signer: str,
    primary_type: str,
    fields: dict[str, Any],
    *,
    deadline: int | None = None,
    sign_as: str | None = None,
) -> Receipt:
    """``signer`` signs the action (with ``sign_as``'s key if given) and the outsider relays it."""
    account = world.accounts[signer]
    action = Action(
        primary_type,
        fields,
        world.registry.functions.nonces(account.address).call(),
        world.now() + 3_600 if deadline is None else deadline,
    )
    key = world.accounts[sign_as or signer]
    signature = sign_action(key, action, chain_id=world.w3.eth.chain_id, escrow=escrow.address)
    fn = getattr(escrow.functions, action.function_name)(*action.call_args(account.address, signature))
    return attempt(world, "outsider", fn)


_ids = itertools.count()


def make_escrow(world: World, fund: int | None = None, **overrides: Any) -> tuple[Contract, tuple[Any, ...]]:
    """A procurement by ``officer`` with ``World.procurement_params`` defaults (3 milestones of 30, 50 and
    120 M yen due in 30, 90 and 180 days; a 2-of-3 panel eval1..eval3), fully funded unless told otherwise."""
    overrides.setdefault("procurement_id", keccak(text=f"contract-test-{next(_ids)}"))
    p = world.procurement_params(**overrides)
    address, _ = world.create_procurement(p, sum(p[4]) if fund is None else fund)
    return world.escrow(address), p


def addr(world: World, label: str) -> str:
    """The address of a person of the cast."""
    return str(world.accounts[label].address)


def assert_only(
    world: World,
    allowed: Collection[str],
    action: Callable[[str], object],
    denied: Callable[[str], Expected],
) -> None:
    """Exactly the people in ``allowed`` may perform ``action``; everyone else gets ``denied(label)``.

    ``action(label)`` performs the call as that person (directly, or as the signer of a relayed call). Every
    allowed attempt runs on a chain snapshot that is rolled back, so all of them start from the same state.
    """
    assert set(allowed) <= set(CAST), f"not in the cast: {set(allowed) - set(CAST)}"
    for label in CAST:
        if label in allowed:
            snapshot = world.tester.take_snapshot()
            try:
                action(label)
            except Exception as exc:
                raise AssertionError(f"{label} may perform this action but it failed: {exc}") from exc
            finally:
                world.tester.revert_to_snapshot(snapshot)
        else:
            name, args = denied(label)
            try:
                with reverts(name, *args):
                    action(label)
            except AssertionError as exc:
                raise AssertionError(f"{label} must not perform this action: {exc}") from exc


def denied_with(world: World, error: str, *trailing: Any) -> Callable[[str], Expected]:
    """``denied`` for errors of the form ``error(caller, *trailing)``."""
    return lambda label: (error, (addr(world, label), *trailing))


def escrows(world: World, since_block: int) -> list[Contract]:
    """Every escrow registered from block ``since_block`` on."""
    logs = world.registry.events.EscrowRegistered().get_logs(from_block=since_block)
    return [world.escrow(log["args"]["escrow"]) for log in logs]


#: Milestone states whose amount the escrow still needs: Pending, Submitted, Rejected, Disputed.
OPEN_OR_DISPUTED = frozenset({0, 1, 2, 5})


def assert_escrow_books(world: World, since_block: int) -> None:
    """The escrow invariants: balance == funded - released - refunded; owed is the sum of what the milestones
    owe to the supplier; no yen is stranded: everything held is needed by an open or disputed milestone or owed
    to the supplier. And money follows the budget: what an escrow was funded, net of refunds, is exactly what it
    drew on its obligation (drawn <= obligated), and every yen in existence is in an escrow or was paid out.

    Checked for every escrow created from block ``since_block`` on; the supply over every escrow.
    """
    for escrow in escrows(world, since_block):
        funded, released, refunded, owed = escrow.functions.totals().call()
        balance = world.token.functions.balanceOf(escrow.address).call()
        assert balance == funded - released - refunded, f"escrow {escrow.address} books broken"
        count = escrow.functions.milestoneCount().call()
        milestones = [escrow.functions.milestone(i).call() for i in range(count)]
        assert owed == sum(m[6] for m in milestones)
        needed = owed + sum(m[0] for m in milestones if m[2] in OPEN_OR_DISPUTED)
        assert balance <= needed, f"escrow {escrow.address} holds {balance} yen, only {needed} needed"
        _, _, obligated, drawn, _ = world.budget.functions.obligation(escrow.address).call()
        assert drawn == funded - refunded <= obligated, f"escrow {escrow.address} drew other than it was funded"
    minted = sum(t[0] - t[2] for t in (e.functions.totals().call() for e in escrows(world, 0)))
    assert world.token.functions.totalSupply().call() == minted, "yen exist that no escrow's obligation backs"


@contextmanager
def books_checked(world: World) -> Iterator[None]:
    """Check the books of every escrow created inside the block once it is done (an autouse fixture body)."""
    start = world.w3.eth.block_number + 1
    yield
    assert_escrow_books(world, start)


# ----------------------------------------------------------------------------------------------- organizations


def registry_fn(world: World) -> Any:
    return world.registry.functions


def org(world: World, org_id_: bytes) -> tuple[int, bool, str]:
    kind, active, vault = world.registry.functions.organization(org_id_).call()
    return int(kind), bool(active), str(vault)


def test_register_organization(world: World) -> None:
    new = org_id("KEIDANREN")
    receipt = send(world, "admin", registry_fn(world).registerOrganization(new, OrgKind.SUPPLIER, "Keidanren"))
    assert event(world.registry, receipt, "OrganizationRegistered") == {
        "orgId": new,
        "kind": OrgKind.SUPPLIER,
        "vault": ZERO,
        "name": "Keidanren",
    }
    assert org(world, new) == (OrgKind.SUPPLIER, True, ZERO)


def test_register_organization_accepts_a_full_16_byte_id(world: World) -> None:
    new = b"ABCDEFGHIJKLMNOP" + b"\x00" * 16
    send(world, "admin", registry_fn(world).registerOrganization(new, OrgKind.AUDIT_BODY, "sixteen"))
    assert org(world, new) == (OrgKind.AUDIT_BODY, True, ZERO)


@pytest.mark.parametrize(
    "bad_id",
    [
        b"\x00" * 32,
        b"ABCDEFGHIJKLMNOPQ" + b"\x00" * 15,  # 17 bytes
        b"A" + b"\x00" * 30 + b"\x01",  # a stray byte in the low half
        org_id("MOD"),  # taken
    ],
    ids=["zero", "17-bytes", "low-half-byte", "taken"],
)
def test_register_organization_refuses_invalid_ids(world: World, bad_id: bytes) -> None:
    with reverts("RegistryInvalidOrganization", bad_id):
        attempt(world, "admin", registry_fn(world).registerOrganization(bad_id, OrgKind.SUPPLIER, "x"))


def test_register_organization_refuses_kind_none(world: World) -> None:
    with reverts("RegistryInvalidKind", OrgKind.NONE):
        attempt(world, "admin", registry_fn(world).registerOrganization(org_id("NEW"), OrgKind.NONE, "x"))


def test_only_registry_admin_registers_organizations(world: World) -> None:
    fn = registry_fn(world).registerOrganization(org_id("NEW"), OrgKind.SUPPLIER, "x")
    assert_only(
        world,
        {"admin"},
        lambda label: attempt(world, label, fn),
        denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE),
    )


def test_update_organization_deactivates_and_sets_vault(world: World) -> None:
    receipt = send(world, "admin", registry_fn(world).updateOrganization(NVE, False, ZERO))
    assert event(world.registry, receipt, "OrganizationUpdated") == {"orgId": NVE, "active": False, "vault": ZERO}
    assert org(world, NVE) == (OrgKind.SUPPLIER, False, ZERO)

    receipt = send(world, "admin", registry_fn(world).updateOrganization(MOD, True, addr(world, "officer2")))
    assert event(world.registry, receipt, "OrganizationUpdated") == {
        "orgId": MOD,
        "active": True,
        "vault": addr(world, "officer2"),
    }
    assert org(world, MOD) == (OrgKind.MINISTRY, True, addr(world, "officer2"))
    # A ministry is never left without a vault (its refunds would have nowhere to go).
    with reverts("RegistryInvalidVault", MOD, ZERO):
        attempt(world, "admin", registry_fn(world).updateOrganization(MOD, False, ZERO))
    assert org(world, MOD) == (OrgKind.MINISTRY, True, addr(world, "officer2"))


def test_update_organization_refuses_unknown_organization(world: World) -> None:
    with reverts("RegistryUnknownOrganization", org_id("NOPE")):
        attempt(world, "admin", registry_fn(world).updateOrganization(org_id("NOPE"), True, ZERO))


@pytest.mark.parametrize(
    ("org_code", "vault"),
    [("NVE", "supplier"), ("MOD", "mofa_admin"), ("MOD", "outsider"), ("MOFA", "vault")],
    ids=["non-ministry", "other-ministry-account", "unbound", "other-ministry-vault"],
)
def test_update_organization_refuses_invalid_vault(world: World, org_code: str, vault: str) -> None:
    with reverts("RegistryInvalidVault", org_id(org_code), addr(world, vault)):
        attempt(world, "admin", registry_fn(world).updateOrganization(org_id(org_code), True, addr(world, vault)))


def test_only_registry_admin_updates_organizations(world: World) -> None:
    fn = registry_fn(world).updateOrganization(NVE, False, ZERO)
    assert_only(
        world,
        {"admin"},
        lambda label: attempt(world, label, fn),
        denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE),
    )


# ----------------------------------------------------------------------------------------------- accounts


def test_bind_account(world: World) -> None:
    outsider = addr(world, "outsider")
    receipt = send(world, "admin", registry_fn(world).bindAccount(outsider, NVE))
    assert event(world.registry, receipt, "AccountBound") == {
        "account": outsider,
        "orgId": NVE,
        "sender": addr(world, "admin"),
    }
    assert registry_fn(world).organizationOf(outsider).call() == NVE
    assert registry_fn(world).holderStatus(outsider).call() == [True, False]
    assert registry_fn(world).roleCount(outsider).call() == 0


def test_bind_account_refusals(world: World) -> None:
    with reverts("RegistryInvalidAccount", ZERO):
        attempt(world, "admin", registry_fn(world).bindAccount(ZERO, NVE))
    with reverts("RegistryUnknownOrganization", org_id("NOPE")):
        attempt(world, "admin", registry_fn(world).bindAccount(addr(world, "outsider"), org_id("NOPE")))
    with reverts("RegistryAccountAlreadyBound", addr(world, "supplier"), NVE):
        attempt(world, "admin", registry_fn(world).bindAccount(addr(world, "supplier"), OTHERCO))
    escrow, _ = make_escrow(world)
    with reverts("RegistryInvalidAccount", escrow.address):
        attempt(world, "admin", registry_fn(world).bindAccount(escrow.address, NVE))


def test_only_registry_admin_binds_accounts(world: World) -> None:
    fn = registry_fn(world).bindAccount(addr(world, "outsider"), NVE)
    assert_only(
        world,
        {"admin"},
        lambda label: attempt(world, label, fn),
        denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE),
    )


def test_unbind_account(world: World) -> None:
    colleague = addr(world, "supplier_colleague")
    send(world, "admin", registry_fn(world).revokeRole(SUPPLIER, colleague))
    receipt = send(world, "admin", registry_fn(world).unbindAccount(colleague))
    assert event(world.registry, receipt, "AccountUnbound") == {
        "account": colleague,
        "orgId": NVE,
        "sender": addr(world, "admin"),
    }
    assert registry_fn(world).organizationOf(colleague).call() == b"\x00" * 32
    assert registry_fn(world).holderStatus(colleague).call() == [False, False]
    # Free to join another organization now.
    send(world, "admin", registry_fn(world).bindAccount(colleague, OTHERCO))
    assert registry_fn(world).organizationOf(colleague).call() == OTHERCO


def test_unbind_account_refusals(world: World) -> None:
    with reverts("RegistryAccountNotBound", addr(world, "outsider")):
        attempt(world, "admin", registry_fn(world).unbindAccount(addr(world, "outsider")))
    with reverts("RegistryAccountInUse", addr(world, "supplier"), 1):
        attempt(world, "admin", registry_fn(world).unbindAccount(addr(world, "supplier")))
    send(world, "admin", registry_fn(world).grantRole(TREASURY, addr(world, "officer")))
    with reverts("RegistryAccountInUse", addr(world, "officer"), 2):
        attempt(world, "admin", registry_fn(world).unbindAccount(addr(world, "officer")))
    # The vault holds no role but receives refunds: it stays.
    assert registry_fn(world).roleCount(addr(world, "vault")).call() == 0
    with reverts("RegistryAccountInUse", addr(world, "vault"), 0):
        attempt(world, "admin", registry_fn(world).unbindAccount(addr(world, "vault")))


def test_only_registry_admin_unbinds_accounts(world: World) -> None:
    send(world, "admin", registry_fn(world).bindAccount(addr(world, "outsider"), NVE))
    fn = registry_fn(world).unbindAccount(addr(world, "outsider"))
    assert_only(
        world,
        {"admin"},
        lambda label: attempt(world, label, fn),
        denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE),
    )


def test_nonce_survives_unbinding(world: World) -> None:
    escrow, _ = make_escrow(world)
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://doc"))
    eval3 = addr(world, "eval3")
    relayed(world, escrow, "eval3", "Attest", {"milestoneId": 0, "round": 1, "pass": True, "reportHash": b"\x22" * 32})
    assert registry_fn(world).nonces(eval3).call() == 1
    send(world, "admin", registry_fn(world).revokeRole(EVALUATOR, eval3))
    send(world, "admin", registry_fn(world).unbindAccount(eval3))
    assert registry_fn(world).nonces(eval3).call() == 1
    send(world, "admin", registry_fn(world).bindAccount(eval3, NITE))
    assert registry_fn(world).nonces(eval3).call() == 1


# ----------------------------------------------------------------------------------------------- roles


def test_registry_admin_grants_and_revokes(world: World) -> None:
    officer2, admin = addr(world, "officer2"), addr(world, "admin")
    receipt = send(world, "admin", registry_fn(world).grantRole(TREASURY, officer2))
    assert event(world.registry, receipt, "RoleGranted") == {"role": TREASURY, "account": officer2, "sender": admin}
    assert registry_fn(world).hasRole(TREASURY, officer2).call()
    assert registry_fn(world).hasActiveRole(TREASURY, officer2).call()
    assert registry_fn(world).roleCount(officer2).call() == 2
    # Granting a held role changes nothing and says nothing.
    receipt = send(world, "admin", registry_fn(world).grantRole(TREASURY, officer2))
    assert events(world.registry, receipt, "RoleGranted") == []

    receipt = send(world, "admin", registry_fn(world).revokeRole(TREASURY, officer2))
    assert event(world.registry, receipt, "RoleRevoked") == {"role": TREASURY, "account": officer2, "sender": admin}
    assert not registry_fn(world).hasRole(TREASURY, officer2).call()
    assert registry_fn(world).roleCount(officer2).call() == 1
    receipt = send(world, "admin", registry_fn(world).revokeRole(TREASURY, officer2))
    assert events(world.registry, receipt, "RoleRevoked") == []


def test_grant_refuses_unbound_account(world: World) -> None:
    with reverts("RegistryAccountNotBound", addr(world, "outsider")):
        attempt(world, "admin", registry_fn(world).grantRole(SUPPLIER, addr(world, "outsider")))


@pytest.mark.parametrize(
    ("role", "label", "kind"),
    [
        (Role.SUPPLIER.id, "officer2", OrgKind.MINISTRY),
        (Role.MINISTRY_ADMIN.id, "supplier", OrgKind.SUPPLIER),
        (Role.PROCUREMENT_OFFICER.id, "eval1", OrgKind.EVALUATION_BODY),
        (Role.TREASURY.id, "reviewer", OrgKind.REVIEW_BODY),
        (Role.EVALUATOR.id, "supplier_colleague", OrgKind.SUPPLIER),
        (Role.REVIEW_BODY.id, "auditor", OrgKind.AUDIT_BODY),
        (Role.AUDITOR.id, "eval4", OrgKind.EVALUATION_BODY),
        (keccak(text="UNKNOWN_ROLE"), "officer2", OrgKind.MINISTRY),
    ],
    ids=["supplier", "ministry-admin", "officer", "treasury", "evaluator", "review", "auditor", "unknown"],
)
def test_grant_refuses_kind_mismatch(world: World, role: bytes, label: str, kind: OrgKind) -> None:
    with reverts("RegistryRoleKindMismatch", addr(world, label), role, kind):
        attempt(world, "admin", registry_fn(world).grantRole(role, addr(world, label)))


def test_default_admin_role(world: World) -> None:
    outsider = addr(world, "outsider")
    with reverts("RegistryInvalidAccount", ZERO):
        attempt(world, "admin", registry_fn(world).grantRole(DEFAULT_ADMIN_ROLE, ZERO))
    # The registry admin role needs no organization.
    send(world, "admin", registry_fn(world).grantRole(DEFAULT_ADMIN_ROLE, outsider))
    assert registry_fn(world).hasRole(DEFAULT_ADMIN_ROLE, outsider).call()
    send(world, "outsider", registry_fn(world).registerOrganization(org_id("NEW"), OrgKind.SUPPLIER, "x"))
    assert org(world, org_id("NEW"))[0] == OrgKind.SUPPLIER


def test_role_admins(world: World) -> None:
    assert registry_fn(world).getRoleAdmin(OFFICER).call() == ADMIN
    assert registry_fn(world).getRoleAdmin(TREASURY).call() == ADMIN
    for role in (ADMIN, SUPPLIER, EVALUATOR, REVIEW_BODY, AUDITOR, DEFAULT_ADMIN_ROLE):
        assert registry_fn(world).getRoleAdmin(role).call() == DEFAULT_ADMIN_ROLE


def test_ministry_admin_grants_and_revokes_inside_its_ministry(world: World) -> None:
    vault, mod_admin = addr(world, "vault"), addr(world, "mod_admin")
    for role in (OFFICER, TREASURY):
        receipt = send(world, "mod_admin", registry_fn(world).grantRole(role, vault))
        assert event(world.registry, receipt, "RoleGranted") == {"role": role, "account": vault, "sender": mod_admin}
        assert registry_fn(world).hasRoleIn(role, vault, MOD).call()
    receipt = send(world, "mod_admin", registry_fn(world).revokeRole(OFFICER, addr(world, "officer2")))
    assert event(world.registry, receipt, "RoleRevoked") == {
        "role": OFFICER,
        "account": addr(world, "officer2"),
        "sender": mod_admin,
    }
    assert not registry_fn(world).hasRole(OFFICER, addr(world, "officer2")).call()


@pytest.mark.parametrize("target", ["mofa_officer", "outsider", "supplier"])
@pytest.mark.parametrize("grant", [True, False], ids=["grant", "revoke"])
def test_ministry_admin_refused_outside_its_ministry(world: World, target: str, grant: bool) -> None:
    fn = registry_fn(world).grantRole if grant else registry_fn(world).revokeRole
    with reverts("RegistryCrossOrganizationGrant", addr(world, "mod_admin"), addr(world, target), OFFICER):
        attempt(world, "mod_admin", fn(OFFICER, addr(world, target)))


@pytest.mark.parametrize("role", [ADMIN, SUPPLIER, EVALUATOR, REVIEW_BODY, AUDITOR, DEFAULT_ADMIN_ROLE])
def test_ministry_admin_refused_for_roles_it_does_not_administer(world: World, role: bytes) -> None:
    with reverts("AccessControlUnauthorizedAccount", addr(world, "mod_admin"), DEFAULT_ADMIN_ROLE):
        attempt(world, "mod_admin", registry_fn(world).grantRole(role, addr(world, "vault")))


def test_ministry_admin_of_deactivated_ministry_is_refused(world: World) -> None:
    send(world, "admin", registry_fn(world).updateOrganization(MOD, False, addr(world, "vault")))
    with reverts("AccessControlUnauthorizedAccount", addr(world, "mod_admin"), ADMIN):
        attempt(world, "mod_admin", registry_fn(world).grantRole(OFFICER, addr(world, "vault")))


def test_only_admins_grant_officer_role(world: World) -> None:
    vault = addr(world, "vault")

    def denied(label: str) -> Expected:
        if label == "mofa_admin":
            return "RegistryCrossOrganizationGrant", (addr(world, label), vault, OFFICER)
        return "AccessControlUnauthorizedAccount", (addr(world, label), ADMIN)

    fn = registry_fn(world).grantRole(OFFICER, vault)
    assert_only(world, {"admin", "mod_admin"}, lambda label: attempt(world, label, fn), denied)


def test_only_admins_revoke_officer_role(world: World) -> None:
    officer2 = addr(world, "officer2")

    def denied(label: str) -> Expected:
        if label == "mofa_admin":
            return "RegistryCrossOrganizationGrant", (addr(world, label), officer2, OFFICER)
        return "AccessControlUnauthorizedAccount", (addr(world, label), ADMIN)

    fn = registry_fn(world).revokeRole(OFFICER, officer2)
    assert_only(world, {"admin", "mod_admin"}, lambda label: attempt(world, label, fn), denied)


def test_only_registry_admin_grants_and_revokes_other_roles(world: World) -> None:
    denied = denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE)
    colleague = addr(world, "supplier_colleague")
    fn = registry_fn(world).revokeRole(SUPPLIER, colleague)
    assert_only(world, {"admin"}, lambda label: attempt(world, label, fn), denied)
    send(world, "admin", fn)
    fn = registry_fn(world).grantRole(SUPPLIER, colleague)
    assert_only(world, {"admin"}, lambda label: attempt(world, label, fn), denied)


def test_renounce_role(world: World) -> None:
    officer2 = addr(world, "officer2")
    with reverts("AccessControlBadConfirmation"):
        attempt(world, "officer2", registry_fn(world).renounceRole(OFFICER, addr(world, "officer")))
    receipt = send(world, "officer2", registry_fn(world).renounceRole(OFFICER, officer2))
    assert event(world.registry, receipt, "RoleRevoked") == {"role": OFFICER, "account": officer2, "sender": officer2}
    assert registry_fn(world).roleCount(officer2).call() == 0


def test_no_account_grants_a_role_to_itself(world: World) -> None:
    admin, mod_admin = addr(world, "admin"), addr(world, "mod_admin")
    for role in (OFFICER, TREASURY):
        with reverts("RegistrySelfGrant", mod_admin, role):
            attempt(world, "mod_admin", registry_fn(world).grantRole(role, mod_admin))
    with reverts("RegistrySelfGrant", admin, DEFAULT_ADMIN_ROLE):
        attempt(world, "admin", registry_fn(world).grantRole(DEFAULT_ADMIN_ROLE, admin))
    send(world, "admin", registry_fn(world).bindAccount(admin, NVE))
    with reverts("RegistrySelfGrant", admin, SUPPLIER):
        attempt(world, "admin", registry_fn(world).grantRole(SUPPLIER, admin))
    # Revoking or renouncing one's own role stays possible.
    send(world, "officer2", registry_fn(world).renounceRole(OFFICER, addr(world, "officer2")))


@pytest.mark.parametrize("held", [OFFICER, TREASURY], ids=["officer", "treasury"])
def test_ministry_admin_never_holds_officer_or_treasury(world: World, held: bytes) -> None:
    """Whoever grants the officer and treasury roles holds neither, whoever grants them (both directions)."""
    mod_admin, officer2 = addr(world, "mod_admin"), addr(world, "officer2")
    with reverts("RegistryIncompatibleRoles", mod_admin, held, ADMIN):
        attempt(world, "admin", registry_fn(world).grantRole(held, mod_admin))
    send(world, "admin", registry_fn(world).grantRole(held, officer2))
    expected = OFFICER  # officer2 is an officer already, which is reported first
    with reverts("RegistryIncompatibleRoles", officer2, ADMIN, expected):
        attempt(world, "admin", registry_fn(world).grantRole(ADMIN, officer2))
    vault = addr(world, "vault")
    send(world, "mod_admin", registry_fn(world).grantRole(held, vault))
    with reverts("RegistryIncompatibleRoles", vault, ADMIN, held):
        attempt(world, "admin", registry_fn(world).grantRole(ADMIN, vault))
    # Once the conflicting role is gone, the grant goes through.
    send(world, "admin", registry_fn(world).revokeRole(held, vault))
    send(world, "admin", registry_fn(world).grantRole(ADMIN, vault))
    assert registry_fn(world).hasRoleIn(ADMIN, vault, MOD).call()


def test_deactivated_organization_makes_roles_inactive(world: World) -> None:
    officer = addr(world, "officer")
    assert registry_fn(world).roleStatus(OFFICER, officer).call() == [MOD, True]
    assert registry_fn(world).hasRoleIn(OFFICER, officer, MOD).call()
    send(world, "admin", registry_fn(world).updateOrganization(MOD, False, addr(world, "vault")))
    assert registry_fn(world).hasRole(OFFICER, officer).call()  # still held ...
    assert not registry_fn(world).hasActiveRole(OFFICER, officer).call()  # ... but not active
    assert not registry_fn(world).hasRoleIn(OFFICER, officer, MOD).call()
    assert registry_fn(world).roleStatus(OFFICER, officer).call() == [MOD, False]
    assert registry_fn(world).holderStatus(officer).call() == [False, False]
    send(world, "admin", registry_fn(world).updateOrganization(MOD, True, addr(world, "vault")))
    assert registry_fn(world).hasActiveRole(OFFICER, officer).call()


def test_role_views(world: World) -> None:
    officer = addr(world, "officer")
    assert not registry_fn(world).hasRoleIn(OFFICER, officer, MOFA).call()
    assert not registry_fn(world).hasActiveRole(SUPPLIER, officer).call()
    assert registry_fn(world).roleStatus(SUPPLIER, officer).call() == [MOD, False]
    assert registry_fn(world).roleStatus(OFFICER, addr(world, "outsider")).call() == [b"\x00" * 32, False]
    assert registry_fn(world).organizationOf(addr(world, "eval4")).call() == NITE
    assert registry_fn(world).hasRole(DEFAULT_ADMIN_ROLE, addr(world, "admin")).call()
    assert registry_fn(world).roleCount(addr(world, "admin")).call() == 1
    assert registry_fn(world).roleCount(addr(world, "outsider")).call() == 0


# ----------------------------------------------------------------------------------------------- factory link


def fresh_registry(world: World) -> Contract:
    """A new, empty registry administered by ``admin`` (the world's own already has its factory)."""
    artifact = world.build["AccessRegistry"]
    receipt = world.sender("admin").deploy(list(artifact.abi), artifact.bytecode, addr(world, "admin"))
    return contract_at(world.w3, "AccessRegistry", str(receipt.raw["contractAddress"]), world.build)


def test_constructor_refuses_zero_admin(world: World) -> None:
    artifact = world.build["AccessRegistry"]
    with reverts("RegistryInvalidAccount", ZERO):
        world.sender("admin").deploy(list(artifact.abi), artifact.bytecode, ZERO)


def test_set_factory_once(world: World) -> None:
    registry = fresh_registry(world)
    assert registry.functions.factory().call() == ZERO
    with reverts("RegistryUnauthorizedFactory", ZERO):
        attempt(world, "admin", registry.functions.setFactory(ZERO))
    factory = world.factory.address
    receipt = send(world, "admin", registry.functions.setFactory(factory))
    assert event(registry, receipt, "FactorySet") == {"factory": factory}
    assert registry.functions.factory().call() == factory
    other = addr(world, "outsider")
    with reverts("RegistryUnauthorizedFactory", other):
        attempt(world, "admin", registry.functions.setFactory(other))


def test_world_registry_factory_is_set(world: World) -> None:
    assert registry_fn(world).factory().call() == world.factory.address
    with reverts("RegistryUnauthorizedFactory", addr(world, "outsider")):
        attempt(world, "admin", registry_fn(world).setFactory(addr(world, "outsider")))


def test_only_registry_admin_sets_factory(world: World) -> None:
    registry = fresh_registry(world)
    fn = registry.functions.setFactory(world.factory.address)
    assert_only(
        world,
        {"admin"},
        lambda label: attempt(world, label, fn),
        denied_with(world, "AccessControlUnauthorizedAccount", DEFAULT_ADMIN_ROLE),
    )


# ----------------------------------------------------------------------------------------------- escrows, nonces


def test_register_escrow_only_by_factory(world: World) -> None:
    fn = registry_fn(world).registerEscrow(MOD, b"\x01" * 32, addr(world, "outsider"))
    assert_only(
        world, set(), lambda label: attempt(world, label, fn), denied_with(world, "RegistryUnauthorizedFactory")
    )


def as_contract(world: World, address: str) -> Any:
    """Call parameters to simulate a call made by the contract at ``address``.

    A simulated call must come from an account that can pay for its gas, and a contract without a receive
    function cannot be sent ether; a self-destructing one-off contract (PUSH20 address, SELFDESTRUCT) can.
    """
    init_code = "0x73" + address.removeprefix("0x") + "ff"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # py-evm warns about any SELFDESTRUCT
        world.tester.send_transaction(
            {
                "from": world.tester.get_accounts()[0],
                "data": init_code,
                "value": 10**18,
                "gas": 100_000,
                "max_fee_per_gas": 10**10,
                "max_priority_fee_per_gas": 1,
            }
        )
    assert world.w3.eth.get_balance(to_checksum_address(address)) == 10**18
    return {"from": address, "gas": GAS}


def test_register_escrow_by_factory(world: World) -> None:
    escrow, params = make_escrow(world)
    procurement_id = params[0]
    assert registry_fn(world).escrowOf(MOD, procurement_id).call() == escrow.address
    assert registry_fn(world).escrowOf(MOFA, procurement_id).call() == ZERO
    as_factory = as_contract(world, world.factory.address)
    # What the factory itself may and may not register (simulated calls from the factory's address).
    unbound = to_checksum_address(keccak(text="a fresh escrow address")[:20])
    registry_fn(world).registerEscrow(MOD, b"\x05" * 32, unbound).call(as_factory)
    registry_fn(world).registerEscrow(MOFA, procurement_id, unbound).call(as_factory)  # another ministry's id
    with reverts("RegistryDuplicateProcurement", MOD, procurement_id, escrow.address):
        registry_fn(world).registerEscrow(MOD, procurement_id, unbound).call(as_factory)
    with reverts("RegistryDuplicateProcurement", MOD, b"\x00" * 32, ZERO):
        registry_fn(world).registerEscrow(MOD, b"\x00" * 32, unbound).call(as_factory)
    # An address bound as an account is never an escrow (yen could reach it by plain transfers).
    with reverts("RegistryEscrowAddressBound", addr(world, "vault"), MOD):
        registry_fn(world).registerEscrow(MOD, b"\x06" * 32, addr(world, "vault")).call(as_factory)


def test_use_nonce_only_by_the_escrow_of_the_procurement(world: World) -> None:
    fn = registry_fn(world).useNonce(addr(world, "officer"), MOD, b"\x01" * 32, OFFICER)
    assert_only(world, set(), lambda label: attempt(world, label, fn), denied_with(world, "RegistryUnauthorizedEscrow"))

    escrow_a, params_a = make_escrow(world, title="A")
    _, params_b = make_escrow(world, title="B")
    officer, eval1 = addr(world, "officer"), addr(world, "eval1")
    as_a = as_contract(world, escrow_a.address)
    assert registry_fn(world).useNonce(officer, MOD, params_a[0], OFFICER).call(as_a) == [0, MOD, True]
    assert registry_fn(world).useNonce(eval1, MOD, params_a[0], OFFICER).call(as_a) == [0, ATLA, False]
    for ministry, wrong_id in ((MOD, params_b[0]), (MOD, b"\x00" * 32), (MOFA, params_a[0])):
        with reverts("RegistryUnauthorizedEscrow", escrow_a.address):
            registry_fn(world).useNonce(officer, ministry, wrong_id, OFFICER).call(as_a)


def test_use_nonce_consumes_through_the_escrow(world: World) -> None:
    escrow, _ = make_escrow(world)
    supplier = addr(world, "supplier")
    assert registry_fn(world).nonces(supplier).call() == 0
    for milestone in (0, 1):
        fields = {"milestoneId": milestone, "documentHash": b"\x11" * 32, "uri": "ipfs://doc"}
        receipt = relayed(world, escrow, "supplier", "SubmitEvidence", fields)
        assert event(escrow, receipt, "SignatureUsed")["nonce"] == milestone
    assert registry_fn(world).nonces(supplier).call() == 2


def _registry_signature(world: World, signer: str, new_nonce: int, nonce: int, deadline: int) -> bytes:
    action = Action("InvalidateNonces", {"newNonce": new_nonce}, nonce, deadline)
    return sign_action(world.accounts[signer], action, chain_id=world.w3.eth.chain_id, escrow=world.registry.address)


def test_invalidate_nonces_directly(world: World) -> None:
    supplier = addr(world, "supplier")
    receipt = send(world, "supplier", registry_fn(world).invalidateNonces(3))
    assert event(world.registry, receipt, "NoncesInvalidated") == {
        "signer": supplier,
        "firstNonce": 0,
        "newNonce": 3,
        "sender": supplier,
    }
    assert registry_fn(world).nonces(supplier).call() == 3
    for bad in (3, 2, 3 + 1_000_001):
        with reverts("RegistryInvalidNonce", supplier, 3, bad):
            attempt(world, "supplier", registry_fn(world).invalidateNonces(bad))
    send(world, "supplier", registry_fn(world).invalidateNonces(3 + 1_000_000))  # the largest step
    # Anyone may withdraw its own signatures, bound or not, role or not.
    send(world, "outsider", registry_fn(world).invalidateNonces(1))
    assert registry_fn(world).nonces(addr(world, "outsider")).call() == 1


def test_invalidate_nonces_by_signature(world: World) -> None:
    """A signer without gas withdraws its signatures through any relayer, with a registry-domain signature."""
    supplier = addr(world, "supplier")
    deadline = world.now() + 3_600
    signature = _registry_signature(world, "supplier", 2, 0, deadline)
    fn = registry_fn(world).invalidateNoncesBySig(2, supplier, deadline, signature)
    receipt = send(world, "outsider", fn)
    assert event(world.registry, receipt, "NoncesInvalidated") == {
        "signer": supplier,
        "firstNonce": 0,
        "newNonce": 2,
        "sender": addr(world, "outsider"),
    }
    assert registry_fn(world).nonces(supplier).call() == 2
    with reverts("RegistryInvalidSignature", supplier):  # used up: the nonce it was signed with is gone
        attempt(world, "outsider", fn)
    signature = _registry_signature(world, "supplier", 5, 2, deadline)
    by_sig = registry_fn(world).invalidateNoncesBySig
    with reverts("RegistryInvalidSignature", addr(world, "officer")):  # the supplier's key, for the officer
        attempt(world, "outsider", by_sig(5, addr(world, "officer"), deadline, signature))
    with reverts("RegistryInvalidSignature", supplier):  # another new nonce than signed
        attempt(world, "outsider", by_sig(6, supplier, deadline, signature))
    with reverts("RegistryInvalidSignature", ZERO):
        attempt(world, "outsider", registry_fn(world).invalidateNoncesBySig(5, ZERO, deadline, b"\x00" * 65))
    late = _registry_signature(world, "supplier", 5, 2, world.now())
    next_block = world.now() + 10
    world.tester.time_travel(next_block)
    with reverts("RegistrySignatureExpired"):
        attempt(world, "outsider", registry_fn(world).invalidateNoncesBySig(5, supplier, next_block - 10, late))
    # An escrow-domain signature of the same fields is not a registry signature.
    escrow, _ = make_escrow(world)
    action = Action("InvalidateNonces", {"newNonce": 5}, 2, deadline)
    foreign = sign_action(world.accounts["supplier"], action, chain_id=world.w3.eth.chain_id, escrow=escrow.address)
    with reverts("RegistryInvalidSignature", supplier):
        attempt(world, "outsider", registry_fn(world).invalidateNoncesBySig(5, supplier, deadline, foreign))
    assert registry_fn(world).nonces(supplier).call() == 2


def test_registry_eip712_domain(world: World) -> None:
    fields, name, version, chain_id, verifying, _, _ = world.registry.functions.eip712Domain().call()
    assert (fields, name, version) == (b"\x0f", "ProcurementRegistry", "1")
    assert (chain_id, verifying) == (world.w3.eth.chain_id, world.registry.address)


def test_holder_status_and_procurement_of(world: World) -> None:
    escrow, params = make_escrow(world)
    status = registry_fn(world).holderStatus
    assert status(escrow.address).call() == [True, True]
    assert status(addr(world, "supplier")).call() == [True, False]
    assert status(addr(world, "vault")).call() == [True, False]
    assert status(addr(world, "outsider")).call() == [False, False]
    assert status(addr(world, "admin")).call() == [False, False]  # the registry admin belongs to no organization
    for contract in (world.system.implementation, world.token.address, world.factory.address):
        assert status(contract).call() == [False, False]
        assert registry_fn(world).procurementOf(contract).call() == b"\x00" * 32
    assert registry_fn(world).procurementOf(escrow.address).call() == params[0]
    assert registry_fn(world).procurementOf(addr(world, "supplier")).call() == b"\x00" * 32
    assert registry_fn(world).escrowOf(MOD, b"\x09" * 32).call() == ZERO
    send(world, "admin", registry_fn(world).updateOrganization(NVE, False, ZERO))
    assert status(addr(world, "supplier")).call() == [False, False]


# ---------------------------------------------------------------- registry acts by signature


def _signed_act(world: World, signer: str, primary_type: str, words: dict[str, Any], **over: Any) -> list[Any]:
    """The ``...BySig`` arguments of a registry act made from its declaration: the message from its words, signed
    by ``signer`` (``key``: with another's key; ``nonce`` and ``deadline`` to sign other than the current ones)."""
    account = world.accounts[signer]
    nonce = over.get("nonce", world.registry.functions.nonces(account.address).call())
    action = Action(primary_type, ACTIONS[primary_type].message(words), nonce, over.get("deadline", world.now() + 3600))
    key = world.accounts[over.get("key", signer)]
    signature = sign_action(key, action, chain_id=world.w3.eth.chain_id, escrow=world.registry.address)
    return action.call_args(account.address, signature)


def _by_sig(world: World, primary_type: str) -> Any:
    return getattr(registry_fn(world), ACTIONS[primary_type].function)


def relay_act(
    world: World, signer: str, primary_type: str, words: dict[str, Any], relayer: str = "outsider"
) -> Receipt:
    """A registry act signed by ``signer`` and relayed; the same act signed by another key is refused first, and
    the relayed one is refused a second time (its nonce is used up)."""
    address = addr(world, signer)
    nonce = registry_fn(world).nonces(address).call()
    with reverts("RegistryInvalidSignature", address):
        attempt(
            world, relayer, _by_sig(world, primary_type)(*_signed_act(world, signer, primary_type, words, key="eval4"))
        )
    args = _signed_act(world, signer, primary_type, words)
    receipt = send(world, relayer, _by_sig(world, primary_type)(*args))
    assert receipt.gas_used <= ACTIONS[primary_type].gas  # the relayer's limit holds
    if primary_type != "InvalidateNonces":  # which sets the nonce instead (NoncesInvalidated)
        used = event(world.registry, receipt, "SignatureUsed")
        assert (used["signer"], used["relayer"], used["nonce"]) == (address, addr(world, relayer), nonce)
    with reverts("RegistryInvalidSignature", address):  # replayed
        attempt(world, relayer, _by_sig(world, primary_type)(*args))
    return receipt


def test_every_registry_act_is_relayed_from_its_declaration(world: World) -> None:
    """Each registry act declared in chain/actions.py, signed by whoever the direct function allows and relayed by
    an account with no role: it takes effect as the signer's (the events name the signer as sender)."""
    admin, outsider, officer2 = addr(world, "admin"), addr(world, "eval4"), addr(world, "officer2")
    done: set[str] = set()

    def act(signer: str, primary_type: str, words: dict[str, Any]) -> dict[str, Any]:
        done.add(primary_type)
        receipt = relay_act(world, signer, primary_type, words)
        name = {"BindAccount": "AccountBound", "UnbindAccount": "AccountUnbound", "GrantRole": "RoleGranted"}.get(
            primary_type, {"RevokeRole": "RoleRevoked", "InvalidateNonces": "NoncesInvalidated"}.get(primary_type)
        )
        return event(world.registry, receipt, name or "OrganizationUpdated")

    send(world, "admin", registry_fn(world).revokeRole(EVALUATOR, outsider))
    send(world, "admin", registry_fn(world).unbindAccount(outsider))
    assert act("admin", "BindAccount", {"account": outsider, "orgId": "NVE"}) == {
        "account": outsider,
        "orgId": NVE,
        "sender": admin,
    }
    granted = act("admin", "GrantRole", {"role": "supplier", "account": outsider})
    assert granted == {"role": SUPPLIER, "account": outsider, "sender": admin}
    assert act("admin", "RevokeRole", {"role": "supplier", "account": outsider})["sender"] == admin
    assert act("admin", "UnbindAccount", {"account": outsider})["orgId"] == NVE
    updated = act("admin", "UpdateOrganization", {"orgId": "NVE", "active": False, "vault": ZERO})
    assert updated == {"orgId": NVE, "active": False, "vault": ZERO}
    assert not org(world, NVE)[1]
    # A ministry admin, for its own ministry's officers.
    mod_admin = addr(world, "mod_admin")
    assert act("mod_admin", "RevokeRole", {"role": "procurement-officer", "account": officer2})["sender"] == mod_admin
    assert act("mod_admin", "GrantRole", {"role": "procurement-officer", "account": officer2})["sender"] == mod_admin
    assert registry_fn(world).hasActiveRole(OFFICER, officer2).call()
    assert act("supplier", "InvalidateNonces", {"newNonce": 9})["newNonce"] == 9
    registry_acts = {name for name, action in ACTIONS.items() if action.contract == ACCESS_REGISTRY}
    assert done == registry_acts


def test_registry_acts_by_signature_are_refused_as_the_direct_ones(world: World) -> None:
    """A signature moves nothing its signer could not move directly: a non-admin, a ministry admin outside its
    ministry or after its role is revoked, a self-grant, a grant to the relayer that sends it."""
    outsider, officer2, mod_admin = addr(world, "eval4"), addr(world, "officer2"), addr(world, "mod_admin")
    bind, grant = _by_sig(world, "BindAccount"), _by_sig(world, "GrantRole")
    words = {"account": outsider, "orgId": "NVE"}
    with reverts("AccessControlUnauthorizedAccount", addr(world, "officer"), DEFAULT_ADMIN_ROLE):
        attempt(world, "outsider", bind(*_signed_act(world, "officer", "BindAccount", words)))
    with reverts("AccessControlUnauthorizedAccount", mod_admin, DEFAULT_ADMIN_ROLE):
        attempt(
            world,
            "outsider",
            _by_sig(world, "UpdateOrganization")(
                *_signed_act(world, "mod_admin", "UpdateOrganization", {"orgId": "MOD", "active": False, "vault": ZERO})
            ),
        )
    with reverts("AccessControlUnauthorizedAccount", mod_admin, DEFAULT_ADMIN_ROLE):  # not a role it administers
        attempt(
            world,
            "outsider",
            grant(*_signed_act(world, "mod_admin", "GrantRole", {"role": "supplier", "account": outsider})),
        )
    mofa_officer = addr(world, "mofa_officer")
    with reverts("RegistryCrossOrganizationGrant", mod_admin, mofa_officer, OFFICER):
        attempt(
            world,
            "outsider",
            _by_sig(world, "RevokeRole")(
                *_signed_act(world, "mod_admin", "RevokeRole", {"role": "procurement-officer", "account": mofa_officer})
            ),
        )
    # A signature for one account or role is not one for another.
    args = _signed_act(world, "mod_admin", "RevokeRole", {"role": "procurement-officer", "account": officer2})
    with reverts("RegistryInvalidSignature", mod_admin):
        attempt(world, "outsider", _by_sig(world, "RevokeRole")(args[0], addr(world, "officer"), *args[2:]))
    with reverts("RegistryInvalidSignature", mod_admin):
        attempt(world, "outsider", _by_sig(world, "RevokeRole")(TREASURY, *args[1:]))
    with reverts("RegistryInvalidSignature", mod_admin):  # nor a grant's
        attempt(world, "outsider", grant(*args))
    # Signed while it was an admin, relayed after its role was revoked: refused.
    send(world, "admin", registry_fn(world).revokeRole(ADMIN, mod_admin))
    with reverts("AccessControlUnauthorizedAccount", mod_admin, ADMIN):
        attempt(world, "outsider", _by_sig(world, "RevokeRole")(*args))
    # No self-grant, and no grant to the relayer that sends it.
    admin = addr(world, "admin")
    send(world, "admin", registry_fn(world).bindAccount(admin, NVE))
    with reverts("RegistrySelfGrant", admin, SUPPLIER):
        attempt(
            world, "outsider", grant(*_signed_act(world, "admin", "GrantRole", {"role": "supplier", "account": admin}))
        )
    send(world, "admin", registry_fn(world).revokeRole(EVALUATOR, outsider))
    send(world, "admin", registry_fn(world).unbindAccount(outsider))
    send(world, "admin", registry_fn(world).bindAccount(outsider, NVE))
    to_relayer = _signed_act(world, "admin", "GrantRole", {"role": "supplier", "account": outsider})
    with reverts("RegistrySelfGrant", outsider, SUPPLIER):
        attempt(world, "eval4", grant(*to_relayer))
    send(world, "outsider", grant(*to_relayer))  # another relayer may send it
    assert registry_fn(world).hasActiveRole(SUPPLIER, outsider).call()
    # Expired.
    late = _signed_act(world, "admin", "UnbindAccount", {"account": outsider}, deadline=world.now())
    world.tester.time_travel(world.now() + 10)
    with reverts("RegistrySignatureExpired"):
        attempt(world, "outsider", _by_sig(world, "UnbindAccount")(*late))
