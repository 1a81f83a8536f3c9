// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice The role identifiers of the procurement ledger, shared by every contract that asks the registry.
library Roles {
    /// @notice Administers a ministry: grants officer and treasury roles inside it, pauses its escrows.
    bytes32 internal constant MINISTRY_ADMIN = keccak256("MINISTRY_ADMIN_ROLE");
    /// @notice Creates, funds and amends procurements for its ministry. Never evaluates, never receives.
    bytes32 internal constant PROCUREMENT_OFFICER = keccak256("PROCUREMENT_OFFICER_ROLE");
    /// @notice The ministry's finance officer: distributes its items among sub-items, requests budget transfers,
    /// grants other ministries access to its budget lines.
    bytes32 internal constant TREASURY = keccak256("TREASURY_ROLE");
    /// @notice Delivers and submits evidence; receives payment.
    bytes32 internal constant SUPPLIER = keccak256("SUPPLIER_ROLE");
    /// @notice Attests pass or fail for a milestone submission.
    bytes32 internal constant EVALUATOR = keccak256("EVALUATOR_ROLE");
    /// @notice Settles a dispute on one milestone.
    bytes32 internal constant REVIEW_BODY = keccak256("REVIEW_BODY_ROLE");
    /// @notice Reads, replays and audits; holds no write power on escrows.
    bytes32 internal constant AUDITOR = keccak256("AUDITOR_ROLE");
    /// @notice The finance authority (the Ministry of Finance's budget bureau): enacts appropriations and
    /// multi-year authorities, approves transfers and carry-overs, closes fiscal years. Never a spending ministry.
    bytes32 internal constant FINANCE_AUTHORITY = keccak256("FINANCE_AUTHORITY_ROLE");
}
