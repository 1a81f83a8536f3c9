"""Rules on budget execution: obligations rushed into the last weeks of a fiscal year."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import select

from chain.budget import fiscal_year_start
from indexer.flags.model import DAY, Context, Flag, Rule, yen
from indexer.models import BudgetObligation

__all__ = ["BUDGET_RULES"]


def _year_end_rush(ctx: Context) -> Iterator[Flag]:
    limits = ctx.thresholds["year-end-rush"]
    weeks, share, least = int(limits["weeks"]), int(limits["share_percent"]), int(limits["min_obligations"])
    o = BudgetObligation.__table__.c
    years: dict[tuple[str, int], list[tuple[int, int, str, str]]] = defaultdict(list)
    rows = ctx.conn.execute(
        select(o.buyer, o.fiscal_year, o.amount, o.block_number, o.tx_hash, o.escrow).where(o.chain_id == ctx.chain_id)
    )
    for row in rows:
        years[(row.buyer, row.fiscal_year)].append((int(row.amount), row.block_number, row.tx_hash, row.escrow))
    years = {key: obligations for key, obligations in years.items() if len(obligations) >= least}
    times = ctx.times([block for obligations in years.values() for _, block, _, _ in obligations])
    for (buyer, fiscal_year), obligations in sorted(years.items()):
        total = sum(amount for amount, _, _, _ in obligations)
        rush_from = fiscal_year_start(fiscal_year + 1) - weeks * 7 * DAY
        late = [entry for entry in obligations if times[entry[1]] >= rush_from]
        late_yen = sum(amount for amount, _, _, _ in late)
        if total > 0 and late_yen * 100 >= total * share:
            code = ctx.org(buyer)
            yield Flag(
                rule="year-end-rush",
                buyer=code,
                fiscal_year=fiscal_year,
                summary=f"{code} obligated {yen(late_yen)} of its FY{fiscal_year} {yen(total)} "
                f"({late_yen * 100 // total}%) in the year's last {weeks} weeks (limit {share}%)",
                records={
                    "obligated_yen": total,
                    "late_yen": late_yen,
                    "obligations": len(obligations),
                    "late_obligations": len(late),
                    "escrows": sorted({escrow for _, _, _, escrow in late}),
                    "ocids": sorted({ctx.procurements[e].ocid for _, _, _, e in late if e in ctx.procurements}),
                    "transactions": [tx for _, _, tx, _ in late],
                },
            )


BUDGET_RULES = (
    Rule(
        "year-end-rush",
        "Year-end rush (DOMAIN.md 11): obligations concentrated in the last weeks of the fiscal year",
        "A buyer obligated a large share of a fiscal year's yen in the year's last weeks.",
        _year_end_rush,
    ),
)
