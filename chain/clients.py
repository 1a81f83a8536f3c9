"""One typed client per contract: snake_case methods, results as frozen dataclasses, reverts as exceptions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from chain._compiler import Build, compile_contracts
from chain._tx import Receipt, TxSender
from chain.connection import lean_rpc
from chain.errors import ConfigurationError
from chain.roles import OrgKind, Role, org_code, org_id
from chain.system import SystemAddresses, contract_at

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_RULING_PERIOD",
    "Amendment",
    "AmendmentKind",
    "CreatedProcurement",
    "EscrowClient",
    "FactoryClient",
    "Milestone",
    "MilestoneStatus",
    "Organization",
    "ProcurementSpec",
    "RegistryClient",
    "Terms",
    "TokenClient",
    "Totals",
    "read_terms",
    "sorted_panel",
    "system_clients",
]


DEFAULT_RULING_PERIOD = 30 * 86_400  # ProcurementFactory.DEFAULT_RULING_PERIOD: a dispute lapses after it
DEFAULT_GRACE_PERIOD = 90 * 86_400  # ProcurementFactory.DEFAULT_GRACE_PERIOD: before an owed-yen redirect runs


class MilestoneStatus(enum.IntEnum):
    """IMilestoneEscrow.MilestoneStatus."""

    PENDING = 0
    SUBMITTED = 1
    REJECTED = 2
    APPROVED = 3
    PAID = 4
    DISPUTED = 5
    SETTLED = 6
    REFUNDED = 7
    CANCELLED = 8


class AmendmentKind(enum.IntEnum):
    """IMilestoneEscrow.AmendmentKind."""

    AMOUNT = 0
    DUE_DATE = 1
    CANCEL = 2


@dataclass(frozen=True)
class Organization:
    """An organization in the registry."""

    code: str
    kind: OrgKind
    active: bool
    vault: str | None


@dataclass(frozen=True)
class Milestone:
    """One milestone's state on chain; amounts in yen."""

    index: int
    amount: int
    due_date: int
    status: MilestoneStatus
    round: int
    passes: int
    fails: int
    owed: int
    ministry_owed: int = 0
    dispute_lapses_at: int = 0


@dataclass(frozen=True)
class Terms:
    """The fixed terms of a procurement escrow."""

    procurement_id: bytes
    ministry: str
    supplier_org: str
    supplier: str
    officer: str
    token: str
    registry: str
    quorum: int
    evaluators: tuple[str, ...]
    ruling_period: int = DEFAULT_RULING_PERIOD
    grace_period: int = DEFAULT_GRACE_PERIOD


@dataclass(frozen=True)
class Totals:
    """An escrow's books; the token balance always equals funded - released - refunded. ``owed`` counts what is
    owed to the supplier and to the ministry."""

    funded: int
    released: int
    refunded: int
    owed: int

    @property
    def held(self) -> int:
        """What the escrow should hold."""
        return self.funded - self.released - self.refunded


@dataclass(frozen=True)
class Amendment:
    """A proposed amendment."""

    amendment_id: int
    milestone_id: int
    kind: AmendmentKind
    executed: bool
    proposer: str
    new_due_date: int
    new_amount: int
    rationale_hash: bytes
    supplier_consented: bool = False

    def content(self) -> list[Any]:
        """The amendment's full content, as ``approve_amendment`` and ``consent_to_amendment`` must name it."""
        return [self.milestone_id, int(self.kind), self.new_amount, self.new_due_date, self.rationale_hash]


@dataclass(frozen=True)
class ProcurementSpec:
    """What the factory needs to create a procurement (IProcurementFactory.ProcurementParams)."""

    procurement_id: bytes
    supplier: str
    evaluators: tuple[str, ...]
    quorum: int
    amounts: tuple[int, ...]
    due_dates: tuple[int, ...]
    spec_hash: bytes
    title: str
    ruling_period: int = DEFAULT_RULING_PERIOD
    grace_period: int = DEFAULT_GRACE_PERIOD

    def as_tuple(self) -> tuple[Any, ...]:
        """The ABI tuple."""
        return (
            self.procurement_id,
            to_checksum_address(self.supplier),
            sorted_panel(self.evaluators),
            self.quorum,
            list(self.amounts),
            list(self.due_dates),
            self.spec_hash,
            self.title,
            self.ruling_period,
            self.grace_period,
        )


