// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IBudgetLedger} from "./IBudgetLedger.sol";

/// @title IBudgetOffice
/// @notice The budget ledger's front office: what authorizes acts on the books before they happen. It holds
/// - the signed (`...BySig`) form of every act a ministry or the finance authority performs;
/// - the workflow of transfers between budget lines (a ministry's finance officer requests, the finance authority
///   approves or refuses, the ministry may withdraw); on approval the ledger applies the transfer;
/// - cross-ministry grants on lines (to see one, or to obligate it up to a cap), charged when the ledger obligates;
/// - multi-year obligation authorities (国庫債務負担行為, Public Finance Act Art. 15: a ceiling, at most 5 years,
///   10 for the defense ministry, a schedule by year) and the parts of procurements committed under them for
///   later years, which the ledger obligates once their year comes.
/// The ledger keeps the books (appropriations, lines, obligations, the yen) and their rules.
///
/// Signed acts use the EIP-712 domain name "ProcurementBudget", version "1", the chain id and this office's
/// address, and the signer's registry nonce (`IAccessRegistry.nonces`, shared with the escrows). A signed ledger
/// act reaches the ledger as the same call with the signer appended to the call data (as an ERC-2771 trusted
/// forwarder does); the ledger checks the signer's role exactly as it checks a direct caller's.
///
/// A transfer request is stored as the hash of its content, requester and request time: approving, refusing or
/// withdrawing it names all of them again (from its TransferRequested event), so an approval names exactly what
/// takes effect.
interface IBudgetOffice {
    /// @notice A cross-ministry right on one line: to see it, or to obligate it up to a cap.
    enum AccessKind {
        None,
        View,
        Obligate
    }

    /// @notice A multi-year obligation authority as enacted.
    /// @param line The line it may obligate in later years; its fiscal year is the authority's first year.
    /// @param ceiling The most it may commit in all.
    /// @param schedule The most it may commit per fiscal year, from the first year on: at most
    /// MAX_AUTHORITY_YEARS years, or MAX_DEFENSE_AUTHORITY_YEARS for the defense ministry.
    struct AuthorityTerms {
        IBudgetLedger.LineKey line;
        uint256 ceiling;
        uint256[] schedule;
    }

    /// @notice A cross-ministry grant on one line (see {grantAccess}).
    struct Grant {
        AccessKind kind;
        uint64 expiresAt;
        uint256 cap;
        uint256 used;
    }

    /// @notice No pending transfer has this id with this content, requester and request time.
    error BudgetUnknownTransfer(uint256 transferId);
    /// @notice Requester and approver of a transfer belong to one organization.
    error BudgetSameOrganization(address approver, bytes32 organization);
    /// @notice The transfer's requester is no longer a finance officer of its ministry.
    error BudgetRequesterNotCurrent(uint256 transferId, address requester);
    /// @notice `account` lacks `role` in `organization`.
    error BudgetOfficeUnauthorized(address account, bytes32 role, bytes32 organization);
    /// @notice The reason's hash is zero.
    error BudgetOfficeMissingHash();
    /// @notice A grant names the line's own ministry, a kind without a cap or a view with one, or an expiry in
    /// the past.
    error BudgetInvalidGrant(bytes32 grantee, AccessKind kind, uint256 cap, uint256 expiresAt);
    /// @notice `grantee` holds no unexpired right to obligate the line (series, fiscal year), or (revoking) none
    /// at all.
    error BudgetAccessDenied(uint32 series, uint16 fiscalYear, bytes32 grantee);
    /// @notice The obligation exceeds what is left of the grant's cap.
    error BudgetGrantExceeded(uint32 series, uint16 fiscalYear, bytes32 grantee, uint256 remaining, uint256 amount);
    /// @notice Only the budget ledger may charge a grant or use a schedule.
    error BudgetOfficeUnauthorizedCaller(address caller);
    /// @notice The authority's id is zero or taken, its schedule is empty, too long or above its ceiling, or its
    /// ceiling is zero or above MAX_YEN.
    error BudgetInvalidAuthority(bytes32 authorityId);
    /// @notice No multi-year authority has this id for the procurement's line.
    error BudgetUnknownAuthority(bytes32 authorityId);
    /// @notice A milestone falls due in fiscal year `fiscalYear`, which the authority does not cover (or no
    /// authority was named: `authorityId` zero).
    error BudgetOutsideAuthority(bytes32 authorityId, uint16 fiscalYear);
    /// @notice The authority's schedule leaves `remaining` yen in `fiscalYear`; the procurement needs `amount`.
    error BudgetExceedsSchedule(bytes32 authorityId, uint16 fiscalYear, uint256 remaining, uint256 amount);
    /// @notice The authority's ceiling leaves `remaining` yen; the procurement needs `amount` in later years.
    error BudgetExceedsCeiling(bytes32 authorityId, uint256 remaining, uint256 amount);
    /// @notice Nothing is scheduled for the escrow up to this fiscal year.
    error BudgetNothingScheduled(address escrow, uint16 fiscalYear);
    /// @notice The signature's deadline has passed.
    error BudgetSignatureExpired(uint256 deadline, uint256 nowTime);
    /// @notice The signature does not recover to `signer` for the signer's current registry nonce on this office.
    error BudgetInvalidSignature(address signer);

