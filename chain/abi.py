"""The one ABI codec of the ledger's contracts: function calls and their results, constructor arguments,
events and custom errors, from the compiled ABIs.

Function calls and custom errors go through eth-abi, with selectors and types read once per function. Events are
decoded by precomputed readers that slice a log's hex words by ABI offsets (bounds-checked), many times faster
than a generic decoder: ``EventLayout`` per event, driven by ``chain.logs.EventDecoder``.

Decoded values: integers as ``int``, addresses checksummed. Function results and errors keep ``bytes`` as bytes
and structs as tuples (as eth-abi decodes them); events give ``bytesN``/``bytes`` as ``0x`` lowercase hex and
structs as dicts by component name (see chain/logs.py).

eth-abi is imported where a call, its result or an error is first coded, not with this module: it takes a fifth of
a second of CPU to import, and a process that only decodes events (the indexer's fetch process) never needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chain.errors import ChainError, ContractRevert, DecodeError, TransactionFailed
from chain.signing import checksum_address, keccak

__all__ = [
    "WORD",
    "CallEncoder",
    "ContractCodec",
    "ErrorDecoder",
    "EventLayout",
    "Reader",
    "abi_type",
    "checksum",
    "event_layout",
    "signature",
]


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """The EIP-55 form of an address (cached: the same few addresses recur all the time)."""
    return checksum_address(address)


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter, tuples spelled out: ``(uint64,string)[]``."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def signature(entry: Mapping[str, Any]) -> str:
    """``name(type,...)``: what a function selector, an event topic or an error selector hashes."""
    return f"{entry['name']}({','.join(abi_type(p) for p in entry.get('inputs', []))})"


def _checksummer(param: Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """What turns a decoded value of ``param`` into one with checksummed addresses; None if it holds none."""
    kind = str(param["type"])
    if kind.endswith("]"):
        element = _checksummer(dict(param, type=kind[: kind.rindex("[")]))
        return None if element is None else (lambda values: [element(v) for v in values])
    if kind == "tuple":
        parts = [_checksummer(component) for component in param["components"]]
        if all(part is None for part in parts):
            return None
        return lambda values: tuple(v if part is None else part(v) for part, v in zip(parts, values, strict=True))
    if kind == "address":
        return checksum
    return None


def _decoder(params: Sequence[Mapping[str, Any]]) -> Callable[[bytes], tuple[Any, ...]]:
    """Decodes ABI-encoded ``params``, addresses checksummed: read in place where every value is an integer,
    bool, address, ``bytesN``, a tuple of these or a dynamic array of them (``_result_reader``), else with eth-abi."""
    readers = [_result_reader(p) for p in params]
    if all(reader is not None for reader in readers):
        return _tuple_decoder([reader for reader in readers if reader is not None])
    from eth_abi.abi import decode as abi_decode  # here, not at the top: see the module's docstring

    types = [abi_type(p) for p in params]
    fixes = [_checksummer(p) for p in params]
    if all(fix is None for fix in fixes):
        return lambda raw: tuple(abi_decode(types, raw))

    def decode(raw: bytes) -> tuple[Any, ...]:
        values = abi_decode(types, raw)
        return tuple(v if fix is None else fix(v) for fix, v in zip(fixes, values, strict=True))

    return decode


# Reads a value whose head is at a byte offset of its tuple's encoding (a dynamic value's head is the offset of
# its data from that tuple's start); how many bytes the head spans.
_Read = tuple[Callable[[bytes, int], Any], int]


def _tuple_decoder(readers: Sequence[_Read]) -> Callable[[bytes], tuple[Any, ...]]:
    """Decodes a tuple's encoding in place, about ten times faster than eth-abi and as strictly: too few bytes,
    an offset or a length past the end, a value out of its type's range or padding that is not zero is a
    ``DecodeError`` (bytes past the values are ignored, as eth-abi ignores them)."""
    size = sum(width for _, width in readers)

    def decode(raw: bytes) -> tuple[Any, ...]:
        if len(raw) < size:
            raise DecodeError(f"a result of {len(raw)} bytes where {size} are expected")
        values, at = [], 0
        for read, width in readers:
            values.append(read(raw, at))
            at += width
        return tuple(values)

    return decode


def _pointer(raw: bytes, at: int) -> int:
    """The offset or length in the word at ``at``, which must lie within ``raw``."""
    if at + 32 > len(raw):
        raise DecodeError(f"a result of {len(raw)} bytes with an offset or length at byte {at}")
    return int.from_bytes(raw[at : at + 32], "big")


def _result_reader(param: Mapping[str, Any]) -> _Read | None:
    """The reader of ``param`` if it is an integer, bool, address, ``bytesN``, a tuple of these or a dynamic
    array of them; None for any other type (strings, bytes, fixed-size arrays: eth-abi decodes them)."""
    kind = str(param["type"])
    if kind.endswith("[]"):
        element_param = dict(param, type=kind[:-2])
        element = _result_reader(element_param)
        if element is None or _is_dynamic(element_param):
            return None
        read_element, width = element
        listed = _checksummer(element_param) is not None  # as ``_checksummer`` gives them: a list, else a tuple

        def array(raw: bytes, at: int) -> Any:
            start = _pointer(raw, at)
            length = _pointer(raw, start)
            if start + 32 + length * width > len(raw):
                raise DecodeError(f"an array of {length} values past the end of a {len(raw)}-byte result")
            values = [read_element(raw, start + 32 + i * width) for i in range(length)]
            return values if listed else tuple(values)

        return array, 32
    if kind.endswith("]"):
        return None
    if kind == "tuple":
        parts = [_result_reader(component) for component in param["components"]]
        if any(part is None for part in parts):
            return None
        inner = _tuple_decoder([part for part in parts if part is not None])
        if _is_dynamic(param):
            return (lambda raw, at: inner(raw[_pointer(raw, at) :])), 32
        width = sum(part[1] for part in parts if part is not None)
        return (lambda raw, at: inner(raw[at : at + width])), width
    word = _word_reader(kind)
    return None if word is None else (word, 32)


def _is_dynamic(param: Mapping[str, Any]) -> bool:
    """Whether ``param``'s encoding is dynamic (its head an offset): a string, bytes, a dynamic array, or a tuple
    or fixed-size array holding one."""
    kind = str(param["type"])
    if kind in ("string", "bytes") or kind.endswith("[]"):
        return True
    if kind.endswith("]"):
        return _is_dynamic(dict(param, type=kind[: kind.rindex("[")]))
    return kind == "tuple" and any(_is_dynamic(component) for component in param["components"])


def _word_reader(kind: str) -> Callable[[bytes, int], Any] | None:
    """The reader of one word of elementary type ``kind``, or None if it is no static elementary type."""
    if kind in ("address", "bool"):
        zeros = 12 if kind == "address" else 31

        def padded(raw: bytes, at: int) -> Any:
            if any(raw[at : at + zeros]):
                raise DecodeError(f"{kind} with non-zero padding: 0x{raw[at : at + 32].hex()}")
            if kind == "address":
                return checksum("0x" + raw[at + 12 : at + 32].hex())
            if raw[at + 31] > 1:
                raise DecodeError(f"bool that is neither 0 nor 1: {raw[at + 31]}")
            return raw[at + 31] == 1

        return padded
    signed = kind.startswith("int")
    if signed or kind.startswith("uint"):
        bits = int(kind[3 if signed else 4 :] or 256)
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)

        def integer(raw: bytes, at: int) -> int:
            value = int.from_bytes(raw[at : at + 32], "big", signed=signed)
            if not low <= value < high:
                raise DecodeError(f"{kind} out of range: 0x{raw[at : at + 32].hex()}")
            return value

        return integer
    if kind.startswith("bytes") and kind[5:].isdigit():
        length = int(kind[5:])

        def fixed(raw: bytes, at: int) -> bytes:
            if any(raw[at + length : at + 32]):
                raise DecodeError(f"{kind} with non-zero padding: 0x{raw[at : at + 32].hex()}")
            return raw[at : at + length]

        return fixed
    return None


# ---------------------------------------------------------------- functions


class CallEncoder:
    """Call data for one contract function and its decoded result, straight through eth-abi (selector and types
    read once).

    web3's ``contract.functions.f(*args)`` matches and validates the ABI again on every call (about a
    millisecond); a caller that knows its function does that once.
    """

    def __init__(self, abi: Sequence[Mapping[str, Any]], name: str) -> None:
        entries = [e for e in abi if e.get("type") == "function" and e.get("name") == name]
        if len(entries) != 1:
            raise ChainError(f"expected one function {name!r} in the ABI, found {len(entries)}")
        self.name = name
        self.types = [abi_type(arg) for arg in entries[0].get("inputs", [])]
        self.output_types = [abi_type(arg) for arg in entries[0].get("outputs", [])]
        self.selector = keccak(signature(entries[0]).encode())[:4]
        self._decode = _decoder(entries[0].get("outputs", []))
        from eth_abi.abi import encode

        self._encode = encode

    def encode(self, args: Sequence[Any]) -> bytes:
        """The call data: the selector, then the ABI-encoded arguments (eth-abi checks their types)."""
        return self.selector + self._encode(self.types, list(args))

    def decode(self, raw: bytes) -> tuple[Any, ...]:
        """The function's return values from an ``eth_call`` result."""
        return self._decode(raw)


