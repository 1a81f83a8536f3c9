"""The red-flag rules, one registry: each rule's id, published source and finder (rules live in the modules named
for what they read), the rules this ledger cannot compute and why, the thresholds file, and ``find_flags``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.errors import ConfigurationError
from indexer.flags.acceptance import ACCEPTANCE_RULES
from indexer.flags.amendments import AMENDMENT_RULES
from indexer.flags.budget import BUDGET_RULES
from indexer.flags.model import Context, Flag, Rule
from indexer.flags.parties import PARTY_RULES

__all__ = ["DEFAULT_THRESHOLDS", "NOT_COMPUTABLE", "RULES", "NotComputable", "find_flags", "load_thresholds"]

RULES: Mapping[str, Rule] = {
    rule.id: rule for rule in (*AMENDMENT_RULES, *ACCEPTANCE_RULES, *PARTY_RULES, *BUDGET_RULES)
}
DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"


@dataclass(frozen=True)
class NotComputable:
    """A published rule (or part of one) this ledger cannot compute, and why."""

    id: str
    source: str
    reason: str


NOT_COMPUTABLE = (
    NotComputable("single-bid", "Cardinal R018 (single bid received)", "the ledger holds no tender or bid data"),
    NotComputable(
        "short-submission-period",
        "Cardinal R003 (short submission period)",
        "the ledger holds no tender notice or submission deadline",
    ),
    NotComputable(
        "bid-price",
        "Cardinal bid-price rules (R024, R025, R028 and others)",
        "the ledger holds no bids or their prices",
    ),
    NotComputable(
        "amendment-growth-works",
        "EU Directive 2014/24/EU Art. 72, 15% for works",
        "the ledger does not record whether a contract is for works, supplies or services: every contract is held "
        "to the supplies and services limit",
    ),
    NotComputable(
        "related-parties-address",
        "Cardinal R044 (open proposal): shared address",
        "the registry holds no postal addresses, officers' names or bank accounts of organizations",
    ),
)


def _check(thresholds: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    unknown = sorted(set(thresholds) - set(RULES))
    missing = sorted(set(RULES) - set(thresholds))
    if unknown or missing:
        raise ConfigurationError(
            f"{source}: "
            + "; ".join(
                part
                for part in (
                    f"unknown rules {', '.join(unknown)}" if unknown else "",
                    f"missing rules {', '.join(missing)}" if missing else "",
                )
                if part
            )
        )
    checked: dict[str, dict[str, Any]] = {}
    for rule, values in thresholds.items():
        if not isinstance(values, dict):
            raise ConfigurationError(f"{source}: [{rule}] must be a table")
        for key, value in values.items():
            numbers = value if isinstance(value, list) else [value]
            if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
                raise ConfigurationError(
                    f"{source}: [{rule}] {key} = {value!r}: write a whole number >= 0 (yen, days, percent) or a "
                    "list of them"
                )
        checked[rule] = dict(values)
    return checked


def load_thresholds(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The thresholds of ``path`` (default ``indexer/flags/thresholds.toml``): every rule, every key of the default
    file, whole numbers only; a ConfigurationError naming what is wrong otherwise."""
    defaults = _check(tomllib.loads(DEFAULT_THRESHOLDS.read_text()), str(DEFAULT_THRESHOLDS))
    if path is None:
        return defaults
    try:
        loaded = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read the thresholds file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not TOML: {exc}") from None
    checked = _check(loaded, str(path))
    for rule, values in defaults.items():
        missing = sorted(set(values) - set(checked[rule]))
        extra = sorted(set(checked[rule]) - set(values))
        if missing or extra:
            raise ConfigurationError(
                f"{path}: [{rule}] "
                + (f"misses {', '.join(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"has unknown {', '.join(extra)}" if extra else "")
            )
        for key, default in values.items():
            if isinstance(default, list) != isinstance(checked[rule][key], list):
                shape = "a list of whole numbers" if isinstance(default, list) else "one whole number"
                raise ConfigurationError(f"{path}: [{rule}] {key} must be {shape}")
    return checked


def find_flags(
    ctx: Context,
    *,
    rules: Iterable[str] | None = None,
    fiscal_year: int | None = None,
    ministry: str | None = None,
) -> list[Flag]:
    """The flags of ``rules`` (default all) on the context's chain, of one buyer's code and one fiscal year if
    given (a procurement's fiscal year is that of its first budget obligation), grouped by buyer, rule and ocid."""
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [rule for rule in chosen if rule not in RULES]
    if unknown:
        raise ConfigurationError(f"unknown rule {', '.join(unknown)}; the rules are {', '.join(RULES)}")
    flags = [
        flag
        for rule in chosen
        for flag in RULES[rule].find(ctx)
        if (ministry is None or flag.buyer == ministry) and (fiscal_year is None or flag.fiscal_year == fiscal_year)
    ]
    return sorted(flags, key=lambda f: (f.buyer, f.rule, f.ocid or "", f.summary))
