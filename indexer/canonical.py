"""Canonical JSON: the exact bytes the mirror stores for an event's arguments and hashes into its digests.

Sorted keys, no whitespace, non-ASCII as is (UTF-8), integers (never booleans) as decimal strings: the same
text as ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of the value with its
integers turned into strings, produced without that intermediate copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from chain.logs import DecodedLog

__all__ = ["INVALID_UTF8", "canonical_json", "event_args_json", "json_value"]

# The key under which an event's stored arguments keep the exact bytes of its strings that are not clean UTF-8
# (argument path -> 0x hex). A hyphen cannot occur in a Solidity identifier, so no argument can be named so.
INVALID_UTF8 = "invalid-utf8"

_PLANS: dict[tuple[str, ...], list[tuple[str, str]]] = {}
_MAX_PLANS = 4096


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


def _encode(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return f'"{value}"'
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return _object(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join([_encode(item) for item in value]) + "]"
    if isinstance(value, str):  # subclasses
        return encode_basestring(value)
    if isinstance(value, int):  # subclasses such as an IntEnum (bool cannot be subclassed)
        return f'"{int(value)}"'
    raise TypeError(f"cannot put {type(value).__name__} into canonical JSON")


def _object(value: Mapping[str, Any]) -> str:
    # The sorted key order and the encoded keys of each shape of object are worked out once: events of one
    # kind always have the same argument names.
    names = tuple(value)
    plan = _PLANS.get(names)
    if plan is None:
        if not all(type(name) is str for name in names):
            raise TypeError("canonical JSON object keys must be strings")
        plan = [(name, encode_basestring(name) + ":") for name in sorted(names)]
        if len(_PLANS) < _MAX_PLANS:
            _PLANS[names] = plan
    parts: list[str] = []
    append = parts.append
    for name, prefix in plan:  # strings, integers and structs (nearly every argument) without a call to _encode
        item = value[name]
        kind = type(item)
        if kind is str:
            append(prefix + encode_basestring(item))
        elif kind is int:
            append(f'{prefix}"{item}"')
        elif kind is dict:  # a struct argument (a budget line's key, a transfer request ...)
            append(prefix + _object(item))
        else:
            append(prefix + _encode(item))
    return "{" + ",".join(parts) + "}"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, integers as decimal strings: the same bytes for the same data everywhere."""
    return _encode(value)


def event_args_json(log: DecodedLog) -> str:
    """An event's arguments as stored and digested; with its raw strings under ``INVALID_UTF8`` if it has any."""
    if log.raw_strings:
        return _object({**log.args, INVALID_UTF8: dict(log.raw_strings)})
    return _object(log.args)
