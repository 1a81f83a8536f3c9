"""The trail of a procurement and the acts of an account (indexer/trail.py), as JSON or CSV.

Who may read a trail: whoever may see the procurement (gateway/scope.py: auditors and the finance authority all,
a ministry its own, a supplier its organization's, an evaluator those it sits on the panel of, a review body the
disputed ones); anyone else gets the 404 of a procurement that does not exist. Who may read an account's acts:
auditors and the finance authority anyone's; any other signed-in account only its own (403 otherwise), so that
those who watch can be watched by those whose job it is, and each account can see what the ledger says it did.

CSV: ``?format=csv``, or an ``Accept`` header that prefers ``text/csv``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from chain import ChainSource, Role, checksum
from gateway.core.state import GatewayState
from gateway.deps import CurrentAccount, MirrorReader, ProcurementId, StateDep
from gateway.errors import Forbidden
from gateway.identity import Principal
from gateway.schemas.trail import ActsPublic, TrailPublic
from indexer.trail import TrailLine, actor_acts, procurement_trail, write_csv

router = APIRouter(prefix="/audit", tags=["audit"])

Format = Annotated[Literal["json", "csv"] | None, Query(description="csv for CSV (also: Accept: text/csv).")]
AccountAddress = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="The account (0x and 40 hex digits).")]
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV if asked for."}
}


def _wants_csv(request: Request, output: str | None) -> bool:
    if output is not None:
        return output == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def csv_response(lines: list[TrailLine], filename: str) -> Response:
    """The lines as a CSV download named ``filename``.csv."""
    out = io.StringIO()
    write_csv(lines, out)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _senders(state: GatewayState) -> Callable[[Sequence[str]], Mapping[str, str]]:
    return ChainSource(state.ledger.rpc).tx_senders


def _read(state: GatewayState, query: Callable[..., list[TrailLine]], subject: str) -> list[TrailLine]:
    with state.engine.connect() as conn:
        return query(conn, state.ledger.chain_id, subject, _senders(state))


def read_trail(state: GatewayState, escrow: str) -> list[TrailLine]:
    """The trail of the procurement of ``escrow`` (the caller checked that the account may see it)."""
    return _read(state, procurement_trail, escrow)


def read_acts(state: GatewayState, account: Principal, address: str) -> tuple[str, list[TrailLine]]:
    """The acts of the account ``address`` (checksummed, with them), read by ``account``: auditors and the finance
    authority anyone's, any other account its own only (Forbidden otherwise)."""
    subject = checksum(address)
    if not (account.is_auditor or account.has(Role.FINANCE_AUTHORITY) or subject == checksum(account.address)):
        raise Forbidden("only auditors and the finance authority read another account's acts")
    return subject, _read(state, actor_acts, subject)


@router.get("/procurements/{procurement_id}/trail", response_model=TrailPublic, responses=_CSV_RESPONSE)
async def procurement_trail_route(
    procurement_id: ProcurementId, reader: MirrorReader, state: StateDep, request: Request, format: Format = None
) -> Any:
    """Every event of one procurement (ocid, escrow address or on-chain id) in chain order, with who signed and
    relayed it, its block and time, transaction, document hashes and the block's place in the digest chain."""
    escrow = await run_in_threadpool(reader.escrow_of, procurement_id)  # 404 unless visible (scope.py)
    lines = await run_in_threadpool(read_trail, state, escrow)
    if _wants_csv(request, format):
        return csv_response(lines, f"trail-{escrow}")
    return TrailPublic.model_validate({"escrow": escrow, "count": len(lines), "data": [line.flat() for line in lines]})


@router.get("/actors/{address}", response_model=ActsPublic, responses=_CSV_RESPONSE)
async def actor_acts_route(
    address: AccountAddress, account: CurrentAccount, state: StateDep, request: Request, format: Format = None
) -> Any:
    """Every privileged act of one account in chain order (auditors and the finance authority: anyone's; others:
    their own): role grants and revocations, organizations, bindings, pauses, amendments, fundings, transfers,
    budget acts, rulings, reclaims."""
    subject, lines = await run_in_threadpool(read_acts, state, account, address)
    if _wants_csv(request, format):
        return csv_response(lines, f"acts-{subject}")
    return ActsPublic.model_validate({"account": subject, "count": len(lines), "data": [line.flat() for line in lines]})
