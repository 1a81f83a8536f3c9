"""The dev cast, declared once: the demo's organizations and who is who among the dev mnemonic's accounts, and
how to register them.

Used by `procure up` and `make demo` to seed a demo, by the gateway and indexer benchmarks, and by the tests'
eth-tester world (tests/world.py), which registers the same organizations and people (under shorter names) and
a few more. Never used on a real network: dev keys are refused on any chain id other than the local ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from eth_utils.address import to_checksum_address

from chain._compiler import Build
from chain._tx import TxSender
from chain.budget import AppropriationAct, LineKey, fiscal_year_containing
from chain.budget_file import BudgetAct, distributed_on_chain, enacted_on_chain, load_budget_file
from chain.clients import BudgetClient, BudgetOfficeClient, FactoryClient, RegistryClient, budget_clients
from chain.keys import dev_account, write_keystore
from chain.roles import OrgKind, Role
from chain.signing import keccak
from chain.spec import LoadedSpec
from chain.system import SystemAddresses, error_decoder
from chain.times import JST
from chain.transport import Transport

__all__ = [
    "DEMO_FIRST_DUE_DAYS",
    "DEV_AUTHORITY",
    "DEV_BUDGET_FILE",
    "DEV_BUDGET_LINE",
    "DEV_CAST",
    "DEV_INDEX",
    "DEV_ORGS",
    "DEV_PENDING_TRANSFER",
    "CastMember",
    "DevOrg",
    "dev_budget_as",
    "dev_line",
    "dev_relayer_keystore",
    "due_from_today",
    "ensure_demo_procurement",
    "local_relayer",
    "seed_cast",
]

#: The budget the dev chain is seeded with (MOD's and MOFA's FY2026 lines), enacted for the fiscal year current
#: when the cast is seeded; the demo's line of it (organization, item, sub-item: night-vision.yaml's), the
#: multi-year obligation authority on that line (first year that year, 5 years), and the transfer left pending
#: between two MOD lines (from, to, yen), requested by MOD's finance officer.
DEV_BUDGET_FILE = Path(__file__).resolve().parents[1] / "scripts" / "examples" / "budgets" / "budget-fy2026.yaml"
DEV_BUDGET_LINE = ("MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE")
DEV_AUTHORITY = "MOD equipment purchase, multi-year"
DEV_PENDING_TRANSFER = ("EQUIP-PURCHASE", "EQUIP-MAINT", 3_000_000_000)
_DEV_AUTHORITY_CEILING = 20_000_000_000
DEMO_FIRST_DUE_DAYS = 30  # the demo's first milestone falls due this many days after the day it is seeded


class DevOrg(NamedTuple):
    """One organization of the demo."""

    code: str
    kind: OrgKind
    name: str


@dataclass(frozen=True)
class CastMember:
    """One dev account's part."""

    index: int
    label: str
    org: str
    role: Role | None


DEV_ORGS: tuple[DevOrg, ...] = (
    DevOrg("MOD", OrgKind.MINISTRY, "Ministry of Defense"),
    DevOrg("MOFA", OrgKind.MINISTRY, "Ministry of Foreign Affairs"),
    DevOrg("NVE", OrgKind.SUPPLIER, "Nippon Vision Electronics K.K."),
    DevOrg("ATLA", OrgKind.EVALUATION_BODY, "Acquisition, Technology & Logistics Agency test center"),
    DevOrg("JQA", OrgKind.EVALUATION_BODY, "Japan Quality Assurance Organization"),
    DevOrg("NITE", OrgKind.EVALUATION_BODY, "National Institute of Technology and Evaluation"),
    DevOrg("REVIEW", OrgKind.REVIEW_BODY, "Government Procurement Review Board"),
    DevOrg("BOA", OrgKind.AUDIT_BODY, "Board of Audit of Japan"),
    DevOrg("MOF-BB", OrgKind.FINANCE_AUTHORITY, "Ministry of Finance, Budget Bureau"),
)

