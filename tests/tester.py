"""An in-process eth-tester chain (py-evm) for tests and benchmarks, and its transport.

``TesterTransport`` answers the JSON-RPC methods chain/ sends, in the shape a node sends them (hex quantities,
camelCase keys, reverts as error objects with their data), so that everything above the transport runs the
same code on eth-tester as on anvil. eth-tester mines every transaction at once, so ``pending`` is ``latest``.
"""

from __future__ import annotations

import ast
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from eth.constants import GENESIS_PARENT_HASH
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.spoof import SpoofTransaction
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys, get_default_account_keys
from eth_tester.exceptions import BlockNotFound, TransactionFailed, TransactionNotFound
from eth_utils.crypto import keccak
from web3 import EthereumTesterProvider, Web3

from chain import Signer, Transport

__all__ = [
    "TESTER_CHAIN_ID",
    "Tester",
    "TesterTransport",
    "deterministic_account",
    "fund_accounts",
    "new_tester",
]

TESTER_CHAIN_ID = 131277322940537  # eth-tester's default chain id
_FUNDING_WEI = 10**21
_TIP_WEI = 10**9  # what web3's eth-tester provider answers to eth_maxPriorityFeePerGas


class _Backend(PyEVMBackend):  # type: ignore[misc]
    """py-evm, rewound without executing again: eth-tester's revert makes the snapshot's block the canonical head
    and then imports that block again (every transaction in it run and checked once more, a contract deployment
    included), only to build the next pending block on it. The block is already stored and was checked when it was
    mined: only the pending block is built here. The genesis block goes through eth-tester's own path."""

    def revert_to_snapshot(self, snapshot: Any) -> None:
        block = self.chain.get_block_by_hash(snapshot)
        if block.number == 0:
            super().revert_to_snapshot(snapshot)
            return
        chaindb = self.chain.chaindb
        chaindb._set_as_canonical_chain_head(chaindb.db, block.header, GENESIS_PARENT_HASH)
        self.chain.header = self.chain.ensure_header()


