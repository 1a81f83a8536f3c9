"""The burn-rate chart: what a line (or a year's visible lines together) has disbursed over the fiscal year,
against the straight-line plan (the appropriation spread evenly over the year), with the disbursement carried on
at its pace to the year's end. Drawn on the server as an inline SVG (no script, no chart library); the page gives
the same numbers in a table, and the SVG its own <title> and <desc>.

Coordinates are integers computed from integer yen and unix seconds: no float touches an amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.budget import fiscal_year_start
from gateway.schemas.budget import BudgetSummaryPublic

__all__ = ["BurnChart", "burn_chart", "overview_chart"]

WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 16, 32


@dataclass(frozen=True)
class BurnChart:
    """What the chart template draws and the table beside it lists (yen, unix seconds, SVG coordinates)."""

    start: int
    end: int
    now: int
    appropriation: int
    disbursed: int
    planned_to_date: int
    projected_year_end: int  # the disbursement at its pace so far, carried on to the year's end
    projected_lapse: int  # the API's: available less the obligations still expected this year
    plan: str  # SVG polyline points
    actual: str
    projected: str
    now_x: int
    scale: int  # yen at the top of the chart
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    bottom: int = HEIGHT - _BOTTOM


def burn_chart(
    fiscal_year: int,
    now: int,
    appropriation: int,
    disbursed: int,
    projected_lapse: int,
    steps: Sequence[tuple[int, int]] = (),
) -> BurnChart:
    """The chart of a fiscal year's ``appropriation`` and ``disbursed`` as of ``now``; ``steps`` (block time, the
    disbursed total after it), in time order, draw the disbursement as it grew (without them: a straight line from
    the year's start to now)."""
    start, end = fiscal_year_start(fiscal_year), fiscal_year_start(fiscal_year + 1)
    year = end - start
    at = min(max(now, start), end)
    elapsed = at - start
    planned = appropriation * elapsed // year
    projected_end = disbursed * year // elapsed if elapsed else disbursed
    scale = max(appropriation, projected_end, disbursed, 1)

    def x(moment: int) -> int:
        return _LEFT + (min(max(moment, start), end) - start) * (WIDTH - _LEFT - _RIGHT) // year

    def y(yen: int) -> int:
        return HEIGHT - _BOTTOM - yen * (HEIGHT - _TOP - _BOTTOM) // scale

    points = [(start, 0)]
    for moment, total in steps:
        if start <= moment <= at:
            points.append((moment, points[-1][1]))  # a step: flat until the disbursement
            points.append((moment, total))
    points.append((at, disbursed))
    return BurnChart(
        start=start,
        end=end,
        now=at,
        appropriation=appropriation,
        disbursed=disbursed,
        planned_to_date=planned,
        projected_year_end=projected_end,
        projected_lapse=projected_lapse,
        plan=f"{x(start)},{y(0)} {x(end)},{y(appropriation)}",
        actual=" ".join(f"{x(moment)},{y(total)}" for moment, total in points),
        projected=f"{x(at)},{y(disbursed)} {x(end)},{y(projected_end)}",
        now_x=x(at),
        scale=scale,
    )


def overview_chart(summary: BudgetSummaryPublic) -> BurnChart:
    """The chart of every line a budget overview sums (all its pages), together (their disbursement drawn straight
    to now)."""
    totals = [ministry.totals for ministry in summary.ministries]
    return burn_chart(
        summary.fiscal_year,
        summary.as_of,
        sum(total.appropriation for total in totals),
        sum(total.disbursed for total in totals),
        sum(total.projected_lapse for total in totals),
    )
