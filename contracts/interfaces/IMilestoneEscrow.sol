// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMilestoneEscrow
/// @notice One escrow per procurement. The buying ministry funds it; the supplier submits evidence per
/// milestone; a panel of independent evaluators attests; a quorum of distinct passes releases that milestone's
/// payment to the supplier. Unmet milestones can be reclaimed after their due date; amendments need two
/// officers; a review body settles disputes.
///
/// Milestone states:
///
///     Pending --evidence--> Submitted --quorum of passes--> Approved --payment--> Paid
///        ^                      |   \--quorum of fails--> Rejected --evidence--> Submitted
///        |                      |                             |
///        |                      +--dispute--> Disputed <------+ --review body--> Settled
///     (Pending, Submitted, Rejected) --due date passed--> Refunded ; --cancel amendment--> Cancelled
///
/// Invariant: the escrow's token balance always equals funded - released - refunded.
///
/// Every supplier, evaluator and officer action has a `...BySig` variant taking an EIP-712 signature
/// (domain: name "ProcurementEscrow", version "1", the chain id and this escrow's address). The nonce is
/// the signer's registry nonce (`IAccessRegistry.nonces`), consumed by the call; the deadline is a unix time.
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
    /// @param passes Distinct evaluators who attested pass in the current round.
    /// @param fails Distinct evaluators who attested fail in the current round.
    /// @param owed Yen approved for the supplier but not yet transferred (paused, or transfer refused).
    struct Milestone {
        uint256 amount;
        uint64 dueDate;
        MilestoneStatus status;
        uint16 round;
        uint8 passes;
        uint8 fails;
        uint256 owed;
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
    /// @notice An amendment value is invalid (zero or unchanged amount, past or unchanged due date).
    error EscrowInvalidAmendment(uint256 milestoneId, AmendmentKind kind, uint256 newAmount, uint256 newDueDate);
    /// @notice No such amendment, or it was already executed.
    error EscrowUnknownAmendment(uint256 amendmentId);
    /// @notice The amendment's approver must be an officer other than its proposer.
    error EscrowSameOfficer(uint256 amendmentId, address officer);
    /// @notice The settlement's supplier share exceeds the milestone amount.
    error EscrowInvalidSettlement(uint256 milestoneId, uint256 supplierAmount, uint256 amount);
    /// @notice Releases are paused by the ministry admin.
    error EscrowPaused();
    /// @notice Already in the requested pause state.
    error EscrowPauseUnchanged(bool paused);
    /// @notice Nothing is owed on this milestone, or it cannot be paid yet.
    error EscrowNothingOwed(uint256 milestoneId);
    /// @notice The signature's deadline has passed.
    error EscrowSignatureExpired(uint256 deadline, uint256 nowTime);
    /// @notice The signature does not recover to `signer` for the signer's current nonce on this chain and escrow.
    error EscrowInvalidSignature(address signer);
    /// @notice The evidence URI is longer than `max` bytes.
    error EscrowUriTooLong(uint256 length, uint256 max);
    /// @notice The escrow holds `available` yen, less than the `needed` payment.
    error EscrowInsufficientFunds(uint256 needed, uint256 available);
    /// @notice The buying ministry has no vault account to refund to.
    error EscrowNoVault(bytes32 ministryOrg);
    /// @notice A value does not fit the escrow's accounting range.
    error EscrowAmountOverflow(uint256 amount);

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
    /// @notice A quorum of fails rejected the round; the supplier may resubmit until the due date.
    event SubmissionRejected(uint256 indexed milestoneId, uint256 round, uint256 fails);
    /// @notice `amount` yen went to the supplier for the milestone.
    event PaymentReleased(uint256 indexed milestoneId, address indexed supplier, uint256 amount);
    /// @notice The payment could not be made now (paused, underfunded, or transfer refused) and stays owed.
    event PaymentDeferred(uint256 indexed milestoneId, address indexed supplier, uint256 amount);
    /// @notice `amount` yen went back to the ministry's vault for the milestone.
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
    /// @notice A dispute was opened on a milestone.
    event DisputeOpened(
        uint256 indexed milestoneId, address indexed opener, MilestoneStatus previous, bytes32 reasonHash
    );
    /// @notice A review body settled a dispute as a split between supplier and ministry.
    event DisputeSettled(
        uint256 indexed milestoneId,
        address indexed reviewer,
        uint256 supplierAmount,
        uint256 ministryAmount,
        bytes32 rulingHash
    );
    /// @notice The ministry admin paused or resumed releases.
    event PauseChanged(address indexed admin, bool paused);
    /// @notice A signed action was relayed and the signer's registry nonce `nonce` consumed; the action's own
    /// event follows in the same transaction.
    event SignatureUsed(address indexed signer, address relayer, uint256 nonce);

    /// @notice Pulls `amount` yen from the caller (an officer of the buying ministry who approved this escrow).
    /// The escrow's balance must grow by exactly `amount`, and may not exceed what the open milestones need.
    function fund(uint256 amount) external;

    /// @notice Like {fund}, signed by `signer` (who must have approved this escrow for `amount`).
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
    /// Anyone may call; the money only ever goes to the supplier.
    function claimPayment(uint256 milestoneId) external;

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

    /// @notice A second, distinct officer approves an amendment; it takes effect at once.
    function approveAmendment(uint256 amendmentId) external;

    /// @notice Like {approveAmendment}, signed by `signer` (an officer).
    function approveAmendmentBySig(uint256 amendmentId, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice The supplier or an officer opens a dispute on a Submitted or Rejected milestone.
    function openDispute(uint256 milestoneId, bytes32 reasonHash) external;

    /// @notice Like {openDispute}, signed by `signer` (the supplier or an officer).
    function openDisputeBySig(
        uint256 milestoneId,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice A review body settles a dispute: `supplierAmount` to the supplier, the rest back to the ministry.
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

    /// @notice The buying ministry's admin pauses or resumes releases. Refunds of expired milestones go on.
    function setPaused(bool paused) external;

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

    /// @notice Running totals: the escrow's balance always equals funded - released - refunded.
    function totals() external view returns (uint256 funded, uint256 released, uint256 refunded, uint256 owed);

    /// @notice Whether releases are paused.
    function paused() external view returns (bool);

    /// @notice True if `evaluator` attested in the current round of the milestone.
    function hasAttested(uint256 milestoneId, address evaluator) external view returns (bool);

    /// @notice What the open milestones and owed payments still need beyond the current balance.
    function shortfall() external view returns (uint256);

    /// @notice The EIP-712 domain separator (chain id and this escrow's address).
    function domainSeparator() external view returns (bytes32);
}
