"""Budget files (YAML): a fiscal year's items with their appropriations and the sub-item lines they are
distributed to, validated like procurement specs (chain/spec.py), and the budget acts that enact them.

Every mistake is reported with its field path and the reason (``lines[3].subItems[0].amount: write whole yen
without separators: 60000000``); nothing is sent while anything is wrong. ``BudgetFile.acts`` turns a file into
the signed acts that enact it (the finance authority's initial appropriation of each item, then each ministry's
finance officer's distribution of each sub-item), leaving out what is already on chain: enacting a file twice
sends nothing the second time. Whoever sends them (``procure budget enact`` through the gateway, the dev chain's
seeding directly) uses this one plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from chain.actions import BUDGET_MAX_YEN
from chain.budget import Authorization, ItemKey, LineKey, budget_code
from chain.roles import Role
from chain.spec import SpecError, read_yaml_mapping, validation_problems

__all__ = [
    "BudgetAct",
    "BudgetFile",
    "ItemSpec",
    "LoadedBudget",
    "SubItemSpec",
    "distributed_on_chain",
    "enacted_on_chain",
    "load_budget_file",
]

Yen = Annotated[StrictInt, Field(gt=0, le=BUDGET_MAX_YEN, description="whole yen, at most 2^56 - 1")]
Code = Annotated[str, Field(min_length=1, max_length=16)]
Hash = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="a SHA-256, 0x and 64 hex digits")]
_AUTHORIZATIONS = {
    "transfer-between-items": Authorization.TRANSFER_BETWEEN_ITEMS,  # 移用 (Public Finance Act, Art. 33(1))
    "carry-over": Authorization.CARRY_OVER,  # 明許繰越 (Art. 14-3)
}


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class SubItemSpec(_Fields):
    """A sub-item (目) line of an item and the yen distributed to it."""

    sub_item: Code
    name: str = Field(default="", max_length=200)
    amount: Yen

    @field_validator("sub_item")
    @classmethod
    def _code(cls, value: str) -> str:
        budget_code(value)
        return value


class ItemSpec(_Fields):
    """An item (項) of a ministry's organization: its appropriation, the instrument enacting it, its sub-items."""

    ministry: Code
    organization: Code
    item: Code
    name: str = Field(default="", max_length=200)
    appropriation: Yen
    instrument: Hash | None = Field(default=None, description="the enacting instrument's hash (default: the file's)")
    authorizations: list[Literal["transfer-between-items", "carry-over"]] = Field(default_factory=list)
    sub_items: list[SubItemSpec] = Field(default_factory=list, max_length=256)

    @field_validator("ministry", "organization", "item")
    @classmethod
    def _code(cls, value: str) -> str:
        budget_code(value)
        return value

    @model_validator(mode="after")
    def _parts(self) -> ItemSpec:
        codes = [s.sub_item for s in self.sub_items]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"subItems: {', '.join(twice)} listed twice")
        distributed = sum(s.amount for s in self.sub_items)
        if distributed > self.appropriation:
            raise ValueError(
                f"subItems: {distributed:,} yen distributed, more than the appropriation of {self.appropriation:,} yen"
            )
        return self

    @property
    def authorization_flags(self) -> int:
        """The Diet's prior authorizations as BudgetLedger's flags."""
        flags = 0
        for name in self.authorizations:
            flags |= int(_AUTHORIZATIONS[name])
        return flags


