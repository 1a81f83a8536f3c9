"""The gateway on a fresh eth-tester chain, as a uvicorn app factory: a real server process for the tests that
must survive what would kill it (``uvicorn tests.gateway.served_app:app --factory``).

Settings come from ``PROCURE_*`` variables like any gateway's; ``PROCURE_VAR`` is required.
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.core.config import Settings
from gateway.main import create_app
from tests.world import build_world

__all__ = ["app"]


def app() -> FastAPI:
    """Deploy the standard world on eth-tester and serve it read-only (no relayer)."""
    world = build_world()
    return create_app(Settings(), rpc=world.rpc, system=world.system, build=world.build)
