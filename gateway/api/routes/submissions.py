"""Evidence submitted on chain for milestones of visible procurements, in chain order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.deps import HEX32_PATTERN, MirrorReader, PageDep
from gateway.schemas.procurements import EvidencesPublic

router = APIRouter(prefix="/submissions", tags=["evidence-submissions"])

ProcurementFilter = Annotated[
    str | None, Query(alias="procurementId", pattern=HEX32_PATTERN, description="Only this procurement.")
]
MilestoneFilter = Annotated[int | None, Query(alias="milestoneId", ge=0, le=2**32, description="Only this milestone.")]


@router.get("", response_model=EvidencesPublic)
def evidence(
    reader: MirrorReader,
    page: PageDep,
    procurement_id: ProcurementFilter = None,
    milestone_id: MilestoneFilter = None,
) -> EvidencesPublic:
    """Evidence submitted on chain for milestones of visible procurements, in chain order."""
    pid = None if procurement_id is None else procurement_id.lower()
    data, count = reader.evidence(page, procurement_id=pid, milestone_id=milestone_id)
    return EvidencesPublic(data=data, count=count)
