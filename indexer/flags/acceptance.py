"""Rules on acceptance and payment: delivery accepted too fast, paid without (or against) acceptance, paid twice,
paid beyond a cut scope, attested implausibly fast, one evaluator's rejections overturned by another."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

from sqlalchemy import Row, func, select

from indexer.flags.amendments import approvals
from indexer.flags.model import DAY, Context, Flag, Rule, yen
from indexer.models import AttestationRow, DisputeSettlement, EvidenceRow, MilestoneHistory, MilestoneRow, PaymentRow

__all__ = ["ACCEPTANCE_RULES"]

_ACCEPTED = ("Approved", "Paid")
_OPEN = ("Pending", "Submitted", "Rejected", "Disputed")  # a milestone still to be delivered or decided


def _attestations(ctx: Context) -> Sequence[Row[str, int, int, str, bool, int, str]]:
    """Every attestation on the context's chain in chain order (escrow, milestone_id, round, evaluator, passed,
    block_number, tx_hash): what the rules on verdicts read."""
    att = AttestationRow.__table__.c
    return ctx.conn.execute(
        select(att.escrow, att.milestone_id, att.round, att.evaluator, att.passed, att.block_number, att.tx_hash)
        .where(att.chain_id == ctx.chain_id)
        .order_by(att.block_number, att.log_index)
    ).all()


def _fast_completion(ctx: Context) -> Iterator[Flag]:
    days = int(ctx.thresholds["fast-completion"]["days"])
    m = MilestoneRow.__table__.c
    h = MilestoneHistory.__table__.c
    open_escrows = {
        row.escrow
        for row in ctx.conn.execute(select(m.escrow).where(m.chain_id == ctx.chain_id, m.status.in_(_OPEN)).distinct())
    }
    accepted = select(h.escrow, h.milestone_id, func.min(h.block_number).label("block")).where(
        h.chain_id == ctx.chain_id, h.status.in_(_ACCEPTED)
    )
    completed: dict[str, int] = {}
    for row in ctx.conn.execute(accepted.group_by(h.escrow, h.milestone_id)):
        if row.escrow not in open_escrows:
            completed[row.escrow] = max(completed.get(row.escrow, 0), row.block)
    times = ctx.times(list(completed.values()) + [ctx.procurements[e].created_block for e in completed])
    for escrow, block in completed.items():
        p = ctx.procurements[escrow]
        took = times[block] - times[p.created_block]
        if took < days * DAY:
            yield ctx.flag(
                "fast-completion",
                p,
                f"every milestone accepted {took // DAY} days {took % DAY // 3600} hours after creation (limit "
                f"{days} days)",
                seconds_to_completion=took,
                value_yen=p.initial_value,
                blocks=[p.created_block, block],
                transactions=[p.created_tx],
            )


def _payment_acceptance(ctx: Context) -> Iterator[Flag]:
    duplicate = int(ctx.thresholds["payment-acceptance"]["duplicate_days"]) * DAY
    pay = PaymentRow.__table__.c
    settled = DisputeSettlement.__table__.c
    first_pass: dict[tuple[str, int], tuple[int, str]] = {}
    for verdict in _attestations(ctx):
        if verdict.passed:
            first_pass.setdefault((verdict.escrow, verdict.milestone_id), (verdict.block_number, verdict.tx_hash))
    rulings = {
        (row.escrow, row.milestone_id)
        for row in ctx.conn.execute(
            select(settled.escrow, settled.milestone_id).where(settled.chain_id == ctx.chain_id)
        )
    }
    payments = ctx.conn.execute(
        select(pay.escrow, pay.milestone_id, pay.supplier, pay.amount, pay.block_number, pay.tx_hash)
        .where(pay.chain_id == ctx.chain_id, pay.kind == "released")
        .order_by(pay.block_number, pay.log_index)
    ).all()
    by_payee: dict[tuple[str, int], list[tuple[str, int, int, str]]] = defaultdict(list)
    for row in payments:
        key = (row.escrow, row.milestone_id)
        by_payee[(row.supplier, int(row.amount))].append((row.escrow, row.milestone_id, row.block_number, row.tx_hash))
        if key in rulings:
            continue  # a review body's ruling paid it
        passed = first_pass.get(key)
        if passed is None or passed[0] > row.block_number:
            when = "before any passing attestation" if passed else "with no passing attestation on record"
            yield ctx.milestone_flag(
                "payment-acceptance",
                row,
                f"milestone {row.milestone_id} paid {yen(int(row.amount))} to {ctx.who(row.supplier)} {when}",
                amount_yen=int(row.amount),
                accounts=[row.supplier],
                transactions=[row.tx_hash] + ([passed[1]] if passed else []),
            )
    repeated = {key: rows for key, rows in by_payee.items() if len({(e, m) for e, m, _, _ in rows}) > 1}
    times = ctx.times([block for rows in repeated.values() for _, _, block, _ in rows])
    for (payee, amount), rows in repeated.items():
        for (e1, m1, b1, t1), (e2, m2, b2, t2) in itertools.pairwise(rows):
            if (e1, m1) != (e2, m2) and times[b2] - times[b1] <= duplicate:
                p = ctx.procurements[e2]
                other = ctx.procurements[e1]
                yield ctx.flag(
                    "payment-acceptance",
                    p,
                    f"milestone {m2} paid {yen(amount)} to {ctx.who(payee)}, the same amount to the same payee as "
                    f"milestone {m1} of {other.title!r} {(times[b2] - times[b1]) // DAY} days before",
                    milestone=m2,
                    amount_yen=amount,
                    accounts=[payee],
                    escrows=[e1, e2],
                    transactions=[t1, t2],
                )


def _scope_cut(ctx: Context) -> Iterator[Flag]:
    cuts = {
        (a.escrow, a.milestone_id): a
        for approved in approvals(ctx).values()
        for a in approved
        if a.kind == "cancel" or (a.kind == "amount" and a.new_amount < a.old_amount)
    }
    if not cuts:
        return
    pay = PaymentRow.__table__.c
    paid: dict[tuple[str, int], tuple[int, list[str]]] = {}
    rows = ctx.conn.execute(
        select(pay.escrow, pay.milestone_id, pay.amount, pay.tx_hash).where(
            pay.chain_id == ctx.chain_id, pay.kind == "released", pay.escrow.in_(sorted({e for e, _ in cuts}))
        )
    )
    for row in rows:
        key = (row.escrow, row.milestone_id)
        if key in cuts:
            total, txs = paid.get(key, (0, []))
            paid[key] = (total + int(row.amount), [*txs, row.tx_hash])
    for key, (total, txs) in paid.items():
        cut = cuts[key]
        remains = 0 if cut.kind == "cancel" else cut.new_amount
        if total > remains:
            what = "cancelled" if cut.kind == "cancel" else f"cut from {yen(cut.old_amount)} to {yen(remains)}"
            yield ctx.milestone_flag(
                "scope-cut-payment-not",
                cut,
                f"milestone {cut.milestone_id} was {what} by amendment {cut.amendment_id}, yet paid {yen(total)}",
                amendments=[cut.amendment_id],
                paid_yen=total,
                remaining_yen=remains,
                transactions=[cut.tx_hash, *txs],
            )


def _fast_attestation(ctx: Context) -> Iterator[Flag]:
    min_cases = int(ctx.thresholds["fast-attestation"]["min_cases"])
    ev = EvidenceRow.__table__.c
    evidence: dict[tuple[str, int, int], tuple[int, str]] = {}
    query = select(ev.escrow, ev.milestone_id, ev.round, ev.block_number, ev.tx_hash).where(ev.chain_id == ctx.chain_id)
    for row in ctx.conn.execute(query.order_by(ev.block_number, ev.log_index)):
        evidence[(row.escrow, row.milestone_id, row.round)] = (row.block_number, row.tx_hash)  # the latest
    verdicts = [
        (row, evidence[(row.escrow, row.milestone_id, row.round)])
        for row in _attestations(ctx)
        if (row.escrow, row.milestone_id, row.round) in evidence
    ]
    if len(verdicts) < max(min_cases, 2):  # quartiles need two cases at least
        return
    times = ctx.times([row.block_number for row, _ in verdicts] + [block for _, (block, _) in verdicts])
    delays = [times[row.block_number] - times[block] for row, (block, _) in verdicts]
    q1, _, q3 = statistics.quantiles(delays, n=4, method="inclusive")
    iqr = q3 - q1
    if q1 == q3 == iqr == 0:
        return
    fence = q1 - 1.5 * iqr
    for (verdict, (_, evidence_tx)), delay in zip(verdicts, delays, strict=True):
        if delay <= fence:
            yield ctx.milestone_flag(
                "fast-attestation",
                verdict,
                f"evaluator {ctx.who(verdict.evaluator)} attested milestone {verdict.milestone_id} {delay} seconds "
                f"after its evidence (lower fence {fence:.0f} s over {len(delays)} attestations)",
                round=verdict.round,
                accounts=[verdict.evaluator],
                delay_seconds=delay,
                transactions=[evidence_tx, verdict.tx_hash],
            )


def _rejection_then_acceptance(ctx: Context) -> Iterator[Flag]:
    limits = ctx.thresholds["rejection-then-acceptance"]
    rows = _attestations(ctx)
    given: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for row in rows:
        given[row.evaluator] += 1
        failed[row.evaluator] += not row.passed
    strict = {
        evaluator
        for evaluator, count in given.items()
        if count >= int(limits["min_attestations"])
        and failed[evaluator] * 100 >= count * int(limits["rejection_percent"])
    }
    rejected: dict[tuple[str, int], tuple[str, str]] = {}  # milestone -> (strict evaluator, its rejection)
    reported: set[tuple[str, int]] = set()
    for row in rows:
        key = (row.escrow, row.milestone_id)
        if not row.passed and row.evaluator in strict:
            rejected.setdefault(key, (row.evaluator, row.tx_hash))
        elif row.passed and key in rejected and rejected[key][0] != row.evaluator and key not in reported:
            reported.add(key)
            evaluator, rejection = rejected[key]
            share = failed[evaluator] * 100 // given[evaluator]
            yield ctx.milestone_flag(
                "rejection-then-acceptance",
                row,
                f"milestone {row.milestone_id} rejected by evaluator {ctx.who(evaluator)} (who rejects {share}% of "
                f"{given[evaluator]} verdicts), then accepted by evaluator {ctx.who(row.evaluator)}",
                accounts=[evaluator, row.evaluator],
                transactions=[rejection, row.tx_hash],
            )


ACCEPTANCE_RULES = (
    Rule(
        "fast-completion",
        "ProZorro risk indicator sas24-3-7",
        "The whole delivery accepted implausibly soon after the procurement was created.",
        _fast_completion,
    ),
    Rule(
        "payment-acceptance",
        "World Bank INT, payment without or against acceptance; duplicate payments",
        "A payment with no passing attestation before it, or the same amount paid twice to one payee within days.",
        _payment_acceptance,
    ),
    Rule(
        "scope-cut-payment-not",
        "World Bank INT, scope reduced without a matching cut in payment",
        "A milestone cut or cancelled by amendment, yet paid beyond what remained.",
        _scope_cut,
    ),
    Rule(
        "fast-attestation",
        "Segregation and testing (DOMAIN.md 12): attestation implausibly fast after evidence, IQR outlier",
        "An attestation at or below the lower IQR fence of the delays from evidence to attestation.",
        _fast_attestation,
    ),
    Rule(
        "rejection-then-acceptance",
        "Segregation and testing (DOMAIN.md 12): one evaluator's high rejection rate, then acceptance by another",
        "A milestone rejected by an evaluator who rejects most of what it sees, then accepted by another.",
        _rejection_then_acceptance,
    ),
)
