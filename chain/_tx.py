"""Sending transactions: one nonce manager per key, gas estimation, receipt waiting, safe retries.

``send``/``transact`` wait for the receipt. ``submit``/``submit_call`` return once the node has the
transaction (pipelining: many transactions of one key in flight, in nonce order), and ``outcome`` later finds
its receipt. A nonce taken for a transaction the node refused is never left as a gap that would stall the ones
after it (see ``_NonceManager``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import coincurve
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    MethodUnavailable,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import BlockIdentifier, Nonce, TxParams, TxReceipt

from chain._revert import ErrorDecoder, is_tester_revert
from chain.connection import lean_rpc
from chain.errors import ChainError, ContractRevert, TransactionFailed

__all__ = ["CallEncoder", "Receipt", "SentTx", "TxSender", "forget_nonces", "sign_dynamic_fee_tx"]

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


@dataclass(frozen=True)
class SentTx:
    """A transaction the node accepted, not necessarily mined yet."""

    tx_hash: str
    nonce: int
    gas: int
    params: dict[str, Any]


class CallEncoder:
    """Call data for one contract function and its decoded result, straight through eth-abi (selector and types
    read once).

    web3's ``contract.functions.f(*args)`` matches and validates the ABI again on every call (about a
    millisecond); a relay knows its function and the types of its arguments in advance.
    """

    def __init__(self, abi: Sequence[Any], name: str) -> None:
        entries = [e for e in abi if e.get("type") == "function" and e.get("name") == name]
        if len(entries) != 1:
            raise ChainError(f"expected one function {name!r} in the ABI, found {len(entries)}")
        self.name = name
        self.types = [collapse_if_tuple(dict(arg)) for arg in entries[0].get("inputs", [])]
        self.output_types = [collapse_if_tuple(dict(arg)) for arg in entries[0].get("outputs", [])]
        self.selector = function_signature_to_4byte_selector(f"{name}({','.join(self.types)})")

    def encode(self, args: Sequence[Any]) -> bytes:
        """The call data: the selector, then the ABI-encoded arguments (eth-abi checks their types)."""
        return self.selector + abi_encode(self.types, list(args))

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        """The function's return values from an ``eth_call`` result."""
        return tuple(abi_decode(self.output_types, raw))


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def _rlp(item: Any) -> bytes:
    """Recursive-length prefix encoding of bytes, non-negative ints (minimal big-endian) and lists."""
    if isinstance(item, list):
        payload = b"".join(_rlp(x) for x in item)
        return _rlp_length(len(payload), 0xC0) + payload
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP encodes non-negative integers only")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if len(item) == 1 and item[0] < 0x80:
        return bytes(item)
    return _rlp_length(len(item), 0x80) + bytes(item)


_DYNAMIC_FEE_FIELDS = frozenset(
    {"from", "to", "value", "data", "gas", "nonce", "chainId", "maxFeePerGas", "maxPriorityFeePerGas"}
)


