"""Red flags: for each rule a scenario that trips it and no other rule, the thresholds file changing the result,
and the filters.

The scenarios are written in SQL on a migrated mirror (tests/indexer/flag_mirror.py: each a chain of its own, a
block a day), on SQLite and PostgreSQL: most need months of history, and some a state the contracts refuse (a
payment without acceptance, one official proposing and approving). tests/indexer/test_flags_chain.py plays
procurements through the real contracts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from chain.errors import ConfigurationError
from indexer.flags import DEFAULT_THRESHOLDS, NOT_COMPUTABLE, RULES, Context, Flag, find_flags, load_thresholds
from indexer.schema import upgrade
from tests.indexer.flag_mirror import FISCAL_YEAR, ScenarioChain, day_clock

M = 1_000_000  # yen


def _growth(s: ScenarioChain) -> None:
    escrow = s.procurement("growth")  # 25M + 35M = 60M
    s.amend(escrow, 0, 0, 100, old=25 * M, new=32 * M)  # +7M: 11.7% of 60M


def _soon(s: ScenarioChain) -> None:
    escrow = s.procurement("soon")
    s.amend(escrow, 0, 0, 10, old=25 * M, new=26 * M)  # 9 days after creation


def _straddle(s: ScenarioChain) -> None:
    escrow = s.procurement("straddle", (45 * M, 50 * M))  # 95M: within 10% below 100M
    s.amend(escrow, 0, 0, 100, old=45 * M, new=50 * M)  # 100M: 5.3% growth


def _same_official(s: ScenarioChain) -> None:
    escrow = s.procurement("same-official")
    s.amend(escrow, 0, 1, 100, kind="due_date", new_due=1, proposer="officer", approver="officer")


def _count(s: ScenarioChain) -> None:
    escrow = s.procurement("count")
    for n in range(3):  # due dates brought forward: no price change, no extension
        s.amend(escrow, n, 1, 100 + 100 * n, kind="due_date", new_due=1)


def _repeated(s: ScenarioChain) -> None:
    escrow = s.procurement("repeated")
    s.amend(escrow, 0, 0, 100, old=25 * M, new=26 * M)
    s.amend(escrow, 1, 1, 150, old=35 * M, new=36 * M)  # 50 days later: 3.3% in all


def _fast_completion(s: ScenarioChain) -> None:
    escrow = s.procurement("fast", statuses=("Paid", "Paid"))
    for milestone, amount in enumerate((25 * M, 35 * M)):
        s.accept(escrow, milestone, 5)
        s.pay(escrow, milestone, amount, 5)


def _payment_acceptance(s: ScenarioChain) -> None:
    escrow = s.procurement("unaccepted", statuses=("Paid", "Pending"))
    s.pay(escrow, 0, 25 * M, 100)


def _duplicate_payment(s: ScenarioChain) -> None:
    first = s.procurement("first", (20 * M, 30 * M), statuses=("Paid", "Pending"))
    second = s.procurement("second", (20 * M, 40 * M), statuses=("Paid", "Pending"))
    for escrow, block in ((first, 100), (second, 103)):
        s.accept(escrow, 0, block)
        s.pay(escrow, 0, 20 * M, block)


def _scope_cut(s: ScenarioChain) -> None:
    escrow = s.procurement("cut", statuses=("Paid", "Pending"))
    s.amend(escrow, 0, 0, 100, old=25 * M, new=20 * M)  # cut to 20M
    s.accept(escrow, 0, 120)
    s.pay(escrow, 0, 25 * M, 120)  # paid 25M all the same


def _related(s: ScenarioChain) -> None:
    s.bind("eval3", "NVE", 1)  # the evaluator worked for the supplier ...
    s.bind("eval3", "NVE", 2, bound=False)  # ... and left
    s.procurement("related", block=5)


def _same_identity(s: ScenarioChain) -> None:
    s.procurement("identity", panel=("eval1", "eval2", "supplier"))


def _fast_attestation(s: ScenarioChain) -> None:
    escrow = s.procurement("attested", (M,) * 21, statuses=("Submitted",) * 21)
    delays = [10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 15, 15, 15, 16]  # days
    for milestone, delay in enumerate([*delays, 0]):  # the last attested the day its evidence came
        s.evidence(escrow, milestone, 10 + milestone)
        s.attest(escrow, milestone, 10 + milestone + delay, "eval1" if milestone % 2 else "eval2")


def _rejection(s: ScenarioChain) -> None:
    escrow = s.procurement("rejected", (M,) * 4, statuses=("Approved", "Rejected", "Rejected", "Rejected"))
    for milestone in range(4):
        s.attest(escrow, milestone, 10, "eval1", passed=False)
    s.attest(escrow, 0, 20, "eval2", round_=2)


def _year_end(s: ScenarioChain) -> None:
    for n, block in enumerate((10, 20, 340, 350, 355)):  # FY2027 ends 366 days in: three in its last 4 weeks
        s.procurement(f"year-end-{n}", (10 * M,), block=block)


SCENARIOS: dict[str, tuple[Callable[[ScenarioChain], None], int]] = {  # rule -> (scenario, flags it raises)
    "amendment-growth": (_growth, 1),
    "amendment-soon": (_soon, 1),
    "threshold-straddle": (_straddle, 1),
    "same-official": (_same_official, 1),
    "amendment-count": (_count, 1),
    "repeated-price-changes": (_repeated, 1),
    "fast-completion": (_fast_completion, 1),
    "payment-acceptance": (_payment_acceptance, 1),
    "scope-cut-payment-not": (_scope_cut, 1),
    "related-parties": (_related, 1),
    "same-identity": (_same_identity, 1),
    "fast-attestation": (_fast_attestation, 1),
    "rejection-then-acceptance": (_rejection, 1),
    "year-end-rush": (_year_end, 1),
}
EXTRA = {"duplicate-payment": ("payment-acceptance", _duplicate_payment)}
CHAINS = {name: 9000 + n for n, name in enumerate([*SCENARIOS, *EXTRA, "clean"])}


@pytest.fixture(scope="module")
def mirror(module_engine: Engine) -> Engine:
    """Every scenario written once, each on its chain."""
    upgrade(module_engine)
    plays = {
        **{rule: play for rule, (play, _) in SCENARIOS.items()},
        **{name: play for name, (_, play) in EXTRA.items()},
    }
    with module_engine.begin() as conn:
        for name, play in plays.items():
            chain = ScenarioChain(conn, CHAINS[name])
            chain.organizations("MOD", "MOFA", "NVE")
            play(chain)
        clean = ScenarioChain(conn, CHAINS["clean"])
        clean.organizations("MOD", "NVE")
        escrow = clean.procurement("clean", statuses=("Paid", "Pending"))
        clean.accept(escrow, 0, 100)
        clean.pay(escrow, 0, 25 * M, 100)
    return module_engine


def flags_of(engine: Engine, name: str, thresholds: Path | None = None, **filters: object) -> list[Flag]:
    """The flags of scenario ``name``."""
    with engine.connect() as conn:
        ctx = Context(conn, CHAINS[name], load_thresholds(thresholds), day_clock)
        return find_flags(ctx, **filters)  # type: ignore[arg-type]


def test_every_rule_has_a_scenario_and_a_source() -> None:
    assert set(SCENARIOS) == set(RULES)
    for rule in RULES.values():
        assert rule.source
        assert rule.description
    assert {entry.id for entry in NOT_COMPUTABLE} >= {"single-bid", "short-submission-period", "bid-price"}
    assert not {entry.id for entry in NOT_COMPUTABLE} & set(RULES)


@pytest.mark.parametrize("rule", list(SCENARIOS))
def test_a_scenario_trips_its_rule_and_no_other(mirror: Engine, rule: str) -> None:
    flags = flags_of(mirror, rule)
    assert [flag.rule for flag in flags] == [rule] * SCENARIOS[rule][1], [flag.summary for flag in flags]
    flag = flags[0]
    assert flag.buyer == "MOD"
    assert flag.records["transactions"], "a flag names the transactions that tripped it"


def test_duplicate_payments_trip_payment_acceptance(mirror: Engine) -> None:
    (flag,) = flags_of(mirror, "duplicate-payment")
    assert flag.rule == "payment-acceptance"
    assert "the same amount to the same payee" in flag.summary
    assert flag.records["amount_yen"] == 20 * M
    assert len(flag.records["escrows"]) == 2


def test_a_clean_procurement_trips_nothing(mirror: Engine) -> None:
    assert flags_of(mirror, "clean") == []


def test_explanations_name_the_records(mirror: Engine) -> None:
    (growth,) = flags_of(mirror, "amendment-growth")
    assert growth.records["growth_yen"] == 7 * M
    assert growth.records["initial_yen"] == 60 * M
    assert growth.records["amendments"] == [0]
    assert "7,000,000 yen" in growth.summary
    assert "60,000,000 yen" in growth.summary
    (year_end,) = flags_of(mirror, "year-end-rush")
    assert year_end.fiscal_year == FISCAL_YEAR
    assert year_end.records["late_yen"] == 30 * M
    assert len(year_end.records["escrows"]) == 3
    assert year_end.as_json()["records"]["obligated_yen"] == 50 * M


def _thresholds(tmp_path: Path, replace: str, by: str) -> Path:
    text = DEFAULT_THRESHOLDS.read_text()
    assert replace in text
    path = tmp_path / "thresholds.toml"
    path.write_text(text.replace(replace, by))
    return path


@pytest.mark.parametrize(
    ("rule", "replace", "by"),
    [
        ("amendment-count", "count = 3", "count = 4"),
        ("amendment-growth", "growth_percent = 10", "growth_percent = 12"),
        ("amendment-soon", "days = 30", "days = 9"),
        ("fast-completion", "days = 60", "days = 4"),
        ("year-end-rush", "share_percent = 40", "share_percent = 61"),
    ],
)
def test_changing_a_threshold_changes_the_result(
    mirror: Engine, tmp_path: Path, rule: str, replace: str, by: str
) -> None:
    assert flags_of(mirror, rule)
    assert flags_of(mirror, rule, _thresholds(tmp_path, replace, by)) == []


@pytest.mark.parametrize(
    ("replace", "by", "error"),
    [
        ("count = 3", "count = 3.5", r"\[amendment-count\] count = 3.5: write a whole number"),
        ("count = 3", "count = -1", r"count = -1"),
        ("count = 3", "cuont = 3", r"\[amendment-count\] misses count; has unknown cuont"),
        ("[amendment-count]", "[amendment-counts]", r"unknown rules amendment-counts; missing rules amendment-count"),
        ("count = 3", "count = 3 3", r"is not TOML"),
        ("count = 3", "count = [3]", r"\[amendment-count\] count must be one whole number"),
        ("approval_thresholds_yen = [", "approval_thresholds_yen = 5 #", r"approval_thresholds_yen must be a list"),
    ],
)
def test_a_bad_thresholds_file_is_a_clear_error(tmp_path: Path, replace: str, by: str, error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        load_thresholds(_thresholds(tmp_path, replace, by))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_thresholds(tmp_path / "absent.toml")


def test_filters(mirror: Engine) -> None:
    assert flags_of(mirror, "year-end-rush", fiscal_year=FISCAL_YEAR)
    assert flags_of(mirror, "year-end-rush", fiscal_year=FISCAL_YEAR + 1) == []
    assert flags_of(mirror, "year-end-rush", ministry="MOFA") == []
    assert flags_of(mirror, "amendment-growth", rules=["amendment-count"]) == []
    with pytest.raises(ConfigurationError, match="unknown rule no-such-rule"):
        flags_of(mirror, "clean", rules=["no-such-rule"])
