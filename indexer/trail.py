"""The trail of one procurement, and the acts of one account: mirrored events in chain order, each with who signed
it, who relayed it, its block's time and its place in the mirror's digest chain.

A procurement's trail is every event of every transaction that touched its escrow (its creation, with the
factory's, registry's and budget ledger's events of that transaction, and every transaction its escrow emitted
in). Who signed and who relayed an event: a signed action's transaction carries the contract's SignatureUsed
(signer, relayer = the sender of the transaction), so both come from the mirror; a direct action was signed and
sent by one account, the transaction's sender, which the mirror does not store (eth_getLogs does not give it, and
asking for it at indexing time would cost every block a call): ``senders`` (the node's, one batched call for the
trail's direct transactions) answers it on demand. Without it, they are null.

Each line carries its block's digest and the running hash before and after it (h_n = sha256(h_{n-1} || d_n)), so
anyone can place it in the digest chain; ``check_lines`` compares lines with the chain itself (the node's logs and
headers), which finds a row edited in the mirror.

The trail is served to the procurement's parties and to auditors only (gateway/scope.py), who see its amounts in
every other read: nothing is withheld from it, unlike the public OCDS export (indexer/ocds/withheld.py).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, bindparam, select

from chain import GENESIS_TX, ChainSource, EventDecoder, Role, checksum, org_code
from chain.times import iso
from indexer.canonical import event_args_json
from indexer.digests import GENESIS
from indexer.models import TABLES

__all__ = [
    "ACTS",
    "TrailLine",
    "actor_acts",
    "check_lines",
    "procurement_trail",
    "write_csv",
]

# Who sent each of these transactions (hash -> checksummed address): the node's ChainSource.tx_senders.
Senders = Callable[[Sequence[str]], Mapping[str, str]]

# The privileged acts of an account: event -> the argument naming who acted (None: only the transaction's sender
# or the signature says). A signed act's actor is its signer, whatever the event names (the relayer, for the
# registry's role events).
ACTS: Mapping[str, str | None] = {
    # registry: roles, organizations, account bindings, withdrawn signatures
    "RoleGranted": "sender",
    "RoleRevoked": "sender",
    "OrganizationRegistered": None,
    "OrganizationUpdated": None,
    "AccountBound": "sender",
    "AccountUnbound": "sender",
    "NoncesInvalidated": "signer",
    # factory and escrows
    "ProcurementCreated": "officer",
    "Funded": "funder",
    "PauseChanged": "admin",
    "AmendmentProposed": "proposer",
    "AmendmentConsented": "supplier",
    "AmendmentApproved": "approver",
    "DisputeOpened": "opener",
    "DisputeSettled": "reviewer",
    "OwedRedirectRuled": "reviewer",
    "MilestoneReclaimed": "officer",
    # budget ledger and office
    "AppropriationEnacted": "authority",
    "Distributed": "officer",
    "Obligated": "officer",
    "CarryOverApproved": "authority",
    "LineSettled": "settler",
    "FiscalYearClosed": "authority",
    "AuthorityEnacted": "authority",
    "AccessGranted": "officer",
    "AccessRevoked": "officer",
    "TransferRequested": "requester",
    "TransferApproved": "approver",
    "TransferRefused": "refuser",
    "TransferWithdrawn": "officer",
}
_NO_ACTOR_FIELD = tuple(sorted(event for event, field in ACTS.items() if field is None))
_WORD_ARGS = ("orgId", "ministryOrg", "supplierOrg", "ministry", "organization", "buyer", "lineMinistry")


@dataclass(frozen=True)
class TrailLine:
    """One mirrored event, where it sits on chain and in the digest chain, and who signed and relayed it."""

    block_number: int
    block_time: int | None  # unix seconds; None if the mirror does not hold it yet
    block_hash: str
    tx_hash: str
    log_index: int
    emitter: str
    event: str
    args: dict[str, Any]
    signer: str | None  # the signer of a signed action, the sender of a direct one (None: not asked)
    relayer: str | None  # the transaction's sender
    by_signature: bool
    documents: tuple[str, ...]  # document hashes the event names (evidence, reports, rationales, rulings, specs)
    words: str  # what the event's role and organization ids are called
    digest: str  # the block's digest
    previous_chain_hash: str  # the running hash before this block
    chain_hash: str  # ... and after it: sha256(previous_chain_hash || digest)

    def flat(self) -> dict[str, Any]:
        """The line as JSON: camelCase, its block time in ISO 8601 with the JST offset (null if not held)."""
        return {
            "blockNumber": self.block_number,
            "blockTime": None if self.block_time is None else iso(self.block_time),
            "blockHash": self.block_hash,
            "txHash": self.tx_hash,
            "logIndex": self.log_index,
            "emitter": self.emitter,
            "event": self.event,
            "args": self.args,
            "signer": self.signer,
            "relayer": self.relayer,
            "bySignature": self.by_signature,
            "documents": list(self.documents),
            "words": self.words,
            "digest": self.digest,
            "previousChainHash": self.previous_chain_hash,
            "chainHash": self.chain_hash,
        }


def write_csv(lines: Iterable[TrailLine], out: IO[str]) -> None:
    """The lines as CSV with a header: arguments as canonical JSON text, document hashes space-separated."""
    names = list(_flat_names())
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for line in lines:
        flat = line.flat()
        flat["args"] = json.dumps(flat["args"], sort_keys=True, separators=(",", ":"))
        flat["documents"] = " ".join(flat["documents"])
        writer.writerow(["" if flat[name] is None else flat[name] for name in names])


def _flat_names() -> tuple[str, ...]:
    """The keys of ``TrailLine.flat``, in its order (the CSV header)."""
    return (
        "blockNumber",
        "blockTime",
        "blockHash",
        "txHash",
        "logIndex",
        "emitter",
        "event",
        "args",
        "signer",
        "relayer",
        "bySignature",
        "documents",
        "words",
        "digest",
        "previousChainHash",
        "chainHash",
    )


def _documents(args: Mapping[str, Any]) -> tuple[str, ...]:
    """Every bytes32 argument named ``...Hash`` (nested ones too): the hashes of documents the event refers to."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key.endswith("Hash") and isinstance(value, str) and len(value) == 66 and value != "0x" + "0" * 64:
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(args)
    return tuple(found)


