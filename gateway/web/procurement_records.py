"""What a procurement's page shows beyond its detail: the milestone timeline (due against met), the evidence
submitted and attested with who signed and who relayed, payments, amendments with their approvers, disputes and the
procurement's red flags, each read through the same listing (``LISTINGS``) or flag service as the JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayError
from gateway.schemas.procurements import MilestonePublic, ProcurementDetailPublic
from gateway.services.flags import FlagView, red_flags
from gateway.services.reads import LISTINGS, Page, Reader
from gateway.web.i18n import unix_time
from indexer.flags import Flag

__all__ = ["MilestoneTimeline", "ProcurementRecords", "procurement_records", "timeline"]

_MAX_ROWS = 500  # per kind of record: a procurement has a handful of milestones, each a few rounds
_MET = frozenset({"Approved", "Paid", "Settled"})  # the work was accepted (Settled: by a ruling)
_CLOSED = frozenset({"Refunded", "Cancelled"})  # no longer due


@dataclass(frozen=True)
class MilestoneTimeline:
    """One milestone on the timeline: when it was due, when it was met (None: not yet), whether late."""

    milestone: MilestonePublic
    met_at: int | None
    late: bool


@dataclass(frozen=True)
class ProcurementRecords:
    """The records of one procurement, in chain order each."""

    timeline: list[MilestoneTimeline]
    submissions: list[Any]
    attestations: list[Any]
    payments: list[Any]
    amendments: list[Any]
    disputes: list[Any]
    flags: list[Flag] | None  # None: the account may not read flags (or they cannot be computed now)


def procurement_records(app_state: Any, reader: Reader, detail: ProcurementDetailPublic) -> ProcurementRecords:
    """The records of the visible procurement ``detail``; lateness is judged by the chain's clock."""
    now = app_state.gateway.ledger.now(max_age_s=1.0)
    rows = {
        kind: reader.rows(LISTINGS[kind], Page(offset=0, limit=_MAX_ROWS), {"procurement_id": detail.escrow})[0]
        for kind in ("submissions", "attestations", "payments", "amendments", "disputes")
    }
    return ProcurementRecords(
        timeline=timeline(detail, rows["payments"], now),
        flags=_flags(app_state, reader, detail),
        **rows,
    )


def timeline(detail: ProcurementDetailPublic, payments: list[Any], now: int) -> list[MilestoneTimeline]:
    """Each milestone's due date against when it was met: its first payment's block time, else (approved or
    settled without a payment yet) the time of its last change. Late: met after its due date, or not met (nor
    refunded or cancelled) and due before ``now``."""
    paid_at: dict[int, int] = {}
    for payment in payments:
        if payment.kind != "refunded" and payment.block_time is not None:
            paid_at.setdefault(payment.milestone_id, unix_time(payment.block_time))
    steps = []
    for milestone in detail.milestones:
        met = paid_at.get(milestone.milestone_id)
        if met is None and milestone.status in _MET and milestone.updated_block_time is not None:
            met = unix_time(milestone.updated_block_time)
        late = milestone.status not in _CLOSED and (met if met is not None else now) > milestone.due_date
        steps.append(MilestoneTimeline(milestone, met, late))
    return steps


def _flags(app_state: Any, reader: Reader, detail: ProcurementDetailPublic) -> list[Flag] | None:
    """The flags naming this procurement that the account may read (None if it reads none)."""
    view = FlagView.of(reader.principal)
    if view is None:
        return None
    try:
        snapshot = red_flags(app_state.gateway, app_state).snapshot()
    except GatewayError:
        return None
    return snapshot.naming(detail.escrow, view)
