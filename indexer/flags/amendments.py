"""Rules on approved amendments: growth, promptness, thresholds straddled, who approved, how many, how often."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from indexer.flags.model import DAY, Context, Flag, Rule, yen
from indexer.models import AmendmentApproval, AmendmentProposal

__all__ = ["AMENDMENT_RULES", "Approval", "approvals"]


@dataclass(frozen=True)
class Approval:
    """An approved amendment with who proposed it."""

    escrow: str
    amendment_id: int
    milestone_id: int
    kind: str  # amount, due_date, cancel
    old_amount: int
    new_amount: int
    old_due_date: int
    new_due_date: int
    approver: str
    proposer: str | None
    block_number: int
    tx_hash: str

    @property
    def raise_(self) -> int:
        """Yen added to the contract's value (negative: taken off; a cancellation takes the whole milestone)."""
        return -self.old_amount if self.kind == "cancel" else self.new_amount - self.old_amount

    @property
    def extends(self) -> bool:
        """Whether it moved a due date later."""
        return self.kind == "due_date" and self.new_due_date > self.old_due_date


def approvals(ctx: Context) -> dict[str, list[Approval]]:
    """Every approved amendment by escrow, in chain order."""

    def read() -> dict[str, list[Approval]]:
        a = AmendmentApproval.__table__.c
        p = AmendmentProposal.__table__.c
        proposers = {
            (row.escrow, row.amendment_id): row.proposer
            for row in ctx.conn.execute(select(p.escrow, p.amendment_id, p.proposer).where(p.chain_id == ctx.chain_id))
        }
        by_escrow: dict[str, list[Approval]] = defaultdict(list)
        query = select(AmendmentApproval.__table__).where(a.chain_id == ctx.chain_id)
        for row in ctx.conn.execute(query.order_by(a.block_number, a.log_index)):
            by_escrow[row.escrow].append(
                Approval(
                    escrow=row.escrow,
                    amendment_id=row.amendment_id,
                    milestone_id=row.milestone_id,
                    kind=row.kind,
                    old_amount=int(row.old_amount),
                    new_amount=int(row.new_amount),
                    old_due_date=int(row.old_due_date),
                    new_due_date=int(row.new_due_date),
                    approver=row.approver,
                    proposer=proposers.get((row.escrow, row.amendment_id)),
                    block_number=row.block_number,
                    tx_hash=row.tx_hash,
                )
            )
        return dict(by_escrow)

    found: dict[str, list[Approval]] = ctx.once("approvals", read)
    return found


def _ids(approved: list[Approval]) -> list[int]:
    return [a.amendment_id for a in approved]


def _growth(ctx: Context) -> Iterator[Flag]:
    limits = ctx.thresholds["amendment-growth"]
    for escrow, approved in approvals(ctx).items():
        p = ctx.procurements[escrow]
        if p.initial_value <= 0:
            continue
        growth = sum(a.raise_ for a in approved)
        if growth * 100 > p.initial_value * int(limits["growth_percent"]):
            raising = [a for a in approved if a.raise_ > 0]
            yield ctx.flag(
                "amendment-growth",
                p,
                f"amendments raised its value by {yen(growth)}, {growth * 100 // p.initial_value}% of the initial "
                f"{yen(p.initial_value)} (limit {limits['growth_percent']}%)",
                initial_yen=p.initial_value,
                growth_yen=growth,
                amendments=_ids(raising),
                transactions=[a.tx_hash for a in raising],
            )
        for a in approved:
            if a.raise_ * 100 > p.initial_value * int(limits["single_percent"]):
                yield ctx.flag(
                    "amendment-growth",
                    p,
                    f"amendment {a.amendment_id} alone raised milestone {a.milestone_id} by {yen(a.raise_)}, more "
                    f"than {limits['single_percent']}% of the initial {yen(p.initial_value)}",
                    initial_yen=p.initial_value,
                    growth_yen=a.raise_,
                    amendments=[a.amendment_id],
                    milestone=a.milestone_id,
                    transactions=[a.tx_hash],
                )


def _soon(ctx: Context) -> Iterator[Flag]:
    days = int(ctx.thresholds["amendment-soon"]["days"])
    raising = [a for approved in approvals(ctx).values() for a in approved if a.raise_ > 0]
    times = ctx.times([a.block_number for a in raising] + [ctx.procurements[a.escrow].created_block for a in raising])
    for a in raising:
        p = ctx.procurements[a.escrow]
        after = times[a.block_number] - times[p.created_block]
        if after < days * DAY:
            yield ctx.flag(
                "amendment-soon",
                p,
                f"amendment {a.amendment_id} raised milestone {a.milestone_id} by {yen(a.raise_)} {after // DAY} "
                f"days after creation (limit {days} days)",
                amendments=[a.amendment_id],
                milestone=a.milestone_id,
                raise_yen=a.raise_,
                seconds_after_creation=after,
                transactions=[p.created_tx, a.tx_hash],
            )


