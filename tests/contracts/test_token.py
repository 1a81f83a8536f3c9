"""YenToken: 0 decimals, treasury minting against an appropriation, registered holders only, no direct
transfers to escrows, EIP-2612 permit signed with eth-account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from chain.roles import org_id
from tests.contracts.test_registry import (
    CAST,
    MOD,
    NVE,
    TREASURY,
    ZERO,
    addr,
    assert_only,
    attempt,
    books_checked,
    denied_with,
    make_escrow,
    relayed,
    reverts,
    send,
)
from tests.helpers import event, events
from tests.world import APPROPRIATION, INITIAL_YEN, World

TOKEN_NAME = "Yen Deposit Token"
MAX = 2**256 - 1


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        yield


def balance(world: World, label_or_address: str) -> int:
    who = addr(world, label_or_address) if label_or_address in world.accounts else label_or_address
    return int(world.token.functions.balanceOf(who).call())


def test_metadata(world: World) -> None:
    token = world.token.functions
    assert token.decimals().call() == 0
    assert token.name().call() == TOKEN_NAME
    assert token.symbol().call() == "JPYD"
    assert token.registry().call() == world.registry.address
    assert token.totalSupply().call() == INITIAL_YEN
    assert balance(world, "officer") == INITIAL_YEN


# ----------------------------------------------------------------------------------------------- minting


def test_mint(world: World) -> None:
    line = keccak(text="FY2026/MOFA/ODA")
    receipt = send(world, "treasury", world.token.functions.mint(addr(world, "mofa_officer"), 12_345, line))
    assert event(world.token, receipt, "Minted") == {
        "appropriationId": line,
        "to": addr(world, "mofa_officer"),
        "treasury": addr(world, "treasury"),
        "amount": 12_345,
    }
    assert event(world.token, receipt, "Transfer") == {"from": ZERO, "to": addr(world, "mofa_officer"), "value": 12_345}
    assert balance(world, "mofa_officer") == 12_345
    assert world.token.functions.totalSupply().call() == INITIAL_YEN + 12_345


def test_only_treasury_mints(world: World) -> None:
    fn = world.token.functions.mint(addr(world, "officer2"), 1, APPROPRIATION)
    assert_only(
        world, {"treasury"}, lambda label: attempt(world, label, fn), denied_with(world, "YenTokenUnauthorizedMinter")
    )


def test_treasury_role_must_be_active(world: World) -> None:
    fn = world.token.functions.mint(addr(world, "officer2"), 1, APPROPRIATION)
    send(world, "admin", world.registry.functions.updateOrganization(MOD, False, addr(world, "vault")))
    with reverts("YenTokenUnauthorizedMinter", addr(world, "treasury")):
        attempt(world, "treasury", fn)
    send(world, "admin", world.registry.functions.updateOrganization(MOD, True, addr(world, "vault")))
    send(world, "treasury", fn)
    send(world, "mod_admin", world.registry.functions.revokeRole(TREASURY, addr(world, "treasury")))
    with reverts("YenTokenUnauthorizedMinter", addr(world, "treasury")):
        attempt(world, "treasury", fn)
    # A ministry admin can make a new treasury inside its ministry.
    send(world, "mod_admin", world.registry.functions.grantRole(TREASURY, addr(world, "vault")))
    send(world, "vault", fn)


@pytest.mark.parametrize(
    ("line", "amount"),
    [(b"\x00" * 32, 5), (APPROPRIATION, 0), (b"\x00" * 32, 0)],
    ids=["no-appropriation", "zero-amount", "neither"],
)
def test_mint_needs_appropriation_and_amount(world: World, line: bytes, amount: int) -> None:
    with reverts("YenTokenInvalidMint", line, amount):
        attempt(world, "treasury", world.token.functions.mint(addr(world, "officer2"), amount, line))


def test_mint_only_to_registered_holders(world: World) -> None:
    def mint_to(who: str) -> Any:
        return world.token.functions.mint(who, 1, APPROPRIATION)

    with reverts("YenTokenUnauthorizedHolder", addr(world, "outsider")):
        attempt(world, "treasury", mint_to(addr(world, "outsider")))
    with reverts("ERC20InvalidReceiver", ZERO):
        attempt(world, "treasury", mint_to(ZERO))
    escrow, _ = make_escrow(world)
    with reverts("YenTokenDirectTransferToEscrow", escrow.address, addr(world, "treasury")):
        attempt(world, "treasury", mint_to(escrow.address))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    with reverts("YenTokenUnauthorizedHolder", addr(world, "supplier")):
        attempt(world, "treasury", mint_to(addr(world, "supplier")))


# ----------------------------------------------------------------------------------------------- transfers


def test_transfer_between_registered_holders(world: World) -> None:
    receipt = send(world, "officer", world.token.functions.transfer(addr(world, "eval1"), 700))
    assert event(world.token, receipt, "Transfer") == {
        "from": addr(world, "officer"),
        "to": addr(world, "eval1"),
        "value": 700,
    }
    receipt = send(world, "eval1", world.token.functions.transfer(addr(world, "auditor"), 200))
    assert event(world.token, receipt, "Transfer")["value"] == 200
    assert (balance(world, "eval1"), balance(world, "auditor")) == (500, 200)
    assert balance(world, "officer") == INITIAL_YEN - 700


def test_only_accounts_of_active_organizations_receive(world: World) -> None:
    """Any bound account of any kind of active organization may hold yen; the unbound registry admin and the
    outsider may not."""
    bound = set(CAST) - {"admin", "outsider"}
    assert_only(
        world,
        bound,
        lambda label: attempt(world, "officer", world.token.functions.transfer(addr(world, label), 1)),
        lambda label: ("YenTokenUnauthorizedHolder", (addr(world, label),)),
    )


def test_holder_of_deactivated_or_released_account_cannot_send(world: World) -> None:
    send(world, "officer", world.token.functions.transfer(addr(world, "supplier_colleague"), 100))
    send(world, "admin", world.registry.functions.updateOrganization(NVE, False, ZERO))
    fn = world.token.functions.transfer(addr(world, "officer"), 1)
    with reverts("YenTokenUnauthorizedHolder", addr(world, "supplier_colleague")):
        attempt(world, "supplier_colleague", fn)
    send(world, "admin", world.registry.functions.updateOrganization(NVE, True, ZERO))
    send(world, "supplier_colleague", fn)
    send(
        world,
        "admin",
        world.registry.functions.revokeRole(keccak(text="SUPPLIER_ROLE"), addr(world, "supplier_colleague")),
    )
    send(world, "admin", world.registry.functions.unbindAccount(addr(world, "supplier_colleague")))
    with reverts("YenTokenUnauthorizedHolder", addr(world, "supplier_colleague")):
        attempt(world, "supplier_colleague", fn)
    assert balance(world, "supplier_colleague") == 99  # the yen are frozen, not lost


def test_transfer_standard_refusals(world: World) -> None:
    with reverts("ERC20InvalidReceiver", ZERO):
        attempt(world, "officer", world.token.functions.transfer(ZERO, 1))
    with reverts("ERC20InsufficientBalance", addr(world, "officer2"), 0, 1):
        attempt(world, "officer2", world.token.functions.transfer(addr(world, "officer"), 1))
    with reverts("ERC20InsufficientBalance", addr(world, "officer"), INITIAL_YEN, INITIAL_YEN + 1):
        attempt(world, "officer", world.token.functions.transfer(addr(world, "officer2"), INITIAL_YEN + 1))


def test_approve_and_transfer_from(world: World) -> None:
    officer, officer2 = addr(world, "officer"), addr(world, "officer2")
    receipt = send(world, "officer", world.token.functions.approve(officer2, 1_000))
    assert event(world.token, receipt, "Approval") == {"owner": officer, "spender": officer2, "value": 1_000}
    receipt = send(world, "officer2", world.token.functions.transferFrom(officer, addr(world, "vault"), 600))
    assert event(world.token, receipt, "Transfer") == {"from": officer, "to": addr(world, "vault"), "value": 600}
    assert world.token.functions.allowance(officer, officer2).call() == 400
    with reverts("ERC20InsufficientAllowance", officer2, 400, 401):
        attempt(world, "officer2", world.token.functions.transferFrom(officer, officer2, 401))
    with reverts("YenTokenUnauthorizedHolder", addr(world, "outsider")):
        attempt(world, "officer2", world.token.functions.transferFrom(officer, addr(world, "outsider"), 1))
    # An unlimited allowance is never spent down.
    send(world, "officer", world.token.functions.approve(officer2, MAX))
    send(world, "officer2", world.token.functions.transferFrom(officer, officer2, 5))
    assert world.token.functions.allowance(officer, officer2).call() == MAX


def test_direct_transfer_to_escrow_refused(world: World) -> None:
    escrow, _ = make_escrow(world, fund=0)
    officer, officer2 = addr(world, "officer"), addr(world, "officer2")
    with reverts("YenTokenDirectTransferToEscrow", escrow.address, officer):
        attempt(world, "officer", world.token.functions.transfer(escrow.address, 1))
    send(world, "officer", world.token.functions.approve(officer2, 10))
    with reverts("YenTokenDirectTransferToEscrow", escrow.address, officer2):
        attempt(world, "officer2", world.token.functions.transferFrom(officer, escrow.address, 1))
    # The escrow pulling its own funding is the one way in (the factory's initial funding is the other).
    send(world, "officer", world.token.functions.approve(escrow.address, 1_000))
    receipt = send(world, "officer", escrow.functions.fund(1_000))
    assert event(world.token, receipt, "Transfer") == {"from": officer, "to": escrow.address, "value": 1_000}
    assert balance(world, escrow.address) == 1_000


# ----------------------------------------------------------------------------------------------- permit


def domain_separator(world: World) -> bytes:
    typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [typehash, keccak(text=TOKEN_NAME), keccak(text="1"), world.w3.eth.chain_id, world.token.address],
        )
    )


def sign_permit(
    world: World,
    owner: str,
    spender: str,
    value: int,
    deadline: int,
    *,
    nonce: int | None = None,
    key: str | None = None,
) -> tuple[int, bytes, bytes]:
    """An EIP-2612 permit signed with eth-account's typed-data signer, as (v, r, s)."""
    message = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": TOKEN_NAME,
            "version": "1",
            "chainId": world.w3.eth.chain_id,
            "verifyingContract": world.token.address,
        },
        "message": {
            "owner": addr(world, owner),
            "spender": spender,
            "value": value,
            "nonce": world.token.functions.nonces(addr(world, owner)).call() if nonce is None else nonce,
            "deadline": deadline,
        },
    }
    signed = world.accounts[key or owner].sign_typed_data(full_message=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def test_domain_separator(world: World) -> None:
    assert world.token.functions.DOMAIN_SEPARATOR().call() == domain_separator(world)
    fields, name, version, chain_id, contract, _, _ = world.token.functions.eip712Domain().call()
    assert (fields, name, version, chain_id, contract) == (
        b"\x0f",
        TOKEN_NAME,
        "1",
        world.w3.eth.chain_id,
        world.token.address,
    )


def test_permit(world: World) -> None:
    officer, officer2 = addr(world, "officer"), addr(world, "officer2")
    deadline = world.now() + 3_600
    v, r, s = sign_permit(world, "officer", officer2, 5_000, deadline)
    # Anyone may submit the permit; the spender need not even be registered.
    receipt = send(world, "outsider", world.token.functions.permit(officer, officer2, 5_000, deadline, v, r, s))
    assert event(world.token, receipt, "Approval") == {"owner": officer, "spender": officer2, "value": 5_000}
    assert world.token.functions.allowance(officer, officer2).call() == 5_000
    assert world.token.functions.nonces(officer).call() == 1
    send(world, "officer2", world.token.functions.transferFrom(officer, officer2, 5_000))
    assert balance(world, "officer2") == 5_000
    # The same permit cannot be used twice: it was signed for nonce 0.
    with reverts("ERC2612InvalidSigner") as caught:
        attempt(world, "outsider", world.token.functions.permit(officer, officer2, 5_000, deadline, v, r, s))
    assert caught[0].values[1].lower() == officer.lower()
    assert caught[0].values[0].lower() != officer.lower()


def test_permit_refusals(world: World) -> None:
    officer, officer2 = addr(world, "officer"), addr(world, "officer2")
    # Make the chain's clock run ahead of the wall clock, so the pending block's time is predictable.
    world.tester.time_travel(world.now() + 86_400)
    expired = world.now()
    v, r, s = sign_permit(world, "officer", officer2, 1, expired)
    with reverts("ERC2612ExpiredSignature", expired):
        attempt(world, "outsider", world.token.functions.permit(officer, officer2, 1, expired, v, r, s))
    deadline = world.now() + 3_600
    v, r, s = sign_permit(world, "officer", officer2, 1, deadline, key="officer2")
    with reverts("ERC2612InvalidSigner", officer2, officer):
        attempt(world, "outsider", world.token.functions.permit(officer, officer2, 1, deadline, v, r, s))
    v, r, s = sign_permit(world, "officer", officer2, 1, deadline)
    with reverts("ERC2612InvalidSigner") as caught:  # a different value than signed
        attempt(world, "outsider", world.token.functions.permit(officer, officer2, 2, deadline, v, r, s))
    assert caught[0].values[1].lower() == officer.lower()
    assert world.token.functions.nonces(officer).call() == 0


def test_permit_then_signed_funding_needs_no_gas_from_the_officer(world: World) -> None:
    """The officer signs a permit for the escrow and a Fund action; a relayer submits both."""
    escrow, params = make_escrow(world, fund=0)
    officer = addr(world, "officer")
    deadline = world.now() + 3_600
    v, r, s = sign_permit(world, "officer", escrow.address, 1_000_000, deadline)
    send(world, "outsider", world.token.functions.permit(officer, escrow.address, 1_000_000, deadline, v, r, s))
    receipt = relayed(world, escrow, "officer", "Fund", {"amount": 1_000_000})
    assert event(escrow, receipt, "Funded") == {"funder": officer, "amount": 1_000_000, "totalFunded": 1_000_000}
    assert events(world.token, receipt, "Transfer") == [{"from": officer, "to": escrow.address, "value": 1_000_000}]
    assert balance(world, escrow.address) == 1_000_000
    assert world.token.functions.allowance(officer, escrow.address).call() == 0
    assert sum(params[4]) > 1_000_000


def test_no_burning(world: World) -> None:
    """There is no burn function, and a transfer to the zero address is refused."""
    names = {item.get("name") for item in world.build["YenToken"].abi if item["type"] == "function"}
    assert not {"burn", "burnFrom"} & names
    with reverts("ERC20InvalidReceiver", ZERO):
        attempt(world, "officer", world.token.functions.transfer(ZERO, 1))


def test_other_ministry_holders(world: World) -> None:
    """Holding is about the holder's organization, not its kind: MOFA accounts hold and move yen too."""
    send(world, "officer", world.token.functions.transfer(addr(world, "mofa_admin"), 10))
    send(world, "mofa_admin", world.token.functions.transfer(addr(world, "mofa_officer"), 10))
    assert balance(world, "mofa_officer") == 10
    assert world.registry.functions.organizationOf(addr(world, "mofa_officer")).call() == org_id("MOFA")
