"""Reorg rollback: forget every block above a common ancestor, and rebuild the current state they had moved.

Append-only rows (``models.APPEND_ONLY``) go with their block, and so do procurements and organizations created
above the ancestor. The current state that remains is rebuilt from what remains, never derived a second way:

- a milestone is set back to its last surviving ``milestone_history`` row (the state the planner's step left it
  in after that event);
- an escrow's books start again from ``Books()`` and its surviving fundings, payments, refunds and pauses pass
  through ``mappers.DERIVED`` and the planner's handlers, as when they were first applied;
- if the registry's events were rolled back: organizations' flags start again as registered, accounts and role
  memberships from nothing, and every surviving organization update, binding and role change passes through
  ``mappers.DERIVED`` in chain order;
- if a budget line or grant was moved above the ancestor: every line and grant starts again from nothing, and every
  surviving line change, grant and grant use passes through ``mappers.DERIVED`` in chain order.

The result is written as one ``WritePlan`` (with the cursor at the ancestor) by the same writer as a range, in the
caller's transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select

from chain.logs import DecodedLog
from indexer.cursor import read_cursor
from indexer.digests import GENESIS
from indexer.errors import IndexerError
from indexer.mappers import DERIVED, MilestoneState, Patch, registered_organization
from indexer.models import APPEND_ONLY, TABLES
from indexer.planning import EscrowState, Planner, chunks
from indexer.writing import write

__all__ = ["BUDGET_ROWS", "CURRENT_STATE", "REGISTRY_ROWS", "rollback"]

# The tables that are not append-only, and what a rollback does with each (a new one must be added here).
CURRENT_STATE = {
    "procurements": "deleted if created above the ancestor; books rebuilt",
    "milestones": "deleted with their procurement; restored from milestone_history",
    "organizations": "deleted if registered above the ancestor; flags rebuilt",
    "accounts": "rebuilt",
    "role_memberships": "rebuilt",
    "budget_lines": "rebuilt",
    "budget_grants": "rebuilt",
    "cursors": "moved to the ancestor",
    "indexer_locks": "kept",
    "deferred_indexes": "kept (the indexes are built when the catch-up reaches its target)",
    "self_checks": "kept (the next check covers the new blocks)",
}
# The DERIVED tables without an escrow column: the registry's, replayed whole when its events were rolled back.
# Every other DERIVED table has an escrow column and is replayed for the escrows whose events were rolled back.
REGISTRY_ROWS = frozenset({"organization_updates", "account_bindings", "role_changes"})
# The DERIVED tables of the budget (lines and grants): replayed whole when any of their rows was rolled back.
BUDGET_ROWS = frozenset({"budget_line_changes", "budget_access_changes", "budget_access_uses"})
BUDGET_STATE = ("budget_lines", "budget_grants")

_MILESTONE_FIELDS = MilestoneState._fields


def rollback(conn: Connection, chain_id: int, ancestor: int, ancestor_hash: str) -> int:
    """Forget every block above ``ancestor`` in the caller's transaction and move the cursor there.

    Returns the number of raw events removed.
    """
    cursor = read_cursor(conn, chain_id)
    if cursor is None:
        raise IndexerError(f"no cursor for chain {chain_id}: nothing to roll back")
    events, history, procurements = TABLES["events"], TABLES["milestone_history"], TABLES["procurements"]
    orphaned = conn.execute(
        select(events.c.emitter).where(events.c.chain_id == chain_id, events.c.block_number > ancestor)
    ).all()
    emitters = {str(emitter) for (emitter,) in orphaned}
    touched = {
        (str(escrow), int(index))
        for escrow, index in conn.execute(
            select(history.c.escrow, history.c.milestone_id)
            .where(history.c.chain_id == chain_id, history.c.block_number > ancestor)
            .distinct()
        )
    }
    dropped = sorted(
        conn.scalars(
            select(procurements.c.escrow).where(
                procurements.c.chain_id == chain_id, procurements.c.block_number > ancestor
            )
        )
    )

    budget = any(
        conn.execute(
            select(TABLES[name].c.block_number)
            .where(TABLES[name].c.chain_id == chain_id, TABLES[name].c.block_number > ancestor)
            .limit(1)
        ).first()
        is not None
        for name in sorted(BUDGET_ROWS)
    )

    # Forget the orphaned blocks' rows.
    for model in APPEND_ONLY:
        table = TABLES[model.__tablename__]
        conn.execute(delete(table).where(table.c.chain_id == chain_id, table.c.block_number > ancestor))
    for created in (TABLES["procurements"], TABLES["organizations"]):
        conn.execute(delete(created).where(created.c.chain_id == chain_id, created.c.block_number > ancestor))
    milestones = TABLES["milestones"]
    for chunk in chunks(dropped):
        conn.execute(delete(milestones).where(milestones.c.chain_id == chain_id, milestones.c.escrow.in_(chunk)))

    # Rebuild the current state they moved, through the planner.
    state = EscrowState()
    base = (cursor.block_number, cursor.block_hash, cursor.chain_hash)
    planner = Planner(chain_id, base, state, lambda escrows: state.load(conn, chain_id, escrows))
    planner.load(emitters | {escrow for escrow, _ in touched})
    escrows = sorted(escrow for escrow in emitters | {escrow for escrow, _ in touched} if escrow in state.books)
    _restore_milestones(conn, chain_id, planner, {key for key in touched if key[0] in state.books})
    for escrow in escrows:
        planner.reopen_books(escrow)
    registry = cursor.registry in emitters
    if registry:
        _reopen_registry(conn, chain_id, planner)
    if budget:  # lines and grants start again from nothing; their surviving rows replay below
        for name in BUDGET_STATE:
            table = TABLES[name]
            conn.execute(delete(table).where(table.c.chain_id == chain_id))
    for name, row in _surviving_rows(conn, chain_id, escrows, registry, budget):
        origin = _origin(name, row)
        for change in DERIVED[name](row):
            planner.apply(origin, change)

    digests = TABLES["block_digests"]
    chain_hash = conn.execute(
        select(digests.c.chain_hash)
        .where(digests.c.chain_id == chain_id)
        .order_by(digests.c.block_number.desc())
        .limit(1)
    ).scalar()
    write(conn, planner.finish((ancestor, ancestor_hash, chain_hash or GENESIS)))
    return len(orphaned)


def _restore_milestones(conn: Connection, chain_id: int, planner: Planner, keys: set[tuple[str, int]]) -> None:
    """Set each milestone back to its last remaining history row (history above the ancestor is already gone)."""
    history = TABLES["milestone_history"]
    by_escrow: dict[str, set[int]] = defaultdict(set)
    for escrow, index in keys:
        by_escrow[escrow].add(index)
    for escrow, indexes in sorted(by_escrow.items()):
        latest: dict[int, Any] = {}
        for row in conn.execute(
            select(history)
            .where(history.c.chain_id == chain_id, history.c.escrow == escrow, history.c.milestone_id.in_(indexes))
            .order_by(history.c.block_number, history.c.log_index)
        ).mappings():
            latest[row["milestone_id"]] = row
        for index, row in sorted(latest.items()):
            milestone = MilestoneState(**{name: row[name] for name in _MILESTONE_FIELDS})
            planner.restore_milestone((escrow, index), milestone, row["block_number"])


def _reopen_registry(conn: Connection, chain_id: int, planner: Planner) -> None:
    """Organizations' flags as registered; no account bound and no role held (the surviving rows then replay)."""
    events, organizations = TABLES["events"], TABLES["organizations"]
    for name in ("accounts", "role_memberships"):
        table = TABLES[name]
        conn.execute(delete(table).where(table.c.chain_id == chain_id))
    registrations: dict[str, DecodedLog] = {}
    for row in conn.execute(
        select(events).where(events.c.chain_id == chain_id, events.c.event == "OrganizationRegistered")
    ).mappings():
        log = DecodedLog(
            chain_id,
            row["block_number"],
            row["block_hash"],
            row["tx_hash"],
            row["tx_index"],
            row["log_index"],
            row["emitter"],
            "registry",
            row["event"],
            json.loads(row["args"]),  # as stored: integers as decimal strings (only addresses are read here)
        )
        registrations[str(log.args["orgId"])] = log
    for org_id in sorted(conn.scalars(select(organizations.c.org_id).where(organizations.c.chain_id == chain_id))):
        registered = registrations[org_id]
        key = {"chain_id": chain_id, "org_id": org_id}
        planner.apply(registered, Patch("organizations", key, registered_organization(registered.args["vault"])))


