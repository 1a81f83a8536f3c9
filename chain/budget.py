"""Budget line keys and Japan's fiscal year, as contracts/interfaces/IBudgetLedger.sol and FiscalYear.sol have them.

A line is fiscal year x ministry x organization (組織) x item (項) x sub-item (目); codes are left-aligned ASCII in
bytes32, like organization ids. Fiscal year N runs from 1 April N, 00:00 JST, to 31 March N+1.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from chain.errors import ConfigurationError
from chain.roles import org_id
from chain.times import JST

__all__ = [
    "AppropriationAct",
    "Authorization",
    "CarryOverKind",
    "ItemKey",
    "LineKey",
    "budget_code",
    "fiscal_year_containing",
    "fiscal_year_start",
]


class AppropriationAct(enum.IntEnum):
    """IBudgetLedger.AppropriationAct."""

    INITIAL = 0
    SUPPLEMENTARY = 1


class CarryOverKind(enum.IntEnum):
    """IBudgetLedger.CarryOverKind: 明許繰越 (authorized by the budget) or 事故繰越 (an accident)."""

    AUTHORIZED = 0
    ACCIDENT = 1


class Authorization(enum.IntFlag):
    """The Diet's prior authorizations an item carries (BudgetLedger's constants)."""

    NONE = 0
    TRANSFER_BETWEEN_ITEMS = 1
    CARRY_OVER = 2


def budget_code(code: str) -> bytes:
    """The bytes32 form of an organization, item or sub-item code (1 to 16 ASCII characters, zero-padded)."""
    try:
        return org_id(code)
    except ConfigurationError:
        raise ConfigurationError(f"budget code must be 1 to 16 ASCII characters, got {code!r}") from None


@dataclass(frozen=True)
class ItemKey:
    """One item (項) of one fiscal year; codes as bytes32."""

    fiscal_year: int
    ministry: bytes
    organization: bytes
    item: bytes

    def as_tuple(self) -> tuple[int, bytes, bytes, bytes]:
        """The ABI tuple."""
        return (self.fiscal_year, self.ministry, self.organization, self.item)


@dataclass(frozen=True)
class LineKey:
    """One sub-item line (目) of one fiscal year; codes as bytes32."""

    fiscal_year: int
    ministry: bytes
    organization: bytes
    item: bytes
    sub_item: bytes

    @classmethod
    def of(cls, fiscal_year: int, ministry: str, organization: str, item: str, sub_item: str) -> LineKey:
        """A key from its codes, e.g. ``LineKey.of(2026, "MOD", "MOD-HQ", "EQUIP", "NIGHT-VISION")``."""
        return cls(fiscal_year, org_id(ministry), budget_code(organization), budget_code(item), budget_code(sub_item))

    @property
    def item_key(self) -> ItemKey:
        """The item the line belongs to."""
        return ItemKey(self.fiscal_year, self.ministry, self.organization, self.item)

    def in_year(self, fiscal_year: int) -> LineKey:
        """The same series' line in another fiscal year."""
        return LineKey(fiscal_year, self.ministry, self.organization, self.item, self.sub_item)

    def as_tuple(self) -> tuple[int, bytes, bytes, bytes, bytes]:
        """The ABI tuple."""
        return (self.fiscal_year, self.ministry, self.organization, self.item, self.sub_item)


def fiscal_year_start(fiscal_year: int) -> int:
    """Unix time fiscal year ``fiscal_year`` starts: 1 April, 00:00 JST."""
    return int(datetime(fiscal_year, 4, 1, tzinfo=JST).timestamp())


def fiscal_year_containing(timestamp: int) -> int:
    """The fiscal year that contains unix time ``timestamp``: Howard Hinnant's civil_from_days, exactly as
    FiscalYear.sol computes it (so it holds for any uint40 time, beyond ``datetime``'s year 9999)."""
    z = (timestamp + 9 * 3600) // 86_400 + 719_468
    era = z // 146_097
    day_of_era = z - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    march_year = year_of_era + era * 400
    # Month index 0 is March, which still belongs to the fiscal year before.
    return march_year - 1 if (5 * day_of_year + 2) // 153 == 0 else march_year
