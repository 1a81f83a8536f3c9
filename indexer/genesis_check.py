"""The genesis events a mirror holds, checked against the chain's state at block 0 (part of `procure audit verify`).

A system placed in a genesis' alloc has its deployment's events in its manifest, not in any block
(chain/genesis_events.py); the indexer mirrors them as block 0's, and a replay takes them from the same manifest, so
a forged list (a role granted to an account that never held it, a grant left out, a budget ledger the registry does
not trust) would be mirrored and replayed alike. What the list implies is asked of the contracts at block 0:

- every role it grants (and does not revoke) is held there, and no other role of the ledger's (each ``Role``, the
  registry's admin role, any role the list names) is held by an account the deployment knows (the admin, the
  system's contracts, any account the list names);
- each of those roles' admin role is the last one the list set (RoleAdminChanged), else the default (0x00...);
- the registry's factory and budget ledger are the ones it set (FactorySet, BudgetSet), else none, and the budget
  ledger's office is BudgetSet's;
- it holds no other event (a deployment emits none, and an effect that cannot be asked is refused), and none twice
  (a repeat implies nothing more, yet a trail would show it).

A system deployed by transactions (``deployedBlock`` above 0) has no genesis events: any such row is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from chain import (
    DEFAULT_ADMIN_ROLE,
    GENESIS_TX,
    Build,
    ChainSource,
    Role,
    SystemAddresses,
    checksum,
    system_contracts,
)
from indexer.audit import Difference
from indexer.models import TABLES

__all__ = ["genesis_differences"]

_DEPLOYMENT_EVENTS = frozenset({"RoleGranted", "RoleRevoked", "RoleAdminChanged", "FactorySet", "BudgetSet"})
_NO_ROLE = "0x" + "00" * 32
_NO_ADDRESS = checksum("0x" + "00" * 20)


def genesis_differences(
    live: Engine, source: ChainSource, system: SystemAddresses, build: Build
) -> tuple[list[Difference], int]:
    """What the mirror's genesis events imply that the chain's state at block 0 denies (see above), and how many
    questions were asked."""
    events = TABLES["events"]
    with live.connect() as conn:
        rows = conn.execute(
            select(events.c.log_index, events.c.emitter, events.c.event, events.c.args)
            .where(events.c.chain_id == source.chain_id, events.c.tx_hash == GENESIS_TX)
            .order_by(events.c.log_index)
        ).all()
    differences: list[Difference] = []
    if system.deployed_block != 0:
        for row in rows:
            where = f"(block 0, log {row.log_index})"
            deployed = f"none: the system was deployed by transactions from block {system.deployed_block}"
            differences.append(Difference("genesis", "events", where, "event", row.event, deployed))
        return differences, len(rows)

    held: dict[tuple[str, str], bool] = {}
    admins: dict[str, str] = {}
    linked: dict[str, str] = {}  # factory, budget, office -> the address the list set
    accounts = {checksum(system.admin), *(checksum(a) for a in system_contracts(system))}
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        args = json.loads(row.args)
        where, what = f"(block 0, log {row.log_index})", f"{row.event} from {row.emitter}"
        if checksum(row.emitter) != checksum(system.registry) or row.event not in _DEPLOYMENT_EVENTS:
            differences.append(Difference("genesis", "events", where, "event", what, "no event of a deployment"))
        elif (row.emitter, row.event, row.args) in seen:  # implies nothing more, yet would be shown twice
            differences.append(Difference("genesis", "events", where, "event", what, "the same event again"))
        elif row.event in ("RoleGranted", "RoleRevoked"):
            account = checksum(args["account"])
            accounts.add(account)
            held[(str(args["role"]).lower(), account)] = row.event == "RoleGranted"
        elif row.event == "RoleAdminChanged":
            admins[str(args["role"]).lower()] = str(args["newAdminRole"]).lower()
        elif row.event == "FactorySet":
            linked["factory"] = checksum(args["factory"])
        else:
            linked["budget"], linked["office"] = checksum(args["budget"]), checksum(args["office"])
        seen.add((row.emitter, row.event, row.args))

    roles = {"0x" + role.id.hex() for role in Role} | {"0x" + DEFAULT_ADMIN_ROLE.hex()}
    roles |= {role for role, _ in held} | set(admins)
    asked: list[tuple[str, str, str, list[Any], str, str, Any]] = []

    def ask(to: str, contract: str, function: str, args: list[Any], table: str, key: str, implied: Any) -> None:
        asked.append((to, contract, function, args, table, key, implied))

    for role in sorted(roles):
        for account in sorted(accounts):
            implied = held.get((role, account), False)
            ask(system.registry, "AccessRegistry", "hasRole", [bytes.fromhex(role[2:]), account], "role_memberships",
                f"({role}, {account})", implied)  # fmt: skip
        ask(system.registry, "AccessRegistry", "getRoleAdmin", [bytes.fromhex(role[2:])], "role_admins", role,
            admins.get(role, _NO_ROLE))  # fmt: skip
    ask(system.registry, "AccessRegistry", "factory", [], "registry", "factory", linked.get("factory", _NO_ADDRESS))
    ask(system.registry, "AccessRegistry", "budget", [], "registry", "budget", linked.get("budget", _NO_ADDRESS))
    if "office" in linked:
        ask(system.budget, "BudgetLedger", "office", [], "budget", "office", linked["office"])

    calls = [(to, "0x" + build.codec(c).function(f).encode(args).hex()) for to, c, f, args, *_ in asked]
    replies: Sequence[bytes] = source.call_many(calls, 0)
    for (_, contract, function, _, table, key, implied), raw in zip(asked, replies, strict=True):
        (value,) = build.codec(contract).function(function).decode(raw)
        on_chain = _as_implied(value, implied)
        if on_chain != implied:
            differences.append(Difference("genesis", table, key, function, implied, on_chain))
    return differences, len(asked)


def _as_implied(value: Any, implied: Any) -> Any:
    """A decoded reply written as the implied value is: a flag, a 32-byte word in hex, or a checksummed address."""
    if isinstance(implied, bool):
        return bool(value)
    if len(implied) == len(_NO_ROLE):
        return "0x" + bytes(value).hex()
    return checksum(value)