_o = TABLES["organizations"].c
_ORGANIZATIONS = select(_o.org_id, _o.name).where(_o.chain_id == bindparam("chain_id"))


def _organization_names(conn: Connection, chain_id: int) -> dict[str, str]:
    return {str(org): str(name) for org, name in conn.execute(_ORGANIZATIONS, {"chain_id": chain_id})}


def _words(args: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The role and organizations an event names, as people call them."""
    said: list[str] = []
    role = args.get("role")
    if isinstance(role, str) and len(role) == 66:
        known = Role.from_id(bytes.fromhex(role[2:]))
        said.append(f"role {known.name if known else role}")
    for key in _WORD_ARGS:
        value = args.get(key)
        if isinstance(value, str) and len(value) == 66 and value in names:
            said.append(f"{key} {org_code(bytes.fromhex(value[2:]))} ({names[value]})")
    return "; ".join(said)


def _lines(
    conn: Connection,
    chain_id: int,
    rows: Sequence[Any],
    senders: Senders | None,
    keep: Callable[[Any, str | None], bool] = lambda row, signer: True,
) -> list[TrailLine]:
    """Trail lines of the event ``rows`` (every event of their transactions, in chain order) that ``keep`` (given
    the row and its signer if it was signed)."""
    signed: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row.event == "SignatureUsed":
            args = json.loads(row.args)
            signed[row.tx_hash] = (str(args["signer"]), str(args["relayer"]))
    rows = [row for row in rows if keep(row, signed[row.tx_hash][0] if row.tx_hash in signed else None)]
    # The node is asked for these only (no transaction made a genesis event: chain/genesis_events.py)
    direct = sorted({row.tx_hash for row in rows if row.tx_hash not in signed and row.tx_hash != GENESIS_TX})
    sent = senders(direct) if senders is not None and direct else {}
    blocks = sorted({int(row.block_number) for row in rows})
    digests = _digests(conn, chain_id, blocks)
    names = _organization_names(conn, chain_id)
    lines: list[TrailLine] = []
    for row in rows:
        args = json.loads(row.args)
        signer: str | None
        relayer: str | None
        if row.tx_hash in signed:
            signer, relayer = signed[row.tx_hash]
        else:
            signer = relayer = sent.get(row.tx_hash)
        digest, before, after, stamp = digests[int(row.block_number)]
        lines.append(
            TrailLine(
                block_number=int(row.block_number),
                block_time=stamp,
                block_hash=row.block_hash,
                tx_hash=row.tx_hash,
                log_index=int(row.log_index),
                emitter=row.emitter,
                event=row.event,
                args=args,
                signer=signer,
                relayer=relayer,
                by_signature=row.tx_hash in signed,
                documents=_documents(args),
                words=_words(args, names),
                digest=digest,
                previous_chain_hash=before,
                chain_hash=after,
            )
        )
    return lines


_d = TABLES["block_digests"]
_previous = _d.alias("previous")
# Per block: its digest, the running hash before it (the previous digest row's), after it, and its time.
_DIGESTS = select(
    _d.c.block_number,
    _d.c.digest,
    select(_previous.c.chain_hash)
    .where(_previous.c.chain_id == _d.c.chain_id, _previous.c.block_number < _d.c.block_number)
    .order_by(_previous.c.block_number.desc())
    .limit(1)
    .scalar_subquery(),
    _d.c.chain_hash,
    _d.c.block_time,
).where(_d.c.chain_id == bindparam("chain_id"), _d.c.block_number.in_(bindparam("blocks", expanding=True)))
_e = TABLES["events"].c
_BLOCK_EVENTS = (
    select(_e.block_number, _e.block_hash, _e.tx_hash, _e.log_index, _e.emitter, _e.event, _e.args)
    .where(_e.chain_id == bindparam("chain_id"), _e.block_number.in_(bindparam("blocks", expanding=True)))
    .order_by(_e.block_number, _e.log_index)
)
_p = TABLES["procurements"].c
_ESCROW_TXS = select(_e.block_number, _e.tx_hash).where(
    _e.chain_id == bindparam("chain_id"), _e.emitter == bindparam("escrow")
)
_CREATION_TX = select(_p.block_number, _p.tx_hash).where(
    _p.chain_id == bindparam("chain_id"), _p.escrow == bindparam("escrow")
)


def _digests(conn: Connection, chain_id: int, blocks: Sequence[int]) -> dict[int, tuple[str, str, str, int | None]]:
    """Per block: its digest, the running hash before and after it, and its time."""
    found: dict[int, tuple[str, str, str, int | None]] = {}
    for start in range(0, len(blocks), 500):
        values = {"chain_id": chain_id, "blocks": list(blocks[start : start + 500])}
        for number, digest, prior, chain_hash, stamp in conn.execute(_DIGESTS, values):
            found[int(number)] = (digest, prior or GENESIS, chain_hash, None if stamp is None else int(stamp))
    return found


def _events_of_transactions(conn: Connection, chain_id: int, txs: Iterable[tuple[int, str]]) -> list[Any]:
    """Every mirrored event of the transactions ``txs`` ((block, hash) pairs), in chain order (by the key)."""
    by_block: dict[int, set[str]] = defaultdict(set)
    for block, tx_hash in txs:
        by_block[int(block)].add(tx_hash)
    rows: list[Any] = []
    blocks = sorted(by_block)
    for start in range(0, len(blocks), 500):
        values = {"chain_id": chain_id, "blocks": blocks[start : start + 500]}
        rows.extend(
            row for row in conn.execute(_BLOCK_EVENTS, values) if row.tx_hash in by_block[int(row.block_number)]
        )
    return rows


def procurement_trail(conn: Connection, chain_id: int, escrow: str, senders: Senders | None = None) -> list[TrailLine]:
    """Every event of the procurement at ``escrow`` (checksummed) in chain order: its creation's transaction and
    every transaction in which its escrow emitted."""
    values = {"chain_id": chain_id, "escrow": escrow}
    txs = {(int(block), str(tx)) for block, tx in conn.execute(_ESCROW_TXS, values)}
    txs.update((int(block), str(tx)) for block, tx in conn.execute(_CREATION_TX, values))
    return _lines(conn, chain_id, _events_of_transactions(conn, chain_id, txs), senders)


def actor_acts(conn: Connection, chain_id: int, account: str, senders: Senders | None = None) -> list[TrailLine]:
    """Every privileged act (``ACTS``) of ``account`` (checksummed) in chain order: those it signed, relayed by
    anyone, and those it sent itself."""
    e = TABLES["events"]
    # The transactions that may hold its acts: those whose events name it (a signature's signer included), and
    # those of acts that name no actor (the sender says; few).
    named = select(e.c.block_number, e.c.tx_hash).where(e.c.chain_id == chain_id, e.c.args.contains(f'"{account}"'))
    nameless = select(e.c.block_number, e.c.tx_hash).where(e.c.chain_id == chain_id, e.c.event.in_(_NO_ACTOR_FIELD))
    txs = set(conn.execute(named.union(nameless)).all())
    rows = [row for row in _events_of_transactions(conn, chain_id, txs)]

    def acted(row: Any, signer: str | None) -> bool:
        if row.event not in ACTS:
            return False
        if signer is not None:
            return signer == account
        field = ACTS[row.event]
        return field is None or json.loads(row.args).get(field) == account

    lines = _lines(conn, chain_id, rows, senders, acted)
    return [line for line in lines if ACTS[line.event] is not None or line.by_signature or line.signer == account]


def check_lines(
    lines: Sequence[TrailLine], source: ChainSource, decoder: EventDecoder, kinds: Mapping[str, str]
) -> list[str]:
    """Each line against the chain: its log (emitter, event, arguments) at its transaction and index, its block's
    hash and time. ``kinds`` is each trusted emitter's kind (indexer.sync.trusted_emitters). Returns what differs,
    one sentence per difference (empty: every line is the chain's)."""
    problems: list[str] = []
    blocks = sorted({line.block_number for line in lines})
    times = source.block_times(blocks)
    on_chain: dict[tuple[str, int], Any] = {}
    hashes: dict[int, str] = {}
    topics = decoder.topics()
    for block in blocks:
        for raw in source.logs(block, block, topics):
            emitter = checksum(str(raw["address"]))
            kind = kinds.get(emitter)
            if kind is None:
                continue
            decoded = decoder.decode(raw, kind, source.chain_id)
            if decoded is not None:
                on_chain[(decoded.tx_hash, decoded.log_index)] = decoded
                hashes[block] = decoded.block_hash
    for line in lines:
        if line.tx_hash == GENESIS_TX:  # in no block's logs: `audit verify` checks it against block 0's state
            continue
        where = f"block {line.block_number} tx {line.tx_hash} log {line.log_index}"
        decoded = on_chain.get((line.tx_hash, line.log_index))
        if decoded is None:
            problems.append(f"{where}: {line.event} is not on the chain")
            continue
        if (decoded.emitter, decoded.event) != (line.emitter, line.event):
            problems.append(f"{where}: the chain has {decoded.event} from {decoded.emitter}, the mirror {line.event}")
        if json.loads(event_args_json(decoded)) != line.args:
            problems.append(f"{where}: {line.event}'s arguments differ from the chain's")
        if hashes.get(line.block_number) != line.block_hash:
            problems.append(f"{where}: block hash {line.block_hash} is not the chain's {hashes.get(line.block_number)}")
        if line.block_time is not None and times[line.block_number] != line.block_time:
            problems.append(f"{where}: block time {line.block_time} is not the chain's {times[line.block_number]}")
    return problems
