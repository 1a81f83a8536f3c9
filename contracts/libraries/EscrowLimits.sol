// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title EscrowLimits
/// @notice The ranges every procurement lives within, shared by the factory (checked at creation) and the
/// escrow (checked at amendment and relied on by its books).
library EscrowLimits {
    /// @notice Largest evaluator panel (attestations are tracked in a 16-bit set).
    uint256 internal constant MAX_EVALUATORS = 16;
    /// @notice Most milestones per procurement.
    uint256 internal constant MAX_MILESTONES = 64;
    /// @notice Largest milestone amount in yen, 2^58 - 1 (about 2.9e17 yen): even 64 milestones at this amount
    /// fit the escrow's 64-bit books, so no total, owed or released sum can overflow.
    uint256 internal constant MAX_AMOUNT = type(uint64).max / MAX_MILESTONES;
    /// @notice Longest pause of an escrow's releases; a new pause (by the ministry admin) can renew it.
    uint256 internal constant MAX_PAUSE = 90 days;
    /// @notice Time a review body has to rule on a dispute before it lapses: the default, and its range.
    uint256 internal constant DEFAULT_RULING_PERIOD = 30 days;
    uint256 internal constant MIN_RULING_PERIOD = 7 days;
    uint256 internal constant MAX_RULING_PERIOD = 365 days;
    /// @notice Time between a review body's ruling that redirects an off-boarded supplier's owed yen and the
    /// moment the redirect may be carried out: the default, and its range.
    uint256 internal constant DEFAULT_GRACE_PERIOD = 90 days;
    uint256 internal constant MIN_GRACE_PERIOD = 30 days;
    uint256 internal constant MAX_GRACE_PERIOD = 730 days;
}