    /// @notice A ministry's finance officer requested a transfer; it takes effect when the finance authority
    /// approves it (the ledger's Transferred event). `betweenItems` tells 移用 from 流用.
    event TransferRequested(
        uint256 indexed transferId,
        bytes32 indexed ministry,
        address indexed requester,
        IBudgetLedger.TransferRequest request,
        bool betweenItems,
        uint64 requestedAt
    );
    /// @notice The finance authority approved a transfer, which took effect at once (the ledger's Transferred event
    /// of the same transaction carries the lines' balances). Carries the times of request and approval.
    event TransferApproved(
        uint256 indexed transferId,
        bytes32 indexed ministry,
        address indexed approver,
        address requester,
        uint64 requestedAt,
        uint64 approvedAt
    );
    /// @notice The finance authority refused a transfer, with the hash of its reason.
    event TransferRefused(
        uint256 indexed transferId,
        bytes32 indexed ministry,
        address indexed refuser,
        bytes32 reasonHash,
        uint64 requestedAt,
        uint64 refusedAt
    );
    /// @notice A finance officer of the ministry withdrew a transfer it had requested.
    event TransferWithdrawn(
        uint256 indexed transferId, bytes32 indexed ministry, address indexed officer, uint64 requestedAt, uint64 withdrawnAt
    );
    /// @notice A ministry (`ministry`) granted another (`grantee`) a right on one of its lines (series, fiscal
    /// year) until `expiresAt`; `used` is what was obligated under the grant so far.
    event AccessGranted(
        uint32 indexed series,
        uint16 indexed fiscalYear,
        bytes32 indexed grantee,
        bytes32 ministry,
        address officer,
        AccessKind kind,
        uint256 cap,
        uint256 used,
        uint64 expiresAt
    );
    /// @notice A ministry revoked another ministry's right on one of its lines.
    event AccessRevoked(
        uint32 indexed series, uint16 indexed fiscalYear, bytes32 indexed grantee, bytes32 ministry, address officer
    );
    /// @notice A grant was used: a procurement of `grantee` (its escrow) obligated `amount` of `ministry`'s line;
    /// `used` is the grant's total use. The ledger's Obligated event of the same transaction carries both
    /// ministries too.
    event AccessUsed(
        uint32 indexed series,
        uint16 indexed fiscalYear,
        bytes32 indexed grantee,
        bytes32 ministry,
        address escrow,
        uint256 amount,
        uint256 used
    );
    /// @notice The finance authority enacted a multi-year obligation authority, citing the legal instrument's hash.
    event AuthorityEnacted(
        bytes32 indexed authorityId,
        bytes32 indexed ministry,
        address indexed authority,
        AuthorityTerms terms,
        bytes32 instrumentHash
    );
    /// @notice `amount` yen of a new procurement (its escrow), due in `fiscalYear`, were committed under a
    /// multi-year authority; the ledger obligates them once that year comes. `committedInYear` is the authority's
    /// total commitment for the year.
    event ObligationScheduled(
        address indexed escrow,
        bytes32 indexed authorityId,
        uint16 indexed fiscalYear,
        uint256 amount,
        uint256 committedInYear
    );
    /// @notice The escrow's part scheduled for `fiscalYear` (`amount` yen) was obligated on the ledger (its
    /// Obligated event follows).
    event ScheduleObligated(
        address indexed escrow, bytes32 indexed authorityId, uint16 indexed fiscalYear, uint256 amount
    );
    /// @notice The escrow needs less: `amount` yen of its part scheduled for `fiscalYear` were released, with the
    /// authority's commitment.
    event ScheduleReleased(
        address indexed escrow,
        bytes32 indexed authorityId,
        uint16 indexed fiscalYear,
        uint256 amount,
        uint256 committedInYear
    );
    /// @notice A signed act was relayed and the signer's registry nonce `nonce` consumed; the act's own event
    /// follows in the same transaction.
    event SignatureUsed(address indexed signer, address relayer, uint256 nonce);

