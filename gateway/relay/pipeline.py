"""A signed action's POST, end to end.

``RelayPipeline.submit`` runs the steps in the order of the lock rule (locks.py): room among the relays in
flight; under the signer's lock the checks (checks.py); under the contract's lock the simulation and the send
(send.py), once the relayer's lease is confirmed (lease.py); the relay recorded in flight (in_flight.py) and in
the database (records.py), and watched (watch.py). It returns as soon as the transaction is sent and recorded.
``relay_request`` puts an Idempotency-Key (idempotency.py) and ``?wait=true`` (wait.py) around it and makes the
answer: 202 with the transaction hash and a status URL, or 200 with the state once mined and mirrored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from chain import ACCESS_REGISTRY, BUDGET_OFFICE, ContractRevert, LedgerError, TransactionFailed, checksum
from gateway.client import ACTS_PATHS
from gateway.errors import ServiceUnavailable, SignatureExpired, SignatureMismatch, StaleNonce, revert_args
from gateway.identity import MirrorVersion
from gateway.ledger import Ledger
from gateway.relay.checks import carried_before, check_signed
from gateway.relay.idempotency import fingerprint
from gateway.relay.in_flight import InFlight, Relay
from gateway.relay.lease import Lease, holder_id
from gateway.relay.locks import MAX_IN_FLIGHT, Locks
from gateway.relay.nonces import SignerNonces
from gateway.relay.records import RelayRecords
from gateway.relay.relayer import relayer_problem
from gateway.relay.request import ActionRequest, SignedRequest
from gateway.relay.send import Sender
from gateway.relay.wait import wait_for_mirror, wait_for_receipt
from gateway.relay.watch import Watcher
from gateway.schemas.actions import (
    ActionPublic,
    BudgetActPublic,
    RegistryActPublic,
    RelayErrorPublic,
    RelayPublic,
    SignedAction,
)

if TYPE_CHECKING:
    from gateway.core.state import GatewayState

__all__ = [
    "BUDGET_ACTS",
    "REGISTRY_ACTS",
    "ContractActs",
    "RelayPipeline",
    "RelayTarget",
    "relay_public",
    "relay_request",
    "status_url",
]

_log = logging.getLogger("gateway.relay")


class RelayPipeline:
    """Signer nonces, and signed actions checked, sent and watched; one per gateway process.

    Several processes share one database: each sends with a relayer account of its own (its ``lease``), and the
    relays, their statuses and the signers' nonces in flight are rows every process reads (``records``).
    """

    def __init__(
        self,
        ledger: Ledger,
        engine: Engine,
        *,
        lease_s: float,
        inline_reads: bool = False,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.ledger = ledger
        self.holder = holder_id()
        self.in_flight = InFlight(max_in_flight)
        self.records = RelayRecords(engine, self.holder)
        self.nonces = SignerNonces(ledger.registry, self.records, inline_reads=inline_reads)
        self.locks = Locks()
        relayer = ledger.relayer
        self.sender = None if relayer is None else Sender(relayer, ledger.build, self.in_flight)
        self.watcher = (
            None
            if relayer is None
            else Watcher(relayer, self.in_flight, self.records, adopt=self.adopt, lease_s=lease_s)
        )
        sessions = sessionmaker(engine, expire_on_commit=False)
        self.lease = None if relayer is None else Lease(sessions, relayer.address, self.holder, lease_s=lease_s)

    def start(self) -> None:
        """Keep the relayer's lease alive, and settle relays left pending (by an earlier life, say)."""
        if self.lease is not None:
            self.lease.start()
        if self.watcher is not None and self.records.any_pending():
            self.watcher.ensure_running()

    def stop(self) -> None:
        """Stop watching and give the relayer's lease up (the app shuts down)."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.lease is not None:
            self.lease.stop(release=True)

    def submit(self, signed: SignedRequest) -> tuple[Relay, bool]:
        """Check a signed action and send it, under the lock rule; no waiting for the receipt. The relay, and
        whether it is an earlier one: this very signed action was relayed before (by any gateway), nothing is sent."""
        if self.sender is None or self.watcher is None or self.lease is None:
            raise ServiceUnavailable("this gateway has no relayer account configured: signed actions are disabled")
        request = signed.request
        self.in_flight.wait_for_room(self.watcher.wake)  # rule 1
        with self.locks.signer(request.signer):  # rule 2
            try:
                action = check_signed(self.ledger, self.nonces, signed)
                with self.locks.contract(request.contract):  # rule 3
                    self.lease.ensure()  # never a send under a relayer another gateway may hold
                    sent = self.sender.send(request.contract, action, request.signer, signed.signature)
                    relay = Relay(
                        tx_hash=sent.tx_hash,
                        primary_type=action.primary_type,
                        contract=checksum(request.contract),
                        signer=checksum(request.signer),
                        signer_nonce=action.nonce,
                        deadline=signed.deadline,
                        signature=signed.signature,
                        relayer=self.sender.relayer.address,
                        sent=sent,
                        submitted_at=time.time(),
                    )
                    self.in_flight.add(relay)
                    self.watcher.ensure_running()
                    try:
                        self.records.add(relay)
                    except SQLAlchemyError as exc:
                        raise ServiceUnavailable(
                            f"the action was sent as {relay.tx_hash} but could not be recorded ({exc}): its status "
                            "is the chain's to tell; do not sign it again"
                        ) from None
                    self.nonces.relayed(request.signer)
            except LedgerError as refused:
                earlier = self._carried_before(signed, refused)
                if earlier is not None:
                    return earlier, True
                self.nonces.forget(request.signer)
                raise
        return relay, False

    def _carried_before(self, signed: SignedRequest, refused: LedgerError) -> Relay | None:
        """The relay that carried this very signed action before (checks.py), if ``refused`` is what posting it
        again meets; a stale nonce that another relay of the signer used is raised again naming that relay."""
        if not isinstance(refused, StaleNonce | SignatureExpired | SignatureMismatch | ContractRevert):
            return None
        request = signed.request
        earlier = self.records.earlier(request.signer, signed.signature, signed.claimed_nonce)
        carried = carried_before(self.ledger, signed, earlier)
        if carried is not None:
            local = self.in_flight.get(carried.tx_hash)
            if local is None and carried.status == "pending" and self.watcher is not None:
                self.watcher.ensure_running()
            return carried if local is None else local
        used = next((relay for relay in earlier if relay.signer_nonce == signed.claimed_nonce), None)
        if isinstance(refused, StaleNonce) and used is not None:
            self.nonces.forget(request.signer)
            raise StaleNonce(
                f"the action was signed with nonce {used.signer_nonce}, which {request.signer} already used for "
                f"another signed action ({used.primary_type} on {used.contract}, transaction {used.tx_hash}, "
                f"{used.status}): fetch fresh typed data and sign again",
                **refused.extensions,
                usedBy=used.tx_hash,
            ) from None
        return None

    def adopt(self, stranded: Relay) -> None:
        """Send again, from this gateway's relayer, the signed action of a relay stranded by a dead gateway
        (watch.py: its transaction waits behind a nonce gap of a relayer nobody holds any more).

        The stranded row is settled first, by a compare-and-set, so one gateway alone sends the action again; it
        says which transaction carries the action now. The signature binds the signer's nonce, not the relayer:
        whichever of the two transactions is mined first runs the action, the other reverts (nonce used), so
        the action runs once. If the contract refuses it now (the deadline passed, the signer used the nonce
        since), the stranded row says so; if the node or the lease is away, the row is pending again.
        """
        if self.sender is None or self.lease is None or self.watcher is None:
            return
        relayer = self.sender.relayer.address
        with self.locks.signer(stranded.signer), self.locks.contract(stranded.contract):
            self.lease.ensure()
            why = TransactionFailed(
                f"transaction {stranded.tx_hash} is stranded: the gateway of relayer {stranded.relayer} died before "
                f"it could be mined; its signed action is sent again from relayer {relayer}"
            )
            if not self.records.strand(stranded.tx_hash, why):
                return  # settled meanwhile: mined after all, or another gateway adopted it
            data = bytes.fromhex(str(stranded.sent.params["data"]).removeprefix("0x"))
            try:
                sent = self.sender.relayer.submit_data(
                    stranded.contract, data, min_gas=stranded.sent.gas, block_identifier="pending"
                )
            except (ContractRevert, TransactionFailed) as refused:
                self.records.explain(stranded.tx_hash, refused)
                _log.warning("stranded relay %s not sent again: %s", stranded.tx_hash, refused)
                return
            except BaseException:
                self.records.reopen(stranded.tx_hash)
                raise
            relay = Relay(
                tx_hash=sent.tx_hash,
                primary_type=stranded.primary_type,
                contract=stranded.contract,
                signer=stranded.signer,
                signer_nonce=stranded.signer_nonce,
                deadline=stranded.deadline,
                signature=stranded.signature,
                relayer=relayer,
                sent=sent,
                submitted_at=time.time(),
            )
            self.in_flight.add(relay)
            self.records.add(relay)
            self.records.explain(
                stranded.tx_hash,
                TransactionFailed(f"{why}: it is transaction {relay.tx_hash} now (watch that one's status)"),
            )
            _log.warning("stranded relay %s sent again as %s", stranded.tx_hash, relay.tx_hash)
        self.watcher.ensure_running()

    def status(self, tx_hash: str) -> Relay | None:
        """A relay sent by any gateway, by transaction hash (a pending one gets watched here too)."""
        relay = self.records.get(tx_hash)
        if relay is not None and relay.status == "pending" and self.watcher is not None:
            self.watcher.ensure_running()
        return relay

    def wait(self, relay: Relay, timeout_s: float) -> Relay:
        """``relay`` once settled (or as it stands after ``timeout_s``): this gateway's own is woken by its
        watcher; another gateway's is read again from the database until settled."""
        local = self.in_flight.get(relay.tx_hash)
        if local is not None:
            local.wait(timeout_s)
            return local
        give_up = time.monotonic() + timeout_s
        while relay.status == "pending" and time.monotonic() < give_up:
            time.sleep(_WAIT_POLL_S)
            relay = self.status(relay.tx_hash) or relay
        return relay

    @property
    def receipt_timeout_s(self) -> float:
        """How long ``?wait=true`` waits for a receipt (the relayer's own timeout)."""
        relayer = self.ledger.relayer
        return 0.0 if relayer is None else relayer.timeout


