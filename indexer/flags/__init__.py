"""Red flags at the implementation stage: published rules computed from the mirror (see ``registry``)."""

from indexer.flags.model import Context, Flag, Procurement, Rule
from indexer.flags.registry import DEFAULT_THRESHOLDS, NOT_COMPUTABLE, RULES, NotComputable, find_flags, load_thresholds

__all__ = [
    "DEFAULT_THRESHOLDS",
    "NOT_COMPUTABLE",
    "RULES",
    "Context",
    "Flag",
    "NotComputable",
    "Procurement",
    "Rule",
    "find_flags",
    "load_thresholds",
]
