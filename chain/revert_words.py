"""Every custom error of the contracts in words: the one place that turns a decoded revert into a sentence.

``ContractRevert`` says its sentence (``str(exc)``); ``exc.raw`` keeps the Solidity form (name and arguments) for
``--verbose`` and problem+json's extension members. A sentence names roles, organizations, statuses, dates (JST)
and yen as people say them. Who holds an account is not in the error itself: a caller that can look it up (the
CLI from the registry, the gateway from the mirror) passes ``organization_of`` and gets "ATLA's account 0x15d3...".
``tests/chain/test_revert_words.py`` holds every custom error of every compiled contract to having a sentence here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chain.roles import DEFAULT_ADMIN_ROLE, OrgKind, Role, org_code
from chain.times import jst

if TYPE_CHECKING:
    from chain.errors import ContractRevert

__all__ = ["SENTENCES", "DueDateOf", "OrganizationOf", "explain", "yen"]

OrganizationOf = Callable[[str], str | None]
"""An account's organization code, if it is bound to one."""

DueDateOf = Callable[[int], int | None]
"""A milestone's current due date (unix time) on the procurement the revert came from, if known."""

MILESTONE_STATUSES = (
    "Pending",
    "Submitted",
    "Rejected",
    "Approved",
    "Paid",
    "Disputed",
    "Settled",
    "Refunded",
    "Cancelled",
)
STATUS_HINTS = {
    "Pending": " (no evidence submitted yet)",
    "Submitted": " (its evidence awaits the evaluators)",
    "Rejected": " (evidence can be submitted again until its due date)",
    "Disputed": " (a review body is ruling on it)",
    "Approved": " (closed)",
    "Paid": " (closed)",
    "Settled": " (closed)",
    "Refunded": " (closed)",
    "Cancelled": " (closed)",
}
AMENDMENT_KINDS = ("an amount change", "a due-date change", "a cancellation")
CARRY_OVER_KINDS = ("pre-authorized carry-over (明許繰越)", "accident carry-over (事故繰越)")
ACCESS_KINDS = ("no access", "view", "obligate")
ROLE_WORDS = {
    Role.MINISTRY_ADMIN: "a ministry admin",
    Role.PROCUREMENT_OFFICER: "a procurement officer",
    Role.TREASURY: "a treasury (finance) officer",
    Role.SUPPLIER: "a supplier",
    Role.EVALUATOR: "an evaluator",
    Role.REVIEW_BODY: "a review body",
    Role.AUDITOR: "an auditor",
    Role.FINANCE_AUTHORITY: "the finance authority",
}
KIND_WORDS = {
    OrgKind.NONE: "no kind",
    OrgKind.MINISTRY: "a ministry",
    OrgKind.SUPPLIER: "a supplier",
    OrgKind.EVALUATION_BODY: "an evaluation body",
    OrgKind.REVIEW_BODY: "a review body",
    OrgKind.AUDIT_BODY: "an audit body",
    OrgKind.FINANCE_AUTHORITY: "the finance authority",
}


def yen(amount: int) -> str:
    """Whole yen with separators: ``60,000,000 yen``."""
    return f"{int(amount):,} yen"


def short(address: str) -> str:
    """``0x15d3...6A65``: enough of an address to recognize it."""
    text = str(address)
    return f"{text[:6]}...{text[-4:]}" if len(text) == 42 else text


