// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title IAccessRegistry
/// @notice The permission root of the ledger: organizations, the accounts bound to them, and their roles.
/// Every other contract asks this registry; Besu's on-chain permissioning is gone, so permissions live here.
/// @dev Roles are OpenZeppelin AccessControl roles (see `Roles`); a role can only be granted to an account
/// bound to an organization of the matching kind, and a role held inside a deactivated organization counts
/// as not held. No account grants a role to itself, and a ministry admin never holds the officer or treasury
/// role (nor the other way round). Procurement ids are scoped by the buying ministry: the escrow of a
/// procurement is registered under (ministry, procurement id).
///
/// The registry also holds every signer's EIP-712 nonce (shared by all escrows). A signer withdraws its
/// outstanding signatures by using up nonces, directly or by a signature under the registry's own EIP-712
/// domain (name "ProcurementRegistry", version "1", the chain id and this registry's address).
interface IAccessRegistry is IAccessControl {
    /// @notice The kinds of organization; each role belongs to exactly one kind.
    enum OrgKind {
        None,
        Ministry,
        Supplier,
        EvaluationBody,
        ReviewBody,
        AuditBody,
        FinanceAuthority
    }

    /// @notice An organization as stored.
    /// @param kind What the organization is; fixes which roles its accounts may hold.
    /// @param active False once deactivated: its accounts then count as holding no role.
    /// @param vault The account that receives refunds (ministries); zero for other kinds.
    struct Organization {
        OrgKind kind;
        bool active;
        address vault;
    }

    /// @notice The organization id is zero, already taken, or uses more than its first 16 bytes.
    error RegistryInvalidOrganization(bytes32 orgId);
    /// @notice No organization has this id.
    error RegistryUnknownOrganization(bytes32 orgId);
    /// @notice The organization kind is `None`.
    error RegistryInvalidKind(OrgKind kind);
    /// @notice A ministry's vault must be an account bound to the ministry itself (never zero); other kinds of
    /// organization have none.
    error RegistryInvalidVault(bytes32 orgId, address vault);
    /// @notice The account is the zero address.
    error RegistryInvalidAccount(address account);
    /// @notice The account is already bound to an organization.
    error RegistryAccountAlreadyBound(address account, bytes32 orgId);
    /// @notice The account is bound to no organization.
    error RegistryAccountNotBound(address account);
    /// @notice The account still holds roles, or is a ministry vault, and cannot be unbound.
    error RegistryAccountInUse(address account, uint256 roleCount);
    /// @notice The role cannot be held by an account of this kind of organization.
    error RegistryRoleKindMismatch(address account, bytes32 role, OrgKind kind);
    /// @notice A ministry admin may only grant or revoke roles inside its own ministry.
    error RegistryCrossOrganizationGrant(address admin, address account, bytes32 role);
    /// @notice The escrow factory was already set, or the caller is not the factory.
    error RegistryUnauthorizedFactory(address caller);
    /// @notice The procurement id is zero or already has an escrow in this ministry.
    error RegistryDuplicateProcurement(bytes32 ministryOrg, bytes32 procurementId, address existing);
    /// @notice The escrow's address is bound as an account (tokens could then reach it by plain transfers).
    error RegistryEscrowAddressBound(address escrow, bytes32 orgId);
    /// @notice No account grants a role to itself.
    error RegistrySelfGrant(address account, bytes32 role);
    /// @notice `account` holds `heldRole`, which may not be combined with `role` (ministry admin with officer
    /// or treasury).
    error RegistryIncompatibleRoles(address account, bytes32 role, bytes32 heldRole);
    /// @notice The new nonce must be above the signer's current one, by at most 1,000,000.
    error RegistryInvalidNonce(address signer, uint256 current, uint256 newNonce);
    /// @notice The signature's deadline has passed.
    error RegistrySignatureExpired(uint256 deadline, uint256 nowTime);
    /// @notice The signature does not recover to `signer` for the signer's current nonce on this registry.
    error RegistryInvalidSignature(address signer);
    /// @notice Only a registered escrow may consume signature nonces.
    error RegistryUnauthorizedEscrow(address caller);
    /// @notice The budget ledger was already set, or the caller is not the budget office.
    error RegistryUnauthorizedBudget(address caller);

