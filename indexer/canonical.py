"""Canonical JSON: the exact bytes the mirror stores for an event's arguments and hashes into its digests.

Sorted keys, no whitespace, non-ASCII as is (UTF-8), integers (never booleans) as decimal strings: the same
text as ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of the value with its
integers turned into strings, produced without that intermediate copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

from chain.logs import DecodedLog

__all__ = ["INVALID_UTF8", "canonical_json", "event_args_json", "json_value"]

# The key under which an event's stored arguments keep the exact bytes of its strings that are not clean UTF-8
# (argument path -> 0x hex). A hyphen cannot occur in a Solidity identifier, so no argument can be named so.
INVALID_UTF8 = "invalid-utf8"

# One compiled formatter per shape of object (its key names, in order), made from the first object of that shape
# (events of one kind always have the same arguments, of the same types): see ``_compile``.
_FORMATTERS: dict[tuple[str, ...], Callable[[Mapping[str, Any]], str | None]] = {}
_MAX_FORMATTERS = 4096
# The formatter of each event's arguments, by event name: found without building the tuple of the names (a
# formatter checks the names itself, so an event of the same name with other arguments is encoded generically).
_EVENT_FORMATTERS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {}


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
    names = tuple(value)
    formatter = _FORMATTERS.get(names)
    if formatter is None:
        if not all(type(name) is str for name in names):
            raise TypeError("canonical JSON object keys must be strings")
        formatter = _compile(names, value)
        if len(_FORMATTERS) < _MAX_FORMATTERS:
            _FORMATTERS[names] = formatter
    text = formatter(value)
    return _generic_object(value) if text is None else text


def _generic_object(value: Mapping[str, Any]) -> str:
    """Any object, each value encoded by its type (what every compiled formatter's output equals)."""
    parts = [encode_basestring(name) + ":" + _encode(value[name]) for name in sorted(value)]
    return "{" + ",".join(parts) + "}"


# How a compiled formatter writes a value of each type it inlines, given the value's variable: each the same
# text as ``_encode`` gives for that type.
_INLINE: dict[type, Callable[[str], str]] = {
    str: lambda v: f"{{enc({v})}}",
    int: lambda v: f'"{{{v}}}"',
    bool: lambda v: f'{{"true" if {v} else "false"}}',
    type(None): lambda v: "null",
    dict: lambda v: f"{{obj({v})}}",
    list: lambda v: f"{{seq({v})}}",
}


def _compile(names: tuple[str, ...], sample: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], str | None]:
    """A formatter of the objects with the keys ``names`` (in that order): one f-string with the sorted keys
    as constants, each value written as its type in ``sample`` is. It checks each value's exact type first and
    returns None (the caller then encodes the object generically) if one differs, or if the object has other keys
    than ``names``, so its output is always ``_generic_object``'s. The generated source holds only the names'
    ``repr``s and fixed text, no value."""
    kinds = {name: type(sample[name]) for name in names}
    if any(kind not in _INLINE for kind in kinds.values()):
        return lambda value: None  # a value of another type (a tuple, an int subclass ...): always generic
    position = {name: index for index, name in enumerate(names)}
    namespace: dict[str, Any] = {"enc": encode_basestring, "obj": _object, "seq": _encode}
    reads = [f"v{index} = a[{name!r}]" for index, name in enumerate(names)]
    checks = [
        f"v{index} is None" if kinds[name] is type(None) else f"type(v{index}) is {kinds[name].__name__}"
        for index, name in enumerate(names)
    ]
    pieces = []
    for at, name in enumerate(sorted(names)):
        namespace[f"k{at}"] = ("{" if at == 0 else ",") + encode_basestring(name) + ":"
        pieces.append(f"{{k{at}}}" + _INLINE[kinds[name]](f"v{position[name]}"))
    body = "".join(pieces) + "}}" if pieces else "{{}}"
    source = (
        "def formatter(a):\n"
        + f"    if len(a) != {len(names)}:\n        return None\n"
        + (
            "    try:\n"
            + "".join(f"        {read}\n" for read in reads)
            + "    except KeyError:\n        return None\n"
            if reads
            else ""
        )
        + (f"    if not ({' and '.join(checks)}):\n        return None\n" if checks else "")
        + f"    return f'{body}'\n"
    )
    exec(compile(source, "<canonical JSON formatter>", "exec"), namespace)  # noqa: S102 - source built above
    formatter: Callable[[Mapping[str, Any]], str | None] = namespace["formatter"]
    return formatter


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, integers as decimal strings: the same bytes for the same data everywhere."""
    return _encode(value)


def event_args_json(log: DecodedLog) -> str:
    """An event's arguments as stored and digested; with its raw strings under ``INVALID_UTF8`` if it has any."""
    if log.raw_strings:
        return _object({**log.args, INVALID_UTF8: dict(log.raw_strings)})
    args = log.args
    formatter = _EVENT_FORMATTERS.get(log.event)
    if formatter is not None:
        text = formatter(args)
        if text is not None:
            return text
        return _object(args)
    text = _object(args)
    formatter = _FORMATTERS.get(tuple(args))
    if formatter is not None and len(_EVENT_FORMATTERS) < _MAX_FORMATTERS:
        _EVENT_FORMATTERS[log.event] = formatter
    return text
