"""Red flags as the gateway answers them, and the query parameters of their list (any other is refused: 422)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.schemas.common import ApiModel

__all__ = ["FlagFilters", "FlagPublic", "FlagsPublic", "NotComputablePublic"]

_ORG_CODE = r"^[\x21-\x7e]+$"
_RULE = r"^[a-z][a-z0-9-]{0,63}$"


class FlagFilters(ApiModel):
    """Filters and page of the flags list (offset pagination, as the other lists; the limit is capped by the server)."""

    offset: int = Field(0, ge=0, le=10_000_000, description="Flags to skip.")
    limit: int = Field(50, ge=1, le=10_000, description="Flags per page (capped by the server).")
    fy: int | None = Field(
        None, ge=2000, le=9999, description="Only this fiscal year (of a procurement's first obligation)."
    )
    ministry: str | None = Field(
        None, min_length=1, max_length=16, pattern=_ORG_CODE, description="Only this buying ministry's code, e.g. MOD."
    )
    rule: str | None = Field(None, pattern=_RULE, description="Only this rule's id, e.g. amendment-growth.")


class FlagPublic(ApiModel):
    """One red flag: the rule, what tripped it (in words and as records), and whose it is."""

    rule: str = Field(description="The rule's id (see GET /audit/flags' rules).")
    ocid: str | None = Field(description="The procurement's ocid; null for a flag of a buyer or supplier.")
    escrow: str | None
    title: str | None
    buyer: str = Field(description="The buying ministry's code.")
    supplier: str | None = Field(description="The supplier organization's code.")
    fiscal_year: int | None
    summary: str = Field(description="What happened, in words (amounts in yen).")
    records: dict[str, Any] = Field(
        description="What tripped it: milestone, amendment ids, accounts, transaction hashes, amounts in yen "
        "(integers up to 2^53, decimal strings beyond)."
    )


class RulePublic(ApiModel):
    """A rule: its id, published source and what it looks for."""

    id: str
    source: str
    description: str


class NotComputablePublic(ApiModel):
    """A published rule this ledger cannot compute, and why."""

    id: str
    source: str
    reason: str


class FlagsPublic(ApiModel):
    """A page of flags, the block the computation covers, and the rules."""

    data: list[FlagPublic]
    count: int = Field(description="How many match the filters (all pages).")
    as_of_block: int = Field(description="The mirror's block the flags were computed at.")
    rules: list[RulePublic]
    not_computable: list[NotComputablePublic]
