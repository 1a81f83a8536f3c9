"""The budget line page (``/ui/budget/lines/{fiscal_year}/{series}``): the line's figures in exact yen, its
burn-rate chart, its history (its item's enactments, every event that moved it, transfers with requester, approver
and time taken) and the procurements charged to it, read through ``BudgetReader.history``, as the JSON API's
``/budget/lines/{fiscal_year}/{series}/history``: same scope (a line the account may not see is a 404 page)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from gateway.core.state import GatewayState
from gateway.deps import Caller
from gateway.errors import GatewayError, InvalidInput, ServiceUnavailable
from gateway.schemas.budget import LineHistoryPublic
from gateway.services.budget import BudgetReader, read_clock
from gateway.web.burn_chart import BurnChart, burn_chart
from gateway.web.i18n import unix_time
from gateway.web.pages import _IDLE_DAYS, _Context, _number, _see_other, _signed_in

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
_YEAR = re.compile(r"^[0-9]{1,4}$")
_SERIES = re.compile(r"^[0-9]{1,10}$")


@router.get("/budget/lines/{fiscal_year}/{series}", response_class=HTMLResponse)
async def budget_line(request: Request, fiscal_year: str, series: str) -> Response:
    """One budget line with its history and the procurements charged to it."""
    caller = await _signed_in(request)
    if caller is None:
        return _see_other("/ui/sign-in")
    context = _Context(request, caller)
    try:
        year = _number(fiscal_year, _YEAR, "fiscal year", 1, 9_998)
        line_series = _number(series, _SERIES, "series", 1, 2**32 - 1)
        if year is None or line_series is None:
            raise InvalidInput("the address must name a fiscal year and a series: /ui/budget/lines/<year>/<series>")
        history, chart = await run_in_threadpool(_history, context.state, caller, year, line_series)
    except GatewayError as exc:
        return context.problem(exc)
    return context.render("line.html", h=history, line=history.line, chart=chart)


def _history(state: GatewayState, caller: Caller, fiscal_year: int, series: int) -> tuple[LineHistoryPublic, BurnChart]:
    """The line's history and its burn-rate chart (the disbursed total after each event that reports it)."""
    if caller.mirror is None:
        raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
    clock = read_clock(state.ledger, caller.mirror, _IDLE_DAYS)
    history = BudgetReader(state.engine, state.ledger.chain_id, caller.principal).history(fiscal_year, series, clock)
    line = history.line
    steps = [
        (unix_time(event.block_time), event.disbursed)
        for event in history.events
        if event.block_time is not None and event.disbursed is not None
    ]
    chart = burn_chart(
        line.fiscal_year, clock.now, line.appropriation.total, line.disbursed, line.projected_lapse, steps
    )
    return history, chart