class _Words:
    """A revert's arguments, each said as people say it."""

    def __init__(
        self, args: Mapping[str, Any], organization_of: OrganizationOf | None, due_date_of: DueDateOf | None = None
    ) -> None:
        self._args = args
        self._organization_of = organization_of
        self._due_date_of = due_date_of

    def __getitem__(self, name: str) -> Any:
        return self._args[name]

    def account(self, name: str) -> str:
        address = str(self._args[name])
        if address == "0x" + "0" * 40:
            return "the zero address"
        code = None
        if self._organization_of is not None:
            try:
                code = self._organization_of(address)
            except Exception:  # the words are a courtesy: a failed look-up never hides the error itself
                code = None
        return f"{code}'s account {short(address)}" if code else f"account {short(address)}"

    def role(self, name: str) -> str:
        role_id = bytes(self._args[name])
        if role_id == DEFAULT_ADMIN_ROLE:
            return "the registry admin"
        role = Role.from_id(role_id)
        return ROLE_WORDS[role] if role is not None else f"role 0x{role_id.hex()[:8]}..."

    def org(self, name: str, value: Any = None) -> str:
        """An organization's (or a budget code's) text; a hash (an authority's id) as its first bytes."""
        raw = bytes(self._args[name] if value is None else value)
        code = raw.rstrip(b"\x00")
        if not code:
            return "(none)"
        if not all(0x21 <= byte <= 0x7E for byte in code):
            return "0x" + raw.hex()[:8] + "..."
        return org_code(raw)

    def kind(self, name: str) -> str:
        value = int(self._args[name])
        return KIND_WORDS[OrgKind(value)] if value in OrgKind._value2member_map_ else f"kind {value}"

    def status(self, name: str) -> str:
        value = int(self._args[name])
        return MILESTONE_STATUSES[value] if 0 <= value < len(MILESTONE_STATUSES) else f"status {value}"

    def statuses(self, name: str) -> str:
        bits = int(self._args[name])
        names = [status for i, status in enumerate(MILESTONE_STATUSES) if bits >> i & 1]
        if not names:
            return "(no state)"
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]

    def when(self, name: str) -> str:
        return jst(int(self._args[name]))

    def due_date(self, name: str) -> str | None:
        """The due date of the milestone ``name`` holds, if the caller can look it up."""
        if self._due_date_of is None:
            return None
        try:
            due = self._due_date_of(int(self._args[name]))
        except Exception:  # the words are a courtesy: a failed look-up never hides the error itself
            return None
        return None if due is None else jst(due)

    def milestone_status(self) -> str:
        """``milestone 0 is Rejected; evidence can be submitted again until 2027-06-30 23:59 JST``, or with the
        status's hint in brackets."""
        current = self.status("current")
        due = self.due_date("milestoneId") if current == "Rejected" else None
        if due is not None:
            return f"milestone {self['milestoneId']} is {current}; evidence can be submitted again until {due}"
        return f"milestone {self['milestoneId']} is {current}{STATUS_HINTS.get(current, '')}"

    def yen(self, name: str) -> str:
        return yen(int(self._args[name]))

    def days(self, name: str) -> str:
        seconds = int(self._args[name])
        return f"{seconds // 86400} days" if seconds % 86400 == 0 else f"{seconds} seconds"

    def hash(self, name: str) -> str:
        return "0x" + bytes(self._args[name]).hex()[:8] + "..."

    def choice(self, name: str, words: tuple[str, ...]) -> str:
        value = int(self._args[name])
        return words[value] if 0 <= value < len(words) else str(value)

    def line(self, name: str) -> str:
        """A budget line (LineKey) or item (ItemKey): FY2026 MOD GSDF/0101/01."""
        key = self._args[name]
        values = list(key.values()) if isinstance(key, Mapping) else list(key)
        year, ministry, codes = values[0], values[1], values[2:]
        path = "/".join(self.org("", code) for code in codes)
        return f"FY{year} {self.org('', ministry)} {path}"


def _w(text: str) -> Callable[[_Words], str]:
    """A sentence with no arguments to say."""
    return lambda w: text


