// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title IYenToken
/// @notice A permissioned yen deposit token: 0 decimals (yen has no minor unit), held only by accounts of active
/// organizations and by procurement escrows. Money follows the budget: only the budget ledger mints, into an
/// escrow drawing on its obligation, and burns what an escrow returns to its line; there is no other way to create
/// or destroy yen.
interface IYenToken is IERC20, IERC20Permit {
    /// @notice The caller is not the budget ledger (the registry's `budget`).
    error YenTokenUnauthorizedMinter(address caller);
    /// @notice Tokens may only be held by accounts of active organizations and by escrows.
    error YenTokenUnauthorizedHolder(address holder);
    /// @notice An escrow receives tokens only from the budget ledger (minted on its obligation).
    error YenTokenDirectTransferToEscrow(address escrow, address sender);
    /// @notice The appropriation id is zero, or the amount is zero.
    error YenTokenInvalidMint(bytes32 appropriationId, uint256 amount);

    /// @notice The budget ledger (`treasury`) minted `amount` yen into the escrow `to` on its obligation against the
    /// line `appropriationId` (the ledger's series << 16 | fiscal year).
    event Minted(bytes32 indexed appropriationId, address indexed to, address indexed treasury, uint256 amount);
    /// @notice The budget ledger burned `amount` yen `from` returned to `appropriationId`.
    event Burned(bytes32 indexed appropriationId, address indexed from, address indexed budget, uint256 amount);

    /// @notice Mints `amount` yen to `to` against a budget line. Only the budget ledger.
    /// @param appropriationId The line: the ledger's series << 16 | fiscal year.
    function mint(address to, uint256 amount, bytes32 appropriationId) external;

    /// @notice Burns `amount` yen an escrow returns to its budget line. Only the budget ledger.
    function burn(address from, uint256 amount, bytes32 appropriationId) external;

    /// @notice The registry that decides who may hold, and names the budget ledger that mints.
    function registry() external view returns (address);
}