def sign_dynamic_fee_tx(key: coincurve.PrivateKey, tx: dict[str, Any]) -> tuple[bytes, bytes]:
    """Sign an EIP-1559 (type 2) transaction with no access list; returns (raw bytes, transaction hash).

    The same bytes as eth-account's ``sign_transaction`` (RFC 6979 signatures are deterministic; checked in
    tests/chain/test_tx.py), without its dict validation and formatting pipeline.
    """
    data = tx.get("data", b"")
    data = bytes.fromhex(data[2:] if data[:2] in ("0x", "0X") else data) if isinstance(data, str) else bytes(data)
    to = tx["to"]
    fields: list[Any] = [
        int(tx["chainId"]),
        int(tx["nonce"]),
        int(tx["maxPriorityFeePerGas"]),
        int(tx["maxFeePerGas"]),
        int(tx["gas"]),
        bytes.fromhex(to[2:]) if isinstance(to, str) else bytes(to),
        int(tx.get("value", 0)),
        data,
        [],
    ]
    signature = key.sign_recoverable(keccak(b"\x02" + _rlp(fields)), hasher=None)
    r, s, y_parity = signature[:32], signature[32:64], signature[64]
    raw = b"\x02" + _rlp([*fields, y_parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")])
    return raw, keccak(raw)


class _NonceManager:
    """Hands out consecutive nonces for one key, starting from the chain's pending count.

    A nonce whose transaction the node refused is given back (``release``): if it was the last one handed
    out the counter steps back; otherwise (later ones are already in flight) it is kept aside and handed out
    first, so the gap is filled by the next transaction rather than stalling the ones behind it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None
        self._released: set[int] = set()

    def take(self, fetch: Callable[[], int]) -> int:
        with self._lock:
            if self._released:
                nonce = min(self._released)
                self._released.discard(nonce)
                return nonce
            if self._next is None:
                self._next = fetch()
            nonce = self._next
            self._next += 1
            return nonce

    def release(self, nonce: int) -> bool:
        """Give back an unused nonce; True if no gap is left behind (it was the last one handed out)."""
        with self._lock:
            if self._next is None or nonce >= self._next:
                return True
            if nonce == self._next - 1:
                self._next = nonce
                while self._next - 1 in self._released:
                    self._next -= 1
                    self._released.discard(self._next)
                return True
            self._released.add(nonce)
            return False

    def claim(self, nonce: int) -> bool:
        """Take back a released nonce to fill its gap now; False if a new transaction took it already."""
        with self._lock:
            if nonce in self._released:
                self._released.discard(nonce)
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._next = None
            self._released.clear()


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
        fee_ttl_s: float = 0.0,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.retries = retries
        self.timeout = timeout
        self.fee_ttl_s = fee_ttl_s
        self._chain_id = w3.eth.chain_id
        self._nonces = _nonce_manager(self._chain_id, _endpoint(w3), account.address)
        self._fees_lock = threading.Lock()
        self._fees: tuple[float, dict[str, int]] | None = None
        self._block_tags = True  # whether the node estimates gas at a given block (eth-tester does not)
        self._rpc = lean_rpc(w3)  # None: every call through web3 (eth-tester, custom providers)
        key = getattr(account, "key", None)
        self._key = coincurve.PrivateKey(bytes(key)) if key is not None else None

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
        sent = self.submit(tx)
        receipt = self._wait(HexBytes(sent.tx_hash))
        if receipt["status"] != 1:
            raise self._explain_failure(sent.params, receipt)  # type: ignore[arg-type]
        return _receipt(receipt)

    def submit_call(
        self,
        fn: ContractFunction,
        *,
        value: int = 0,
        min_gas: int = 0,
        block_identifier: BlockIdentifier = "latest",
    ) -> SentTx:
        """Simulate a contract call (by estimating its gas at ``block_identifier``) and send it without waiting.

        A revert in the simulation raises ContractRevert and nothing is sent. The gas limit is the estimate
        plus the margin, but at least ``min_gas`` (the caller's worst case for this call, when the state it
        runs against may still change before it is mined).
        """
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        return self.submit_data(str(fn.address), data, value=value, min_gas=min_gas, block_identifier=block_identifier)

    def submit_data(
        self,
        to: str,
        data: bytes,
        *,
        value: int = 0,
        min_gas: int = 0,
        block_identifier: BlockIdentifier = "latest",
    ) -> SentTx:
        """``submit_call`` for call data already encoded (see ``CallEncoder``).

        With a ``min_gas``, the call is first simulated once with exactly that limit (``eth_call``): if it
        succeeds, that is the limit sent, and the node is spared an estimate (a search over many executions).
        Only a simulation that fails without a decodable custom error (out of gas, say) goes on to an estimate.
        """
        params: dict[str, Any] = {"from": self.address, "value": value, "to": to, "data": "0x" + data.hex()}
        if min_gas > 0 and self._simulates_within(params, min_gas, block_identifier):
            params["gas"] = min_gas
            return self.submit(params | self._fee_fields())  # type: ignore[arg-type]
        try:
            estimate = self._estimate(params, block_identifier)
        except Exception as exc:
            if _is_revert(exc):
                raise self.decoder.from_exception(exc) from None
            raise
        params["gas"] = max(min_gas, estimate + estimate * _GAS_MARGIN_PERCENT // 100)
        return self.submit(params | self._fee_fields())  # type: ignore[arg-type]

    def _simulates_within(self, params: dict[str, Any], gas: int, block_identifier: BlockIdentifier) -> bool:
        """Whether the call succeeds with ``gas`` at ``block_identifier``; a custom error is raised as such.

        False when it cannot tell (no lean client, a block number, out of gas, a revert without a known error):
        the caller estimates instead, which tells.
        """
        rpc = self._rpc
        if rpc is None or not isinstance(block_identifier, str):
            return False
        call = {
            "from": params["from"],
            "to": params["to"],
            "data": params["data"],
            "value": hex(int(params.get("value", 0))),
            "gas": hex(gas),
        }
        reply = self._retry(lambda: rpc.request("eth_call", [call, block_identifier]))
        try:
            self._rpc_result(reply)
        except ContractRevert:
            raise
        except (TransactionFailed, Web3RPCError):
            return False
        return True

    def _estimate(self, params: dict[str, Any], block_identifier: BlockIdentifier) -> int:
        rpc = self._rpc
        if rpc is not None and isinstance(block_identifier, str):
            # Straight to the node, past web3's request stack (most of the CPU of a relay's estimate); a revert
            # comes back as the custom error all the same.
            call = {
                "from": params["from"],
                "to": params["to"],
                "data": params["data"],
                "value": hex(int(params.get("value", 0))),
            }
            reply = self._retry(lambda: rpc.request("eth_estimateGas", [call, block_identifier]))
            return int(self._rpc_result(reply), 16)
        if block_identifier == "latest" or not self._block_tags:
            return int(self._retry(lambda: self.w3.eth.estimate_gas(params)))  # type: ignore[arg-type]
        try:
            return int(self._retry(lambda: self.w3.eth.estimate_gas(params, block_identifier)))  # type: ignore[arg-type]
        except MethodUnavailable:
            # eth-tester estimates only at its latest block; it mines every transaction at once, so that is
            # also its pending state.
            self._block_tags = False
            return int(self._retry(lambda: self.w3.eth.estimate_gas(params)))  # type: ignore[arg-type]

    def submit(self, tx: TxParams) -> SentTx:
        """Fill gas, fees and nonce, sign and send; return once the node holds the transaction (not mined)."""
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
        nonce = self._nonces.take(lambda: self.w3.eth.get_transaction_count(self.account.address, "pending"))
        tx["nonce"] = Nonce(nonce)
        try:
            raw, expected = self._sign(tx)  # type: ignore[arg-type]
            tx_hash = self._send_raw(raw, expected)
        except BaseException as exc:
            self._give_back(nonce, exc)
            raise
        return SentTx(tx_hash=tx_hash.to_0x_hex(), nonce=nonce, gas=int(tx["gas"]), params=dict(tx))

    def outcome(self, sent: SentTx) -> Receipt | None:
        """The receipt of a submitted transaction, or None while it is not mined (no waiting)."""
        try:
            receipt = self._retry_transient(lambda: self.w3.eth.get_transaction_receipt(HexBytes(sent.tx_hash)))
        except TransactionNotFound:
            return None
        return _receipt(receipt)

    def outcomes(self, sent: Sequence[SentTx]) -> list[Receipt | None]:
        """The receipts of many submitted transactions (None for those not mined), in one round trip if possible."""
        rpc = self._rpc
        if rpc is None or not sent:
            return [self.outcome(tx) for tx in sent]
        calls = [("eth_getTransactionReceipt", [tx.tx_hash]) for tx in sent]
        try:
            replies = self._retry_transient(lambda: rpc.batch(calls))
        except ChainError:  # a node that does not batch: one by one
            return [self.outcome(tx) for tx in sent]
        found: dict[str, Receipt] = {}  # matched by hash, not only by position
        for reply in replies:
            raw = reply.get("result")
            if isinstance(raw, dict) and raw.get("transactionHash"):
                found[str(raw["transactionHash"]).lower()] = _receipt(_light_receipt(raw))
        return [found.get(tx.tx_hash.lower()) for tx in sent]

    def explain(self, sent: SentTx, receipt: Receipt) -> ContractRevert | TransactionFailed:
        """Why a mined transaction failed: the custom error of replaying it on its parent block, if any."""
        return self._explain_failure(sent.params, receipt.raw)  # type: ignore[arg-type]

    def mined_count(self) -> int:
        """How many of this key's transactions are mined (its nonce at the latest block)."""
        rpc = self._rpc
        if rpc is not None:
            reply = self._retry(lambda: rpc.request("eth_getTransactionCount", [self.address, "latest"]))
            return int(self._rpc_result(reply), 16)
        return int(self._retry(lambda: self.w3.eth.get_transaction_count(self.account.address, "latest")))

    def _fee_fields(self) -> dict[str, int]:
        """EIP-1559 fee fields, reused for ``fee_ttl_s`` (max fee = 2 x base fee + tip, as web3 computes it)."""
        now = time.monotonic()
        with self._fees_lock:
            if self._fees is not None and now - self._fees[0] < self.fee_ttl_s:
                return self._fees[1]
        rpc = self._rpc
        if rpc is not None:
            calls = [("eth_maxPriorityFeePerGas", []), ("eth_getBlockByNumber", ["latest", False])]
            tip_reply, block_reply = self._retry(lambda: rpc.batch(calls))  # type: ignore[arg-type]
            tip = int(self._rpc_result(tip_reply), 16)
            base = int((self._rpc_result(block_reply) or {}).get("baseFeePerGas", "0x0"), 16)
        else:
            tip = int(self._retry(lambda: self.w3.eth.max_priority_fee))
            base = int(self._retry(lambda: self.w3.eth.get_block("latest")).get("baseFeePerGas", 0))
        fees = {"maxPriorityFeePerGas": tip, "maxFeePerGas": tip + 2 * base}
        with self._fees_lock:
            self._fees = (now, fees)
        return fees

    def _sign(self, tx: dict[str, Any]) -> tuple[bytes, bytes]:
        """The signed raw transaction and its hash: a type-2 transaction directly, anything else through eth-account."""
        if (
            self._key is not None
            and _DYNAMIC_FEE_FIELDS.issuperset(tx)
            and "maxFeePerGas" in tx
            and "maxPriorityFeePerGas" in tx
            and tx.get("to")
        ):
            return sign_dynamic_fee_tx(self._key, tx)
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def _give_back(self, nonce: int, exc: BaseException) -> None:
        """The transaction with ``nonce`` did not reach the node: never leave its nonce as a gap."""
        if "nonce too low" in f"{exc} {exc.__cause__}".lower():
            self._nonces.reset()  # someone else used this key: ask the chain next time
            return
        if isinstance(exc, _TRANSIENT):
            # It may have reached the node after all (the reply was lost on every try): ask the chain.
            self._nonces.reset()
            return
        if not self._nonces.release(nonce) and self._nonces.claim(nonce):
            self._fill_gap(nonce)

    def _fill_gap(self, nonce: int) -> None:
        """Send a 0-value transfer to ourselves at ``nonce`` so that the transactions after it can be mined."""
        filler: dict[str, Any] = {
            "chainId": self._chain_id,
            "from": self.address,
            "to": self.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            **self._fee_fields(),
        }
        try:
            raw, expected = self._sign(filler)
            self._send_raw(raw, expected)
        except Exception:
            self._nonces.reset()  # the gap stays: ask the chain next time (it knows the pending count)

    def _rpc_result(self, reply: Any) -> Any:
        """The result of a raw JSON-RPC reply; an error is raised as web3 would (a revert as ContractRevert)."""
        error = reply.get("error") if isinstance(reply, dict) else None
        if error is None:
            return reply["result"]
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x..."}}
            data = data.get("data")
        revert = self.decoder.decode(data) if isinstance(data, str) else None
        if revert is not None:
            raise revert
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        if "revert" in message.lower():
            raise TransactionFailed(f"reverted without a known error: {message}")
        raise Web3RPCError(str(error), rpc_response=reply)

    def _send_raw_once(self, raw: bytes) -> HexBytes:
        rpc = self._rpc
        if rpc is not None:
            reply = rpc.request("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
            return HexBytes(self._rpc_result(reply))
        return self.w3.eth.send_raw_transaction(raw)

    def _send_raw(self, raw: bytes, expected_hash: bytes) -> HexBytes:
        retried = False
        for attempt in range(self.retries + 1):
            try:
                return self._send_raw_once(raw)
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

    def _retry_transient(self, action: Callable[[], _T]) -> _T:
        for attempt in range(self.retries + 1):
            try:
                return action()
            except _TRANSIENT:
                if attempt == self.retries:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def _retry(self, action: Callable[[], _T]) -> _T:
        for attempt in range(self.retries + 1):
            try:
                return action()
            except (TransactionNotFound, *_TRANSIENT):
                if attempt == self.retries:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def _receipt(receipt: TxReceipt) -> Receipt:
    return Receipt(
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=receipt["blockNumber"],
        block_hash=receipt["blockHash"].to_0x_hex(),
        gas_used=receipt["gasUsed"],
        status=receipt["status"],
        raw=receipt,
    )


def _light_receipt(raw: dict[str, Any]) -> TxReceipt:
    """The fields of a raw JSON-RPC receipt that Receipt and failure explanations use (no log decoding)."""
    return AttributeDict(  # type: ignore[return-value]
        {
            "transactionHash": HexBytes(raw["transactionHash"]),
            "blockNumber": int(raw["blockNumber"], 16),
            "blockHash": HexBytes(raw["blockHash"]),
            "gasUsed": int(raw["gasUsed"], 16),
            "status": int(raw.get("status", "0x1"), 16),
        }
    )


def _already_known(exc: Web3RPCError) -> bool:
    text = str(exc).lower()
    return "already known" in text or "known transaction" in text or "already imported" in text