_WAIT_POLL_S = 0.05


def status_url(procurement_id: str | None, tx_hash: str, acts: str = ACTS_PATHS[BUDGET_OFFICE]) -> str:
    """Where to poll a relay's status: a procurement's action, or (no procurement) an act of a contract of its own
    (under ``acts``: the budget office's or the registry's)."""
    if procurement_id is None:
        return f"{acts}/relays/{tx_hash}"
    return f"/procurements/{procurement_id}/actions/relays/{tx_hash}"


@dataclass(frozen=True)
class ContractActs:
    """A contract with one instance, whose signed acts name no procurement: where its routes are, and what their
    answer calls the contract (the budget office's ``office``, the registry's ``registry``)."""

    path: str  # e.g. /budget/actions
    model: type[RelayPublic]
    contract_field: str


BUDGET_ACTS = ContractActs(ACTS_PATHS[BUDGET_OFFICE], BudgetActPublic, "office")
REGISTRY_ACTS = ContractActs(ACTS_PATHS[ACCESS_REGISTRY], RegistryActPublic, "registry")


@dataclass(frozen=True)
class RelayTarget:
    """What a relayed action acts on, as its answer says it: a procurement (its escrow) or a contract of its own."""

    procurement_id: bytes | None  # None: a contract of its own (``acts``)
    state: Callable[[], Any] | None = None  # with ?wait=true: the state after it (a procurement's)
    acts: ContractActs = BUDGET_ACTS

    @property
    def id_hex(self) -> str | None:
        """The procurement id as 0x-hex (None for a contract of its own)."""
        return None if self.procurement_id is None else "0x" + self.procurement_id.hex()

    @property
    def model(self) -> type[RelayPublic]:
        """The answer's schema."""
        return self.acts.model if self.procurement_id is None else ActionPublic

    def status_url(self, tx_hash: str) -> str:
        """Where to poll the relay's status."""
        return status_url(self.id_hex, tx_hash, self.acts.path)

    def public(self, relay: Relay, ledger: Ledger) -> RelayPublic:
        """A relay as the API shows it."""
        if self.id_hex is None:
            fields = _relay_fields(relay, self.status_url(relay.tx_hash), ledger)
            fields[self.acts.contract_field] = relay.contract
            return self.acts.model(**fields)
        return relay_public(self.id_hex, relay, ledger)


