"""The OCDS 1.1.5 schemas this ledger publishes against, read from the vendored copies in ``schema/``.

The release schema is the core one with the declared extensions applied (JSON Merge Patch, RFC 7386, as the
extension registry's tools do); ocdsmerge compiles records with it and the tests validate every export against it.
Nothing here touches the network.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["EXTENSIONS", "SCHEMA_DIR", "merge_patch", "package_schema", "release_schema"]

SCHEMA_DIR = Path(__file__).parent / "schema"

# (folder under schema/extensions, its canonical extension.json URL), in the order they are applied.
_EXTENSIONS: tuple[tuple[str, str], ...] = (
    (
        "ocds_metrics_extension",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_metrics_extension/1.1/extension.json",
    ),
    (
        "ocds_transactions_relatedMilestone_extension",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_transactions_relatedMilestone_extension/"
        "v1.1/extension.json",
    ),
    (
        "ocds_budget_and_spend_extension",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_budget_and_spend_extension/master/"
        "extension.json",
    ),
    (
        "ocds_withheldInformation_extension",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_withheldInformation_extension/master/"
        "extension.json",
    ),
)
EXTENSIONS: tuple[str, ...] = tuple(url for _, url in _EXTENSIONS)  # a package's `extensions`


def _load(name: str) -> Any:
    with (SCHEMA_DIR / name).open(encoding="utf-8") as file:
        return json.load(file)


def merge_patch(target: Any, patch: Any) -> Any:
    """``patch`` applied to ``target`` as a JSON Merge Patch (RFC 7386): objects merge, ``null`` deletes."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


@cache
def _release_schema_text() -> str:
    schema = _load("release-schema.json")
    for folder, _ in _EXTENSIONS:
        schema = merge_patch(schema, _load(f"extensions/{folder}/release-schema.json"))
    return json.dumps(schema)


def release_schema() -> dict[str, Any]:
    """The release schema with the declared extensions applied (a fresh copy)."""
    schema: dict[str, Any] = json.loads(_release_schema_text())
    return schema


def package_schema(kind: str) -> dict[str, Any]:
    """The core ``release`` or ``record`` package schema (a fresh copy)."""
    if kind not in ("release", "record"):
        raise ValueError(f"no {kind!r} package schema: release or record")
    schema: dict[str, Any] = _load(f"{kind}-package-schema.json")
    return schema
