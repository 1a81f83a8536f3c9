"""Every custom error in words: each one in any compiled contract's ABI has its sentence, and the sentences name
roles, organizations, statuses, dates and yen as people say them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chain import Build, ContractRevert, Role, compile_contracts
from chain.revert_words import SENTENCES, explain
from chain.times import jst
from tests.helpers import new_escrow, reverts
from tests.world import World


@pytest.fixture(scope="module")
def build() -> Build:
    return compile_contracts()


TIME = re.compile(r"(Time|Date|deadline|Until|until|At)$")  # the arguments that hold a unix time
SAMPLE_TIME = 1_798_729_140  # 2026-12-31 23:59 JST


def _sample(kind: str, components: list[dict[str, Any]] | None = None, name: str = "") -> Any:
    """A value of the ABI type ``kind``, as the decoder returns it (a unix time for a time argument)."""
    if kind.endswith("[]"):
        return [_sample(kind[:-2], components)]
    if kind == "tuple":
        return tuple(_sample(c["type"], c.get("components"), c["name"]) for c in components or [])
    if TIME.search(name):
        return SAMPLE_TIME
    if kind == "address":
        return "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
    if kind == "bool":
        return True
    if kind == "string":
        return "why"
    if kind.startswith("bytes"):
        return b"MOD".ljust(int(kind[5:] or 32), b"\x00")
    if kind.startswith("uint8"):
        return 2  # a valid enum member of every enum the contracts declare
    if kind.startswith(("uint", "int")):
        return 7
    raise AssertionError(f"no sample for ABI type {kind}")


def test_every_custom_error_of_every_contract_has_a_sentence(build: Build) -> None:
    missing = sorted({entry["name"] for entry in build.error_abis()} - set(SENTENCES))
    assert not missing, f"custom errors without a sentence in chain/revert_words.py: {missing}"


def test_every_sentence_is_of_an_error_that_exists(build: Build) -> None:
    declared = {entry["name"] for entry in build.error_abis()} | {"Error", "Panic"}
    assert not sorted(set(SENTENCES) - declared), "sentences for errors no contract declares: remove them"


def test_every_sentence_says_its_error_in_words(build: Build) -> None:
    for entry in build.error_abis():
        args = {p["name"]: _sample(p["type"], p.get("components"), p["name"]) for p in entry["inputs"]}
        revert = ContractRevert(entry["name"], args)
        said = explain(revert, lambda account: "ATLA")
        assert said != revert.raw, f"{entry['name']}: no sentence for its declared arguments"
        assert entry["name"] not in said
        assert not re.search(r"0x[0-9a-fA-F]{64}", said), f"{entry['name']} shows a raw hash: {said}"
        assert str(SAMPLE_TIME) not in said, f"{entry['name']} shows a raw unix time: {said}"
        if any(TIME.search(p["name"]) for p in entry["inputs"]):
            assert "2026-12-31 23:59 JST" in said, f"{entry['name']} does not say its time: {said}"


def test_a_role_refused_for_an_organization_names_both(world: World) -> None:
    with reverts("RegistryRoleKindMismatch") as refused:
        world.sender("admin").transact(world.registry.functions.grantRole(Role.SUPPLIER.id, world.eval1.address))
    error = refused.value
    address = world.eval1.address
    assert (
        str(error)
        == f"account {address[:6]}...{address[-4:]} belongs to an evaluation body, which cannot be a supplier"
    )
    assert error.raw.startswith(f"RegistryRoleKindMismatch(account={address}, role=0x")
    organizations: dict[str, str | None] = {address: "ATLA"}
    assert error.explain(lambda account: organizations.get(account)).startswith(
        f"ATLA's account {address[:6]}...{address[-4:]} belongs to"
    )
    assert str(error) == error.sentence  # said again with the organization, and kept


def test_a_milestone_in_the_wrong_state_is_named_by_its_status(world: World) -> None:
    escrow, _ = new_escrow(world)
    with reverts("EscrowUnexpectedMilestoneStatus") as refused:
        world.sender("eval1").transact(escrow.functions.attest(0, 1, True, b"\x22" * 32))
    assert str(refused.value) == "milestone 0 is Pending (no evidence submitted yet); this needs it Submitted"
    rejected = ContractRevert("EscrowUnexpectedMilestoneStatus", {"milestoneId": 0, "current": 2, "allowed": 2})
    assert str(rejected) == (
        "milestone 0 is Rejected (evidence can be submitted again until its due date); this needs it Submitted"
    )
    # Said with its date when the caller can look the milestone up (the gateway reads it from the chain).
    due: dict[int, int] = {0: 1_814_367_599}  # 2027-06-30 23:59:59 JST
    assert rejected.explain(None, due.get) == (
        "milestone 0 is Rejected; evidence can be submitted again until 2027-06-30 23:59 JST; this needs it Submitted"
    )
    unknown = rejected.explain(None, lambda milestone: None)
    assert unknown.startswith("milestone 0 is Rejected (evidence can be submitted again until its due date)")


def test_dates_are_jst_with_the_date_and_yen_whole(world: World) -> None:
    escrow, params = new_escrow(world)
    due = params[5][0]
    world.tester.time_travel(due + 1)
    with reverts("EscrowPastDueDate") as refused:
        world.sender("supplier").transact(escrow.functions.submitEvidence(0, b"\x11" * 32, "ipfs://x"))
    assert f"milestone 0 was due at {jst(due)}" in str(refused.value)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d JST", jst(due))
    assert jst(1_798_729_140) == "2026-12-31 23:59 JST"
    assert explain(ContractRevert("EscrowInsufficientFunds", {"needed": 60_000_000, "available": 5})) == (
        "the escrow holds 5 yen, less than the 60,000,000 yen to pay"
    )


def test_an_error_without_a_sentence_is_said_raw() -> None:
    unknown = ContractRevert("SomethingNew", {"value": 7})
    assert str(unknown) == unknown.raw == "SomethingNew(value=7)"
