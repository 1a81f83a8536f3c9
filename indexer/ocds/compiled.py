"""A record's compiled release, merged straight from the nested releases this ledger writes.

OCDS 1.1.5's merge routine (https://standard.open-contracting.org/1.1/en/schema/merging/), with the rules read from
the vendored release schema by ocdsmerge itself (``omitWhenMerged`` fields dropped, ``wholeListMerge`` arrays
replaced whole): releases sorted by ``date``; for each, a field's last value wins; objects merge field by field;
arrays of objects merge by ``id``, an object without one is appended; arrays holding anything but objects are
replaced whole; empty objects and arrays change nothing; a ``null`` drops the field. The result is ocdsmerge's
``create_compiled_release`` to the byte, keys in the same order (tests/indexer/test_ocds_compiled.py proves it on
every release shape the exporter writes), without ocdsmerge's flattening of every release into path tuples and
back. ocdsmerge stays the reference: ``Export(reference_merge=True)``, `procure audit export-ocds
--reference-merge`.

What the ledger never writes is refused, not guessed at (ValueError naming the path): an ``id`` that is not a
string, and a field that is an object in one release and something else in another (ocdsmerge's results there
depend on the order of keys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any

__all__ = ["compile_release"]


class _Rules:
    """The merge rules under one field (``omit``, ``whole``) and of its fields, by name."""

    __slots__ = ("fields", "omit", "whole")

    def __init__(self, omit: bool = False, whole: bool = False) -> None:
        self.omit, self.whole = omit, whole
        self.fields: dict[str, _Rules] = {}


_NONE = _Rules()


@cache
def _schema_rules() -> _Rules:
    """The release schema's merge rules as a tree (ocdsmerge reads them: one reading of the schema)."""
    from ocdsmerge.rules import get_merge_rules

    from indexer.ocds.schema import release_schema

    root = _Rules()
    for path, rule in get_merge_rules(release_schema()).items():
        node = root
        for name in path:
            node = node.fields.setdefault(name, _Rules())
        node.omit, node.whole = rule == "omitWhenMerged", rule == "wholeListMerge"
    root.fields["tag"] = _Rules(omit=True)  # ocdsmerge drops a release's tag whatever the schema says
    return root


_NULL: Any = object()  # a field a release set to null: it keeps its place among its siblings, but is not published


class _Refused(ValueError):
    """A release shape the compile does not merge; the path is gathered on the way out (no path is built before)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts: list[str] = []


_CONTAINERS = frozenset((dict, list))
_INCONSISTENT = "an object in one release and not in another is not merged here"


class _Compiler:
    """One compiled release being merged."""

    def __init__(self) -> None:
        self.nulls = False  # whether a null was merged (then dropped at the end)
        self.arrays: dict[int, dict[str, dict[str, Any]]] = {}  # id() of a merged array -> its objects by id

    def merge_object(self, target: dict[str, Any], source: Mapping[str, Any], rules: _Rules) -> None:
        fields, arrays = rules.fields, self.arrays
        for key, value in source.items():
            try:
                rule = fields.get(key, _NONE)
                if rule.omit:
                    continue
                if isinstance(value, dict):
                    if rule.whole:
                        if id(target.get(key)) in arrays:
                            raise _Refused(_INCONSISTENT)
                        target[key] = value
                    elif value:
                        child = target.get(key)
                        if child is None:  # made only if something is merged into it, as ocdsmerge's unflatten does
                            child = {}
                            self.merge_object(child, value, rule)
                            if child:
                                target[key] = child
                        elif type(child) is dict:
                            self.merge_object(child, value, rule)
                        else:
                            raise _Refused(_INCONSISTENT)
                    continue
                if isinstance(value, list) and not rule.whole:
                    for item in value:
                        if not isinstance(item, dict):
                            break  # a list of values (or of mixed items) is a value
                    else:
                        if value:
                            array = target.get(key)
                            if array is None:
                                array = []
                                arrays[id(array)] = {}
                                self.merge_array(array, value, rule)
                                if array:
                                    target[key] = array
                                else:
                                    del arrays[id(array)]
                            elif id(array) in arrays:
                                self.merge_array(array, value, rule)
                            else:
                                raise _Refused(_INCONSISTENT)
                        continue
                # a value: a scalar, null, a list of values, or anything the schema merges whole
                if value is None:
                    self.nulls, value = True, _NULL
                previous = target.get(key)
                kind = type(previous)
                if kind in _CONTAINERS and (id(previous) in arrays or (kind is dict and not rule.whole)):
                    raise _Refused(_INCONSISTENT)  # a merged object or array, now a value
                target[key] = value
            except _Refused as refused:
                refused.parts.append(key)
                raise

    def merge_array(self, array: list[Any], items: Sequence[dict[str, Any]], rules: _Rules) -> None:
        by_id = self.arrays[id(array)]
        for item in items:
            if "id" not in item:
                fresh: dict[str, Any] = {}
                self.merge_object(fresh, item, rules)
                if fresh:
                    array.append(fresh)
                continue
            identifier = item["id"]
            if type(identifier) is not str:
                raise _Refused(f"an id that is not a string ({identifier!r}) is not merged here")
            node = by_id.get(identifier)
            if node is None:
                node = by_id[identifier] = {"id": identifier}
                array.append(node)
            self.merge_object(node, item, rules)


def _without_nulls(node: Any, arrays: Mapping[int, Any]) -> Any:
    """The merged objects and arrays of ``node`` without the fields set to null (a field's own value, a whole
    list or an object kept whole, is published as the release gave it)."""
    if type(node) is dict:
        return {key: _without_nulls(value, arrays) for key, value in node.items() if value is not _NULL}
    if type(node) is list and id(node) in arrays:
        return [_without_nulls(item, arrays) for item in node]
    return node


def compile_release(releases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release of one ocid's ``releases`` (each left as it was)."""
    ordered = list(releases) if len(releases) == 1 else sorted(releases, key=itemgetter("date"))
    rules = _schema_rules()
    compiler = _Compiler()
    compiled: dict[str, Any] = {"tag": ["compiled"]}
    for release in ordered:
        ocid, date = release.get("ocid"), release.get("date")
        compiled["id"] = f"{ocid}-{date}"
        compiled["date"] = _NULL if date is None else date
        compiled["ocid"] = _NULL if ocid is None else ocid
        try:
            compiler.merge_object(compiled, release, rules)
        except _Refused as refused:
            raise ValueError(f"/{'/'.join(reversed(refused.parts))}: {refused.reason}") from None
    if compiler.nulls or compiled.get("date") is _NULL or compiled.get("ocid") is _NULL:
        result: dict[str, Any] = _without_nulls(compiled, compiler.arrays)
        return result
    return compiled