class ContractCodec:
    """The ABI of one compiled contract: a ``CallEncoder`` per function and the layout of each event, built on
    first use (``Build.codec(name)`` keeps one per contract)."""

    def __init__(self, name: str, abi: Sequence[Mapping[str, Any]]) -> None:
        self.name = name
        self.abi = abi
        self._functions: dict[str, CallEncoder] = {}
        self._events: dict[str, EventLayout] | None = None

    def function(self, name: str) -> CallEncoder:
        """The encoder of function ``name``."""
        encoder = self._functions.get(name)
        if encoder is None:
            encoder = self._functions.setdefault(name, CallEncoder(self.abi, name))
        return encoder

    def deploy_data(self, bytecode: str | bytes, args: Sequence[Any]) -> bytes:
        """A creation transaction's data: the bytecode, then the ABI-encoded constructor arguments."""
        if isinstance(bytecode, str):
            bytecode = bytes.fromhex(bytecode[2:] if bytecode[:2] == "0x" else bytecode)
        inputs: Sequence[Mapping[str, Any]] = next(
            (e.get("inputs", []) for e in self.abi if e.get("type") == "constructor"), []
        )
        if len(inputs) != len(args):
            raise ChainError(f"{self.name}'s constructor takes {len(inputs)} arguments, got {len(args)}")
        from eth_abi.abi import encode

        return bytes(bytecode) + (encode([abi_type(p) for p in inputs], list(args)) if inputs else b"")

    @property
    def events(self) -> Mapping[str, EventLayout]:
        """Each (non-anonymous) event's layout by its topic 0 (``0x`` lowercase hex)."""
        if self._events is None:
            self._events = {
                "0x" + keccak(signature(entry).encode()).hex(): event_layout(entry)
                for entry in self.abi
                if entry.get("type") == "event" and not entry.get("anonymous")
            }
        return self._events

    def topic(self, event: str) -> str:
        """Topic 0 of the event named ``event``."""
        for topic, layout in self.events.items():
            if layout.name == event:
                return topic
        raise ChainError(f"no event {event!r} in {self.name}'s ABI")


