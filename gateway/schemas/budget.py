"""Budget lines as the gateway serves them: each line's figures, totals per ministry and per item, line changes.

Amounts are integer yen, written as decimal strings (see ``gateway.schemas.common``); the few that may be negative
(a net distribution, a projected lapse that is a shortfall) are ``SignedYen``. Codes (ministry, organization,
item, sub-item) are given as text.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gateway.schemas.common import ApiModel, BlockTime, Uint64, Yen
from gateway.schemas.procurements import OrgCode

__all__ = [
    "AppropriationPublic",
    "BudgetFilters",
    "BudgetSummaryPublic",
    "BurnRatePublic",
    "ChargedProcurementPublic",
    "EnactmentPublic",
    "ItemTotalsPublic",
    "LineChangePublic",
    "LineDetailPublic",
    "LineEventPublic",
    "LineHistoryPublic",
    "LinePublic",
    "LineTransferPublic",
    "LinesPublic",
    "MinistryTotalsPublic",
    "PendingTransferPublic",
    "SignedYen",
    "StreamFilters",
    "SummaryFilters",
    "TotalsPublic",
]

_SIGNED = r"^-?(?:0|[1-9][0-9]*)$"


def _signed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


SignedYen = Annotated[
    int,
    BeforeValidator(_signed),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _SIGNED, "description": "Yen, may be negative. A decimal string."}),
]

_CODE = r"^[\x21-\x7e]+$"
FiscalYear = Annotated[int, Field(ge=1, le=9_998, description="A fiscal year (1 April to 31 March, JST).")]


class AppropriationPublic(ApiModel):
    """What a line may obligate (``total``, its allotment): what the ministry distributed to it (net of what it
    took back), transfers in and out, and what the year before carried into it (carry-overs and unpaid
    obligations)."""

    distributed: SignedYen
    transfers_in: Yen
    transfers_out: Yen
    carried_in: Yen
    total: Yen


class BurnRatePublic(ApiModel):
    """Disbursements per month (a twelfth of the year) so far, against a straight-line plan of the allotment:
    ``plannedToDate`` = allotment x elapsed / year."""

    disbursed_per_month: Yen
    planned_per_month: Yen
    planned_to_date: Yen
    elapsed_days: int
    year_days: int


class PendingTransferPublic(ApiModel):
    """A transfer requested and neither approved, refused nor withdrawn, and how long it has waited."""

    transfer_id: Yen
    direction: str = Field(description="out of this line, or in to it (for totals: the request's source line).")
    from_series: int | None
    to_series: int | None
    from_sub_item: OrgCode
    to_sub_item: OrgCode
    from_item: OrgCode
    to_item: OrgCode
    amount: Yen
    between_items: bool
    requester: str
    requested_at: Uint64
    age_seconds: Uint64


class LinePublic(ApiModel):
    """A budget line (fiscal year x ministry x organization x item x sub-item) and its figures, in yen.

    ``available`` = allotment - obligated - carry-over (0 once the line is settled: what was left lapsed);
    ``obligatedUnpaid`` = obligated - disbursed (0 once settled: unpaid obligations moved to the next year's
    line); ``projectedLapse`` = available - ``expectedObligations`` (what the open procurements on the line still
    expect to obligate before the year ends: the parts of multi-year obligations scheduled for this year and not
    obligated yet, and what amendments raised, or brought into the year, beyond what is obligated): negative is a
    shortfall; ``idle``: available and untouched (no line event) for the ``idleDays`` asked.
    """

    series: int
    fiscal_year: int
    ministry: OrgCode
    organization: OrgCode
    item: OrgCode
    sub_item: OrgCode
    appropriation: AppropriationPublic
    obligated: Yen
    disbursed: Yen
    available: Yen
    obligated_unpaid: Yen
    carry_over: Yen
    lapsed: Yen
    settled: bool
    burn_rate: BurnRatePublic
    expected_obligations: Yen
    projected_lapse: SignedYen
    idle: bool
    last_change_block: int
    pending_transfers: int = Field(description="How many transfers out of or in to this line are pending.")


class LinesPublic(ApiModel):
    """A page of lines, and how many match in all."""

    data: list[LinePublic]
    count: int


class LineDetailPublic(LinePublic):
    """One line, with its pending transfers."""

    pending: list[PendingTransferPublic]


class TotalsPublic(ApiModel):
    """Sums over lines (see ``LinePublic``); ``idleFunds`` is the available yen of idle lines."""

    lines: int
    appropriation: Yen
    distributed: SignedYen
    transfers_in: Yen
    transfers_out: Yen
    carried_in: Yen
    obligated: Yen
    disbursed: Yen
    available: Yen
    obligated_unpaid: Yen
    carry_over: Yen
    lapsed: Yen
    expected_obligations: Yen
    projected_lapse: SignedYen
    idle_funds: Yen
    pending_transfers: int
    pending_transfer_amount: Yen


class MinistryTotalsPublic(ApiModel):
    """One ministry's visible lines, summed."""

    ministry: OrgCode
    totals: TotalsPublic