    // ---------------------------------------------------------------- transfers

    /// @notice A finance officer of the lines' ministry requests a transfer between two of its lines in one fiscal
    /// year; returns its id. The ledger checks it could take effect now.
    function requestTransfer(IBudgetLedger.TransferRequest calldata request) external returns (uint256 transferId);

    /// @notice Like {requestTransfer}, signed by `signer`.
    function requestTransferBySig(
        IBudgetLedger.TransferRequest calldata request,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 transferId);

    /// @notice The finance authority approves a pending transfer, naming its full content; the ledger applies it at
    /// once if the source line still has the amount available. The requester must still be a finance officer of
    /// the ministry, and of another organization than the approver.
    function approveTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) external;

    /// @notice Like {approveTransfer}, signed by `signer`.
    function approveTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The finance authority refuses a pending transfer, with the hash of the reason.
    function refuseTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        bytes32 reasonHash
    ) external;

    /// @notice Like {refuseTransfer}, signed by `signer`.
    function refuseTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice A finance officer of the ministry withdraws a pending transfer.
    function withdrawTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) external;

    /// @notice Like {withdrawTransfer}, signed by `signer`.
    function withdrawTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    // ---------------------------------------------------------------- cross-ministry access

    /// @notice A finance officer of a line's ministry grants `grantee`, another ministry, a right on the line until
    /// `expiresAt`: to see it (View, no cap) or to obligate it up to `cap` yen (Obligate). Replaces an earlier
    /// grant; what was obligated under it still counts against the cap.
    function grantAccess(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        AccessKind kind,
        uint256 cap,
        uint64 expiresAt
    ) external;

    /// @notice Like {grantAccess}, signed by `signer`.
    function grantAccessBySig(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        AccessKind kind,
        uint256 cap,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice A finance officer of a line's ministry revokes an unexpired grant at once.
    function revokeAccess(IBudgetLedger.LineKey calldata line, bytes32 grantee) external;

    /// @notice Like {revokeAccess}, signed by `signer`.
    function revokeAccessBySig(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Charges `amount` yen a procurement of `grantee` obligates on another ministry's line to
    /// `grantee`'s unexpired Obligate grant. Only the ledger.
    function useGrant(
        uint32 series,
        uint16 fiscalYear,
        bytes32 lineMinistry,
        bytes32 grantee,
        address escrow,
        uint256 amount
    ) external;

    // ---------------------------------------------------------------- multi-year authorities

    /// @notice The finance authority enacts a multi-year obligation authority under a fresh id, citing the legal
    /// instrument's hash.
    function enactAuthority(bytes32 authorityId, AuthorityTerms calldata terms, bytes32 instrumentHash) external;

    /// @notice Like {enactAuthority}, signed by `signer`.
    function enactAuthorityBySig(
        bytes32 authorityId,
        AuthorityTerms calldata terms,
        bytes32 instrumentHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Commits the parts of a new procurement due after the current fiscal year to the authority, per
    /// fiscal year of their due dates. Only the ledger, at creation; `lineCode` identifies the procurement's line
    /// without its year (keccak256 of ministry, organization, item, sub-item).
    function commitSchedule(
        address escrow,
        bytes32 authorityId,
        bytes32 lineCode,
        uint256[] calldata amounts,
        uint64[] calldata dueDates
    ) external;

    /// @notice Removes and returns an escrow's scheduled parts up to `fiscalYear` (this year's and any earlier one
    /// not obligated in its own year), for the ledger to obligate. Only the ledger.
    function takeSchedule(address escrow, uint16 fiscalYear) external returns (uint256 part);

    /// @notice Releases up to `excess` yen of an escrow's scheduled parts, latest year first, with the authority's
    /// commitments; returns what it released. Only the ledger, when the escrow's need falls.
    function releaseSchedule(address escrow, uint256 excess) external returns (uint256 released);

    // ---------------------------------------------------------------- signed forms of the ledger's acts

    /// @notice {IBudgetLedger-enactAppropriation}, signed by `signer` (the finance authority).
    function enactAppropriationBySig(
        IBudgetLedger.ItemKey calldata key,
        IBudgetLedger.AppropriationAct act,
        int256 amount,
        uint8 authorizations,
        bytes32 instrumentHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;


    /// @notice {IBudgetLedger-approveCarryOver}, signed by `signer` (the finance authority).
    function approveCarryOverBySig(
        IBudgetLedger.LineKey calldata line,
        IBudgetLedger.CarryOverKind kind,
        uint256 amount,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {IBudgetLedger-closeFiscalYear}, signed by `signer` (the finance authority).
    function closeFiscalYearBySig(uint16 fiscalYear, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice {IBudgetLedger-distribute}, signed by `signer` (a finance officer of the line's ministry).
    function distributeBySig(
        IBudgetLedger.LineKey calldata line,
        int256 change,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;



    /// @notice {IBudgetLedger-increaseObligation}, signed by `signer` (a procurement officer of the buying ministry).
    function increaseObligationBySig(
        address escrow,
        uint256 amount,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    // ---------------------------------------------------------------- views

    /// @notice Whether a transfer is pending.
    function transferPending(uint256 transferId) external view returns (bool);

    /// @notice How many transfers were requested (ids run from 1).
    function transferCount() external view returns (uint256);

    /// @notice The grant of `grantee` on a line.
    function grant(IBudgetLedger.LineKey calldata line, bytes32 grantee) external view returns (Grant memory);

    /// @notice A multi-year authority: its line (without its year, as `lineCode` in {commitSchedule}), first year,
    /// year count, ceiling and total commitments.
    function authority(bytes32 authorityId)
        external
        view
        returns (bytes32 lineCode, uint16 firstYear, uint8 yearCount, uint256 ceiling, uint256 committed);

    /// @notice A multi-year authority's schedule for one fiscal year, and what is committed against it.
    function authorityYear(bytes32 authorityId, uint16 fiscalYear)
        external
        view
        returns (uint256 scheduled, uint256 committed);

    /// @notice The authority an escrow's later parts are committed under (zero for a single-year procurement).
    function authorityOf(address escrow) external view returns (bytes32);

    /// @notice The part of an escrow scheduled for `fiscalYear` and not yet obligated.
    function scheduled(address escrow, uint16 fiscalYear) external view returns (uint256);

    /// @notice The ministry whose multi-year authorities may run MAX_DEFENSE_AUTHORITY_YEARS.
    function defenseMinistry() external view returns (bytes32);

    /// @notice The budget ledger.
    function ledger() external view returns (address);

    /// @notice The EIP-712 domain separator (chain id and this office's address).
    function domainSeparator() external view returns (bytes32);
}
