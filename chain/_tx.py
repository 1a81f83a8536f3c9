"""Sending transactions: local nonces, gas estimation, receipt waiting, safe retries, all through one transport.

``send``/``send_data`` wait for the receipt. ``submit``/``submit_data`` return once the node has the
transaction (pipelining: many transactions of one key in flight, in nonce order), and ``outcome`` later finds
its receipt. A nonce taken for a transaction the node refused is never left as a gap that would stall the ones
after it (see ``NonceManager``). Transactions are EIP-1559 (type 2), encoded here and signed by chain/signing.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from chain.abi import ContractCodec, ErrorDecoder, checksum
from chain.errors import ChainError, ContractRevert, ProviderError, TransactionFailed
from chain.signing import keccak
from chain.transport import Transport

if TYPE_CHECKING:
    from chain.signing import KeyHolder, Signer

__all__ = ["Receipt", "SentTx", "TxSender", "sign_dynamic_fee_tx"]

_T = TypeVar("_T")
_TRANSIENT = (ConnectionError, TimeoutError)
_GAS_MARGIN_PERCENT = 20
_RECEIPT_POLL_S = 0.05


@dataclass(frozen=True)
class Receipt:
    """What a mined transaction left behind; ``raw`` is the node's receipt object (hex strings, its logs)."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int
    raw: Mapping[str, Any]

    @property
    def contract_address(self) -> str | None:
        """The contract a creation transaction deployed, checksummed; None for a call."""
        address = self.raw.get("contractAddress")
        return checksum(str(address)) if address else None

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The logs the transaction emitted, as JSON-RPC gives them."""
        return list(self.raw.get("logs") or [])


@dataclass(frozen=True)
class SentTx:
    """A transaction the node accepted, not necessarily mined yet."""

    tx_hash: str
    nonce: int
    gas: int
    params: dict[str, Any]


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


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, str):
        return bytes.fromhex(data[2:] if data[:2] in ("0x", "0X") else data)
    return bytes(data)


def sign_dynamic_fee_tx(signer: Signer, tx: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """Sign an EIP-1559 (type 2) transaction with no access list; returns (raw bytes, transaction hash).

    No ``to`` (or None) creates a contract. The same bytes as eth-account's ``sign_transaction`` (RFC 6979
    signatures are deterministic; checked in tests/chain/test_tx.py), without its dict validation and formatting
    pipeline.
    """
    to = tx.get("to")
    fields: list[Any] = [
        int(tx["chainId"]),
        int(tx["nonce"]),
        int(tx["maxPriorityFeePerGas"]),
        int(tx["maxFeePerGas"]),
        int(tx["gas"]),
        _as_bytes(to) if to else b"",
        int(tx.get("value", 0)),
        _as_bytes(tx.get("data", b"")),
        [],
    ]
    signature = signer.sign_digest(keccak(b"\x02" + _rlp(fields)))
    r, s, y_parity = signature[:32], signature[32:64], signature[64] - 27
    raw = b"\x02" + _rlp([*fields, y_parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")])
    return raw, keccak(raw)


def _call_object(tx: Mapping[str, Any], *, gas: int | None = None) -> dict[str, Any]:
    """The JSON-RPC call object (``eth_call``, ``eth_estimateGas``) of a transaction."""
    call: dict[str, Any] = {"from": tx["from"]}
    if tx.get("to"):
        call["to"] = tx["to"]
    call["data"] = "0x" + _as_bytes(tx.get("data", b"")).hex()
    call["value"] = hex(int(tx.get("value", 0)))
    if gas is not None:
        call["gas"] = hex(gas)
    return call


def _block_tag(block: str | int) -> str:
    return block if isinstance(block, str) else hex(block)


class TxSender:
    """Signs and sends transactions for one key, through ``rpc``.

    A revert found while simulating or estimating, or in a mined receipt, is raised as a ContractRevert naming
    the custom error. Transient failures are retried by re-sending the same signed bytes, so the same action is
    never sent twice under two nonces. The key's nonces are managed locally, shared by every sender of the key
    on the same transport (``rpc.nonces``).
    """

    def __init__(
        self,
        rpc: Transport,
        account: KeyHolder,
        decoder: ErrorDecoder,
        *,
        retries: int = 3,
        timeout: float = 120.0,
        fee_ttl_s: float = 0.0,
    ) -> None:
        from chain.signing import signer_of  # here: a command that only reads never signs, nor loads coincurve

        self.rpc = rpc
        self.account = signer_of(account)
        self.decoder = decoder
        self.retries = retries
        self.timeout = timeout
        self.fee_ttl_s = fee_ttl_s
        self._address = checksum(self.account.address)
        self._chain_id = rpc.chain_id
        self._nonces = rpc.nonces.of(self._address)
        self._fees_lock = threading.Lock()
        self._fees: tuple[float, dict[str, int]] | None = None

    @property
    def address(self) -> str:
        """The sender's checksum address."""
        return self._address

    # ------------------------------------------------------------ reading

    def call_data(self, to: str, data: bytes, *, block: str | int = "latest") -> bytes:
        """Run a read-only call from this key (``eth_call``); a revert is raised as the project exception."""
        call = _call_object({"from": self.address, "to": to, "data": data})
        return _as_bytes(self._rpc_result(self._retry(lambda: self.rpc.request("eth_call", [call, _block_tag(block)]))))

    # ------------------------------------------------------------ sending and waiting

    def send_data(self, to: str, data: bytes, *, value: int = 0, gas: int | None = None) -> Receipt:
        """Send a contract call and wait for its receipt (gas: the estimate plus a margin, unless given)."""
        tx: dict[str, Any] = {"to": to, "data": data, "value": value}
        if gas is not None:
            tx["gas"] = gas
        return self.send(tx)

    def deploy(self, abi: Sequence[Mapping[str, Any]], bytecode: str, *args: Any) -> Receipt:
        """Deploy a contract with constructor ``args``; the receipt's ``contract_address`` is its address."""
        return self.send({"data": ContractCodec("constructor", abi).deploy_data(bytecode, args)})

    def send(self, tx: Mapping[str, Any]) -> Receipt:
        """Fill gas, fees and nonce, sign, send, and wait; a failed transaction is raised, explained."""
        sent = self.submit(tx)
        receipt = self._wait(sent.tx_hash)
        if receipt.status != 1:
            raise self.explain(sent, receipt)
        return receipt

    def submit_data(
        self,
        to: str,
        data: bytes,
        *,
        value: int = 0,
        min_gas: int = 0,
        block_identifier: str | int = "latest",
    ) -> SentTx:
        """Simulate a contract call at ``block_identifier`` and send it without waiting.

        A revert in the simulation raises ContractRevert and nothing is sent. With a ``min_gas`` (the caller's
        worst case for this call, when the state it runs against may still change before it is mined), the call
        is first simulated once with exactly that limit (``eth_call``): if it succeeds, that is the limit sent,
        and the node is spared an estimate (a search over many executions). Otherwise, or without a
        ``min_gas``, the limit is the estimate plus the margin, but at least ``min_gas``.
        """
        tx: dict[str, Any] = {"from": self.address, "to": to, "data": data, "value": value}
        if min_gas > 0 and self._simulates_within(tx, min_gas, block_identifier):
            tx["gas"] = min_gas
            return self.submit(tx | self._fee_fields())
        estimate = self._estimate(tx, block_identifier)
        tx["gas"] = max(min_gas, estimate + estimate * _GAS_MARGIN_PERCENT // 100)
        return self.submit(tx | self._fee_fields())

    def _simulates_within(self, tx: Mapping[str, Any], gas: int, block: str | int) -> bool:
        """Whether the call succeeds with ``gas`` at ``block``; a custom error is raised as such.

        False when it cannot tell (out of gas, a revert without a known error): the caller estimates instead,
        which tells.
        """
        call = _call_object(tx, gas=gas)
        reply = self._retry(lambda: self.rpc.request("eth_call", [call, _block_tag(block)]))
        try:
            self._rpc_result(reply)
        except ContractRevert:
            raise
        except (TransactionFailed, ProviderError):
            return False
        return True

    def _estimate(self, tx: Mapping[str, Any], block: str | int = "latest") -> int:
        # Only a block other than the latest is named: some nodes take the call object alone.
        params: list[Any] = [_call_object(tx)] if block == "latest" else [_call_object(tx), _block_tag(block)]
        return int(self._rpc_result(self._retry(lambda: self.rpc.request("eth_estimateGas", params))), 16)

    def submit(self, tx: Mapping[str, Any]) -> SentTx:
        """Fill gas, fees and nonce, sign and send; return once the node holds the transaction (not mined)."""
        params = dict(tx)
        params.setdefault("chainId", self._chain_id)
        params["from"] = self.address
        params.setdefault("value", 0)
        if "gas" not in params:
            estimate = self._estimate(params)
            params["gas"] = estimate + estimate * _GAS_MARGIN_PERCENT // 100
        if "maxFeePerGas" not in params or "maxPriorityFeePerGas" not in params:
            params |= self._fee_fields()
        nonce = self._nonces.take(lambda: self.rpc.transaction_count(self.address, "pending"))
        params["nonce"] = nonce
        try:
            raw, expected = sign_dynamic_fee_tx(self.account, params)
            tx_hash = self._send_raw(raw, expected)
        except BaseException as exc:
            self._give_back(nonce, exc)
            raise
        return SentTx(tx_hash=tx_hash, nonce=nonce, gas=int(params["gas"]), params=params)

    def outcome(self, sent: SentTx) -> Receipt | None:
        """The receipt of a submitted transaction, or None while it is not mined (no waiting)."""
        raw = self._rpc_result(self._retry(lambda: self.rpc.request("eth_getTransactionReceipt", [sent.tx_hash])))
        return _receipt(raw) if isinstance(raw, dict) else None

    def outcomes(self, sent: Sequence[SentTx]) -> list[Receipt | None]:
        """The receipts of many submitted transactions (None for those not mined), in one round trip if possible."""
        if not sent:
            return []
        calls = [("eth_getTransactionReceipt", [tx.tx_hash]) for tx in sent]
        try:
            replies = self._retry(lambda: self.rpc.batch(calls))
        except ChainError:  # a node that does not batch: one by one
            return [self.outcome(tx) for tx in sent]
        found: dict[str, Receipt] = {}  # matched by hash, not only by position
        for reply in replies:
            raw = reply.get("result")
            if isinstance(raw, dict) and raw.get("transactionHash"):
                found[str(raw["transactionHash"]).lower()] = _receipt(raw)
        return [found.get(tx.tx_hash.lower()) for tx in sent]

    def explain(self, sent: SentTx, receipt: Receipt) -> ContractRevert | TransactionFailed:
        """Why a mined transaction failed: the custom error of replaying it on its parent block, if any."""
        call = _call_object(sent.params, gas=int(sent.params["gas"]))
        reply = self.rpc.request("eth_call", [call, hex(receipt.block_number - 1)])
        error = reply.get("error")
        explained = self.decoder.from_reply(error) if error is not None else None
        if explained is not None:
            return explained
        why = f": {error}" if error is not None else f" (gas used {receipt.gas_used})"
        return TransactionFailed(f"transaction {receipt.tx_hash} failed{why}")

    def mined_count(self) -> int:
        """How many of this key's transactions are mined (its nonce at the latest block)."""
        return int(
            self._rpc_result(
                self._retry(lambda: self.rpc.request("eth_getTransactionCount", [self.address, "latest"]))
            ),
            16,
        )

    # ------------------------------------------------------------ plumbing

    def _fee_fields(self) -> dict[str, int]:
        """EIP-1559 fee fields, reused for ``fee_ttl_s`` (max fee = 2 x base fee + tip)."""
        now = time.monotonic()
        with self._fees_lock:
            if self._fees is not None and now - self._fees[0] < self.fee_ttl_s:
                return self._fees[1]
        calls: list[tuple[str, list[Any]]] = [
            ("eth_maxPriorityFeePerGas", []),
            ("eth_getBlockByNumber", ["latest", False]),
        ]
        tip_reply, block_reply = self._retry(lambda: self.rpc.batch(calls))
        tip = int(self._rpc_result(tip_reply), 16)
        base = int((self._rpc_result(block_reply) or {}).get("baseFeePerGas", "0x0"), 16)
        fees = {"maxPriorityFeePerGas": tip, "maxFeePerGas": tip + 2 * base}
        with self._fees_lock:
            self._fees = (now, fees)
        return fees

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
            "to": self.address,
            "value": 0,
            "gas": 21_000,
            "nonce": nonce,
            **self._fee_fields(),
        }
        try:
            raw, expected = sign_dynamic_fee_tx(self.account, filler)
            self._send_raw(raw, expected)
        except Exception:
            self._nonces.reset()  # the gap stays: ask the chain next time (it knows the pending count)

    def _rpc_result(self, reply: Mapping[str, Any]) -> Any:
        return reply_result(reply, self.decoder)

    def _send_raw(self, raw: bytes, expected_hash: bytes) -> str:
        expected = "0x" + expected_hash.hex()
        retried = False
        for attempt in range(self.retries + 1):
            try:
                return str(self._rpc_result(self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])))
            except _TRANSIENT:
                # The same signed bytes are re-sent: if the first attempt did reach the node, the node refuses
                # the copy (already known, or nonce too low once mined) and we find ours by its hash. The same
                # action is never sent twice under two nonces.
                if attempt == self.retries:
                    raise
                retried = True
                time.sleep(0.2 * 2**attempt)
            except ProviderError as exc:
                if (retried and self._known(expected)) or _already_known(exc):
                    return expected
                raise ChainError(f"the node refused the transaction: {exc}") from exc
        raise AssertionError("unreachable")

    def _known(self, tx_hash: str) -> bool:
        try:
            return self.rpc.result("eth_getTransactionByHash", [tx_hash]) is not None
        except Exception:  # the node still does not answer
            return False

    def _wait(self, tx_hash: str) -> Receipt:
        give_up = time.monotonic() + self.timeout
        while True:
            raw = self._rpc_result(self._retry(lambda: self.rpc.request("eth_getTransactionReceipt", [tx_hash])))
            if isinstance(raw, dict):
                return _receipt(raw)
            if time.monotonic() >= give_up:
                self._nonces.reset()  # perhaps a nonce ahead of the node's (it was restarted): ask it next time
                raise ChainError(f"no receipt for {tx_hash} within {self.timeout:.0f} s")
            time.sleep(_RECEIPT_POLL_S)

    def _retry(self, action: Callable[[], _T]) -> _T:
        for attempt in range(self.retries + 1):
            try:
                return action()
            except _TRANSIENT:
                if attempt == self.retries:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


def reply_result(reply: Mapping[str, Any], decoder: ErrorDecoder) -> Any:
    """The result of a JSON-RPC reply; an error is raised as a revert (ContractRevert, TransactionFailed) if it
    is one, else as ProviderError."""
    error = reply.get("error")
    if error is None:
        return reply.get("result")
    revert = decoder.from_reply(error)
    if revert is not None:
        raise revert
    raise ProviderError(str(error), error)


def _receipt(raw: Mapping[str, Any]) -> Receipt:
    """A Receipt from a JSON-RPC receipt object."""
    return Receipt(
        tx_hash=str(raw["transactionHash"]).lower(),
        block_number=int(raw["blockNumber"], 16),
        block_hash=str(raw["blockHash"]).lower(),
        gas_used=int(raw["gasUsed"], 16),
        status=int(raw.get("status", "0x1"), 16),
        raw=raw,
    )


def _already_known(exc: ProviderError) -> bool:
    text = str(exc).lower()
    return "already known" in text or "known transaction" in text or "already imported" in text