def sorted_panel(evaluators: tuple[str, ...] | list[str]) -> list[str]:
    """An evaluator panel in ascending order of address, as the factory requires (checksummed)."""
    return [to_checksum_address(e) for e in sorted(evaluators, key=lambda e: int(e, 16))]


@dataclass(frozen=True)
class CreatedProcurement:
    """The result of creating a procurement."""

    procurement_id: bytes
    escrow: str
    funded: int
    receipt: Receipt


class _Client:
    """Common plumbing: a web3 contract, an optional sender for writes."""

    contract_name = ""

    def __init__(self, w3: Web3, address: str, sender: TxSender | None = None, build: Build | None = None):
        self.w3 = w3
        self.build = build or compile_contracts()
        self.contract: Contract = contract_at(w3, self.contract_name, address, self.build)
        self.sender = sender

    @property
    def address(self) -> str:
        """The contract's checksum address."""
        return str(self.contract.address)

    def with_sender(self, sender: TxSender) -> Any:
        """The same client, writing as ``sender``."""
        return type(self)(self.w3, self.address, sender, self.build)

    def _transact(self, fn: Any) -> Receipt:
        if self.sender is None:
            raise RuntimeError(f"{type(self).__name__} has no sender: use with_sender()")
        return self.sender.transact(fn)

    def _call(self, fn: Any) -> Any:
        if self.sender is not None:
            return self.sender.call(fn)
        return fn.call()


class RegistryClient(_Client):
    """AccessRegistry."""

    contract_name = "AccessRegistry"

    def register_organization(self, code: str, kind: OrgKind, name: str) -> Receipt:
        """Register an organization (registry admin)."""
        return self._transact(self.contract.functions.registerOrganization(org_id(code), int(kind), name))

    def update_organization(self, code: str, *, active: bool, vault: str | None) -> Receipt:
        """Activate/deactivate an organization and set its vault (registry admin)."""
        vault_address = to_checksum_address(vault) if vault else "0x" + "00" * 20
        return self._transact(self.contract.functions.updateOrganization(org_id(code), active, vault_address))

    def bind_account(self, account: str, code: str) -> Receipt:
        """Bind an account to an organization (registry admin)."""
        return self._transact(self.contract.functions.bindAccount(to_checksum_address(account), org_id(code)))

    def unbind_account(self, account: str) -> Receipt:
        """Release an account that holds no role (registry admin)."""
        return self._transact(self.contract.functions.unbindAccount(to_checksum_address(account)))

    def grant_role(self, role: Role, account: str) -> Receipt:
        """Grant a role (registry admin, or a ministry admin inside its ministry)."""
        return self._transact(self.contract.functions.grantRole(role.id, to_checksum_address(account)))

    def revoke_role(self, role: Role, account: str) -> Receipt:
        """Revoke a role."""
        return self._transact(self.contract.functions.revokeRole(role.id, to_checksum_address(account)))

    def organization(self, code: str) -> Organization | None:
        """The organization with this code, or None."""
        kind, active, vault = self._call(self.contract.functions.organization(org_id(code)))
        if kind == 0:
            return None
        return Organization(code=code, kind=OrgKind(kind), active=active, vault=None if int(vault, 16) == 0 else vault)

    def organization_of(self, account: str) -> str | None:
        """The code of the account's organization, or None if unbound."""
        raw = self._call(self.contract.functions.organizationOf(to_checksum_address(account)))
        return org_code(raw) if any(raw) else None

    def has_role(self, role: Role, account: str) -> bool:
        """True if the account holds the role (whatever its organization's state)."""
        return bool(self._call(self.contract.functions.hasRole(role.id, to_checksum_address(account))))

    def has_active_role(self, role: Role, account: str) -> bool:
        """True if the account holds the role and its organization is active."""
        return bool(self._call(self.contract.functions.hasActiveRole(role.id, to_checksum_address(account))))

    def roles_of(self, account: str) -> tuple[Role, ...]:
        """Every ledger role the account holds."""
        return tuple(role for role in Role if self.has_role(role, account))

    def nonce(self, signer: str) -> int:
        """The signer's next EIP-712 nonce."""
        return int(self._call(self.contract.functions.nonces(to_checksum_address(signer))))

    def escrow_of(self, procurement_id: bytes, ministry: str | None = None) -> str | None:
        """The escrow of a procurement id of ``ministry`` (procurement ids are scoped by ministry), or None.

        Without a ministry: the one escrow registered under this id by any ministry (found from the registry's
        EscrowRegistered events); ConfigurationError if several ministries use the id.
        """
        if ministry is None:
            return self._escrow_of_any_ministry(procurement_id)
        key = [org_id(ministry), procurement_id]
        decoded = None
        if self.sender is None:  # a plain read: one eth_call, past web3's contract machinery
            signature = "escrowOf(bytes32,bytes32)"
            decoded = _lean_call(self.w3, self.address, signature, ["bytes32", "bytes32"], key, ["address"])
        address = decoded[0] if decoded is not None else self._call(self.contract.functions.escrowOf(*key))
        return None if int(address, 16) == 0 else str(to_checksum_address(address))

    def _escrow_of_any_ministry(self, procurement_id: bytes) -> str | None:
        found = self.contract.events.EscrowRegistered().get_logs(
            from_block=0, argument_filters={"procurementId": procurement_id}
        )
        escrows = {str(log["args"]["escrow"]): org_code(log["args"]["ministryOrg"]) for log in found}
        if len(escrows) > 1:
            ministries = ", ".join(sorted(escrows.values()))
            raise ConfigurationError(f"procurement id 0x{procurement_id.hex()} is used by {ministries}: name one")
        return next(iter(escrows), None)

    def invalidate_nonces(self, new_nonce: int) -> Receipt:
        """Use up the sender's nonces below ``new_nonce``: its outstanding signatures can no longer be relayed."""
        return self._transact(self.contract.functions.invalidateNonces(new_nonce))

    def is_admin(self, account: str) -> bool:
        """True if the account is the registry admin."""
        admin_role = b"\x00" * 32
        return bool(self._call(self.contract.functions.hasRole(admin_role, to_checksum_address(account))))


