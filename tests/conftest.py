"""The fixture chain: eth-tester -> w3 -> deployed system -> the standard cast; snapshots isolate tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.world import World, build_world


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
