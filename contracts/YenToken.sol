// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IYenToken} from "./interfaces/IYenToken.sol";

/// @title YenToken
/// @notice Permissioned yen deposit token with EIP-2612 permit, minted and burned by the budget ledger only. See
/// {IYenToken}.
contract YenToken is ERC20, ERC20Permit, IYenToken {
    IAccessRegistry private immutable _registry;

    /// @param registry_ The access registry.
    constructor(IAccessRegistry registry_) ERC20("Yen Deposit Token", "JPYD") ERC20Permit("Yen Deposit Token") {
        _registry = registry_;
    }

    /// @notice Yen has no minor unit (ISO 4217 exponent 0).
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @inheritdoc IYenToken
    function mint(address to, uint256 amount, bytes32 appropriationId) external {
        address budget = _msgSender();
        if (budget != _registry.budget() || budget == address(0)) revert YenTokenUnauthorizedMinter(budget);
        if (appropriationId == bytes32(0) || amount == 0) revert YenTokenInvalidMint(appropriationId, amount);
        _mint(to, amount);
        emit Minted(appropriationId, to, budget, amount);
    }

    /// @inheritdoc IYenToken
    function burn(address from, uint256 amount, bytes32 appropriationId) external {
        address budget = _msgSender();
        if (budget != _registry.budget() || budget == address(0)) revert YenTokenUnauthorizedMinter(budget);
        _burn(from, amount);
        emit Burned(appropriationId, from, budget, amount);
    }

    /// @inheritdoc IYenToken
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(ERC20Permit, IERC20Permit) returns (uint256) {
        return super.nonces(owner);
    }

    /// @dev Every movement checks both ends with the registry. An escrow's balance must always equal
    /// funded - released - refunded, so tokens reach an escrow only as the ledger mints them on its obligation; a
    /// plain transfer to an escrow is refused. A burn (`to` zero) is reachable only through {burn}.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            (bool fromAllowed,) = _registry.holderStatus(from);
            if (!fromAllowed) revert YenTokenUnauthorizedHolder(from);
        }
        if (to != address(0)) {
            (bool toAllowed, bool toEscrow) = _registry.holderStatus(to);
            if (!toAllowed) revert YenTokenUnauthorizedHolder(to);
            if (toEscrow && from != address(0)) revert YenTokenDirectTransferToEscrow(to, _msgSender());
        }
        super._update(from, to, value);
    }
}
