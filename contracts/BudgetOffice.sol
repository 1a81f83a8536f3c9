// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IBudgetLedger} from "./interfaces/IBudgetLedger.sol";
import {IBudgetOffice} from "./interfaces/IBudgetOffice.sol";
import {FiscalYear} from "./libraries/FiscalYear.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title BudgetOffice
/// @notice Signed budget acts and the transfer workflow. See {IBudgetOffice}.
/// @dev Deployed by the budget ledger's constructor (the ledger trusts exactly this office). Kept apart from the
/// ledger because together they exceed the 24,576-byte code limit of EIP-170.
contract BudgetOffice is EIP712, IBudgetOffice {
    /// @notice Longest multi-year obligation authority (Public Finance Act, Art. 15).
    uint256 public constant MAX_AUTHORITY_YEARS = 5;
    /// @notice Longest for the defense ministry (special act on defense procurement, 2015).
    uint256 public constant MAX_DEFENSE_AUTHORITY_YEARS = 10;

    string private constant _LINE_KEY_TYPE =
        "LineKey(uint16 fiscalYear,bytes32 ministry,bytes32 organization,bytes32 item,bytes32 subItem)";
    string private constant _TRANSFER_REQUEST_TYPE =
        "TransferRequest(LineKey from,LineKey to,uint256 amount,bytes32 rationaleHash)";
    string private constant _AUTHORITY_TERMS_TYPE = "AuthorityTerms(LineKey line,uint256 ceiling,uint256[] schedule)";
    bytes32 private constant _LINE_KEY_TYPEHASH = keccak256(bytes(_LINE_KEY_TYPE));
    bytes32 private constant _ITEM_KEY_TYPEHASH =
        keccak256("ItemKey(uint16 fiscalYear,bytes32 ministry,bytes32 organization,bytes32 item)");
    bytes32 private constant _TRANSFER_REQUEST_TYPEHASH =
        keccak256(abi.encodePacked(_TRANSFER_REQUEST_TYPE, _LINE_KEY_TYPE));
    bytes32 private constant _AUTHORITY_TERMS_TYPEHASH =
        keccak256(abi.encodePacked(_AUTHORITY_TERMS_TYPE, _LINE_KEY_TYPE));
    bytes32 private constant _ENACT_APPROPRIATION_TYPEHASH = keccak256(
        "EnactAppropriation(ItemKey key,uint8 act,int256 amount,uint8 authorizations,bytes32 instrumentHash,uint256 nonce,uint256 deadline)ItemKey(uint16 fiscalYear,bytes32 ministry,bytes32 organization,bytes32 item)"
    );
    bytes32 private constant _ENACT_AUTHORITY_TYPEHASH = keccak256(
        abi.encodePacked(
            "EnactAuthority(bytes32 authorityId,AuthorityTerms terms,bytes32 instrumentHash,uint256 nonce,uint256 deadline)",
            _AUTHORITY_TERMS_TYPE,
            _LINE_KEY_TYPE
        )
    );
    bytes32 private constant _APPROVE_CARRY_OVER_TYPEHASH = keccak256(
        abi.encodePacked(
            "ApproveCarryOver(LineKey line,uint8 kind,uint256 amount,bytes32 reasonHash,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE
        )
    );
    bytes32 private constant _CLOSE_FISCAL_YEAR_TYPEHASH =
        keccak256("CloseFiscalYear(uint16 fiscalYear,uint256 nonce,uint256 deadline)");
    bytes32 private constant _DISTRIBUTE_TYPEHASH = keccak256(
        abi.encodePacked("Distribute(LineKey line,int256 change,uint256 nonce,uint256 deadline)", _LINE_KEY_TYPE)
    );
    bytes32 private constant _GRANT_ACCESS_TYPEHASH = keccak256(
        abi.encodePacked(
            "GrantAccess(LineKey line,bytes32 grantee,uint8 kind,uint256 cap,uint64 expiresAt,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE
        )
    );
    bytes32 private constant _REVOKE_ACCESS_TYPEHASH = keccak256(
        abi.encodePacked("RevokeAccess(LineKey line,bytes32 grantee,uint256 nonce,uint256 deadline)", _LINE_KEY_TYPE)
    );
    bytes32 private constant _INCREASE_OBLIGATION_TYPEHASH =
        keccak256("IncreaseObligation(address escrow,uint256 amount,uint256 nonce,uint256 deadline)");
    bytes32 private constant _REQUEST_TRANSFER_TYPEHASH = keccak256(
        abi.encodePacked(
            "RequestTransfer(TransferRequest request,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE,
            _TRANSFER_REQUEST_TYPE
        )
    );
    bytes32 private constant _APPROVE_TRANSFER_TYPEHASH = keccak256(
        abi.encodePacked(
            "ApproveTransfer(uint256 transferId,TransferRequest request,address requester,uint64 requestedAt,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE,
            _TRANSFER_REQUEST_TYPE
        )
    );
    bytes32 private constant _REFUSE_TRANSFER_TYPEHASH = keccak256(
        abi.encodePacked(
            "RefuseTransfer(uint256 transferId,TransferRequest request,address requester,uint64 requestedAt,bytes32 reasonHash,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE,
            _TRANSFER_REQUEST_TYPE
        )
    );
    bytes32 private constant _WITHDRAW_TRANSFER_TYPEHASH = keccak256(
        abi.encodePacked(
            "WithdrawTransfer(uint256 transferId,TransferRequest request,address requester,uint64 requestedAt,uint256 nonce,uint256 deadline)",
            _LINE_KEY_TYPE,
            _TRANSFER_REQUEST_TYPE
        )
    );

    /// @dev Who performs an act: the account, its organization, and whether it holds the act's role there while
    /// that organization is active.
    struct Actor {
        address account;
        bytes32 org;
        bool active;
    }

    /// @dev A grant, one slot.
    struct GrantRecord {
        AccessKind kind;
        uint40 expiresAt;
        uint64 cap;
        uint64 used;
    }

    /// @dev A multi-year authority: its line code, then years, ceiling and commitments in one slot.
    struct AuthorityRecord {
        bytes32 lineCode;
        uint16 firstYear;
        uint8 yearCount;
        uint64 ceiling;
        uint64 committed;
    }

    struct ScheduleRecord {
        uint64 scheduled;
        uint64 committed;
    }

    IAccessRegistry private immutable _registry;
    IBudgetLedger private immutable _ledger;
    bytes32 private immutable _defenseMinistry;

    uint256 private _transferCount;
    mapping(uint256 transferId => bytes32 contentHash) private _transfers;
    mapping(uint32 series => mapping(uint16 fiscalYear => mapping(bytes32 grantee => GrantRecord))) private _grants;
    mapping(bytes32 authorityId => AuthorityRecord) private _authorities;
    mapping(bytes32 authorityId => mapping(uint16 fiscalYear => ScheduleRecord)) private _schedules;
    mapping(address escrow => bytes32 authorityId) private _authorityOf;
    mapping(address escrow => mapping(uint16 fiscalYear => uint64)) private _plans;

    /// @param registry_ The access registry (which lets this office consume signers' nonces once its admin set the
    /// ledger).
    /// @param ledger_ The budget ledger that deploys this office.
    /// @param defenseMinistry_ The ministry whose multi-year authorities may run 10 years.
    constructor(IAccessRegistry registry_, IBudgetLedger ledger_, bytes32 defenseMinistry_)
        EIP712("ProcurementBudget", "1")
    {
        _registry = registry_;
        _ledger = ledger_;
        _defenseMinistry = defenseMinistry_;
    }

    // ---------------------------------------------------------------- transfers

    /// @inheritdoc IBudgetOffice
    function requestTransfer(IBudgetLedger.TransferRequest calldata request) external returns (uint256) {
        return _requestTransfer(_caller(Roles.TREASURY), request);
    }

    /// @inheritdoc IBudgetOffice
    function requestTransferBySig(
        IBudgetLedger.TransferRequest calldata request,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256) {
        bytes memory fields = abi.encode(_REQUEST_TRANSFER_TYPEHASH, _hashTransferRequest(request));
        return _requestTransfer(_signer(signer, Roles.TREASURY, deadline, signature, fields), request);
    }

    function _requestTransfer(Actor memory officer, IBudgetLedger.TransferRequest calldata request)
        private
        returns (uint256 transferId)
    {
        bytes32 ministry = request.from.ministry;
        _requireMember(officer, Roles.TREASURY, ministry);
        bool betweenItems = _ledger.checkTransfer(request);
        transferId = ++_transferCount;
        uint64 requestedAt = uint64(block.timestamp);
        _transfers[transferId] = keccak256(abi.encode(request, officer.account, requestedAt));
        emit TransferRequested(transferId, ministry, officer.account, request, betweenItems, requestedAt);
    }

    /// @inheritdoc IBudgetOffice
    function approveTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) external {
        _approveTransfer(_caller(Roles.FINANCE_AUTHORITY), transferId, request, requester, requestedAt);
    }

    /// @inheritdoc IBudgetOffice
    function approveTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields =
            abi.encode(_APPROVE_TRANSFER_TYPEHASH, transferId, _hashTransferRequest(request), requester, requestedAt);
        Actor memory authority = _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _approveTransfer(authority, transferId, request, requester, requestedAt);
    }

    function _approveTransfer(
        Actor memory authority,
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) private {
        if (!authority.active) {
            revert BudgetOfficeUnauthorized(authority.account, Roles.FINANCE_AUTHORITY, authority.org);
        }
        _takePending(transferId, request, requester, requestedAt);
        bytes32 ministry = request.from.ministry;
        // A request counts only while its requester is a finance officer of the ministry. Requester and approver
        // are of different organizations: the finance authority's kind excludes a ministry; this says so.
        (bytes32 requesterOrg, bool current) = _registry.roleStatus(Roles.TREASURY, requester);
        if (!current || requesterOrg != ministry) revert BudgetRequesterNotCurrent(transferId, requester);
        if (requesterOrg == authority.org) revert BudgetSameOrganization(authority.account, requesterOrg);
        _ledger.applyTransfer(transferId, request);
        emit TransferApproved(transferId, ministry, authority.account, requester, requestedAt, uint64(block.timestamp));
    }

    /// @inheritdoc IBudgetOffice
    function refuseTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        bytes32 reasonHash
    ) external {
        _refuseTransfer(_caller(Roles.FINANCE_AUTHORITY), transferId, request, requester, requestedAt, reasonHash);
    }

    /// @inheritdoc IBudgetOffice
    function refuseTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(
            _REFUSE_TRANSFER_TYPEHASH, transferId, _hashTransferRequest(request), requester, requestedAt, reasonHash
        );
        Actor memory authority = _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _refuseTransfer(authority, transferId, request, requester, requestedAt, reasonHash);
    }

    function _refuseTransfer(
        Actor memory authority,
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        bytes32 reasonHash
    ) private {
        if (!authority.active) {
            revert BudgetOfficeUnauthorized(authority.account, Roles.FINANCE_AUTHORITY, authority.org);
        }
        if (reasonHash == bytes32(0)) revert BudgetOfficeMissingHash();
        _takePending(transferId, request, requester, requestedAt);
        emit TransferRefused(
            transferId, request.from.ministry, authority.account, reasonHash, requestedAt, uint64(block.timestamp)
        );
    }

    /// @inheritdoc IBudgetOffice
    function withdrawTransfer(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) external {
        _withdrawTransfer(_caller(Roles.TREASURY), transferId, request, requester, requestedAt);
    }

    /// @inheritdoc IBudgetOffice
    function withdrawTransferBySig(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields =
            abi.encode(_WITHDRAW_TRANSFER_TYPEHASH, transferId, _hashTransferRequest(request), requester, requestedAt);
        Actor memory officer = _signer(signer, Roles.TREASURY, deadline, signature, fields);
        _withdrawTransfer(officer, transferId, request, requester, requestedAt);
    }

    function _withdrawTransfer(
        Actor memory officer,
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) private {
        bytes32 ministry = request.from.ministry;
        _requireMember(officer, Roles.TREASURY, ministry);
        _takePending(transferId, request, requester, requestedAt);
        emit TransferWithdrawn(transferId, ministry, officer.account, requestedAt, uint64(block.timestamp));
    }

    /// @dev Removes pending transfer `transferId`, which must have exactly this content, requester and time.
    function _takePending(
        uint256 transferId,
        IBudgetLedger.TransferRequest calldata request,
        address requester,
        uint64 requestedAt
    ) private {
        bytes32 stored = _transfers[transferId];
        if (stored == bytes32(0) || stored != keccak256(abi.encode(request, requester, requestedAt))) {
            revert BudgetUnknownTransfer(transferId);
        }
        delete _transfers[transferId];
    }

    // ---------------------------------------------------------------- cross-ministry access

    /// @inheritdoc IBudgetOffice
    function grantAccess(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        AccessKind kind,
        uint256 cap,
        uint64 expiresAt
    ) external {
        _grantAccess(_caller(Roles.TREASURY), line, grantee, kind, cap, expiresAt);
    }

    /// @inheritdoc IBudgetOffice
    function grantAccessBySig(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        AccessKind kind,
        uint256 cap,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(_GRANT_ACCESS_TYPEHASH, _hashLineKey(line), grantee, kind, cap, expiresAt);
        _grantAccess(_signer(signer, Roles.TREASURY, deadline, signature, fields), line, grantee, kind, cap, expiresAt);
    }

    function _grantAccess(
        Actor memory officer,
        IBudgetLedger.LineKey calldata key,
        bytes32 grantee,
        AccessKind kind,
        uint256 cap,
        uint64 expiresAt
    ) private {
        _requireMember(officer, Roles.TREASURY, key.ministry);
        if (_ledger.fiscalYearClosed(key.fiscalYear)) revert IBudgetLedger.BudgetYearClosed(key.fiscalYear);
        uint32 series = _existingLine(key);
        bool validCap = kind == AccessKind.Obligate ? cap != 0 && cap <= type(uint56).max : kind == AccessKind.View && cap == 0;
        if (grantee == key.ministry || !validCap || expiresAt <= block.timestamp || expiresAt > type(uint40).max) {
            revert BudgetInvalidGrant(grantee, kind, cap, expiresAt);
        }
        if (_registry.organization(grantee).kind != IAccessRegistry.OrgKind.Ministry) {
            revert IBudgetLedger.BudgetUnknownMinistry(grantee);
        }
        GrantRecord storage g = _grants[series][key.fiscalYear][grantee];
        g.kind = kind;
        g.expiresAt = uint40(expiresAt);
        g.cap = uint64(cap);
        emit AccessGranted(series, key.fiscalYear, grantee, key.ministry, officer.account, kind, cap, g.used, expiresAt);
    }

    /// @inheritdoc IBudgetOffice
    function revokeAccess(IBudgetLedger.LineKey calldata line, bytes32 grantee) external {
        _revokeAccess(_caller(Roles.TREASURY), line, grantee);
    }

    /// @inheritdoc IBudgetOffice
    function revokeAccessBySig(
        IBudgetLedger.LineKey calldata line,
        bytes32 grantee,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(_REVOKE_ACCESS_TYPEHASH, _hashLineKey(line), grantee);
        _revokeAccess(_signer(signer, Roles.TREASURY, deadline, signature, fields), line, grantee);
    }

    function _revokeAccess(Actor memory officer, IBudgetLedger.LineKey calldata key, bytes32 grantee) private {
        _requireMember(officer, Roles.TREASURY, key.ministry);
        uint32 series = _existingLine(key);
        GrantRecord storage g = _grants[series][key.fiscalYear][grantee];
        if (g.kind == AccessKind.None || g.expiresAt <= block.timestamp) {
            revert BudgetAccessDenied(series, key.fiscalYear, grantee);
        }
        g.kind = AccessKind.None;
        g.expiresAt = 0;
        emit AccessRevoked(series, key.fiscalYear, grantee, key.ministry, officer.account);
    }

    /// @inheritdoc IBudgetOffice
    function useGrant(
        uint32 series,
        uint16 fiscalYear,
        bytes32 lineMinistry,
        bytes32 grantee,
        address escrow,
        uint256 amount
    ) external {
        _requireLedger();
        GrantRecord memory g = _grants[series][fiscalYear][grantee];
        if (g.kind != AccessKind.Obligate || block.timestamp >= g.expiresAt) {
            revert BudgetAccessDenied(series, fiscalYear, grantee);
        }
        // A grant renewed with a cap below what was already used leaves nothing (not an underflow).
        uint256 remaining = g.cap > g.used ? g.cap - g.used : 0;
        if (amount > remaining) revert BudgetGrantExceeded(series, fiscalYear, grantee, remaining, amount);
        // At most the cap (< 2^56).
        g.used += uint64(amount);
        _grants[series][fiscalYear][grantee] = g;
        emit AccessUsed(series, fiscalYear, grantee, lineMinistry, escrow, amount, g.used);
    }

    /// @dev The series of a line that exists.
    function _existingLine(IBudgetLedger.LineKey calldata key) private view returns (uint32 series) {
        IBudgetLedger.Line memory l = _ledger.line(key);
        if (!l.exists) revert IBudgetLedger.BudgetUnknownLine(key);
        return l.series;
    }

    // ---------------------------------------------------------------- multi-year authorities

    /// @inheritdoc IBudgetOffice
    function enactAuthority(bytes32 authorityId, AuthorityTerms calldata terms, bytes32 instrumentHash) external {
        _enactAuthority(_caller(Roles.FINANCE_AUTHORITY), authorityId, terms, instrumentHash);
    }

    /// @inheritdoc IBudgetOffice
    function enactAuthorityBySig(
        bytes32 authorityId,
        AuthorityTerms calldata terms,
        bytes32 instrumentHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 termsHash = keccak256(
            abi.encode(
                _AUTHORITY_TERMS_TYPEHASH,
                _hashLineKey(terms.line),
                terms.ceiling,
                keccak256(abi.encodePacked(terms.schedule))
            )
        );
        bytes memory fields = abi.encode(_ENACT_AUTHORITY_TYPEHASH, authorityId, termsHash, instrumentHash);
        Actor memory authority_ = _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _enactAuthority(authority_, authorityId, terms, instrumentHash);
    }

    function _enactAuthority(
        Actor memory authority_,
        bytes32 authorityId,
        AuthorityTerms calldata terms,
        bytes32 instrumentHash
    ) private {
        if (!authority_.active) {
            revert BudgetOfficeUnauthorized(authority_.account, Roles.FINANCE_AUTHORITY, authority_.org);
        }
        if (instrumentHash == bytes32(0)) revert BudgetOfficeMissingHash();
        IBudgetLedger.LineKey calldata key = terms.line;
        if (key.fiscalYear == 0 || key.organization == 0 || key.item == 0 || key.subItem == 0) {
            revert IBudgetLedger.BudgetInvalidKey(key.fiscalYear, key.organization, key.item, key.subItem);
        }
        if (_registry.organization(key.ministry).kind != IAccessRegistry.OrgKind.Ministry) {
            revert IBudgetLedger.BudgetUnknownMinistry(key.ministry);
        }
        if (_ledger.fiscalYearClosed(key.fiscalYear)) revert IBudgetLedger.BudgetYearClosed(key.fiscalYear);
        uint256 yearCount = terms.schedule.length;
        uint256 maxYears = key.ministry == _defenseMinistry ? MAX_DEFENSE_AUTHORITY_YEARS : MAX_AUTHORITY_YEARS;
        if (
            authorityId == bytes32(0) || _authorities[authorityId].lineCode != bytes32(0) || yearCount == 0
                || yearCount > maxYears || terms.ceiling == 0 || terms.ceiling > type(uint56).max
        ) revert BudgetInvalidAuthority(authorityId);
        _authorities[authorityId] = AuthorityRecord({
            lineCode: keccak256(abi.encode(key.ministry, key.organization, key.item, key.subItem)),
            firstYear: key.fiscalYear,
            yearCount: uint8(yearCount),
            ceiling: uint64(terms.ceiling),
            committed: 0
        });
        for (uint256 k = 0; k < yearCount; ++k) {
            uint256 amount = terms.schedule[k];
            if (amount > terms.ceiling) revert BudgetInvalidAuthority(authorityId);
            _schedules[authorityId][uint16(key.fiscalYear + k)].scheduled = uint64(amount);
        }
        emit AuthorityEnacted(authorityId, key.ministry, authority_.account, terms, instrumentHash);
    }

    /// @inheritdoc IBudgetOffice
    function commitSchedule(
        address escrow,
        bytes32 authorityId,
        bytes32 lineCode,
        uint256[] calldata amounts,
        uint64[] calldata dueDates
    ) external {
        _requireLedger();
        AuthorityRecord memory a = _authorities[authorityId];
        if (authorityId != bytes32(0) && a.lineCode != lineCode) revert BudgetUnknownAuthority(authorityId);
        uint256 nextYearStarts = FiscalYear.start(uint256(FiscalYear.containing(block.timestamp)) + 1);
        uint256[] memory parts = new uint256[](a.yearCount);
        uint256 total = 0;
        // The factory checked every amount (at most 2^58 - 1, 64 milestones at most): the sums fit 64 bits.
        for (uint256 i = 0; i < amounts.length; ++i) {
            if (dueDates[i] < nextYearStarts) continue;
            uint16 year = FiscalYear.containing(dueDates[i]);
            if (year < a.firstYear || year >= uint256(a.firstYear) + a.yearCount) {
                revert BudgetOutsideAuthority(authorityId, year);
            }
            parts[year - a.firstYear] += amounts[i];
            total += amounts[i];
        }
        if (total > a.ceiling - a.committed) revert BudgetExceedsCeiling(authorityId, a.ceiling - a.committed, total);
        _authorities[authorityId].committed = a.committed + uint64(total);
        _authorityOf[escrow] = authorityId;
        for (uint256 k = 0; k < parts.length; ++k) {
            uint256 part = parts[k];
            if (part == 0) continue;
            uint16 year = uint16(a.firstYear + k);
            ScheduleRecord memory s = _schedules[authorityId][year];
            if (part > s.scheduled - s.committed) {
                revert BudgetExceedsSchedule(authorityId, year, s.scheduled - s.committed, part);
            }
            s.committed += uint64(part);
            _schedules[authorityId][year] = s;
            _plans[escrow][year] = uint64(part);
            emit ObligationScheduled(escrow, authorityId, year, part, s.committed);
        }
    }

    /// @inheritdoc IBudgetOffice
    function takeSchedule(address escrow, uint16 fiscalYear) external returns (uint256 part) {
        _requireLedger();
        bytes32 authorityId = _authorityOf[escrow];
        AuthorityRecord memory a = _authorities[authorityId];
        for (uint16 year = a.firstYear; year <= fiscalYear && year < uint256(a.firstYear) + a.yearCount; ++year) {
            uint256 amount = _plans[escrow][year];
            if (amount == 0) continue;
            delete _plans[escrow][year];
            part += amount;
            emit ScheduleObligated(escrow, authorityId, year, amount);
        }
        if (part == 0) revert BudgetNothingScheduled(escrow, fiscalYear);
    }

    /// @inheritdoc IBudgetOffice
    function releaseSchedule(address escrow, uint256 excess) external returns (uint256 released) {
        _requireLedger();
        bytes32 authorityId = _authorityOf[escrow];
        AuthorityRecord memory a = _authorities[authorityId];
        for (uint256 k = a.yearCount; k > 0 && released < excess; --k) {
            uint16 year = uint16(a.firstYear + k - 1);
            uint256 amount = _plans[escrow][year];
            if (amount == 0) continue;
            uint256 cut = amount < excess - released ? amount : excess - released;
            _plans[escrow][year] = uint64(amount - cut);
            ScheduleRecord storage s = _schedules[authorityId][year];
            s.committed -= uint64(cut);
            released += cut;
            emit ScheduleReleased(escrow, authorityId, year, cut, s.committed);
        }
        _authorities[authorityId].committed = a.committed - uint64(released);
    }

    function _requireLedger() private view {
        if (msg.sender != address(_ledger)) revert BudgetOfficeUnauthorizedCaller(msg.sender);
    }

    // ---------------------------------------------------------------- signed forms of the ledger's acts

    /// @inheritdoc IBudgetOffice
    function enactAppropriationBySig(
        IBudgetLedger.ItemKey calldata key,
        IBudgetLedger.AppropriationAct act,
        int256 amount,
        uint8 authorizations,
        bytes32 instrumentHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes32 keyHash =
            keccak256(abi.encode(_ITEM_KEY_TYPEHASH, key.fiscalYear, key.ministry, key.organization, key.item));
        bytes memory fields =
            abi.encode(_ENACT_APPROPRIATION_TYPEHASH, keyHash, act, amount, authorizations, instrumentHash);
        _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _forward(
            abi.encodeCall(IBudgetLedger.enactAppropriation, (key, act, amount, authorizations, instrumentHash)), signer
        );
    }


    /// @inheritdoc IBudgetOffice
    function approveCarryOverBySig(
        IBudgetLedger.LineKey calldata line,
        IBudgetLedger.CarryOverKind kind,
        uint256 amount,
        bytes32 reasonHash,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(_APPROVE_CARRY_OVER_TYPEHASH, _hashLineKey(line), kind, amount, reasonHash);
        _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _forward(abi.encodeCall(IBudgetLedger.approveCarryOver, (line, kind, amount, reasonHash)), signer);
    }

    /// @inheritdoc IBudgetOffice
    function closeFiscalYearBySig(uint16 fiscalYear, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        bytes memory fields = abi.encode(_CLOSE_FISCAL_YEAR_TYPEHASH, fiscalYear);
        _signer(signer, Roles.FINANCE_AUTHORITY, deadline, signature, fields);
        _forward(abi.encodeCall(IBudgetLedger.closeFiscalYear, (fiscalYear)), signer);
    }

    /// @inheritdoc IBudgetOffice
    function distributeBySig(
        IBudgetLedger.LineKey calldata line,
        int256 change,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(_DISTRIBUTE_TYPEHASH, _hashLineKey(line), change);
        _signer(signer, Roles.TREASURY, deadline, signature, fields);
        _forward(abi.encodeCall(IBudgetLedger.distribute, (line, change)), signer);
    }



    /// @inheritdoc IBudgetOffice
    function increaseObligationBySig(
        address escrow,
        uint256 amount,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        bytes memory fields = abi.encode(_INCREASE_OBLIGATION_TYPEHASH, escrow, amount);
        _signer(signer, Roles.PROCUREMENT_OFFICER, deadline, signature, fields);
        _forward(abi.encodeCall(IBudgetLedger.increaseObligation, (escrow, amount)), signer);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IBudgetOffice
    function transferPending(uint256 transferId) external view returns (bool) {
        return _transfers[transferId] != bytes32(0);
    }

    /// @inheritdoc IBudgetOffice
    function transferCount() external view returns (uint256) {
        return _transferCount;
    }

    /// @inheritdoc IBudgetOffice
    function grant(IBudgetLedger.LineKey calldata line, bytes32 grantee) external view returns (Grant memory) {
        GrantRecord memory g = _grants[_ledger.seriesOf(line)][line.fiscalYear][grantee];
        return Grant(g.kind, g.expiresAt, g.cap, g.used);
    }

    /// @inheritdoc IBudgetOffice
    function authority(bytes32 authorityId)
        external
        view
        returns (bytes32 lineCode, uint16 firstYear, uint8 yearCount, uint256 ceiling, uint256 committed)
    {
        AuthorityRecord memory a = _authorities[authorityId];
        return (a.lineCode, a.firstYear, a.yearCount, a.ceiling, a.committed);
    }

    /// @inheritdoc IBudgetOffice
    function authorityYear(bytes32 authorityId, uint16 fiscalYear)
        external
        view
        returns (uint256 scheduled_, uint256 committed)
    {
        ScheduleRecord memory s = _schedules[authorityId][fiscalYear];
        return (s.scheduled, s.committed);
    }

    /// @inheritdoc IBudgetOffice
    function authorityOf(address escrow) external view returns (bytes32) {
        return _authorityOf[escrow];
    }

    /// @inheritdoc IBudgetOffice
    function scheduled(address escrow, uint16 fiscalYear) external view returns (uint256) {
        return _plans[escrow][fiscalYear];
    }

    /// @inheritdoc IBudgetOffice
    function defenseMinistry() external view returns (bytes32) {
        return _defenseMinistry;
    }

    /// @inheritdoc IBudgetOffice
    function ledger() external view returns (address) {
        return address(_ledger);
    }

    /// @inheritdoc IBudgetOffice
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    /// @dev Makes the ledger perform `call` as `signer`: the ledger reads the signer from the last 20 bytes of the
    /// call data of a call from this office. A revert comes back with the ledger's own custom error.
    function _forward(bytes memory call, address signer) private {
        Address.functionCall(address(_ledger), abi.encodePacked(call, signer));
    }

    function _requireMember(Actor memory actor, bytes32 role, bytes32 org) private pure {
        if (!actor.active || actor.org != org) revert BudgetOfficeUnauthorized(actor.account, role, org);
    }

    /// @dev The direct caller, with its status in `role` from the registry.
    function _caller(bytes32 role) private view returns (Actor memory) {
        (bytes32 org, bool active) = _registry.roleStatus(role, msg.sender);
        return Actor({account: msg.sender, org: org, active: active});
    }

    /// @dev The signer of a relayed act, with its status in `role`. Checks the deadline, consumes the signer's
    /// registry nonce (one registry call also reports the role status) and verifies the EIP-712 signature over
    /// `fields` (type hash and act fields, ABI-encoded) followed by nonce and deadline. A failed check reverts,
    /// which also un-consumes the nonce.
    function _signer(address signer, bytes32 role, uint256 deadline, bytes calldata signature, bytes memory fields)
        private
        returns (Actor memory)
    {
        if (block.timestamp > deadline) revert BudgetSignatureExpired(deadline, block.timestamp);
        (uint256 nonce, bytes32 org, bool active) = _registry.useBudgetNonce(signer, role);
        bytes32 digest = _hashTypedDataV4(keccak256(bytes.concat(fields, abi.encode(nonce, deadline))));
        (address recovered, ECDSA.RecoverError error_,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error_ != ECDSA.RecoverError.NoError || recovered != signer || signer == address(0)) {
            revert BudgetInvalidSignature(signer);
        }
        emit SignatureUsed(signer, msg.sender, nonce);
        return Actor({account: signer, org: org, active: active});
    }

    function _hashLineKey(IBudgetLedger.LineKey calldata key) private pure returns (bytes32) {
        return keccak256(
            abi.encode(_LINE_KEY_TYPEHASH, key.fiscalYear, key.ministry, key.organization, key.item, key.subItem)
        );
    }

    function _hashTransferRequest(IBudgetLedger.TransferRequest calldata request) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                _TRANSFER_REQUEST_TYPEHASH,
                _hashLineKey(request.from),
                _hashLineKey(request.to),
                request.amount,
                request.rationaleHash
            )
        );
    }
}
