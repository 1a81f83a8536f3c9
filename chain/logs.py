"""Reading the ledger's logs from a node, and decoding them with the compiled ABIs.

``ChainSource`` is read-only access to a node: the head, block headers, ``eth_getLogs`` and batched
``eth_call``. Over HTTP it sends raw JSON-RPC (web3's result formatting costs more than the whole rest of
indexing); on other providers (eth-tester) it goes through web3's formatted API and converts back, so that
callers always see JSON-RPC-shaped logs.

``EventDecoder`` turns such a log into a ``DecodedLog``. Each event's decoder is built once from the ABI:
a table from topic 0 to a precomputed list of field readers that slice the log's hex words directly, which is
many times faster than a generic ABI decoder. Dynamic data (strings, bytes, arrays, structs) follows the ABI's
offsets with bounds checks.

Decoded values: integers as ``int``, addresses checksummed, ``bytesN``/``bytes`` as ``0x`` lowercase hex,
structs as dicts by component name, arrays as lists, strings as text. A string is whatever bytes its emitter
chose: one that is not valid UTF-8 (or holds a NUL, which SQL text columns refuse) is decoded with U+FFFD in
place of what could not be decoded, and its exact bytes are kept in ``DecodedLog.raw_strings``, so that
decoding never fails and never loses anything on such content.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from chain._compiler import Build
from chain.errors import ChainError

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
]

# Which compiled contract each kind of trusted emitter runs.
CONTRACT_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "registry": "AccessRegistry",
        "token": "YenToken",
        "factory": "ProcurementFactory",
        "escrow": "MilestoneEscrow",
    }
)


class ProviderError(ChainError):
    """The node refused or failed a request (e.g. a log range too large)."""


class DecodeError(ChainError, ValueError):
    """A log does not match the ABI of the event its topic names."""


@dataclass(frozen=True, slots=True)
class Header:
    """What a log reader needs of a block."""

    number: int
    hash: str
    parent_hash: str


_NO_RAW_STRINGS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DecodedLog:
    """One log of a known emitter, decoded.

    ``raw_strings`` holds, by argument path (``title``, ``params.title``, ``names.2``), the exact bytes (``0x``
    hex) of each string argument that is not clean UTF-8 text; ``args`` holds its replacement-decoded text.
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
    raw_strings: Mapping[str, str] = field(default_factory=lambda: _NO_RAW_STRINGS)


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """The EIP-55 form of an address (cached: the same few addresses recur in every block)."""
    return str(to_checksum_address(address))


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


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def _raw_log(log: Mapping[str, Any]) -> dict[str, Any]:
    """A web3-formatted log back in JSON-RPC shape (for providers without raw requests, e.g. eth-tester)."""
    return {
        "address": str(log["address"]),
        "topics": [_hex(topic) for topic in log["topics"]],
        "data": _hex(log["data"]),
        "blockNumber": int(log["blockNumber"]),
        "blockHash": _hex(log["blockHash"]),
        "transactionHash": _hex(log["transactionHash"]),
        "transactionIndex": int(log["transactionIndex"]),
        "logIndex": int(log["logIndex"]),
    }


class ChainSource:
    """Read-only access to a node: head, headers, logs and batched eth_call."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.raw = isinstance(w3.provider, HTTPProvider)
        self._chain_id: int | None = None

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            reply = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except Exception as exc:  # requests and web3 raise many types for a failed request
            raise ProviderError(f"{method} failed: {type(exc).__name__}: {exc}") from exc
        if "error" in reply:
            raise ProviderError(f"{method} failed: {reply['error']}")
        return reply["result"]

    @property
    def chain_id(self) -> int:
        """The chain id (asked once)."""
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def head(self) -> int:
        """The latest block number."""
        if self.raw:
            return int(self._request("eth_blockNumber", []), 16)
        return int(self.w3.eth.block_number)

    def header(self, number: int) -> Header | None:
        """Block ``number``'s hash and parent hash, or None if the chain has no such block (yet)."""
        if self.raw:
            block = self._request("eth_getBlockByNumber", [hex(number), False])
            if block is None:
                return None
            return Header(int(block["number"], 16), str(block["hash"]).lower(), str(block["parentHash"]).lower())
        try:
            found = self.w3.eth.get_block(number)
        except Exception:  # web3's BlockNotFound, or the tester's own error
            return None
        return Header(int(found["number"]), _hex(found["hash"]), _hex(found["parentHash"]))

    def logs(self, from_block: int, to_block: int, topics: Sequence[str]) -> list[dict[str, Any]]:
        """The logs in ``[from_block, to_block]`` whose topic 0 is one of ``topics``, in chain order, as JSON-RPC
        returns them (hex strings)."""
        with gc_paused():  # parsing the reply builds a dict and several strings per log
            if self.raw:
                found: list[dict[str, Any]] = self._request(
                    "eth_getLogs", [{"fromBlock": hex(from_block), "toBlock": hex(to_block), "topics": [list(topics)]}]
                )
                return found
            try:
                logs = self.w3.eth.get_logs(
                    {"fromBlock": from_block, "toBlock": to_block, "topics": [list(topics)]}  # type: ignore[typeddict-item]
                )
            except Exception as exc:
                raise ProviderError(f"eth_getLogs failed: {exc}") from exc
            return [_raw_log(log) for log in logs]

    def call_many(self, calls: Sequence[tuple[str, str]], block: int, batch: int = 500) -> list[bytes]:
        """eth_call each (to, calldata) at ``block``; JSON-RPC batches over HTTP. A revert is an error."""
        results: list[bytes] = []
        if not self.raw:
            for to, data in calls:
                out = self.w3.eth.call({"to": to_checksum_address(to), "data": data}, block)  # type: ignore[typeddict-item]
                results.append(bytes(out))
            return results
        provider = self.w3.provider
        assert isinstance(provider, HTTPProvider)
        for start in range(0, len(calls), batch):
            chunk = calls[start : start + batch]
            requests = [("eth_call", [{"to": to, "data": data}, hex(block)]) for to, data in chunk]
            try:
                replies = provider.make_batch_request(requests)  # type: ignore[arg-type]
            except Exception as exc:
                raise ProviderError(f"eth_call batch failed: {type(exc).__name__}: {exc}") from exc
            if not isinstance(replies, list):
                raise ProviderError(f"eth_call batch failed: {replies}")
            ordered = sorted(replies, key=lambda reply: int(str(reply["id"])))
            for (to, _), reply in zip(chunk, ordered, strict=True):
                if "error" in reply:
                    raise ProviderError(f"eth_call to {to} failed: {reply['error']}")
                results.append(bytes.fromhex(str(reply["result"])[2:]))
        return results