class ItemTotalsPublic(ApiModel):
    """One item (項, what the Diet votes) of a ministry: its enactments (``initial``, ``supplementary``: net of
    cuts) and its visible lines, summed."""

    ministry: OrgCode
    organization: OrgCode
    item: OrgCode
    initial: Yen
    supplementary: SignedYen
    totals: TotalsPublic


class BudgetSummaryPublic(ApiModel):
    """A fiscal year's visible lines summed per ministry and per item, as of ``asOf`` (the chain's clock)."""

    fiscal_year: int
    as_of: Uint64
    idle_days: int
    ministries: list[MinistryTotalsPublic]
    items: list[ItemTotalsPublic]


class LineChangePublic(ApiModel):
    """One mirrored change of a line: the event, and the line's totals it reports after it (null: not reported
    by this event)."""

    series: int
    fiscal_year: int
    ministry: OrgCode
    organization: OrgCode
    item: OrgCode
    sub_item: OrgCode
    event: str
    block_number: int
    block_time: BlockTime = None
    log_index: int
    tx_hash: str
    allotted: Yen | None
    obligated: Yen | None
    disbursed: Yen | None
    carry_over: Yen | None
    lapsed: Yen | None
    settled: bool | None


class _Query(ApiModel):
    """Query parameters; any other is refused (422)."""

    model_config = ConfigDict(extra="forbid")


class BudgetFilters(_Query):
    fiscal_year: FiscalYear | None = Field(None, description="The fiscal year (default: the current one).")
    ministry: str | None = Field(None, min_length=1, max_length=16, pattern=_CODE, description="A ministry's code.")
    item: str | None = Field(None, min_length=1, max_length=16, pattern=_CODE, description="An item's code.")
    idle_days: int = Field(
        90, ge=1, le=3_650, description="A line untouched this many days with yen available is idle."
    )
    offset: int = Field(0, ge=0, le=10_000_000, description="Lines to skip.")
    limit: int = Field(100, ge=1, le=10_000, description="Lines per page (capped by the server).")


class SummaryFilters(_Query):
    fiscal_year: FiscalYear | None = Field(None, description="The fiscal year (default: the current one).")
    ministry: str | None = Field(None, min_length=1, max_length=16, pattern=_CODE, description="A ministry's code.")
    idle_days: int = Field(
        90, ge=1, le=3_650, description="A line untouched this many days with yen available is idle."
    )


class LineFilters(_Query):
    idle_days: int = Field(
        90, ge=1, le=3_650, description="A line untouched this many days with yen available is idle."
    )


class StreamFilters(_Query):
    after: str | None = Field(
        None,
        pattern=r"^[0-9]{1,19}(-[0-9]{1,9})?$",
        description="Resume after this position (an event's id); default: from now. Last-Event-ID also works.",
    )


class LineEventPublic(ApiModel):
    """One event that moved a line, with the line's totals it reports after it (null: not reported)."""

    event: str = Field(description="The ledger's event: Distributed, Transferred, Obligated, Disbursed...")
    block_number: int
    block_time: BlockTime = None
    log_index: int
    tx_hash: str
    allotted: Yen | None
    obligated: Yen | None
    disbursed: Yen | None


class EnactmentPublic(ApiModel):
    """An act of the line's item: the initial appropriation or a supplementary one (negative: a cut)."""

    act: str = Field(description="initial or supplementary.")
    amount: SignedYen
    authority: str
    block_number: int
    block_time: BlockTime = None
    tx_hash: str


class LineTransferPublic(ApiModel):
    """A transfer carried out in to or out of the line, with who asked, who approved and how long that took."""

    transfer_id: Yen
    direction: str = Field(description="out of this line, or in to it.")
    other_series: int = Field(description="The series of the line on the other side.")
    amount: Yen
    between_items: bool
    requester: str | None = Field(description="Who requested it (null: carried out without a request).")
    requested_at: Uint64 | None
    approver: str | None
    decided_at: Uint64 | None
    took_seconds: Uint64 | None = Field(description="From request to decision.")
    block_number: int
    block_time: BlockTime = None
    tx_hash: str


class ChargedProcurementPublic(ApiModel):
    """A procurement obligated on the line: what it has obligated and been disbursed of it."""

    escrow: str
    title: str | None = Field(description="Its title, if the account may see the procurement (null otherwise).")
    obligated: Yen = Field(description="What the procurement has obligated on the line now.")
    disbursed: Yen


class LineHistoryPublic(ApiModel):
    """A line with its history: its item's enactments, every event that moved it, its transfers, the
    procurements charged to it."""

    line: LineDetailPublic
    enactments: list[EnactmentPublic]
    events: list[LineEventPublic]
    transfers: list[LineTransferPublic]
    procurements: list[ChargedProcurementPublic]
