"""The mirror's per-block digests, for other organizations' mirrors to compare with (`procure audit compare`).

Who may read them: auditors and the finance authority (as for an account's acts: those whose job is to check
the mirrors). A digest line names a block that produced ledger events, their count and hashes, nothing of their
content; still, the count of events per block is activity other accounts do not see. Pages hold at most 10,000
lines; the range is capped at what the mirror has.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from chain import Role
from gateway.deps import CurrentAccount, StateDep
from gateway.errors import Forbidden, InvalidInput
from gateway.schemas.digests import DigestLinePublic, DigestsPublic
from indexer.compare import MAX_PAGE, EngineMirror

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/digests", response_model=DigestsPublic)
async def digests_route(
    account: CurrentAccount,
    state: StateDep,
    from_block: Annotated[int, Query(alias="from", ge=0, le=2**63 - 1, description="First block.")] = 0,
    to_block: Annotated[int | None, Query(alias="to", ge=0, le=2**63 - 1, description="Last block.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Lines per page.")] = MAX_PAGE,
) -> DigestsPublic:
    """The digest chain's lines of blocks ``from``..``to`` (default: up to what the mirror has), in block order."""
    if not (account.is_auditor or account.has(Role.FINANCE_AUTHORITY)):
        raise Forbidden("the mirror's digests are read by auditors and the finance authority")
    if to_block is not None and to_block < from_block:
        raise InvalidInput(f"to ({to_block}) is before from ({from_block})")
    mirror = EngineMirror("local", state.engine, state.ledger.chain_id)
    head = await run_in_threadpool(mirror.head)
    last = -1 if head is None else head if to_block is None else min(to_block, head)
    lines = [] if last < from_block else await run_in_threadpool(mirror.digests, from_block, last, limit)
    full = len(lines) == limit
    return DigestsPublic(
        chain_id=state.ledger.chain_id,
        mirrored_block=head,
        from_block=from_block,
        to_block=max(last, from_block - 1),
        count=len(lines),
        data=[DigestLinePublic.model_validate(line.to_json()) for line in lines],
        next_from_block=lines[-1].block_number + 1 if full and lines[-1].block_number < last else None,
    )
