// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IAccessRegistry} from "./interfaces/IAccessRegistry.sol";
import {IYenToken} from "./interfaces/IYenToken.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title YenToken
/// @notice Permissioned yen deposit token with EIP-2612 permit. See {IYenToken}.
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
        address treasury = _msgSender();
        if (!_registry.hasActiveRole(Roles.TREASURY, treasury)) revert YenTokenUnauthorizedMinter(treasury);
        if (appropriationId == bytes32(0) || amount == 0) revert YenTokenInvalidMint(appropriationId, amount);
        _mint(to, amount);
        emit Minted(appropriationId, to, treasury, amount);
    }

    /// @inheritdoc IYenToken
    function burn(address from, uint256 amount, bytes32 appropriationId) external {
        address budget = _msgSender();
        if (budget != _registry.budget()) revert YenTokenUnauthorizedMinter(budget);
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
    /// funded - released - refunded, so tokens reach an escrow only when the escrow pulls them or the factory
    /// funds it at creation; a plain transfer to an escrow is refused.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            (bool fromAllowed,) = _registry.holderStatus(from);
            if (!fromAllowed) revert YenTokenUnauthorizedHolder(from);
        }
        (bool toAllowed, bool toEscrow) = to == address(0) ? (false, false) : _registry.holderStatus(to);
        if (!toAllowed) revert YenTokenUnauthorizedHolder(to);
        if (toEscrow) {
            address sender = _msgSender();
            if (sender != to && sender != _registry.factory()) revert YenTokenDirectTransferToEscrow(to, sender);
        }
        super._update(from, to, value);
    }
}
