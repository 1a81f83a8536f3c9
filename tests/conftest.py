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
