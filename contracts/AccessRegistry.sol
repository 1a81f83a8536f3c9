// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IBudgetLedger} from "./interfaces/IBudgetLedger.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title AccessRegistry
/// @notice Organizations, their accounts and roles; the permission root every other contract asks.
/// @dev The registry admin (DEFAULT_ADMIN_ROLE) registers organizations, binds accounts and grants every
/// role; a ministry admin may also grant and revoke the officer and treasury roles inside its own ministry.
contract AccessRegistry is AccessControl, EIP712, IAccessRegistry {
    /// @dev An account's organization, roles and EIP-712 nonce in one slot, so that a role check costs one
    /// storage read plus one for the organization's status, and consuming a nonce never writes a fresh slot.
    /// Role bits: see `_roleBit`. Organization ids keep their significant bytes in the high 16 (codes are
    /// at most 16 ASCII characters), so bytes16 holds them. The nonce survives unbinding, so that a
    /// rebound account's old signatures can never be replayed.
    struct AccountRecord {
        bytes16 org;
        uint16 roles;
        uint64 nonce;
    }

    /// @dev The most nonces one call of {invalidateNonces} may use up (so that a nonce never runs out).
    uint256 private constant _MAX_NONCE_SKIP = 1_000_000;

    bytes32 private constant _INVALIDATE_NONCES_TYPEHASH =
        keccak256("InvalidateNonces(uint256 newNonce,uint256 nonce,uint256 deadline)");
    bytes32 private constant _UPDATE_ORGANIZATION_TYPEHASH =
        keccak256("UpdateOrganization(bytes32 orgId,bool active,address vault,uint256 nonce,uint256 deadline)");
    bytes32 private constant _BIND_ACCOUNT_TYPEHASH =
        keccak256("BindAccount(address account,bytes32 orgId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _UNBIND_ACCOUNT_TYPEHASH =
        keccak256("UnbindAccount(address account,uint256 nonce,uint256 deadline)");
    bytes32 private constant _GRANT_ROLE_TYPEHASH =
        keccak256("GrantRole(bytes32 role,address account,uint256 nonce,uint256 deadline)");
    bytes32 private constant _REVOKE_ROLE_TYPEHASH =
        keccak256("RevokeRole(bytes32 role,address account,uint256 nonce,uint256 deadline)");
    uint16 private constant _ADMIN_BIT = 1 << 1;
    uint16 private constant _OFFICER_BIT = 1 << 2;
    uint16 private constant _TREASURY_BIT = 1 << 3;

    mapping(bytes32 orgId => Organization) private _organizations;
    mapping(address account => AccountRecord) private _accounts;
    mapping(bytes32 procurementKey => address escrow) private _escrowOf;
    address private _factory;
    address private _budget;
    address private _budgetOffice;

    /// @dev Length of the EIP-1167 clone code that precedes the immutable arguments.
    uint256 private constant _CLONE_CODE_LENGTH = 45;

    /// @param admin The registry admin: registers organizations, binds accounts, grants roles.
    constructor(address admin) EIP712("ProcurementRegistry", "1") {
        if (admin == address(0)) revert RegistryInvalidAccount(admin);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setRoleAdmin(Roles.PROCUREMENT_OFFICER, Roles.MINISTRY_ADMIN);
        _setRoleAdmin(Roles.TREASURY, Roles.MINISTRY_ADMIN);
    }

    // ---------------------------------------------------------------- organizations and accounts

    /// @inheritdoc IAccessRegistry
    function registerOrganization(bytes32 orgId, OrgKind kind, string calldata name)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (orgId == bytes32(0) || bytes32(bytes16(orgId)) != orgId || _organizations[orgId].kind != OrgKind.None) {
            revert RegistryInvalidOrganization(orgId);
        }
        if (kind == OrgKind.None) revert RegistryInvalidKind(kind);
        _organizations[orgId] = Organization({kind: kind, active: true, vault: address(0)});
        emit OrganizationRegistered(orgId, kind, address(0), name);
    }

    /// @inheritdoc IAccessRegistry
    function updateOrganization(bytes32 orgId, bool active, address vault) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _updateOrganization(orgId, active, vault);
    }

    /// @inheritdoc IAccessRegistry
    function updateOrganizationBySig(
        bytes32 orgId,
        bool active,
        address vault,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(signer, deadline, signature, abi.encode(_UPDATE_ORGANIZATION_TYPEHASH, orgId, active, vault));
        _checkRole(DEFAULT_ADMIN_ROLE, signer);
        _updateOrganization(orgId, active, vault);
    }

    function _updateOrganization(bytes32 orgId, bool active, address vault) private {
        Organization storage org = _requireOrganization(orgId);
        // A ministry always names a vault of its own, so clearing it by mistake cannot strand its refunds.
        bool valid = org.kind == OrgKind.Ministry ? vault != address(0) && _orgOf(vault) == orgId : vault == address(0);
        if (!valid) revert RegistryInvalidVault(orgId, vault);
        org.active = active;
        org.vault = vault;
        emit OrganizationUpdated(orgId, active, vault);
    }

    /// @inheritdoc IAccessRegistry
    function bindAccount(address account, bytes32 orgId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _bindAccount(account, orgId, _msgSender());
    }

    /// @inheritdoc IAccessRegistry
    function bindAccountBySig(
        address account,
        bytes32 orgId,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(signer, deadline, signature, abi.encode(_BIND_ACCOUNT_TYPEHASH, account, orgId));
        _checkRole(DEFAULT_ADMIN_ROLE, signer);
        _bindAccount(account, orgId, signer);
    }

    function _bindAccount(address account, bytes32 orgId, address sender) private {
        if (account == address(0) || _isEscrow(account)) revert RegistryInvalidAccount(account);
        _requireOrganization(orgId);
        bytes32 current = _orgOf(account);
        if (current != bytes32(0)) revert RegistryAccountAlreadyBound(account, current);
        _accounts[account].org = bytes16(orgId);
        emit AccountBound(account, orgId, sender);
    }

    /// @inheritdoc IAccessRegistry
    function unbindAccount(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unbindAccount(account, _msgSender());
    }

    /// @inheritdoc IAccessRegistry
    function unbindAccountBySig(address account, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _useSignature(signer, deadline, signature, abi.encode(_UNBIND_ACCOUNT_TYPEHASH, account));
        _checkRole(DEFAULT_ADMIN_ROLE, signer);
        _unbindAccount(account, signer);
    }

    function _unbindAccount(address account, address sender) private {
        bytes32 orgId = _orgOf(account);
        if (orgId == bytes32(0)) revert RegistryAccountNotBound(account);
        uint256 count = roleCount(account);
        if (count != 0 || _organizations[orgId].vault == account) revert RegistryAccountInUse(account, count);
        _accounts[account].org = bytes16(0);
        emit AccountUnbound(account, orgId, sender);
    }

    // ---------------------------------------------------------------- escrows and nonces

    /// @inheritdoc IAccessRegistry
    function setFactory(address factory_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_factory != address(0) || factory_ == address(0)) revert RegistryUnauthorizedFactory(factory_);
        _factory = factory_;
        emit FactorySet(factory_);
    }

    /// @inheritdoc IAccessRegistry
    function setBudget(address budget_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_budget != address(0) || budget_ == address(0)) revert RegistryUnauthorizedBudget(budget_);
        address office = IBudgetLedger(budget_).office();
        _budget = budget_;
        _budgetOffice = office;
        emit BudgetSet(budget_, office);
    }

    /// @inheritdoc IAccessRegistry
    function registerEscrow(bytes32 ministryOrg, bytes32 procurementId, address escrow) external {
        if (_msgSender() != _factory) revert RegistryUnauthorizedFactory(_msgSender());
        bytes32 key = _procurementKey(ministryOrg, procurementId);
        address existing = _escrowOf[key];
        if (procurementId == bytes32(0) || existing != address(0)) {
            revert RegistryDuplicateProcurement(ministryOrg, procurementId, existing);
        }
        // An account's yen could reach the escrow by plain transfers, breaking its books.
        bytes32 boundTo = _orgOf(escrow);
        if (boundTo != bytes32(0)) revert RegistryEscrowAddressBound(escrow, boundTo);
        _escrowOf[key] = escrow;
        emit EscrowRegistered(ministryOrg, procurementId, escrow);
    }

    /// @inheritdoc IAccessRegistry
    function useNonce(address signer, bytes32 ministryOrg, bytes32 procurementId, bytes32 role)
        external
        returns (uint256 nonce, bytes32 orgId, bool active)
    {
        if (procurementId == bytes32(0) || _escrowOf[_procurementKey(ministryOrg, procurementId)] != _msgSender()) {
            revert RegistryUnauthorizedEscrow(_msgSender());
        }
        // The escrow reports the use in its SignatureUsed event, in the same transaction.
        AccountRecord memory record = _accounts[signer];
        nonce = record.nonce;
        _accounts[signer].nonce = record.nonce + 1;
        (orgId, active) = _roleStatus(record, role);
    }

    /// @inheritdoc IAccessRegistry
    function useBudgetNonce(address signer, bytes32 role) external returns (uint256 nonce, bytes32 orgId, bool active) {
        if (_msgSender() != _budgetOffice) revert RegistryUnauthorizedBudget(_msgSender());
        // The budget office reports the use in its SignatureUsed event, in the same transaction.
        AccountRecord memory record = _accounts[signer];
        nonce = record.nonce;
        _accounts[signer].nonce = record.nonce + 1;
        (orgId, active) = _roleStatus(record, role);
    }

    /// @inheritdoc IAccessRegistry
    function invalidateNonces(uint256 newNonce) external {
        _invalidateNonces(_msgSender(), newNonce);
    }

    /// @inheritdoc IAccessRegistry
    function invalidateNoncesBySig(uint256 newNonce, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        uint256 nonce = _accounts[signer].nonce;
        bytes32 structHash = keccak256(abi.encode(_INVALIDATE_NONCES_TYPEHASH, newNonce, nonce, deadline));
        _requireSignature(signer, deadline, signature, structHash);
        _invalidateNonces(signer, newNonce);
    }

    function _invalidateNonces(address signer, uint256 newNonce) private {
        uint256 current = _accounts[signer].nonce;
        if (newNonce <= current || newNonce - current > _MAX_NONCE_SKIP) {
            revert RegistryInvalidNonce(signer, current, newNonce);
        }
        _accounts[signer].nonce = uint64(newNonce);
        emit NoncesInvalidated(signer, current, newNonce, _msgSender());
    }

    /// @dev Checks `signer`'s EIP-712 signature of a registry act (`fields`: its type hash and fields, ABI-encoded;
    /// the signer's current nonce and `deadline` follow) and consumes the nonce, reported in SignatureUsed.
    function _useSignature(address signer, uint256 deadline, bytes calldata signature, bytes memory fields) private {
        uint64 nonce = _accounts[signer].nonce;
        _requireSignature(signer, deadline, signature, keccak256(bytes.concat(fields, abi.encode(nonce, deadline))));
        _accounts[signer].nonce = nonce + 1;
        emit SignatureUsed(signer, _msgSender(), nonce);
    }

    /// @dev Reverts unless `signature` is `signer`'s of `structHash` in the registry's domain, before `deadline`.
    function _requireSignature(address signer, uint256 deadline, bytes calldata signature, bytes32 structHash)
        private
        view
    {
        if (block.timestamp > deadline) revert RegistrySignatureExpired(deadline, block.timestamp);
        bytes32 digest = _hashTypedDataV4(structHash);
        (address recovered, ECDSA.RecoverError error_,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error_ != ECDSA.RecoverError.NoError || recovered != signer || signer == address(0)) {
            revert RegistryInvalidSignature(signer);
        }
    }

    /// @dev Procurement ids are scoped by ministry: two ministries may use the same id.
    function _procurementKey(bytes32 ministryOrg, bytes32 procurementId) private pure returns (bytes32) {
        return keccak256(abi.encode(ministryOrg, procurementId));
    }

    // ---------------------------------------------------------------- role administration

    /// @notice Grants `role` to `account`. The role's admin, or the registry admin; a ministry admin only
    /// inside its own active ministry; never to the caller itself.
    function grantRole(bytes32 role, address account) public override(AccessControl, IAccessControl) {
        address sender = _msgSender();
        _authorizeRoleChange(sender, role, account);
        if (account == sender) revert RegistrySelfGrant(account, role);
        _grantRole(role, account, sender);
    }

    /// @inheritdoc IAccessRegistry
    function grantRoleBySig(bytes32 role, address account, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _useSignature(signer, deadline, signature, abi.encode(_GRANT_ROLE_TYPEHASH, role, account));
        _authorizeRoleChange(signer, role, account);
        // Neither the signer nor the relayer that sends its signature: a relayer holding a role breaks relaying.
        if (account == signer || account == _msgSender()) revert RegistrySelfGrant(account, role);
        _grantRole(role, account, signer);
    }

    /// @notice Revokes `role` from `account`, under the same rule as {grantRole}.
    function revokeRole(bytes32 role, address account) public override(AccessControl, IAccessControl) {
        address sender = _msgSender();
        _authorizeRoleChange(sender, role, account);
        _revokeRole(role, account, sender);
    }

    /// @inheritdoc IAccessRegistry
    function revokeRoleBySig(bytes32 role, address account, address signer, uint256 deadline, bytes calldata signature)
        external
    {
        _useSignature(signer, deadline, signature, abi.encode(_REVOKE_ROLE_TYPEHASH, role, account));
        _authorizeRoleChange(signer, role, account);
        _revokeRole(role, account, signer);
    }

    function _authorizeRoleChange(address sender, bytes32 role, address account) private view {
        if (hasRole(DEFAULT_ADMIN_ROLE, sender)) return;
        bytes32 adminRole = getRoleAdmin(role);
        if (adminRole != Roles.MINISTRY_ADMIN) revert AccessControlUnauthorizedAccount(sender, adminRole);
        bytes32 orgId = _orgOf(sender);
        if (!hasRoleIn(Roles.MINISTRY_ADMIN, sender, orgId)) {
            revert AccessControlUnauthorizedAccount(sender, adminRole);
        }
        if (_orgOf(account) != orgId) revert RegistryCrossOrganizationGrant(sender, account, role);
    }

    /// @dev Roles live in the account record, not in AccessControl's own mapping; AccessControl still
    /// provides role admins, `onlyRole` and the RoleGranted/RoleRevoked events.
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        return _grantRole(role, account, _msgSender());
    }

    function _grantRole(bytes32 role, address account, address sender) private returns (bool) {
        if (role != DEFAULT_ADMIN_ROLE) {
            bytes32 orgId = _orgOf(account);
            if (orgId == bytes32(0)) revert RegistryAccountNotBound(account);
            OrgKind kind = _organizations[orgId].kind;
            if (kind != _kindFor(role)) revert RegistryRoleKindMismatch(account, role, kind);
        } else if (account == address(0)) {
            revert RegistryInvalidAccount(account);
        }
        if (hasRole(role, account)) return false;
        uint16 held = _accounts[account].roles;
        // Segregation of duties: whoever grants officers and treasurers is neither.
        if (role == Roles.MINISTRY_ADMIN && held & (_OFFICER_BIT | _TREASURY_BIT) != 0) {
            bytes32 heldRole = held & _OFFICER_BIT != 0 ? Roles.PROCUREMENT_OFFICER : Roles.TREASURY;
            revert RegistryIncompatibleRoles(account, role, heldRole);
        }
        if ((role == Roles.PROCUREMENT_OFFICER || role == Roles.TREASURY) && held & _ADMIN_BIT != 0) {
            revert RegistryIncompatibleRoles(account, role, Roles.MINISTRY_ADMIN);
        }
        _accounts[account].roles = held | _roleBit(role);
        emit RoleGranted(role, account, sender);
        return true;
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool) {
        return _revokeRole(role, account, _msgSender());
    }

    function _revokeRole(bytes32 role, address account, address sender) private returns (bool) {
        if (!hasRole(role, account)) return false;
        _accounts[account].roles &= ~_roleBit(role);
        emit RoleRevoked(role, account, sender);
        return true;
    }

    /// @notice True if `account` holds `role` (whatever the state of its organization).
    function hasRole(bytes32 role, address account) public view override(AccessControl, IAccessControl) returns (bool) {
        return _accounts[account].roles & _roleBit(role) != 0;
    }

    /// @dev The bit of `role` in an account record; zero for unknown roles. The roles escrows ask for on every
    /// action come first.
    function _roleBit(bytes32 role) private pure returns (uint16) {
        if (role == Roles.EVALUATOR) return 1 << 5;
        if (role == Roles.SUPPLIER) return 1 << 4;
        if (role == Roles.PROCUREMENT_OFFICER) return _OFFICER_BIT;
        if (role == DEFAULT_ADMIN_ROLE) return 1;
        if (role == Roles.MINISTRY_ADMIN) return _ADMIN_BIT;
        if (role == Roles.TREASURY) return _TREASURY_BIT;
        if (role == Roles.REVIEW_BODY) return 1 << 6;
        if (role == Roles.AUDITOR) return 1 << 7;
        if (role == Roles.FINANCE_AUTHORITY) return 1 << 8;
        return 0;
    }

    function _orgOf(address account) private view returns (bytes32) {
        return bytes32(_accounts[account].org);
    }

    /// @dev The one organization kind whose accounts may hold `role`; `None` for unknown roles, which
    /// therefore can never be granted.
    function _kindFor(bytes32 role) private pure returns (OrgKind) {
        if (role == Roles.MINISTRY_ADMIN || role == Roles.PROCUREMENT_OFFICER || role == Roles.TREASURY) {
            return OrgKind.Ministry;
        }
        if (role == Roles.SUPPLIER) return OrgKind.Supplier;
        if (role == Roles.EVALUATOR) return OrgKind.EvaluationBody;
        if (role == Roles.REVIEW_BODY) return OrgKind.ReviewBody;
        if (role == Roles.AUDITOR) return OrgKind.AuditBody;
        if (role == Roles.FINANCE_AUTHORITY) return OrgKind.FinanceAuthority;
        return OrgKind.None;
    }

    function _requireOrganization(bytes32 orgId) private view returns (Organization storage org) {
        org = _organizations[orgId];
        if (org.kind == OrgKind.None) revert RegistryUnknownOrganization(orgId);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAccessRegistry
    function organization(bytes32 orgId) external view returns (Organization memory) {
        return _organizations[orgId];
    }

    /// @inheritdoc IAccessRegistry
    function organizationOf(address account) external view returns (bytes32) {
        return _orgOf(account);
    }

    /// @inheritdoc IAccessRegistry
    function hasActiveRole(bytes32 role, address account) public view returns (bool) {
        (, bool active) = roleStatus(role, account);
        return active;
    }

    /// @inheritdoc IAccessRegistry
    function hasRoleIn(bytes32 role, address account, bytes32 orgId) public view returns (bool) {
        (bytes32 actual, bool active) = roleStatus(role, account);
        return active && actual == orgId;
    }

    /// @inheritdoc IAccessRegistry
    function roleStatus(bytes32 role, address account) public view returns (bytes32 orgId, bool active) {
        return _roleStatus(_accounts[account], role);
    }

    function _roleStatus(AccountRecord memory record, bytes32 role) private view returns (bytes32 orgId, bool active) {
        orgId = bytes32(record.org);
        active = record.roles & _roleBit(role) != 0 && orgId != bytes32(0) && _organizations[orgId].active;
    }

    /// @inheritdoc IAccessRegistry
    function holderStatus(address holder) external view returns (bool allowed, bool isEscrow) {
        bytes32 orgId = _orgOf(holder);
        if (orgId != bytes32(0)) return (_organizations[orgId].active, false);
        isEscrow = _isEscrow(holder);
        return (isEscrow, isEscrow);
    }

    /// @inheritdoc IAccessRegistry
    function procurementOf(address escrow) public view returns (bytes32 procurementId) {
        // An escrow is an EIP-1167 clone whose immutable arguments start with its procurement id and then its
        // ministry's 16-byte id (see MilestoneEscrow).
        if (escrow.code.length < _CLONE_CODE_LENGTH + 48) return bytes32(0);
        bytes memory args = Clones.fetchCloneArgs(escrow);
        bytes32 ministryOrg;
        // The two leading fields of the packed arguments; Solidity has no cheaper way to slice `bytes memory`.
        assembly ("memory-safe") {
            procurementId := mload(add(args, 0x20))
            ministryOrg := and(mload(add(args, 0x40)), not(0xffffffffffffffffffffffffffffffff))
        }
        if (_escrowOf[_procurementKey(ministryOrg, procurementId)] != escrow) return bytes32(0);
    }

    function _isEscrow(address account) private view returns (bool) {
        return procurementOf(account) != bytes32(0);
    }

    /// @inheritdoc IAccessRegistry
    function escrowOf(bytes32 ministryOrg, bytes32 procurementId) external view returns (address) {
        return _escrowOf[_procurementKey(ministryOrg, procurementId)];
    }

    /// @inheritdoc IAccessRegistry
    function factory() external view returns (address) {
        return _factory;
    }

    /// @inheritdoc IAccessRegistry
    function budget() external view returns (address) {
        return _budget;
    }

    /// @inheritdoc IAccessRegistry
    function nonces(address signer) external view returns (uint256) {
        return _accounts[signer].nonce;
    }

    /// @inheritdoc IAccessRegistry
    function roleCount(address account) public view returns (uint256 count) {
        for (uint256 roles = _accounts[account].roles; roles != 0; roles &= roles - 1) ++count;
    }
}
