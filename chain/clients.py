"""One typed client per contract: snake_case methods, results as frozen dataclasses, reverts as exceptions."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chain._compiler import Build, compile_contracts
from chain._tx import Receipt, TxSender, reply_result
from chain.abi import CallEncoder, ContractCodec, checksum
from chain.budget import AppropriationAct, CarryOverKind, ItemKey, LineKey
from chain.logs import EventDecoder
from chain.roles import OrgKind, Role, org_code, org_id
from chain.system import SystemAddresses
from chain.transport import Transport

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "DEFAULT_RULING_PERIOD",
    "GRACE_PERIOD_RANGE",
    "MAX_AMOUNT",
    "RULING_PERIOD_RANGE",
    "Amendment",
    "AmendmentKind",
    "BudgetClient",
    "BudgetItem",
    "BudgetLine",
    "BudgetOfficeClient",
    "CreatedProcurement",
    "EscrowClient",
    "EvidenceSubmission",
    "FactoryClient",
    "Milestone",
    "MilestoneStatus",
    "Obligation",
    "Organization",
    "ProcurementSpec",
    "Redirect",
    "RegistryClient",
    "Terms",
    "TokenClient",
    "Totals",
    "budget_clients",
    "sorted_panel",
    "system_clients",
]


# The contracts' limits (contracts/libraries/EscrowLimits.sol, published by ProcurementFactory; a test compares).
DAY = 86_400
MAX_AMOUNT = 2**58 - 1  # largest milestone amount in yen: 64 milestones of it fit the escrow's 64-bit books
DEFAULT_RULING_PERIOD = 30 * DAY  # a dispute lapses if no review body rules within it
RULING_PERIOD_RANGE = (7 * DAY, 365 * DAY)
DEFAULT_GRACE_PERIOD = 90 * DAY  # between a ruling redirecting an off-boarded supplier's owed yen and its execution
GRACE_PERIOD_RANGE = (30 * DAY, 730 * DAY)


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
class EvidenceSubmission:
    """An EvidenceSubmitted event: a round's document for a milestone, and where it was mined."""

    milestone_id: int
    round: int
    supplier: str
    document_hash: str  # 0x-hex
    uri: str
    block_number: int
    tx_hash: str
    log_index: int


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
    owed to the supplier."""

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

    def signed_content(self) -> dict[str, Any]:
        """The full content by its EIP-712 field names (ApproveAmendment, ConsentToAmendment)."""
        names = ("milestoneId", "kind", "newAmount", "newDueDate", "rationaleHash")
        return dict(zip(names, self.content(), strict=True))


@dataclass(frozen=True)
class Redirect:
    """A review body's ruling that an off-boarded supplier's owed yen on a milestone go elsewhere."""

    to: str | None  # the supplier organization's successor account, or None: back to the ministry
    executable_at: int  # when claimPayment may carry it out (0: no ruling)
    ruling_hash: bytes


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
            checksum(self.supplier),
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
    return [checksum(e) for e in sorted(evaluators, key=lambda e: int(e, 16))]


@dataclass(frozen=True)
class CreatedProcurement:
    """The result of creating a procurement."""

    procurement_id: bytes
    escrow: str
    funded: int
    receipt: Receipt


@dataclass(frozen=True, slots=True)
class _Call:
    """One encoded call of a contract function at an address, and how to decode its result."""

    to: str
    data: bytes
    encoder: CallEncoder


class _Functions:
    """``functions.name(*args)``: the encoded call of function ``name`` (the contract's codec does the ABI)."""

    def __init__(self, codec: ContractCodec, address: str) -> None:
        self._codec = codec
        self._address = address

    def __getattr__(self, name: str) -> Callable[..., _Call]:
        if name.startswith("_"):  # no contract function: what copy, pickle and hasattr probe for
            raise AttributeError(name)
        encoder = self._codec.function(name)
        address = self._address
        return lambda *args: _Call(address, encoder.encode(args), encoder)


class _Contract:
    """A compiled contract at an address: ``contract.functions.f(*args)`` is the call to read or send."""

    def __init__(self, codec: ContractCodec, address: str) -> None:
        self.address = checksum(address)
        self.functions = _Functions(codec, self.address)


class _Client:
    """Common plumbing: the contract's calls, the transport for reads, an optional sender for writes."""

    contract_name = ""

    def __init__(self, rpc: Transport, address: str, sender: TxSender | None = None, build: Build | None = None):
        self.rpc = rpc
        self.build = build or compile_contracts()
        self.contract = _Contract(self.build.codec(self.contract_name), address)
        self.sender = sender

    @property
    def address(self) -> str:
        """The contract's checksum address."""
        return self.contract.address

    def with_sender(self, sender: TxSender) -> Any:
        """The same client, writing as ``sender``."""
        return type(self)(self.rpc, self.address, sender, self.build)

    def _transact(self, call: _Call) -> Receipt:
        if self.sender is None:
            raise RuntimeError(f"{type(self).__name__} has no sender: use with_sender()")
        return self.sender.send_data(call.to, call.data)

    def _call(self, call: _Call) -> Any:
        """The decoded result of a view call (one value, or a tuple of several); a revert is raised decoded."""
        if self.sender is not None:
            raw = self.sender.call_data(call.to, call.data)
        else:
            reply = self.rpc.request("eth_call", [{"to": call.to, "data": "0x" + call.data.hex()}, "latest"])
            raw = bytes.fromhex(str(reply_result(reply, self.build.error_decoder()))[2:])
        values = call.encoder.decode(raw)
        return values[0] if len(values) == 1 else values


class RegistryClient(_Client):
    """AccessRegistry."""

    contract_name = "AccessRegistry"

    def register_organization(self, code: str, kind: OrgKind, name: str) -> Receipt:
        """Register an organization (registry admin)."""
        return self._transact(self.contract.functions.registerOrganization(org_id(code), int(kind), name))

    def update_organization(self, code: str, *, active: bool, vault: str | None) -> Receipt:
        """Activate/deactivate an organization and set its vault (registry admin)."""
        vault_address = checksum(vault) if vault else "0x" + "00" * 20
        return self._transact(self.contract.functions.updateOrganization(org_id(code), active, vault_address))

    def bind_account(self, account: str, code: str) -> Receipt:
        """Bind an account to an organization (registry admin)."""
        return self._transact(self.contract.functions.bindAccount(checksum(account), org_id(code)))

    def unbind_account(self, account: str) -> Receipt:
        """Release an account that holds no role (registry admin)."""
        return self._transact(self.contract.functions.unbindAccount(checksum(account)))

    def grant_role(self, role: Role, account: str) -> Receipt:
        """Grant a role (registry admin, or a ministry admin inside its ministry)."""
        return self._transact(self.contract.functions.grantRole(role.id, checksum(account)))

    def revoke_role(self, role: Role, account: str) -> Receipt:
        """Revoke a role."""
        return self._transact(self.contract.functions.revokeRole(role.id, checksum(account)))

    def organization(self, code: str) -> Organization | None:
        """The organization with this code, or None."""
        kind, active, vault = self._call(self.contract.functions.organization(org_id(code)))
        if kind == 0:
            return None
        return Organization(code=code, kind=OrgKind(kind), active=active, vault=None if int(vault, 16) == 0 else vault)

    def organization_of(self, account: str) -> str | None:
        """The code of the account's organization, or None if unbound."""
        raw = self._call(self.contract.functions.organizationOf(checksum(account)))
        return org_code(raw) if any(raw) else None

    def has_role(self, role: Role, account: str) -> bool:
        """True if the account holds the role (whatever its organization's state)."""
        return bool(self._call(self.contract.functions.hasRole(role.id, checksum(account))))

    def has_active_role(self, role: Role, account: str) -> bool:
        """True if the account holds the role and its organization is active."""
        return bool(self._call(self.contract.functions.hasActiveRole(role.id, checksum(account))))

    def roles_of(self, account: str) -> tuple[Role, ...]:
        """Every ledger role the account holds."""
        return tuple(role for role in Role if self.has_role(role, account))

    def nonce(self, signer: str) -> int:
        """The signer's next EIP-712 nonce."""
        return int(self._call(self.contract.functions.nonces(checksum(signer))))

    def escrow_of(self, ministry: str, procurement_id: bytes) -> str | None:
        """The escrow of ``ministry``'s procurement id, or None (procurement ids are scoped by ministry)."""
        address = self._call(self.contract.functions.escrowOf(org_id(ministry), procurement_id))
        return None if int(address, 16) == 0 else str(address)

    def escrows_registered(self, procurement_id: bytes, from_block: int = 0) -> tuple[str, ...]:
        """The escrows registered under a procurement id by any ministry (an id is unique within its ministry
        only: usually one, possibly none), oldest first."""
        return tuple(
            dict.fromkeys(escrow for _, escrow in self.registrations(from_block, procurement_id=procurement_id))
        )

    def registrations(
        self, from_block: int, to_block: int | None = None, *, procurement_id: bytes | None = None
    ) -> list[tuple[bytes, str]]:
        """(procurement id, escrow) of every escrow registered in blocks ``from_block`` to ``to_block`` (the
        latest if None), oldest first, from the EscrowRegistered events; one procurement id's only if given (the
        id is an indexed topic)."""
        query = {
            "address": self.address,
            "fromBlock": hex(from_block),
            "toBlock": "latest" if to_block is None else hex(to_block),
            "topics": [
                self.build.codec(self.contract_name).topic("EscrowRegistered"),
                None,
                None if procurement_id is None else "0x" + procurement_id.hex(),
            ],
        }
        logs = self.rpc.result("eth_getLogs", [query]) or []
        return [(bytes.fromhex(log["topics"][2][2:]), checksum("0x" + log["topics"][3][-40:])) for log in logs]

    def procurement_of(self, escrow: str) -> bytes | None:
        """The procurement id an escrow of this ledger was registered under, or None (not one of its escrows)."""
        raw = bytes(self._call(self.contract.functions.procurementOf(checksum(escrow))))
        return raw if any(raw) else None

    def invalidate_nonces(self, new_nonce: int) -> Receipt:
        """Use up the sender's nonces below ``new_nonce``: its outstanding signatures can no longer be relayed."""
        return self._transact(self.contract.functions.invalidateNonces(new_nonce))

    def is_admin(self, account: str) -> bool:
        """True if the account is the registry admin."""
        admin_role = b"\x00" * 32
        return bool(self._call(self.contract.functions.hasRole(admin_role, checksum(account))))


class TokenClient(_Client):
    """YenToken."""

    contract_name = "YenToken"

    def balance_of(self, account: str) -> int:
        """Yen held by the account."""
        return int(self._call(self.contract.functions.balanceOf(checksum(account))))

    def allowance(self, owner: str, spender: str) -> int:
        """Yen ``spender`` may pull from ``owner``."""
        fn = self.contract.functions.allowance(checksum(owner), checksum(spender))
        return int(self._call(fn))

    def total_supply(self) -> int:
        """All yen minted."""
        return int(self._call(self.contract.functions.totalSupply()))

    def approve(self, spender: str, amount: int) -> Receipt:
        """Let ``spender`` pull up to ``amount`` yen."""
        return self._transact(self.contract.functions.approve(checksum(spender), amount))

    def transfer(self, to: str, amount: int) -> Receipt:
        """Send yen to another registered account."""
        return self._transact(self.contract.functions.transfer(checksum(to), amount))


class FactoryClient(_Client):
    """ProcurementFactory."""

    contract_name = "ProcurementFactory"

    def create(
        self, spec: ProcurementSpec, fund: int, line: LineKey, authority: bytes = b"\x00" * 32
    ) -> CreatedProcurement:
        """Create a procurement escrow obligating ``line`` (later years' parts under the multi-year ``authority``),
        with ``fund`` yen of the obligation minted into it."""
        call = self.contract.functions.createProcurement(spec.as_tuple(), fund, line.as_tuple(), authority)
        receipt = self._transact(call)
        (created,) = self._created(receipt.logs)
        return CreatedProcurement(
            procurement_id=bytes.fromhex(created["procurementId"][2:]),
            escrow=str(created["escrow"]),
            funded=int(created["funded"]),
            receipt=receipt,
        )

    def implementation(self) -> str:
        """The escrow implementation the clones delegate to."""
        return str(self._call(self.contract.functions.implementation()))

    def created_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[dict[str, Any]]:
        """Every ProcurementCreated event in a block range, oldest first."""
        topic = self.build.codec(self.contract_name).topic("ProcurementCreated")
        query = {
            "address": self.address,
            "fromBlock": hex(from_block),
            "toBlock": to_block if isinstance(to_block, str) else hex(to_block),
            "topics": [topic],
        }
        return self._created(self.rpc.result("eth_getLogs", [query]))

    def _created(self, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The ProcurementCreated events among ``logs`` that this factory emitted (arguments, and blockNumber)."""
        decoder = EventDecoder(self.build)
        found = []
        for log in logs:
            if checksum(str(log["address"])) != self.address:
                continue
            decoded = decoder.decode(log, "factory", self.rpc.chain_id)
            if decoded is not None and decoded.event == "ProcurementCreated":
                found.append(dict(decoded.args) | {"blockNumber": decoded.block_number})
        return found


def _terms(t: Any) -> Terms:
    return Terms(
        procurement_id=bytes(t[0]),
        ministry=org_code(t[1]),
        supplier_org=org_code(t[2]),
        supplier=str(checksum(t[3])),
        officer=str(checksum(t[4])),
        token=str(checksum(t[5])),
        registry=str(checksum(t[6])),
        quorum=int(t[7]),
        evaluators=tuple(checksum(e) for e in t[8]),
        ruling_period=int(t[9]),
        grace_period=int(t[10]),
    )


class EscrowClient(_Client):
    """MilestoneEscrow (one per procurement)."""

    contract_name = "MilestoneEscrow"

    def terms(self) -> Terms:
        """The fixed terms."""
        return _terms(self._call(self.contract.functions.terms()))

    def milestone_count(self) -> int:
        """How many milestones."""
        return int(self._call(self.contract.functions.milestoneCount()))

    def evidence_submitted(self, milestone_id: int, from_block: int = 0) -> list[EvidenceSubmission]:
        """The evidence submitted for a milestone, in chain order, from its EvidenceSubmitted events (the milestone
        is a topic)."""
        query = {
            "address": self.address,
            "fromBlock": hex(from_block),
            "toBlock": "latest",
            "topics": [
                self.build.codec(self.contract_name).topic("EvidenceSubmitted"),
                "0x" + milestone_id.to_bytes(32, "big").hex(),
            ],
        }
        decoder = EventDecoder(self.build)
        found = []
        for log in self.rpc.result("eth_getLogs", [query]) or []:
            decoded = decoder.decode(log, "escrow", self.rpc.chain_id)
            if decoded is None or decoded.event != "EvidenceSubmitted" or checksum(decoded.emitter) != self.address:
                continue
            a = decoded.args
            found.append(
                EvidenceSubmission(
                    milestone_id=int(a["milestoneId"]),
                    round=int(a["round"]),
                    supplier=checksum(str(a["supplier"])),
                    document_hash=str(a["documentHash"]),
                    uri=str(a["uri"]),
                    block_number=decoded.block_number,
                    tx_hash=decoded.tx_hash,
                    log_index=decoded.log_index,
                )
            )
        return found

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
            dispute_lapses_at=int(m[7]),
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

    def redirect(self, milestone: int) -> Redirect | None:
        """The pending redirect ruling on a milestone, or None."""
        to, executable_at, ruling_hash = self._call(self.contract.functions.redirect(milestone))
        if int(executable_at) == 0:
            return None
        target = None if int(to, 16) == 0 else str(checksum(to))
        return Redirect(to=target, executable_at=int(executable_at), ruling_hash=bytes(ruling_hash))

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
        target = checksum(to) if to else "0x" + "00" * 20
        return self._transact(self.contract.functions.redirectOwed(milestone, target, ruling_hash))

    def relay(self, function_name: str, args: list[Any]) -> Receipt:
        """Send a ``...BySig`` call with prepared arguments (see chain.eip712.Action.call_args)."""
        return self._transact(getattr(self.contract.functions, function_name)(*args))


@dataclass(frozen=True)
class BudgetItem:
    """An item's appropriation (IBudgetLedger.Item); yen."""

    initial_enacted: bool
    authorizations: int
    enacted: int
    appropriation: int
    distributed: int


@dataclass(frozen=True)
class BudgetLine:
    """A sub-item line's balances (IBudgetLedger.Line); yen. ``available`` = allotted - obligated - carry_over."""

    series: int
    exists: bool
    settled: bool
    allotted: int
    obligated: int
    disbursed: int
    carry_over: int
    available: int


@dataclass(frozen=True)
class Obligation:
    """A procurement's obligation (IBudgetLedger.Obligation); yen."""

    series: int
    fiscal_year: int
    obligated: int
    drawn: int
    planned: int


class BudgetClient(_Client):
    """BudgetLedger: appropriations, lines, obligations, year end."""

    contract_name = "BudgetLedger"

    def enact_appropriation(
        self, key: ItemKey, act: AppropriationAct, amount: int, authorizations: int, instrument_hash: bytes
    ) -> Receipt:
        """The finance authority enacts an item's initial budget, or a supplementary one (negative: a cut)."""
        call = self.contract.functions.enactAppropriation(
            key.as_tuple(), int(act), amount, authorizations, instrument_hash
        )
        return self._transact(call)

    def distribute(self, line: LineKey, change: int) -> Receipt:
        """A ministry's finance officer gives a sub-item line ``change`` yen of its item (negative: takes back)."""
        return self._transact(self.contract.functions.distribute(line.as_tuple(), change))

    def increase_obligation(self, escrow: str, amount: int) -> Receipt:
        """A procurement officer obligates ``amount`` more yen for an escrow whose need grew."""
        return self._transact(self.contract.functions.increaseObligation(checksum(escrow), amount))

    def approve_carry_over(self, line: LineKey, kind: CarryOverKind, amount: int, reason_hash: bytes) -> Receipt:
        """The finance authority approves carrying unobligated yen of a line into the next fiscal year."""
        call = self.contract.functions.approveCarryOver(line.as_tuple(), int(kind), amount, reason_hash)
        return self._transact(call)

    def close_fiscal_year(self, fiscal_year: int) -> Receipt:
        """The finance authority closes an ended fiscal year."""
        return self._transact(self.contract.functions.closeFiscalYear(fiscal_year))

    def settle_line(self, line: LineKey) -> Receipt:
        """Settle a line of a closed year (anyone): lapse, carry-overs and unpaid obligations move on."""
        return self._transact(self.contract.functions.settleLine(line.as_tuple()))

    def obligate_scheduled(self, escrow: str) -> Receipt:
        """Obligate a multi-year procurement's part for the current fiscal year (anyone)."""
        return self._transact(self.contract.functions.obligateScheduled(checksum(escrow)))

    def item(self, key: ItemKey) -> BudgetItem:
        """An item's appropriation."""
        values = self._call(self.contract.functions.item(key.as_tuple()))
        return BudgetItem(bool(values[0]), *(int(v) for v in values[1:]))

    def line(self, key: LineKey) -> BudgetLine:
        """A line's balances (``exists`` false for a line never distributed to)."""
        values = self._call(self.contract.functions.line(key.as_tuple()))
        return BudgetLine(int(values[0]), bool(values[1]), bool(values[2]), *(int(v) for v in values[3:]))

    def obligation(self, escrow: str) -> Obligation:
        """An escrow's obligation."""
        return Obligation(*(int(v) for v in self._call(self.contract.functions.obligation(checksum(escrow)))))

    def office(self) -> str:
        """The budget office."""
        return str(checksum(self._call(self.contract.functions.office())))


class BudgetOfficeClient(_Client):
    """BudgetOffice: transfer requests, cross-ministry grants, multi-year authorities, signed budget acts."""

    contract_name = "BudgetOffice"

    def authority_exists(self, authority_id: bytes) -> bool:
        """Whether a multi-year authority was enacted under ``authority_id``."""
        _, _, year_count, _, _ = self._call(self.contract.functions.authority(authority_id))
        return int(year_count) > 0

    def transfer_pending(self, transfer_id: int) -> bool:
        """Whether transfer ``transfer_id`` was requested and neither approved, refused nor withdrawn."""
        return bool(self._call(self.contract.functions.transferPending(transfer_id)))

    def transfer_count(self) -> int:
        """How many transfers were ever requested (the last one's id)."""
        return int(self._call(self.contract.functions.transferCount()))

    def requested_transfer(self, transfer_id: int, from_block: int = 0) -> dict[str, Any] | None:
        """Transfer ``transfer_id``'s content as its TransferRequested event gives it and as an approval, refusal or
        withdrawal names it (``request``, ``requester``, ``requestedAt``; codes as bytes32); None if never
        requested (in blocks from ``from_block``). Whether it is still pending is ``transfer_pending``'s to say."""
        from chain.logs import EventDecoder

        query = {
            "address": self.address,
            "fromBlock": hex(from_block),
            "toBlock": "latest",
            "topics": [self.build.codec(self.contract_name).topic("TransferRequested"), f"0x{transfer_id:064x}"],
        }
        logs = self.rpc.result("eth_getLogs", [query]) or []
        decoded = EventDecoder(self.build).decode(logs[-1], "budget_office", self.rpc.chain_id) if logs else None
        if decoded is None:
            return None

        def key(line: Mapping[str, Any]) -> dict[str, Any]:
            codes = ("ministry", "organization", "item", "subItem")
            return {"fiscalYear": int(line["fiscalYear"])} | {c: bytes.fromhex(str(line[c])[2:]) for c in codes}

        request = decoded.args["request"]
        content = {
            "from": key(request["from"]),
            "to": key(request["to"]),
            "amount": int(request["amount"]),
            "rationaleHash": bytes.fromhex(str(request["rationaleHash"])[2:]),
        }
        requester = checksum(decoded.args["requester"])
        return {"request": content, "requester": requester, "requestedAt": int(decoded.args["requestedAt"])}

    def request_transfer(self, source: LineKey, target: LineKey, amount: int, rationale_hash: bytes) -> Receipt:
        """A ministry's finance officer requests moving ``amount`` yen from one of its lines to another."""
        request = (source.as_tuple(), target.as_tuple(), amount, rationale_hash)
        return self._transact(self.contract.functions.requestTransfer(request))

    def approve_transfer(
        self, transfer_id: int, request: tuple[Any, ...], requester: str, requested_at: int
    ) -> Receipt:
        """The finance authority approves a pending transfer, naming its content (from TransferRequested)."""
        call = self.contract.functions.approveTransfer(transfer_id, request, checksum(requester), requested_at)
        return self._transact(call)

    def refuse_transfer(
        self, transfer_id: int, request: tuple[Any, ...], requester: str, requested_at: int, reason_hash: bytes
    ) -> Receipt:
        """The finance authority refuses a pending transfer, with the hash of its reason."""
        call = self.contract.functions.refuseTransfer(
            transfer_id, request, checksum(requester), requested_at, reason_hash
        )
        return self._transact(call)

    def withdraw_transfer(
        self, transfer_id: int, request: tuple[Any, ...], requester: str, requested_at: int
    ) -> Receipt:
        """A finance officer of the ministry withdraws a pending transfer."""
        call = self.contract.functions.withdrawTransfer(transfer_id, request, checksum(requester), requested_at)
        return self._transact(call)

    def grant_access(self, line: LineKey, grantee: bytes, kind: int, cap: int, expires_at: int) -> Receipt:
        """A finance officer grants another ministry a right on one of its lines (1: view, 2: obligate up to cap)."""
        return self._transact(self.contract.functions.grantAccess(line.as_tuple(), grantee, kind, cap, expires_at))

    def revoke_access(self, line: LineKey, grantee: bytes) -> Receipt:
        """A finance officer revokes another ministry's right on one of its lines."""
        return self._transact(self.contract.functions.revokeAccess(line.as_tuple(), grantee))

    def enact_authority(
        self, authority_id: bytes, line: LineKey, ceiling: int, schedule: list[int], instrument_hash: bytes
    ) -> Receipt:
        """The finance authority enacts a multi-year obligation authority."""
        terms = (line.as_tuple(), ceiling, schedule)
        return self._transact(self.contract.functions.enactAuthority(authority_id, terms, instrument_hash))

    def relay(self, function_name: str, args: list[Any]) -> Receipt:
        """Send a signed budget act (``...BySig``) with prepared arguments."""
        return self._transact(getattr(self.contract.functions, function_name)(*args))


def system_clients(
    rpc: Transport, system: SystemAddresses, sender: TxSender | None = None, build: Build | None = None
) -> tuple[RegistryClient, TokenClient, FactoryClient]:
    """The three system clients for a deployment."""
    build = build or compile_contracts()
    return (
        RegistryClient(rpc, system.registry, sender, build),
        TokenClient(rpc, system.token, sender, build),
        FactoryClient(rpc, system.factory, sender, build),
    )


def budget_clients(
    rpc: Transport, system: SystemAddresses, sender: TxSender | None = None, build: Build | None = None
) -> tuple[BudgetClient, BudgetOfficeClient]:
    """The budget ledger's and budget office's clients for a deployment."""
    build = build or compile_contracts()
    return BudgetClient(rpc, system.budget, sender, build), BudgetOfficeClient(rpc, system.budget_office, sender, build)
