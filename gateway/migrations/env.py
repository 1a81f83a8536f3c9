"""Alembic environment of the gateway's own tables; its version table is ``gateway_alembic_version``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gateway.models import GatewayBase

config = context.config
target_metadata = GatewayBase.metadata
VERSION_TABLE = "gateway_alembic_version"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        include_name=lambda name, kind, _parent: kind != "table" or (name or "").startswith("gateway_"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the caller's connection if there is one, else through a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for the migration")
    engine = create_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, version_table=VERSION_TABLE
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