class TokenClient(_Client):
    """YenToken."""

    contract_name = "YenToken"

    def balance_of(self, account: str) -> int:
        """Yen held by the account."""
        return int(self._call(self.contract.functions.balanceOf(to_checksum_address(account))))

    def allowance(self, owner: str, spender: str) -> int:
        """Yen ``spender`` may pull from ``owner``."""
        fn = self.contract.functions.allowance(to_checksum_address(owner), to_checksum_address(spender))
        return int(self._call(fn))

    def total_supply(self) -> int:
        """All yen minted."""
        return int(self._call(self.contract.functions.totalSupply()))

    def mint(self, to: str, amount: int, appropriation: bytes) -> Receipt:
        """Mint yen against an appropriation (treasury)."""
        return self._transact(self.contract.functions.mint(to_checksum_address(to), amount, appropriation))

    def approve(self, spender: str, amount: int) -> Receipt:
        """Let ``spender`` pull up to ``amount`` yen."""
        return self._transact(self.contract.functions.approve(to_checksum_address(spender), amount))

    def transfer(self, to: str, amount: int) -> Receipt:
        """Send yen to another registered account."""
        return self._transact(self.contract.functions.transfer(to_checksum_address(to), amount))


class FactoryClient(_Client):
    """ProcurementFactory."""

    contract_name = "ProcurementFactory"

    def create(self, spec: ProcurementSpec, fund: int) -> CreatedProcurement:
        """Create a procurement escrow and pay ``fund`` yen into it (the factory must be approved)."""
        receipt = self._transact(self.contract.functions.createProcurement(spec.as_tuple(), fund))
        (created,) = self.contract.events.ProcurementCreated().process_receipt(receipt.raw, errors=DISCARD)
        return CreatedProcurement(
            procurement_id=bytes(created["args"]["procurementId"]),
            escrow=str(created["args"]["escrow"]),
            funded=int(created["args"]["funded"]),
            receipt=receipt,
        )

    def implementation(self) -> str:
        """The escrow implementation the clones delegate to."""
        return str(self._call(self.contract.functions.implementation()))

    def created_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[dict[str, Any]]:
        """Every ProcurementCreated event in a block range, oldest first."""
        logs = self.contract.events.ProcurementCreated().get_logs(from_block=from_block, to_block=to_block)
        return [dict(log["args"]) | {"blockNumber": log["blockNumber"]} for log in logs]


