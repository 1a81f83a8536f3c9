"""The gateway fixtures' chain work done once per head (conftest.on_head): reached again, a head is the state its
first making left, whatever a test did on top of it since; another head makes it anew."""

from __future__ import annotations

from tests.gateway.conftest import on_head
from tests.helpers import new_escrow
from tests.tester import deterministic_account, fund_accounts
from tests.world import World


def test_work_done_on_a_head_is_reached_again_whole_and_made_anew_on_another_head(world: World) -> None:
    parent = world.tester.take_snapshot()
    made: list[str] = []

    def create() -> str:
        escrow, _ = new_escrow(world)
        made.append(escrow.address)
        return str(escrow.address)

    address = on_head(world, "test procurement", create)
    head = world.tester.get_block_by_number("latest")
    funded = world.token.functions.balanceOf(address).call()
    assert funded == 200_000_000
    fund_accounts(world.tester, [deterministic_account("on top of the head")])  # a later test's own work

    world.tester.revert_to_snapshot(parent)
    assert on_head(world, "test procurement", create) == address
    assert made == [address]  # not made again
    assert world.tester.get_block_by_number("latest") == head
    assert world.tester.get_balance(deterministic_account("on top of the head").address) == 0
    assert world.token.functions.balanceOf(address).call() == funded
    second, _ = new_escrow(world)  # the chain mines on the head reached, with the officer's next nonce
    assert second.address != address

    world.tester.revert_to_snapshot(parent)
    fund_accounts(world.tester, [deterministic_account("another head")])
    other = on_head(world, "test procurement", create)
    assert made == [address, other]  # another head: made anew
    assert on_head(world, "another fixture", lambda: "made") == "made"  # another name on the same head: its own
