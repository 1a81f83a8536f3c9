// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IBudgetLedger} from "./interfaces/IBudgetLedger.sol";
import {IProcurementFactory} from "./interfaces/IProcurementFactory.sol";
import {EscrowLimits} from "./libraries/EscrowLimits.sol";
import {Roles} from "./libraries/Roles.sol";
import {MilestoneEscrow} from "./MilestoneEscrow.sol";

/// @title ProcurementFactory
/// @notice Creates milestone escrows. See {IProcurementFactory}.
contract ProcurementFactory is IProcurementFactory {
    /// @notice Largest evaluator panel (attestations are tracked in a 16-bit set).
    uint256 public constant MAX_EVALUATORS = EscrowLimits.MAX_EVALUATORS;
    /// @notice Most milestones per procurement.
    uint256 public constant MAX_MILESTONES = EscrowLimits.MAX_MILESTONES;
    /// @notice Largest milestone amount in yen (see `EscrowLimits.MAX_AMOUNT`).
    uint256 public constant MAX_AMOUNT = EscrowLimits.MAX_AMOUNT;
    /// @notice The ruling period a procurement gets unless it says otherwise.
    uint256 public constant DEFAULT_RULING_PERIOD = EscrowLimits.DEFAULT_RULING_PERIOD;
    /// @notice The grace period a procurement gets unless it says otherwise.
    uint256 public constant DEFAULT_GRACE_PERIOD = EscrowLimits.DEFAULT_GRACE_PERIOD;
    /// @notice The range of a procurement's ruling period.
    uint256 public constant MIN_RULING_PERIOD = EscrowLimits.MIN_RULING_PERIOD;
    uint256 public constant MAX_RULING_PERIOD = EscrowLimits.MAX_RULING_PERIOD;
    /// @notice The range of a procurement's grace period.
    uint256 public constant MIN_GRACE_PERIOD = EscrowLimits.MIN_GRACE_PERIOD;
    uint256 public constant MAX_GRACE_PERIOD = EscrowLimits.MAX_GRACE_PERIOD;

    IAccessRegistry private immutable _registry;
    IERC20 private immutable _token;
    IBudgetLedger private immutable _budget;
    address private immutable _implementation;

    /// @param registry_ The access registry (its admin must then call `setFactory` with this address).
    /// @param token_ The yen deposit token.
    /// @param budget_ The budget ledger procurements obligate (the one the registry names).
    constructor(IAccessRegistry registry_, IERC20 token_, IBudgetLedger budget_) {
        _registry = registry_;
        _token = token_;
        _budget = budget_;
        _implementation = address(new MilestoneEscrow(registry_, token_, budget_));
    }

    /// @inheritdoc IProcurementFactory
    function createProcurement(
        ProcurementParams calldata params,
        uint256 fundAmount,
        IBudgetLedger.LineKey calldata line,
        bytes32 authorityId
    ) external returns (address escrow) {
        (bytes32 ministryOrg, bytes32 supplierOrg) = _validate(params, fundAmount);
        escrow = Clones.cloneDeterministicWithImmutableArgs(
            _implementation,
            _encodeTerms(params, ministryOrg, supplierOrg, fundAmount),
            keccak256(abi.encode(ministryOrg, params.procurementId))
        );
        _registry.registerEscrow(ministryOrg, params.procurementId, escrow);
        _obligate(escrow, ministryOrg, params, fundAmount, line, authorityId);
        emit ProcurementCreated(params.procurementId, escrow, ministryOrg, msg.sender, supplierOrg, fundAmount, params);
    }

    /// @inheritdoc IProcurementFactory
    function implementation() external view returns (address) {
        return _implementation;
    }

    /// @inheritdoc IProcurementFactory
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IProcurementFactory
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IProcurementFactory
    function budget() external view returns (address) {
        return address(_budget);
    }

    function _validate(ProcurementParams calldata params, uint256 fundAmount)
        private
        view
        returns (bytes32 ministryOrg, bytes32 supplierOrg)
    {
        bool active;
        (ministryOrg, active) = _registry.roleStatus(Roles.PROCUREMENT_OFFICER, msg.sender);
        if (!active) revert FactoryUnauthorized(msg.sender);
        (supplierOrg, active) = _registry.roleStatus(Roles.SUPPLIER, params.supplier);
        if (!active) revert FactoryInvalidSupplier(params.supplier);
        _checkPanel(params, msg.sender, supplierOrg);
        uint256 total = _checkMilestones(params);
        // The total is at most 64 * MAX_AMOUNT < 2^64: the escrow's uint64 argument holds any valid funding.
        if (fundAmount > total) revert FactoryInvalidFunding(fundAmount, total);
        uint256 ruling = params.rulingPeriod;
        uint256 grace = params.gracePeriod;
        if (
            ruling < EscrowLimits.MIN_RULING_PERIOD || ruling > EscrowLimits.MAX_RULING_PERIOD
                || grace < EscrowLimits.MIN_GRACE_PERIOD || grace > EscrowLimits.MAX_GRACE_PERIOD
        ) revert FactoryInvalidPeriods(ruling, grace);
    }

    /// @dev Obligates the procurement on its budget line, which mints the initial funding into the escrow; the
    /// escrow's books start at exactly `fundAmount`. The balance is checked even without funding: yen sent to the
    /// address before the escrow existed (only possible while the registry admin had it bound as an account,
    /// which is then unbound: the registry refuses to register an escrow at a bound address) would break the
    /// escrow's books.
    function _obligate(
        address escrow,
        bytes32 ministryOrg,
        ProcurementParams calldata params,
        uint256 fundAmount,
        IBudgetLedger.LineKey calldata line,
        bytes32 authorityId
    ) private {
        _budget.obligate(
            escrow, ministryOrg, msg.sender, line, authorityId, params.amounts, params.dueDates, fundAmount
        );
        uint256 balance = _token.balanceOf(escrow);
        if (balance != fundAmount) revert FactoryInvalidFunding(fundAmount, balance);
    }

    function _checkPanel(ProcurementParams calldata params, address officer, bytes32 supplierOrg) private view {
        address[] calldata evaluators = params.evaluators;
        uint256 count = evaluators.length;
        if (count == 0 || count > MAX_EVALUATORS || params.quorum == 0 || params.quorum > count) {
            revert FactoryInvalidPanel(count, params.quorum);
        }
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            address evaluator = evaluators[i];
            if (evaluator == officer || evaluator == params.supplier) revert FactorySegregationOfDuties(evaluator);
            (bytes32 org, bool active) = _registry.roleStatus(Roles.EVALUATOR, evaluator);
            if (!active || evaluator == previous) revert FactoryInvalidEvaluator(evaluator);
            if (org == supplierOrg) revert FactorySegregationOfDuties(evaluator);
            // Sorted, so that the escrow finds a seat by binary search on every attestation.
            if (evaluator < previous) revert FactoryUnsortedPanel(i, evaluator);
            previous = evaluator;
        }
    }

    function _checkMilestones(ProcurementParams calldata params) private view returns (uint256 total) {
        uint256 count = params.amounts.length;
        if (count == 0 || count > MAX_MILESTONES || count != params.dueDates.length) {
            revert FactoryInvalidMilestones(count, params.dueDates.length);
        }
        for (uint256 i = 0; i < count; ++i) {
            uint256 amount = params.amounts[i];
            uint256 dueDate = params.dueDates[i];
            if (
                amount == 0 || amount > EscrowLimits.MAX_AMOUNT || dueDate <= block.timestamp
                    || dueDate > type(uint40).max
            ) {
                revert FactoryInvalidMilestone(i, amount, dueDate);
            }
            total += amount;
        }
    }

    /// @dev Packs the terms in the layout `MilestoneEscrow` reads (see its contract documentation).
    function _encodeTerms(
        ProcurementParams calldata params,
        bytes32 ministryOrg,
        bytes32 supplierOrg,
        uint256 fundAmount
    ) private view returns (bytes memory args) {
        args = abi.encodePacked(
            params.procurementId,
            bytes16(ministryOrg),
            bytes16(supplierOrg),
            params.supplier,
            msg.sender,
            uint64(fundAmount),
            params.quorum,
            uint8(params.evaluators.length),
            uint8(params.amounts.length),
            params.rulingPeriod,
            params.gracePeriod
        );
        for (uint256 i = 0; i < params.evaluators.length; ++i) {
            args = bytes.concat(args, bytes20(params.evaluators[i]));
        }
        for (uint256 i = 0; i < params.amounts.length; ++i) {
            args = bytes.concat(args, bytes8(uint64(params.amounts[i])), bytes5(uint40(params.dueDates[i])));
        }
    }
}
