"""Who belongs to the network now, as the mirror of the registry says: the active organizations by code, and the
accounts bound to one of them (the network's allowlists follow this: chain/besu_network.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from chain.besu_network import Members
from indexer.models import AccountRow, OrganizationRow

__all__ = ["network_members"]


def network_members(engine: Engine, chain_id: int) -> Members:
    """The active organizations and their bound accounts on ``chain_id``, from the mirror."""
    orgs = OrganizationRow.__table__
    accounts = AccountRow.__table__
    with engine.connect() as conn:
        active = {
            row.code for row in conn.execute(select(orgs.c.code).where(orgs.c.chain_id == chain_id, orgs.c.active))
        }
        bound = conn.execute(
            select(accounts.c.account)
            .join(orgs, (orgs.c.chain_id == accounts.c.chain_id) & (orgs.c.org_id == accounts.c.org_id))
            .where(accounts.c.chain_id == chain_id, orgs.c.active)
        )
        return Members(active_orgs=frozenset(active), accounts=frozenset(row.account for row in bound))