    /// @notice An organization was registered.
    event OrganizationRegistered(bytes32 indexed orgId, OrgKind kind, address vault, string name);
    /// @notice An organization was activated or deactivated, or its vault changed.
    event OrganizationUpdated(bytes32 indexed orgId, bool active, address vault);
    /// @notice An account was bound to an organization.
    event AccountBound(address indexed account, bytes32 indexed orgId, address indexed sender);
    /// @notice An account was released from its organization.
    event AccountUnbound(address indexed account, bytes32 indexed orgId, address indexed sender);
    /// @notice The escrow factory was set (once).
    event FactorySet(address indexed factory);
    /// @notice The budget ledger and its office were set (once).
    event BudgetSet(address indexed budget, address indexed office);
    /// @notice The factory registered a new escrow for a procurement of `ministryOrg`.
    event EscrowRegistered(bytes32 indexed ministryOrg, bytes32 indexed procurementId, address indexed escrow);
    /// @notice `signer`'s nonces from `firstNonce` up to (not including) `newNonce` were used up without an
    /// action: every signature made with them is void. `sender` sent the transaction (the signer, or a relayer
    /// of its signed request).
    event NoncesInvalidated(address indexed signer, uint256 firstNonce, uint256 newNonce, address sender);
    /// @notice A signed registry act was relayed and the signer's nonce `nonce` consumed; the act's own event
    /// follows in the same transaction, naming the signer as its sender.
    event SignatureUsed(address indexed signer, address relayer, uint256 nonce);

    /// @notice Registers an organization. Only the registry admin (DEFAULT_ADMIN_ROLE).
    /// @param orgId Short code of at most 16 bytes, left-aligned, e.g. bytes32("MOD") or bytes32("MOFA").
    /// @param kind What the organization is.
    /// @param name Human-readable name, kept in the event only.
    function registerOrganization(bytes32 orgId, OrgKind kind, string calldata name) external;

    /// @notice Activates or deactivates an organization and sets its vault. Only the registry admin.
    /// @param vault For a ministry: an account bound to it that receives refunds (required); zero otherwise.
    function updateOrganization(bytes32 orgId, bool active, address vault) external;

