// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMilestoneEscrow
/// @notice One escrow per procurement. The buying ministry funds it from the procurement's budget obligation; the supplier submits evidence per
/// milestone; a panel of independent evaluators attests; a quorum of distinct passes releases that milestone's
/// payment to the supplier. Unmet milestones can be reclaimed after their due date; amendments need two
/// officers (and the supplier's consent to cut or cancel a delivered milestone); a review body settles
/// disputes, which lapse if it does not rule in time.
///
/// Milestone states:
///
///     Pending --evidence--> Submitted --quorum of passes--> Approved --payment--> Paid
///        ^                      |   \--pass quorum out of reach--> Rejected --evidence--> Submitted
///        |                      |                                    |
///        |                      +--dispute--> Disputed <-------------+
///        |                                      |--review body--> Settled
///        |                                      \--ruling period over: lapse--> back to Submitted or Rejected
///     (Pending, Submitted, Rejected) --due date passed--> Refunded ; --cancel amendment--> Cancelled
///
/// Votes count at decision time: a round is approved when `quorum` panel evaluators who may still attest
/// (active evaluator role, not of the supplier's organization) have passed it, and rejected when so many
/// such evaluators have failed it that a pass quorum is out of reach (fails > panel size - quorum).
///
/// Invariant: the escrow's token balance always equals funded - released - refunded, and every yen it holds
/// is needed by an open milestone or owed to the supplier: no yen is stranded. What it no longer needs goes back
/// to the budget line at once (burned and de-obligated by the budget ledger): nothing is ever owed to the ministry.
///
/// Every supplier, evaluator, officer and review body action has a `...BySig` variant taking an EIP-712
/// signature (domain: name "ProcurementEscrow", version "1", the chain id and this escrow's address). The
/// nonce is the signer's registry nonce (`IAccessRegistry.nonces`), consumed by the call; the deadline is a
/// unix time. A signer withdraws signatures it has given out with `IAccessRegistry.invalidateNonces`.
interface IMilestoneEscrow {
    /// @notice The state of one milestone.
    enum MilestoneStatus {
        Pending,
        Submitted,
        Rejected,
        Approved,
        Paid,
        Disputed,
        Settled,
        Refunded,
        Cancelled
    }

    /// @notice What an amendment changes.
    enum AmendmentKind {
        Amount,
        DueDate,
        Cancel
    }

    /// @notice A milestone as seen from outside.
    /// @param amount Payment in yen released when the milestone passes.
    /// @param dueDate Unix time after which no evidence is accepted and the ministry may reclaim.
    /// @param status Current state.
    /// @param round Number of evidence submissions so far; attestations are per round.
    /// @param passes Distinct evaluators who attested pass in the current round (whether they still count is
    /// decided when the round is).
    /// @param fails Distinct evaluators who attested fail in the current round.
    /// @param owed Yen approved for the supplier but not yet transferred (paused, or transfer refused).
    /// @param disputeLapsesAt While Disputed: the time after which the dispute lapses; zero otherwise.
    struct Milestone {
        uint256 amount;
        uint64 dueDate;
        MilestoneStatus status;
        uint16 round;
        uint8 passes;
        uint8 fails;
        uint256 owed;
        uint64 disputeLapsesAt;
    }

    /// @notice A proposed amendment awaiting its second officer.
    struct Amendment {
        uint32 milestoneId;
        AmendmentKind kind;
        bool executed;
        address proposer;
        uint64 newDueDate;
        uint256 newAmount;
        bytes32 rationaleHash;
        bool supplierConsented;
    }

    /// @notice The full content of an amendment, as an approval or a consent must name it.
    struct AmendmentContent {
        uint256 milestoneId;
        AmendmentKind kind;
        uint256 newAmount;
        uint64 newDueDate;
        bytes32 rationaleHash;
    }

    /// @notice A review body's ruling that an off-boarded supplier's owed yen go elsewhere.
    /// @param to The supplier organization's successor account, or zero for the ministry.
    /// @param executableAt When the redirect may be carried out (ruling time + the grace period).
    struct Redirect {
        address to;
        uint64 executableAt;
        bytes32 rulingHash;
    }

    /// @notice The fixed terms of the procurement, set at creation.
    struct Terms {
        bytes32 procurementId;
        bytes32 ministryOrg;
        bytes32 supplierOrg;
        address supplier;
        address officer;
        address token;
        address registry;
        uint8 quorum;
        address[] evaluators;
        uint32 rulingPeriod;
        uint32 gracePeriod;
    }

