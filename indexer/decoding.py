"""Decoding raw JSON-RPC logs of the ledger's contracts into plain Python values, and canonical JSON.

The ABIs come from ``chain`` (the compiled contracts); this module only interprets log words. Static events
(every argument a 32-byte word) are decoded by slicing the hex, which is many times faster than a generic
ABI decoder; events with dynamic data (strings, arrays, structs) go through ``eth_abi``.

Decoded values: integers as ``int``, addresses checksummed, ``bytesN``/``bytes`` as ``0x`` lowercase hex,
structs as dicts by component name, arrays as lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain._compiler import Build

__all__ = [
    "CONTRACT_KINDS",
    "DecodeError",
    "DecodedLog",
    "EventDecoder",
    "canonical_json",
    "checksum",
    "json_value",
]

# Which compiled contract each kind of trusted emitter runs.
CONTRACT_KINDS: dict[str, str] = {
    "registry": "AccessRegistry",
    "token": "YenToken",
    "factory": "ProcurementFactory",
    "escrow": "MilestoneEscrow",
}


class DecodeError(ValueError):
    """A log of a trusted emitter does not match its ABI."""


@dataclass(frozen=True, slots=True)
class DecodedLog:
    """One log of a trusted emitter, decoded."""

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


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """The EIP-55 form of an address (cached: the same few addresses recur in every block)."""
    return str(to_checksum_address(address))


def _flat_json(value: Any) -> Any:
    return str(value) if type(value) is int else value


def json_value(value: Any) -> Any:
    """A decoded value made JSON-safe: integers (never bools) become decimal strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    raise TypeError(f"cannot put {type(value).__name__} into canonical JSON")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, integers as decimal strings: the same bytes for the same data everywhere."""
    if isinstance(value, dict) and all(type(item) in _FLAT for item in value.values()):  # the common case, fast
        value = {key: _flat_json(item) for key, item in value.items()}
    else:
        value = json_value(value)
    return _ENCODER.encode(value)


_FLAT = frozenset({int, str, bool, type(None)})
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _normalize(param: Mapping[str, Any], value: Any) -> Any:
    kind = str(param["type"])
    if kind.endswith("]"):
        element = dict(param)
        element["type"] = kind[: kind.rindex("[")]
        return [_normalize(element, item) for item in value]
    if kind == "tuple":
        return {
            str(component["name"]): _normalize(component, item)
            for component, item in zip(param["components"], value, strict=True)
        }
    if kind == "address":
        return checksum(value)
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


def _word(kind: str, word: str) -> Any:
    """One 64-hex-digit ABI word of a static elementary type."""
    if kind.startswith("uint"):
        return int(word, 16)
    if kind == "address":
        return checksum("0x" + word[24:])
    if kind == "bool":
        return int(word, 16) != 0
    if kind.startswith("bytes"):
        return "0x" + word[: 2 * int(kind[5:])]
    if kind.startswith("int"):
        value = int(word, 16)
        return value - (1 << 256) if value >= 1 << 255 else value
    raise DecodeError(f"not a static elementary type: {kind}")


def _dynamic(kind: str, data: str, head: str) -> Any:
    """A top-level ``string`` or ``bytes``: the head word is the offset of (length, content)."""
    offset = 2 * int(head, 16)
    length = 2 * int(data[offset : offset + 64], 16)
    if offset + 64 + length > len(data):
        raise DecodeError(f"{kind} runs past the end of the data")
    raw = bytes.fromhex(data[offset + 64 : offset + 64 + length])
    # A malformed string must not stop the mirror: undecodable bytes become U+FFFD, as the raw log keeps them.
    return raw.decode("utf-8", errors="replace") if kind == "string" else "0x" + raw.hex()


def _is_static_elementary(param: Mapping[str, Any]) -> bool:
    kind = str(param["type"])
    return (
        kind in {"address", "bool"}
        or (kind.startswith(("uint", "int")) and not kind.endswith("]"))
        or (kind.startswith("bytes") and kind != "bytes" and not kind.endswith("]"))
    )


@dataclass(frozen=True)
class _EventSpec:
    name: str
    topic_count: int
    indexed: tuple[tuple[str, str], ...]  # (name, type); the types of indexed args are all static here
    data: tuple[Mapping[str, Any], ...]
    data_types: tuple[str, ...]
    fast: bool  # every data argument is a static word or a top-level string / bytes
    order: tuple[str, ...]  # argument names in declaration order


def _spec(entry: Mapping[str, Any]) -> _EventSpec:
    inputs = list(entry["inputs"])
    indexed = [param for param in inputs if param.get("indexed")]
    data = tuple(param for param in inputs if not param.get("indexed"))
    return _EventSpec(
        name=str(entry["name"]),
        topic_count=1 + len(indexed),
        # A dynamic indexed value (string, array, struct) is only its keccak hash in the topic.
        indexed=tuple((str(p["name"]), str(p["type"]) if _is_static_elementary(p) else "bytes32") for p in indexed),
        data=data,
        data_types=tuple(_abi_type(p) for p in data),
        fast=all(_is_static_elementary(p) or p["type"] in {"string", "bytes"} for p in data),
        order=tuple(str(p["name"]) for p in inputs),
    )


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(_abi_type(p) for p in entry['inputs'])})"


class EventDecoder:
    """Decodes the events of each kind of trusted emitter (registry, token, factory, escrow)."""

    def __init__(self, build: Build) -> None:
        self._specs: dict[str, dict[str, _EventSpec]] = {}
        self.event_names: dict[str, set[str]] = {}
        for kind, contract in CONTRACT_KINDS.items():
            specs: dict[str, _EventSpec] = {}
            for entry in build[contract].abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    specs["0x" + keccak(text=_signature(entry)).hex()] = _spec(entry)
            self._specs[kind] = specs
            self.event_names[kind] = {spec.name for spec in specs.values()}

    def topics(self) -> list[str]:
        """Every event signature (topic 0) of the ledger's contracts, for an eth_getLogs filter."""
        return sorted({topic for specs in self._specs.values() for topic in specs})

    def all_event_names(self) -> set[str]:
        """The names of every event the contracts can emit."""
        return {name for names in self.event_names.values() for name in names}

    def decode(self, raw: Mapping[str, Any], kind: str, chain_id: int) -> DecodedLog | None:
        """``raw`` is a JSON-RPC log (hex strings); None if its topic is no event of ``kind``."""
        topics: Sequence[str] = raw["topics"]
        if not topics:
            return None
        spec = self._specs[kind].get(str(topics[0]).lower())
        if spec is None:
            return None
        if len(topics) != spec.topic_count:
            raise DecodeError(f"{spec.name} at {raw['transactionHash']}:{raw['logIndex']} has {len(topics)} topics")
        args: dict[str, Any] = {}
        for (name, kind_), topic in zip(spec.indexed, topics[1:], strict=True):
            args[name] = _word(kind_, str(topic)[2:].rjust(64, "0"))
        data = str(raw["data"])[2:]
        try:
            if spec.fast:
                if len(data) < 64 * len(spec.data) or len(data) % 64:
                    raise DecodeError(f"{spec.name} data has {len(data) // 2} bytes")
                for i, param in enumerate(spec.data):
                    kind_ = str(param["type"])
                    word = data[64 * i : 64 * i + 64]
                    args[str(param["name"])] = (
                        _dynamic(kind_, data, word) if kind_ in {"string", "bytes"} else _word(kind_, word)
                    )
            else:
                values = abi_decode(list(spec.data_types), bytes.fromhex(data))
                for param, value in zip(spec.data, values, strict=True):
                    args[str(param["name"])] = _normalize(param, value)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DecodeError(
                f"cannot decode {spec.name} at {raw['transactionHash']}:{raw['logIndex']}: {exc}"
            ) from None
        return DecodedLog(
            chain_id=chain_id,
            block_number=_int(raw["blockNumber"]),
            block_hash=str(raw["blockHash"]).lower(),
            tx_hash=str(raw["transactionHash"]).lower(),
            tx_index=_int(raw["transactionIndex"]),
            log_index=_int(raw["logIndex"]),
            emitter=checksum(str(raw["address"])),
            kind=kind,
            event=spec.name,
            args={name: args[name] for name in spec.order},
        )


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)
