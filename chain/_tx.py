"""Sending transactions: one nonce manager per key, gas estimation, receipt waiting, safe retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import Nonce, TxParams, TxReceipt

from chain._revert import ErrorDecoder, is_tester_revert
from chain.errors import ChainError, ContractRevert, TransactionFailed

__all__ = ["Receipt", "TxSender", "forget_nonces"]

_T = TypeVar("_T")
_TRANSIENT = (RequestsConnectionError, RequestsTimeout, ConnectionError, TimeoutError)
_REVERTS = (ContractCustomError, ContractLogicError, ContractPanicError)


def _is_revert(exc: BaseException) -> bool:
    return isinstance(exc, _REVERTS) or is_tester_revert(exc)


_GAS_MARGIN_PERCENT = 20


@dataclass(frozen=True)
class Receipt:
    """What a mined transaction left behind."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int
    raw: TxReceipt


class _NonceManager:
    """Hands out consecutive nonces for one key, starting from the chain's pending count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None

    def take(self, fetch: Callable[[], int]) -> int:
        with self._lock:
            if self._next is None:
                self._next = fetch()
            nonce = self._next
            self._next += 1
            return nonce

    def reset(self) -> None:
        with self._lock:
            self._next = None


_NONCES: dict[tuple[int, str, str], _NonceManager] = {}
_NONCES_LOCK = threading.Lock()


def forget_nonces() -> None:
    """Make every sender ask the chain for its next nonce (after a snapshot revert or a node restart)."""
    with _NONCES_LOCK:
        for manager in _NONCES.values():
            manager.reset()


def _nonce_manager(chain_id: int, endpoint: str, address: str) -> _NonceManager:
    with _NONCES_LOCK:
        return _NONCES.setdefault((chain_id, endpoint, address), _NonceManager())


def _endpoint(w3: Web3) -> str:
    """What identifies the node: its URL, or the provider object for in-process chains.

    Two local chains can share a chain id (every anvil and Hardhat node is 31337): nonces are kept per node.
    """
    uri = getattr(w3.provider, "endpoint_uri", None)
    return str(uri) if uri else f"provider-{id(w3.provider)}"


class TxSender:
    """Signs and sends transactions for one key.

    A revert found while estimating gas, or in a mined receipt, is raised as a ContractRevert naming the
    custom error. Transient RPC failures are retried by re-sending the same signed bytes, so the same
    action is never sent twice under two nonces.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        decoder: ErrorDecoder,
        *,
        retries: int = 3,
        timeout: float = 120.0,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.retries = retries
        self.timeout = timeout
        self._chain_id = w3.eth.chain_id
        self._nonces = _nonce_manager(self._chain_id, _endpoint(w3), account.address)

    @property
    def address(self) -> str:
        """The sender's checksum address."""
        return str(self.account.address)

    def call(self, fn: ContractFunction) -> Any:
        """Run a read-only call, mapping reverts to project exceptions."""
        try:
            return self._retry(lambda: fn.call({"from": self.address}))
        except Exception as exc:
            if _is_revert(exc):
                raise self.decoder.from_exception(exc) from None
            raise

    def transact(self, fn: ContractFunction, *, value: int = 0, gas: int | None = None) -> Receipt:
        """Send a contract call as a transaction and wait for its receipt."""
        params: TxParams = {"from": self.address, "value": value}  # type: ignore[typeddict-item]
        try:
            tx = fn.build_transaction(params if gas is None else {**params, "gas": gas})
        except Exception as exc:
            if _is_revert(exc):
                raise self.decoder.from_exception(exc) from None
            raise
        return self.send(tx)

    def deploy(self, abi: Any, bytecode: str, *args: Any) -> Receipt:
        """Deploy a contract; the receipt's ``raw['contractAddress']`` is its address."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        try:
            tx = factory.constructor(*args).build_transaction({"from": self.address})
        except Exception as exc:
            if _is_revert(exc):
                raise self.decoder.from_exception(exc) from None
            raise
        return self.send(tx)

    def send(self, tx: TxParams) -> Receipt:
        """Fill gas and nonce, sign, send, and wait. Gas is estimated (plus a margin) when absent."""
        tx = dict(tx)  # type: ignore[assignment]
        tx.setdefault("chainId", self._chain_id)
        tx["from"] = self.address
        if "gas" not in tx:
            try:
                estimate = self._retry(lambda: self.w3.eth.estimate_gas(tx))
            except Exception as exc:
                if _is_revert(exc):
                    raise self.decoder.from_exception(exc) from None
                raise
            tx["gas"] = estimate + estimate * _GAS_MARGIN_PERCENT // 100
        tx["nonce"] = Nonce(
            self._nonces.take(lambda: self.w3.eth.get_transaction_count(self.account.address, "pending"))
        )
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        try:
            tx_hash = self._send_raw(signed.raw_transaction, signed.hash)
        except BaseException:
            self._nonces.reset()  # the nonce may be unused: ask the chain next time
            raise
        receipt = self._wait(tx_hash)
        if receipt["status"] != 1:
            raise self._explain_failure(tx, receipt)
        return Receipt(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            block_hash=receipt["blockHash"].to_0x_hex(),
            gas_used=receipt["gasUsed"],
            status=receipt["status"],
            raw=receipt,
        )

    def _send_raw(self, raw: bytes, expected_hash: bytes) -> HexBytes:
        retried = False
        for attempt in range(self.retries + 1):
            try:
                return self.w3.eth.send_raw_transaction(raw)
            except _REVERTS as exc:
                raise self.decoder.from_exception(exc) from None
            except _TRANSIENT:
                # The same signed bytes are re-sent: if the first attempt did reach the node, the node refuses
                # the copy (already known, or nonce too low once mined) and we find ours by its hash. The same
                # action is never sent twice under two nonces.
                if attempt == self.retries:
                    raise
                retried = True
                time.sleep(0.2 * 2**attempt)
            except Exception as exc:
                if retried and self._known(expected_hash):
                    return HexBytes(expected_hash)
                if is_tester_revert(exc):
                    raise self.decoder.from_exception(exc) from None
                if isinstance(exc, Web3RPCError):
                    if _already_known(exc):
                        return HexBytes(expected_hash)
                    raise ChainError(f"the node refused the transaction: {exc}") from exc
                raise
        raise AssertionError("unreachable")

    def _known(self, tx_hash: bytes) -> bool:
        try:
            self.w3.eth.get_transaction(HexBytes(tx_hash))
        except Exception:  # not found, or the node still does not answer
            return False
        return True

    def _wait(self, tx_hash: HexBytes) -> TxReceipt:
        try:
            return self._retry(
                lambda: self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout, poll_latency=0.05)
            )
        except TimeExhausted as exc:
            self._nonces.reset()  # perhaps a nonce ahead of the node's (it was restarted): ask it next time
            raise ChainError(f"no receipt for {tx_hash.to_0x_hex()} within {self.timeout:.0f} s") from exc

    def _explain_failure(self, tx: TxParams, receipt: TxReceipt) -> ContractRevert | TransactionFailed:
        call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except Exception as exc:
            if _is_revert(exc):
                return self.decoder.from_exception(exc)
            # Any other failure only means the revert cannot be explained.
            return TransactionFailed(f"transaction {receipt['transactionHash'].to_0x_hex()} failed: {exc}")
        return TransactionFailed(
            f"transaction {receipt['transactionHash'].to_0x_hex()} failed (gas used {receipt['gasUsed']})"
        )

    def _retry(self, action: Callable[[], _T]) -> _T:
        for attempt in range(self.retries + 1):
            try:
                return action()
            except (TransactionNotFound, *_TRANSIENT):
                if attempt == self.retries:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def _already_known(exc: Web3RPCError) -> bool:
    text = str(exc).lower()
    return "already known" in text or "known transaction" in text or "already imported" in text
