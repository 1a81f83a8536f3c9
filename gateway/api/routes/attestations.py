"""Evaluators' attestations on milestones of visible procurements, in chain order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, PageDep
from gateway.schemas.procurements import AttestationsPublic

router = APIRouter(prefix="/attestations", tags=["attestations"])

ProcurementFilter = Annotated[
    str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this procurement.")
]
MilestoneFilter = Annotated[int | None, Query(alias="milestoneId", ge=0, le=2**32, description="Only this milestone.")]


@router.get("", response_model=AttestationsPublic)
def attestations(
    reader: MirrorReader,
    page: PageDep,
    procurement_id: ProcurementFilter = None,
    milestone_id: MilestoneFilter = None,
    evaluator: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="Only this evaluator.")] = None,
) -> AttestationsPublic:
    """Evaluators' attestations on milestones of visible procurements, in chain order."""
    pid = None if procurement_id is None else procurement_id.lower()
    data, count = reader.attestations(page, procurement_id=pid, milestone_id=milestone_id, evaluator=evaluator)
    return AttestationsPublic(data=data, count=count)
