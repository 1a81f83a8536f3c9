// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IMilestoneEscrow} from "./interfaces/IMilestoneEscrow.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title MilestoneEscrow
/// @notice The escrow of one procurement, deployed by the factory as an EIP-1167 clone. See {IMilestoneEscrow}.
/// @dev The fixed terms (parties, panel, initial milestone amounts and due dates) live in the clone's immutable
/// arguments rather than in storage: writing them as code costs 200 gas a byte against 22,100 gas a storage
/// slot, which is what keeps creating and funding a 3-milestone procurement under 250,000 gas. Storage holds
/// only what changes; the initial funding, paid by the factory in the creating transaction, is an argument
/// too, and `funded` in storage counts only later top-ups. Argument layout (packed, see `ProcurementFactory._encodeTerms`):
///
///     procurementId bytes32 | ministryOrg bytes16 | supplierOrg bytes16 | supplier address | officer address
///     | initialFunding uint64 | quorum uint8 | evaluatorCount uint8 | milestoneCount uint8
///     | evaluators address[evaluatorCount] | (amount uint64, dueDate uint40)[milestoneCount]
contract MilestoneEscrow is EIP712, IMilestoneEscrow {
    using SafeERC20 for IERC20;

    /// @notice Days an evaluator body has to inspect after delivery (Act on Prevention of Delay in Payment
    /// under Government Contracts, Art. 5): a submitted milestone can be reclaimed only after this much
    /// time past its due date.
    uint256 public constant INSPECTION_PERIOD = 10 days;
    /// @notice Longest evidence URI accepted, in bytes.
    uint256 public constant MAX_URI_LENGTH = 2048;

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
    bytes32 private constant _APPROVE_AMENDMENT_TYPEHASH =
        keccak256("ApproveAmendment(uint256 amendmentId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _OPEN_DISPUTE_TYPEHASH =
        keccak256("OpenDispute(uint256 milestoneId,bytes32 reasonHash,uint256 nonce,uint256 deadline)");
    bytes32 private constant _SETTLE_DISPUTE_TYPEHASH = keccak256(
        "SettleDispute(uint256 milestoneId,uint256 supplierAmount,bytes32 rulingHash,uint256 nonce,uint256 deadline)"
    );

    uint256 private constant _OPEN = (1 << uint256(MilestoneStatus.Pending))
        | (1 << uint256(MilestoneStatus.Submitted)) | (1 << uint256(MilestoneStatus.Rejected));
    uint256 private constant _ACCEPTS_EVIDENCE =
        (1 << uint256(MilestoneStatus.Pending)) | (1 << uint256(MilestoneStatus.Rejected));
    uint256 private constant _DISPUTABLE =
        (1 << uint256(MilestoneStatus.Submitted)) | (1 << uint256(MilestoneStatus.Rejected));

    uint256 private constant _EVALUATORS_OFFSET = 115;

    /// @dev A milestone's mutable state, one storage slot. `amount` and `dueDate` are meaningful only once
    /// `amended`; before that the values in the immutable arguments apply.
    struct MilestoneRecord {
        MilestoneStatus status;
        uint16 round;
        uint16 passBits;
        uint16 failBits;
        bool amended;
        uint64 amount;
        uint40 dueDate;
    }

    /// @dev Running totals, one storage slot. uint64 holds 1.8e19 yen, beyond any procurement.
    struct Accounting {
        uint64 funded;
        uint64 released;
        uint64 refunded;
        uint48 owed;
        bool paused;
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

    Accounting private _accounting;
    mapping(uint256 milestoneId => MilestoneRecord) private _milestones;
    mapping(uint256 milestoneId => uint256 amount) private _owed;
    mapping(uint256 amendmentId => Amendment) private _amendments;
    uint256 private _amendmentCount;

    /// @param registry_ The access registry.
    /// @param token_ The yen deposit token.
    constructor(IAccessRegistry registry_, IERC20 token_) EIP712("ProcurementEscrow", "1") {
        _registry = registry_;
        _token = token_;
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
        _token.safeTransferFrom(funder.account, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert EscrowFundingMismatch(amount, received);
        _accounting.funded += _toUint64(amount);
        emit Funded(funder.account, amount, _funded(args, _accounting));
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
        if (supplier.account != _supplier(args) || !supplier.active) {
            revert EscrowUnauthorized(supplier.account, Roles.SUPPLIER);
        }
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
        _milestones[milestoneId] = m;
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
        if (account == _officer(args) || account == _supplier(args) || evaluator.org == _supplierOrg(args)) {
            revert EscrowSegregationOfDuties(account);
        }
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, 1 << uint256(MilestoneStatus.Submitted));
        if (round != m.round) revert EscrowWrongRound(milestoneId, round, m.round);
        if ((m.passBits | m.failBits) & bit != 0) revert EscrowAlreadyAttested(milestoneId, round, account);

        if (pass) m.passBits |= uint16(bit);
        else m.failBits |= uint16(bit);
        uint256 passes = _popcount(m.passBits);
        uint256 fails = _popcount(m.failBits);
        uint256 quorum = _quorum(args);
        emit Attested(milestoneId, account, round, pass, reportHash);

        if (passes >= quorum) {
            uint256 amount = _amount(args, milestoneId, m);
            m.status = MilestoneStatus.Approved;
            _milestones[milestoneId] = m;
            emit MilestoneApproved(milestoneId, round, amount);
            if (_pay(args, milestoneId, amount)) _milestones[milestoneId].status = MilestoneStatus.Paid;
        } else {
            // A round fails on a quorum of fails, or as soon as a quorum of passes can no longer be reached.
            if (fails >= quorum || fails > _evaluatorCount(args) - quorum) {
                m.status = MilestoneStatus.Rejected;
                emit SubmissionRejected(milestoneId, round, fails);
            }
            _milestones[milestoneId] = m;
        }
    }

    // ---------------------------------------------------------------- payments and refunds

    /// @inheritdoc IMilestoneEscrow
    function claimPayment(uint256 milestoneId) external {
        bytes memory args = _args();
        MilestoneRecord memory m = _load(args, milestoneId);
        uint256 owed = _owed[milestoneId];
        if (owed == 0) revert EscrowNothingOwed(milestoneId);
        if (_accounting.paused) revert EscrowPaused();
        Accounting memory acc = _accounting;
        uint256 held = _funded(args, acc) - acc.released - acc.refunded;
        if (held < owed) revert EscrowInsufficientFunds(owed, held);
        delete _owed[milestoneId];
        acc.owed -= uint48(owed);
        acc.released += uint64(owed);
        _accounting = acc;
        if (m.status == MilestoneStatus.Approved) _milestones[milestoneId].status = MilestoneStatus.Paid;
        address supplier = _supplier(args);
        _token.safeTransfer(supplier, owed);
        emit PaymentReleased(milestoneId, supplier, owed);
    }

    /// @dev Pays `amount` to the supplier now if releases are not paused, the escrow holds it beyond what is
    /// already owed, and the token accepts the transfer; otherwise records it as owed. Never reverts on a
    /// refused transfer, so one milestone's payment can never block another's.
    function _pay(bytes memory args, uint256 milestoneId, uint256 amount) private returns (bool paid) {
        if (amount == 0) return true;
        address supplier = _supplier(args);
        Accounting memory acc = _accounting;
        uint256 held = _funded(args, acc) - acc.released - acc.refunded;
        if (!acc.paused && held >= acc.owed + amount && _token.trySafeTransfer(supplier, amount)) {
            acc.released += uint64(amount);
            _accounting = acc;
            emit PaymentReleased(milestoneId, supplier, amount);
            return true;
        }
        _owed[milestoneId] += amount;
        acc.owed += SafeCast.toUint48(amount);
        _accounting = acc;
        emit PaymentDeferred(milestoneId, supplier, amount);
        return false;
    }

    /// @dev Returns to the ministry's vault up to `cap` yen of what the escrow holds beyond what its open
    /// milestones and owed payments need. Called after a milestone leaves the open states.
    function _refundExcess(bytes memory args, uint256 milestoneId, uint256 cap) private {
        Accounting memory acc = _accounting;
        uint256 held = _funded(args, acc) - acc.released - acc.refunded;
        uint256 needed = _outstanding(args);
        uint256 excess = held > needed ? held - needed : 0;
        uint256 amount = excess < cap ? excess : cap;
        if (amount == 0) return;
        address vault = _registry.organization(_ministryOrg(args)).vault;
        if (vault == address(0)) revert EscrowNoVault(_ministryOrg(args));
        acc.refunded += uint64(amount);
        _accounting = acc;
        _token.safeTransfer(vault, amount);
        emit Refunded(milestoneId, vault, amount);
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
            rationaleHash: rationaleHash
        });
        emit AmendmentProposed(
            amendmentId, milestoneId, proposer.account, kind, newAmount, newDueDate, rationaleHash
        );
    }

    /// @inheritdoc IMilestoneEscrow
    function approveAmendment(uint256 amendmentId) external {
        _approveAmendment(_args(), _caller(Roles.PROCUREMENT_OFFICER), amendmentId);
    }

    /// @inheritdoc IMilestoneEscrow
    function approveAmendmentBySig(uint256 amendmentId, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        bytes memory args = _args();
        Actor memory approver = _signer(
            args,
            signer,
            Roles.PROCUREMENT_OFFICER,
            deadline,
            signature,
            abi.encode(_APPROVE_AMENDMENT_TYPEHASH, amendmentId)
        );
        _approveAmendment(args, approver, amendmentId);
    }

    function _approveAmendment(bytes memory args, Actor memory approver, uint256 amendmentId) private {
        _requireOfficer(args, approver);
        if (amendmentId >= _amendmentCount) revert EscrowUnknownAmendment(amendmentId);
        Amendment storage amendment_ = _amendments[amendmentId];
        if (amendment_.executed) revert EscrowUnknownAmendment(amendmentId);
        if (amendment_.proposer == approver.account) revert EscrowSameOfficer(amendmentId, approver.account);
        uint256 milestoneId = amendment_.milestoneId;
        AmendmentKind kind = amendment_.kind;
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _OPEN);
        _validateAmendment(args, milestoneId, m, kind, amendment_.newAmount, amendment_.newDueDate);
        amendment_.executed = true;

        uint256 oldAmount = _amount(args, milestoneId, m);
        uint256 oldDueDate = _dueDate(args, milestoneId, m);
        m.amount = uint64(oldAmount);
        m.dueDate = uint40(oldDueDate);
        m.amended = true;
        if (kind == AmendmentKind.Amount) m.amount = uint64(amendment_.newAmount);
        else if (kind == AmendmentKind.DueDate) m.dueDate = uint40(amendment_.newDueDate);
        else m.status = MilestoneStatus.Cancelled;
        _milestones[milestoneId] = m;
        emit AmendmentApproved(
            amendmentId, milestoneId, approver.account, kind, oldAmount, m.amount, oldDueDate, m.dueDate
        );
        if (kind == AmendmentKind.Cancel) _refundExcess(args, milestoneId, oldAmount);
        else if (m.amount < oldAmount) _refundExcess(args, milestoneId, oldAmount - m.amount);
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
            valid = newAmount != 0 && newAmount <= type(uint64).max && newAmount != _amount(args, milestoneId, m);
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
        if (opener.account == _supplier(args)) {
            if (!opener.active) revert EscrowUnauthorized(opener.account, Roles.SUPPLIER);
        } else {
            _requireOfficer(args, opener);
        }
        MilestoneRecord memory m = _load(args, milestoneId);
        _requireStatus(milestoneId, m.status, _DISPUTABLE);
        _milestones[milestoneId].status = MilestoneStatus.Disputed;
        emit DisputeOpened(milestoneId, opener.account, m.status, reasonHash);
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
        uint256 amount = _amount(args, milestoneId, m);
        if (supplierAmount > amount) revert EscrowInvalidSettlement(milestoneId, supplierAmount, amount);
        _milestones[milestoneId].status = MilestoneStatus.Settled;
        emit DisputeSettled(milestoneId, reviewer.account, supplierAmount, amount - supplierAmount, rulingHash);
        _pay(args, milestoneId, supplierAmount);
        _refundExcess(args, milestoneId, amount - supplierAmount);
    }

    // ---------------------------------------------------------------- pause

    /// @inheritdoc IMilestoneEscrow
    function setPaused(bool paused_) external {
        Actor memory admin = _caller(Roles.MINISTRY_ADMIN);
        if (!admin.active || admin.org != _ministryOrg(_args())) {
            revert EscrowUnauthorized(msg.sender, Roles.MINISTRY_ADMIN);
        }
        if (_accounting.paused == paused_) revert EscrowPauseUnchanged(paused_);
        _accounting.paused = paused_;
        emit PauseChanged(msg.sender, paused_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IMilestoneEscrow
    function terms() external view returns (Terms memory t) {
        bytes memory args = _args();
        uint256 count = _evaluatorCount(args);
        address[] memory evaluators = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            evaluators[i] = _address(args, _EVALUATORS_OFFSET + 20 * i);
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
            evaluators: evaluators
        });
    }

    /// @inheritdoc IMilestoneEscrow
    function milestone(uint256 milestoneId) external view returns (Milestone memory) {
        bytes memory args = _args();
        MilestoneRecord memory m = _load(args, milestoneId);
        return Milestone({
            amount: _amount(args, milestoneId, m),
            dueDate: uint64(_dueDate(args, milestoneId, m)),
            status: m.status,
            round: m.round,
            passes: uint8(_popcount(m.passBits)),
            fails: uint8(_popcount(m.failBits)),
            owed: _owed[milestoneId]
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
        return (_funded(_args(), acc), acc.released, acc.refunded, acc.owed);
    }

    /// @inheritdoc IMilestoneEscrow
    function paused() external view returns (bool) {
        return _accounting.paused;
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
        (uint256 nonce, bytes32 org, bool active) = _registry.useNonce(signer, _word(args, 0), role);
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

    /// @dev The one check of the milestone state machine: `current` must be in the bit set `allowed`.
    function _requireStatus(uint256 milestoneId, MilestoneStatus current, uint256 allowed) private pure {
        if ((1 << uint256(current)) & allowed == 0) {
            revert EscrowUnexpectedMilestoneStatus(milestoneId, current, allowed);
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

    /// @dev Yen the open milestones and owed payments still need.
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
        Accounting memory acc = _accounting;
        uint256 held = _funded(args, acc) - acc.released - acc.refunded;
        uint256 needed = _outstanding(args);
        return needed > held ? needed - held : 0;
    }

    /// @dev Runs on every attestation: one word read per panel seat, no checked arithmetic (the offsets are
    /// bounded by the 16-seat panel).
    function _panelIndex(bytes memory args, address evaluator) private pure returns (uint256) {
        uint256 count = _evaluatorCount(args);
        bytes20 wanted = bytes20(evaluator);
        unchecked {
            for (uint256 i = 0; i < count; ++i) {
                if (bytes20(_word(args, _EVALUATORS_OFFSET + 20 * i)) == wanted) return i;
            }
        }
        revert EscrowNotOnPanel(evaluator);
    }

    function _popcount(uint256 bits) private pure returns (uint256 count) {
        for (; bits != 0; bits &= bits - 1) ++count;
    }

    function _toUint64(uint256 amount) private pure returns (uint64) {
        if (amount > type(uint64).max) revert EscrowAmountOverflow(amount);
        return uint64(amount);
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

    /// @dev Everything funded: the factory's initial funding (an argument) plus later top-ups (storage).
    function _funded(bytes memory args, Accounting memory acc) private pure returns (uint256) {
        return uint64(bytes8(_word(args, 104))) + uint256(acc.funded);
    }

    function _quorum(bytes memory args) private pure returns (uint256) {
        return uint8(args[112]);
    }

    function _evaluatorCount(bytes memory args) private pure returns (uint256) {
        return uint8(args[113]);
    }

    function _milestoneCount(bytes memory args) private pure returns (uint256) {
        return uint8(args[114]);
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
