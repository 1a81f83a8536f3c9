"""``GET /audit/flags``: the red flags of the mirror (indexer/flags), for those who may read them.

Auditors and the finance authority read every flag; a ministry's accounts their ministry's; anyone else is refused
(403): see gateway/services/flags.py. Filters: ``fy``, ``ministry``, ``rule``; any other query parameter is a 422
naming it. Offset pages, as the other lists.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from gateway.deps import CurrentAccount, StateDep
from gateway.schemas.flags import FlagFilters, FlagsPublic
from gateway.services.flags import FlagView, red_flags
from indexer.flags import NOT_COMPUTABLE, RULES, Flag

router = APIRouter(prefix="/audit", tags=["audit"])

_EXACT = 2**53  # JSON numbers beyond are not exact in JavaScript: written as decimal strings


def _exact(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= _EXACT:
        return str(value)
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


def _public(flag: Flag) -> dict[str, Any]:
    answer = flag.as_json()
    answer["records"] = {key: _exact(value) for key, value in flag.records.items()}
    return answer


@router.get("/flags", response_model=FlagsPublic)
async def list_flags(
    request: Request, state: StateDep, account: CurrentAccount, query: Annotated[FlagFilters, Query()]
) -> dict[str, Any]:
    """Red flags (auditors and the finance authority: all; a ministry's accounts: their ministry's), filtered."""
    view = FlagView.required(account)
    board = red_flags(state, request.app.state)
    snapshot = await run_in_threadpool(board.snapshot)
    chosen = view.select(snapshot.flags, ministry=query.ministry, fiscal_year=query.fy, rule=query.rule)
    limit = min(query.limit, state.settings.page_size_max)
    return {
        "data": [_public(flag) for flag in chosen[query.offset : query.offset + limit]],
        "count": len(chosen),
        "asOfBlock": snapshot.as_of_block,
        "rules": [{"id": r.id, "source": r.source, "description": r.description} for r in RULES.values()],
        "notComputable": [{"id": n.id, "source": n.source, "reason": n.reason} for n in NOT_COMPUTABLE],
    }
