"""Databases: engines for SQLite (WAL) and PostgreSQL by URL, and the Alembic migrations that build the schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from chain.errors import ConfigurationError
from indexer._sqlite_writer import SQLITE_PRAGMAS

__all__ = ["MIGRATIONS", "alembic_config", "default_url", "make_engine", "run_migration_environment", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_url(var_dir: Path) -> str:
    """``sqlite:///<var>/ledger.db``."""
    return f"sqlite:///{var_dir / 'ledger.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:  # WAL, synchronous=NORMAL, ...: see indexer._sqlite_writer
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``); a clear error otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in {"sqlite", "postgresql"}:
        raise ConfigurationError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://...")
    if backend == "sqlite":
        database = parsed.database or ""
        if database in {"", ":memory:"}:
            raise ConfigurationError("an in-memory SQLite database cannot be shared: give a file path")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=backend == "postgresql")
    except NoSuchModuleError as exc:
        raise ConfigurationError(f"no driver for {parsed.drivername}: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine | None = None, migrations: Path = MIGRATIONS) -> Config:
    """An Alembic config pointing at ``migrations`` (default ``indexer/migrations``; no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    if engine is not None:
        # configparser interpolates "%": URL-encoded socket paths must be escaped.
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; concurrent callers on SQLite wait on its lock)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def run_migration_environment(
    metadata: MetaData,
    *,
    version_table: str = "alembic_version",
    include_name: Callable[[str | None, str, Any], bool] | None = None,
) -> None:
    """The body of a migrations directory's ``env.py``: migrate ``metadata`` through the caller's connection
    (``config.attributes["connection"]``, as ``upgrade`` hands it over), else through ``sqlalchemy.url``."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table=version_table, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            include_name=include_name,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for the migration")
    engine = create_engine(url)
    with engine.connect() as fresh:
        run(fresh)
    engine.dispose()