class Tester(EthereumTester):  # type: ignore[misc]
    """eth-tester on py-evm; a snapshot revert also makes every sender through its transports ask the chain for
    its next nonce (the nonces it handed out since the snapshot are gone).

    Mined blocks and receipts are remembered until the chain is rewound. eth-tester answers ``eth_getLogs`` by
    reading every block of the range and every transaction's receipt, and py-evm finds a receipt by walking back
    from the head block by block: a log query from the deployment block cost time quadratic in the chain's
    length, again for every test. A mined block and its receipts do not change until a snapshot revert (or a
    reset) rewinds the chain past them, which forgets them.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, genesis_state: dict[bytes, dict[str, Any]] | None = None) -> None:
        super().__init__(_Backend(genesis_state=genesis_state))
        self._transports: weakref.WeakSet[TesterTransport] = weakref.WeakSet()
        self._blocks: dict[tuple[int, bool], Any] = {}
        self._receipts: dict[Any, Any] = {}

    def get_block_by_number(self, block_number: Any = "latest", full_transactions: bool = False) -> Any:
        if not isinstance(block_number, int) or block_number > self.backend.chain.get_canonical_head().block_number:
            # a tag names another block as the chain grows; the block past the head is still being built
            return super().get_block_by_number(block_number, full_transactions)
        key = (block_number, full_transactions)
        if key not in self._blocks:
            self._blocks[key] = super().get_block_by_number(block_number, full_transactions)
        return self._blocks[key]

    def get_transaction_receipt(self, transaction_hash: Any) -> Any:
        key = transaction_hash.lower() if isinstance(transaction_hash, str) else transaction_hash
        if key in self._receipts:
            return self._receipts[key]
        receipt = super().get_transaction_receipt(transaction_hash)
        if receipt.get("block_number") is not None:  # mined: final until the chain is rewound
            self._receipts[key] = receipt
        return receipt

    def estimate_gas(self, transaction: Any, block_number: Any = "latest") -> Any:
        self.backend.chain.gas_estimator = _two_run_gas_estimate  # the backend makes a new chain on some reverts
        return super().estimate_gas(transaction, block_number)

    def _forget_mined(self, after: int = -1) -> None:
        """Forget the blocks and receipts past block ``after`` (the head a revert went back to)."""
        self._blocks = {key: block for key, block in self._blocks.items() if key[0] <= after}
        self._receipts = {key: r for key, r in self._receipts.items() if r["block_number"] <= after}

    def revert_to_snapshot(self, snapshot_id: Any) -> None:
        super().revert_to_snapshot(snapshot_id)
        self._forget_mined(after=self.backend.chain.get_canonical_head().block_number)
        for transport in list(self._transports):
            transport.nonces.forget()

    def reset_to_genesis(self) -> None:
        super().reset_to_genesis()
        self._forget_mined()


def _two_run_gas_estimate(state: Any, transaction: Any) -> int:
    """A gas limit at which ``transaction`` succeeds, found in two runs: py-evm's own estimator searches between the
    intrinsic gas and the block's limit, about a dozen runs of the transaction for every estimate, half the time of
    the contract tests. Run once at the block's limit (a failure there is the estimate's error, as in py-evm's), then
    confirm that what it used, with a margin for the gas each nested call must leave behind (EIP-150's 63/64) and
    for refunds counted only at the end, is enough; py-evm's search decides when it is not."""

    def run(gas: int) -> Any:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(transaction, gas=gas, gas_price=0))
        finally:
            state.revert(snapshot)

    at_limit = run(state.gas_limit)
    if at_limit.is_error:
        raise at_limit.error
    intrinsic = transaction.intrinsic_gas
    candidate = min(state.gas_limit, intrinsic + at_limit.get_gas_used() * 11 // 10)
    if not run(candidate).is_error:
        return int(candidate)
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json(value: Any) -> Any:
    """An eth-tester value in JSON-RPC shape: quantities and bytes as hex, snake_case keys as camelCase."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {_camel(str(key)): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return value


def _block(params: list[Any]) -> Any:
    """The block a request names (its block tag or hex number, if any) as eth-tester takes it."""
    tag = params[0] if params else "latest"
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    return "latest" if tag == "pending" else tag


def _transaction(tester: EthereumTester, call: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC call object as eth-tester takes it: ints, and a sender even when none is named (its first,
    prefunded account, as web3's eth-tester provider does: eth-tester charges a call's gas to its sender)."""
    tx: dict[str, Any] = {"from": call.get("from") or tester.get_accounts()[0], "data": call.get("data", "0x")}
    if call.get("to"):
        tx["to"] = call["to"]
    for key in ("value", "gas"):
        if key in call:
            tx[key] = int(call[key], 16)
    return tx


def _revert_data(exc: TransactionFailed) -> str | None:
    """The revert data eth-tester carries in a TransactionFailed (bytes, or their repr), as hex."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, Exception):  # eth-tester sometimes wraps the EVM's exception
        first = first.args[0] if first.args else None
    if isinstance(first, str) and first[:2] in ("b'", 'b"'):
        try:
            first = ast.literal_eval(first)
        except (ValueError, SyntaxError):
            return None
    return "0x" + bytes(first).hex() if isinstance(first, bytes | bytearray) else None


class TesterTransport(Transport):
    """The JSON-RPC methods chain/ uses, answered by an in-process eth-tester chain (one call at a time)."""

    concurrent = False  # eth-tester is not thread-safe: no second thread fetching beside the first
    __test__ = False  # not a test class, whatever its name

    def __init__(self, tester: Tester) -> None:
        super().__init__(f"eth-tester:{id(tester)}")
        self.tester = tester
        tester._transports.add(self)
        self._lock = threading.RLock()
        t = tester
        self._methods: dict[str, Callable[[list[Any]], Any]] = {
            "eth_chainId": lambda p: hex(TESTER_CHAIN_ID),
            "eth_blockNumber": lambda p: hex(t.get_block_by_number("latest")["number"]),
            "eth_getBlockByNumber": lambda p: _json(t.get_block_by_number(_block(p[:1]), bool(p[1]))),
            "eth_getLogs": lambda p: _json(t.get_logs(**_log_filter(p[0]))),
            "eth_call": lambda p: t.call(_transaction(t, p[0]), _block(p[1:])),
            "eth_estimateGas": lambda p: hex(t.estimate_gas(_transaction(t, p[0]), _block(p[1:]))),
            "eth_sendRawTransaction": lambda p: t.send_raw_transaction(p[0]),
            "eth_getTransactionReceipt": lambda p: _json(t.get_transaction_receipt(p[0])),
            "eth_getTransactionByHash": lambda p: _json(t.get_transaction_by_hash(p[0])),
            "eth_getTransactionCount": lambda p: hex(t.get_nonce(p[0], _block(p[1:]))),
            "eth_getCode": lambda p: t.get_code(p[0], _block(p[1:])),
            "eth_getBalance": lambda p: hex(t.get_balance(p[0], _block(p[1:]))),
            "eth_maxPriorityFeePerGas": lambda p: hex(_TIP_WEI),
        }

    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """One call, answered as a node would: ``{"result": ...}`` or ``{"error": ...}``."""
        handler = self._methods.get(method)
        if handler is None:
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": f"no method {method}"}}
        try:
            with self._lock:
                return {"jsonrpc": "2.0", "id": 1, "result": handler(params)}
        except (TransactionNotFound, BlockNotFound):  # a node answers null
            return {"jsonrpc": "2.0", "id": 1, "result": None}
        except TransactionFailed as exc:
            error: dict[str, Any] = {"code": 3, "message": f"execution reverted: {exc}"}
            data = _revert_data(exc)
            if data is not None:
                error["data"] = data
            return {"jsonrpc": "2.0", "id": 1, "error": error}
        except Exception as exc:  # eth-tester's validation errors: the node refuses the request
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": f"{type(exc).__name__}: {exc}"}}

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """The calls one after the other."""
        return [self.request(method, params) for method, params in calls]


def _log_filter(query: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"from_block": _block([query.get("fromBlock", "latest")])}
    found["to_block"] = _block([query.get("toBlock", "latest")])
    if "address" in query:
        found["address"] = query["address"]
    if "topics" in query:
        found["topics"] = query["topics"]
    return found


def new_tester(alloc: dict[str, Any] | None = None) -> tuple[Web3, TesterTransport]:
    """A fresh eth-tester chain with automine: a Web3 bound to it (for the tests' contract objects) and its
    transport (``.tester`` is the chain). ``alloc``: a genesis file's accounts (hex, as Besu reads them), beside
    eth-tester's own funded accounts."""
    tester = Tester(None if alloc is None else _genesis_state(alloc))
    w3 = Web3(EthereumTesterProvider(tester))
    # The sender of a call that names none, as web3 would guess it, but without asking for (and checksumming)
    # every account of the chain before each call: a third of the time of the tests' view calls.
    w3.eth.default_account = tester.get_accounts()[0]
    return w3, TesterTransport(tester)


def _genesis_state(alloc: dict[str, Any]) -> dict[bytes, dict[str, Any]]:
    state: dict[bytes, dict[str, Any]] = generate_genesis_state_for_keys(get_default_account_keys(quantity=10))
    for address, account in alloc.items():
        state[bytes.fromhex(address.removeprefix("0x"))] = {
            "balance": int(account.get("balance", "0x0"), 16),
            "nonce": int(account.get("nonce", "0x0"), 16),
            "code": bytes.fromhex(account.get("code", "0x").removeprefix("0x")),
            "storage": {int(slot, 16): int(value, 16) for slot, value in account.get("storage", {}).items()},
        }
    return state


def fund_accounts(tester: EthereumTester, accounts: Sequence[LocalAccount | Signer]) -> None:
    """Give each account ether for gas, from eth-tester's prefunded first account."""
    source = tester.get_accounts()[0]
    for account in accounts:
        tester.send_transaction(
            {
                "from": source,
                "to": account.address,
                "value": _FUNDING_WEI,
                "gas": 21000,
                "max_fee_per_gas": 10**10,
                "max_priority_fee_per_gas": 1,
            }
        )


def deterministic_account(label: str) -> LocalAccount:
    """A key derived from ``label``: stable across runs, for tests and demos only."""
    account: LocalAccount = Account.from_key(keccak(text=f"procurement-ledger test key: {label}"))
    return account
