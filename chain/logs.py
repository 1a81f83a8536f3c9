"""Reading the ledger's logs from a node, and decoding them with the compiled ABIs.

``ChainSource`` is read-only access to a node through its transport: the head, block headers, ``eth_getLogs``
and batched ``eth_call``, as raw JSON-RPC (web3's result formatting would cost more than the whole rest of
indexing): callers see logs as JSON-RPC gives them.

``EventDecoder`` turns such a log into a ``DecodedLog``. Each event's readers are built once from the ABI
(``chain.abi.EventLayout``): a table from topic 0 to a precomputed list of field readers that slice the log's hex
words directly, which is many times faster than a generic ABI decoder. Dynamic data (strings, bytes, arrays,
structs) follows the ABI's offsets with bounds checks.

Decoded values: integers as ``int``, addresses checksummed, ``bytesN``/``bytes`` as ``0x`` lowercase hex,
structs as dicts by component name, arrays as lists, strings as text. A string is whatever bytes its emitter
chose: one that is not valid UTF-8 (or holds a NUL, which SQL text columns refuse) is decoded with U+FFFD in
place of what could not be decoded, and its exact bytes are kept in ``DecodedLog.raw_strings``, so that
decoding never fails and never loses anything on such content.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from chain.abi import WORD, ContractCodec, EventLayout, checksum
from chain.errors import ChainError, DecodeError, ProviderError
from chain.transport import Transport

if TYPE_CHECKING:
    from chain._compiler import Build

__all__ = [
    "CONTRACT_KINDS",
    "ChainSource",
    "DecodeError",
    "DecodedLog",
    "EventDecoder",
    "Header",
    "ProviderError",
    "checksum",
    "gc_paused",
    "quantity",
]

# Which compiled contract each kind of trusted emitter runs.
CONTRACT_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "registry": "AccessRegistry",
        "token": "YenToken",
        "factory": "ProcurementFactory",
        "escrow": "MilestoneEscrow",
        "budget": "BudgetLedger",
        "budget_office": "BudgetOffice",
    }
)


@dataclass(frozen=True, slots=True)
class Header:
    """What a log reader needs of a block."""

    number: int
    hash: str
    parent_hash: str


_NO_RAW_STRINGS: Mapping[str, str] = MappingProxyType({})


class DecodedLog(NamedTuple):
    """One log of a known emitter, decoded.

    ``raw_strings`` holds, by argument path (``title``, ``params.title``, ``names.2``), the exact bytes (``0x``
    hex) of each string argument that is not clean UTF-8 text; ``args`` holds its replacement-decoded text.

    A NamedTuple, not a frozen dataclass: a catch-up builds one per log, and a frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field) cost about a third of decoding.
    """

    chain_id: int
    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    emitter: str
    kind: str
    event: str
    args: Mapping[str, Any]
    raw_strings: Mapping[str, str] = _NO_RAW_STRINGS  # shared and read-only
    block_time: int | None = None  # the block's timestamp (seconds since the epoch), when the log carried it


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (process-wide; nestable and thread-safe).

    Parsing, decoding and mapping a range of logs allocates hundreds of thousands of small acyclic objects
    (dicts, strings, tuples): each allocation burst triggers collections that traverse every live object again,
    which costs about as much as the work itself. Nothing is leaked: reference counting frees these objects,
    and the collector resumes (and finds any cycle) when the last pause ends.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


# ---------------------------------------------------------------- JSON-RPC


class ChainSource:
    """Read-only access to a node: head, headers, logs and batched eth_call."""

    def __init__(self, rpc: Transport) -> None:
        self.rpc = rpc
        self.concurrent = rpc.concurrent  # whether a second thread may fetch while the first one decodes
        self._aggregates = True  # whether eth_calls are still made through the aggregator (``call_many``)

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            return self.rpc.result(method, params)
        except ProviderError:
            raise
        except (OSError, ValueError, ChainError) as exc:  # the node is away, or answered nonsense
            raise ProviderError(f"{method} failed: {type(exc).__name__}: {exc}") from exc

    @property
    def chain_id(self) -> int:
        """The chain id (asked once)."""
        return self.rpc.chain_id

    def head(self) -> int:
        """The latest block number."""
        return int(self._request("eth_blockNumber", []), 16)

    def genesis_hash(self) -> str:
        """Block 0's hash: which chain this is, where chain ids repeat (every dev chain is 31337)."""
        genesis = self.header(0)
        if genesis is None:
            raise ChainError("the node has no block 0")
        return genesis.hash

    def header(self, number: int) -> Header | None:
        """Block ``number``'s hash and parent hash, or None if the chain has no such block (yet)."""
        return _header(self._request("eth_getBlockByNumber", [hex(number), False]))

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        """The headers of blocks ``numbers`` in one round trip, as ``header`` gives them (None: no such block yet)."""
        try:
            replies = self.rpc.batch([("eth_getBlockByNumber", [hex(number), False]) for number in numbers])
        except (OSError, ValueError, ChainError) as exc:
            raise ProviderError(f"eth_getBlockByNumber batch failed: {type(exc).__name__}: {exc}") from exc
        found: list[Header | None] = []
        for reply in replies:
            if "error" in reply:
                raise ProviderError(f"eth_getBlockByNumber failed: {reply['error']}", reply["error"])
            found.append(_header(reply.get("result")))
        return found

    def block_times(self, numbers: Sequence[int], batch: int = 500) -> dict[int, int]:
        """The timestamp of each block in ``numbers``, ``batch`` headers per round trip (for nodes whose logs do
        not carry ``blockTimestamp``). A block the node does not have is an error."""
        times: dict[int, int] = {}
        for start in range(0, len(numbers), batch):
            chunk = numbers[start : start + batch]
            try:
                replies = self.rpc.batch([("eth_getBlockByNumber", [hex(number), False]) for number in chunk])
            except (OSError, ValueError, ChainError) as exc:
                raise ProviderError(f"eth_getBlockByNumber batch failed: {type(exc).__name__}: {exc}") from exc
            for number, reply in zip(chunk, replies, strict=True):
                block = reply.get("result")
                if "error" in reply or block is None:
                    raise ProviderError(f"block {number} is not on the node: {reply.get('error')}")
                times[number] = quantity(block["timestamp"])
        return times

    def tx_senders(self, tx_hashes: Sequence[str], batch: int = 500) -> dict[str, str]:
        """Who sent each transaction of ``tx_hashes`` (checksummed), ``batch`` per round trip."""
        senders: dict[str, str] = {}
        for start in range(0, len(tx_hashes), batch):
            chunk = tx_hashes[start : start + batch]
            try:
                replies = self.rpc.batch([("eth_getTransactionByHash", [tx_hash]) for tx_hash in chunk])
            except (OSError, ValueError, ChainError) as exc:
                raise ProviderError(f"eth_getTransactionByHash batch failed: {type(exc).__name__}: {exc}") from exc
            for tx_hash, reply in zip(chunk, replies, strict=True):
                found = reply.get("result")
                if "error" in reply or not isinstance(found, dict):
                    raise ProviderError(f"transaction {tx_hash} is not on the node: {reply.get('error')}")
                senders[tx_hash] = checksum(str(found["from"]))
        return senders

    def with_block_times(self, logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``logs``, each with its block's ``blockTimestamp``: newer nodes (anvil, geth 1.16) put it in every log;
        for others the blocks' headers are asked in one batch."""
        missing = sorted({quantity(log["blockNumber"]) for log in logs if log.get("blockTimestamp") is None})
        if missing:
            times = self.block_times(missing)
            for log in logs:
                if log.get("blockTimestamp") is None:
                    log["blockTimestamp"] = times[quantity(log["blockNumber"])]
        return logs

    def logs(self, from_block: int, to_block: int, topics: Sequence[str]) -> list[dict[str, Any]]:
        """The logs in ``[from_block, to_block]`` whose topic 0 is one of ``topics``, in chain order, as JSON-RPC
        returns them (hex strings)."""
        with gc_paused():  # parsing the reply builds a dict and several strings per log
            found: list[dict[str, Any]] = self._request(
                "eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": hex(to_block), "topics": [list(topics)]}]
            )
            return found

    def call_many(self, calls: Sequence[tuple[str, str]], block: int, batch: int = 500) -> list[bytes]:
        """eth_call each (to, calldata) at ``block``; a revert is an error.

        Where the node takes eth_call's state override (anvil, geth, Besu), ``_AGGREGATED`` calls are made by one
        eth_call to an aggregator placed for that call only (``_AGGREGATOR_CODE``), ``batch`` calls per round
        trip: the node runs one request instead of hundreds. Where it does not (an error, or a reply that is not
        the aggregator's: eth-tester ignores the override and answers an empty account's nothing), each call is
        its own eth_call, ``batch`` per round trip (``_each_called``), from then on. Through the aggregator, a
        call's ``msg.sender`` is the aggregator: only for views that do not ask who calls them."""
        if not self._aggregates or not calls:
            return self._each_called(calls, block, batch)
        results: list[bytes] = []
        per_trip = max(1, batch // _AGGREGATED) * _AGGREGATED
        for start in range(0, len(calls), per_trip):
            chunks = [
                calls[at : at + _AGGREGATED] for at in range(start, min(start + per_trip, len(calls)), _AGGREGATED)
            ]
            requests = [
                ("eth_call", [{"to": _AGGREGATOR, "data": _aggregated(chunk)}, hex(block), _OVERRIDE])
                for chunk in chunks
            ]
            try:
                replies = self.rpc.batch(requests)
            except (OSError, ValueError, ChainError) as exc:
                raise ProviderError(f"eth_call batch failed: {type(exc).__name__}: {exc}") from exc
            for chunk, reply in zip(chunks, replies, strict=True):
                answers = None if "error" in reply else _answers(str(reply.get("result")), len(chunk))
                if answers is None:  # a call reverted (asked alone, it is named), or the node is no aggregator's
                    answers = self._each_called(chunk, block, batch)
                    self._aggregates = False  # every call was answered alone: the node does not take the override
                results += answers
        return results

    def _each_called(self, calls: Sequence[tuple[str, str]], block: int, batch: int) -> list[bytes]:
        """eth_call each (to, calldata) at ``block`` on its own, ``batch`` calls per round trip."""
        results: list[bytes] = []
        for start in range(0, len(calls), batch):
            chunk = calls[start : start + batch]
            requests = [("eth_call", [{"to": to, "data": data}, hex(block)]) for to, data in chunk]
            try:
                replies = self.rpc.batch(requests)
            except (OSError, ValueError, ChainError) as exc:
                raise ProviderError(f"eth_call batch failed: {type(exc).__name__}: {exc}") from exc
            for (to, _), reply in zip(chunk, replies, strict=True):
                if "error" in reply:
                    raise ProviderError(f"eth_call to {to} failed: {reply['error']}", reply["error"])
                results.append(bytes.fromhex(str(reply["result"])[2:]))
        return results


# The aggregator, placed by eth_call's state override at an address no contract has (a hash's last 20 bytes),
# for that call only: nothing is deployed. Its calldata is, per call, [to: 32-byte word][n: word][n bytes of
# calldata]; it STATICCALLs each in turn and returns, per call, [m: word][m bytes of answer]; any revert reverts
# the whole. Assembled from (stack top first; p: calldata read so far, o: answer written so far):
#   PUSH0 PUSH0                                              [p=0, o=0]
#   loop: JUMPDEST CALLDATASIZE DUP2 LT PUSH1 body JUMPI     while p < calldatasize
#   POP PUSH0 RETURN                                         return memory[0:o]
#   body: JUMPDEST DUP1 CALLDATALOAD DUP2 PUSH1 32 ADD CALLDATALOAD             [n, to, p, o]
#   DUP1 DUP4 PUSH1 64 ADD DUP6 PUSH1 32 ADD CALLDATACOPY                       memory[o+32:] = the calldata
#   PUSH0 PUSH0 DUP3 DUP7 PUSH1 32 ADD DUP6 GAS STATICCALL PUSH1 ok JUMPI       staticcall(gas, to, o+32, n, 0, 0)
#   PUSH0 PUSH0 REVERT                                       a call reverted
#   ok: JUMPDEST SWAP1 POP PUSH1 64 ADD ADD                  [p+64+n, o]
#   RETURNDATASIZE DUP1 DUP4 MSTORE                          memory[o] = m
#   DUP1 PUSH0 DUP5 PUSH1 32 ADD RETURNDATACOPY              memory[o+32:] = the answer
#   DUP3 ADD PUSH1 32 ADD SWAP2 POP PUSH1 loop JUMP          [p, o+32+m]
_AGGREGATOR_CODE = (
    "0x5f5f5b368110600c57505ff35b80358160200135808360400185602001375f5f8286602001855afa602e575f5ffd5b90506040010"
    "13d808352805f846020013e82016020019150600256"
)
_AGGREGATOR = "0x12431A4052c95f691A3A094c2c639d86E3f83359"  # keccak("procure: call_many aggregator")[-20:]
_OVERRIDE = {_AGGREGATOR: {"code": _AGGREGATOR_CODE}}
_AGGREGATED = 250  # calls per aggregated eth_call: its gas (cold reads, memory) stays far below a block's limit


def _aggregated(calls: Sequence[tuple[str, str]]) -> str:
    """The aggregator's calldata for ``calls``."""
    parts = []
    for to, data in calls:
        body = bytes.fromhex(data[2:])
        parts.append(bytes(12) + bytes.fromhex(to[2:]) + len(body).to_bytes(32, "big") + body)
    return "0x" + b"".join(parts).hex()


def _answers(result: str, count: int) -> list[bytes] | None:
    """The aggregator's reply as ``count`` answers; None if it is not one (too few, too many, a length that runs
    past the end)."""
    try:
        raw = bytes.fromhex(result[2:]) if result.startswith("0x") else None
    except ValueError:
        raw = None
    if raw is None:
        return None
    answers: list[bytes] = []
    at = 0
    while at < len(raw) and len(answers) < count:
        size = int.from_bytes(raw[at : at + 32], "big")
        end = at + 32 + size
        if at + 32 > len(raw) or end > len(raw):
            return None
        answers.append(raw[at + 32 : end])
        at = end
    return answers if len(answers) == count and at == len(raw) else None


class EventDecoder:
    """Decodes the events of each kind of trusted emitter (registry, token, factory, escrow, budget ledger and
    office)."""

    def __init__(self, build: Build) -> None:
        self._setup({kind: build.codec(contract) for kind, contract in CONTRACT_KINDS.items()})

    def _setup(self, codecs: Mapping[str, ContractCodec]) -> None:
        self._events: dict[str, Mapping[str, EventLayout]] = {}
        self.event_names: dict[str, set[str]] = {}
        for kind, codec in codecs.items():
            events = codec.events
            self._events[kind] = events
            self.event_names[kind] = {event.name for event in events.values()}
        # The last log's block hash and transaction hash, as the node sent them and as decoded: the logs of one block
        # (of one transaction) come one after the other and share one string each, which a plan marshals and its
        # writer reads back once (then by reference) instead of once per log. One tuple, replaced whole: safe to
        # share between threads.
        self._last: tuple[str, str, str, str] = ("", "", "", "")

    @staticmethod
    def event_abis(build: Build) -> dict[str, list[dict[str, Any]]]:
        """The ABI entries of the events of each kind's contract: all ``from_event_abis`` needs (plain values, for
        a process that has no build)."""
        return {
            kind: [dict(entry) for entry in build[contract].abi if entry.get("type") == "event"]
            for kind, contract in CONTRACT_KINDS.items()
        }

    @classmethod
    def from_event_abis(cls, abis: Mapping[str, Sequence[dict[str, Any]]]) -> EventDecoder:
        """The decoder of a build, from its ``event_abis`` (without the build: ``chain._compiler`` is not imported)."""
        decoder = cls.__new__(cls)
        decoder._setup({kind: ContractCodec(contract, tuple(abis[kind])) for kind, contract in CONTRACT_KINDS.items()})
        return decoder

    def topics(self) -> list[str]:
        """Every event signature (topic 0) of the ledger's contracts, for an eth_getLogs filter."""
        return sorted({topic for events in self._events.values() for topic in events})

    def all_event_names(self) -> set[str]:
        """The names of every event the contracts can emit."""
        return {name for names in self.event_names.values() for name in names}

    def decode(self, raw: Mapping[str, Any], kind: str, chain_id: int) -> DecodedLog | None:
        """``raw`` is a JSON-RPC log (hex strings); None if its topic is no event of ``kind``."""
        topics: Sequence[str] = raw["topics"]
        if not topics:
            return None
        event = self._events[kind].get(topics[0]) or self._events[kind].get(str(topics[0]).lower())
        if event is None:
            return None
        if len(topics) != len(event.topics) + 1:
            raise DecodeError(f"{event.name} at {raw['transactionHash']}:{raw['logIndex']} has {len(topics)} topics")
        strings: dict[str, str] = {}
        data = str(raw["data"])[2:].lower()
        try:
            if len(data) < event.head or len(data) % 2:
                raise DecodeError(f"{event.name} data has {len(data) // 2} bytes")
            args = event.read_args(topics, data, strings)
            if args is None:  # a topic of another length than 0x and one word: read one by one, padded
                args = {}
                for (name, read), topic in zip(event.topics, topics[1:], strict=True):
                    args[name] = read(str(topic)[2:].lower().rjust(WORD, "0"), 0, 0, name, strings)
                for name, read, at in event.fields:
                    args[name] = read(data, 0, at, name, strings)
                if event.order is not None:
                    args = {name: args[name] for name in event.order}
        except (ValueError, TypeError, OverflowError) as exc:  # a DecodeError, or malformed hex
            where = f"{raw['transactionHash']}:{raw['logIndex']}"
            raise DecodeError(f"cannot decode {event.name} at {where}: {exc}") from None
        number, tx_index, log_index = raw["blockNumber"], raw["transactionIndex"], raw["logIndex"]
        if type(number) is str:  # JSON-RPC; the golden recordings of tests/indexer carry ints
            number, tx_index, log_index = int(number, 16), int(tx_index, 16), int(log_index, 16)
        stamp = raw.get("blockTimestamp")
        block, tx = str(raw["blockHash"]), str(raw["transactionHash"])
        last_block, block_hash, last_tx, tx_hash = self._last
        if block != last_block:
            block_hash = block.lower()
        if tx != last_tx:
            tx_hash = tx.lower()
        self._last = (block, block_hash, tx, tx_hash)
        return DecodedLog(
            chain_id,
            int(number),
            block_hash,
            tx_hash,
            int(tx_index),
            int(log_index),
            checksum(str(raw["address"])),
            kind,
            event.name,
            args,
            strings or _NO_RAW_STRINGS,
            None if stamp is None else quantity(stamp),
        )


def _header(block: Mapping[str, Any] | None) -> Header | None:
    """A header from an ``eth_getBlockByNumber`` result (None: no such block)."""
    if block is None:
        return None
    return Header(int(block["number"], 16), str(block["hash"]).lower(), str(block["parentHash"]).lower())


def quantity(value: Any) -> int:
    """A JSON-RPC quantity (hex) or a recorded one (int)."""
    return int(value, 16) if isinstance(value, str) else int(value)
