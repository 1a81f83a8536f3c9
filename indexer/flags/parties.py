"""Rules on who stands where: the same account on two sides of a procurement, or an evaluator or officer tied to
the supplier's organization (now or in the registry's history)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select

from indexer.flags.model import Context, Flag, Rule
from indexer.models import AccountBinding, AccountRow

__all__ = ["PARTY_RULES"]


def _same_identity(ctx: Context) -> Iterator[Flag]:
    for p in ctx.procurements.values():
        officer, supplier, panel = p.officer.lower(), p.supplier_account.lower(), {e.lower() for e in p.panel}
        clashes = []
        if officer == supplier:
            clashes.append(("created and receives", p.officer))
        if officer in panel:
            clashes.append(("created and evaluates", p.officer))
        if supplier in panel:
            clashes.append(("evaluates and receives", p.supplier_account))
        for what, account in clashes:
            yield ctx.flag(
                "same-identity",
                p,
                f"account {ctx.who(account)} {what}",
                accounts=[account],
                transactions=[p.created_tx],
            )


def _related_parties(ctx: Context) -> Iterator[Flag]:
    b = AccountBinding.__table__.c
    a = AccountRow.__table__.c
    orgs_of: dict[str, dict[str, str | None]] = defaultdict(dict)  # account -> org id -> binding tx (None: now)
    for row in ctx.conn.execute(
        select(b.account, b.org_id, b.tx_hash).where(b.chain_id == ctx.chain_id, b.bound.is_(True))
    ):
        orgs_of[row.account.lower()].setdefault(row.org_id, row.tx_hash)
    now = select(a.account, a.org_id).where(a.chain_id == ctx.chain_id, a.org_id.is_not(None))
    for account, org in ctx.conn.execute(now):
        orgs_of[account.lower()].setdefault(org, None)
    for p in ctx.procurements.values():
        for role, account in [("officer", p.officer), *(("evaluator", e) for e in p.panel)]:
            if account.lower() == p.supplier_account.lower():
                continue  # the same account on both sides: same-identity
            orgs = orgs_of.get(account.lower(), {})
            if p.supplier_org in orgs:
                binding = orgs[p.supplier_org]
                yield ctx.flag(
                    "related-parties",
                    p,
                    f"{role} {ctx.who(account)} is or was bound to the supplier's organization {p.supplier}",
                    accounts=[account, p.supplier_account],
                    organization=p.supplier,
                    transactions=[p.created_tx] + ([binding] if binding else []),
                )


PARTY_RULES = (
    Rule(
        "related-parties",
        "Cardinal R044 (open proposal), extended to evaluators: supplier and evaluator sharing an organization",
        "An evaluator or the officer of a procurement bound, now or before, to its supplier's organization.",
        _related_parties,
    ),
    Rule(
        "same-identity",
        "Segregation and testing (DOMAIN.md 12): the same identity creates, evaluates or receives",
        "One account is the procurement's officer, an evaluator or its supplier at once.",
        _same_identity,
    ),
)