    /// @notice `account` may not perform this action: it lacks `role` for this procurement.
    error EscrowUnauthorized(address account, bytes32 role);
    /// @notice The evaluator is the supplier, belongs to the supplier's organization, or created the procurement.
    error EscrowSegregationOfDuties(address evaluator);
    /// @notice The evaluator is not on this procurement's panel.
    error EscrowNotOnPanel(address evaluator);
    /// @notice The evaluator already attested in this round.
    error EscrowAlreadyAttested(uint256 milestoneId, uint256 round, address evaluator);
    /// @notice The milestone id is out of range.
    error EscrowUnknownMilestone(uint256 milestoneId, uint256 milestoneCount);
    /// @notice The milestone is in `current` state; the action needs one of the states in the bit set `allowed`.
    error EscrowUnexpectedMilestoneStatus(uint256 milestoneId, MilestoneStatus current, uint256 allowed);
    /// @notice The attestation names round `given` but the current round is `current`.
    error EscrowWrongRound(uint256 milestoneId, uint256 given, uint256 current);
    /// @notice Evidence comes too late: the due date has passed.
    error EscrowPastDueDate(uint256 milestoneId, uint256 dueDate, uint256 nowTime);
    /// @notice The milestone cannot be reclaimed before `availableAt`.
    error EscrowNotYetReclaimable(uint256 milestoneId, uint256 availableAt, uint256 nowTime);
    /// @notice A funding amount is zero, or would exceed what the open milestones still need.
    error EscrowInvalidFunding(uint256 amount, uint256 maxAcceptable);
    /// @notice The token balance grew by `received` instead of `expected`.
    error EscrowFundingMismatch(uint256 expected, uint256 received);
    /// @notice An amendment value is invalid (zero, unchanged or above MAX_AMOUNT amount, past or unchanged due
    /// date).
    error EscrowInvalidAmendment(uint256 milestoneId, AmendmentKind kind, uint256 newAmount, uint256 newDueDate);
    /// @notice No such amendment, or it was already executed.
    error EscrowUnknownAmendment(uint256 amendmentId);
    /// @notice The amendment's approver must be an officer other than its proposer.
    error EscrowSameOfficer(uint256 amendmentId, address officer);
    /// @notice The approval or consent names other content than the amendment's.
    error EscrowAmendmentMismatch(uint256 amendmentId, AmendmentContent stored, AmendmentContent given);
    /// @notice The amendment's proposer no longer holds the officer role of the buying ministry.
    error EscrowProposerNotOfficer(uint256 amendmentId, address proposer);
    /// @notice Cutting, cancelling or bringing forward a milestone under evaluation needs the supplier's consent.
    error EscrowSupplierConsentRequired(uint256 amendmentId, uint256 milestoneId);
    /// @notice The settlement's supplier share exceeds the milestone amount.
    error EscrowInvalidSettlement(uint256 milestoneId, uint256 supplierAmount, uint256 amount);
    /// @notice Releases are paused by the ministry admin until `pausedUntil`.
    error EscrowPaused(uint256 pausedUntil);
    /// @notice A pause must end after now and at most MAX_PAUSE from now.
    error EscrowInvalidPause(uint256 until, uint256 maxUntil);
    /// @notice Releases are not paused.
    error EscrowNotPaused();
    /// @notice Nothing is owed on this milestone (to the supplier).
    error EscrowNothingOwed(uint256 milestoneId);
    /// @notice The dispute's ruling period ended at `lapsesAt`; it can only lapse now.
    error EscrowRulingPeriodOver(uint256 milestoneId, uint256 lapsesAt, uint256 nowTime);
    /// @notice The dispute does not lapse before `lapsesAt`.
    error EscrowDisputeNotLapsed(uint256 milestoneId, uint256 lapsesAt, uint256 nowTime);
    /// @notice A dispute on this round and state already lapsed; it cannot be opened again.
    error EscrowAlreadyDisputed(uint256 milestoneId, uint256 round, MilestoneStatus status);
    /// @notice The supplier can still hold yen: its owed payment is not redirected.
    error EscrowSupplierNotOffboarded(uint256 milestoneId, address supplier);
    /// @notice A redirect goes to an active supplier account of the supplier's organization, or to the ministry.
    error EscrowInvalidRedirect(uint256 milestoneId, address to);
    /// @notice The signature's deadline has passed.
    error EscrowSignatureExpired(uint256 deadline, uint256 nowTime);
    /// @notice The signature does not recover to `signer` for the signer's current nonce on this chain and escrow.
    error EscrowInvalidSignature(address signer);
    /// @notice The evidence URI is longer than `max` bytes.
    error EscrowUriTooLong(uint256 length, uint256 max);
    /// @notice The escrow holds `available` yen, less than the `needed` payment.
    error EscrowInsufficientFunds(uint256 needed, uint256 available);

