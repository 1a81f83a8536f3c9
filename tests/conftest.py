"""The fixture chain: eth-tester -> w3 -> deployed system -> the standard cast; snapshots isolate tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.world import World, build_world

if TYPE_CHECKING:
    from scripts.bench_indexer import Chain


@pytest.fixture(scope="session")
def session_world() -> World:
    """One deployed world per test process (deploying takes seconds; a snapshot revert takes milliseconds)."""
    return build_world()


@pytest.fixture
def world(session_world: World) -> Iterator[World]:
    """The standard world, rolled back after the test."""
    snapshot = session_world.tester.take_snapshot()
    try:
        yield session_world
    finally:
        session_world.tester.revert_to_snapshot(snapshot)


@pytest.fixture(scope="session")
def paid_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """An in-memory anvil with the system deployed and a few procurements (about 300 events), their milestones run
    to payment; shared read-only by the modules that ask a real node (``eth_call`` with state overrides, which
    eth-tester ignores). A test that sent a transaction would change what the next one reads: the teardown fails
    it by the head it finds moved."""
    # Imported here, not above: every test process loads this file, and bench_indexer's imports cost 0.6 s of CPU.
    from scripts.bench_indexer import generate_events, running_anvil

    with running_anvil(tmp_path_factory.mktemp("anvil-paid"), persistent=False) as running:
        generate_events(running, 300, milestones=3, per_round=2)
        head = running.rpc.block_number()
        yield running
        moved = running.rpc.block_number()
        assert moved == head, f"a test mined blocks {head + 1}..{moved} on the shared read-only anvil"


# The longest modules (their summed time on 2 cores, longest first). `pytest -n 2 --dist loadfile` hands whole
# modules to its two workers in collection order; xdist's default reorder (by number of tests, most first) would
# leave these single-test or few-test modules for last, and the run would end waiting on one of them.
LONGEST_FIRST = (
    "tests/gateway/test_schemathesis.py",
    "tests/contracts/test_invariants.py",
    "tests/gateway/test_attacks.py",
    "tests/integration/test_up_and_demo.py",
    "tests/integration/test_gateways_behind_nginx.py",
    "tests/contracts/test_signatures.py",
    "tests/indexer/test_crash.py",
    "tests/gateway/test_api_contract.py",
    "tests/gateway/test_read_path.py",
    "tests/gateway/test_sign_in_nonces.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Keep the collection order under xdist (see LONGEST_FIRST)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first, the rest in their usual order."""
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
