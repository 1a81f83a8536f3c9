"""The signed actions: one declaration per EIP-712 action a contract takes through a ``...BySig`` function.

A declaration (``ActionType``) says everything about an action once: the contract and EIP-712 domain it is
signed for, its primary type and fields (in the order of the contract's type hash), the function that relays
it, who may sign it, the most gas it can cost, and the words people use for it. Everything else follows from
``ACTIONS``:

* the typed data to sign and its hashing (``chain/eip712.py``; ``ACTION_TYPES`` there is derived from here);
* the gateway's request schemas, routes and OpenAPI document, the role each route requires and the gas limit
  the relayer sends with (``gateway/schemas/actions.py``, ``gateway/api/routes/actions.py``);
* the ``procure client`` commands (``scripts/cli_client.py``), and the budget office's acts' ``procure budget``
  commands (``scripts/cli_budget.py``), and the client's check of the typed data it is asked to sign
  (``gateway/client.py``).

A new signed action is one entry in ``ACTIONS`` (an action of a contract with a domain of its own is one
``SignedContract`` more; a field that nests a struct names its ``StructType``, as the budget office's acts do).
``tests/chain/test_actions.py`` fails until every ``...BySig`` function in the build has its entry and every
entry agrees with its function's ABI.

Standard library only (and chain.roles, chain.errors): ``procure --help`` lists the client commands made
from it without loading web3 or eth-utils.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from chain.errors import ConfigurationError, SignatureError
from chain.roles import Role, org_id

__all__ = [
    "ACCESS_REGISTRY",
    "ACTIONS",
    "BUDGET_MAX_YEN",
    "BUDGET_OFFICE",
    "MILESTONE_ESCROW",
    "ROLE_NAMES",
    "ActionField",
    "ActionType",
    "FieldKind",
    "SignedContract",
    "StructType",
    "ni_uri",
]


@dataclass(frozen=True)
class SignedContract:
    """A contract that takes signed actions: its name in the build and its EIP-712 domain (name and version).

    The domain's ``verifyingContract`` is the address of the contract acted on (for an escrow action, the
    procurement's escrow) and its ``chainId`` the chain's: both are given when typed data is made.
    """

    name: str
    domain_name: str
    domain_version: str = "1"


MILESTONE_ESCROW = SignedContract("MilestoneEscrow", "ProcurementEscrow")
ACCESS_REGISTRY = SignedContract("AccessRegistry", "ProcurementRegistry")
# The budget ledger's acts are signed for its office, which checks the signature and forwards the act.
BUDGET_OFFICE = SignedContract("BudgetOffice", "ProcurementBudget")


class FieldKind(enum.Enum):
    """What a field means beyond its EIP-712 type: how the API takes it and how a command asks for it."""

    NUMBER = "number"  # an unsigned integer: an id, a date (unix time), a fiscal year, a set of flags
    TIME = "time"  # a moment, signed as unix seconds (uint64); a command takes a date (end of day JST) or a time
    YEN = "yen"  # an amount of yen (no minor unit); int256: a change, negative for a cut; uint256[]: one per year
    ROUND = "round"  # a milestone's round; a command defaults it to the milestone's current round
    FLAG = "flag"  # yes or no, said in two ``words`` (pass or fail)
    CHOICE = "choice"  # one of ``choices`` by name, signed as its index (a Solidity enum)
    ADDRESS = "address"  # an account or contract address
    HASH = "hash"  # the SHA-256 of a document (a report, a rationale, a ruling); a command hashes a file
    DOCUMENT = "document"  # the SHA-256 of a document the signer's organization uploaded to the evidence store
    DOCUMENT_URI = "document-uri"  # where the action's DOCUMENT can be fetched; default: its RFC 6920 ni: URI
    CODE = "code"  # an organization's or a budget classification's code (1 to 16 ASCII characters, in a bytes32)
    STRUCT = "struct"  # a record of the field's ``struct``'s fields (an EIP-712 struct type, an ABI tuple)
    ROLE = "role"  # a role by its kebab-case name (procurement-officer, ...), signed as its bytes32 id (Roles.sol)


@dataclass(frozen=True)
class ActionField:
    """One field of a signed action (nonce and deadline, which every action has, are not listed)."""

    name: str  # the EIP-712 name; the API's name too, and in kebab-case a command's option
    type: str  # the EIP-712 type
    kind: FieldKind
    default: int | None = None  # the value when a request leaves it out (None: it is required)
    choices: tuple[str, ...] = ()  # CHOICE: the names, by value
    words: tuple[str, str] = ("yes", "no")  # FLAG: how a command says true and false
    max_length: int | None = None  # a string's limit in the contract
    argument: str | None = None  # a command takes it as this positional argument (else as an option)
    fallback: tuple[str, ...] | None = None  # HASH: if a command is given no file, the SHA-256 of these fields
    # The stored amendment's value (the one the action's ``amendmentId`` names): a request may leave it out, and
    # the gateway fills it from the chain so that the signer signs what will be executed; a value given must be
    # the stored one. The contract refuses any other content (EscrowAmendmentMismatch).
    from_amendment: bool = False
    # Likewise the pending transfer's (the one ``transferId`` names), from the mirror's record of its request;
    # the office refuses any other content (BudgetUnknownTransfer).
    from_transfer: bool = False
    struct: StructType | None = None  # STRUCT: the nested struct (``type`` is its name)
    maximum: int | None = None  # YEN: the most the contract takes (an int256 change: also the most it cuts)

    @property
    def stored(self) -> bool:
        """Whether the gateway fills this field in from a stored record when a request leaves it out."""
        return self.from_amendment or self.from_transfer

    @property
    def abi_type(self) -> str:
        """The field's canonical ABI type: a struct as the tuple of its fields' types."""
        if self.struct is None:
            return self.type
        return "(" + ",".join(f.abi_type for f in self.struct.fields) + ")"

    @property
    def option(self) -> str:
        """The command-line option: ``--new-amount``; a hash field by what it is the hash of: ``--report``."""
        words = self.name.removesuffix("Hash") if self.kind is FieldKind.HASH else self.name
        return "--" + "".join(f"-{c.lower()}" if c.isupper() else c for c in words)


@dataclass(frozen=True)
class StructType:
    """A struct an action's field nests: its EIP-712 type name (the Solidity struct's) and its fields in order."""

    name: str
    fields: tuple[ActionField, ...]

    @cached_property
    def dependencies(self) -> dict[str, StructType]:
        """Every struct this one nests, directly or not, by name."""
        return _dependencies(self.fields)

    @cached_property
    def encode_type(self) -> str:
        """EIP-712's ``encodeType``: this struct's member list, then each struct it nests, sorted by name."""
        return _encode_type(self.name, [(f.type, f.name) for f in self.fields], self.dependencies)


def _dependencies(fields: tuple[ActionField, ...]) -> dict[str, StructType]:
    found: dict[str, StructType] = {}
    for field in fields:
        if field.struct is not None:
            found[field.struct.name] = field.struct
            found.update(field.struct.dependencies)
    return found


def _encode_type(name: str, members: list[tuple[str, str]], dependencies: Mapping[str, StructType]) -> str:
    own = f"{name}({','.join(f'{kind} {member}' for kind, member in members)})"
    return own + "".join(
        f"{d.name}({','.join(f'{f.type} {f.name}' for f in d.fields)})" for _, d in sorted(dependencies.items())
    )


def _number(name: str, bits: int = 256, *, default: int | None = None, argument: str | None = None) -> ActionField:
    return ActionField(name, f"uint{bits}", FieldKind.NUMBER, default=default, argument=argument)


def _yen(name: str, *, default: int | None = None) -> ActionField:
    return ActionField(name, "uint256", FieldKind.YEN, default=default)


# BudgetLedger.MAX_YEN: no appropriation, distribution, transfer or cap is larger (tests/chain/test_actions.py).
BUDGET_MAX_YEN = 2**56 - 1


def _budget_yen(name: str, kind: str = "uint256", *, default: int | None = None) -> ActionField:
    return ActionField(name, kind, FieldKind.YEN, default=default, maximum=BUDGET_MAX_YEN)


def _hash(name: str, *, fallback: tuple[str, ...] | None = None) -> ActionField:
    return ActionField(name, "bytes32", FieldKind.HASH, fallback=fallback)


def _struct(name: str, struct: StructType) -> ActionField:
    return ActionField(name, struct.name, FieldKind.STRUCT, struct=struct)


def _code(name: str, *, argument: str | None = None) -> ActionField:
    return ActionField(name, "bytes32", FieldKind.CODE, argument=argument)


#: The roles by the names people and commands use for them (``procure role grant procurement-officer ...``).
ROLE_NAMES: dict[str, Role] = {role.name.lower().replace("_", "-"): role for role in Role}
_ROLE = ActionField("role", "bytes32", FieldKind.ROLE, choices=tuple(ROLE_NAMES), argument="ROLE")
_ACCOUNT = ActionField("account", "address", FieldKind.ADDRESS, argument="ACCOUNT")


MILESTONE_ID = _number("milestoneId", argument="MILESTONE")

# An amendment's full content, as a proposal, an approval and a supplier's consent sign it (an approval or a
# consent takes it from the stored amendment: ``from_amendment``).
_AMENDMENT_KINDS = ("amount", "dueDate", "cancel")  # IMilestoneEscrow.AmendmentKind
_AMENDMENT_CONTENT = (
    ActionField("milestoneId", "uint256", FieldKind.NUMBER, from_amendment=True),
    ActionField("kind", "uint8", FieldKind.CHOICE, choices=_AMENDMENT_KINDS, from_amendment=True),
    ActionField("newAmount", "uint256", FieldKind.YEN, from_amendment=True),
    ActionField("newDueDate", "uint64", FieldKind.TIME, from_amendment=True),
    ActionField("rationaleHash", "bytes32", FieldKind.HASH, from_amendment=True),
)


# The budget ledger's keys and requests (IBudgetLedger, IBudgetOffice), which its signed acts nest.
LINE_KEY = StructType(
    "LineKey",
    (_number("fiscalYear", 16), _code("ministry"), _code("organization"), _code("item"), _code("subItem")),
)
ITEM_KEY = StructType("ItemKey", LINE_KEY.fields[:4])
TRANSFER_REQUEST = StructType(
    "TransferRequest",
    (_struct("from", LINE_KEY), _struct("to", LINE_KEY), _budget_yen("amount"), _hash("rationaleHash")),
)
AUTHORITY_TERMS = StructType(
    "AuthorityTerms",
    (_struct("line", LINE_KEY), _budget_yen("ceiling"), _budget_yen("schedule", "uint256[]")),
)
_APPROPRIATION_ACTS = ("initial", "supplementary")  # IBudgetLedger.AppropriationAct
_CARRY_OVER_KINDS = ("authorized", "accident")  # IBudgetLedger.CarryOverKind: 明許繰越, 事故繰越
_ACCESS_KINDS = ("none", "view", "obligate")  # IBudgetOffice.AccessKind
# A pending transfer, as an approval, a refusal and a withdrawal name it in full (the office keeps its hash only).
_PENDING_TRANSFER = (
    _number("transferId", argument="TRANSFER"),
    ActionField("request", TRANSFER_REQUEST.name, FieldKind.STRUCT, struct=TRANSFER_REQUEST, from_transfer=True),
    ActionField("requester", "address", FieldKind.ADDRESS, from_transfer=True),
    ActionField("requestedAt", "uint64", FieldKind.NUMBER, from_transfer=True),
)


@dataclass(frozen=True)
class ActionType:
    """A signed action: everything the chain, the gateway and the commands need to know about it."""

    primary_type: str  # the EIP-712 primary type, e.g. Attest
    contract: SignedContract
    function: str  # the ``...BySig`` function: the fields in order, then signer, deadline, signature
    fields: tuple[ActionField, ...]  # in the order of the contract's type hash
    signers: tuple[Role, ...]  # the roles that may sign it (the contract checks the rest)
    gas: int  # the most it can cost: the relayer's gas limit (see below)
    verb: str  # what people say: the route's last path segment and the command's name, e.g. submit-evidence
    noun: str  # what the request is, e.g. EvidenceSubmission: the request schemas are EvidenceSubmissionCreate...
    summary: str  # who does what, for the route's description and the command's help
    done: str  # the command's one-line result (then ": tx 0x..."), a format string over the fields' words
    # A finance officer's act on a ministry's lines: the path of the ministry's code in the message (e.g.
    # ("line", "ministry")), whose signer role the signer must hold in that ministry, and the custom error the
    # contract refuses anyone else with (the gateway refuses early with the same one).
    signer_ministry: tuple[str, ...] = ()
    refusal: str = "BudgetOfficeUnauthorized"

    @cached_property
    def field_names(self) -> tuple[str, ...]:
        """The fields' names, in the order they are signed and passed to the function."""
        return tuple(f.name for f in self.fields)

    @cached_property
    def eip712_types(self) -> list[dict[str, str]]:
        """The primary type's EIP-712 field list, nonce and deadline included."""
        return [{"name": f.name, "type": f.type} for f in self.fields] + [
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]

    @cached_property
    def struct_types(self) -> dict[str, StructType]:
        """Every struct the action's fields nest, directly or not, by name (EIP-712's referenced types)."""
        return _dependencies(self.fields)

    @cached_property
    def encode_type(self) -> str:
        """EIP-712's ``encodeType``: ``Attest(uint256 milestoneId,...,uint256 deadline)``, then the structs it
        nests, sorted by name (hashed: the type hash)."""
        members = [(t["type"], t["name"]) for t in self.eip712_types]
        return _encode_type(self.primary_type, members, self.struct_types)

    def message(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The EIP-712 message fields (without nonce and deadline) from the action's words: hashes as 0x-hex or
        bytes, a choice by name, a code as its text, a struct as a mapping of its own fields' words, a field left
        out (or None) at its default, a document's URI at its ni: URI."""
        message: dict[str, Any] = {}
        for field in self.fields:
            value = values.get(field.name)
            if value is None and field.stored:
                pass  # left to the stored amendment or transfer
            elif field.kind is FieldKind.DOCUMENT_URI and value is None:
                value = ni_uri(message[self.document_field.name])
            else:
                value = _word(field, value, field.name)
            message[field.name] = value
        return message

    def call_values(self, message: Mapping[str, Any]) -> list[Any]:
        """The function's leading arguments from the message's fields: in order, each struct as its ABI tuple."""
        return [_abi_value(f, message[f.name]) for f in self.fields]

    def ministry_of(self, message: Mapping[str, Any]) -> bytes | None:
        """The ministry (bytes32) whose finance officer must sign this act (``signer_ministry``), or None."""
        if not self.signer_ministry:
            return None
        value: Any = message
        for name in self.signer_ministry:
            value = value[name]
        return bytes(value)

    @cached_property
    def document_field(self) -> ActionField:
        """The DOCUMENT field (a DOCUMENT_URI field is that document's URI)."""
        return next(f for f in self.fields if f.kind is FieldKind.DOCUMENT)


def _word(field: ActionField, value: Any, path: str) -> Any:
    """One field's signed value from its word (see ``ActionType.message``); ``path`` names it in errors."""
    if value is None and field.default is not None:
        return field.default
    if field.struct is not None and isinstance(value, Mapping):
        unknown = sorted(set(value) - {f.name for f in field.struct.fields})
        if unknown:
            raise SignatureError(f"{path}: unexpected {unknown}")
        return {f.name: _word(f, value.get(f.name), f"{path}.{f.name}") for f in field.struct.fields}
    if field.kind is FieldKind.CHOICE and isinstance(value, str):
        if value not in field.choices:
            raise SignatureError(f"{path}: {value!r} is not one of {', '.join(field.choices)}")
        return field.choices.index(value)
    if field.kind is FieldKind.ROLE and isinstance(value, str) and not value.startswith(("0x", "0X")):
        if value not in ROLE_NAMES:
            raise SignatureError(f"{path}: {value!r} is not one of {', '.join(ROLE_NAMES)}")
        return ROLE_NAMES[value].id
    if field.kind is FieldKind.CODE and isinstance(value, str) and not value.startswith(("0x", "0X")):
        try:
            return org_id(value)
        except ConfigurationError:
            raise SignatureError(f"{path}: {value!r} is not a code of 1 to 16 ASCII characters") from None
    if field.type == "bytes32" and isinstance(value, str):
        return _hex32(path, value)
    return value


def _abi_value(field: ActionField, value: Any) -> Any:
    if field.struct is None:
        return value
    return tuple(_abi_value(f, value[f.name]) for f in field.struct.fields)


def _hex32(name: str, value: str) -> bytes:
    if len(value) != 66 or value[:2] not in ("0x", "0X"):
        raise SignatureError(f"{name}: {value!r} is not 32 bytes of 0x-hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise SignatureError(f"{name}: {value!r} is not 32 bytes of 0x-hex") from None


def ni_uri(digest: bytes | str) -> str:
    """RFC 6920 Named Information URI of a SHA-256 digest (bytes, or hex with or without 0x): ``ni:///sha-256;...``."""
    raw = digest if isinstance(digest, bytes) else bytes.fromhex(digest.removeprefix("0x"))
    return "ni:///sha-256;" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _registry(*actions: ActionType) -> dict[str, ActionType]:
    """The actions by primary type; names, verbs, nouns and functions are unique, done names only fields."""
    for attribute in ("primary_type", "verb", "noun"):
        values = [getattr(a, attribute) for a in actions]
        duplicated = sorted({v for v in values if values.count(v) > 1})
        if duplicated:
            raise ValueError(f"two signed actions share the {attribute} {duplicated}")
    functions = [(a.contract, a.function) for a in actions]
    if len(set(functions)) != len(functions):
        raise ValueError("two signed actions are relayed by the same function")
    return {a.primary_type: a for a in actions}


# The gas of each action is its relayer's gas limit: the action's worst case when the state changes between the
# simulation and the mining, simulated once at that limit. An attestation that reaches the quorum releases the
# payment (~84k in scripts/bench_gas.py; at most 131k over the 1,008 relays of scripts/bench_gateway.py, for
# the first payouts) where the same attestation simulated one pass earlier costs ~60k. Unused gas is not
# charged: a generous limit only reserves block space.
ACTIONS: dict[str, ActionType] = _registry(
    ActionType(
        primary_type="Fund",
        contract=MILESTONE_ESCROW,
        function="fundBySig",
        fields=(_yen("amount"),),
        signers=(Role.PROCUREMENT_OFFICER,),
        gas=150_000,
        verb="fund",
        noun="Funding",
        summary="an officer draws yen on the procurement's budget obligation into the escrow (at most what its "
        "open milestones still need).",
        done="{amount:,} yen paid into the escrow",
    ),
    ActionType(
        primary_type="SubmitEvidence",
        contract=MILESTONE_ESCROW,
        function="submitEvidenceBySig",
        fields=(
            MILESTONE_ID,
            ActionField("documentHash", "bytes32", FieldKind.DOCUMENT, argument="DOCUMENT"),
            ActionField("uri", "string", FieldKind.DOCUMENT_URI, max_length=2048),  # MilestoneEscrow.MAX_URI_LENGTH
        ),
        signers=(Role.SUPPLIER,),
        gas=120_000,
        verb="submit-evidence",
        noun="EvidenceSubmission",
        summary="the supplier submits an uploaded document for a milestone.",
        done="evidence {documentHash:.18}... submitted for milestone {milestoneId}",
    ),
    ActionType(
        primary_type="Attest",
        contract=MILESTONE_ESCROW,
        function="attestBySig",
        fields=(
            MILESTONE_ID,
            ActionField("round", "uint256", FieldKind.ROUND),
            ActionField("pass", "bool", FieldKind.FLAG, words=("pass", "fail")),
            _hash("reportHash", fallback=("milestoneId", "pass")),
        ),
        signers=(Role.EVALUATOR,),
        gas=180_000,
        verb="attest",
        noun="Attestation",
        summary="a panel evaluator's pass or fail on the milestone's current round.",
        done="{pass} attested for milestone {milestoneId}, round {round}",
    ),
    ActionType(
        primary_type="Reclaim",
        contract=MILESTONE_ESCROW,
        function="reclaimBySig",
        fields=(MILESTONE_ID,),
        signers=(Role.PROCUREMENT_OFFICER,),
        gas=180_000,
        verb="reclaim",
        noun="Reclaim",
        summary="an officer reclaims a milestone left unmet after its due date.",
        done="milestone {milestoneId} reclaimed",
    ),
    ActionType(
        primary_type="ProposeAmendment",
        contract=MILESTONE_ESCROW,
        function="proposeAmendmentBySig",
        fields=(
            MILESTONE_ID,
            ActionField("kind", "uint8", FieldKind.CHOICE, choices=_AMENDMENT_KINDS),
            _yen("newAmount", default=0),
            ActionField("newDueDate", "uint64", FieldKind.TIME, default=0),
            _hash("rationaleHash"),
        ),
        signers=(Role.PROCUREMENT_OFFICER,),
        gas=150_000,
        verb="propose-amendment",
        noun="Amendment",
        summary="an officer proposes a new amount, due date, or a cancellation.",
        done="amendment ({kind}) proposed for milestone {milestoneId}",
    ),
    ActionType(
        primary_type="ApproveAmendment",
        contract=MILESTONE_ESCROW,
        function="approveAmendmentBySig",
        fields=(_number("amendmentId", argument="AMENDMENT"), *_AMENDMENT_CONTENT),
        signers=(Role.PROCUREMENT_OFFICER,),
        gas=200_000,
        verb="approve-amendment",
        noun="AmendmentApproval",
        summary="a second officer approves an amendment, naming its full content (filled in from the chain).",
        done="amendment {amendmentId} approved",
    ),
    ActionType(
        primary_type="ConsentToAmendment",
        contract=MILESTONE_ESCROW,
        function="consentToAmendmentBySig",
        fields=(_number("amendmentId", argument="AMENDMENT"), *_AMENDMENT_CONTENT),
        signers=(Role.SUPPLIER,),
        gas=120_000,
        verb="consent-to-amendment",
        noun="AmendmentConsent",
        summary="the supplier consents to an amendment that cuts, cancels or brings forward a delivered milestone.",
        done="consented to amendment {amendmentId}",
    ),
    ActionType(
        primary_type="OpenDispute",
        contract=MILESTONE_ESCROW,
        function="openDisputeBySig",
        fields=(MILESTONE_ID, _hash("reasonHash")),
        signers=(Role.SUPPLIER, Role.PROCUREMENT_OFFICER),
        gas=120_000,
        verb="open-dispute",
        noun="Dispute",
        summary="the supplier or an officer disputes a submitted or rejected milestone.",
        done="dispute opened on milestone {milestoneId}",
    ),
    ActionType(
        primary_type="SettleDispute",
        contract=MILESTONE_ESCROW,
        function="settleDisputeBySig",
        fields=(MILESTONE_ID, _yen("supplierAmount"), _hash("rulingHash")),
        signers=(Role.REVIEW_BODY,),
        gas=220_000,
        verb="settle-dispute",
        noun="Settlement",
        summary="a review body splits a disputed milestone between supplier and ministry.",
        done="dispute on milestone {milestoneId} settled: {supplierAmount:,} yen to the supplier",
    ),
    ActionType(
        primary_type="RedirectOwed",
        contract=MILESTONE_ESCROW,
        function="redirectOwedBySig",
        fields=(MILESTONE_ID, ActionField("to", "address", FieldKind.ADDRESS), _hash("rulingHash")),
        signers=(Role.REVIEW_BODY,),
        gas=150_000,
        verb="redirect-owed",
        noun="OwedRedirect",
        summary="a review body rules that an off-boarded supplier's owed yen go to its successor or the ministry.",
        done="owed yen of milestone {milestoneId} redirected to {to}",
    ),
    ActionType(
        primary_type="ClaimPayment",
        contract=MILESTONE_ESCROW,
        function="claimPaymentBySig",
        fields=(MILESTONE_ID,),
        # Anyone may claim on chain; through the gateway, the parties the payment concerns.
        signers=(Role.SUPPLIER, Role.PROCUREMENT_OFFICER, Role.REVIEW_BODY),
        gas=200_000,
        verb="claim-payment",
        noun="PaymentClaim",
        summary="anyone concerned has a milestone's owed payment paid (after a pause, or a refused transfer).",
        done="owed payment of milestone {milestoneId} claimed",
    ),
    ActionType(
        primary_type="LapseDispute",
        contract=MILESTONE_ESCROW,
        function="lapseDisputeBySig",
        fields=(MILESTONE_ID,),
        signers=(Role.SUPPLIER, Role.PROCUREMENT_OFFICER),
        gas=120_000,
        verb="lapse-dispute",
        noun="DisputeLapse",
        summary="the supplier or an officer ends a dispute no review body ruled on within the ruling period.",
        done="dispute on milestone {milestoneId} lapsed",
    ),
    ActionType(
        primary_type="PauseUntil",
        contract=MILESTONE_ESCROW,
        function="pauseUntilBySig",
        fields=(ActionField("until", "uint64", FieldKind.TIME),),
        signers=(Role.MINISTRY_ADMIN,),
        gas=80_000,
        verb="pause",
        noun="Pause",
        summary="the buying ministry's admin pauses releases until a time (at most 90 days ahead).",
        done="releases paused until {until}",
    ),
    ActionType(
        primary_type="Resume",
        contract=MILESTONE_ESCROW,
        function="resumeBySig",
        fields=(),
        signers=(Role.MINISTRY_ADMIN,),
        gas=80_000,
        verb="resume",
        noun="Resumption",
        summary="the buying ministry's admin ends a pause early.",
        done="releases resumed",
    ),
    # The registry's acts (no gateway route yet: the routes are the escrow's and the budget office's). An empty
    # ``signers``: only the registry admin, who holds DEFAULT_ADMIN_ROLE and none of the ``Role``s. Gas: at least
    # what tests/contracts/test_registry.py's test_every_registry_act_is_relayed_from_its_declaration measures.
    ActionType(
        primary_type="InvalidateNonces",
        contract=ACCESS_REGISTRY,
        function="invalidateNoncesBySig",
        fields=(_number("newNonce"),),
        signers=tuple(Role),
        gas=60_000,
        verb="invalidate-nonces",
        noun="NonceInvalidation",
        summary="a signer withdraws its outstanding signatures by using its nonces up to a new one.",
        done="signatures withdrawn up to nonce {newNonce}",
    ),
    ActionType(
        primary_type="UpdateOrganization",
        contract=ACCESS_REGISTRY,
        function="updateOrganizationBySig",
        fields=(
            _code("orgId", argument="ORGANIZATION"),
            ActionField("active", "bool", FieldKind.FLAG, words=("active", "inactive")),
            ActionField("vault", "address", FieldKind.ADDRESS),
        ),
        signers=(),
        gas=70_000,
        verb="update-organization",
        noun="OrganizationUpdate",
        summary="the registry admin activates or deactivates an organization and sets its vault (a ministry's own "
        "account; none for others).",
        done="organization {orgId} {active}, vault {vault}",
    ),
    ActionType(
        primary_type="BindAccount",
        contract=ACCESS_REGISTRY,
        function="bindAccountBySig",
        fields=(_ACCOUNT, _code("orgId", argument="ORGANIZATION")),
        signers=(),
        gas=80_000,
        verb="bind-account",
        noun="AccountBinding",
        summary="the registry admin binds an account to an organization.",
        done="{account} bound to {orgId}",
    ),
    ActionType(
        primary_type="UnbindAccount",
        contract=ACCESS_REGISTRY,
        function="unbindAccountBySig",
        fields=(_ACCOUNT,),
        signers=(),
        gas=60_000,
        verb="unbind-account",
        noun="AccountUnbinding",
        summary="the registry admin releases an account that holds no role from its organization.",
        done="{account} unbound",
    ),
    ActionType(
        primary_type="GrantRole",
        contract=ACCESS_REGISTRY,
        function="grantRoleBySig",
        fields=(_ROLE, _ACCOUNT),
        signers=(Role.MINISTRY_ADMIN,),
        gas=80_000,
        verb="grant-role",
        noun="RoleGrant",
        summary="the registry admin, or a ministry admin inside its own ministry (officers and treasurers), grants "
        "a role to an account of the matching kind; never to the signer or the relayer.",
        done="{role} granted to {account}",
    ),
    ActionType(
        primary_type="RevokeRole",
        contract=ACCESS_REGISTRY,
        function="revokeRoleBySig",
        fields=(_ROLE, _ACCOUNT),
        signers=(Role.MINISTRY_ADMIN,),
        gas=60_000,
        verb="revoke-role",
        noun="RoleRevocation",
        summary="the registry admin, or a ministry admin inside its own ministry, revokes a role.",
        done="{role} revoked from {account}",
    ),
    # The budget ledger's acts, signed for the budget office (its own domain; routes under /budget/actions). Their keys
    # and requests are the structs of IBudgetLedger / IBudgetOffice. Gas: what tests/contracts/test_budget.py's
    # test_every_budget_act_is_relayed_from_its_declaration measures (a line's first distribution or transfer in
    # registers its series; a 10-year authority writes 10 schedule slots), with about 30% more.
    ActionType(
        primary_type="EnactAppropriation",
        contract=BUDGET_OFFICE,
        function="enactAppropriationBySig",
        fields=(
            _struct("key", ITEM_KEY),
            ActionField("act", "uint8", FieldKind.CHOICE, choices=_APPROPRIATION_ACTS),
            _budget_yen("amount", "int256"),
            _number("authorizations", 8, default=0),  # a set of BudgetLedger's authorization flags
            _hash("instrumentHash"),
        ),
        signers=(Role.FINANCE_AUTHORITY,),
        gas=150_000,
        verb="enact-appropriation",
        noun="Appropriation",
        summary="the finance authority enacts an item's initial budget or a supplementary one (a negative cut).",
        done="{act} appropriation of {amount:,} yen enacted",
        refusal="BudgetUnauthorized",
    ),
    ActionType(
        primary_type="EnactAuthority",
        contract=BUDGET_OFFICE,
        function="enactAuthorityBySig",
        fields=(_hash("authorityId"), _struct("terms", AUTHORITY_TERMS), _hash("instrumentHash")),
        signers=(Role.FINANCE_AUTHORITY,),
        gas=420_000,
        verb="enact-authority",
        noun="ObligationAuthority",
        summary="the finance authority enacts a multi-year obligation authority: a line, a ceiling, a yearly schedule.",
        done="multi-year obligation authority {authorityId:.18}... enacted",
    ),
    ActionType(
        primary_type="ApproveCarryOver",
        contract=BUDGET_OFFICE,
        function="approveCarryOverBySig",
        fields=(
            _struct("line", LINE_KEY),
            ActionField("kind", "uint8", FieldKind.CHOICE, choices=_CARRY_OVER_KINDS),
            _budget_yen("amount"),
            _hash("reasonHash"),
        ),
        signers=(Role.FINANCE_AUTHORITY,),
        gas=120_000,
        verb="approve-carry-over",
        noun="CarryOver",
        summary="the finance authority approves carrying a line's unobligated yen into the next fiscal year.",
        done="carry-over ({kind}) of {amount:,} yen approved",
        refusal="BudgetUnauthorized",
    ),
    ActionType(
        primary_type="CloseFiscalYear",
        contract=BUDGET_OFFICE,
        function="closeFiscalYearBySig",
        fields=(_number("fiscalYear", 16, argument="FISCAL_YEAR"),),
        signers=(Role.FINANCE_AUTHORITY,),
        gas=120_000,
        verb="close-fiscal-year",
        noun="FiscalYearClosing",
        summary="the finance authority closes an ended fiscal year (its lines then settle).",
        done="fiscal year {fiscalYear} closed",
        refusal="BudgetUnauthorized",
    ),
    ActionType(
        primary_type="Distribute",
        contract=BUDGET_OFFICE,
        function="distributeBySig",
        fields=(_struct("line", LINE_KEY), _budget_yen("change", "int256")),
        signers=(Role.TREASURY,),
        gas=280_000,
        verb="distribute",
        noun="Distribution",
        summary="a ministry's finance officer gives a sub-item line yen of its item (negative: takes them back).",
        done="{change:,} yen distributed",
        signer_ministry=("line", "ministry"),
        refusal="BudgetUnauthorized",  # the ledger's own check (the office forwards the act)
    ),
    ActionType(
        primary_type="GrantAccess",
        contract=BUDGET_OFFICE,
        function="grantAccessBySig",
        fields=(
            _struct("line", LINE_KEY),
            _code("grantee"),
            ActionField("kind", "uint8", FieldKind.CHOICE, choices=_ACCESS_KINDS),
            _budget_yen("cap", default=0),
            _number("expiresAt", 64),
        ),
        signers=(Role.TREASURY,),
        gas=130_000,
        verb="grant-access",
        noun="AccessGrant",
        summary="a ministry's finance officer grants another ministry a time-limited right on one of its lines.",
        done="{kind} access granted until {expiresAt}",
        signer_ministry=("line", "ministry"),
    ),
    ActionType(
        primary_type="RevokeAccess",
        contract=BUDGET_OFFICE,
        function="revokeAccessBySig",
        fields=(_struct("line", LINE_KEY), _code("grantee")),
        signers=(Role.TREASURY,),
        gas=100_000,
        verb="revoke-access",
        noun="AccessRevocation",
        summary="a ministry's finance officer revokes another ministry's right on one of its lines.",
        done="access revoked",
        signer_ministry=("line", "ministry"),
    ),
    ActionType(
        primary_type="IncreaseObligation",
        contract=BUDGET_OFFICE,
        function="increaseObligationBySig",
        fields=(ActionField("escrow", "address", FieldKind.ADDRESS), _budget_yen("amount")),
        signers=(Role.PROCUREMENT_OFFICER,),
        gas=150_000,
        verb="increase-obligation",
        noun="ObligationIncrease",
        summary="an officer obligates more of the procurement's line for an escrow whose need grew.",
        done="{amount:,} yen more obligated for {escrow}",
        refusal="BudgetUnauthorized",
    ),
    ActionType(
        primary_type="RequestTransfer",
        contract=BUDGET_OFFICE,
        function="requestTransferBySig",
        fields=(_struct("request", TRANSFER_REQUEST),),
        signers=(Role.TREASURY,),
        gas=160_000,
        verb="request-transfer",
        noun="TransferRequest",
        summary="a ministry's finance officer requests moving yen between two of its lines, with a rationale.",
        done="transfer requested",
        signer_ministry=("request", "from", "ministry"),
    ),
    ActionType(
        primary_type="ApproveTransfer",
        contract=BUDGET_OFFICE,
        function="approveTransferBySig",
        fields=_PENDING_TRANSFER,
        signers=(Role.FINANCE_AUTHORITY,),
        gas=300_000,
        verb="approve-transfer",
        noun="TransferApproval",
        summary="the finance authority approves a pending transfer, naming its full content.",
        done="transfer {transferId} approved",
    ),
    ActionType(
        primary_type="RefuseTransfer",
        contract=BUDGET_OFFICE,
        function="refuseTransferBySig",
        fields=(*_PENDING_TRANSFER, _hash("reasonHash")),
        signers=(Role.FINANCE_AUTHORITY,),
        gas=100_000,
        verb="refuse-transfer",
        noun="TransferRefusal",
        summary="the finance authority refuses a pending transfer, with the hash of its reason.",
        done="transfer {transferId} refused",
    ),
    ActionType(
        primary_type="WithdrawTransfer",
        contract=BUDGET_OFFICE,
        function="withdrawTransferBySig",
        fields=_PENDING_TRANSFER,
        signers=(Role.TREASURY,),
        gas=100_000,
        verb="withdraw-transfer",
        noun="TransferWithdrawal",
        summary="a finance officer of the requesting ministry withdraws a pending transfer.",
        done="transfer {transferId} withdrawn",
        signer_ministry=("request", "from", "ministry"),
    ),
)
