"""The transaction sender: revert decoding, nonce management, and safe retries over a lossy transport."""

from __future__ import annotations

from typing import Any

import pytest
from hexbytes import HexBytes
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from chain._tx import TxSender
from chain.errors import ContractRevert
from chain.system import error_decoder
from chain.testing import World


class LossyProvider(EthereumTesterProvider):
    """Delivers every request, but loses the reply to the first ``losses`` raw-transaction sends."""

    def __init__(self, tester: Any, losses: int) -> None:
        super().__init__(tester)
        self.losses = losses
        self.sends = 0

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_sendRawTransaction":
            self.sends += 1
        response = super().make_request(method, params)
        if method == "eth_sendRawTransaction" and self.losses > 0:
            self.losses -= 1
            raise ConnectionError("reply lost after the node accepted the transaction")
        return response


def test_lost_reply_is_retried_without_sending_twice(world: World) -> None:
    provider = LossyProvider(world.tester, losses=1)
    w3 = Web3(provider)
    sender = TxSender(w3, world.accounts["officer"], error_decoder(world.build))
    vault = world.vault.address
    before = world.token.functions.balanceOf(vault).call()
    nonce_before = w3.eth.get_transaction_count(sender.account.address)
    receipt = sender.transact(world.token.functions.transfer(vault, 1234))
    assert receipt.status == 1
    assert provider.sends == 2  # the same signed bytes went out twice...
    assert world.token.functions.balanceOf(vault).call() == before + 1234  # ...and acted once
    assert w3.eth.get_transaction_count(sender.account.address) == nonce_before + 1


def test_revert_names_the_custom_error(world: World) -> None:
    sender = world.sender("outsider")
    with pytest.raises(ContractRevert) as info:
        sender.transact(world.token.functions.mint(world.outsider.address, 5, b"\x01" * 32))
    assert info.value.name == "YenTokenUnauthorizedMinter"
    assert info.value.values == (world.outsider.address,)
    assert str(info.value) == f"YenTokenUnauthorizedMinter(caller={world.outsider.address})"


def test_nonces_are_consecutive_without_asking_the_chain(world: World) -> None:
    sender = world.sender("officer")
    start = world.w3.eth.get_transaction_count(sender.account.address)
    receipts = [sender.transact(world.token.functions.transfer(world.vault.address, 1)) for _ in range(3)]
    nonces = [world.w3.eth.get_transaction(HexBytes(r.tx_hash))["nonce"] for r in receipts]
    assert nonces == [start, start + 1, start + 2]
