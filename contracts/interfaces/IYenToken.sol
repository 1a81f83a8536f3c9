// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title IYenToken
/// @notice A permissioned yen deposit token: 0 decimals (yen has no minor unit), minted by the treasury against a
/// named appropriation, held only by accounts of active organizations and by procurement escrows.
interface IYenToken is IERC20, IERC20Permit {
    /// @notice The caller does not hold the treasury role (or is not the budget ledger, for a burn).
    error YenTokenUnauthorizedMinter(address caller);
    /// @notice Tokens may only be held by accounts of active organizations and by escrows.
    error YenTokenUnauthorizedHolder(address holder);
    /// @notice An escrow receives tokens only when it pulls them itself (funding) or from the factory.
    error YenTokenDirectTransferToEscrow(address escrow, address sender);
    /// @notice The appropriation id is zero, or the amount is zero.
    error YenTokenInvalidMint(bytes32 appropriationId, uint256 amount);

    /// @notice The treasury minted `amount` yen to `to` against `appropriationId`.
    event Minted(bytes32 indexed appropriationId, address indexed to, address indexed treasury, uint256 amount);
    /// @notice The budget ledger burned `amount` yen `from` returned to `appropriationId`.
    event Burned(bytes32 indexed appropriationId, address indexed from, address indexed budget, uint256 amount);

    /// @notice Mints `amount` yen to `to` against a named appropriation line. Only the treasury role.
    /// @param appropriationId Identifier of the budget line, e.g. keccak256("FY2026/MOD/general/weapons").
    function mint(address to, uint256 amount, bytes32 appropriationId) external;

    /// @notice Burns `amount` yen an escrow returns to its budget line. Only the budget ledger.
    function burn(address from, uint256 amount, bytes32 appropriationId) external;

    /// @notice The registry that decides who may hold and mint.
    function registry() external view returns (address);
}