def _terms(t: Any) -> Terms:
    return Terms(
        procurement_id=bytes(t[0]),
        ministry=org_code(t[1]),
        supplier_org=org_code(t[2]),
        supplier=str(to_checksum_address(t[3])),
        officer=str(to_checksum_address(t[4])),
        token=str(to_checksum_address(t[5])),
        registry=str(to_checksum_address(t[6])),
        quorum=int(t[7]),
        evaluators=tuple(str(to_checksum_address(e)) for e in t[8]),
        ruling_period=int(t[9]),
        grace_period=int(t[10]),
    )


def _lean_call(w3: Web3, to: str, signature: str, args_types: list[str], args: list[Any], outputs: list[str]) -> Any:
    """A view call in one plain ``eth_call`` (no web3 contract object, no request stack), decoded; None when it
    cannot be made that way or fails (the caller then goes through web3, which raises the decoded error)."""
    rpc = lean_rpc(w3)
    if rpc is None:
        return None
    data = "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(args_types, args)).hex()
    try:
        result = rpc.request("eth_call", [{"to": to, "data": data}, "latest"]).get("result")
        if isinstance(result, str) and len(result) > 2:
            return abi_decode(outputs, bytes.fromhex(result[2:]))
    except (ConnectionError, TimeoutError, ValueError, DecodingError):
        pass
    return None


def read_terms(w3: Web3, escrow: str, build: Build | None = None) -> Terms:
    """An escrow's fixed terms, read without building a web3 contract object (``EscrowClient.terms`` otherwise)."""
    build = build or compile_contracts()
    entry = next(e for e in build["MilestoneEscrow"].abi if e.get("type") == "function" and e["name"] == "terms")
    decoded = _lean_call(w3, escrow, "terms()", [], [], [collapse_if_tuple(dict(o)) for o in entry["outputs"]])
    if decoded is not None:
        return _terms(decoded[0])
    return EscrowClient(w3, escrow, None, build).terms()


