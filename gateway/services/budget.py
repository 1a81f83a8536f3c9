"""Budget lines read from the mirror, scoped (gateway/scope.py ``LineScope``), and their figures.

Every read (a page of lines, one line, the totals per ministry and per item) goes through one function,
``BudgetReader.figures``: the visible lines of a fiscal year with their codes in one statement, then, for those
lines only, their distributions, transfers, what the year before carried in, the multi-year parts scheduled for the
year and the pending transfers, each one statement; the figures are computed here in integer yen. The mirror keeps
each line's totals as the ledger's events report them (``budget_lines``), so nothing sums obligations or payments
per read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, Select, and_, bindparam, select

from chain import budget_code, gc_paused, org_id
from chain.budget import fiscal_year_containing, fiscal_year_start
from gateway.errors import NotFound
from gateway.identity import MirrorVersion, Principal
from gateway.ledger import Ledger
from gateway.schemas.budget import (
    AppropriationPublic,
    BudgetSummaryPublic,
    BurnRatePublic,
    ChargedProcurementPublic,
    EnactmentPublic,
    ItemTotalsPublic,
    LineChangePublic,
    LineDetailPublic,
    LineEventPublic,
    LineHistoryPublic,
    LinePublic,
    LineTransferPublic,
    MinistryTotalsPublic,
    PendingTransferPublic,
    TotalsPublic,
)
from gateway.schemas.common import ApiModel
from gateway.scope import LineScope, Scope
from gateway.services.reads import OPEN_MILESTONES, block_time_of
from indexer.models import (
    AmendmentApproval,
    BudgetAppropriation,
    BudgetAuthority,
    BudgetDeobligation,
    BudgetDisbursement,
    BudgetLineChange,
    BudgetLineRow,
    BudgetLineSettlement,
    BudgetObligation,
    BudgetScheduleChange,
    BudgetSeries,
    BudgetTransfer,
    BudgetTransferDecision,
    BudgetTransferRequest,
    MilestoneRow,
    ProcurementRow,
)

__all__ = ["DAY", "BudgetReader", "Clock", "LineFigures", "change_public", "fiscal_year_of", "read_clock"]

DAY = 86_400
_lines = BudgetLineRow.__table__
_series = BudgetSeries.__table__
_l, _s = _lines.c, _series.c
_procurements, _milestones = ProcurementRow.__table__, MilestoneRow.__table__
_CODES = ("ministry", "organization", "item", "sub_item")


def fiscal_year_of(timestamp: int) -> int:
    """The fiscal year containing ``timestamp``."""
    return fiscal_year_containing(timestamp)


def _same_line(series: Any, chain_id: Any, ministry: Any, organization: Any, item: Any, sub_item: Any) -> Any:
    """The join of ``budget_series`` (or an alias of it) to a line named by its codes."""
    c = series.c
    return and_(
        c.chain_id == chain_id,
        c.ministry == ministry,
        c.organization == organization,
        c.item == item,
        c.sub_item == sub_item,
    )


# The statements every read of lines runs, built once per shape, their values parameters given at execution:
# building them on every read and having SQLAlchemy derive each one's compiled-cache key again was a large part
# of a summary's time.
_BY_SHAPE = 256  # shapes kept: line scopes (one per ministry reading) times filters


@lru_cache(maxsize=_BY_SHAPE)
def _lines_query(scope: LineScope, ministry: bool, item: bool, series: bool) -> Select[Any]:
    """The lines of a year ``scope`` shows, with their codes, in ``LineFigures``' field order (parameters: chain_id,
    year, now, and ministry, item or series for the filters asked)."""
    query = (
        select(_l.series, _l.fiscal_year, *(_s[name] for name in _CODES))
        .add_columns(_l.allotted, _l.obligated, _l.disbursed, _l.carry_over, _l.lapsed, _l.settled, _l.block_number)
        .select_from(_lines)
        .join(_series, and_(_s.chain_id == _l.chain_id, _s.series == _l.series))
        .where(_l.chain_id == bindparam("chain_id"), _l.fiscal_year == bindparam("year"))
        .where(scope.where(_l.series, _l.fiscal_year, bindparam("now")))
        .order_by(_l.series)
    )
    if ministry:
        query = query.where(_s.ministry == bindparam("ministry"))
    if item:
        query = query.where(_s.item == bindparam("item"))
    if series:
        query = query.where(_l.series == bindparam("series"))
    return query


@lru_cache(maxsize=2)
def _transfers_query(one_line: bool) -> Select[Any]:
    """Transfers carried out in a year (parameters: chain_id, year, and only: the one line's series)."""
    t = BudgetTransfer.__table__.c
    query = select(t.from_series, t.to_series, t.amount).where(
        t.chain_id == bindparam("chain_id"), t.fiscal_year == bindparam("year")
    )
    if one_line:
        query = query.where((t.from_series == bindparam("only")) | (t.to_series == bindparam("only")))
    return query


@lru_cache(maxsize=2)
def _settlements_query(one_line: bool) -> Select[Any]:
    """Lines settled at the end of a year (parameters: chain_id, year, and only: the one line's series)."""
    t = BudgetLineSettlement.__table__.c
    query = select(t.series, t.carried_over, t.carried_obligations).where(
        t.chain_id == bindparam("chain_id"), t.fiscal_year == bindparam("year")
    )
    if one_line:
        query = query.where(t.series == bindparam("only"))
    return query


@lru_cache(maxsize=2)
def _pending_query(one_line: bool) -> Select[Any]:
    """Transfers of a year requested and not decided, with their lines' series (parameters: chain_id, year,
    ministries, and only: the one line's series)."""
    requests, decisions = BudgetTransferRequest.__table__, BudgetTransferDecision.__table__
    r = requests.c
    source, target = _series.alias("source"), _series.alias("target")
    decided = (
        select(decisions.c.transfer_id)
        .where(decisions.c.chain_id == r.chain_id, decisions.c.transfer_id == r.transfer_id)
        .exists()
    )
    query = (
        select(r.transfer_id, r.amount, r.requested_at, r.requester, r.between_items)
        .add_columns(r.from_item, r.from_sub_item, r.to_item, r.to_sub_item)
        .add_columns(source.c.series.label("from_series"), target.c.series.label("to_series"))
        .select_from(requests)
        .outerjoin(
            source, _same_line(source, r.chain_id, r.ministry, r.from_organization, r.from_item, r.from_sub_item)
        )
        .outerjoin(target, _same_line(target, r.chain_id, r.ministry, r.to_organization, r.to_item, r.to_sub_item))
        .where(r.chain_id == bindparam("chain_id"), r.fiscal_year == bindparam("year"))
        .where(r.ministry.in_(bindparam("ministries", expanding=True)), ~decided)
        .order_by(r.block_number, r.log_index)
    )
    if one_line:
        query = query.where((source.c.series == bindparam("only")) | (target.c.series == bindparam("only")))
    return query


_acts = BudgetAppropriation.__table__.c
# Items' enactments in a year (parameters: chain_id, year, ministries).
_ENACTMENTS = select(_acts.ministry, _acts.organization, _acts.item, _acts.act, _acts.amount).where(
    _acts.chain_id == bindparam("chain_id"),
    _acts.fiscal_year == bindparam("year"),
    _acts.ministry.in_(bindparam("ministries", expanding=True)),
)
_schedules = BudgetScheduleChange.__table__.c
# Multi-year parts scheduled for a year, and released from it (parameters: chain_id, year).
_SCHEDULED = select(_schedules.authority_id, _schedules.kind, _schedules.amount).where(
    _schedules.chain_id == bindparam("chain_id"), _schedules.fiscal_year == bindparam("year")
)
_approvals = AmendmentApproval.__table__.c
# Escrows with an approved amendment other than a cancellation (parameter: chain_id).
_AMENDED = (
    select(_approvals.escrow)
    .where(_approvals.chain_id == bindparam("chain_id"), _approvals.kind != "cancel")
    .distinct()
)


class _Pending(NamedTuple):
    """A pending transfer seen from one of its lines (made public only for a line's detail)."""

    row: Any
    direction: str
    age: int

    def public(self) -> PendingTransferPublic:
        row = self.row
        return PendingTransferPublic(
            transfer_id=row.transfer_id,
            direction=self.direction,
            from_series=row.from_series,
            to_series=row.to_series,
            from_item=row.from_item,
            to_item=row.to_item,
            from_sub_item=row.from_sub_item,
            to_sub_item=row.to_sub_item,
            amount=row.amount,
            between_items=bool(row.between_items),
            requester=row.requester,
            requested_at=row.requested_at,
            age_seconds=self.age,
        )


@dataclass(frozen=True)
class Clock:
    """When a read is made: the chain's time, and the newest block at least ``idle_days`` old then."""

    now: int
    idle_before_block: int


def read_clock(ledger: Ledger, mirror: MirrorVersion, idle_days: int) -> Clock:
    """When a read is made: the chain's time (a reading at most 1 s old) and the newest mirrored block older than
    ``idle_days``."""
    now = ledger.now(max_age_s=1.0)
    return Clock(now=now, idle_before_block=ledger.last_block_at(now - idle_days * DAY, mirror.block_number))


@dataclass(slots=True)
class LineFigures:
    """A line's mirrored totals and what the read adds to them."""

    series: int
    fiscal_year: int
    ministry: str  # the line's codes, bytes32 hex
    organization: str
    item: str
    sub_item: str
    allotted: int
    obligated: int
    disbursed: int
    carry_over: int
    lapsed: int
    settled: bool
    last_change_block: int
    distributed: int = 0
    transfers_in: int = 0
    transfers_out: int = 0
    carried_in: int = 0
    expected: int = 0
    pending: list[_Pending] = field(default_factory=list)

    @property
    def available(self) -> int:
        return 0 if self.settled else max(self.allotted - self.obligated - self.carry_over, 0)

    @property
    def unpaid(self) -> int:
        return 0 if self.settled else max(self.obligated - self.disbursed, 0)

    @property
    def item_key(self) -> tuple[str, str, str]:
        return (self.ministry, self.organization, self.item)

    def idle(self, clock: Clock) -> bool:
        return self.available > 0 and self.last_change_block <= clock.idle_before_block

    def public(self, clock: Clock, detail: bool = False) -> LinePublic:
        """The line as the API shows it."""
        start, end = fiscal_year_start(self.fiscal_year), fiscal_year_start(self.fiscal_year + 1)
        year = end - start
        elapsed = min(max(clock.now - start, 0), year)
        burn = BurnRatePublic(
            disbursed_per_month=self.disbursed * year // (12 * elapsed) if elapsed else 0,
            planned_per_month=self.allotted // 12,
            planned_to_date=self.allotted * elapsed // year,
            elapsed_days=elapsed // DAY,
            year_days=year // DAY,
        )
        values: dict[str, Any] = {
            "series": self.series,
            "fiscal_year": self.fiscal_year,
            "ministry": self.ministry,
            "organization": self.organization,
            "item": self.item,
            "sub_item": self.sub_item,
            "appropriation": AppropriationPublic(
                distributed=self.distributed,
                transfers_in=self.transfers_in,
                transfers_out=self.transfers_out,
                carried_in=self.carried_in,
                total=self.allotted,
            ),
            "obligated": self.obligated,
            "disbursed": self.disbursed,
            "available": self.available,
            "obligated_unpaid": self.unpaid,
            "carry_over": self.carry_over,
            "lapsed": self.lapsed,
            "settled": self.settled,
            "burn_rate": burn,
            "expected_obligations": self.expected,
            "projected_lapse": self.available - self.expected,
            "idle": self.idle(clock),
            "last_change_block": self.last_change_block,
            "pending_transfers": len(self.pending),
        }
        if detail:
            return LineDetailPublic(**values, pending=[pending.public() for pending in self.pending])
        return LinePublic(**values)


_SUMMED = (
    "appropriation",
    "distributed",
    "transfers_in",
    "transfers_out",
    "carried_in",
    "obligated",
    "disbursed",
    "available",
    "obligated_unpaid",
    "carry_over",
    "lapsed",
    "expected_obligations",
)


def _figures_row(line: LineFigures, clock: Clock) -> tuple[int, ...]:
    """A line's numbers: 1 (the line), those of ``_SUMMED`` in order, then its idle funds, pending transfers out and
    their amount."""
    available = line.available
    idle = available if available > 0 and line.last_change_block <= clock.idle_before_block else 0
    # A transfer between two visible lines counts once, on its source line.
    out = [p.row.amount for p in line.pending if p.direction == "out"]
    return (
        1,
        line.allotted,
        line.distributed,
        line.transfers_in,
        line.transfers_out,
        line.carried_in,
        line.obligated,
        line.disbursed,
        available,
        line.unpaid,
        line.carry_over,
        line.lapsed,
        line.expected,
        idle,
        len(out),
        sum(out),
    )


def _column_sums(rows: Iterable[Sequence[int]]) -> list[int]:
    """``rows`` (at least one) summed, column by column."""
    return [sum(column) for column in zip(*rows, strict=True)]


def _totals(sums: Sequence[int]) -> TotalsPublic:
    """Lines' ``_figures_row``s summed (``_column_sums``), as the API shows them."""
    named = dict(zip(_SUMMED, sums[1:], strict=False))
    idle, pending, pending_amount = sums[1 + len(_SUMMED) :]
    return TotalsPublic(
        lines=sums[0],
        **named,
        projected_lapse=named["available"] - named["expected_obligations"],
        idle_funds=idle,
        pending_transfers=pending,
        pending_transfer_amount=pending_amount,
    )


def _hex(code: str) -> str:
    return "0x" + budget_code(code).hex()


class BudgetReader:
    """Budget reads of the mirror for one chain, seen by one principal."""

    def __init__(self, engine: Engine, chain_id: int, principal: Principal) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self.scope = LineScope.of(principal)
        self.principal = principal

    # ------------------------------------------------------------ the one read

    def figures(
        self,
        conn: Connection,
        fiscal_year: int,
        clock: Clock,
        *,
        ministry: str | None = None,
        item: str | None = None,
        series: int | None = None,
    ) -> list[LineFigures]:
        """The visible lines of ``fiscal_year`` (of one ministry, item or series if given), in series order."""
        query = _lines_query(self.scope, ministry is not None, item is not None, series is not None)
        values: dict[str, Any] = {"chain_id": self.chain_id, "year": fiscal_year, "now": clock.now}
        if ministry is not None:
            values["ministry"] = "0x" + org_id(ministry).hex()
        if item is not None:
            values["item"] = _hex(item)
        if series is not None:
            values["series"] = series
        lines: dict[int, LineFigures] = {}
        # By position, in LineFigures' field order: a thousand lines a read (the summary's).
        for number, year, *codes, allotted, obligated, disbursed, carry_over, lapsed, settled, block in conn.execute(
            query, values
        ):
            ministry_code, organization, item_code, sub_item = codes
            lines[number] = LineFigures(
                number,
                year,
                ministry_code,
                organization,
                item_code,
                sub_item,
                allotted,
                obligated,
                disbursed,
                carry_over,
                lapsed,
                bool(settled),
                block,
            )
        if lines:
            self._add_movements(conn, fiscal_year, lines, clock, series)
        return list(lines.values())

    def _add_movements(
        self, conn: Connection, year: int, lines: dict[int, LineFigures], clock: Clock, only: int | None
    ) -> None:
        """Transfers in and out, what the year before carried in, the multi-year parts expected, pending transfers;
        what the ministry distributed follows (allotment = distributed + in - out + carried in)."""
        values: dict[str, Any] = {"chain_id": self.chain_id, "year": year}
        if only is not None:
            values["only"] = only
        for source, target, amount in conn.execute(_transfers_query(only is not None), values):
            if source in lines:
                lines[source].transfers_out += amount
            if target in lines:
                lines[target].transfers_in += amount
        for series, carried, unpaid in conn.execute(_settlements_query(only is not None), values | {"year": year - 1}):
            if series in lines:
                lines[series].carried_in += carried + unpaid
        for line in lines.values():
            line.distributed = line.allotted - line.transfers_in + line.transfers_out - line.carried_in
        ministries = sorted({line.ministry for line in lines.values()})
        self._add_expected(conn, year, lines, ministries)
        self._add_unobligated_raises(conn, year, lines)
        self._add_pending(conn, lines, clock, values | {"ministries": ministries})

    def _add_expected(self, conn: Connection, year: int, lines: dict[int, LineFigures], ministries: list[str]) -> None:
        """Multi-year parts scheduled for ``year`` and not yet obligated (or released), on their authority's line."""
        remaining: dict[str, int] = defaultdict(int)
        for authority, kind, amount in conn.execute(_SCHEDULED, {"chain_id": self.chain_id, "year": year}):
            remaining[authority] += amount if kind == "scheduled" else -amount
        if not remaining:
            return
        authorities = BudgetAuthority.__table__
        a = authorities.c
        query = (
            select(a.authority_id, _s.series)
            .select_from(authorities)
            .join(_series, _same_line(_series, a.chain_id, a.ministry, a.organization, a.item, a.sub_item))
            .where(a.chain_id == self.chain_id, a.authority_id.in_(sorted(remaining)), a.ministry.in_(ministries))
        )
        for authority, series in conn.execute(query):
            if series in lines and remaining[authority] > 0:
                lines[series].expected += remaining[authority]

    def _add_unobligated_raises(self, conn: Connection, year: int, lines: dict[int, LineFigures]) -> None:
        """What open procurements obligating these lines still need paid before the year ends beyond what they
        have obligated and scheduled for the year: an amendment that raised a milestone, or brought one forward
        into the year, until the officer obligates the difference (``increaseObligation``).

        Per escrow, as the ledger reckons what ``increaseObligation`` may add (need - held - undrawn - planned,
        with held = funded - released - refunded and drawn = funded - refunded): open milestones due before the
        year's end and what it owes, plus what it paid out, minus what it obligated, minus the multi-year parts of
        this year or earlier not yet obligated. Only an approved amendment (other than a cancellation) can raise
        that above zero, so only escrows with one are read.
        """
        obligations, deobligations = BudgetObligation.__table__, BudgetDeobligation.__table__
        amended = sorted(conn.execute(_AMENDED, {"chain_id": self.chain_id}).scalars())
        if not amended:
            return
        # Each amended escrow's obligation as its last Obligated or Deobligated event left it (line and yen).
        latest: dict[str, tuple[tuple[int, int], int, int, int]] = {}
        for table in (obligations, deobligations):
            t = table.c
            for escrow, block, log_index, series, fiscal_year, obligated in conn.execute(
                select(t.escrow, t.block_number, t.log_index, t.series, t.fiscal_year, t.escrow_obligated).where(
                    t.chain_id == self.chain_id,
                    t.series.in_(sorted(lines)),
                    t.fiscal_year <= year,
                    t.escrow.in_(amended),
                )
            ):
                if escrow not in latest or latest[escrow][0] < (block, log_index):
                    latest[escrow] = ((block, log_index), series, fiscal_year, obligated)
        carried = self._settled_before(conn, year, {(series, fy) for _, series, fy, _ in latest.values()})
        # The escrows whose obligation this year's line carries: obligated in the year, or in an earlier one whose
        # line (and every line after it) was settled, which moved the unpaid obligation on.
        on_line = {
            escrow: (series, obligated)
            for escrow, (_, series, fiscal_year, obligated) in latest.items()
            if fiscal_year == year or (fiscal_year < year and (series, fiscal_year) in carried)
        }
        if not on_line:
            return
        escrows = sorted(on_line)
        year_end = fiscal_year_start(year + 1)
        owed_and_paid = {
            escrow: owed + released
            for escrow, owed, released in conn.execute(
                select(_procurements.c.escrow, _procurements.c.total_owed, _procurements.c.total_released).where(
                    _procurements.c.chain_id == self.chain_id, _procurements.c.escrow.in_(escrows)
                )
            )
        }
        m = _milestones.c
        due: dict[str, int] = defaultdict(int)
        for escrow, amount in conn.execute(
            select(m.escrow, m.amount).where(
                m.chain_id == self.chain_id,
                m.escrow.in_(escrows),
                m.status.in_(OPEN_MILESTONES),
                m.due_date < year_end,
            )
        ):
            due[escrow] += amount
        scheduled: dict[str, int] = defaultdict(int)
        for escrow, kind, amount in conn.execute(
            select(_schedules.escrow, _schedules.kind, _schedules.amount).where(
                _schedules.chain_id == self.chain_id, _schedules.escrow.in_(escrows), _schedules.fiscal_year <= year
            )
        ):
            scheduled[escrow] += amount if kind == "scheduled" else -amount
        for escrow, (series, obligated) in on_line.items():
            need = due[escrow] + owed_and_paid.get(escrow, 0) - obligated - max(scheduled[escrow], 0)
            if need > 0 and not lines[series].settled:  # a settled line expects nothing: its year is over
                lines[series].expected += need

    def _settled_before(self, conn: Connection, year: int, obligated_on: set[tuple[int, int]]) -> set[tuple[int, int]]:
        """Of lines (series, fiscal year) before ``year``, those settled together with every line of their series
        up to ``year``: an obligation on one of them is carried by the series' line of ``year``."""
        earlier = {(series, fy) for series, fy in obligated_on if fy < year}
        if not earlier:
            return set()
        first = min(fy for _, fy in earlier)
        settled = {
            (series, fy)
            for series, fy in conn.execute(
                select(_l.series, _l.fiscal_year).where(
                    _l.chain_id == self.chain_id,
                    _l.series.in_(sorted({series for series, _ in earlier})),
                    _l.fiscal_year >= first,
                    _l.fiscal_year < year,
                    _l.settled.is_(True),
                )
            )
        }
        return {(series, fy) for series, fy in earlier if all((series, y) in settled for y in range(fy, year))}

    @staticmethod
    def _add_pending(conn: Connection, lines: dict[int, LineFigures], clock: Clock, values: dict[str, Any]) -> None:
        """Transfers requested and not decided (approved, refused or withdrawn), on their source and target lines
        (``values``: ``_pending_query``'s parameters)."""
        for row in conn.execute(_pending_query("only" in values), values):
            for series, direction in ((row.from_series, "out"), (row.to_series, "in")):
                if series is not None and series in lines:
                    lines[series].pending.append(_Pending(row, direction, max(clock.now - row.requested_at, 0)))

    # ------------------------------------------------------------ the answers

    def page(
        self,
        fiscal_year: int,
        clock: Clock,
        *,
        ministry: str | None,
        item: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[LinePublic], int]:
        """A page of the visible lines of a year, and how many there are."""
        with self.engine.connect() as conn:
            lines = self.figures(conn, fiscal_year, clock, ministry=ministry, item=item)
        return [line.public(clock) for line in lines[offset : offset + limit]], len(lines)

    def line(self, fiscal_year: int, series: int, clock: Clock) -> LinePublic:
        """One visible line with its pending transfers; NotFound if it does not exist or is not visible."""
        with self.engine.connect() as conn:
            lines = self.figures(conn, fiscal_year, clock, series=series)
        if not lines:
            raise NotFound(f"no budget line {series} of fiscal year {fiscal_year} visible to this account")
        return lines[0].public(clock, detail=True)

    def history(self, fiscal_year: int, series: int, clock: Clock) -> LineHistoryPublic:
        """One visible line (as ``line``) with its history: its item's enactments, every event that moved it,
        the transfers carried out in to or out of it, and the procurements charged to it (titled if visible to
        the account: gateway/scope.py ``Scope``); NotFound as for ``line``."""
        line = self.line(fiscal_year, series, clock)
        assert isinstance(line, LineDetailPublic)
        with self.engine.connect() as conn:
            return LineHistoryPublic(
                line=line,
                enactments=self._acts_of_item(conn, fiscal_year, series),
                events=self._line_events(conn, fiscal_year, series),
                transfers=self._transfers(conn, fiscal_year, series),
                procurements=self._charged(conn, fiscal_year, series),
            )

    def _acts_of_item(self, conn: Connection, year: int, series: int) -> list[EnactmentPublic]:
        acts = BudgetAppropriation.__table__
        a = acts.c
        query = (
            select(a.act, a.amount, a.authority, a.block_number, a.tx_hash)
            .add_columns(block_time_of(a.chain_id, a.block_number, "block_time"))
            .join(_series, and_(_s.chain_id == a.chain_id, _s.ministry == a.ministry))
            .where(a.chain_id == self.chain_id, a.fiscal_year == year, _s.series == series)
            .where(a.organization == _s.organization, a.item == _s.item)
            .order_by(a.block_number, a.log_index)
        )
        return [_public(EnactmentPublic, row) for row in conn.execute(query)]

    def _line_events(self, conn: Connection, year: int, series: int) -> list[LineEventPublic]:
        changes = BudgetLineChange.__table__
        c = changes.c
        query = (
            select(c.event, c.block_number, c.log_index, c.tx_hash, c.allotted, c.obligated, c.disbursed)
            .add_columns(block_time_of(c.chain_id, c.block_number, "block_time"))
            .where(c.chain_id == self.chain_id, c.series == series, c.fiscal_year == year)
            .order_by(c.block_number, c.log_index)
        )
        return [_public(LineEventPublic, row) for row in conn.execute(query)]

    def _transfers(self, conn: Connection, year: int, series: int) -> list[LineTransferPublic]:
        transfers = BudgetTransfer.__table__
        requests, decisions = BudgetTransferRequest.__table__, BudgetTransferDecision.__table__
        t, r, d = transfers.c, requests.c, decisions.c
        query = (
            select(t.transfer_id, t.from_series, t.to_series, t.amount, t.between_items, t.block_number, t.tx_hash)
            .add_columns(block_time_of(t.chain_id, t.block_number, "block_time"))
            .add_columns(r.requester, d.actor.label("approver"), d.requested_at, d.decided_at)
            .select_from(transfers)
            .outerjoin(requests, and_(r.chain_id == t.chain_id, r.transfer_id == t.transfer_id))
            .outerjoin(
                decisions, and_(d.chain_id == t.chain_id, d.transfer_id == t.transfer_id, d.decision == "approved")
            )
            .where(t.chain_id == self.chain_id, t.fiscal_year == year)
            .where((t.from_series == series) | (t.to_series == series))
            .order_by(t.block_number, t.log_index)
        )
        found = []
        for row in conn.execute(query):
            outward = row.from_series == series
            took = None if row.decided_at is None else max(row.decided_at - row.requested_at, 0)
            found.append(
                LineTransferPublic(
                    transfer_id=row.transfer_id,
                    direction="out" if outward else "in",
                    other_series=row.to_series if outward else row.from_series,
                    amount=row.amount,
                    between_items=bool(row.between_items),
                    requester=row.requester,
                    requested_at=row.requested_at,
                    approver=row.approver,
                    decided_at=row.decided_at,
                    took_seconds=took,
                    block_number=row.block_number,
                    block_time=row.block_time,
                    tx_hash=row.tx_hash,
                )
            )
        return found

    def _charged(self, conn: Connection, year: int, series: int) -> list[ChargedProcurementPublic]:
        """Each procurement obligated on the line: its obligation on the line now (the escrow's running total of
        its last obligation or deobligation) and what was disbursed of it."""
        obligated: dict[str, tuple[tuple[int, int], int]] = {}
        for table in (BudgetObligation.__table__, BudgetDeobligation.__table__):
            c = table.c
            for escrow, block, log, total in conn.execute(
                select(c.escrow, c.block_number, c.log_index, c.escrow_obligated).where(
                    c.chain_id == self.chain_id, c.series == series, c.fiscal_year == year
                )
            ):
                if escrow not in obligated or obligated[escrow][0] < (block, log):
                    obligated[escrow] = ((block, log), total)
        if not obligated:
            return []
        disbursements = BudgetDisbursement.__table__
        b = disbursements.c
        disbursed: dict[str, int] = defaultdict(int)
        for escrow, amount in conn.execute(
            select(b.escrow, b.amount).where(b.chain_id == self.chain_id, b.series == series, b.fiscal_year == year)
        ):
            disbursed[escrow] += amount
        p = _procurements.c
        titles = dict(
            conn.execute(
                select(p.escrow, p.title).where(
                    p.chain_id == self.chain_id, p.escrow.in_(sorted(obligated)), Scope.of(self.principal).where()
                )
            ).all()
        )
        return [
            ChargedProcurementPublic(
                escrow=escrow, title=titles.get(escrow), obligated=total, disbursed=disbursed.get(escrow, 0)
            )
            for escrow, (_, total) in sorted(obligated.items(), key=lambda item: item[1][0])
        ]

    def summary(self, fiscal_year: int, clock: Clock, idle_days: int, *, ministry: str | None) -> BudgetSummaryPublic:
        """The visible lines of a year summed per ministry and per item (with the item's enactments).

        Thousands of short-lived rows and figures, all freed by reference counting: the cyclic collector is paused
        meanwhile, as for an indexer range (``chain.gc_paused``), since each of its passes would walk the whole heap.
        """
        with gc_paused():
            return self._summary(fiscal_year, clock, idle_days, ministry)

    def overview(
        self, fiscal_year: int, clock: Clock, idle_days: int, *, offset: int, limit: int
    ) -> tuple[BudgetSummaryPublic, list[LinePublic], int]:
        """``summary`` (every ministry) and a ``page`` of the same lines with how many there are, from one read of
        their figures: the dashboard's overview."""
        with gc_paused():
            with self.engine.connect() as conn:
                lines = self.figures(conn, fiscal_year, clock)
                enacted = self._enactments(conn, fiscal_year, {line.item_key for line in lines})
            summary = self._summed(fiscal_year, clock, idle_days, lines, enacted)
            return summary, [line.public(clock) for line in lines[offset : offset + limit]], len(lines)

    def _summary(self, fiscal_year: int, clock: Clock, idle_days: int, ministry: str | None) -> BudgetSummaryPublic:
        with self.engine.connect() as conn:
            lines = self.figures(conn, fiscal_year, clock, ministry=ministry)
            enacted = self._enactments(conn, fiscal_year, {line.item_key for line in lines})
        return self._summed(fiscal_year, clock, idle_days, lines, enacted)

    @staticmethod
    def _summed(
        fiscal_year: int,
        clock: Clock,
        idle_days: int,
        lines: list[LineFigures],
        enacted: dict[tuple[str, str, str], tuple[int, int]],
    ) -> BudgetSummaryPublic:
        """The lines' figures summed per item, and the items' per ministry (each line is of one item of one
        ministry)."""
        by_item: dict[tuple[str, str, str], list[tuple[int, ...]]] = defaultdict(list)
        for line in lines:
            by_item[line.item_key].append(_figures_row(line, clock))
        items = {key: _column_sums(rows) for key, rows in sorted(by_item.items())}
        by_ministry: dict[str, list[list[int]]] = defaultdict(list)
        for key, sums in items.items():
            by_ministry[key[0]].append(sums)
        return BudgetSummaryPublic(
            fiscal_year=fiscal_year,
            as_of=clock.now,
            idle_days=idle_days,
            ministries=[
                MinistryTotalsPublic(ministry=code, totals=_totals(_column_sums(group)))
                for code, group in sorted(by_ministry.items())
            ],
            items=[
                ItemTotalsPublic(
                    ministry=key[0],
                    organization=key[1],
                    item=key[2],
                    initial=enacted.get(key, (0, 0))[0],
                    supplementary=enacted.get(key, (0, 0))[1],
                    totals=_totals(sums),
                )
                for key, sums in items.items()
            ],
        )

    def _enactments(
        self, conn: Connection, year: int, items: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(initial, supplementary net of cuts) of each item of ``items``."""
        if not items:
            return {}
        found: dict[tuple[str, str, str], tuple[int, int]] = {}
        ministries = sorted({ministry for ministry, _, _ in items})
        values = {"chain_id": self.chain_id, "year": year, "ministries": ministries}
        for row in conn.execute(_ENACTMENTS, values):
            key = (row.ministry, row.organization, row.item)
            if key not in items:
                continue
            initial, supplementary = found.get(key, (0, 0))
            if row.act == "initial":
                initial += row.amount
            else:
                supplementary += row.amount
            found[key] = (initial, supplementary)
        return found

    # ------------------------------------------------------------ the live stream

    def changes_after(self, conn: Connection, after: tuple[int, int], now: int, limit: int = 500) -> list[Any]:
        """Visible line changes after (block, log index), in chain order; every change of one log together."""
        changes = BudgetLineChange.__table__
        c = changes.c
        query = (
            select(c.series, c.fiscal_year, c.event, c.block_number, c.log_index, c.tx_hash)
            .add_columns(c.allotted, c.obligated, c.disbursed, c.carry_over, c.lapsed, c.settled)
            .add_columns(*(_s[name] for name in _CODES))
            .add_columns(block_time_of(c.chain_id, c.block_number, "block_time"))
            .select_from(changes)
            .join(_series, and_(_s.chain_id == c.chain_id, _s.series == c.series))
            .where(c.chain_id == self.chain_id)
            .where(
                (c.block_number > after[0]) | ((c.block_number == after[0]) & (c.log_index > after[1])),
                self.scope.where(c.series, c.fiscal_year, now),
            )
            .order_by(c.block_number, c.log_index, c.series, c.fiscal_year)
            .limit(limit)
        )
        rows: list[Any] = list(conn.execute(query).all())
        if len(rows) == limit and rows[0][3:5] != rows[-1][3:5]:  # never cut the changes of one log in two
            last = rows[-1][3:5]
            rows = [row for row in rows if row[3:5] != last]
        return rows


def change_public(row: Any) -> LineChangePublic:
    """A row of ``BudgetReader.changes_after`` as the stream sends it."""
    return _public(LineChangePublic, row)


_Model = TypeVar("_Model", bound=ApiModel)


def _public(schema: type[_Model], row: Any) -> _Model:
    """A row as ``schema``, read by its attributes under the fields' Python names."""
    return schema.model_validate(row, from_attributes=True, by_alias=False, by_name=True)