    /// @notice The escrow received `amount` from `funder`; `totalFunded` is the running total. (The initial
    /// funding paid at creation is reported by the factory's ProcurementCreated event.)
    event Funded(address indexed funder, uint256 amount, uint256 totalFunded);
    /// @notice The supplier submitted evidence for round `round` of milestone `milestoneId`.
    event EvidenceSubmitted(
        uint256 indexed milestoneId, address indexed supplier, uint256 round, bytes32 documentHash, string uri
    );
    /// @notice An evaluator attested pass or fail for round `round`. A quorum is announced separately by
    /// MilestoneApproved or SubmissionRejected.
    event Attested(uint256 indexed milestoneId, address indexed evaluator, uint256 round, bool pass, bytes32 reportHash);
    /// @notice A quorum of passes approved the round; payment follows (PaymentReleased or PaymentDeferred).
    event MilestoneApproved(uint256 indexed milestoneId, uint256 round, uint256 amount);
    /// @notice Enough fails rejected the round that a pass quorum is out of reach; `fails` counts those that
    /// counted. The supplier may resubmit until the due date.
    event SubmissionRejected(uint256 indexed milestoneId, uint256 round, uint256 fails);
    /// @notice When the round was about to be decided, these evaluators' votes in it did not count: they no
    /// longer may attest (role revoked, organization deactivated, or moved to the supplier's organization).
    /// Their votes stay recorded and count again at a later decision if they may attest again by then.
    event AttestationsDisregarded(uint256 indexed milestoneId, uint256 round, address[] evaluators);
    /// @notice `amount` yen went to the supplier for the milestone.
    event PaymentReleased(uint256 indexed milestoneId, address indexed supplier, uint256 amount);
    /// @notice The payment could not be made now (paused, underfunded, or transfer refused) and stays owed.
    event PaymentDeferred(uint256 indexed milestoneId, address indexed supplier, uint256 amount);
    /// @notice `amount` yen the escrow no longer needs for the milestone went back to the budget line: burned and
    /// de-obligated by the budget ledger (`vault`, whose Deobligated event follows). Cannot be refused.
    event Refunded(uint256 indexed milestoneId, address indexed vault, uint256 amount);
    /// @notice The ministry reclaimed a milestone left unmet after its due date.
    event MilestoneReclaimed(uint256 indexed milestoneId, address indexed officer, MilestoneStatus previous);
    /// @notice An officer proposed an amendment.
    event AmendmentProposed(
        uint256 indexed amendmentId,
        uint256 indexed milestoneId,
        address indexed proposer,
        AmendmentKind kind,
        uint256 newAmount,
        uint256 newDueDate,
        bytes32 rationaleHash
    );
    /// @notice The supplier consented to an amendment's content (needed to cut, cancel or bring forward a
    /// milestone under evaluation).
    event AmendmentConsented(uint256 indexed amendmentId, uint256 indexed milestoneId, address indexed supplier);
    /// @notice A second officer approved an amendment, which took effect.
    event AmendmentApproved(
        uint256 indexed amendmentId,
        uint256 indexed milestoneId,
        address indexed approver,
        AmendmentKind kind,
        uint256 oldAmount,
        uint256 newAmount,
        uint256 oldDueDate,
        uint256 newDueDate
    );
    /// @notice A dispute was opened on a milestone; it lapses back to `previous` after `lapsesAt` unless a
    /// review body rules first.
    event DisputeOpened(
        uint256 indexed milestoneId,
        address indexed opener,
        MilestoneStatus previous,
        bytes32 reasonHash,
        uint256 lapsesAt
    );
    /// @notice No review body ruled within the ruling period: the milestone went back to `restored`, and its
    /// due date moved by the time it was frozen, to `newDueDate`.
    event DisputeLapsed(uint256 indexed milestoneId, MilestoneStatus restored, uint256 newDueDate);
    /// @notice A review body settled a dispute as a split between supplier and ministry.
    event DisputeSettled(
        uint256 indexed milestoneId,
        address indexed reviewer,
        uint256 supplierAmount,
        uint256 ministryAmount,
        bytes32 rulingHash
    );
    /// @notice The ministry admin paused releases until `pausedUntil`, renewed a pause, or resumed them
    /// (`pausedUntil` zero).
    event PauseChanged(address indexed admin, uint256 pausedUntil);
    /// @notice A review body ruled that the owed yen of the off-boarded supplier on this milestone go to `to`
    /// (the supplier organization's successor account, or zero: back to the ministry) from `executableAt`, if
    /// the supplier still cannot hold yen by then.
    event OwedRedirectRuled(
        uint256 indexed milestoneId,
        address indexed reviewer,
        address indexed to,
        uint256 amount,
        uint256 executableAt,
        bytes32 rulingHash
    );
    /// @notice The supplier's owed yen on the milestone went to `to` as ruled: a successor account (counted as
    /// released), or (`to` zero) the ministry: the debt to the supplier ends, and a Refunded
    /// event follows for what the escrow holds of it (all of it unless the escrow is underfunded).
    event OwedRedirected(uint256 indexed milestoneId, address indexed to, uint256 amount, bytes32 rulingHash);
    /// @notice A signed action was relayed and the signer's registry nonce `nonce` consumed; the action's own
    /// event follows in the same transaction.
    event SignatureUsed(address indexed signer, address relayer, uint256 nonce);

