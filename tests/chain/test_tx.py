"""The transaction sender: revert decoding, nonce management (per transport), and safe retries over a lossy
transport."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from hexbytes import HexBytes

from chain import CallEncoder, ChainError, ContractRevert, NonceManager, Signer, error_decoder, sign_dynamic_fee_tx
from tests.helpers import new_escrow
from tests.tester import Tester, TesterTransport
from tests.world import World, WorldSender


class LossyTransport(TesterTransport):
    """Delivers every request, but loses the reply to the first ``losses`` raw-transaction sends."""

    def __init__(self, tester: Tester, losses: int) -> None:
        super().__init__(tester)
        self.losses = losses
        self.sends = 0

    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "eth_sendRawTransaction":
            self.sends += 1
        response = super().request(method, params)
        if method == "eth_sendRawTransaction" and self.losses > 0:
            self.losses -= 1
            raise ConnectionError("reply lost after the node accepted the transaction")
        return response


@pytest.fixture(autouse=True)
def _officer_holds_yen(world: World) -> None:
    """Yen exist only as a procurement drew them on its budget line: the officer gets some from the supplier of a
    paid milestone, so that token transfers can stand for ordinary transactions here."""
    escrow, _ = new_escrow(world)
    world.sender("supplier").transact(escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    for evaluator in ("eval1", "eval2"):
        world.sender(evaluator).transact(escrow.functions.attest(0, 1, True, b"\x22" * 32))
    world.sender("supplier").transact(world.token.functions.transfer(world.officer.address, 1_000_000))


def test_lost_reply_is_retried_without_sending_twice(world: World) -> None:
    transport = LossyTransport(world.tester, losses=1)
    sender = WorldSender(transport, world.accounts["officer"], error_decoder(world.build))
    vault = world.vault.address
    before = world.token.functions.balanceOf(vault).call()
    nonce_before = transport.transaction_count(sender.address)
    receipt = sender.transact(world.token.functions.transfer(vault, 1234))
    assert receipt.status == 1
    assert transport.sends == 2  # the same signed bytes went out twice...
    assert world.token.functions.balanceOf(vault).call() == before + 1234  # ...and acted once
    assert transport.transaction_count(sender.address) == nonce_before + 1


def test_revert_names_the_custom_error(world: World) -> None:
    sender = world.sender("outsider")
    with pytest.raises(ContractRevert) as info:
        sender.transact(world.token.functions.mint(world.outsider.address, 5, b"\x01" * 32))
    assert info.value.name == "YenTokenUnauthorizedMinter"
    assert info.value.values == (world.outsider.address,)
    assert info.value.raw == f"YenTokenUnauthorizedMinter(caller={world.outsider.address})"
    outsider = world.outsider.address
    assert str(info.value) == f"account {outsider[:6]}...{outsider[-4:]} is not the budget ledger: only it mints yen"


def test_nonces_are_consecutive_without_asking_the_chain(world: World) -> None:
    sender = world.sender("officer")
    start = world.rpc.transaction_count(sender.address)
    receipts = [sender.transact(world.token.functions.transfer(world.vault.address, 1)) for _ in range(3)]
    nonces = [world.w3.eth.get_transaction(HexBytes(r.tx_hash))["nonce"] for r in receipts]
    assert nonces == [start, start + 1, start + 2]


class RefusingTransport(TesterTransport):
    """Refuses the first ``refusals`` raw-transaction sends outright (the node never takes them)."""

    def __init__(self, tester: Tester, refusals: int) -> None:
        super().__init__(tester)
        self.refusals = refusals

    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "eth_sendRawTransaction" and self.refusals > 0:
            self.refusals -= 1
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "transaction underpriced"}}
        return super().request(method, params)


def test_a_refused_send_gives_its_nonce_back(world: World) -> None:
    transport = RefusingTransport(world.tester, refusals=1)
    sender = WorldSender(transport, world.accounts["officer"], error_decoder(world.build))
    start = transport.transaction_count(sender.address)
    with pytest.raises(ChainError):
        sender.transact(world.token.functions.transfer(world.vault.address, 1))
    receipt = sender.transact(world.token.functions.transfer(world.vault.address, 1))
    assert world.w3.eth.get_transaction(HexBytes(receipt.tx_hash))["nonce"] == start  # no gap left behind
    assert transport.transaction_count(sender.address) == start + 1


def test_senders_of_one_key_share_its_nonces_on_one_transport_only(world: World) -> None:
    account, decoder = world.accounts["officer"], error_decoder(world.build)
    first, second = WorldSender(world.rpc, account, decoder), WorldSender(world.rpc, account, decoder)
    start = world.rpc.transaction_count(account.address)
    assert first._nonces is second._nonces
    receipts = [sender.transact(world.token.functions.transfer(world.vault.address, 1)) for sender in (first, second)]
    nonces = [world.w3.eth.get_transaction(HexBytes(r.tx_hash))["nonce"] for r in receipts]
    assert nonces == [start, start + 1]
    other = WorldSender(TesterTransport(world.tester), account, decoder)
    assert other._nonces is not first._nonces


def test_a_snapshot_revert_makes_senders_ask_the_chain_again(world: World) -> None:
    sender = world.sender("officer")
    snapshot = world.tester.take_snapshot()
    start = world.rpc.transaction_count(sender.address)
    sender.transact(world.token.functions.transfer(world.vault.address, 1))
    world.tester.revert_to_snapshot(snapshot)  # the transaction is gone, and its nonce with it
    receipt = sender.transact(world.token.functions.transfer(world.vault.address, 1))
    assert world.w3.eth.get_transaction(HexBytes(receipt.tx_hash))["nonce"] == start


def test_nonce_manager_hands_a_released_nonce_out_first() -> None:
    manager = NonceManager()
    assert [manager.take(lambda: 5) for _ in range(3)] == [5, 6, 7]
    assert manager.release(6) is False  # 7 is already out: 6 is a gap, handed out next
    assert manager.take(lambda: 0) == 6
    assert manager.release(7) is True  # the last one: the counter steps back
    assert manager.take(lambda: 0) == 7
    assert manager.take(lambda: 0) == 8


def test_a_gap_is_filled_at_once(world: World) -> None:
    # Nonce N was handed out and its transaction refused while N+1 was already out: a 0-value transfer to
    # ourselves takes N, so that N+1 and later can be mined.
    sender = world.sender("officer")
    start = world.rpc.transaction_count(sender.address)
    first = sender._nonces.take(lambda: start)
    sender._nonces.take(lambda: start)
    sender._give_back(first, ChainError("the node refused the transaction"))
    assert world.rpc.transaction_count(sender.address) == start + 1
    filler = world.w3.eth.get_transaction_by_block(world.w3.eth.block_number, 0)
    assert filler["nonce"] == start
    assert filler["to"] == sender.address
    assert filler["value"] == 0


def test_submit_returns_before_the_receipt_and_outcome_finds_it(world: World) -> None:
    sender = world.sender("officer")
    sent = sender.submit_call(world.token.functions.transfer(world.vault.address, 1), min_gas=200_000)
    assert sent.gas == 200_000  # the caller's worst case, above the estimate
    receipt = sender.outcome(sent)
    assert receipt is not None
    assert receipt.status == 1
    assert receipt.tx_hash == sent.tx_hash
    assert sender.outcomes([sent]) == [receipt]


def test_submit_call_simulates_first_and_sends_nothing_that_reverts(world: World) -> None:
    sender = world.sender("outsider")
    before = world.rpc.transaction_count(sender.address)
    with pytest.raises(ContractRevert) as info:
        sender.submit_call(world.token.functions.mint(world.outsider.address, 5, b"\x01" * 32))
    assert info.value.name == "YenTokenUnauthorizedMinter"
    assert world.rpc.transaction_count(sender.address) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"nonce": 0, "gas": 21_000, "value": 0, "data": "0x"},
        {"nonce": 1234, "gas": 180_000, "value": 10**18, "data": "0x" + "ab" * 300},
        {"nonce": 2**40, "gas": 30_000_000, "value": 1, "data": "0x00"},
    ],
)
def test_direct_signing_gives_eth_accounts_bytes(world: World, fields: dict[str, Any]) -> None:
    account = world.accounts["officer"]
    tx = {
        "chainId": 31337,
        "from": account.address,
        "to": world.vault.address,
        "maxPriorityFeePerGas": 1_000_000_000,
        "maxFeePerGas": 3_000_000_000,
        **fields,
    }
    signed = account.sign_transaction(tx)
    raw, tx_hash = sign_dynamic_fee_tx(Signer(account.key), tx)
    assert raw == bytes(signed.raw_transaction)
    assert tx_hash == bytes(signed.hash)


def test_direct_signing_of_a_contract_creation_gives_eth_accounts_bytes() -> None:
    account = Account.from_key(b"\x07" * 32)
    tx = {"chainId": 31337, "nonce": 3, "gas": 2_000_000, "value": 0, "data": "0x6080604052" + "00" * 64}
    tx |= {"maxPriorityFeePerGas": 1, "maxFeePerGas": 2_000_000_001}
    signed = account.sign_transaction(tx)
    raw, tx_hash = sign_dynamic_fee_tx(Signer(account.key), tx)
    assert raw == bytes(signed.raw_transaction)
    assert tx_hash == bytes(signed.hash)


def test_call_encoder_gives_web3s_call_data(world: World) -> None:
    vault = world.vault.address
    encoder = CallEncoder(world.token.abi, "transfer")
    expected = world.token.functions.transfer(vault, 1234)._encode_transaction_data()
    assert "0x" + encoder.encode([vault, 1234]).hex() == expected
    with pytest.raises(ChainError):
        CallEncoder(world.token.abi, "noSuchFunction")


def test_submit_data_relays_what_it_was_given(world: World) -> None:
    sender = world.sender("officer")
    vault = world.vault.address
    before = world.token.functions.balanceOf(vault).call()
    data = CallEncoder(world.token.abi, "transfer").encode([vault, 77])
    sent = sender.submit_data(world.token.address, data)
    deadline = time.monotonic() + 10
    receipt = sender.outcome(sent)
    while receipt is None and time.monotonic() < deadline:
        time.sleep(0.05)
        receipt = sender.outcome(sent)
    assert receipt is not None
    assert receipt.status == 1
    assert world.token.functions.balanceOf(vault).call() == before + 77