def _surviving_rows(
    conn: Connection, chain_id: int, escrows: list[str], registry: bool, budget: bool
) -> list[tuple[str, Mapping[Any, Any]]]:
    """The remaining rows of the DERIVED tables to replay, in chain order: those of ``escrows``, the registry's if
    ``registry``, the budget's if ``budget``."""
    found: list[tuple[str, Mapping[Any, Any]]] = []
    for name in sorted(DERIVED):
        table = TABLES[name]
        if name in REGISTRY_ROWS or name in BUDGET_ROWS:
            if registry if name in REGISTRY_ROWS else budget:
                whole = conn.execute(select(table).where(table.c.chain_id == chain_id)).mappings()
                found.extend((name, row) for row in whole)
            continue
        for chunk in chunks(escrows):
            query = select(table).where(table.c.chain_id == chain_id, table.c.escrow.in_(chunk))
            found.extend((name, row) for row in conn.execute(query).mappings())
    found.sort(key=lambda item: (item[1]["block_number"], item[1]["log_index"]))
    return found


def _origin(table: str, row: Mapping[Any, Any]) -> DecodedLog:
    """The log a stored row came from, as far as the row tells: its key (what the planner names in an error)."""
    return DecodedLog(
        chain_id=row["chain_id"],
        block_number=row["block_number"],
        block_hash="",
        tx_hash=row["tx_hash"],
        tx_index=0,
        log_index=row["log_index"],
        emitter=str(row.get("escrow", "")),
        kind="",
        event=table,
        args=row,
    )
