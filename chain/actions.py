"""The signed actions: one declaration per EIP-712 action a contract takes through a ``...BySig`` function.

A declaration (``ActionType``) says everything about an action once: the contract and EIP-712 domain it is
signed for, its primary type and fields (in the order of the contract's type hash), the function that relays
it, who may sign it, the most gas it can cost, and the words people use for it. Everything else follows from
``ACTIONS``:

* the typed data to sign and its hashing (``chain/eip712.py``; ``ACTION_TYPES`` there is derived from here);
* the gateway's request schemas, routes and OpenAPI document, the role each route requires and the gas limit
  the relayer sends with (``gateway/schemas/actions.py``, ``gateway/api/routes/actions.py``);
* the ``procure client`` commands (``scripts/cli_client.py``) and the client's check of the typed data it is
  asked to sign (``gateway/client.py``).

A new signed action is one entry in ``ACTIONS`` (an action of a contract with a domain of its own is one
``SignedContract`` more). ``tests/chain/test_actions.py`` fails until every ``...BySig`` function in the build
has its entry and every entry agrees with its function's ABI.

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

from chain.errors import SignatureError
from chain.roles import Role

__all__ = [
    "ACCESS_REGISTRY",
    "ACTIONS",
    "MILESTONE_ESCROW",
    "ActionField",
    "ActionType",
    "FieldKind",
    "SignedContract",
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


class FieldKind(enum.Enum):
    """What a field means beyond its EIP-712 type: how the API takes it and how a command asks for it."""

    NUMBER = "number"  # an unsigned integer: an id, a date (unix time)
    YEN = "yen"  # an amount of yen (no minor unit)
    ROUND = "round"  # a milestone's round; a command defaults it to the milestone's current round
    FLAG = "flag"  # yes or no, said in two ``words`` (pass or fail)
    CHOICE = "choice"  # one of ``choices`` by name, signed as its index (a Solidity enum)
    ADDRESS = "address"  # an account or contract address
    HASH = "hash"  # the SHA-256 of a document (a report, a rationale, a ruling); a command hashes a file
    DOCUMENT = "document"  # the SHA-256 of a document the signer's organization uploaded to the evidence store
    DOCUMENT_URI = "document-uri"  # where the action's DOCUMENT can be fetched; default: its RFC 6920 ni: URI


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

    @property
    def option(self) -> str:
        """The command-line option: ``--new-amount``; a hash field by what it is the hash of: ``--report``."""
        words = self.name.removesuffix("Hash") if self.kind is FieldKind.HASH else self.name
        return "--" + "".join(f"-{c.lower()}" if c.isupper() else c for c in words)


def _number(name: str, bits: int = 256, *, default: int | None = None, argument: str | None = None) -> ActionField:
    return ActionField(name, f"uint{bits}", FieldKind.NUMBER, default=default, argument=argument)


def _yen(name: str, *, default: int | None = None) -> ActionField:
    return ActionField(name, "uint256", FieldKind.YEN, default=default)


def _hash(name: str, *, fallback: tuple[str, ...] | None = None) -> ActionField:
    return ActionField(name, "bytes32", FieldKind.HASH, fallback=fallback)


MILESTONE_ID = _number("milestoneId", argument="MILESTONE")

# An amendment's full content, as a proposal, an approval and a supplier's consent sign it (an approval or a
# consent takes it from the stored amendment: ``from_amendment``).
_AMENDMENT_KINDS = ("amount", "dueDate", "cancel")  # IMilestoneEscrow.AmendmentKind
_AMENDMENT_CONTENT = (
    ActionField("milestoneId", "uint256", FieldKind.NUMBER, from_amendment=True),
    ActionField("kind", "uint8", FieldKind.CHOICE, choices=_AMENDMENT_KINDS, from_amendment=True),
    ActionField("newAmount", "uint256", FieldKind.YEN, from_amendment=True),
    ActionField("newDueDate", "uint64", FieldKind.NUMBER, from_amendment=True),
    ActionField("rationaleHash", "bytes32", FieldKind.HASH, from_amendment=True),
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
    def encode_type(self) -> str:
        """EIP-712's ``encodeType``: ``Attest(uint256 milestoneId,...,uint256 deadline)`` (hashed: the type hash)."""
        return f"{self.primary_type}({','.join(t['type'] + ' ' + t['name'] for t in self.eip712_types)})"

    def message(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The EIP-712 message fields (without nonce and deadline) from the action's words: hashes as 0x-hex or
        bytes, a choice by name, a field left out (or None) at its default, a document's URI at its ni: URI."""
        message: dict[str, Any] = {}
        for field in self.fields:
            value = values.get(field.name)
            if value is None and field.from_amendment:
                pass  # left to the stored amendment
            elif value is None and field.default is not None:
                value = field.default
            elif field.kind is FieldKind.CHOICE and isinstance(value, str):
                if value not in field.choices:
                    raise SignatureError(f"{field.name}: {value!r} is not one of {', '.join(field.choices)}")
                value = field.choices.index(value)
            elif field.type == "bytes32" and isinstance(value, str):
                value = _hex32(field.name, value)
            elif field.kind is FieldKind.DOCUMENT_URI and value is None:
                value = ni_uri(message[self.document_field.name])
            message[field.name] = value
        return message

    @cached_property
    def document_field(self) -> ActionField:
        """The DOCUMENT field (a DOCUMENT_URI field is that document's URI)."""
        return next(f for f in self.fields if f.kind is FieldKind.DOCUMENT)


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
        summary="an officer pays yen into the escrow (approve the escrow for the amount first).",
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
            _number("newDueDate", 64, default=0),
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
    # The registry's own action (no gateway route yet: the routes are the escrow's).
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
)
