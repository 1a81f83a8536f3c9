// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IBudgetLedger} from "./interfaces/IBudgetLedger.sol";
import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {EscrowLimits} from "./libraries/EscrowLimits.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title MilestoneEscrow
/// @notice The escrow of one procurement, deployed by the factory as an EIP-1167 clone. See {IMilestoneEscrow}.
/// @dev The fixed terms (parties, panel, periods, initial milestone amounts and due dates) live in the clone's
/// immutable arguments rather than in storage: writing them as code costs 200 gas a byte against 22,100 gas a
/// storage slot, which is what keeps creating and funding a 3-milestone procurement under 250,000 gas. Storage
/// holds only what changes; the initial funding, minted by the budget ledger in the creating transaction, is an
/// argument too. Argument layout (packed, see `ProcurementFactory._encodeTerms`):
///
///     procurementId bytes32 | ministryOrg bytes16 | supplierOrg bytes16 | supplier address | officer address
///     | initialFunding uint64 | quorum uint8 | evaluatorCount uint8 | milestoneCount uint8
///     | rulingPeriod uint32 | gracePeriod uint32
///     | evaluators address[evaluatorCount] | (amount uint64, dueDate uint40)[milestoneCount]
///
/// Every amount is at most `EscrowLimits.MAX_AMOUNT` and there are at most 64 milestones, so every sum the
/// books keep (held, released, owed) fits 64 bits and no arithmetic can overflow.
contract MilestoneEscrow is EIP712, IMilestoneEscrow {
    using SafeERC20 for IERC20;

    /// @notice Days an evaluator body has to inspect after delivery (Act on Prevention of Delay in Payment
    /// under Government Contracts, Art. 5): a submitted milestone can be reclaimed only after this much
    /// time past its due date.
    uint256 public constant INSPECTION_PERIOD = 10 days;
    /// @notice Longest evidence URI accepted, in bytes.
    uint256 public constant MAX_URI_LENGTH = 2048;
    /// @notice Longest pause of releases; renewable by a new pause.
    uint256 public constant MAX_PAUSE = EscrowLimits.MAX_PAUSE;
    /// @notice Largest milestone amount in yen.
    uint256 public constant MAX_AMOUNT = EscrowLimits.MAX_AMOUNT;

    bytes32 private constant _FUND_TYPEHASH = keccak256("Fund(uint256 amount,uint256 nonce,uint256 deadline)");
    bytes32 private constant _SUBMIT_EVIDENCE_TYPEHASH = keccak256(
        "SubmitEvidence(uint256 milestoneId,bytes32 documentHash,string uri,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _ATTEST_TYPEHASH = keccak256(
        "Attest(uint256 milestoneId,uint256 round,bool pass,bytes32 reportHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _RECLAIM_TYPEHASH =
        keccak256("Reclaim(uint256 milestoneId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _PROPOSE_AMENDMENT_TYPEHASH = keccak256(
        "ProposeAmendment(uint256 milestoneId,uint8 kind,uint256 newAmount,uint64 newDueDate,bytes32 rationaleHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _APPROVE_AMENDMENT_TYPEHASH = keccak256(
        "ApproveAmendment(uint256 amendmentId,uint256 milestoneId,uint8 kind,uint256 newAmount,uint64 newDueDate,bytes32 rationaleHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _CONSENT_TO_AMENDMENT_TYPEHASH = keccak256(
        "ConsentToAmendment(uint256 amendmentId,uint256 milestoneId,uint8 kind,uint256 newAmount,uint64 newDueDate,bytes32 rationaleHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _OPEN_DISPUTE_TYPEHASH =
        keccak256("OpenDispute(uint256 milestoneId,bytes32 reasonHash,uint256 nonce,uint256 deadline)");
    bytes32 private constant _SETTLE_DISPUTE_TYPEHASH = keccak256(
        "SettleDispute(uint256 milestoneId,uint256 supplierAmount,bytes32 rulingHash,uint256 nonce,uint256 deadline)"
    );
    bytes32 private constant _REDIRECT_OWED_TYPEHASH =
        keccak256("RedirectOwed(uint256 milestoneId,address to,bytes32 rulingHash,uint256 nonce,uint256 deadline)");
    bytes32 private constant _CLAIM_PAYMENT_TYPEHASH =
        keccak256("ClaimPayment(uint256 milestoneId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _LAPSE_DISPUTE_TYPEHASH =
        keccak256("LapseDispute(uint256 milestoneId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _PAUSE_UNTIL_TYPEHASH = keccak256("PauseUntil(uint64 until,uint256 nonce,uint256 deadline)");
    bytes32 private constant _RESUME_TYPEHASH = keccak256("Resume(uint256 nonce,uint256 deadline)");

    uint256 private constant _OPEN = (1 << uint256(MilestoneStatus.Pending))
        | (1 << uint256(MilestoneStatus.Submitted)) | (1 << uint256(MilestoneStatus.Rejected));
    uint256 private constant _ACCEPTS_EVIDENCE =
        (1 << uint256(MilestoneStatus.Pending)) | (1 << uint256(MilestoneStatus.Rejected));
    uint256 private constant _DISPUTABLE =
        (1 << uint256(MilestoneStatus.Submitted)) | (1 << uint256(MilestoneStatus.Rejected));

    uint256 private constant _EVALUATORS_OFFSET = 123;

    /// @dev A milestone's mutable state, one storage slot. `amount` and `dueDate` are meaningful only once
    /// `amended` (by an amendment or a lapsed dispute); before that the values in the immutable arguments apply.
    struct MilestoneRecord {
        MilestoneStatus status;
        uint16 round;
        uint16 passBits;
        uint16 failBits;
        bool amended;
        uint64 amount;
        uint40 dueDate;
    }

    /// @dev The open or last dispute of a milestone: the state it froze, in which round, and when.
    struct DisputeRecord {
        MilestoneStatus from;
        uint16 round;
        uint40 openedAt;
    }

    /// @dev The books every payment reads, one storage slot. What the escrow holds is
    /// initialFunding (an immutable argument) + netTopUps - released, where netTopUps is later funding minus
    /// refunds (negative once refunds exceed top-ups). Top-ups alone are summed in `_toppedUp`, which only
    /// funding touches, so refunded = _toppedUp - netTopUps. `owed` is everything owed to the supplier.
    struct Accounting {
        int72 netTopUps;
        uint64 released;
        uint64 owed;
        uint40 pausedUntil;
    }

    /// @dev Who performs an action, resolved once per call: the account, its organization, and whether it
    /// holds the role the action needs while that organization is active.
    struct Actor {
        address account;
        bytes32 org;
        bool active;
    }

    IAccessRegistry private immutable _registry;
    IERC20 private immutable _token;
    IBudgetLedger private immutable _budget;

    Accounting private _accounting;
    uint256 private _toppedUp;
    mapping(uint256 milestoneId => MilestoneRecord) private _milestones;
    mapping(uint256 milestoneId => DisputeRecord) private _disputes;
    mapping(uint256 milestoneId => uint64 owedToSupplier) private _owed;
    mapping(uint256 milestoneId => Redirect) private _redirects;
    mapping(uint256 amendmentId => Amendment) private _amendments;
    uint256 private _amendmentCount;

    /// @param registry_ The access registry.
    /// @param token_ The yen deposit token.
    /// @param budget_ The budget ledger: funding draws on the procurement's obligation, payments are disbursements
    /// of its line, refunds go back to it.
    constructor(IAccessRegistry registry_, IERC20 token_, IBudgetLedger budget_) EIP712("ProcurementEscrow", "1") {
        _registry = registry_;
        _token = token_;
        _budget = budget_;
    }

    // ---------------------------------------------------------------- funding

    /// @inheritdoc IMilestoneEscrow
    function fund(uint256 amount) external {
        _fund(_args(), _caller(Roles.PROCUREMENT_OFFICER), amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function fundBySig(uint256 amount, address signer, uint256 deadline, bytes calldata signature) external {
        bytes memory args = _args();
        Actor memory funder = _signer(
            args, signer, Roles.PROCUREMENT_OFFICER, deadline, signature, abi.encode(_FUND_TYPEHASH, amount)
        );
        _fund(args, funder, amount);
    }

    function _fund(bytes memory args, Actor memory funder, uint256 amount) private {
        _requireOfficer(args, funder);
        uint256 maxAcceptable = _shortfall(args);
        if (amount == 0 || amount > maxAcceptable) revert EscrowInvalidFunding(amount, maxAcceptable);
        uint256 before = _token.balanceOf(address(this));
        // The yen are minted into the escrow against its obligation on the budget line (and only within it).
        _budget.draw(amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert EscrowFundingMismatch(amount, received);
        // At most the shortfall, so below 2^64: the conversion is exact.
        _accounting.netTopUps += int72(int256(amount));
        _toppedUp += amount;
        emit Funded(funder.account, amount, _initialFunding(args) + _toppedUp);
    }

    // ---------------------------------------------------------------- evidence and attestation

    /// @inheritdoc IMilestoneEscrow
    function submitEvidence(uint256 milestoneId, bytes32 documentHash, string calldata uri) external {
        _submitEvidence(_args(), _caller(Roles.SUPPLIER), milestoneId, documentHash, uri);
    }

    /// @inheritdoc IMilestoneEscrow
    function submitEvidenceBySig(
        uint256 milestoneId,
        bytes32 documentHash,
        string calldata uri,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory args = _args();
        Actor memory supplier = _signer(
            args,
            signer,
            Roles.SUPPLIER,
            deadline,
            signature,
            abi.encode(_SUBMIT_EVIDENCE_TYPEHASH, milestoneId, documentHash, keccak256(bytes(uri)))
        );
        _submitEvidence(args, supplier, milestoneId, documentHash, uri);
    }

    function _submitEvidence(
        bytes memory args,
        Actor memory supplier,
        uint256 milestoneId,
        bytes32 documentHash,
        string calldata uri
    ) private {
        _requireSupplier(args, supplier);
        if (bytes(uri).length > MAX_URI_LENGTH) revert EscrowUriTooLong(bytes(uri).length, MAX_URI_LENGTH);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _ACCEPTS_EVIDENCE);
        uint256 dueDate = _dueDate(args, milestoneId, m);
        if (_now() > dueDate) revert EscrowPastDueDate(milestoneId, dueDate, _now());
        uint16 round = m.round + 1;
        m.status = MilestoneStatus.Submitted;
        m.round = round;
        m.passBits = 0;
        m.failBits = 0;
        _store(milestoneId, m);
        emit EvidenceSubmitted(milestoneId, supplier.account, round, documentHash, uri);
    }

    /// @inheritdoc IMilestoneEscrow
    function attest(uint256 milestoneId, uint256 round, bool pass, bytes32 reportHash) external {
        _attest(_args(), _caller(Roles.EVALUATOR), milestoneId, round, pass, reportHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function attestBySig(
        uint256 milestoneId,
        uint256 round,
        bool pass,
        bytes32 reportHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory args = _args();
        Actor memory evaluator = _signer(
            args,
            signer,
            Roles.EVALUATOR,
            deadline,
            signature,
            abi.encode(_ATTEST_TYPEHASH, milestoneId, round, pass, reportHash)
        );
        _attest(args, evaluator, milestoneId, round, pass, reportHash);
    }

    function _attest(
        bytes memory args,
        Actor memory evaluator,
        uint256 milestoneId,
        uint256 round,
        bool pass,
        bytes32 reportHash
    ) private {
        address account = evaluator.account;
        uint256 bit = 1 << _panelIndex(args, account);
        if (!evaluator.active) revert EscrowUnauthorized(account, Roles.EVALUATOR);
        // Segregation of duties: the factory keeps the officer and the supplier off the panel, and the terms
        // never change; an evaluator's organization can, so it is checked at every attestation.
        if (evaluator.org == _supplierOrg(args)) revert EscrowSegregationOfDuties(account);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, 1 << uint256(MilestoneStatus.Submitted));
        if (round != m.round) revert EscrowWrongRound(milestoneId, round, m.round);
        if ((m.passBits | m.failBits) & bit != 0) revert EscrowAlreadyAttested(milestoneId, round, account);
        emit Attested(milestoneId, account, round, pass, reportHash);

        // The round is decided by the votes of evaluators who may attest at this moment: the deciding
        // evaluator was just checked, the others are asked again only when their votes could decide it.
        // Only the changed fields are written (a whole-record write costs ~150 gas more here).
        MilestoneRecord storage record = _milestones[milestoneId];
        uint256 quorum = _quorum(args);
        if (pass) {
            uint16 passBits = m.passBits | uint16(bit);
            record.passBits = passBits;
            if (
                _popcount(passBits) >= quorum && _countAllowed(args, milestoneId, round, passBits & ~bit) + 1 >= quorum
            ) {
                uint256 amount = _amount(args, milestoneId, m);
                record.status = MilestoneStatus.Approved;
                emit MilestoneApproved(milestoneId, round, amount);
                if (_pay(args, milestoneId, amount)) record.status = MilestoneStatus.Paid;
            }
        } else {
            uint16 failBits = m.failBits | uint16(bit);
            record.failBits = failBits;
            // Each counted fail is one evaluator fewer who could pass: rejected once a pass quorum is out of
            // reach, never earlier (with a 1-of-3 panel, two fails still leave a pass possible).
            uint256 tolerated = _evaluatorCount(args) - quorum;
            if (_popcount(failBits) > tolerated) {
                uint256 fails = _countAllowed(args, milestoneId, round, failBits & ~bit) + 1;
                if (fails > tolerated) {
                    record.status = MilestoneStatus.Rejected;
                    emit SubmissionRejected(milestoneId, round, fails);
                }
            }
        }
    }

    /// @dev How many of the panel seats in `votes` are held by evaluators who may attest now (active evaluator
    /// role, not of the supplier's organization; the officer and the supplier are never on a panel). The
    /// others' votes are reported as disregarded.
    function _countAllowed(bytes memory args, uint256 milestoneId, uint256 round, uint256 votes)
        private
        returns (uint256 allowed)
    {
        bytes32 supplierOrg = _supplierOrg(args);
        uint256 disregarded = 0;
        for (uint256 seat = 0; votes >> seat != 0; ++seat) {
            if ((votes >> seat) & 1 == 0) continue;
            (bytes32 org, bool active) = _registry.roleStatus(Roles.EVALUATOR, _seat(args, seat));
            if (active && org != supplierOrg) ++allowed;
            else disregarded |= 1 << seat;
        }
        if (disregarded != 0) {
            address[] memory evaluators = new address[](_popcount(disregarded));
            uint256 next = 0;
            for (uint256 seat = 0; disregarded >> seat != 0; ++seat) {
                if ((disregarded >> seat) & 1 != 0) evaluators[next++] = _seat(args, seat);
            }
            emit AttestationsDisregarded(milestoneId, round, evaluators);
        }
    }

    // ---------------------------------------------------------------- payments and refunds

    /// @inheritdoc IMilestoneEscrow
    function claimPayment(uint256 milestoneId) external {
        _claimPayment(_args(), milestoneId);
    }

    /// @inheritdoc IMilestoneEscrow
    function claimPaymentBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        bytes memory args = _args();
        // Anyone may claim: the signature only records who asked (the role status it reports is not needed).
        _signer(args, signer, Roles.SUPPLIER, deadline, signature, abi.encode(_CLAIM_PAYMENT_TYPEHASH, milestoneId));
        _claimPayment(args, milestoneId);
    }

    function _claimPayment(bytes memory args, uint256 milestoneId) private {
        MilestoneRecord memory m = _load(args, milestoneId);
        uint256 amount = _owed[milestoneId];
        if (amount == 0) revert EscrowNothingOwed(milestoneId);
        address supplier = _supplier(args);
        Redirect memory ruling = _redirects[milestoneId];
        if (ruling.executableAt != 0) {
            delete _redirects[milestoneId];
            if (_now() >= ruling.executableAt && !_canHold(supplier)) {
                _redirect(args, milestoneId, m, amount, ruling);
                return;
            }
        }
        _releaseOwed(args, milestoneId, m, supplier, amount);
        emit PaymentReleased(milestoneId, supplier, amount);
    }

    /// @dev Carries out a due redirect ruling: the supplier's owed yen go to the successor account (as a
    /// release) or back to the ministry: the debt to the supplier ends, and what the escrow holds of it beyond
    /// its other needs goes back to the budget line (an underfunded escrow never held the rest).
    function _redirect(
        bytes memory args,
        uint256 milestoneId,
        MilestoneRecord memory m,
        uint256 amount,
        Redirect memory ruling
    ) private {
        if (ruling.to == address(0)) {
            _owed[milestoneId] = 0;
            _accounting.owed -= uint64(amount);
            if (m.status == MilestoneStatus.Approved) _milestones[milestoneId].status = MilestoneStatus.Refunded;
            emit OwedRedirected(milestoneId, address(0), amount, ruling.rulingHash);
            _refundExcess(args, milestoneId, amount);
        } else {
            _requireSuccessor(args, milestoneId, ruling.to);
            _releaseOwed(args, milestoneId, m, ruling.to, amount);
            emit OwedRedirected(milestoneId, ruling.to, amount, ruling.rulingHash);
        }
    }

    /// @dev Transfers a milestone's owed yen to `to` (the supplier or its successor) as a release.
    function _releaseOwed(bytes memory args, uint256 milestoneId, MilestoneRecord memory m, address to, uint256 amount)
        private
    {
        Accounting memory acc = _accounting;
        if (_now() < acc.pausedUntil) revert EscrowPaused(acc.pausedUntil);
        uint256 held = _held(args, acc);
        if (held < amount) revert EscrowInsufficientFunds(amount, held);
        _owed[milestoneId] = 0;
        acc.owed -= uint64(amount);
        acc.released += uint64(amount);
        _accounting = acc;
        if (m.status == MilestoneStatus.Approved) _milestones[milestoneId].status = MilestoneStatus.Paid;
        _token.safeTransfer(to, amount);
        _budget.disburse(amount);
    }

    /// @dev Pays `amount` to the supplier now if releases are not paused, the escrow holds it beyond what is
    /// already owed, and the token accepts the transfer; otherwise records it as owed. Never reverts on a
    /// refused transfer, so one milestone's payment can never block another's.
    function _pay(bytes memory args, uint256 milestoneId, uint256 amount) private returns (bool paid) {
        if (amount == 0) return true;
        address supplier = _supplier(args);
        Accounting memory acc = _accounting;
        if (
            _now() >= acc.pausedUntil && _held(args, acc) >= acc.owed + amount
                && _token.trySafeTransfer(supplier, amount)
        ) {
            acc.released += uint64(amount);
            _accounting = acc;
            _budget.disburse(amount);
            emit PaymentReleased(milestoneId, supplier, amount);
            return true;
        }
        _owed[milestoneId] += uint64(amount);
        acc.owed += uint64(amount);
        _accounting = acc;
        emit PaymentDeferred(milestoneId, supplier, amount);
        return false;
    }

    /// @dev Returns to the budget line up to `cap` yen of what the escrow holds beyond what its open milestones
    /// and owed payments need (burned and de-obligated), and tells the ledger what the escrow still needs beyond
    /// its balance, so that an obligation it will never draw (an underfunded escrow's cancelled milestone) is
    /// de-obligated too. Called after a milestone leaves the open states or its amount shrinks. Never blocked by
    /// the ministry: nothing is transferred to it.
    function _refundExcess(bytes memory args, uint256 milestoneId, uint256 cap) private {
        Accounting memory acc = _accounting;
        uint256 held = _held(args, acc);
        uint256 needed = _outstanding(args);
        uint256 excess = held > needed ? held - needed : 0;
        uint256 amount = excess < cap ? excess : cap;
        if (amount != 0) {
            acc.netTopUps -= int72(int256(amount));
            _accounting = acc;
            emit Refunded(milestoneId, address(_budget), amount);
        }
        uint256 left = held - amount;
        _budget.returnFunds(amount, needed > left ? needed - left : 0);
    }

    /// @inheritdoc IMilestoneEscrow
    function reclaim(uint256 milestoneId) external {
        _reclaim(_args(), _caller(Roles.PROCUREMENT_OFFICER), milestoneId);
    }

    /// @inheritdoc IMilestoneEscrow
    function reclaimBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature) external {
        bytes memory args = _args();
        Actor memory officer = _signer(
            args, signer, Roles.PROCUREMENT_OFFICER, deadline, signature, abi.encode(_RECLAIM_TYPEHASH, milestoneId)
        );
        _reclaim(args, officer, milestoneId);
    }

    function _reclaim(bytes memory args, Actor memory officer, uint256 milestoneId) private {
        _requireOfficer(args, officer);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _OPEN);
        uint256 availableAt = _dueDate(args, milestoneId, m)
            + (m.status == MilestoneStatus.Submitted ? INSPECTION_PERIOD : 0) + 1;
        if (_now() < availableAt) revert EscrowNotYetReclaimable(milestoneId, availableAt, _now());
        MilestoneStatus previous = m.status;
        _milestones[milestoneId].status = MilestoneStatus.Refunded;
        emit MilestoneReclaimed(milestoneId, officer.account, previous);
        _refundExcess(args, milestoneId, _amount(args, milestoneId, m));
    }

    // ---------------------------------------------------------------- amendments

    /// @inheritdoc IMilestoneEscrow
    function proposeAmendment(
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external returns (uint256) {
        return _proposeAmendment(
            _args(), _caller(Roles.PROCUREMENT_OFFICER), milestoneId, kind, newAmount, newDueDate, rationaleHash
        );
    }

    /// @inheritdoc IMilestoneEscrow
    function proposeAmendmentBySig(
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256) {
        bytes memory args = _args();
        Actor memory proposer = _signer(
            args,
            signer,
            Roles.PROCUREMENT_OFFICER,
            deadline,
            signature,
            abi.encode(_PROPOSE_AMENDMENT_TYPEHASH, milestoneId, kind, newAmount, newDueDate, rationaleHash)
        );
        return _proposeAmendment(args, proposer, milestoneId, kind, newAmount, newDueDate, rationaleHash);
    }

    function _proposeAmendment(
        bytes memory args,
        Actor memory proposer,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) private returns (uint256 amendmentId) {
        _requireOfficer(args, proposer);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _OPEN);
        _validateAmendment(args, milestoneId, m, kind, newAmount, newDueDate);
        amendmentId = _amendmentCount++;
        _amendments[amendmentId] = Amendment({
            milestoneId: uint32(milestoneId),
            kind: kind,
            executed: false,
            proposer: proposer.account,
            newDueDate: newDueDate,
            newAmount: newAmount,
            rationaleHash: rationaleHash,
            supplierConsented: false
        });
        emit AmendmentProposed(
            amendmentId, milestoneId, proposer.account, kind, newAmount, newDueDate, rationaleHash
        );
    }

    /// @inheritdoc IMilestoneEscrow
    function approveAmendment(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external {
        _approveAmendment(
            _args(),
            _caller(Roles.PROCUREMENT_OFFICER),
            amendmentId,
            AmendmentContent(milestoneId, kind, newAmount, newDueDate, rationaleHash)
        );
    }

    /// @inheritdoc IMilestoneEscrow
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
    ) external {
        bytes memory args = _args();
        AmendmentContent memory given = AmendmentContent(milestoneId, kind, newAmount, newDueDate, rationaleHash);
        Actor memory approver = _signer(
            args,
            signer,
            Roles.PROCUREMENT_OFFICER,
            deadline,
            signature,
            bytes.concat(abi.encode(_APPROVE_AMENDMENT_TYPEHASH, amendmentId), abi.encode(given))
        );
        _approveAmendment(args, approver, amendmentId, given);
    }

    function _approveAmendment(
        bytes memory args,
        Actor memory approver,
        uint256 amendmentId,
        AmendmentContent memory given
    ) private {
        _requireOfficer(args, approver);
        Amendment storage amendment_ = _pendingAmendment(amendmentId, given);
        address proposer = amendment_.proposer;
        if (proposer == approver.account) revert EscrowSameOfficer(amendmentId, approver.account);
        // Both approvals come from current officers: the proposal counts only while its proposer is one.
        (bytes32 proposerOrg, bool proposerActive) = _registry.roleStatus(Roles.PROCUREMENT_OFFICER, proposer);
        if (!proposerActive || proposerOrg != _ministryOrg(args)) revert EscrowProposerNotOfficer(amendmentId, proposer);
        uint256 milestoneId = given.milestoneId;
        AmendmentKind kind = given.kind;
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _OPEN);
        _validateAmendment(args, milestoneId, m, kind, given.newAmount, given.newDueDate);
        uint256 oldAmount = _amount(args, milestoneId, m);
        uint256 oldDueDate = _dueDate(args, milestoneId, m);
        // Under evaluation, the buyer may extend or raise, but cut, cancel or hasten only with the supplier.
        bool againstSupplier = kind == AmendmentKind.Cancel
            || (kind == AmendmentKind.Amount && given.newAmount < oldAmount)
            || (kind == AmendmentKind.DueDate && given.newDueDate < oldDueDate);
        if (m.status == MilestoneStatus.Submitted && againstSupplier && !amendment_.supplierConsented) {
            revert EscrowSupplierConsentRequired(amendmentId, milestoneId);
        }
        amendment_.executed = true;

        m.amount = uint64(oldAmount);
        m.dueDate = uint40(oldDueDate);
        m.amended = true;
        if (kind == AmendmentKind.Amount) m.amount = uint64(given.newAmount);
        else if (kind == AmendmentKind.DueDate) m.dueDate = uint40(given.newDueDate);
        else m.status = MilestoneStatus.Cancelled;
        _store(milestoneId, m);
        emit AmendmentApproved(
            amendmentId, milestoneId, approver.account, kind, oldAmount, m.amount, oldDueDate, m.dueDate
        );
        if (kind == AmendmentKind.Cancel) _refundExcess(args, milestoneId, oldAmount);
        else if (m.amount < oldAmount) _refundExcess(args, milestoneId, oldAmount - m.amount);
    }

    /// @inheritdoc IMilestoneEscrow
    function consentToAmendment(
        uint256 amendmentId,
        uint256 milestoneId,
        AmendmentKind kind,
        uint256 newAmount,
        uint64 newDueDate,
        bytes32 rationaleHash
    ) external {
        _consentToAmendment(
            _args(),
            _caller(Roles.SUPPLIER),
            amendmentId,
            AmendmentContent(milestoneId, kind, newAmount, newDueDate, rationaleHash)
        );
    }

    /// @inheritdoc IMilestoneEscrow
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
    ) external {
        bytes memory args = _args();
        AmendmentContent memory given = AmendmentContent(milestoneId, kind, newAmount, newDueDate, rationaleHash);
        Actor memory supplier = _signer(
            args,
            signer,
            Roles.SUPPLIER,
            deadline,
            signature,
            bytes.concat(abi.encode(_CONSENT_TO_AMENDMENT_TYPEHASH, amendmentId), abi.encode(given))
        );
        _consentToAmendment(args, supplier, amendmentId, given);
    }

    function _consentToAmendment(
        bytes memory args,
        Actor memory supplier,
        uint256 amendmentId,
        AmendmentContent memory given
    ) private {
        _requireSupplier(args, supplier);
        _pendingAmendment(amendmentId, given).supplierConsented = true;
        emit AmendmentConsented(amendmentId, given.milestoneId, supplier.account);
    }

    /// @dev The amendment `amendmentId`, which must exist, not be executed, and have exactly the content
    /// `given` (an approval or consent of other content is refused, never applied to this one).
    function _pendingAmendment(uint256 amendmentId, AmendmentContent memory given)
        private
        view
        returns (Amendment storage amendment_)
    {
        if (amendmentId >= _amendmentCount) revert EscrowUnknownAmendment(amendmentId);
        amendment_ = _amendments[amendmentId];
        if (amendment_.executed) revert EscrowUnknownAmendment(amendmentId);
        AmendmentContent memory stored = AmendmentContent(
            amendment_.milestoneId,
            amendment_.kind,
            amendment_.newAmount,
            amendment_.newDueDate,
            amendment_.rationaleHash
        );
        if (keccak256(abi.encode(stored)) != keccak256(abi.encode(given))) {
            revert EscrowAmendmentMismatch(amendmentId, stored, given);
        }
    }

    function _validateAmendment(
        bytes memory args,
        uint256 milestoneId,
        MilestoneRecord memory m,
        AmendmentKind kind,
        uint256 newAmount,
        uint256 newDueDate
    ) private view {
        bool valid = true;
        if (kind == AmendmentKind.Amount) {
            valid = newAmount != 0 && newAmount <= EscrowLimits.MAX_AMOUNT && newAmount != _amount(args, milestoneId, m);
        } else if (kind == AmendmentKind.DueDate) {
            valid = newDueDate > _now() && newDueDate <= type(uint40).max
                && newDueDate != _dueDate(args, milestoneId, m);
        }
        if (!valid) revert EscrowInvalidAmendment(milestoneId, kind, newAmount, newDueDate);
    }

    // ---------------------------------------------------------------- disputes

    /// @inheritdoc IMilestoneEscrow
    function openDispute(uint256 milestoneId, bytes32 reasonHash) external {
        bytes memory args = _args();
        _openDispute(args, _caller(_disputeRole(args, msg.sender)), milestoneId, reasonHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function openDisputeBySig(
        uint256 milestoneId,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory args = _args();
        Actor memory opener = _signer(
            args,
            signer,
            _disputeRole(args, signer),
            deadline,
            signature,
            abi.encode(_OPEN_DISPUTE_TYPEHASH, milestoneId, reasonHash)
        );
        _openDispute(args, opener, milestoneId, reasonHash);
    }

    /// @dev The supplier disputes as supplier; anyone else only as an officer of the buying ministry.
    function _disputeRole(bytes memory args, address account) private pure returns (bytes32) {
        return account == _supplier(args) ? Roles.SUPPLIER : Roles.PROCUREMENT_OFFICER;
    }

    function _openDispute(bytes memory args, Actor memory opener, uint256 milestoneId, bytes32 reasonHash)
        private
    {
        if (opener.account == _supplier(args)) _requireSupplier(args, opener);
        else _requireOfficer(args, opener);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _DISPUTABLE);
        // A lapsed dispute cannot be opened again on the same round and state: no endless freezing.
        DisputeRecord memory last = _disputes[milestoneId];
        if (last.round == m.round && last.from == m.status) {
            revert EscrowAlreadyDisputed(milestoneId, m.round, m.status);
        }
        _disputes[milestoneId] = DisputeRecord({from: m.status, round: m.round, openedAt: uint40(_now())});
        _milestones[milestoneId].status = MilestoneStatus.Disputed;
        emit DisputeOpened(milestoneId, opener.account, m.status, reasonHash, _now() + _rulingPeriod(args));
    }

    /// @inheritdoc IMilestoneEscrow
    function settleDispute(uint256 milestoneId, uint256 supplierAmount, bytes32 rulingHash) external {
        _settleDispute(_args(), _caller(Roles.REVIEW_BODY), milestoneId, supplierAmount, rulingHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function settleDisputeBySig(
        uint256 milestoneId,
        uint256 supplierAmount,
        bytes32 rulingHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory args = _args();
        Actor memory reviewer = _signer(
            args,
            signer,
            Roles.REVIEW_BODY,
            deadline,
            signature,
            abi.encode(_SETTLE_DISPUTE_TYPEHASH, milestoneId, supplierAmount, rulingHash)
        );
        _settleDispute(args, reviewer, milestoneId, supplierAmount, rulingHash);
    }

    function _settleDispute(
        bytes memory args,
        Actor memory reviewer,
        uint256 milestoneId,
        uint256 supplierAmount,
        bytes32 rulingHash
    ) private {
        if (!reviewer.active) revert EscrowUnauthorized(reviewer.account, Roles.REVIEW_BODY);
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, 1 << uint256(MilestoneStatus.Disputed));
        uint256 lapsesAt = _disputeLapsesAt(args, milestoneId);
        if (_now() > lapsesAt) revert EscrowRulingPeriodOver(milestoneId, lapsesAt, _now());
        uint256 amount = _amount(args, milestoneId, m);
        if (supplierAmount > amount) revert EscrowInvalidSettlement(milestoneId, supplierAmount, amount);
        _milestones[milestoneId].status = MilestoneStatus.Settled;
        emit DisputeSettled(milestoneId, reviewer.account, supplierAmount, amount - supplierAmount, rulingHash);
        _pay(args, milestoneId, supplierAmount);
        _refundExcess(args, milestoneId, amount - supplierAmount);
    }

    /// @inheritdoc IMilestoneEscrow
    function lapseDispute(uint256 milestoneId) external {
        _lapseDispute(_args(), milestoneId);
    }

    /// @inheritdoc IMilestoneEscrow
    function lapseDisputeBySig(uint256 milestoneId, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        bytes memory args = _args();
        // Anyone may lapse a dispute past its ruling period: the signature only records who asked.
        _signer(args, signer, Roles.SUPPLIER, deadline, signature, abi.encode(_LAPSE_DISPUTE_TYPEHASH, milestoneId));
        _lapseDispute(args, milestoneId);
    }

    function _lapseDispute(bytes memory args, uint256 milestoneId) private {
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, 1 << uint256(MilestoneStatus.Disputed));
        uint256 lapsesAt = _disputeLapsesAt(args, milestoneId);
        if (_now() <= lapsesAt) revert EscrowDisputeNotLapsed(milestoneId, lapsesAt, _now());
        DisputeRecord memory dispute = _disputes[milestoneId];
        // The time frozen does not count against either side: evidence, inspection and reclaim deadlines
        // move with the due date.
        uint256 dueDate = _dueDate(args, milestoneId, m) + (_now() - dispute.openedAt);
        if (dueDate > type(uint40).max) dueDate = type(uint40).max;
        m.amount = uint64(_amount(args, milestoneId, m));
        m.dueDate = uint40(dueDate);
        m.amended = true;
        m.status = dispute.from;
        _store(milestoneId, m);
        emit DisputeLapsed(milestoneId, dispute.from, dueDate);
    }

    function _disputeLapsesAt(bytes memory args, uint256 milestoneId) private view returns (uint256) {
        return _disputes[milestoneId].openedAt + _rulingPeriod(args);
    }

    // ---------------------------------------------------------------- redirects of owed yen

    /// @inheritdoc IMilestoneEscrow
    function redirectOwed(uint256 milestoneId, address to, bytes32 rulingHash) external {
        _redirectOwed(_args(), _caller(Roles.REVIEW_BODY), milestoneId, to, rulingHash);
    }

    /// @inheritdoc IMilestoneEscrow
    function redirectOwedBySig(
        uint256 milestoneId,
        address to,
        bytes32 rulingHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory args = _args();
        Actor memory reviewer = _signer(
            args,
            signer,
            Roles.REVIEW_BODY,
            deadline,
            signature,
            abi.encode(_REDIRECT_OWED_TYPEHASH, milestoneId, to, rulingHash)
        );
        _redirectOwed(args, reviewer, milestoneId, to, rulingHash);
    }

    function _redirectOwed(bytes memory args, Actor memory reviewer, uint256 milestoneId, address to, bytes32 rulingHash)
        private
    {
        if (!reviewer.active) revert EscrowUnauthorized(reviewer.account, Roles.REVIEW_BODY);
        _load(args, milestoneId);
        uint256 amount = _owed[milestoneId];
        if (amount == 0) revert EscrowNothingOwed(milestoneId);
        address supplier = _supplier(args);
        if (_canHold(supplier)) revert EscrowSupplierNotOffboarded(milestoneId, supplier);
        if (to != address(0)) _requireSuccessor(args, milestoneId, to);
        uint256 executableAt = _now() + _gracePeriod(args);
        _redirects[milestoneId] = Redirect({to: to, executableAt: uint64(executableAt), rulingHash: rulingHash});
        emit OwedRedirectRuled(milestoneId, reviewer.account, to, amount, executableAt, rulingHash);
    }

    /// @dev A successor is another account of the supplier's organization holding an active supplier role.
    function _requireSuccessor(bytes memory args, uint256 milestoneId, address to) private view {
        (bytes32 org, bool active) = _registry.roleStatus(Roles.SUPPLIER, to);
        if (to == _supplier(args) || !active || org != _supplierOrg(args)) revert EscrowInvalidRedirect(milestoneId, to);
    }

    function _canHold(address account) private view returns (bool allowed) {
        (allowed,) = _registry.holderStatus(account);
    }

    // ---------------------------------------------------------------- pause

    /// @inheritdoc IMilestoneEscrow
    function pauseUntil(uint64 until) external {
        _pauseUntil(_args(), _caller(Roles.MINISTRY_ADMIN), until);
    }

    /// @inheritdoc IMilestoneEscrow
    function pauseUntilBySig(uint64 until, address signer, uint256 deadline, bytes calldata signature) external {
        bytes memory args = _args();
        Actor memory admin =
            _signer(args, signer, Roles.MINISTRY_ADMIN, deadline, signature, abi.encode(_PAUSE_UNTIL_TYPEHASH, until));
        _pauseUntil(args, admin, until);
    }

    function _pauseUntil(bytes memory args, Actor memory admin, uint64 until) private {
        _requireMinistryAdmin(args, admin);
        uint256 maxUntil = _now() + EscrowLimits.MAX_PAUSE;
        if (until <= _now() || until > maxUntil) revert EscrowInvalidPause(until, maxUntil);
        _accounting.pausedUntil = uint40(until);
        emit PauseChanged(admin.account, until);
    }

    /// @inheritdoc IMilestoneEscrow
    function resume() external {
        _resume(_args(), _caller(Roles.MINISTRY_ADMIN));
    }

    /// @inheritdoc IMilestoneEscrow
    function resumeBySig(address signer, uint256 deadline, bytes calldata signature) external {
        bytes memory args = _args();
        _resume(args, _signer(args, signer, Roles.MINISTRY_ADMIN, deadline, signature, abi.encode(_RESUME_TYPEHASH)));
    }

    function _resume(bytes memory args, Actor memory admin) private {
        _requireMinistryAdmin(args, admin);
        if (_now() >= _accounting.pausedUntil) revert EscrowNotPaused();
        _accounting.pausedUntil = 0;
        emit PauseChanged(admin.account, 0);
    }

    function _requireMinistryAdmin(bytes memory args, Actor memory admin) private pure {
        if (!admin.active || admin.org != _ministryOrg(args)) {
            revert EscrowUnauthorized(admin.account, Roles.MINISTRY_ADMIN);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMilestoneEscrow
    function terms() external view returns (Terms memory t) {
        bytes memory args = _args();
        uint256 count = _evaluatorCount(args);
        address[] memory evaluators = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            evaluators[i] = _seat(args, i);
        }
        t = Terms({
            procurementId: _word(args, 0),
            ministryOrg: _ministryOrg(args),
            supplierOrg: _supplierOrg(args),
            supplier: _supplier(args),
            officer: _officer(args),
            token: address(_token),
            registry: address(_registry),
            quorum: uint8(_quorum(args)),
            evaluators: evaluators,
            rulingPeriod: uint32(_rulingPeriod(args)),
            gracePeriod: uint32(_gracePeriod(args))
        });
    }

    /// @inheritdoc IMilestoneEscrow
    function milestone(uint256 milestoneId) external view returns (Milestone memory) {
        bytes memory args = _args();
        MilestoneRecord memory m = _load(args, milestoneId);
        bool disputed = m.status == MilestoneStatus.Disputed;
        return Milestone({
            amount: _amount(args, milestoneId, m),
            dueDate: uint64(_dueDate(args, milestoneId, m)),
            status: m.status,
            round: m.round,
            passes: uint8(_popcount(m.passBits)),
            fails: uint8(_popcount(m.failBits)),
            owed: _owed[milestoneId],
            disputeLapsesAt: disputed ? uint64(_disputeLapsesAt(args, milestoneId)) : 0
        });
    }

    /// @inheritdoc IMilestoneEscrow
    function milestoneCount() external view returns (uint256) {
        return _milestoneCount(_args());
    }

    /// @inheritdoc IMilestoneEscrow
    function amendment(uint256 amendmentId) external view returns (Amendment memory) {
        if (amendmentId >= _amendmentCount) revert EscrowUnknownAmendment(amendmentId);
        return _amendments[amendmentId];
    }

    /// @inheritdoc IMilestoneEscrow
    function amendmentCount() external view returns (uint256) {
        return _amendmentCount;
    }

    /// @inheritdoc IMilestoneEscrow
    function totals() external view returns (uint256 funded, uint256 released, uint256 refunded, uint256 owed) {
        Accounting memory acc = _accounting;
        uint256 toppedUp = _toppedUp;
        return (_initialFunding(_args()) + toppedUp, acc.released, uint256(int256(toppedUp) - acc.netTopUps), acc.owed);
    }

    /// @inheritdoc IMilestoneEscrow
    function paused() external view returns (bool) {
        return _now() < _accounting.pausedUntil;
    }

    /// @inheritdoc IMilestoneEscrow
    function pausedUntil() external view returns (uint256) {
        return _accounting.pausedUntil;
    }

    /// @inheritdoc IMilestoneEscrow
    function redirect(uint256 milestoneId) external view returns (Redirect memory) {
        _load(_args(), milestoneId);
        return _redirects[milestoneId];
    }

    /// @inheritdoc IMilestoneEscrow
    function hasAttested(uint256 milestoneId, address evaluator) external view returns (bool) {
        bytes memory args = _args();
        MilestoneRecord memory m = _load(args, milestoneId);
        uint256 bit = 1 << _panelIndex(args, evaluator);
        return (m.passBits | m.failBits) & bit != 0;
    }

    /// @inheritdoc IMilestoneEscrow
    function shortfall() external view returns (uint256) {
        return _shortfall(_args());
    }

    /// @inheritdoc IMilestoneEscrow
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    /// @dev The current time; tests reason about it through the chain's block timestamp.
    function _now() internal view virtual returns (uint256) {
        return block.timestamp;
    }

    /// @dev The direct caller, with its status in `role` from the registry.
    function _caller(bytes32 role) private view returns (Actor memory) {
        (bytes32 org, bool active) = _registry.roleStatus(role, msg.sender);
        return Actor({account: msg.sender, org: org, active: active});
    }

    /// @dev The signer of a relayed action, with its status in `role`. Checks the deadline, consumes the
    /// signer's registry nonce (one registry call also reports the role status) and verifies the EIP-712
    /// signature over `fields` (type hash and action fields, ABI-encoded) followed by nonce and deadline.
    /// A failed check reverts, which also un-consumes the nonce.
    function _signer(
        bytes memory args,
        address signer,
        bytes32 role,
        uint256 deadline,
        bytes calldata signature,
        bytes memory fields
    ) private returns (Actor memory) {
        if (_now() > deadline) revert EscrowSignatureExpired(deadline, _now());
        (uint256 nonce, bytes32 org, bool active) =
            _registry.useNonce(signer, _ministryOrg(args), _word(args, 0), role);
        bytes32 digest = _hashTypedDataV4(keccak256(bytes.concat(fields, abi.encode(nonce, deadline))));
        (address recovered, ECDSA.RecoverError error_,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error_ != ECDSA.RecoverError.NoError || recovered != signer || signer == address(0)) {
            revert EscrowInvalidSignature(signer);
        }
        emit SignatureUsed(signer, msg.sender, nonce);
        return Actor({account: signer, org: org, active: active});
    }

    function _requireOfficer(bytes memory args, Actor memory actor) private pure {
        if (!actor.active || actor.org != _ministryOrg(args)) {
            revert EscrowUnauthorized(actor.account, Roles.PROCUREMENT_OFFICER);
        }
    }

    function _requireSupplier(bytes memory args, Actor memory actor) private pure {
        if (actor.account != _supplier(args) || !actor.active) revert EscrowUnauthorized(actor.account, Roles.SUPPLIER);
    }

    /// @dev The one check of the milestone state machine: `current` must be in the bit set `allowed`.
    function _requireStatus(uint256 milestoneId, MilestoneStatus current, uint256 allowed) private pure {
        if ((1 << uint256(current)) & allowed == 0) {
            revert EscrowUnexpectedMilestoneStatus(milestoneId, current, allowed);
        }
    }

    /// @dev Writes a milestone record with one storage write, packed as Solidity packs {MilestoneRecord}
    /// (members in declaration order from the low-order end of the slot; `milestone()` reads it back through
    /// the compiler's own layout, so every test of a milestone's state checks this packing). The compiler
    /// writes a struct member by member, a read and a write each: ~700 gas more for a submission.
    function _store(uint256 milestoneId, MilestoneRecord memory m) private {
        uint256 word = uint256(m.status) | (uint256(m.round) << 8) | (uint256(m.passBits) << 24)
            | (uint256(m.failBits) << 40) | (m.amended ? 1 << 56 : 0) | (uint256(m.amount) << 64)
            | (uint256(m.dueDate) << 128);
        MilestoneRecord storage record = _milestones[milestoneId];
        assembly ("memory-safe") {
            sstore(record.slot, word)
        }
    }

    function _load(bytes memory args, uint256 milestoneId) private view returns (MilestoneRecord memory) {
        uint256 count = _milestoneCount(args);
        if (milestoneId >= count) revert EscrowUnknownMilestone(milestoneId, count);
        return _milestones[milestoneId];
    }

    function _amount(bytes memory args, uint256 milestoneId, MilestoneRecord memory m) private pure returns (uint256) {
        if (m.amended) return m.amount;
        return uint64(bytes8(_word(args, _milestoneOffset(args, milestoneId))));
    }

    function _dueDate(bytes memory args, uint256 milestoneId, MilestoneRecord memory m)
        private
        pure
        returns (uint256)
    {
        if (m.amended) return m.dueDate;
        return uint40(bytes5(_word(args, _milestoneOffset(args, milestoneId) + 8)));
    }

    /// @dev Yen the escrow holds: always its token balance (see {Accounting}).
    function _held(bytes memory args, Accounting memory acc) private pure returns (uint256) {
        return uint256(int256(_initialFunding(args)) + acc.netTopUps) - acc.released;
    }

    /// @dev Yen the open and disputed milestones and every payment owed to the supplier still need.
    function _outstanding(bytes memory args) private view returns (uint256 needed) {
        uint256 open = _OPEN | (1 << uint256(MilestoneStatus.Disputed));
        uint256 count = _milestoneCount(args);
        for (uint256 i = 0; i < count; ++i) {
            MilestoneRecord memory m = _milestones[i];
            if ((1 << uint256(m.status)) & open != 0) needed += _amount(args, i, m);
        }
        needed += _accounting.owed;
    }

    function _shortfall(bytes memory args) private view returns (uint256) {
        uint256 held = _held(args, _accounting);
        uint256 needed = _outstanding(args);
        return needed > held ? needed - held : 0;
    }

    /// @dev Runs on every attestation. The panel is sorted by address (the factory requires it), so this is a
    /// binary search: at most 5 entries read for a 16-seat panel. A plain scan cost ~90 gas a seat in assembly
    /// (~230 in Solidity), which put a signed attestation by the 16th seat over its 60,000 gas budget.
    function _panelIndex(bytes memory args, address evaluator) private pure returns (uint256 index) {
        uint256 count = _evaluatorCount(args);
        bool found;
        assembly ("memory-safe") {
            let panel := add(args, add(0x20, _EVALUATORS_OFFSET))
            let high := count
            for {} lt(index, high) {} {
                let middle := shr(1, add(index, high))
                if lt(shr(96, mload(add(panel, mul(middle, 20)))), evaluator) {
                    index := add(middle, 1)
                    continue
                }
                high := middle
            }
            found := and(lt(index, count), eq(shr(96, mload(add(panel, mul(index, 20)))), evaluator))
        }
        if (!found) revert EscrowNotOnPanel(evaluator);
    }

    function _seat(bytes memory args, uint256 index) private pure returns (address) {
        return _address(args, _EVALUATORS_OFFSET + 20 * index);
    }

    /// @dev The number of set bits of a 16-bit set, in constant time (a loop per bit cost ~130 gas a vote).
    function _popcount(uint256 bits) private pure returns (uint256) {
        unchecked {
            bits = bits - ((bits >> 1) & 0x5555);
            bits = (bits & 0x3333) + ((bits >> 2) & 0x3333);
            bits = (bits + (bits >> 4)) & 0x0f0f;
            return (bits + (bits >> 8)) & 0x1f;
        }
    }

    // ---------------------------------------------------------------- immutable arguments

    function _args() private view returns (bytes memory) {
        return Clones.fetchCloneArgs(address(this));
    }

    /// @dev Organization ids use only their high 16 bytes (the registry enforces it), so 16 are stored.
    function _ministryOrg(bytes memory args) private pure returns (bytes32) {
        return bytes32(bytes16(_word(args, 32)));
    }

    function _supplierOrg(bytes memory args) private pure returns (bytes32) {
        return bytes32(bytes16(_word(args, 48)));
    }

    function _supplier(bytes memory args) private pure returns (address) {
        return _address(args, 64);
    }

    function _officer(bytes memory args) private pure returns (address) {
        return _address(args, 84);
    }

    /// @dev The funding paid by the factory in the creating transaction.
    function _initialFunding(bytes memory args) private pure returns (uint256) {
        return uint64(bytes8(_word(args, 104)));
    }

    function _quorum(bytes memory args) private pure returns (uint256) {
        return uint8(bytes1(_word(args, 112)));
    }

    function _evaluatorCount(bytes memory args) private pure returns (uint256) {
        return uint8(bytes1(_word(args, 113)));
    }

    function _milestoneCount(bytes memory args) private pure returns (uint256) {
        return uint8(bytes1(_word(args, 114)));
    }

    function _rulingPeriod(bytes memory args) private pure returns (uint256) {
        return uint32(bytes4(_word(args, 115)));
    }

    function _gracePeriod(bytes memory args) private pure returns (uint256) {
        return uint32(bytes4(_word(args, 119)));
    }

    function _milestoneOffset(bytes memory args, uint256 milestoneId) private pure returns (uint256) {
        return _EVALUATORS_OFFSET + 20 * _evaluatorCount(args) + 13 * milestoneId;
    }

    function _address(bytes memory args, uint256 offset) private pure returns (address) {
        return address(bytes20(_word(args, offset)));
    }

    /// @dev The 32 bytes of `args` starting at `offset`. Bounds are guaranteed by the factory's encoding and
    /// the range checks on ids; reading past the end of the array only yields trailing memory, never a write.
    function _word(bytes memory args, uint256 offset) private pure returns (bytes32 word) {
        // Solidity has no cheap way to read a packed field out of `bytes memory`; one mload is the whole point.
        assembly ("memory-safe") {
            word := mload(add(add(args, 0x20), offset))
        }
    }
}
