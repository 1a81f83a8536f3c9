"""The relays in the database: one row per relayed action (``gateway_relays``), shared by every gateway.

A row is written as soon as its transaction is sent, before the POST is answered, and settled (mined or
reverted, with the decoded custom error) by whichever gateway's watcher reads its receipt first (watch.py): a
status URL answers from any gateway and after any restart. The nonces a signer has in flight are the
signer's pending rows, whichever gateway sent them (nonces.py). A row keeps the signature it carried, so the
same signed action posted again is answered with it (``earlier``; checks.py).

A gateway killed between the node accepting a transaction and the row's commit leaves that transaction without
a row: it is mined once all the same (the client, which got no answer, finds on retry that the nonce is used),
and its status is then the chain's to tell.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, insert, literal, or_, select, union_all, update
from sqlalchemy.engine import Engine, Row

from chain import ContractRevert, SentTx, TransactionFailed, checksum
from gateway.models import RelayerLease, RelayRecord
from gateway.relay.in_flight import Relay

__all__ = ["NONCE_KNOWN_S", "Outcome", "RelayRecords", "SignerInFlight"]

_RELAYS = RelayRecord.__table__
_SIGNER_COLUMNS = (RelayRecord.signer_nonce, RelayRecord.status, RelayRecord.submitted_at)

_EARLIER_LIMIT = 16  # a signature is carried by one relay, two once adopted (watch.py); a nonce mined by one
_MAX_NONCE = 2**63 - 1  # signer_nonce is a BIGINT (the registry's nonces count actions, far below it)

_INSERT = insert(RelayRecord)  # every column given (one compiled form)
_SETTLE = (
    update(RelayRecord)
    .where(RelayRecord.tx_hash == bindparam("hash"), RelayRecord.status == "pending")
    .values(
        status=bindparam("new_status"),
        block_number=bindparam("new_block"),
        gas_used=bindparam("new_gas"),
        error=bindparam("new_error"),
        settled_at=bindparam("now"),
    )
)

# A signer's pending rows and its latest row, in one round trip (twice per relayed action: the typed data's
# nonce and the POST's check). The statements a relay runs are built once: building one costs more Python than
# executing it (scripts/bench_gateway.py's relayed_gateway_cpu_ms; README).
_SIGNER = RelayRecord.signer == bindparam("signer")
_LATEST_ROW = select(*_SIGNER_COLUMNS).where(_SIGNER).order_by(RelayRecord.submitted_at.desc()).limit(1).subquery()
_SIGNER_ROWS = union_all(
    select(literal("pending").label("kind"), *_SIGNER_COLUMNS).where(_SIGNER, RelayRecord.status == "pending"),
    select(literal("latest").label("kind"), *_LATEST_ROW.c),
)

# A settled relay: its transaction hash, block, gas used, and error (None: mined).
Outcome = tuple[str, int | None, int | None, ContractRevert | TransactionFailed | None]

# How long the nonce after a signer's last relay is trusted without asking the registry. Only another relayer
# using the same signer's nonce makes it stale; the simulation then refuses the action (no gas is spent) and
# the nonce is read from the chain again.
NONCE_KNOWN_S = 30.0


class SignerInFlight:
    """What the relays say of a signer's nonces: those sent and not mined, and the one after its latest relay
    if that was sent in the last NONCE_KNOWN_S (None if not, or if it reverted: the chain knows best then)."""

    def __init__(self, pending: set[int], recent_next: int | None) -> None:
        self.pending = pending
        self.recent_next = recent_next


class RelayRecords:
    """Rows of ``gateway_relays``: written by the gateway that sent a relay, settled and read by any."""

    def __init__(self, engine: Engine, gateway_id: str, clock: Callable[[], float] = time.time):
        self.engine = engine  # Core statements on a connection: a relay's rows cost the least Python this way
        self.gateway_id = gateway_id
        self.clock = clock

    def add(self, relay: Relay) -> None:
        """Record a relay just sent (committed before the POST is answered)."""
        row = {
            "tx_hash": relay.tx_hash.lower(),
            "relayer": relay.relayer,
            "relayer_nonce": relay.sent.nonce,
            "primary_type": relay.primary_type,
            "contract": relay.contract,
            "signer": relay.signer,
            "signer_nonce": relay.signer_nonce,
            "signature": "0x" + relay.signature.hex(),
            "deadline": str(relay.deadline),
            "gas_limit": relay.sent.gas,
            "transaction": json.dumps(_json_transaction(relay.sent.params), separators=(",", ":")),
            "status": "pending",
            "error": None,
            "block_number": None,
            "gas_used": None,
            "submitted_at": relay.submitted_at,
            "settled_at": None,
            "gateway": self.gateway_id,
        }
        with self.engine.begin() as db:
            db.execute(_INSERT, row)

    def get(self, tx_hash: str) -> Relay | None:
        """A relay by transaction hash, sent by any gateway."""
        with self.engine.connect() as db:
            row = db.execute(select(_RELAYS).where(_RELAYS.c.tx_hash == tx_hash.lower())).first()
        return None if row is None else _relay(row)

    def earlier(self, signer: str, signature: bytes, nonce: int | None) -> list[Relay]:
        """The signer's relays, pending or mined, that carried ``signature`` or (if given) used ``nonce``, newest
        first: what tells a signed action posted again from another one under a used nonce (checks.py)."""
        carried = RelayRecord.signature == "0x" + signature.hex()
        # A claimed nonce past the column's range (a hostile uint256) was used by no row: only the signature counts.
        used = nonce is not None and 0 <= nonce <= _MAX_NONCE
        which = or_(carried, RelayRecord.signer_nonce == nonce) if used else carried
        with self.engine.connect() as db:
            rows = db.execute(
                select(_RELAYS)
                .where(RelayRecord.signer == checksum(signer), RelayRecord.status != "reverted", which)
                .order_by(RelayRecord.submitted_at.desc())
                .limit(_EARLIER_LIMIT)
            ).all()
        return [_relay(row) for row in rows]

    def due(self, relayer: str | None, limit: int, others_after_s: float) -> list[Relay]:
        """Pending relays to settle, oldest relayer nonce first: every one of ``relayer`` (this gateway's), and
        those of other relayers sent more than ``others_after_s`` ago (their gateway may have died)."""
        cutoff = self.clock() - others_after_s
        mine = RelayRecord.relayer == (relayer or "")  # no relayer: only others' leftovers
        with self.engine.connect() as db:
            rows = db.execute(
                select(_RELAYS)
                .where(RelayRecord.status == "pending", or_(mine, RelayRecord.submitted_at < cutoff))
                .order_by(RelayRecord.relayer, RelayRecord.relayer_nonce)
                .limit(limit)
            ).all()
        return [_relay(row) for row in rows]

    def any_pending(self) -> bool:
        """True while any relay of any gateway is pending."""
        with self.engine.connect() as db:
            return db.scalar(select(RelayRecord.tx_hash).where(RelayRecord.status == "pending").limit(1)) is not None

    def settle(self, outcomes: list[Outcome]) -> None:
        """Record relays' outcomes (tx hash, block, gas used, error) in one statement; a row already settled by
        another gateway is left as it is (each row is settled once)."""
        if not outcomes:
            return
        now = self.clock()
        rows = [
            {
                "hash": tx_hash.lower(),
                "new_status": "mined" if error is None else "reverted",
                "new_block": block_number,
                "new_gas": gas_used,
                "new_error": None if error is None else _error_text(error),
                "now": now,
            }
            for tx_hash, block_number, gas_used, error in outcomes
        ]
        with self.engine.begin() as db:
            db.execute(_SETTLE, rows)

    def dead_relayers(self, relayers: set[str], silent_s: float) -> set[str]:
        """Those of ``relayers`` no live gateway sends with: no lease row, or none beaten in the last ``silent_s``."""
        cutoff = self.clock() - silent_s
        with self.engine.connect() as db:
            alive = db.scalars(
                select(RelayerLease.relayer).where(
                    RelayerLease.relayer.in_(sorted(relayers)), RelayerLease.beat_at >= cutoff
                )
            ).all()
        return relayers - set(alive)

    def strand(self, tx_hash: str, why: TransactionFailed) -> bool:
        """Settle a pending relay as never to be mined (``why``); False if it was settled already (by another
        gateway, say): exactly one gateway strands a relay."""
        with self.engine.begin() as db:
            done = db.execute(
                update(RelayRecord)
                .where(RelayRecord.tx_hash == tx_hash.lower(), RelayRecord.status == "pending")
                .values(status="reverted", error=_error_text(why), settled_at=self.clock())
            )
        return getattr(done, "rowcount", 0) == 1

    def explain(self, tx_hash: str, why: ContractRevert | TransactionFailed) -> None:
        """Say why a stranded relay is settled as it is (once its action was sent again, or refused)."""
        with self.engine.begin() as db:
            db.execute(update(RelayRecord).where(RelayRecord.tx_hash == tx_hash.lower()).values(error=_error_text(why)))

    def reopen(self, tx_hash: str) -> None:
        """Put a stranded relay back to pending (its action could not be sent again: the next poll tries again)."""
        with self.engine.begin() as db:
            db.execute(
                update(RelayRecord)
                .where(RelayRecord.tx_hash == tx_hash.lower())
                .values(status="pending", error=None, settled_at=None)
            )

    def signer_in_flight(self, signer: str) -> SignerInFlight:
        """The signer's nonces in flight and the nonce after its recent relays, from every gateway's rows."""
        recent = self.clock() - NONCE_KNOWN_S
        with self.engine.connect() as db:
            rows = db.execute(_SIGNER_ROWS, {"signer": checksum(signer)}).all()
        pending = {row.signer_nonce for row in rows if row.kind == "pending"}
        latest = next((row for row in rows if row.kind == "latest"), None)
        if latest is None or latest.submitted_at < recent or latest.status == "reverted":
            return SignerInFlight(pending, None)
        return SignerInFlight(pending, latest.signer_nonce + 1)


def _error_text(error: ContractRevert | TransactionFailed) -> str:
    return json.dumps(error_json(error), separators=(",", ":"))


def _json_transaction(params: dict[str, Any]) -> dict[str, Any]:
    return {key: "0x" + value.hex() if isinstance(value, bytes) else value for key, value in params.items()}


def _relay(row: Row[Any]) -> Relay:
    params: dict[str, Any] = json.loads(row.transaction)
    relay = Relay(
        tx_hash=row.tx_hash,
        primary_type=row.primary_type,
        contract=row.contract,
        signer=row.signer,
        signer_nonce=row.signer_nonce,
        deadline=int(row.deadline),
        signature=b"" if row.signature is None else bytes.fromhex(row.signature[2:]),
        relayer=row.relayer,
        sent=SentTx(tx_hash=row.tx_hash, nonce=row.relayer_nonce, gas=row.gas_limit, params=params),
        submitted_at=row.submitted_at,
        status="pending" if row.status == "pending" else ("mined" if row.status == "mined" else "reverted"),
        block_number=row.block_number,
        gas_used=row.gas_used,
        error=None if row.error is None else error_from_json(json.loads(row.error)),
    )
    if relay.status != "pending":
        relay.settled.set()
    return relay


# ------------------------------------------------------------ a settled relay's error, as JSON and back


def error_json(error: ContractRevert | TransactionFailed) -> dict[str, Any]:
    """A relay's error as JSON that ``error_from_json`` turns back into the same exception."""
    if isinstance(error, ContractRevert):
        return {"revert": error.name, "args": _tagged(error.args_by_name), "contract": error.contract}
    return {"failed": str(error)}


def error_from_json(data: dict[str, Any]) -> ContractRevert | TransactionFailed:
    """The exception ``error_json`` described."""
    if "revert" in data:
        return ContractRevert(str(data["revert"]), _untagged(data["args"]), data.get("contract"))
    return TransactionFailed(str(data.get("failed", "the transaction failed")))


def _tagged(value: Any) -> Any:
    """Decoded ABI values as JSON that keeps their Python types (integers past 2^53, bytes, tuples)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, tuple):
        return {"tuple": [_tagged(v) for v in value]}
    if isinstance(value, list):
        return {"list": [_tagged(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _tagged(v) for k, v in value.items()}}
    return str(value)


def _untagged(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "int" in value:
        return int(value["int"])
    if "bytes" in value:
        return bytes.fromhex(value["bytes"])
    if "tuple" in value:
        return tuple(_untagged(v) for v in value["tuple"])
    if "list" in value:
        return [_untagged(v) for v in value["list"]]
    if "dict" in value:
        return {k: _untagged(v) for k, v in value["dict"].items()}
    return {k: _untagged(v) for k, v in value.items()}  # the top level: arguments by name
