"""``ChainSource.call_many``: through the aggregator placed by eth_call's state override (anvil), the same answers
as each call made on its own, at the block asked; a revert still names its call; a node that does not take the
override (eth-tester) is answered call by call; a reply that is not the aggregator's is never read as answers."""

from __future__ import annotations

import pytest

from chain import DEFAULT_ADMIN_ROLE, ProviderError, Role
from chain.logs import ChainSource, _answers
from scripts.bench_indexer import Chain
from tests.world import World

pytestmark = pytest.mark.integration


def _questions(chain: Chain) -> list[tuple[str, str]]:
    """Views of every kind the audit asks (a word, a struct, a tuple with a string), over 600 calls: more than
    one aggregated eth_call and more than one round trip."""
    build, system = chain.build, chain.system
    registry, token = build.codec("AccessRegistry"), build.codec("YenToken")
    escrow = build.codec("MilestoneEscrow")
    logs = chain.rpc.result(
        "eth_getLogs",
        [{"fromBlock": "0x0", "toBlock": "latest", "address": system.factory}],
    )
    escrows = sorted({"0x" + log["topics"][2][-40:] for log in logs if len(log["topics"]) > 2})
    assert escrows
    accounts = [chain.rpc.result("eth_accounts", [])[i] for i in range(6)]
    calls: list[tuple[str, str]] = []
    for address in escrows:
        for name, args in (("totals", []), ("terms", []), ("milestoneCount", []), ("milestone", [1])):
            calls.append((address, "0x" + escrow.function(name).encode(args).hex()))
        calls.append((system.token, "0x" + token.function("balanceOf").encode([address]).hex()))
    for account in accounts:
        calls.append((system.registry, "0x" + registry.function("organizationOf").encode([account]).hex()))
        for role in [*(r.id for r in Role), DEFAULT_ADMIN_ROLE]:
            calls.append((system.registry, "0x" + registry.function("hasRole").encode([role, account]).hex()))
    return (calls * (600 // len(calls) + 1))[:600]


def test_aggregated_answers_are_each_calls_own_at_the_block_asked(paid_anvil: Chain) -> None:
    calls = _questions(paid_anvil)
    head = paid_anvil.rpc.block_number()
    earlier = head - 6  # before the last procurements' milestones were paid: some answers differ
    for block in (head, earlier):
        source = ChainSource(paid_anvil.rpc)
        answers = source.call_many(calls, block)
        assert source._aggregates  # answered by the aggregator, not by the fallback
        assert answers == source._each_called(calls, block, 500)
        assert all(answers) or block == earlier  # every view answers (earlier, an escrow not yet made: nothing)
    assert ChainSource(paid_anvil.rpc).call_many(calls, head) != ChainSource(paid_anvil.rpc).call_many(calls, earlier)


def test_a_reverting_call_is_named_and_the_aggregator_kept(paid_anvil: Chain) -> None:
    calls = _questions(paid_anvil)
    source = ChainSource(paid_anvil.rpc)
    bad = (paid_anvil.system.registry, "0xdeadbeef")  # no such function: the registry reverts
    with pytest.raises(ProviderError, match=f"eth_call to {paid_anvil.system.registry} failed"):
        source.call_many([*calls[:300], bad, *calls[300:]], paid_anvil.rpc.block_number())
    assert source._aggregates  # a revert is the call's, not the node's lack of overrides
    assert source.call_many(calls[:10], paid_anvil.rpc.block_number()) == source._each_called(
        calls[:10], paid_anvil.rpc.block_number(), 500
    )


def test_a_node_without_overrides_is_asked_call_by_call(world: World) -> None:
    """eth-tester ignores the override: the aggregator's address holds no code there and answers nothing."""
    registry = world.build.codec("AccessRegistry")
    calls = [
        (world.system.registry, "0x" + registry.function("hasRole").encode([role.id, world.admin.address]).hex())
        for role in Role
    ] * 100
    source = ChainSource(world.rpc)
    block = world.rpc.block_number()
    answers = source.call_many(calls, block)
    assert not source._aggregates
    assert answers == source._each_called(calls, block, 500)
    assert len(answers) == len(calls)


@pytest.mark.parametrize(
    ("reply", "count"),
    [
        ("0x", 1),  # an empty account's answer (the override ignored)
        ("0x" + "00" * 31 + "20" + "11" * 32, 2),  # too few answers
        ("0x" + ("00" * 31 + "01" + "ab") * 2, 1),  # too many
        ("0x" + "00" * 31 + "40" + "11" * 32, 1),  # a length past the end
        ("0x" + "00" * 31 + "01" + "ab" + "00" * 3, 1),  # bytes after the last answer
        ("0x" + "00" * 16, 1),  # not even a length
        ("0x" + "ff" * 32, 1),  # a huge length
        ("0xzz", 1),  # not hex
        ("None", 1),  # no result at all
    ],
)
def test_a_reply_that_is_not_the_aggregators_is_refused(reply: str, count: int) -> None:
    assert _answers(reply, count) is None


def test_the_aggregators_reply_is_read_call_by_call() -> None:
    reply = "0x" + "00" * 31 + "02" + "abcd" + "00" * 32 + "00" * 31 + "01" + "ef"
    assert _answers(reply, 3) == [bytes.fromhex("abcd"), b"", bytes.fromhex("ef")]
