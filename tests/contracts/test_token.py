"""YenToken: 0 decimals, minted and burned by the budget ledger only, registered holders only, no direct
transfers to escrows, EIP-2612 permit signed with eth-account.

Yen exist only as an escrow drew them on its obligation: each test starts with a procurement whose first
milestone (30 M yen) was paid to the supplier, who passed HELD of them to the officer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from chain.roles import org_id
from tests.contracts.test_registry import (
    CAST,
    NVE,
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
from tests.world import World

TOKEN_NAME = "Yen Deposit Token"
MAX = 2**256 - 1
PAID = 30_000_000  # the first milestone of the default procurement
HELD = 10_000_000  # what the supplier passed on to the officer
APPROPRIATION = b"\x01" * 32


@pytest.fixture(autouse=True)
def _books(world: World) -> Iterator[None]:
    with books_checked(world):
        paid_escrow(world)
        yield


def paid_escrow(world: World) -> Any:
    """A fully funded procurement whose milestone 0 was approved and paid; HELD of the yen go to the officer."""
    escrow, _ = make_escrow(world)
    send(world, "supplier", escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    send(world, "eval1", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "eval2", escrow.functions.attest(0, 1, True, b"\x22" * 32))
    send(world, "supplier", world.token.functions.transfer(addr(world, "officer"), HELD))
    return escrow


def balance(world: World, label_or_address: str) -> int:
    who = addr(world, label_or_address) if label_or_address in world.accounts else label_or_address
    return int(world.token.functions.balanceOf(who).call())


def test_metadata(world: World) -> None:
    token = world.token.functions
    assert token.decimals().call() == 0
    assert token.name().call() == TOKEN_NAME
    assert token.symbol().call() == "JPYD"
    assert token.registry().call() == world.registry.address
    assert token.totalSupply().call() == 200_000_000  # the one procurement's funding, minted on its obligation
    assert balance(world, "officer") == HELD


# ----------------------------------------------------------------------------------------------- minting


def test_only_the_budget_ledger_mints_or_burns(world: World) -> None:
    """The treasury's free minting is gone: nobody mints or burns but the budget ledger (see test_budget)."""
    mint = world.token.functions.mint(addr(world, "officer2"), 1, APPROPRIATION)
    burn = world.token.functions.burn(addr(world, "officer"), 1, APPROPRIATION)
    denied = denied_with(world, "YenTokenUnauthorizedMinter")
    assert_only(world, set(), lambda label: attempt(world, label, mint), denied)
    assert_only(world, set(), lambda label: attempt(world, label, burn), denied)


def test_mint_on_an_obligation(world: World) -> None:
    escrow, _ = make_escrow(world, fund=0)
    receipt = send(world, "officer", escrow.functions.fund(12_345))
    minted = event(world.token, receipt, "Minted")
    assert minted == {
        "appropriationId": minted["appropriationId"],
        "to": escrow.address,
        "treasury": world.budget.address,
        "amount": 12_345,
    }
    assert int.from_bytes(minted["appropriationId"], "big") == (1 << 16) | world.fiscal_year  # series 1, the year
    assert event(world.token, receipt, "Transfer") == {"from": ZERO, "to": escrow.address, "value": 12_345}


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
    assert balance(world, "officer") == HELD - 700


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
    with reverts("ERC20InsufficientBalance", addr(world, "officer"), HELD, HELD + 1):
        attempt(world, "officer", world.token.functions.transfer(addr(world, "officer2"), HELD + 1))


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
    # Minting on the escrow's obligation is the one way in.
    receipt = send(world, "officer", escrow.functions.fund(1_000))
    assert event(world.token, receipt, "Transfer") == {"from": ZERO, "to": escrow.address, "value": 1_000}
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


def test_signed_funding_needs_neither_yen_nor_gas_from_the_officer(world: World) -> None:
    """The officer signs a Fund action; a relayer submits it; the yen are minted on the obligation."""
    escrow, params = make_escrow(world, fund=0)
    officer = addr(world, "officer")
    before = balance(world, "officer")
    receipt = relayed(world, escrow, "officer", "Fund", {"amount": 1_000_000})
    assert event(escrow, receipt, "Funded") == {"funder": officer, "amount": 1_000_000, "totalFunded": 1_000_000}
    assert events(world.token, receipt, "Transfer") == [{"from": ZERO, "to": escrow.address, "value": 1_000_000}]
    assert balance(world, escrow.address) == 1_000_000
    assert balance(world, "officer") == before
    assert sum(params[4]) > 1_000_000


def test_no_burning_by_transfer(world: World) -> None:
    """A transfer to the zero address is refused: only the ledger burns, and only what an escrow returns."""
    with reverts("ERC20InvalidReceiver", ZERO):
        attempt(world, "officer", world.token.functions.transfer(ZERO, 1))


def test_other_ministry_holders(world: World) -> None:
    """Holding is about the holder's organization, not its kind: MOFA accounts hold and move yen too."""
    send(world, "officer", world.token.functions.transfer(addr(world, "mofa_admin"), 10))
    send(world, "mofa_admin", world.token.functions.transfer(addr(world, "mofa_officer"), 10))
    assert balance(world, "mofa_officer") == 10
    assert world.registry.functions.organizationOf(addr(world, "mofa_officer")).call() == org_id("MOFA")