    /// @notice Like {updateOrganization}, signed by the registry admin `signer`: EIP-712 type
    /// `UpdateOrganization(bytes32 orgId,bool active,address vault,uint256 nonce,uint256 deadline)` with the
    /// signer's current nonce (consumed, reported in SignatureUsed).
    function updateOrganizationBySig(
        bytes32 orgId,
        bool active,
        address vault,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Binds an account to an organization. Only the registry admin.
    function bindAccount(address account, bytes32 orgId) external;

    /// @notice Like {bindAccount}, signed by the registry admin `signer`: EIP-712 type
    /// `BindAccount(address account,bytes32 orgId,uint256 nonce,uint256 deadline)`.
    function bindAccountBySig(address account, bytes32 orgId, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Releases an account that holds no role from its organization. Only the registry admin.
    function unbindAccount(address account) external;

    /// @notice Like {unbindAccount}, signed by the registry admin `signer`: EIP-712 type
    /// `UnbindAccount(address account,uint256 nonce,uint256 deadline)`.
    function unbindAccountBySig(address account, address signer, uint256 deadline, bytes calldata signature) external;

    /// @notice Like {grantRole}, signed by `signer` (the registry admin, or a ministry admin for its own
    /// ministry's officers and treasurers): EIP-712 type
    /// `GrantRole(bytes32 role,address account,uint256 nonce,uint256 deadline)`. Never to the signer, nor to
    /// the relayer that sends it.
    function grantRoleBySig(bytes32 role, address account, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Like {revokeRole}, signed by `signer` under the same rule as {grantRoleBySig}: EIP-712 type
    /// `RevokeRole(bytes32 role,address account,uint256 nonce,uint256 deadline)`.
    function revokeRoleBySig(bytes32 role, address account, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice Sets the escrow factory, once. Only the registry admin.
    function setFactory(address factory_) external;

    /// @notice Sets the budget ledger, once, and with it its office (which consumes nonces of signed budget acts).
    /// Only the registry admin. The token mints and burns only through the ledger.
    function setBudget(address budget_) external;

    /// @notice Records a new escrow for a procurement of `ministryOrg`. Only the factory. Refused if the
    /// escrow's address is bound as an account.
    function registerEscrow(bytes32 ministryOrg, bytes32 procurementId, address escrow) external;

    /// @notice Consumes `signer`'s current nonce and returns it, with the signer's status in `role` (as
    /// {roleStatus}). Only the registered escrow of (`ministryOrg`, `procurementId`), which reports the use in
    /// its SignatureUsed event.
    function useNonce(address signer, bytes32 ministryOrg, bytes32 procurementId, bytes32 role)
        external
        returns (uint256 nonce, bytes32 orgId, bool active);

    /// @notice Consumes `signer`'s current nonce for a signed budget act and returns it, with the signer's status
    /// in `role` (as {roleStatus}). Only the budget office, which reports the use in its SignatureUsed event.
    function useBudgetNonce(address signer, bytes32 role) external returns (uint256 nonce, bytes32 orgId, bool active);

    /// @notice Uses up the caller's nonces below `newNonce` (at least its current one): every signature the
    /// caller made with them can no longer be relayed.
    function invalidateNonces(uint256 newNonce) external;

    /// @notice Like {invalidateNonces}, signed by `signer`: EIP-712 type
    /// `InvalidateNonces(uint256 newNonce,uint256 nonce,uint256 deadline)` with the signer's current nonce.
    function invalidateNoncesBySig(uint256 newNonce, address signer, uint256 deadline, bytes calldata signature)
        external;

    /// @notice The organization record.
    function organization(bytes32 orgId) external view returns (Organization memory);

    /// @notice The organization `account` is bound to, zero if none.
    function organizationOf(address account) external view returns (bytes32);

    /// @notice True if `account` holds `role` and its organization is active.
    function hasActiveRole(bytes32 role, address account) external view returns (bool);

    /// @notice True if `account` holds `role`, is bound to `orgId`, and `orgId` is active.
    function hasRoleIn(bytes32 role, address account, bytes32 orgId) external view returns (bool);

    /// @notice The account's organization and whether it holds `role` there while the organization is active.
    function roleStatus(bytes32 role, address account) external view returns (bytes32 orgId, bool active);

    /// @notice Whether `holder` may hold yen deposit tokens (an account of an active organization, or an
    /// escrow), and whether it is an escrow.
    function holderStatus(address holder) external view returns (bool allowed, bool isEscrow);

    /// @notice The procurement id of a registered escrow, zero if `escrow` is not one.
    /// @dev An escrow carries its procurement id and ministry in its clone arguments; it is an escrow exactly
    /// when the registry's record for that pair points back at it, so no per-escrow storage is needed.
    function procurementOf(address escrow) external view returns (bytes32);

    /// @notice The escrow of a procurement of `ministryOrg`, zero if none.
    function escrowOf(bytes32 ministryOrg, bytes32 procurementId) external view returns (address);

    /// @notice The escrow factory.
    function factory() external view returns (address);

    /// @notice The budget ledger (zero until set).
    function budget() external view returns (address);

    /// @notice The next EIP-712 nonce `signer` must sign with (shared by every escrow).
    function nonces(address signer) external view returns (uint256);

    /// @notice How many roles `account` holds.
    function roleCount(address account) external view returns (uint256);
}