class BudgetFile(_Fields):
    """A fiscal year's budget as enacted: items and their sub-item lines, in integer yen."""

    fiscal_year: StrictInt = Field(ge=2000, le=2999, description="the fiscal year (April to March), e.g. 2026")
    title: str = Field(default="", max_length=200)
    instrument: Hash = Field(description="the hash of the budget act enacting these appropriations")
    lines: list[ItemSpec] = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _unique(self) -> BudgetFile:
        keys = [(i.ministry, i.organization, i.item) for i in self.lines]
        twice = sorted({"/".join(k) for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"lines: the item {', '.join(twice)} is listed twice")
        return self

    def acts(
        self,
        *,
        enacted: Callable[[ItemKey], bool],
        distributed: Callable[[LineKey], bool],
        fiscal_year: int | None = None,
    ) -> list[BudgetAct]:
        """The acts that enact this file in ``fiscal_year`` (default: the file's), in order, leaving out each item
        ``enacted`` says has its initial budget and each line ``distributed`` says exists."""
        year = self.fiscal_year if fiscal_year is None else fiscal_year
        planned: list[BudgetAct] = []
        for i, spec in enumerate(self.lines):
            item = ItemKey(year, budget_code(spec.ministry), budget_code(spec.organization), budget_code(spec.item))
            words = {"fiscalYear": year, "ministry": spec.ministry, "organization": spec.organization}
            words["item"] = spec.item
            if not enacted(item):
                fields = {
                    "key": words,
                    "act": "initial",
                    "amount": spec.appropriation,
                    "authorizations": spec.authorization_flags,
                    "instrumentHash": spec.instrument or self.instrument,
                }
                said = f"{_named(spec.item, spec.name)} of {spec.ministry}: {spec.appropriation:,} yen appropriated"
                enact = BudgetAct("EnactAppropriation", fields, Role.FINANCE_AUTHORITY, None, f"lines[{i}]", said)
                planned.append(enact)
            for j, sub in enumerate(spec.sub_items):
                line = LineKey(*item.as_tuple(), budget_code(sub.sub_item))
                if distributed(line):
                    continue
                said = f"{_named(sub.sub_item, sub.name)} of {spec.item}: {sub.amount:,} yen distributed"
                fields = {"line": words | {"subItem": sub.sub_item}, "change": sub.amount}
                where = f"lines[{i}].subItems[{j}]"
                planned.append(BudgetAct("Distribute", fields, Role.TREASURY, spec.ministry, where, said))
        return planned


def _named(code: str, name: str) -> str:
    return f"{code} ({name})" if name else code


@dataclass(frozen=True)
class BudgetAct:
    """One act a budget file needs: its signed action (chain.ACTIONS) and fields in the API's words, who signs it
    (a role; for a ministry's act, in ``ministry``), the file's entry it comes from, and what it does in words."""

    primary_type: str
    fields: dict[str, Any]
    role: Role
    ministry: str | None
    where: str
    said: str

    @property
    def line(self) -> LineKey | None:
        """The line a distribution gives yen to."""
        if self.primary_type != "Distribute":
            return None
        key = self.fields["line"]
        return LineKey.of(key["fiscalYear"], key["ministry"], key["organization"], key["item"], key["subItem"])

    @property
    def item(self) -> ItemKey:
        """The item the act concerns."""
        key = self.fields["key"] if "key" in self.fields else self.fields["line"]
        codes = (key["ministry"], key["organization"], key["item"])
        return ItemKey(key["fiscalYear"], *(budget_code(code) for code in codes))


@dataclass(frozen=True)
class LoadedBudget:
    """A parsed budget file and where it came from."""

    budget: BudgetFile
    source: str


def load_budget_file(path: Path) -> LoadedBudget:
    """Parse and validate a budget file on its own (no chain needed); SpecError listing every problem."""
    data, _ = read_yaml_mapping(path)
    try:
        budget = BudgetFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(str(path), validation_problems(exc)) from None
    return LoadedBudget(budget, str(path))


def distributed_on_chain(read_line: Callable[[LineKey], Any]) -> Callable[[LineKey], bool]:
    """``BudgetFile.acts``'s ``distributed`` from a reader of the ledger's lines (``BudgetClient.line``)."""
    return lambda line: bool(read_line(line).exists)


def enacted_on_chain(read_item: Callable[[ItemKey], Any]) -> Callable[[ItemKey], bool]:
    """``BudgetFile.acts``'s ``enacted`` from a reader of the ledger's items (``BudgetClient.item``)."""
    return lambda item: bool(read_item(item).initial_enacted)
