"""The one way chain/ talks to a node: JSON-RPC requests and batches.

``Transport`` is that interface. Its HTTP implementation is ``chain.connection.JsonRpc`` (one kept-alive
connection per thread); the tests' in-process eth-tester chain has its own (tests/tester.py). Everything that
reads or writes the chain (typed clients, the transaction sender, the log source, the gateway, the indexer)
takes a transport and sends JSON-RPC through it, never asking which kind it is: replies come back as the node
sent them, hex strings and all.

A transport also owns the nonce managers of the keys that send through it (``nonces``), so that every sender of
one key on one node shares them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from chain._nonces import NonceBook
from chain.errors import ProviderError

__all__ = ["Transport"]


class Transport(ABC):
    """JSON-RPC to one node. ``request`` and ``batch`` return the node's reply objects (``{"result": ...}`` or
    ``{"error": ...}``); a node that cannot be reached raises ``ConnectionError`` or ``TimeoutError``, which
    callers retry. The helpers below raise ``ProviderError`` on an error reply."""

    #: whether several threads may send through it at once (the in-process eth-tester chain may not)
    concurrent: bool = True

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.nonces = NonceBook()
        self._chain_id: int | None = None

    @abstractmethod
    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """One call; the node's reply object."""

    @abstractmethod
    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Several calls (in one round trip where the node allows); the replies in the order of ``calls``."""

    def result(self, method: str, params: list[Any]) -> Any:
        """The result of one call; ProviderError if the node answers with an error."""
        reply = self.request(method, params)
        if "error" in reply:
            raise ProviderError(f"{method} failed: {reply['error']}", reply["error"])
        return reply.get("result")

    @property
    def chain_id(self) -> int:
        """The chain id (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self.result("eth_chainId", []), 16)
        return self._chain_id

    def block_number(self) -> int:
        """The latest block's number."""
        return int(self.result("eth_blockNumber", []), 16)

    def latest_timestamp(self) -> int:
        """The latest block's timestamp."""
        block = self.result("eth_getBlockByNumber", ["latest", False])
        if not isinstance(block, dict) or "timestamp" not in block:
            raise ProviderError(f"the node at {self.endpoint} gave no latest block: {str(block)[:200]}")
        return int(block["timestamp"], 16)

    def code(self, address: str) -> bytes:
        """The code deployed at ``address`` (empty if none)."""
        return bytes.fromhex(str(self.result("eth_getCode", [address, "latest"]))[2:])

    def transaction_count(self, address: str, block: str = "latest") -> int:
        """How many transactions ``address`` sent, as of ``block`` (``pending`` counts those not mined yet)."""
        return int(self.result("eth_getTransactionCount", [address, block]), 16)
