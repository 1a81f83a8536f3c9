"""Operations: health of the gateway's dependencies, and Prometheus metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from chain.times import iso
from gateway.deps import SessionDep, StateDep
from gateway.errors import NotAuthenticated
from gateway.schemas.health import HealthPublic, IndexerHealthPublic
from indexer.cursor import chain_mismatch, mirror_version
from indexer.deferred_indexes import deferred_indexes
from indexer.self_check import last_self_check

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
def healthz(state: StateDep, db: SessionDep) -> HealthPublic | JSONResponse:
    """Chain head, indexer lag, the mirror's indexes still to build and its last check of itself; 503 when the chain
    does not answer, is not the chain the mirror holds, or the mirror serves what the chain does not say.

    A mirror behind its chain or without its indexes (a fresh mirror's first catch-up builds them at its end) is
    degraded, with a 200: what it serves is right, only late or slow, and a 503 would have a load balancer take out
    every gateway reading that mirror at once, turning slow answers into none."""
    ledger = state.ledger
    problem: str | None = None
    try:
        head: int | None = ledger.head()
        genesis: str | None = ledger.genesis_hash()
    except Exception:
        head, genesis, problem = None, None, "the chain does not answer"
    try:
        version = mirror_version(db, ledger.chain_id)
        mirrored = None if version is None else version.block_number
        if genesis is not None:
            problem = chain_mismatch(db.connection(), ledger.chain_id, genesis)
        check = last_self_check(db.connection(), ledger.chain_id)
        pending: int | None = len(deferred_indexes(db.connection()))  # a few rows at most, usually none
    except SQLAlchemyError:
        mirrored, check, pending = None, None, None
    lag = None if head is None or mirrored is None else max(0, head - mirrored)
    if head is not None:
        state.metrics.chain_head.set(head)
    if lag is not None:
        state.metrics.indexer_lag.set(lag)
    if pending is not None:
        state.metrics.pending_indexes.set(pending)
    if head is None:
        status = "unavailable"
    elif problem is not None:
        status = "wrong-chain"
    elif check is not None and not check.ok:
        status, problem = "mismatch", str(check)
    else:
        status = "ok" if lag is not None and lag <= 10 and not pending else "degraded"
        if pending:
            problem = (
                f"{pending} of the mirror's indexes are not built yet (its first catch-up builds them when it reaches "
                "its target): reads that need them are slow until then"
            )
    health = HealthPublic(
        status=status,
        problem=problem,
        chain_id=ledger.chain_id,
        chain_head=head,
        relayer=ledger.relayer is not None,
        indexer=IndexerHealthPublic(
            block_number=mirrored,
            lag_blocks=lag,
            checked_at=None if check is None else iso(check.checked_at_ms // 1000),
            checked_blocks=None if check is None else f"{check.from_block}..{check.to_block}",
            first_bad_block=None if check is None else check.first_bad_block,
            pending_indexes=pending,
        ),
    )
    if status in ("unavailable", "wrong-chain", "mismatch"):
        return JSONResponse(health.model_dump(mode="json", by_alias=True), status_code=503)
    return health


@router.get(
    "/metrics",
    response_class=Response,
    response_model=None,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."}},
)
def metrics(request: Request, state: StateDep) -> Response:
    """Prometheus metrics (requests, latency, relayed actions, sign-ins, chain head, indexer lag)."""
    token = state.settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        expected = "Bearer " + token.get_secret_value()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthenticated("GET /metrics needs 'Authorization: Bearer <PROCURE_METRICS_TOKEN>'")
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