    /// @notice Draws `amount` yen on the procurement's obligation (the budget ledger mints them into the escrow).
    /// An officer of the buying ministry; at most what the open milestones need beyond the balance, and within
    /// the obligation (raise it first with the ledger's `increaseObligation` if an amendment raised the need).
    function fund(uint256 amount) external;

    /// @notice Like {fund}, signed by `signer` (an officer of the buying ministry).
    function fundBySig(uint256 amount, address signer, uint256 deadline, bytes calldata signature) external;

    /// @notice The supplier submits evidence for a milestone: a document hash and where to fetch it.
    /// Allowed in Pending or Rejected state, until the due date; starts a new attestation round.
    function submitEvidence(uint256 milestoneId, bytes32 documentHash, string calldata uri) external;

    /// @notice Like {submitEvidence}, signed by `signer` (the supplier).
    function submitEvidenceBySig(
        uint256 milestoneId,
        bytes32 documentHash,
        string calldata uri,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice A panel evaluator attests pass or fail for the current round, once per round.
    /// @param round The round the evaluator inspected; must be the current one.
    function attest(uint256 milestoneId, uint256 round, bool pass, bytes32 reportHash) external;

    /// @notice Like {attest}, signed by `signer` (the evaluator).
    function attestBySig(
        uint256 milestoneId,
        uint256 round,
        bool pass,
        bytes32 reportHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Pays a milestone's owed amount (after a pause ends, or once a refused transfer can succeed).
    /// Anyone may call; the money only ever goes to the supplier, unless the supplier cannot hold yen and a
    /// review body's redirect ruling on the milestone is due: then to the ruling's recipient.
    function claimPayment(uint256 milestoneId) external;

    /// @notice Like {claimPayment}, signed by `signer` (anyone: the signature records who asked).
    function claimPaymentBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice An officer of the buying ministry reclaims a milestone left unmet after its due date (for a
    /// milestone under evaluation, after the due date plus the 10-day inspection period). Works while paused.
    function reclaim(uint256 milestoneId) external;

    /// @notice Like {reclaim}, signed by `signer` (an officer).
    function reclaimBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature) external;

    /// @notice An officer proposes an amendment; it takes effect when a different officer approves it.
    function proposeAmendment(
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external returns (uint256 amendmentId);

    /// @notice Like {proposeAmendment}, signed by `signer` (an officer).
    function proposeAmendmentBySig(
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 amendmentId);

    /// @notice A second, distinct officer approves an amendment, naming its full content; it takes effect at
    /// once. The proposer must still be an officer of the buying ministry. Cutting the amount of, cancelling or
    /// bringing forward the due date of a Submitted milestone also needs the supplier's consent.
    function approveAmendment(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external;

    /// @notice Like {approveAmendment}, signed by `signer` (an officer).
    function approveAmendmentBySig(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The supplier consents to a pending amendment, naming its full content.
    function consentToAmendment(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external;

    /// @notice Like {consentToAmendment}, signed by `signer` (the supplier).
    function consentToAmendmentBySig(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The supplier or an officer opens a dispute on a Submitted or Rejected milestone (once per round
    /// and state: a lapsed dispute cannot be opened again on the same round and state).
    function openDispute(uint256 milestoneId, bytes32 reasonHash) external;

    /// @notice Like {openDispute}, signed by `signer` (the supplier or an officer).
    function openDisputeBySig(
        uint256 milestoneId,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice A review body settles a dispute within the ruling period: `supplierAmount` to the supplier, the
    /// rest back to the budget line.
    function settleDispute(uint256 milestoneId, uint256 supplierAmount, bytes32 rulingHash) external;

    /// @notice Like {settleDispute}, signed by `signer` (a review body account).
    function settleDisputeBySig(
        uint256 milestoneId,
        uint256 supplierAmount,
        bytes32 rulingHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Anyone lapses a dispute on which no review body ruled within the ruling period: the milestone
    /// goes back to its state before the dispute, and its due date moves by the time it was frozen.
    function lapseDispute(uint256 milestoneId) external;

    /// @notice Like {lapseDispute}, signed by `signer` (anyone: the signature records who asked).
    function lapseDisputeBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice A review body rules that the owed yen of an off-boarded supplier (one that cannot hold yen) on a
    /// milestone go to `to`, an active supplier account of the supplier's organization, or (`to` zero) back to
    /// the ministry. {claimPayment} carries it out once the grace period has passed, if the supplier still
    /// cannot hold yen then. A new ruling replaces the previous one and restarts the grace period.
    function redirectOwed(uint256 milestoneId, address to, bytes32 rulingHash) external;

    /// @notice Like {redirectOwed}, signed by `signer` (a review body account).
    function redirectOwedBySig(
        uint256 milestoneId,
        address to,
        bytes32 rulingHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The buying ministry's admin pauses releases until `until` (after now, at most MAX_PAUSE from
    /// now), or renews a pause. Refunds and rulings go on; payments approved meanwhile stay owed.
    function pauseUntil(uint64 until) external;

    /// @notice Like {pauseUntil}, signed by `signer` (an admin of the buying ministry).
    function pauseUntilBySig(uint64 until, address signer, uint256 deadline, bytes calldata signature) external;

    /// @notice The buying ministry's admin ends a pause early.
    function resume() external;

    /// @notice Like {resume}, signed by `signer` (an admin of the buying ministry).
    function resumeBySig(address signer, uint256 deadline, bytes calldata signature) external;

    /// @notice The fixed terms of this procurement.
    function terms() external view returns (Terms memory);

    /// @notice One milestone's current state.
    function milestone(uint256 milestoneId) external view returns (Milestone memory);

    /// @notice How many milestones the procurement has.
    function milestoneCount() external view returns (uint256);

    /// @notice A proposed amendment.
    function amendment(uint256 amendmentId) external view returns (Amendment memory);

    /// @notice How many amendments were proposed.
    function amendmentCount() external view returns (uint256);

    /// @notice Running totals: the escrow's balance always equals funded - released - refunded. `owed` counts
    /// what is owed to the supplier (the milestones' `owed`).
    function totals() external view returns (uint256 funded, uint256 released, uint256 refunded, uint256 owed);

    /// @notice Whether releases are paused.
    function paused() external view returns (bool);

    /// @notice When the current pause ends (zero, or a past time, if releases are not paused).
    function pausedUntil() external view returns (uint256);

    /// @notice The pending redirect ruling on a milestone (zero fields if none).
    function redirect(uint256 milestoneId) external view returns (Redirect memory);

    /// @notice True if `evaluator` attested in the current round of the milestone.
    function hasAttested(uint256 milestoneId, address evaluator) external view returns (bool);

    /// @notice What the open milestones and owed payments still need beyond the current balance.
    function shortfall() external view returns (uint256);

    /// @notice The EIP-712 domain separator (chain id and this escrow's address).
    function domainSeparator() external view returns (bytes32);
}
