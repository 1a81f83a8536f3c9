"""Procurement specification files (YAML), validated first on their own, then against the chain.

Every mistake is reported with its field path and the reason; nothing is sent while anything is wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from chain.budget import LineKey, budget_code
from chain.clients import (
    DAY,
    DEFAULT_GRACE_PERIOD,
    DEFAULT_RULING_PERIOD,
    GRACE_PERIOD_RANGE,
    MAX_AMOUNT,
    RULING_PERIOD_RANGE,
    ProcurementSpec,
    RegistryClient,
)
from chain.errors import LedgerError
from chain.procurement_name import ocid_problem
from chain.roles import Role
from chain.signing import keccak
from chain.times import JST

__all__ = [
    "CLASSIFIABLE_FIELDS",
    "MAX_SPEC_BYTES",
    "LoadedSpec",
    "MilestoneSpec",
    "ProcurementFile",
    "SpecError",
    "check_against_chain",
    "load_spec",
    "read_yaml_mapping",
    "validation_problems",
]

MAX_SPEC_BYTES = 256 * 1024

# The OCDS fields a spec may mark classified: withheld from the public OCDS export (indexer/ocds/withheld.py says
# what each one cuts), published to auditors.
CLASSIFIABLE_FIELDS = (
    "contracts/title",
    "contracts/value",
    "contracts/implementation/milestones/title",
    "contracts/implementation/milestones/description",
    "contracts/implementation/transactions/value",
    "contracts/implementation/documents",
    "contracts/implementation/financialProgress",
    "contracts/amendments/description",
    "planning/budget",
)


class SpecError(LedgerError):
    """A specification is invalid; ``problems`` lists (field path, reason) pairs. One problem is one line."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        if len(problems) == 1:
            ((path, reason),) = problems
            super().__init__(f"{source}: {path}: {reason} (nothing was sent)")
            return
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        super().__init__(f"{source}: {len(problems)} problems, nothing was sent:\n{lines}")


def _address(value: str) -> str:
    if not is_hex_address(value):
        raise ValueError("not an Ethereum address (0x and 40 hex digits)")
    if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
        raise ValueError("mixed-case address with a wrong checksum (a typo?)")
    return str(to_checksum_address(value))


Address = Annotated[str, AfterValidator(_address)]
Yen = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="whole yen, at most 2^58 - 1 per milestone")]


class MilestoneSpec(BaseModel):
    """One deliverable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    amount: Yen
    due: dt.date | dt.datetime = Field(description="due date (end of that day, JST) or an exact time")
    evidence: list[str] = Field(default_factory=list, max_length=50, description="the evidence expected")

    def due_timestamp(self) -> int:
        """The due time as unix seconds: a bare date means 23:59:59 JST that day."""
        if isinstance(self.due, dt.datetime):
            due = self.due if self.due.tzinfo else self.due.replace(tzinfo=JST)
            return int(due.timestamp())
        return int(dt.datetime.combine(self.due, dt.time(23, 59, 59), JST).timestamp())


class BudgetLineSpec(BaseModel):
    """The budget line a procurement obligates: a sub-item line of the fiscal year current at creation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organization: str = Field(min_length=1, max_length=16, description="organization (組織) code, e.g. MOD-HQ")
    item: str = Field(min_length=1, max_length=16, description="item (項) code, e.g. DEF-EQUIP")
    sub_item: str = Field(min_length=1, max_length=16, description="sub-item (目) code, e.g. EQUIP-PURCHASE")
    ministry: str | None = Field(
        default=None, min_length=1, max_length=16, description="the line's ministry, if another's that granted access"
    )
    authority: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the multi-year obligation authority (its id is keccak256 of this name) for later years' parts",
    )

    @field_validator("organization", "item", "sub_item", "ministry")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None:
            budget_code(value)
        return value


