"""The dev cast, declared once: the demo's organizations and who is who among the dev mnemonic's accounts, and
how to register them.

Used by `procure up` and `make demo` to seed a demo, by the gateway and indexer benchmarks, and by the tests'
eth-tester world (tests/world.py), which registers the same organizations and people (under shorter names) and
a few more. Never used on a real network: dev keys are refused on any chain id other than the local ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from eth_utils.crypto import keccak

from chain.clients import FactoryClient, RegistryClient, TokenClient
from chain.keys import dev_account, write_keystore
from chain.roles import OrgKind, Role
from chain.spec import LoadedSpec

__all__ = [
    "APPROPRIATION",
    "DEV_CAST",
    "DEV_INDEX",
    "DEV_ORGS",
    "CastMember",
    "DevOrg",
    "dev_relayer_keystore",
    "ensure_demo_procurement",
    "seed_cast",
]

APPROPRIATION = "FY2026/MOD/general-account/equipment-acquisition"
OFFICER_FUNDS = 2_000_000_000  # yen minted to the officer for funding


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
    DevOrg("NVE", OrgKind.SUPPLIER, "Nippon Vision Electronics K.K."),
    DevOrg("ATLA", OrgKind.EVALUATION_BODY, "Acquisition, Technology & Logistics Agency test center"),
    DevOrg("JQA", OrgKind.EVALUATION_BODY, "Japan Quality Assurance Organization"),
    DevOrg("NITE", OrgKind.EVALUATION_BODY, "National Institute of Technology and Evaluation"),
    DevOrg("REVIEW", OrgKind.REVIEW_BODY, "Government Procurement Review Board"),
    DevOrg("BOA", OrgKind.AUDIT_BODY, "Board of Audit of Japan"),
)

# Account 0 is the registry admin (the deployer); the treasury account also receives the ministry's refunds.
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
)

#: The dev account index of each part: the cast, the registry admin, and the gateway's relayer (a dev account
#: with no role: it only pays the gas of relayed actions).
DEV_INDEX: Mapping[str, int] = MappingProxyType(
    {"admin": 0, **{member.label: member.index for member in DEV_CAST}, "relayer": 11}
)
OFFICER_INDEX = DEV_INDEX["officer"]
TREASURY_INDEX = DEV_INDEX["treasury"]
RELAYER_INDEX = DEV_INDEX["relayer"]


def seed_cast(
    registry: RegistryClient,
    token_as_treasury: TokenClient,
    addresses: dict[int, str],
) -> int:
    """Register the dev organizations and accounts, and mint the officer's funds; skips what exists.

    ``registry`` writes as the registry admin; ``addresses`` maps dev indexes to addresses. Returns the
    number of transactions sent.
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
    vault = addresses[TREASURY_INDEX]
    mod = registry.organization("MOD")
    if mod is not None and mod.vault != vault:
        registry.update_organization("MOD", active=True, vault=vault)
        sent += 1
    officer = addresses[OFFICER_INDEX]
    if token_as_treasury.balance_of(officer) == 0:
        token_as_treasury.mint(officer, OFFICER_FUNDS, keccak(text=APPROPRIATION))
        sent += 1
    return sent


def ensure_demo_procurement(
    factory: FactoryClient, officer_token: TokenClient, registry: RegistryClient, loaded: LoadedSpec
) -> tuple[str, bool]:
    """Create and fund the spec's procurement as the officer unless it exists; (escrow, created)."""
    existing = registry.escrow_of(loaded.spec.ministry, loaded.spec.procurement_id)
    if existing is not None:
        return existing, False
    fund = loaded.spec.fund_amount
    if fund and officer_token.sender is not None:
        officer = officer_token.sender.address
        if officer_token.allowance(officer, factory.address) < fund:
            officer_token.approve(factory.address, fund)
    created = factory.create(loaded.to_chain(), fund)
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
