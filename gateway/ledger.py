"""The gateway's one door to the chain: typed clients from chain/, a read-only simulation and the relayer.

Everything here goes through chain/ (clients, EIP-712, the relayer's TxSender); the gateway never builds
JSON-RPC or ABI by hand and never holds a user's key.
"""

from __future__ import annotations

import threading
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from chain._compiler import Build, compile_contracts
from chain._tx import Receipt, TxSender
from chain.clients import EscrowClient, RegistryClient, Terms, TokenClient
from chain.system import SystemAddresses
from gateway.errors import NotFound, ServiceUnavailable

__all__ = ["Ledger"]


class Ledger:
    """The deployed system on one chain, seen from the gateway; ``relayer`` pays gas for signed actions."""

    def __init__(
        self, w3: Web3, system: SystemAddresses, *, build: Build | None = None, relayer: TxSender | None = None
    ) -> None:
        self.w3 = w3
        self.system = system
        self.build = build or compile_contracts()
        self.relayer = relayer
        self.chain_id = int(w3.eth.chain_id)
        self.registry = RegistryClient(w3, system.registry, None, self.build)
        self.token = TokenClient(w3, system.token, None, self.build)
        self._lock = threading.Lock()
        self._escrows: dict[str, EscrowClient] = {}
        self._by_procurement: dict[bytes, str] = {}
        self._terms: dict[str, Terms] = {}
        self._escrow_locks: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------ chain state

    def head(self) -> int:
        """The latest block number."""
        return int(self.w3.eth.block_number)

    def now(self) -> int:
        """The latest block's timestamp: the clock signature deadlines are checked against."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def escrow_address(self, procurement_id: bytes) -> str:
        """The escrow of a procurement; NotFound if the registry has none (positive answers are cached)."""
        with self._lock:
            cached = self._by_procurement.get(procurement_id)
        if cached is not None:
            return cached
        address = self.registry.escrow_of(procurement_id)
        if address is None:
            raise NotFound(f"no procurement 0x{procurement_id.hex()}")
        address = str(to_checksum_address(address))
        with self._lock:
            self._by_procurement[procurement_id] = address
        return address

    def escrow(self, address: str) -> EscrowClient:
        """A read-only client of the escrow at ``address`` (cached)."""
        address = str(to_checksum_address(address))
        with self._lock:
            client = self._escrows.get(address)
            if client is None:
                client = EscrowClient(self.w3, address, None, self.build)
                self._escrows[address] = client
            return client

    def terms(self, escrow: str) -> Terms:
        """The escrow's fixed terms (immutable, so cached for good)."""
        with self._lock:
            cached = self._terms.get(escrow)
        if cached is not None:
            return cached
        terms = self.escrow(escrow).terms()
        with self._lock:
            self._terms[escrow] = terms
        return terms

    # ------------------------------------------------------------ relaying

    def _require_relayer(self) -> TxSender:
        if self.relayer is None:
            raise ServiceUnavailable("this gateway has no relayer account configured: signed actions are disabled")
        return self.relayer

    def escrow_lock(self, escrow: str) -> threading.Lock:
        """The lock that orders relays to one escrow.

        Two relayed actions on the same escrow must not be in flight together: the second one's gas is
        estimated before the first is mined, and an action that then reaches a quorum (and pays) costs more
        than estimated and runs out of gas. Actions on different escrows still go in parallel.
        """
        with self._lock:
            return self._escrow_locks.setdefault(str(to_checksum_address(escrow)), threading.Lock())

    def simulate(self, escrow: str, function_name: str, args: list[Any]) -> None:
        """Run the relayed call as a read-only eth_call from the relayer: a revert raises ContractRevert."""
        relayer = self._require_relayer()
        fn = getattr(self.escrow(escrow).contract.functions, function_name)(*args)
        relayer.call(fn)

    def relay(self, escrow: str, function_name: str, args: list[Any]) -> Receipt:
        """Send the ``...BySig`` transaction from the relayer and wait for its receipt."""
        relayer = self._require_relayer()
        client: EscrowClient = self.escrow(escrow).with_sender(relayer)
        return client.relay(function_name, args)