class ProcurementFile(BaseModel):
    """A procurement specification as written by an officer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128, description="the OCDS ocid, e.g. ocds-b5fd17-MOD-2026-0042")
    title: str = Field(min_length=1, max_length=200)
    ministry: str = Field(min_length=1, max_length=16, description="buying ministry's code, e.g. MOD")
    supplier: Address
    evaluators: list[Address] = Field(min_length=1, max_length=16)
    quorum: StrictInt = Field(ge=1, le=16)
    token: Literal["JPYD"] = "JPYD"  # noqa: S105 - the deposit token's symbol, not a secret
    fund: Literal["full", "none"] | Annotated[StrictInt, Field(gt=0, description="whole yen")] = "full"
    milestones: list[MilestoneSpec] = Field(min_length=1, max_length=64)
    budget: BudgetLineSpec | None = None
    ruling_period_days: StrictInt = Field(
        default=DEFAULT_RULING_PERIOD // DAY,
        ge=RULING_PERIOD_RANGE[0] // DAY,
        le=RULING_PERIOD_RANGE[1] // DAY,
        description="days a review body has to rule on a dispute before it lapses",
    )
    grace_period_days: StrictInt = Field(
        default=DEFAULT_GRACE_PERIOD // DAY,
        ge=GRACE_PERIOD_RANGE[0] // DAY,
        le=GRACE_PERIOD_RANGE[1] // DAY,
        description="days between a ruling redirecting an off-boarded supplier's owed yen and its execution",
    )
    classified: list[str] = Field(
        default_factory=list,
        max_length=len(CLASSIFIABLE_FIELDS),
        description="OCDS fields withheld from the public export (auditors see them), e.g. contracts/value",
    )

    @field_validator("classified")
    @classmethod
    def _classified(cls, value: list[str]) -> list[str]:
        for path in value:
            if path not in CLASSIFIABLE_FIELDS:
                raise ValueError(
                    f"{path!r} is not a field the ledger can withhold; one of {', '.join(CLASSIFIABLE_FIELDS)}"
                )
        if len(set(value)) != len(value):
            raise ValueError("the same field is listed twice")
        return value

    @field_validator("id")
    @classmethod
    def _ocid(cls, value: str) -> str:
        problem = ocid_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _panel(self) -> ProcurementFile:
        if len(set(self.evaluators)) != len(self.evaluators):
            raise ValueError("evaluators: the same evaluator appears twice")
        if self.quorum > len(self.evaluators):
            raise ValueError(f"quorum: {self.quorum} is larger than the panel of {len(self.evaluators)}")
        if self.supplier in self.evaluators:
            raise ValueError("evaluators: the supplier cannot evaluate its own deliverables")
        if isinstance(self.fund, int) and self.fund > self.total:
            raise ValueError(f"fund: {self.fund} yen is more than the total of {self.total} yen")
        return self

    @property
    def total(self) -> int:
        """Sum of the milestone amounts, in yen."""
        return sum(m.amount for m in self.milestones)

    @property
    def fund_amount(self) -> int:
        """Yen to pay in at creation."""
        if self.fund == "full":
            return self.total
        if self.fund == "none":
            return 0
        return int(self.fund)

    @property
    def procurement_id(self) -> bytes:
        """keccak256 of the ocid: the on-chain procurement id (scoped by the buying ministry: the CREATE2 salt and
        the registry's key are keccak256(ministry, id))."""
        return keccak(self.id.encode("utf-8"))


@dataclass(frozen=True)
class LoadedSpec:
    """A parsed spec and the hash of the exact file bytes."""

    spec: ProcurementFile
    sha256: bytes
    source: str

    def line(self, fiscal_year: int) -> LineKey:
        """The budget line the procurement obligates in ``fiscal_year``; SpecError if the spec names none."""
        budget = self.spec.budget
        if budget is None:
            raise SpecError(self.source, [("budget", "names no budget line (organization, item, sub_item)")])
        ministry = budget.ministry or self.spec.ministry
        return LineKey.of(fiscal_year, ministry, budget.organization, budget.item, budget.sub_item)

    @property
    def authority_id(self) -> bytes:
        """The multi-year authority's id (keccak256 of its name), zero if the spec names none."""
        budget = self.spec.budget
        return keccak(budget.authority.encode("utf-8")) if budget is not None and budget.authority else b"\x00" * 32

    def to_chain(self) -> ProcurementSpec:
        """The factory parameters."""
        return ProcurementSpec(
            procurement_id=self.spec.procurement_id,
            supplier=self.spec.supplier,
            evaluators=tuple(self.spec.evaluators),
            quorum=self.spec.quorum,
            amounts=tuple(m.amount for m in self.spec.milestones),
            due_dates=tuple(m.due_timestamp() for m in self.spec.milestones),
            spec_hash=self.sha256,
            title=self.spec.title,
            ruling_period=self.spec.ruling_period_days * DAY,
            grace_period=self.spec.grace_period_days * DAY,
        )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in str(part):
            continue  # pydantic's union-member tags are noise for an officer
        else:
            out += ("." if out else "") + str(part)
    return out or "(file)"


class _SpecLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a date stays text: the spec's own validation then names the field of a
    date that does not exist (``2027-02-30``) instead of YAML failing without saying where."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_YEN_FIELDS = ("amount", "fund", "appropriation")  # a procurement's, and a budget file's (chain/budget_file.py)


def _reason(error: Any) -> str:
    """What is wrong with one field, and how to fix it, as an officer would want to read it."""
    kind, given, field_name = error["type"], error.get("input"), _field(error["loc"])
    if field_name in _YEN_FIELDS and kind in ("int_type", "int_parsing", "int_from_float", "literal_error"):
        if isinstance(given, float) and given.is_integer():
            return f"write whole yen without a decimal point: {int(given)}"
        if isinstance(given, float):
            return f"yen have no fractions: write a whole number of yen, not {given}"
        if isinstance(given, str):
            digits = given.replace(",", "").replace("_", "").replace(" ", "").removesuffix("円").removeprefix("¥")
            if digits.isdigit():
                return f"write whole yen without separators: {int(digits)}"
            if field_name == "fund":
                return f"{given!r} is not an amount: write full, none or whole yen such as 60000000"
            return f"{given!r} is not an amount: write whole yen such as 60000000"
    if field_name == "due" and kind.startswith(("date", "datetime")):
        return f"{given!r} is not a date: write YYYY-MM-DD (a day that exists), or an exact time with its offset"
    return str(error["msg"]).removeprefix("Value error, ")


def _field(loc: tuple[int | str, ...]) -> str:
    names = [part for part in loc if isinstance(part, str) and part not in _UNION_TAGS and "[" not in part]
    return names[-1] if names else ""


_UNION_TAGS = ("int", "str", "date", "datetime", "literal['full','none']")


def load_spec(path: Path) -> LoadedSpec:
    """Parse and validate a spec file on its own (no chain needed)."""
    data, raw = read_yaml_mapping(path)
    try:
        spec = ProcurementFile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(str(path), validation_problems(exc)) from None
    return LoadedSpec(spec=spec, sha256=hashlib.sha256(raw).digest(), source=str(path))


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """A file's validation errors as (field path, reason) pairs, said as an officer would want to read them."""
    return _dedupe([(_path(error["loc"]), _reason(error)) for error in exc.errors()])


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any], bytes]:
    """A YAML file of fields (a spec, a budget file) and its exact bytes; SpecError if it is not one."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(source, [("(file)", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(source, [("(file)", f"larger than {MAX_SPEC_BYTES} bytes")])
    try:
        data: Any = yaml.load(raw, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader without the timestamp resolver
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise SpecError(source, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict):
        raise SpecError(source, [("(file)", "must be a YAML mapping of fields")])
    return data, raw


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, list[str]] = {}
    for path, reason in problems:
        if reason not in seen.setdefault(path, []):
            seen[path].append(reason)
    return [(path, " / ".join(reasons)) for path, reasons in seen.items()]


def check_against_chain(loaded: LoadedSpec, *, officer: str, registry: RegistryClient, now: int) -> None:
    """Check what only the chain knows; raise SpecError listing every problem."""
    spec = loaded.spec
    problems: list[tuple[str, str]] = []
    officer_org = registry.organization_of(officer)
    if not registry.has_active_role(Role.PROCUREMENT_OFFICER, officer):
        problems.append(("(signer)", f"{officer} is not an active procurement officer"))
    elif officer_org != spec.ministry:
        problems.append(("ministry", f"the signing officer belongs to {officer_org}, not {spec.ministry}"))
    ministry = registry.organization(spec.ministry)
    if ministry is None:
        problems.append(("ministry", f"no organization {spec.ministry!r} in the registry"))
    supplier_org = registry.organization_of(spec.supplier)
    if not registry.has_active_role(Role.SUPPLIER, spec.supplier):
        problems.append(("supplier", f"{spec.supplier} is not an active supplier in the registry"))
    for i, evaluator in enumerate(spec.evaluators):
        where = f"evaluators[{i}]"
        if evaluator == officer:
            problems.append((where, "the creating officer cannot evaluate"))
        elif not registry.has_active_role(Role.EVALUATOR, evaluator):
            problems.append((where, f"{evaluator} is not an active evaluator in the registry"))
        elif supplier_org is not None and registry.organization_of(evaluator) == supplier_org:
            problems.append((where, f"{evaluator} belongs to the supplier's organization {supplier_org}"))
    for i, milestone in enumerate(spec.milestones):
        if milestone.due_timestamp() <= now:
            problems.append((f"milestones[{i}].due", f"{milestone.due} is not in the future"))
    if registry.escrow_of(spec.ministry, spec.procurement_id) is not None:
        problems.append(("id", f"procurement {spec.id!r} of {spec.ministry} already exists"))
    if spec.budget is None:
        problems.append(("budget", "names no budget line (organization, item, sub_item)"))
    if problems:
        raise SpecError(loaded.source, problems)