# Account 0 is the registry admin (the deployer); the treasury account (MOD's finance officer) also holds the
# ministry's vault, and MOFA's finance officer MOFA's.
DEV_CAST: tuple[CastMember, ...] = (
    CastMember(1, "officer", "MOD", Role.PROCUREMENT_OFFICER),
    CastMember(2, "treasury", "MOD", Role.TREASURY),
    CastMember(3, "supplier", "NVE", Role.SUPPLIER),
    CastMember(4, "evaluator-atla", "ATLA", Role.EVALUATOR),
    CastMember(5, "evaluator-jqa", "JQA", Role.EVALUATOR),
    CastMember(6, "evaluator-nite", "NITE", Role.EVALUATOR),
    CastMember(7, "reviewer", "REVIEW", Role.REVIEW_BODY),
    CastMember(8, "auditor", "BOA", Role.AUDITOR),
    CastMember(9, "officer-2", "MOD", Role.PROCUREMENT_OFFICER),
    CastMember(10, "mod-admin", "MOD", Role.MINISTRY_ADMIN),
    CastMember(12, "finance", "MOF-BB", Role.FINANCE_AUTHORITY),
    CastMember(13, "mofa-treasury", "MOFA", Role.TREASURY),
)

#: The dev account index of each part: the cast, the registry admin, and the gateway's relayer (a dev account
#: with no role: it only pays the gas of relayed actions).
DEV_INDEX: Mapping[str, int] = MappingProxyType(
    {"admin": 0, **{member.label: member.index for member in DEV_CAST}, "relayer": 11}
)
OFFICER_INDEX = DEV_INDEX["officer"]
TREASURY_INDEX = DEV_INDEX["treasury"]
_TREASURY_OF = {"MOD": TREASURY_INDEX, "MOFA": DEV_INDEX["mofa-treasury"]}  # each ministry's finance officer
FINANCE_INDEX = DEV_INDEX["finance"]
RELAYER_INDEX = DEV_INDEX["relayer"]


def seed_cast(
    registry: RegistryClient,
    budget_as: Callable[[int], tuple[BudgetClient, BudgetOfficeClient]],
    addresses: Mapping[int, str],
) -> int:
    """Register the dev organizations and accounts, and enact the demo's budget line; skips what exists.

    ``registry`` writes as the registry admin; ``budget_as(index)`` gives the budget clients writing as dev
    account ``index``; ``addresses`` maps dev indexes to addresses. Returns the number of transactions sent.
    """
    sent = 0
    for code, kind, name in DEV_ORGS:
        if registry.organization(code) is None:
            registry.register_organization(code, kind, name)
            sent += 1
    for member in DEV_CAST:
        address = addresses[member.index]
        if registry.organization_of(address) is None:
            registry.bind_account(address, member.org)
            sent += 1
        if member.role is not None and not registry.has_role(member.role, address):
            registry.grant_role(member.role, address)
            sent += 1
    for ministry, index in _TREASURY_OF.items():
        vault = addresses[index]
        found = registry.organization(ministry)
        if found is not None and found.vault != vault:
            registry.update_organization(ministry, active=True, vault=vault)
            sent += 1
    return sent + _seed_budget(registry, budget_as)


def dev_line(fiscal_year: int) -> LineKey:
    """The demo's MOD budget line in ``fiscal_year``."""
    return LineKey.of(fiscal_year, "MOD", *DEV_BUDGET_LINE)


def _seed_budget(registry: RegistryClient, budget_as: Callable[[int], tuple[BudgetClient, BudgetOfficeClient]]) -> int:
    """Enact ``DEV_BUDGET_FILE`` for the current fiscal year, through the same plan as ``procure budget enact``
    (what is on chain is left out: a restart sends nothing): the finance authority enacts the items, each
    ministry's finance officer distributes its sub-items. The multi-year authority on the demo line is enacted
    once, the first year; the first time a year's lines are distributed, MOD's finance officer requests a
    transfer between two of its lines, left pending for the finance authority."""
    finance, finance_office = budget_as(FINANCE_INDEX)
    fiscal_year = fiscal_year_containing(registry.rpc.latest_timestamp())
    budget = load_budget_file(DEV_BUDGET_FILE).budget
    acts = budget.acts(
        enacted=enacted_on_chain(finance.item), distributed=distributed_on_chain(finance.line), fiscal_year=fiscal_year
    )
    for act in acts:
        _enact(budget_as(FINANCE_INDEX if act.ministry is None else _TREASURY_OF[act.ministry])[0], act)
    sent = len(acts)
    line = dev_line(fiscal_year)
    instrument = bytes.fromhex(budget.instrument[2:])
    authority = keccak(DEV_AUTHORITY.encode("utf-8"))
    if not finance_office.authority_exists(authority):  # enacted in an earlier year, for five years from it
        schedule = [_DEV_AUTHORITY_CEILING] * 5
        finance_office.enact_authority(authority, line, _DEV_AUTHORITY_CEILING, schedule, instrument)
        sent += 1
    from_sub_item, to_sub_item, amount = DEV_PENDING_TRANSFER
    source, target = (LineKey.of(fiscal_year, "MOD", *DEV_BUDGET_LINE[:2], sub) for sub in (from_sub_item, to_sub_item))
    if any(act.line == target for act in acts):
        _, treasury_office = budget_as(TREASURY_INDEX)
        rationale = keccak(b"maintenance backlog: equipment purchase yen moved to maintenance (demo)")
        treasury_office.request_transfer(source, target, amount, rationale)
        sent += 1
    return sent