# ---------------------------------------------------------------- custom errors

_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to uninitialized function",
}
_ERROR_STRING = keccak(b"Error(string)")[:4]
_PANIC = keccak(b"Panic(uint256)")[:4]


class ErrorDecoder:
    """Turns revert data into a ContractRevert that names the Solidity custom error, with a set of ABIs' errors."""

    def __init__(self, error_abis: Sequence[Mapping[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], Callable[[bytes], tuple[Any, ...]]]] = {}
        for entry in error_abis:
            names = [p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"])]
            self._errors[keccak(signature(entry).encode())[:4]] = (entry["name"], names, _decoder(entry["inputs"]))

    def decode(self, data: bytes | str | None) -> ContractRevert | None:
        """The custom error encoded in ``data`` (bytes or hex), or None if its selector is unknown."""
        raw = _to_bytes(data)
        if raw is None or len(raw) < 4:
            return None
        selector, body = raw[:4], raw[4:]
        from eth_abi.abi import decode as abi_decode

        if selector == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return ContractRevert("Error", {"reason": reason})
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return ContractRevert("Panic", {"code": code, "meaning": _PANIC_CODES.get(code, "unknown")})
        entry = self._errors.get(selector)
        if entry is None:
            return None
        name, names, decode = entry
        return ContractRevert(name, dict(zip(names, decode(body), strict=True)))

    def from_reply(self, error: Any) -> ContractRevert | TransactionFailed | None:
        """What a JSON-RPC error object says of a revert: the custom error in its data, a revert without a known
        error, or None if it is no revert at all."""
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x..."}}
            data = data.get("data")
        revert = self.decode(data) if isinstance(data, str) else None
        if revert is not None:
            return revert
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        if "revert" in message.lower():
            return TransactionFailed(f"reverted without a known error: {message}")
        return None


def _to_bytes(data: bytes | str | None) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = data.strip()
    if text.startswith("0x"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- events
#
# A reader gets the data as lowercase hex without "0x" (``h``), the hex position where the enclosing tuple
# starts (``base``: dynamic offsets count from there), the hex position of its own head word (``at``), its
# argument path and the dict collecting raw strings. Positions and lengths below are in hex digits (2 a byte).

Reader = Callable[[str, int, int, str, dict[str, str]], Any]
WORD = 64  # hex digits of one ABI word
_UINT_MAX = 1 << 256


def _uint(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> int:
    return int(h[at : at + WORD], 16)


def _int(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> int:
    value = int(h[at : at + WORD], 16)
    return value - _UINT_MAX if value >> 255 else value


def _address(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
    return checksum("0x" + h[at + 24 : at + WORD])


def _bool(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> bool:
    return int(h[at : at + WORD], 16) != 0


def _fixed_bytes(size: int) -> Reader:
    digits = 2 * size

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> str:
        if at + WORD > len(h):
            raise DecodeError(f"{path} runs past the end of the data")
        return "0x" + h[at : at + digits]

    return read


def _offset(h: str, base: int, at: int, path: str) -> int:
    """Where the dynamic value whose head word is at ``at`` starts."""
    start = base + 2 * int(h[at : at + WORD], 16)
    if start + WORD > len(h):
        raise DecodeError(f"{path} points past the end of the data")
    return start


def _content(h: str, base: int, at: int, path: str) -> str:
    """The hex content of a ``bytes`` or ``string`` value (length-prefixed, at an offset)."""
    start = _offset(h, base, at, path)
    end = start + WORD + 2 * int(h[start : start + WORD], 16)
    if end > len(h):
        raise DecodeError(f"{path} runs past the end of the data")
    return h[start + WORD : end]


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


def _dynamic_array(element: Reader, element_words: int) -> Reader:
    """``T[]``: an offset to (length, then the elements as a tuple)."""

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> list[Any]:
        start = _offset(h, base, at, path)
        count = int(h[start : start + WORD], 16)
        inner = start + WORD
        if inner + count * element_words * WORD > len(h):
            raise DecodeError(f"{path} runs past the end of the data")
        step = element_words * WORD
        return [element(h, inner, inner + i * step, f"{path}.{i}", raw) for i in range(count)]

    return read


def _static_array(element: Reader, element_words: int, count: int, dynamic: bool) -> Reader:
    """``T[k]``: inline when ``T`` is static, else an offset to a tuple of ``k`` elements."""
    step = element_words * WORD

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> list[Any]:
        inner = _offset(h, base, at, path) if dynamic else at
        return [element(h, inner, inner + i * step, f"{path}.{i}", raw) for i in range(count)]

    return read


def _tuple(fields: Sequence[tuple[str, Reader, int]], dynamic: bool) -> Reader:
    """A struct: inline when every component is static, else an offset to its own head and tail."""

    def read(h: str, base: int, at: int, path: str, raw: dict[str, str]) -> dict[str, Any]:
        inner = _offset(h, base, at, path) if dynamic else at
        return {name: reader(h, inner, inner + head, f"{path}.{name}", raw) for name, reader, head in fields}

    return read


def _reader(param: Mapping[str, Any]) -> tuple[Reader, int, bool]:
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
        fields: list[tuple[str, Reader, int]] = []
        head = 0
        dynamic = False
        for component in param["components"]:
            reader, words, component_dynamic = _reader(component)
            fields.append((str(component["name"]), reader, head * WORD))
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


# An event's arguments read in one call: (topics as JSON-RPC gives them, data as lowercase hex without "0x", the
# raw strings collected) -> the arguments in declaration order, or None if a topic is not 0x and 64 hex digits
# (then the readers one by one, which pad a short topic, decide).
ArgsReader = Callable[[Sequence[str], str, dict[str, str]], dict[str, Any] | None]

_TOPIC = 2 + WORD  # "0x" and one word


@dataclass(frozen=True, slots=True)
class EventLayout:
    """One event's precomputed readers: how to read each argument from its topics and data (hex words)."""

    name: str
    topics: tuple[tuple[str, Reader], ...]  # indexed arguments (a dynamic one is only its keccak hash)
    fields: tuple[tuple[str, Reader, int], ...]  # data arguments: name, reader, hex position of the head
    head: int  # hex digits of the data's head
    order: tuple[str, ...] | None  # argument names in declaration order, when indexed ones interleave
    read_args: ArgsReader  # the same readers compiled into one function (``compile_args``)


def _word_expression(read: Reader, source: str, at: int, name: str, reader: str) -> str:
    """Python source reading one head word at hex position ``at`` of ``source``: the static readers inlined (the
    same expressions as their bodies), any other one called as ``reader``."""
    word = f"{source}[{at}:{at + WORD}]"
    if read is _uint:
        return f"int({word}, 16)"
    if read is _address:
        return f"checksum('0x' + {source}[{at + 24}:{at + WORD}])"
    if read is _bool:
        return f"int({word}, 16) != 0"
    return f"{reader}({source}, 0, {at}, {name!r}, strings)"


def compile_args(
    name: str, topics: Sequence[tuple[str, Reader]], fields: Sequence[tuple[str, Reader, int]], order: Sequence[str]
) -> ArgsReader:
    """One function that reads every argument of an event, as its readers do one by one, without a call per
    static argument (decoding is most of a catch-up's work per log). The source holds only the ABI's
    argument names as string literals (``repr``) and integers; every value is read from the log."""
    namespace: dict[str, Any] = {"checksum": checksum}
    expressions: dict[str, str] = {}
    checks: list[str] = []
    for index, (arg, read) in enumerate(topics, start=1):
        namespace[f"t{index}"] = read
        checks.append(f"len(topics[{index}]) != {_TOPIC}")
        # the topic's word: its 64 hex digits (the reader of a hashed or fixed-size one keeps them in lowercase)
        source = f"topics[{index}]"
        if read in (_uint, _address, _bool):
            expressions[arg] = _word_expression(read, source, 2, arg, "")
        else:
            expressions[arg] = f"t{index}({source}[2:].lower(), 0, 0, {arg!r}, strings)"
    for index, (arg, read, at) in enumerate(fields):
        namespace[f"f{index}"] = read
        expressions[arg] = _word_expression(read, "h", at, arg, f"f{index}")
    body = ", ".join(f"{arg!r}: {expressions[arg]}" for arg in order)
    guard = f"    if {' or '.join(checks)}:\n        return None\n" if checks else ""
    source = f"def read_args(topics, h, strings):\n{guard}    return {{{body}}}\n"
    exec(compile(source, f"<{name} arguments>", "exec"), namespace)  # noqa: S102 - source built above
    reader: ArgsReader = namespace["read_args"]
    return reader


def event_layout(entry: Mapping[str, Any]) -> EventLayout:
    """The readers of one ABI event entry."""
    topics: list[tuple[str, Reader]] = []
    fields: list[tuple[str, Reader, int]] = []
    head = 0
    for param in entry["inputs"]:
        name = str(param["name"])
        reader, words, _ = _reader(param)
        if param.get("indexed"):
            kind = str(param["type"])
            hashed = kind in {"string", "bytes"} or kind.endswith("]") or kind.startswith("tuple")
            topics.append((name, _fixed_bytes(32) if hashed else reader))  # a hashed one is its keccak only
        else:
            fields.append((name, reader, head * WORD))
            head += words
    order = tuple(str(param["name"]) for param in entry["inputs"])
    natural = tuple(name for name, _ in topics) + tuple(name for name, _, _ in fields)
    name = str(entry["name"])
    return EventLayout(
        name,
        tuple(topics),
        tuple(fields),
        head * WORD,
        None if order == natural else order,
        compile_args(name, topics, fields, order),
    )