def relay_public(procurement_id: str, relay: Relay, ledger: Ledger) -> ActionPublic:
    """A relay on a procurement as the API shows it."""
    fields = _relay_fields(relay, status_url(procurement_id, relay.tx_hash), ledger)
    return ActionPublic(**fields, procurement_id=procurement_id, escrow=relay.contract)


def _relay_fields(relay: Relay, url: str, ledger: Ledger) -> dict[str, Any]:
    """What the API says of any relay: its action, signer, transaction, status and, once mined, its receipt."""
    error = None
    if relay.error is not None:
        revert = relay.error if isinstance(relay.error, ContractRevert) else None
        error = RelayErrorPublic(
            error=None if revert is None else revert.name,
            args={} if revert is None else revert_args(revert),
            detail=str(relay.error),
        )
    return {
        "action": relay.primary_type,
        "signer": relay.signer,
        "nonce": relay.signer_nonce,
        "deadline": relay.deadline,
        "relayer": relay.relayer,
        "tx_hash": relay.tx_hash,
        "status": relay.status,
        "status_url": url,
        "block_number": relay.block_number,
        "final": ledger.is_final(relay.block_number),
        "gas_used": relay.gas_used,
        "gas_limit": relay.sent.gas,
        "error": error,
    }


def relay_request(
    state: GatewayState,
    request: Request,
    target: RelayTarget,
    action: ActionRequest,
    body: SignedAction,
    *,
    wait: bool,
    idempotency_key: str | None,
) -> RelayPublic:
    """Relay a signed action as its POST asks; the answer (202 unless ``wait``: then 200, once mined and mirrored).

    A database session is opened only for an Idempotency-Key or ``?wait=true``: a plain relay opens none.
    """
    signed = SignedRequest(action, body.deadline, bytes.fromhex(body.signature[2:]), body.nonce)
    needs_db = wait or idempotency_key is not None
    with state.sessions() if needs_db else nullcontext() as db:
        key = None if idempotency_key is None else state.idempotency.check_key(idempotency_key)
        result: RelayPublic | None = None
        relay: Relay | None = None
        if key is not None and db is not None:
            digest = fingerprint("POST", request.url.path, body.model_dump(mode="json", by_alias=True))
            stored = state.idempotency.reserve(db, action.signer, key, digest)
            if stored is not None:
                result = target.model.model_validate(stored).model_copy(update={"replayed": True})
                relay = state.relay.status(result.tx_hash)
        if result is None:
            relayer = state.ledger.relayer
            # At the mirror version the caller's roles were read at (gateway.deps.resolve_caller): a cached answer,
            # no second read of the version.
            mirror: MirrorVersion | None = getattr(getattr(request.state, "caller", None), "mirror", None)
            problem = None if relayer is None else relayer_problem(state.directory.lookup(relayer.address, mirror))
            if problem is not None:
                raise ServiceUnavailable(problem)
            try:
                relay, earlier = state.relay.submit(signed)
            except LedgerError:
                state.metrics.relayed.labels(action.action.primary_type, "refused").inc()
                if key is not None and db is not None:
                    state.idempotency.release(db, action.signer, key)
                raise
            state.metrics.relayed.labels(action.action.primary_type, "replayed" if earlier else "relayed").inc()
            result = target.public(relay, state.ledger).model_copy(update={"replayed": earlier})
            if key is not None and db is not None:
                # Stored once sent: a retry returns this transaction (with its status then), never a second one.
                state.idempotency.store(db, action.signer, key, 202, result.model_dump(mode="json", by_alias=True))
        if relay is not None:
            if wait:
                relay = wait_for_receipt(state.relay, relay, target.status_url(relay.tx_hash))
            result = target.public(relay, state.ledger).model_copy(update={"replayed": result.replayed})
        if wait and db is not None and result.block_number is not None:
            timeout_s = state.settings.wait_timeout_s
            mirrored = wait_for_mirror(db, state.ledger.chain_id, result.block_number, timeout_s)
            update: dict[str, Any] = {"mirrored": mirrored}
            if target.state is not None:
                update["state"] = target.state()
            result = result.model_copy(update=update)
        return result
