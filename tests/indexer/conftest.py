"""Indexer fixtures: every database test runs on SQLite and on a real PostgreSQL (pgserver, started here)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from indexer.schema import make_engine, upgrade
from scripts.fresh_postgres import new_database, temporary_server
from tests.indexer.scenario import LOGS_FIXTURE, ROWS_FIXTURE, run_scenario
from tests.world import World


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for this test process; yields its admin URL (psycopg driver).

    Its data lives outside pytest's temporary folders: run as root, pgserver's server runs as a user of its own,
    which must traverse the folders above its data, and any other pytest session starting on the machine takes
    group and others' access off pytest's root folder (pytest does so), cutting a running server off its data.
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg")))  # platformdirs warns without
    with temporary_server("procure-test-pg-") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh database."""
    made = make_engine(db_url)
    try:
        yield made
    finally:
        made.dispose()


def index_definitions(engine: Engine) -> dict[str, str]:
    """Every index of the database (primary keys and unique ones too) by name, as the database itself states it:
    table, columns in order, uniqueness, partial clause."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            stated = (
                "SELECT name, tbl_name || ': ' || coalesce(sql, 'automatic') FROM sqlite_master WHERE type = 'index'"
            )
            rows = conn.execute(text(stated))
        else:
            rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
        return {str(name): str(definition) for name, definition in rows}


@pytest.fixture
def fresh_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """Another empty database of ``db_url``'s kind."""

    def make(name: str) -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / name}.db"
        return new_database(request.getfixturevalue("postgres_server"))

    return make


@pytest.fixture
def migrated(fresh_url: Callable[[str], str]) -> dict[str, str]:
    """The index definitions of a database of the test's kind that the migrations alone built."""
    engine = make_engine(fresh_url("migrated"))
    try:
        upgrade(engine)
        return index_definitions(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def recorded() -> dict[str, Any]:
    """The golden recording: every log of the scenario world."""
    data: dict[str, Any] = json.loads(LOGS_FIXTURE.read_text())
    return data


@pytest.fixture(scope="session")
def expected() -> dict[str, list[dict[str, Any]]]:
    """The rows the golden recording must produce."""
    data: dict[str, list[dict[str, Any]]] = json.loads(ROWS_FIXTURE.read_text())
    return data


@pytest.fixture(scope="module")
def scenario_world(session_world: World) -> Iterator[World]:
    """The shared world with the scenario played once per module (rolled back afterwards)."""
    snapshot = session_world.tester.take_snapshot()
    year, lines = session_world.fiscal_year, dict(session_world.lines)
    try:
        run_scenario(session_world)
        yield session_world
    finally:
        session_world.tester.revert_to_snapshot(snapshot)
        session_world.fiscal_year, session_world.lines = year, lines


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One fresh database of each kind shared by a module's tests (they keep to chain ids of their own)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'ledger.db'}"
    else:
        url = new_database(request.getfixturevalue("postgres_server"))
    made = make_engine(url)
    try:
        yield made
    finally:
        made.dispose()