class EscrowClient(_Client):
    """MilestoneEscrow (one per procurement)."""

    contract_name = "MilestoneEscrow"

    def terms(self) -> Terms:
        """The fixed terms."""
        return _terms(self._call(self.contract.functions.terms()))

    def milestone_count(self) -> int:
        """How many milestones."""
        return int(self._call(self.contract.functions.milestoneCount()))

    def milestone(self, index: int) -> Milestone:
        """One milestone's state."""
        m = self._call(self.contract.functions.milestone(index))
        return Milestone(
            index=index,
            amount=int(m[0]),
            due_date=int(m[1]),
            status=MilestoneStatus(m[2]),
            round=int(m[3]),
            passes=int(m[4]),
            fails=int(m[5]),
            owed=int(m[6]),
            ministry_owed=int(m[7]),
            dispute_lapses_at=int(m[8]),
        )

    def milestones(self) -> tuple[Milestone, ...]:
        """Every milestone's state."""
        return tuple(self.milestone(i) for i in range(self.milestone_count()))

    def totals(self) -> Totals:
        """The books."""
        funded, released, refunded, owed = self._call(self.contract.functions.totals())
        return Totals(funded=int(funded), released=int(released), refunded=int(refunded), owed=int(owed))

    def paused(self) -> bool:
        """Whether releases are paused."""
        return bool(self._call(self.contract.functions.paused()))

    def paused_until(self) -> int:
        """When the current pause ends (0 or a past time if releases are not paused)."""
        return int(self._call(self.contract.functions.pausedUntil()))

    def amendment(self, amendment_id: int) -> Amendment:
        """A proposed amendment."""
        a = self._call(self.contract.functions.amendment(amendment_id))
        return Amendment(
            amendment_id=amendment_id,
            milestone_id=int(a[0]),
            kind=AmendmentKind(a[1]),
            executed=bool(a[2]),
            proposer=str(a[3]),
            new_due_date=int(a[4]),
            new_amount=int(a[5]),
            rationale_hash=bytes(a[6]),
            supplier_consented=bool(a[7]),
        )

    def shortfall(self) -> int:
        """Yen still needed to cover the open milestones."""
        return int(self._call(self.contract.functions.shortfall()))

    def fund(self, amount: int) -> Receipt:
        """Pay ``amount`` yen in (officer; the escrow must be approved for it)."""
        return self._transact(self.contract.functions.fund(amount))

    def submit_evidence(self, milestone: int, document_hash: bytes, uri: str) -> Receipt:
        """Submit evidence for a milestone (supplier)."""
        return self._transact(self.contract.functions.submitEvidence(milestone, document_hash, uri))

    def attest(self, milestone: int, round_: int, passed: bool, report_hash: bytes) -> Receipt:
        """Attest a milestone's current round (panel evaluator)."""
        return self._transact(self.contract.functions.attest(milestone, round_, passed, report_hash))

    def reclaim(self, milestone: int) -> Receipt:
        """Reclaim an expired unmet milestone (officer)."""
        return self._transact(self.contract.functions.reclaim(milestone))

    def claim_payment(self, milestone: int) -> Receipt:
        """Pay an owed milestone to the supplier (anyone)."""
        return self._transact(self.contract.functions.claimPayment(milestone))

    def claim_refund(self, milestone: int) -> Receipt:
        """Pay the ministry's owed share of a milestone to its vault (anyone)."""
        return self._transact(self.contract.functions.claimRefund(milestone))

    def pause_until(self, until: int) -> Receipt:
        """Pause releases until ``until`` (at most 90 days ahead), or renew a pause (ministry admin)."""
        return self._transact(self.contract.functions.pauseUntil(until))

    def resume(self) -> Receipt:
        """End a pause early (ministry admin)."""
        return self._transact(self.contract.functions.resume())

    def approve_amendment(self, amendment: Amendment) -> Receipt:
        """Approve a proposed amendment, naming its full content (a second officer)."""
        return self._transact(self.contract.functions.approveAmendment(amendment.amendment_id, *amendment.content()))

    def consent_to_amendment(self, amendment: Amendment) -> Receipt:
        """Consent to a proposed amendment, naming its full content (the supplier)."""
        fn = self.contract.functions.consentToAmendment(amendment.amendment_id, *amendment.content())
        return self._transact(fn)

    def lapse_dispute(self, milestone: int) -> Receipt:
        """Lapse a dispute no review body ruled on within the ruling period (anyone)."""
        return self._transact(self.contract.functions.lapseDispute(milestone))

    def redirect_owed(self, milestone: int, to: str | None, ruling_hash: bytes) -> Receipt:
        """Rule that an off-boarded supplier's owed yen go to a successor account, or (None) to the ministry."""
        target = to_checksum_address(to) if to else "0x" + "00" * 20
        return self._transact(self.contract.functions.redirectOwed(milestone, target, ruling_hash))

    def relay(self, function_name: str, args: list[Any]) -> Receipt:
        """Send a ``...BySig`` call with prepared arguments (see chain.eip712.Action.call_args)."""
        return self._transact(getattr(self.contract.functions, function_name)(*args))


def system_clients(
    w3: Web3, system: SystemAddresses, sender: TxSender | None = None, build: Build | None = None
) -> tuple[RegistryClient, TokenClient, FactoryClient]:
    """The three system clients for a deployment."""
    build = build or compile_contracts()
    return (
        RegistryClient(w3, system.registry, sender, build),
        TokenClient(w3, system.token, sender, build),
        FactoryClient(w3, system.factory, sender, build),
    )