# ---------------------------------------------------------------- ABI decoding
#
# A reader gets the data as lowercase hex without "0x" (``h``), the hex position where the enclosing tuple
# starts (``base``: dynamic offsets count from there), the hex position of its own head word (``at``), its
# argument path and the dict collecting raw strings. Positions and lengths below are in hex digits (2 a byte).

_Reader = Callable[[str, int, int, str, dict[str, str]], Any]
_WORD = 64
_UINT_MAX = 1 << 256


def _uint(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> int:
    return int(h[at : at + _WORD], 16)


def _int(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> int:
    value = int(h[at : at + _WORD], 16)
    return value - _UINT_MAX if value >> 255 else value


def _address(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
    return checksum("0x" + h[at + 24 : at + _WORD])


def _bool(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> bool:
    return int(h[at : at + _WORD], 16) != 0


def _fixed_bytes(size: int) -> _Reader:
    digits = 2 * size

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
        if at + _WORD > len(h):
            raise DecodeError(f"{path} runs past the end of the data")
        return "0x" + h[at : at + digits]

    return read


def _offset(h: str, base: int, at: int, path: str) -> int:
    """Where the dynamic value whose head word is at ``at`` starts."""
    start = base + 2 * int(h[at : at + _WORD], 16)
    if start + _WORD > len(h):
        raise DecodeError(f"{path} points past the end of the data")
    return start


def _content(h: str, base: int, at: int, path: str) -> str:
    """The hex content of a ``bytes`` or ``string`` value (length-prefixed, at an offset)."""
    start = _offset(h, base, at, path)
    end = start + _WORD + 2 * int(h[start : start + _WORD], 16)
    if end > len(h):
        raise DecodeError(f"{path} runs past the end of the data")
    return h[start + _WORD : end]


def _bytes(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
    return "0x" + _content(h, base, at, path)


def _string(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
    content = bytes.fromhex(_content(h, base, at, path))
    try:
        text = content.decode()
    except UnicodeDecodeError:
        text = content.decode(errors="replace")
    else:
        if "\x00" not in text:
            return text
    raw[path] = "0x" + content.hex()
    return text.replace("\x00", "\ufffd")


def _dynamic_array(element: _Reader, element_words: int) -> _Reader:
    """``T[]``: an offset to (length, then the elements as a tuple)."""

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> list[Any]:
        start = _offset(h, base, at, path)
        count = int(h[start : start + _WORD], 16)
        inner = start + _WORD
        if inner + count * element_words * _WORD > len(h):
            raise DecodeError(f"{path} runs past the end of the data")
        step = element_words * _WORD
        return [element(h, inner, inner + i * step, f"{path}.{i}", raw) for i in range(count)]

    return read


def _static_array(element: _Reader, element_words: int, count: int, dynamic: bool) -> _Reader:
    """``T[k]``: inline when ``T`` is static, else an offset to a tuple of ``k`` elements."""
    step = element_words * _WORD

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> list[Any]:
        inner = _offset(h, base, at, path) if dynamic else at
        return [element(h, inner, inner + i * step, f"{path}.{i}", raw) for i in range(count)]

    return read


def _tuple(fields: Sequence[tuple[str, _Reader, int]], dynamic: bool) -> _Reader:
    """A struct: inline when every component is static, else an offset to its own head and tail."""

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> dict[str, Any]:
        inner = _offset(h, base, at, path) if dynamic else at
        return {name: reader(h, inner, inner + head, f"{path}.{name}", raw) for name, reader, head in fields}

    return read


def _reader(param: Mapping[str, Any]) -> tuple[_Reader, int, bool]:
    """The reader of an ABI parameter, the words its head takes, and whether it is dynamic."""
    kind = str(param["type"])
    if kind.endswith("]"):
        element_param = dict(param, type=kind[: kind.rindex("[")])
        element, element_words, element_dynamic = _reader(element_param)
        size = kind[kind.rindex("[") + 1 : -1]
        if not size:
            return _dynamic_array(element, element_words), 1, True
        count = int(size)
        if element_dynamic:
            return _static_array(element, 1, count, True), 1, True
        return _static_array(element, element_words, count, False), count * element_words, False
    if kind == "tuple":
        fields: list[tuple[str, _Reader, int]] = []
        head = 0
        dynamic = False
        for component in param["components"]:
            reader, words, component_dynamic = _reader(component)
            fields.append((str(component["name"]), reader, head * _WORD))
            head += words
            dynamic = dynamic or component_dynamic
        return _tuple(fields, dynamic), (1 if dynamic else head), dynamic
    if kind == "string":
        return _string, 1, True
    if kind == "bytes":
        return _bytes, 1, True
    if kind == "address":
        return _address, 1, False
    if kind == "bool":
        return _bool, 1, False
    if kind.startswith("uint"):
        return _uint, 1, False
    if kind.startswith("int"):
        return _int, 1, False
    if kind.startswith("bytes"):
        return _fixed_bytes(int(kind[5:])), 1, False
    raise DecodeError(f"unsupported ABI type {kind}")


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(_abi_type(p) for p in entry['inputs'])})"


@dataclass(frozen=True, slots=True)
class _Event:
    """One event's precomputed decoder."""

    name: str
    topics: tuple[tuple[str, _Reader], ...]  # indexed arguments (a dynamic one is only its keccak hash)
    fields: tuple[tuple[str, _Reader, int], ...]  # data arguments: name, reader, hex position of the head
    head: int  # hex digits of the data's head
    order: tuple[str, ...] | None  # argument names in declaration order, when indexed ones interleave


def _event(entry: Mapping[str, Any]) -> _Event:
    topics: list[tuple[str, _Reader]] = []
    fields: list[tuple[str, _Reader, int]] = []
    head = 0
    for param in entry["inputs"]:
        name = str(param["name"])
        reader, words, _ = _reader(param)
        if param.get("indexed"):
            kind = str(param["type"])
            hashed = kind in {"string", "bytes"} or kind.endswith("]") or kind.startswith("tuple")
            topics.append((name, _fixed_bytes(32) if hashed else reader))  # a hashed one is its keccak only
        else:
            fields.append((name, reader, head * _WORD))
            head += words
    order = tuple(str(param["name"]) for param in entry["inputs"])
    natural = tuple(name for name, _ in topics) + tuple(name for name, _, _ in fields)
    return _Event(str(entry["name"]), tuple(topics), tuple(fields), head * _WORD, None if order == natural else order)


class EventDecoder:
    """Decodes the events of each kind of trusted emitter (registry, token, factory, escrow)."""

    def __init__(self, build: Build) -> None:
        self._events: dict[str, dict[str, _Event]] = {}
        self.event_names: dict[str, set[str]] = {}
        for kind, contract in CONTRACT_KINDS.items():
            events: dict[str, _Event] = {}
            for entry in build[contract].abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    events["0x" + keccak(text=_signature(entry)).hex()] = _event(entry)
            self._events[kind] = events
            self.event_names[kind] = {event.name for event in events.values()}

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
            args: dict[str, Any] = {}
            for (name, read), topic in zip(event.topics, topics[1:], strict=True):
                args[name] = read(str(topic)[2:].lower().rjust(_WORD, "0"), 0, 0, name, strings)
            for name, read, at in event.fields:
                args[name] = read(data, 0, at, name, strings)
            if event.order is not None:
                args = {name: args[name] for name in event.order}
        except (ValueError, TypeError, OverflowError) as exc:  # a DecodeError, or malformed hex
            where = f"{raw['transactionHash']}:{raw['logIndex']}"
            raise DecodeError(f"cannot decode {event.name} at {where}: {exc}") from None
        number, tx_index, log_index = raw["blockNumber"], raw["transactionIndex"], raw["logIndex"]
        if type(number) is str:  # JSON-RPC; eth-tester's logs (see ChainSource) carry ints
            number, tx_index, log_index = int(number, 16), int(tx_index, 16), int(log_index, 16)
        return DecodedLog(
            chain_id,
            int(number),
            str(raw["blockHash"]).lower(),
            str(raw["transactionHash"]).lower(),
            int(tx_index),
            int(log_index),
            checksum(str(raw["address"])),
            kind,
            event.name,
            args,
            strings or _NO_RAW_STRINGS,
        )
