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
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from typing import Any

__all__ = ["compile_release"]


@dataclass
class _Rules:
    """The merge rules under one field (``omit``, ``whole``) and of its fields, by name."""

    omit: bool = False
    whole: bool = False
    fields: dict[str, _Rules] = field(default_factory=dict)


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


class _Compiler:
    """One compiled release being merged."""

    def __init__(self) -> None:
        self.nulls = False  # whether a null was merged (then dropped at the end)
        self.arrays: dict[int, dict[str, dict[str, Any]]] = {}  # id() of an array -> its objects by id

    def merge_object(self, target: dict[str, Any], source: Mapping[str, Any], rules: _Rules, path: str) -> None:
        fields, arrays = rules.fields, self.arrays
        for key, value in source.items():
            rule = fields.get(key, _NONE)
            if rule.omit:
                continue
            if isinstance(value, list):
                if rule.whole or not all(isinstance(item, dict) for item in value):
                    self._leaf(target, key, value, path, rule.whole)
                elif value:
                    array = target.get(key)
                    if array is None:  # made only if something is merged into it, as ocdsmerge's unflatten does
                        array = []
                        arrays[id(array)] = {}
                        self.merge_array(array, value, rule, f"{path}/{key}")
                        if array:
                            target[key] = array
                        else:
                            del arrays[id(array)]
                    elif type(array) is list and id(array) in arrays:
                        self.merge_array(array, value, rule, f"{path}/{key}")
                    else:
                        raise _inconsistent(path, key)
            elif isinstance(value, dict):
                if rule.whole:
                    self._leaf(target, key, value, path, True)
                elif value:
                    child = target.get(key)
                    if child is None:
                        child = {}
                        self.merge_object(child, value, rule, f"{path}/{key}")
                        if child:
                            target[key] = child
                    elif type(child) is dict:
                        self.merge_object(child, value, rule, f"{path}/{key}")
                    else:
                        raise _inconsistent(path, key)
            else:
                if value is None:
                    self.nulls, value = True, _NULL
                previous = target.get(key)
                if previous is not None and (type(previous) is dict or id(previous) in arrays) and not rule.whole:
                    raise _inconsistent(path, key)
                target[key] = value

    def _leaf(self, target: dict[str, Any], key: str, value: Any, path: str, whole: bool) -> None:
        previous = target.get(key)
        if (type(previous) is dict and not whole) or (type(previous) is list and id(previous) in self.arrays):
            raise _inconsistent(path, key)
        target[key] = value

    def merge_array(self, array: list[Any], items: Sequence[dict[str, Any]], rules: _Rules, path: str) -> None:
        by_id = self.arrays[id(array)]
        for item in items:
            if "id" not in item:
                fresh: dict[str, Any] = {}
                self.merge_object(fresh, item, rules, path)
                if fresh:
                    array.append(fresh)
                continue
            identifier = item["id"]
            if type(identifier) is not str:
                raise ValueError(f"{path}: an id that is not a string ({identifier!r}) is not merged here")
            node = by_id.get(identifier)
            if node is None:
                node = by_id[identifier] = {"id": identifier}
                array.append(node)
            self.merge_object(node, item, rules, path)


def _inconsistent(path: str, key: str) -> ValueError:
    return ValueError(f"{path}/{key}: an object in one release and not in another is not merged here")


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
        compiler.merge_object(compiled, release, rules, "")
    if compiler.nulls or compiled.get("date") is _NULL or compiled.get("ocid") is _NULL:
        result: dict[str, Any] = _without_nulls(compiled, compiler.arrays)
        return result
    return compiled
