// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IBudgetLedger} from "./IBudgetLedger.sol";

/// @title IProcurementFactory
/// @notice Creates one milestone escrow per procurement, as an EIP-1167 clone at a deterministic address
/// (CREATE2, salt = keccak256(abi.encode(ministry id, procurement id)): procurement ids are scoped by the
/// buying ministry), registers it, obligates its value on a budget line, and optionally funds it in the same transaction (the budget
/// ledger mints the funding against the obligation).
interface IProcurementFactory {
    /// @notice What an officer specifies to create a procurement.
    /// @param procurementId Unique id within the buying ministry, e.g. keccak256 of the OCDS ocid.
    /// @param supplier The supplier account that submits evidence and receives payment.
    /// @param evaluators The evaluator panel, 1 to 16 distinct accounts of evaluation bodies, in ascending order
    /// of address (the escrow finds a seat by binary search).
    /// @param quorum Distinct passes needed to release a milestone (1..evaluators.length).
    /// @param amounts Yen per milestone, each 1..MAX_AMOUNT (2^58 - 1).
    /// @param dueDates Unix due time per milestone, each in the future.
    /// @param specHash Hash of the specification document the procurement was created from.
    /// @param title Human-readable title, kept in the event only.
    /// @param rulingPeriod Seconds a review body has to rule on a dispute before it lapses (7 to 365 days;
    /// DEFAULT_RULING_PERIOD, 30 days, unless the procurement says otherwise).
    /// @param gracePeriod Seconds between a review body's ruling redirecting an off-boarded supplier's owed yen
    /// and its execution (30 to 730 days; DEFAULT_GRACE_PERIOD, 90 days, unless the procurement says otherwise).
    struct ProcurementParams {
        bytes32 procurementId;
        address supplier;
        address[] evaluators;
        uint8 quorum;
        uint256[] amounts;
        uint64[] dueDates;
        bytes32 specHash;
        string title;
        uint32 rulingPeriod;
        uint32 gracePeriod;
    }

    /// @notice The caller is not an active procurement officer.
    error FactoryUnauthorized(address caller);
    /// @notice The supplier does not hold an active supplier role.
    error FactoryInvalidSupplier(address supplier);
    /// @notice The evaluator does not hold an active evaluator role, or appears twice.
    error FactoryInvalidEvaluator(address evaluator);
    /// @notice The panel is not in ascending order of address: `evaluator`, at `index`, is below its predecessor.
    error FactoryUnsortedPanel(uint256 index, address evaluator);
    /// @notice The evaluator is the officer, the supplier, or an account of the supplier's organization.
    error FactorySegregationOfDuties(address evaluator);
    /// @notice The panel size or quorum is out of range.
    error FactoryInvalidPanel(uint256 evaluators, uint256 quorum);
    /// @notice The milestone lists are empty, too long, or of different lengths.
    error FactoryInvalidMilestones(uint256 amounts, uint256 dueDates);
    /// @notice A milestone's amount is zero or too large, or its due date is not in the future.
    error FactoryInvalidMilestone(uint256 index, uint256 amount, uint256 dueDate);
    /// @notice The initial funding exceeds the procurement total, or did not arrive exactly.
    error FactoryInvalidFunding(uint256 fundAmount, uint256 total);
    /// @notice The ruling period or the grace period is out of its range.
    error FactoryInvalidPeriods(uint256 rulingPeriod, uint256 gracePeriod);

    /// @notice A procurement escrow was created and `funded` yen minted into it on its obligation; carries every
    /// term so that an indexer never reads storage. The budget ledger's Obligated event of the same transaction
    /// names the line (series and fiscal year), the buying and the line's ministry, and the amounts.
    event ProcurementCreated(
        bytes32 indexed procurementId,
        address indexed escrow,
        bytes32 indexed ministryOrg,
        address officer,
        bytes32 supplierOrg,
        uint256 funded,
        ProcurementParams params
    );

    /// @notice Creates the escrow for `params`, obligates the part of its milestones due in the current fiscal year
    /// against `line` (a sub-item line of the current fiscal year: the buying ministry's, or another ministry's
    /// that granted it the right to obligate), schedules later years' parts under the multi-year authority
    /// `authorityId` (zero if there are none), and has `fundAmount` yen of the obligation minted into the escrow.
    /// The caller must be an active procurement officer; its ministry buys. A procurement that does not fit the
    /// line is refused with the ledger's BudgetExceedsAvailable(line, available, amount).
    function createProcurement(
        ProcurementParams calldata params,
        uint256 fundAmount,
        IBudgetLedger.LineKey calldata line,
        bytes32 authorityId
    ) external returns (address);

    /// @notice The escrow implementation the clones delegate to.
    function implementation() external view returns (address);

    /// @notice The access registry.
    function registry() external view returns (address);

    /// @notice The yen deposit token.
    function token() external view returns (address);

    /// @notice The budget ledger procurements obligate.
    function budget() external view returns (address);
}
