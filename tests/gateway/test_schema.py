"""The gateway's own tables come from its Alembic migrations, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from gateway.models import GatewayBase
from gateway.schema import upgrade
from indexer.schema import upgrade as upgrade_mirror
from tests.indexer.conftest import db_url, engine, postgres_server

__all__ = ["db_url", "engine", "postgres_server"]  # fixtures, re-used from the indexer's tests


def _differences(engine: Engine) -> list[Any]:
    def gateway_only(name: str | None, kind: str, _parent: Any) -> bool:
        return kind != "table" or (name or "").startswith("gateway_")

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": gateway_only, "version_table": "gateway_alembic_version"}
        )
        return list(compare_metadata(context, GatewayBase.metadata))


def _version(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM gateway_alembic_version")).scalar_one())


def test_migrations_build_the_models_from_an_empty_database(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert _differences(engine) == []
    assert _version(engine) == "0001"
    assert {t for t in inspect(engine).get_table_names() if t.startswith("gateway_")} == {
        "gateway_alembic_version",
        "gateway_documents",
        "gateway_idempotency_keys",
        "gateway_sessions",
        "gateway_siwe_nonces",
    }


def test_gateway_and_mirror_migrations_share_a_database_without_touching_each_other(engine: Engine) -> None:
    upgrade_mirror(engine)
    upgrade(engine)
    upgrade_mirror(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"alembic_version", "gateway_alembic_version", "procurements", "gateway_sessions"} <= tables
    assert _differences(engine) == []


def test_tables_made_before_the_migrations_are_adopted_with_their_rows(engine: Engine) -> None:
    GatewayBase.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO gateway_siwe_nonces (nonce, issued_at, expires_at) VALUES ('n1', 1, 2)"))
    upgrade(engine)
    assert _version(engine) == "0001"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT nonce FROM gateway_siwe_nonces")).scalars().all() == ["n1"]