def _enact(client: BudgetClient, act: BudgetAct) -> None:
    """Send one act of a budget file's plan directly (the dev chain's seeding; ``procure budget enact`` relays)."""
    if act.primary_type == "EnactAppropriation":
        fields = act.fields
        instrument = bytes.fromhex(fields["instrumentHash"][2:])
        client.enact_appropriation(
            act.item, AppropriationAct.INITIAL, fields["amount"], fields["authorizations"], instrument
        )
    else:
        assert act.line is not None
        client.distribute(act.line, act.fields["change"])


def due_from_today(loaded: LoadedSpec, now: int, first_in_days: int = DEMO_FIRST_DUE_DAYS) -> LoadedSpec:
    """The spec with its milestones due from the chain's today on: the first ``first_in_days`` days after ``now``
    (JST), the others as many days after it as the spec has them. A demo seeded on any day then has its dates ahead
    of it (those of a later fiscal year fall under the budget line's multi-year authority)."""
    milestones = loaded.spec.milestones
    today = dt.datetime.fromtimestamp(now, JST).date()
    first = _day(milestones[0].due)
    moved = [
        m.model_copy(update={"due": today + dt.timedelta(days=first_in_days + (_day(m.due) - first).days)})
        for m in milestones
    ]
    return dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"milestones": moved}))


def _day(due: dt.date | dt.datetime) -> dt.date:
    return (
        due.astimezone(JST).date()
        if isinstance(due, dt.datetime) and due.tzinfo
        else (due.date() if isinstance(due, dt.datetime) else due)
    )


def ensure_demo_procurement(factory: FactoryClient, registry: RegistryClient, loaded: LoadedSpec) -> tuple[str, bool]:
    """Create the spec's procurement as the officer unless it exists, due from the chain's today on
    (``due_from_today``), obligating its budget line of the current fiscal year (later years' parts under its
    authority) and funding what is due this year; (escrow, created)."""
    existing = registry.escrow_of(loaded.spec.ministry, loaded.spec.procurement_id)
    if existing is not None:
        return existing, False
    now = registry.rpc.latest_timestamp()
    loaded = due_from_today(loaded, now)
    fiscal_year = fiscal_year_containing(now)
    this_year = sum(
        m.amount for m in loaded.spec.milestones if fiscal_year_containing(m.due_timestamp()) == fiscal_year
    )
    fund = min(loaded.spec.fund_amount, this_year)
    created = factory.create(loaded.to_chain(), fund, loaded.line(fiscal_year), loaded.authority_id)
    return created.escrow, True


def dev_relayer_keystore(var: Path, chain_id: int) -> dict[str, str]:
    """A keystore for the gateway's relayer (dev account 11) under var/keys/, with a random password.

    Dev chains only: the password file sits beside the keystore, readable by its owner alone.
    """
    keys = var / "keys"
    keystore, password_file = keys / "relayer.json", keys / "relayer.password"
    if not keystore.exists():
        password = secrets.token_urlsafe(24)
        write_keystore(dev_account(RELAYER_INDEX, chain_id), keystore, password)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
    return {
        "PROCURE_RELAYER_KEYSTORE": str(keystore),
        "PROCURE_RELAYER_KEYSTORE_PASSWORD": password_file.read_text().strip(),
    }


def local_relayer(var: Path) -> str | None:
    """The address of the gateway's relayer whose keystore `procure up` keeps under ``var``, if there is one."""
    keystore = var / "keys" / "relayer.json"
    try:
        address = json.loads(keystore.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return None
    return None if not isinstance(address, str) else str(to_checksum_address(address))


def dev_budget_as(
    rpc: Transport, system: SystemAddresses, build: Build | None = None
) -> Callable[[int], tuple[BudgetClient, BudgetOfficeClient]]:
    """``seed_cast``'s ``budget_as`` on a dev chain: the budget clients writing as dev account ``index``."""
    decoder = error_decoder(build)
    chain_id = rpc.chain_id
    return lambda index: budget_clients(rpc, system, TxSender(rpc, dev_account(index, chain_id), decoder), build)
