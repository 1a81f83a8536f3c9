"""The dev cast is declared once (chain.devnet): the tests' world registers every organization and part of it."""

from __future__ import annotations

from chain import (
    DEV_BUDGET_FILE,
    DEV_BUDGET_LINE,
    DEV_CAST,
    DEV_INDEX,
    DEV_ORGS,
    DEV_PENDING_TRANSFER,
    RegistryClient,
    TxSender,
    compile_contracts,
    deploy_system,
    org_id,
    project_root,
)
from chain.budget import LineKey, fiscal_year_containing
from chain.budget_file import load_budget_file
from chain.clients import budget_clients, system_clients
from chain.devnet import dev_budget_as, ensure_demo_procurement, seed_cast
from chain.keys import dev_account
from chain.spec import load_spec
from chain.system import error_decoder
from tests.tester import fund_accounts, new_tester
from tests.world import World


def test_the_world_holds_the_dev_cast(world: World) -> None:
    registry = RegistryClient(world.rpc, world.system.registry, None, world.build)
    for org in DEV_ORGS:
        found = registry.organization(org.code)
        assert found is not None, org
        assert (found.kind, found.active) == (org.kind, True)
    logs = world.registry.events.OrganizationRegistered.get_logs(from_block=0)
    registered = {(bytes(log["args"]["orgId"]), log["args"]["name"]) for log in logs}
    assert {(org_id(org.code), org.name) for org in DEV_ORGS} <= registered
    accounts = [account.address for account in world.accounts.values()]
    for member in DEV_CAST:  # the world names its people its own way: find each part by organization and role
        assert member.role is not None
        role = member.role
        holders = [a for a in accounts if registry.organization_of(a) == member.org and registry.has_role(role, a)]
        assert holders, f"nobody of {member.org} holds {role.name} as {member.label} does"


def test_seeding_enacts_the_budget_file_once_and_leaves_a_transfer_pending() -> None:
    _, rpc = new_tester()
    accounts = {index: dev_account(index, rpc.chain_id) for index in DEV_INDEX.values()}
    fund_accounts(rpc.tester, list(accounts.values()))
    build = compile_contracts()
    admin = TxSender(rpc, accounts[0], error_decoder(build))
    system = deploy_system(admin, build)
    registry, _, factory = system_clients(rpc, system, admin, build)
    addresses = {index: account.address for index, account in accounts.items()}
    sent = seed_cast(registry, dev_budget_as(rpc, system, build), addresses)
    ledger, office = budget_clients(rpc, system, None, build)
    fiscal_year = fiscal_year_containing(rpc.latest_timestamp())
    budget = load_budget_file(DEV_BUDGET_FILE).budget
    for item in budget.lines:
        for sub in item.sub_items:
            key = LineKey.of(fiscal_year, item.ministry, item.organization, item.item, sub.sub_item)
            assert ledger.line(key).allotted == sub.amount
    source, _ = _moved(fiscal_year)
    assert office.transfer_pending(1)
    assert office.transfer_count() == 1
    assert ledger.line(source).allotted == budget.lines[0].sub_items[0].amount  # pending: nothing moved yet
    assert seed_cast(registry, dev_budget_as(rpc, system, build), addresses) == 0  # a restart seeds nothing
    assert sent > len(DEV_ORGS)
    officer = TxSender(rpc, accounts[DEV_INDEX["officer"]], error_decoder(build))
    _, _, factory = system_clients(rpc, system, officer, build)
    spec = load_spec(project_root() / "scripts" / "examples" / "night-vision.yaml")
    escrow, created = ensure_demo_procurement(factory, registry, spec)
    assert created
    assert ledger.line(source).obligated == ledger.obligation(escrow).obligated > 0  # night-vision's line


def _moved(fiscal_year: int) -> tuple[LineKey, LineKey]:
    codes = DEV_BUDGET_LINE[:2]
    return tuple(LineKey.of(fiscal_year, "MOD", *codes, sub) for sub in DEV_PENDING_TRANSFER[:2])  # type: ignore[return-value]