def _straddle(ctx: Context) -> Iterator[Flag]:
    limits = ctx.thresholds["threshold-straddle"]
    margin = int(limits["margin_percent"])
    for escrow, approved in approvals(ctx).items():
        p = ctx.procurements[escrow]
        value, peak, peak_at = p.initial_value, p.initial_value, None
        for a in approved:
            value += a.raise_
            if value > peak:
                peak, peak_at = value, a
        for threshold in sorted(int(t) for t in limits["approval_thresholds_yen"]):
            below = threshold * (100 - margin) <= p.initial_value * 100 and p.initial_value < threshold
            if below and peak >= threshold and peak_at is not None:
                yield ctx.flag(
                    "threshold-straddle",
                    p,
                    f"created at {yen(p.initial_value)}, just below the approval threshold of {yen(threshold)}, "
                    f"then amended to {yen(peak)} (amendment {peak_at.amendment_id})",
                    threshold_yen=threshold,
                    initial_yen=p.initial_value,
                    amended_yen=peak,
                    amendments=[a.amendment_id for a in approved if a.raise_ > 0],
                    transactions=[p.created_tx, peak_at.tx_hash],
                )


def _same_official(ctx: Context) -> Iterator[Flag]:
    per_supplier = int(ctx.thresholds["same-official"]["per_supplier"])
    by_pair: dict[tuple[str, str], list[Approval]] = defaultdict(list)
    for escrow, approved in approvals(ctx).items():
        p = ctx.procurements[escrow]
        for a in approved:
            by_pair[(p.supplier_org, a.approver)].append(a)
            if a.proposer is not None and a.proposer == a.approver:
                yield ctx.flag(
                    "same-official",
                    p,
                    f"official {ctx.who(a.approver)} both proposed and approved amendment {a.amendment_id}",
                    amendments=[a.amendment_id],
                    milestone=a.milestone_id,
                    accounts=[a.approver],
                    transactions=[a.tx_hash],
                )
    for (supplier_org, approver), approved in by_pair.items():
        if len(approved) < per_supplier:
            continue
        first = ctx.procurements[approved[0].escrow]
        escrows = sorted({a.escrow for a in approved})
        yield Flag(
            rule="same-official",
            buyer=first.buyer,
            supplier=first.supplier,
            summary=f"official {ctx.who(approver)} approved {len(approved)} amendments of supplier {first.supplier}'s "
            f"contracts ({len(escrows)} procurements; limit {per_supplier})",
            records={
                "accounts": [approver],
                "escrows": escrows,
                "ocids": sorted({ctx.procurements[e].ocid for e in escrows}),
                "amendments": [[a.escrow, a.amendment_id] for a in approved],
                "transactions": [a.tx_hash for a in approved],
                "supplier_org": supplier_org,
            },
        )


def _count(ctx: Context) -> Iterator[Flag]:
    count = int(ctx.thresholds["amendment-count"]["count"])
    for escrow, approved in approvals(ctx).items():
        if len(approved) >= count:
            yield ctx.flag(
                "amendment-count",
                ctx.procurements[escrow],
                f"{len(approved)} amendments approved (limit {count})",
                amendments=_ids(approved),
                transactions=[a.tx_hash for a in approved],
            )


def _repeated(ctx: Context) -> Iterator[Flag]:
    window = int(ctx.thresholds["repeated-price-changes"]["window_days"]) * DAY
    candidates = {}
    for escrow, approved in approvals(ctx).items():
        raises = [a for a in approved if a.raise_ > 0]
        changes = [a for a in approved if a.raise_ > 0 or a.extends]
        if raises and len(changes) > 1:
            candidates[escrow] = (raises, changes)
    times = ctx.times([a.block_number for _, changes in candidates.values() for a in changes])
    for escrow, (raises, changes) in candidates.items():
        pair = next(
            (
                (first, other)
                for first in raises
                for other in changes
                if other is not first and abs(times[other.block_number] - times[first.block_number]) <= window
            ),
            None,
        )
        if pair is None:
            continue
        first, other = pair
        what = f"raised it again by {yen(other.raise_)}" if other.raise_ > 0 else "extended a due date"
        yield ctx.flag(
            "repeated-price-changes",
            ctx.procurements[escrow],
            f"amendment {first.amendment_id} raised the price by {yen(first.raise_)} and amendment "
            f"{other.amendment_id} {what} within {window // DAY} days",
            amendments=[first.amendment_id, other.amendment_id],
            raise_yen=first.raise_,
            transactions=[first.tx_hash, other.tx_hash],
        )


AMENDMENT_RULES = (
    Rule(
        "amendment-growth",
        "EU Directive 2014/24/EU Art. 72 (modification of contracts during their term)",
        "Approved amendments raised the value beyond a share of the initial value, or one modification alone did.",
        _growth,
    ),
    Rule(
        "amendment-soon",
        'IACRC, "low bid followed promptly by change orders"',
        "A price-raising amendment approved soon after the procurement was created.",
        _soon,
    ),
    Rule(
        "threshold-straddle",
        "IACRC, contract created just below an approval threshold, then amended above it",
        "Created just below an approval threshold, then amended to or above it.",
        _straddle,
    ),
    Rule(
        "same-official",
        'IACRC, "change-order abuse"',
        "One official proposed and approved an amendment, or approved many amendments of one supplier.",
        _same_official,
    ),
    Rule(
        "amendment-count",
        "ProZorro risk indicator ari-1-1",
        "Too many amendments approved on one contract.",
        _count,
    ),
    Rule(
        "repeated-price-changes",
        "ProZorro risk indicators sas-3-4, sas24-3-4",
        "More than one price increase within a window, or a price increase with a due-date extension.",
        _repeated,
    ),
)