# One sentence per custom error, keyed by its name. Arguments are read by name, as the interfaces declare them.
SENTENCES: dict[str, Callable[[_Words], str]] = {
    # ---------------------------------------------------------------- AccessRegistry
    "RegistryInvalidOrganization": lambda w: (
        f"organization code {w.org('orgId')!r} is empty, longer than 16 characters, or already registered"
    ),
    "RegistryUnknownOrganization": lambda w: f"no organization {w.org('orgId')!r} is registered",
    "RegistryInvalidKind": lambda w: "an organization needs a kind (ministry, supplier, evaluation-body, ...)",
    "RegistryInvalidVault": lambda w: (
        f"{w.account('vault')} cannot be {w.org('orgId')}'s vault: a ministry's vault is an account bound to that "
        "ministry, and other organizations have none"
    ),
    "RegistryInvalidAccount": lambda w: "the zero address cannot be an account",
    "RegistryAccountAlreadyBound": lambda w: f"account {short(w['account'])} is already bound to {w.org('orgId')}",
    "RegistryAccountNotBound": lambda w: f"account {short(w['account'])} is bound to no organization",
    "RegistryAccountInUse": lambda w: (
        f"{w.account('account')} still holds {w['roleCount']} role(s) or is a ministry vault: revoke them first"
    ),
    "RegistryRoleKindMismatch": lambda w: (
        f"{w.account('account')} belongs to {w.kind('kind')}, which cannot be {w.role('role')}"
    ),
    "RegistryCrossOrganizationGrant": lambda w: (
        f"{w.account('admin')} may grant or revoke roles only inside its own ministry, not for {w.account('account')}"
    ),
    "RegistryUnauthorizedFactory": lambda w: f"{w.account('caller')} is not the registry's escrow factory",
    "RegistryDuplicateProcurement": lambda w: (
        f"{w.org('ministryOrg')} already has a procurement with this id (escrow {w['existing']}), or the id is empty"
    ),
    "RegistryEscrowAddressBound": lambda w: (
        f"the escrow address {w['escrow']} is bound as an account of {w.org('orgId')}"
    ),
    "RegistrySelfGrant": lambda w: f"{w.account('account')} cannot grant or revoke {w.role('role')} role for itself",
    "RegistryIncompatibleRoles": lambda w: (
        f"{w.account('account')} is {w.role('heldRole')}, which cannot also be {w.role('role')}"
    ),
    "RegistryInvalidNonce": lambda w: (
        f"the new nonce {w['newNonce']} of {w.account('signer')} must be above its current nonce {w['current']} "
        "by at most 1,000,000"
    ),
    "RegistrySignatureExpired": lambda w: (
        f"the signature expired at {w.when('deadline')} (now {w.when('nowTime')}); sign again"
    ),
    "RegistryInvalidSignature": lambda w: (
        f"the signature does not match {w.account('signer')} and its current nonce: it was signed for other "
        "content, another chain, or an older nonce"
    ),
    "RegistryUnauthorizedEscrow": lambda w: f"{w.account('caller')} is not a registered escrow",
    "RegistryUnauthorizedBudget": lambda w: f"{w.account('caller')} is not the budget office",
    # ---------------------------------------------------------------- BudgetLedger
    "BudgetUnauthorized": lambda w: f"{w.account('account')} is not {w.role('role')} of {w.org('organization')}",
    "BudgetUnauthorizedCaller": lambda w: f"{w.account('caller')} is neither the factory nor a procurement's escrow",
    "BudgetUnknownMinistry": lambda w: f"{w.org('ministry')!r} is not a registered ministry",
    "BudgetInvalidKey": lambda w: (
        f"budget line FY{w['fiscalYear']} {w.org('organization')}/{w.org('item')}/{w.org('subItem')} "
        "needs a fiscal year and every code (organization, item, sub-item)"
    ),
    "BudgetInvalidAmount": lambda w: (
        f"amount {w['amount']:,} yen is zero, negative where it must add, or would take a total outside "
        f"0 to {w.yen('max')}"
    ),
    "BudgetMissingHash": _w("the legal instrument or reason is missing (its hash is zero)"),
    "BudgetInitialBudget": lambda w: (
        f"item {w.line('key')}: the initial budget was already enacted"
        if w["initialEnacted"]
        else f"item {w.line('key')}: enact its initial budget before a supplementary one"
    ),
    "BudgetExceedsItem": lambda w: (
        f"item {w.line('key')} has {w.yen('undistributed')} undistributed; this needs {w.yen('amount')}"
    ),
    "BudgetExceedsAvailable": lambda w: (
        f"budget line {w.line('line')} has {w.yen('available')} available; this needs {w.yen('amount')}"
    ),
    "BudgetUnknownLine": lambda w: f"no budget line {w.line('line')} (nothing was distributed to it)",
    "BudgetYearClosed": lambda w: f"fiscal year {w['fiscalYear']} is closed",
    "BudgetYearNotOver": lambda w: f"fiscal year {w['fiscalYear']} is not over: it ends at {w.when('endsAt')}",
    "BudgetYearOver": lambda w: (
        f"fiscal year {w['fiscalYear']} ended at {w.when('endedAt')}: its transfers can no longer be requested "
        "or approved"
    ),
    "BudgetYearNotClosed": lambda w: f"fiscal year {w['fiscalYear']} is not closed yet: its lines cannot be settled",
    "BudgetNotCurrentYear": lambda w: (
        f"fiscal year {w['fiscalYear']} is not the current one ({w['current']}): obligations use the current "
        "year's lines"
    ),
    "BudgetLineSettled": lambda w: f"budget line {w.line('line')} was settled at year end",
    "BudgetInvalidTransfer": lambda w: (
        f"a transfer of {w.yen('amount')} from {w.line('from')} to {w.line('to')} must name two different lines "
        "of one ministry and fiscal year, and an amount"
    ),
    "BudgetTransferNotAuthorized": lambda w: (
        f"a transfer between items {w.line('from')} and {w.line('to')} (移用) needs the Diet's prior authorization "
        "on both"
    ),
    "BudgetCarryOverNotAuthorized": lambda w: (
        f"a {w.choice('kind', CARRY_OVER_KINDS)} is not authorized for budget line {w.line('line')}"
    ),
    "BudgetCrossMinistryMultiYear": lambda w: (
        f"a multi-year procurement of {w.org('buyer')} cannot obligate {w.org('lineMinistry')}'s budget lines"
    ),
    "BudgetUnknownEscrow": lambda w: f"escrow {w['escrow']} has no obligation on the budget ledger",
    "BudgetAlreadyObligated": lambda w: f"escrow {w['escrow']} already has an obligation",
    "BudgetDrawExceedsObligation": lambda w: (
        f"escrow {short(w['escrow'])} may draw only {w.yen('undrawn')} more on its obligation; it asked for "
        f"{w.yen('amount')}"
    ),
    "BudgetObligationExceedsNeed": lambda w: (
        f"escrow {short(w['escrow'])} needs only {w.yen('uncovered')} more; {w.yen('amount')} was asked for"
    ),
    "BudgetPreviousYearOpen": lambda w: (
        f"the fiscal year {w['fiscalYear']} line (series {w['series']}) still carrying this obligation is not "
        "settled yet"
    ),
    # ---------------------------------------------------------------- BudgetOffice
    "BudgetUnknownTransfer": lambda w: f"no pending transfer {w['transferId']} with this content and requester",
    "BudgetSameOrganization": lambda w: (
        f"{w.account('approver')} belongs to {w.org('organization')}, the requester's organization: another "
        "organization approves a transfer"
    ),
    "BudgetRequesterNotCurrent": lambda w: (
        f"transfer {w['transferId']}'s requester {w.account('requester')} is no longer a finance officer of its "
        "ministry"
    ),
    "BudgetOfficeUnauthorized": lambda w: f"{w.account('account')} is not {w.role('role')} of {w.org('organization')}",
    "BudgetOfficeMissingHash": _w("the reason is missing (its hash is zero)"),
    "BudgetInvalidGrant": lambda w: (
        f"a grant of {w.choice('kind', ACCESS_KINDS)} to {w.org('grantee')} (cap {w.yen('cap')}, expiring "
        f"{w.when('expiresAt')}) is invalid: it may not name the line's own ministry, an obligate grant needs a "
        "cap and a view grant none, and it must expire in the future"
    ),
    "BudgetAccessDenied": lambda w: (
        f"{w.org('grantee')} holds no unexpired right to obligate budget line series {w['series']} of fiscal year "
        f"{w['fiscalYear']}"
    ),
    "BudgetGrantExceeded": lambda w: (
        f"{w.org('grantee')}'s grant on series {w['series']} (fiscal year {w['fiscalYear']}) has "
        f"{w.yen('remaining')} left; this needs {w.yen('amount')}"
    ),
    "BudgetOfficeUnauthorizedCaller": lambda w: f"{w.account('caller')} is not the budget ledger",
    "BudgetInvalidAuthority": lambda w: (
        f"multi-year authority {w.org('authorityId')!r} is invalid: its id is empty or taken, its schedule is "
        "empty, too long or above its ceiling, or its ceiling is zero or too large"
    ),
    "BudgetUnknownAuthority": lambda w: f"no multi-year authority {w.org('authorityId')!r} for this budget line",
    "BudgetOutsideAuthority": lambda w: (
        f"a milestone falls due in fiscal year {w['fiscalYear']}, which multi-year authority "
        f"{w.org('authorityId')!r} does not cover"
    ),
    "BudgetExceedsSchedule": lambda w: (
        f"multi-year authority {w.org('authorityId')!r} has {w.yen('remaining')} left in fiscal year "
        f"{w['fiscalYear']}; the procurement needs {w.yen('amount')}"
    ),
    "BudgetExceedsCeiling": lambda w: (
        f"multi-year authority {w.org('authorityId')!r} has {w.yen('remaining')} left under its ceiling; the "
        f"procurement needs {w.yen('amount')} in later years"
    ),
    "BudgetNothingScheduled": lambda w: (
        f"nothing is scheduled for escrow {short(w['escrow'])} up to fiscal year {w['fiscalYear']}"
    ),
    "BudgetSignatureExpired": lambda w: (
        f"the signature expired at {w.when('deadline')} (now {w.when('nowTime')}); sign again"
    ),
    "BudgetInvalidSignature": lambda w: (
        f"the signature does not match {w.account('signer')} and its current nonce: it was signed for other "
        "content, another chain, or an older nonce"
    ),
    # ---------------------------------------------------------------- MilestoneEscrow
    "EscrowUnauthorized": lambda w: f"{w.account('account')} is not {w.role('role')} of this procurement",
    "EscrowSegregationOfDuties": lambda w: (
        f"{w.account('evaluator')} may not evaluate this procurement: it is the supplier's or created the procurement"
    ),
    "EscrowNotOnPanel": lambda w: f"{w.account('evaluator')} is not on this procurement's evaluation panel",
    "EscrowAlreadyAttested": lambda w: (
        f"{w.account('evaluator')} already attested milestone {w['milestoneId']} in round {w['round']}"
    ),
    "EscrowUnknownMilestone": lambda w: (
        f"there is no milestone {w['milestoneId']}: this procurement has {w['milestoneCount']} "
        f"(numbered 0 to {int(w['milestoneCount']) - 1})"
    ),
    "EscrowUnexpectedMilestoneStatus": lambda w: f"{w.milestone_status()}; this needs it {w.statuses('allowed')}",
    "EscrowWrongRound": lambda w: f"milestone {w['milestoneId']} is in evidence round {w['current']}, not {w['given']}",
    "EscrowPastDueDate": lambda w: (
        f"milestone {w['milestoneId']} was due at {w.when('dueDate')}: evidence is no longer accepted "
        f"(now {w.when('nowTime')})"
    ),
    "EscrowNotYetReclaimable": lambda w: (
        f"milestone {w['milestoneId']} can be reclaimed from {w.when('availableAt')} (now {w.when('nowTime')})"
    ),
    "EscrowInvalidFunding": lambda w: (
        f"funding of {w.yen('amount')} is zero or more than the open milestones still need ({w.yen('maxAcceptable')})"
    ),
    "EscrowFundingMismatch": lambda w: f"the escrow received {w.yen('received')} instead of {w.yen('expected')}",
    "EscrowInvalidAmendment": lambda w: (
        f"{w.choice('kind', AMENDMENT_KINDS)} of milestone {w['milestoneId']} (amount {w.yen('newAmount')}, due "
        f"{w.when('newDueDate')}) is not allowed: check the amount is 1 yen or more and the due date in the future"
    ),
    "EscrowUnknownAmendment": lambda w: f"there is no pending amendment {w['amendmentId']} (or it was executed)",
    "EscrowSameOfficer": lambda w: (
        f"amendment {w['amendmentId']} needs a second officer: {w.account('officer')} proposed it"
    ),
    "EscrowAmendmentMismatch": lambda w: (
        f"amendment {w['amendmentId']} says something else than what was approved or consented to"
    ),
    "EscrowProposerNotOfficer": lambda w: (
        f"amendment {w['amendmentId']}'s proposer {w.account('proposer')} is no longer a procurement officer of "
        "the buying ministry"
    ),
    "EscrowSupplierConsentRequired": lambda w: (
        f"amendment {w['amendmentId']} cuts, cancels or hastens milestone {w['milestoneId']} under evaluation: it "
        "needs the supplier's consent first"
    ),
    "EscrowInvalidSettlement": lambda w: (
        f"the supplier's share {w.yen('supplierAmount')} exceeds milestone {w['milestoneId']}'s {w.yen('amount')}"
    ),
    "EscrowPaused": lambda w: f"releases are paused until {w.when('pausedUntil')}",
    "EscrowInvalidPause": lambda w: (
        f"a pause until {w.when('until')} must end after now and at most at {w.when('maxUntil')}"
    ),
    "EscrowNotPaused": _w("releases are not paused"),
    "EscrowNothingOwed": lambda w: f"nothing is owed on milestone {w['milestoneId']}",
    "EscrowRulingPeriodOver": lambda w: (
        f"the ruling period of milestone {w['milestoneId']}'s dispute ended at {w.when('lapsesAt')}: it can only "
        "lapse now"
    ),
    "EscrowDisputeNotLapsed": lambda w: (
        f"milestone {w['milestoneId']}'s dispute lapses only at {w.when('lapsesAt')} (now {w.when('nowTime')})"
    ),
    "EscrowAlreadyDisputed": lambda w: (
        f"a dispute on milestone {w['milestoneId']} ({w.status('status')}, round {w['round']}) already lapsed: it "
        "cannot be opened again"
    ),
    "EscrowSupplierNotOffboarded": lambda w: (
        f"supplier {w.account('supplier')} can still hold yen: milestone {w['milestoneId']}'s payment is not redirected"
    ),
    "EscrowInvalidRedirect": lambda w: (
        f"milestone {w['milestoneId']}'s owed yen cannot go to {w.account('to')}: only to an active supplier "
        "account of the supplier's organization, or back to the ministry"
    ),
    "EscrowSignatureExpired": lambda w: (
        f"the signature expired at {w.when('deadline')} (now {w.when('nowTime')}); sign again"
    ),
    "EscrowInvalidSignature": lambda w: (
        f"the signature does not match {w.account('signer')} and its current nonce on this procurement: it was "
        "signed for other content, another escrow or chain, or an older nonce"
    ),
    "EscrowUriTooLong": lambda w: f"the evidence URI is {w['length']} bytes long; at most {w['max']} are allowed",
    "EscrowInsufficientFunds": lambda w: (
        f"the escrow holds {w.yen('available')}, less than the {w.yen('needed')} to pay"
    ),
    # ---------------------------------------------------------------- ProcurementFactory
    "FactoryUnauthorized": lambda w: f"{w.account('caller')} is not an active procurement officer",
    "FactoryInvalidSupplier": lambda w: f"{w.account('supplier')} is not an active supplier",
    "FactoryInvalidEvaluator": lambda w: (
        f"{w.account('evaluator')} is not an active evaluator, or is on the panel twice"
    ),
    "FactoryUnsortedPanel": lambda w: (
        f"the panel is not in ascending address order: {w.account('evaluator')} at position {w['index']}"
    ),
    "FactorySegregationOfDuties": lambda w: (
        f"{w.account('evaluator')} may not evaluate: it is the officer, the supplier, or of the supplier's organization"
    ),
    "FactoryInvalidPanel": lambda w: (
        f"a panel of {w['evaluators']} evaluator(s) with quorum {w['quorum']} is out of range"
    ),
    "FactoryInvalidMilestones": lambda w: (
        f"{w['amounts']} amount(s) and {w['dueDates']} due date(s): the milestone lists must be non-empty, not too "
        "long, and of one length"
    ),
    "FactoryInvalidMilestone": lambda w: (
        f"milestone {w['index']} ({w.yen('amount')}, due {w.when('dueDate')}) needs an amount of 1 yen or more "
        "(not too large) and a due date in the future"
    ),
    "FactoryInvalidFunding": lambda w: (
        f"the initial funding {w.yen('fundAmount')} exceeds the procurement's total {w.yen('total')}, or did not "
        "arrive exactly"
    ),
    "FactoryInvalidPeriods": lambda w: (
        f"ruling period {w.days('rulingPeriod')} or grace period {w.days('gracePeriod')} is out of range (ruling "
        "7 to 365 days, grace 30 to 730 days)"
    ),
    # ---------------------------------------------------------------- YenToken
    "YenTokenUnauthorizedMinter": lambda w: f"{w.account('caller')} is not the budget ledger: only it mints yen",
    "YenTokenUnauthorizedHolder": lambda w: (
        f"{w.account('holder')} may not hold yen: only accounts of active organizations and escrows may"
    ),
    "YenTokenDirectTransferToEscrow": lambda w: (
        f"{w.account('sender')} cannot transfer yen into escrow {short(w['escrow'])}: an escrow is funded only by "
        "the budget ledger"
    ),
    "YenTokenInvalidMint": lambda w: "a mint needs an appropriation and an amount of 1 yen or more",
    # ---------------------------------------------------------------- OpenZeppelin, inherited
    "ERC20InsufficientAllowance": lambda w: (
        f"{w.account('spender')} may spend only {w.yen('allowance')} of the owner's yen; this needs {w.yen('needed')}"
    ),
    "ERC20InsufficientBalance": lambda w: (
        f"{w.account('sender')} holds {w.yen('balance')}; this needs {w.yen('needed')}"
    ),
    "ERC20InvalidApprover": lambda w: f"{w.account('approver')} cannot approve spending",
    "ERC20InvalidReceiver": lambda w: f"{w.account('receiver')} cannot receive yen",
    "ERC20InvalidSender": lambda w: f"{w.account('sender')} cannot send yen",
    "ERC20InvalidSpender": lambda w: f"{w.account('spender')} cannot be approved to spend",
    "ERC2612ExpiredSignature": lambda w: f"the permit expired at {w.when('deadline')}; sign again",
    "ERC2612InvalidSigner": lambda w: (
        f"the permit is signed by {w.account('signer')}, not by the owner {w.account('owner')}"
    ),
    "InvalidAccountNonce": lambda w: (
        f"{w.account('account')}'s current nonce is {w['currentNonce']}: the signature used another one"
    ),
    "ECDSAInvalidSignature": _w("the signature is malformed"),
    "ECDSAInvalidSignatureLength": lambda w: f"a signature is 65 bytes, not {w['length']}",
    "ECDSAInvalidSignatureS": _w("the signature is malformed (its s value is in the upper half)"),
    "AccessControlUnauthorizedAccount": lambda w: f"{w.account('account')} is not {w.role('neededRole')}",
    "AccessControlBadConfirmation": _w("an account renounces only its own roles"),
    "SafeERC20FailedOperation": lambda w: f"the token transfer of {w.account('token')} failed",
    "AddressEmptyCode": lambda w: f"there is no contract at {w['target']}",
    "CloneArgumentsTooLong": _w("the escrow's terms are too long to deploy"),
    "Create2EmptyBytecode": _w("the escrow could not be deployed (no bytecode)"),
    "FailedDeployment": _w("the escrow could not be deployed"),
    "FailedCall": _w("a call failed"),
    "InsufficientBalance": lambda w: f"the balance {w.yen('balance')} is less than {w.yen('needed')}",
    "InvalidShortString": _w("a short string is malformed"),
    "StringTooLong": lambda w: f"the text is too long ({len(str(w['str']))} characters)",
    # Not custom errors, but what ``ErrorDecoder`` makes of a revert string and of a panic.
    "Error": lambda w: f"the contract refused: {w['reason']}",
    "Panic": lambda w: f"the contract failed ({w['meaning']}, panic code {w['code']:#x})",
}


def explain(
    revert: ContractRevert, organization_of: OrganizationOf | None = None, due_date_of: DueDateOf | None = None
) -> str:
    """``revert`` as one sentence; its raw form if no sentence is declared (the test makes sure one is).

    ``organization_of`` names accounts' organizations; ``due_date_of`` gives a milestone's due date on the
    procurement acted on (a rejected milestone's refusal then says until when evidence is accepted)."""
    sentence = SENTENCES.get(revert.name)
    if sentence is None:
        return revert.raw
    try:
        return sentence(_Words(revert.args_by_name, organization_of, due_date_of))
    except (KeyError, IndexError, TypeError, ValueError):  # arguments not as declared: say it raw, never crash
        return revert.raw
