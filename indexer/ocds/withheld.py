"""Classified fields withheld from the public OCDS export, and declared (withheldInformation extension).

A spec marks OCDS fields classified (``chain.spec.CLASSIFIABLE_FIELDS``); each one cuts every place of a release
that would publish it (the contract's value is also the award's and the budget amount), so the public export never
shows it under another name. Auditors' exports are the releases as built. Releases are cut one by one, before they
are merged into records, so the records compiled from public releases hold no classified field either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chain.spec import CLASSIFIABLE_FIELDS

__all__ = ["CUTS", "withhold"]

# A classifiable field -> the release paths it cuts ("/"-separated; a list on the way is walked item by item).
CUTS: dict[str, tuple[str, ...]] = {
    "contracts/title": ("contracts/title", "awards/title", "tender/title"),
    "contracts/value": ("contracts/value", "awards/value", "planning/budget/amount"),
    "contracts/implementation/milestones/title": (
        "contracts/implementation/milestones/title",
        "contracts/implementation/transactions/relatedImplementationMilestone/title",
    ),
    "contracts/implementation/milestones/description": ("contracts/implementation/milestones/description",),
    "contracts/implementation/transactions/value": ("contracts/implementation/transactions/value",),
    "contracts/implementation/documents": ("contracts/implementation/documents",),
    "contracts/implementation/financialProgress": ("contracts/implementation/financialProgress",),
    "contracts/amendments/description": ("contracts/amendments/description",),
    "planning/budget": ("planning/budget", "contracts/implementation/financialProgress/breakdown"),
}
assert tuple(CUTS) == CLASSIFIABLE_FIELDS, "every classifiable field says what it cuts"

_RATIONALE = "classified by the procurement's specification; published to auditors"


def _cut(node: Any, parts: Sequence[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _cut(item, parts)
    elif isinstance(node, dict) and parts:
        if len(parts) == 1:
            node.pop(parts[0], None)
        elif parts[0] in node:
            _cut(node[parts[0]], parts[1:])


def _prune(node: Any) -> Any:
    """Objects and lists left empty by a cut are dropped (the schemas refuse empty ones)."""
    if isinstance(node, dict):
        pruned = {key: _prune(value) for key, value in node.items()}
        return {key: value for key, value in pruned.items() if value not in ({}, [])}
    if isinstance(node, list):
        return [_prune(item) for item in node]
    return node


def withhold(release: dict[str, Any], classified: Sequence[str]) -> dict[str, Any]:
    """``release`` without its ``classified`` fields, each declared in ``withheldInformation`` (the release itself
    when nothing is classified)."""
    if not classified:
        return release
    cut: dict[str, Any] = _deep_copy(release)
    for name in classified:
        for path in CUTS[name]:
            _cut(cut, path.split("/"))
    cut = _prune(cut)
    cut["withheldInformation"] = [
        {"id": f"withheld-{n}", "field": name, "name": name.rsplit("/", 1)[-1], "rationale": _RATIONALE}
        for n, name in enumerate(classified)
    ]
    return cut


def _deep_copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _deep_copy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_deep_copy(item) for item in node]
    return node
