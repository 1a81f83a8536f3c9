"""Golden-test plumbing: apply recorded logs to a database, and dump every table as JSON-ready rows."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from chain import compile_contracts
from chain.logs import EventDecoder
from chain.system import SystemAddresses
from indexer.canonical import json_value
from indexer.mappers import MappedLog
from indexer.models import TABLES
from indexer.schema import make_engine, upgrade
from indexer.store import Store
from indexer.sync import decode_range, trusted_emitters

Piece = tuple[list[MappedLog], int, str]  # the mapped logs of one block, its number and hash

_EVENT_ORDER = {"chain_id", "tx_hash", "log_index", "block_number"}
# Not rows of the recorded events: the mirror's own bookkeeping, and which chain (node) it was recorded from.
_VOLATILE = {
    "deferred_indexes": None,
    "indexer_locks": None,
    "self_checks": None,
    "cursors": {"updated_at_ms", "genesis_hash"},
}


def system_of(recorded: Mapping[str, Any]) -> SystemAddresses:
    """The system addresses stored in a recording."""
    s = recorded["system"]
    return SystemAddresses(
        chain_id=int(s["chainId"]),
        registry=s["registry"],
        token=s["token"],
        factory=s["factory"],
        implementation=s["implementation"],
        deployed_block=int(s["deployedBlock"]),
        admin=s["admin"],
        budget=s.get("budget", "0x" + "00" * 20),
        budget_office=s.get("budgetOffice", "0x" + "00" * 20),
    )


def open_store(engine: Engine, recorded: Mapping[str, Any]) -> Store:
    """The mirror of the recording's chain in ``engine``: migrated, its cursor created (once)."""
    upgrade(engine)
    system = system_of(recorded)
    store = Store(engine, int(recorded["chain_id"]))
    store.init_cursor(
        start_block=system.deployed_block,
        before_hash=recorded["before_hash"],
        registry=system.registry,
        token=system.token,
        factory=system.factory,
    )
    return store


def mapped_logs(
    recorded: Mapping[str, Any], logs: Sequence[Mapping[str, Any]] | None = None, escrows: Sequence[str] = ()
) -> list[MappedLog]:
    """Recorded logs (all, or ``logs``) decoded and mapped; ``escrows`` are already trusted."""
    system = system_of(recorded)
    trusted = trusted_emitters(system)
    trusted |= {escrow: "escrow" for escrow in escrows}
    decoder = EventDecoder(compile_contracts())
    mapped, _ = decode_range(decoder, recorded["logs"] if logs is None else logs, trusted, int(recorded["chain_id"]))
    return mapped


def block_pieces(recorded: Mapping[str, Any]) -> list[Piece]:
    """The recording's mapped logs cut into one piece per block with events."""
    pieces: list[Piece] = []
    for item in mapped_logs(recorded):
        if pieces and pieces[-1][1] == item.log.block_number:
            pieces[-1][0].append(item)
        else:
            pieces.append(([item], item.log.block_number, item.log.block_hash))
    return pieces


def apply_recorded(engine: Engine, recorded: Mapping[str, Any], logs: Sequence[Mapping[str, Any]] | None = None) -> int:
    """Decode, map and apply recorded logs (all, or ``logs``) up to the recorded head; returns logs applied."""
    store = open_store(engine, recorded)
    mapped = mapped_logs(recorded, logs, sorted(store.trusted_escrows()))
    head = recorded["head"]
    return store.apply(mapped, int(head["number"]), str(head["hash"]))


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows ordered by primary key, values JSON-ready (integers as decimal strings)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(TABLES.items()):
            if name in _VOLATILE and _VOLATILE[name] is None:
                continue
            skip = _VOLATILE.get(name) or set()
            # Event rows in (chain id, tx hash, log index) order, as the recording lists them; others by key.
            names = [column.name for column in table.primary_key.columns]
            if "tx_hash" in names:
                names = ["chain_id", "tx_hash", "log_index"] + [n for n in names if n not in _EVENT_ORDER]
            order = [table.c[name] for name in names]
            rows = conn.execute(select(table).order_by(*order)).mappings().all()
            out[name] = [{k: json_value(v) for k, v in row.items() if k not in skip} for row in rows]
    return out


def expected_rows(recorded: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What the mirror holds after applying a recording (used to write the golden fixture)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'golden.db'}")
        try:
            apply_recorded(engine, recorded)
            return dump(engine)
        finally:
            engine.dispose()
