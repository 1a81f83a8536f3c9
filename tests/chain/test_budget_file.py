"""Budget files: the example loads, every mistake is named by its field path, and the acts that enact a file
leave out what is already on chain (no chain needed here; tests/chain/test_devnet.py enacts the example)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.budget import ItemKey, LineKey
from chain.budget_file import load_budget_file
from chain.roles import Role
from chain.spec import SpecError

EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "examples" / "budgets" / "budget-fy2026.yaml"
HASH = "0x" + "ab" * 32


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budget.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        load_budget_file(_write(tmp_path, text))
    assert "nothing was sent" in str(caught.value)
    return caught.value.problems


def test_the_example_loads_with_realistic_lines() -> None:
    budget = load_budget_file(EXAMPLE).budget
    assert budget.fiscal_year == 2026
    assert {item.ministry for item in budget.lines} == {"MOD", "MOFA"}
    mod = [item for item in budget.lines if item.ministry == "MOD"]
    assert all(item.appropriation >= 100_000_000_000 for item in mod)  # hundreds of billions of yen
    assert "EQUIP-PURCHASE" in {sub.sub_item for item in mod for sub in item.sub_items}  # night-vision.yaml's line


def test_every_mistake_is_named_by_its_field_path(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        f"""
fiscalYear: 2026
instrument: "{HASH}"
lines:
  - ministry: MOD
    organization: MOD-HQ
    item: DEF-EQUIP
    appropriation: 100000000
    subItems:
      - subItem: A
        amount: "60,000,000"
      - subItem: B
        amount: 1.5
      - subItem: THIS-CODE-IS-TOO-LONG
        amount: -3
  - ministry: MOD
    organization: MOD-HQ
    item: X
    appropriation: 10000000000000000000000000000000000000000
    authorizations: [whenever]
""",
    )
    said = dict(problems)
    assert said["lines[0].subItems[0].amount"] == "write whole yen without separators: 60000000"
    assert said["lines[0].subItems[1].amount"] == "yen have no fractions: write a whole number of yen, not 1.5"
    assert "at most 16" in said["lines[0].subItems[2].subItem"]
    assert "greater than 0" in said["lines[0].subItems[2].amount"]
    assert "less than or equal to" in said["lines[1].appropriation"]
    assert "lines[1].authorizations[0]" in said


def test_parts_never_exceed_the_item_and_nothing_is_listed_twice(tmp_path: Path) -> None:
    item = "  - {{ministry: MOD, organization: MOD-HQ, item: I, appropriation: 100, subItems: {parts}}}\n"
    parts = "[{subItem: A, amount: 60}, {subItem: B, amount: 50}]"
    text = f'fiscalYear: 2026\ninstrument: "{HASH}"\nlines:\n' + item.format(parts=parts)
    ((path, reason),) = _problems(tmp_path, text)
    assert (path, reason) == ("lines[0]", "subItems: 110 yen distributed, more than the appropriation of 100 yen")
    twice = item.format(parts="[{subItem: A, amount: 1}, {subItem: A, amount: 2}]")
    assert _problems(tmp_path, text.replace(item.format(parts=parts), twice)) == [
        ("lines[0]", "subItems: A listed twice")
    ]
    both = f'fiscalYear: 2026\ninstrument: "{HASH}"\nlines:\n' + item.format(parts="[]") * 2
    assert _problems(tmp_path, both) == [("(file)", "lines: the item MOD/MOD-HQ/I is listed twice")]


def test_not_a_file_of_fields(tmp_path: Path) -> None:
    assert _problems(tmp_path, "- just\n- a list\n") == [("(file)", "must be a YAML mapping of fields")]
    (problem,) = _problems(tmp_path, "fiscalYear: [2026\n")
    assert problem[1].startswith("not valid YAML")


def test_the_acts_enact_items_then_distribute_leaving_out_what_is_on_chain() -> None:
    budget = load_budget_file(EXAMPLE).budget
    everything = budget.acts(enacted=lambda _: False, distributed=lambda _: False)
    items = [act for act in everything if act.primary_type == "EnactAppropriation"]
    lines = [act for act in everything if act.primary_type == "Distribute"]
    assert len(items) == len(budget.lines)
    assert len(lines) == sum(len(item.sub_items) for item in budget.lines)
    assert {act.role for act in items} == {Role.FINANCE_AUTHORITY}
    assert {(act.role, act.ministry) for act in lines} == {(Role.TREASURY, "MOD"), (Role.TREASURY, "MOFA")}
    first = items[0]
    assert first.fields["amount"] == budget.lines[0].appropriation
    assert first.fields["authorizations"] == 3
    assert first.fields["instrumentHash"] == budget.instrument
    purchase = LineKey.of(2026, "MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE")
    enacted_item: ItemKey = purchase.item_key
    rest = budget.acts(enacted=lambda item: item == enacted_item, distributed=lambda line: line == purchase)
    assert len(rest) == len(everything) - 2
    assert purchase not in {act.line for act in rest}
    assert budget.acts(enacted=lambda _: True, distributed=lambda _: True) == []
    moved = budget.acts(enacted=lambda _: False, distributed=lambda _: False, fiscal_year=2027)
    assert {act.item.fiscal_year for act in moved} == {2027}
