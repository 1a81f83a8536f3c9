"""The gateway's own tables (``gateway_*``): built and upgraded by their own Alembic migrations.

They share the database with the indexer's mirror but keep their own version table
(``gateway_alembic_version``), so each package migrates its schema without knowing the other's.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from indexer import schema as mirror_schema

__all__ = ["MIGRATIONS", "alembic_config", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ADOPTED_REVISION = "0001"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at ``gateway/migrations`` (no alembic.ini needed)."""
    return mirror_schema.alembic_config(engine, MIGRATIONS)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the gateway's tables to ``revision`` (idempotent).

    A database whose gateway tables were made before these migrations existed (same shape as 0001) is
    adopted: stamped at 0001, then upgraded.
    """
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "gateway_alembic_version" not in tables and "gateway_sessions" in tables:
            command.stamp(config, _ADOPTED_REVISION)
        command.upgrade(config, revision)
