"""The dev cast is declared once (chain.devnet): the tests' world registers every organization and part of it."""

from __future__ import annotations

from chain import DEV_CAST, DEV_ORGS, RegistryClient, org_id
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
