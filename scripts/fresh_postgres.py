"""A fresh database on a PostgreSQL server: what the benchmarks (bench_indexer, bench_standby, bench_scale) and the
tests on PostgreSQL (tests/indexer/conftest.py's ``postgres_server`` and those using it) each make their runs in.

``admin_url`` is a URL of the server that may create databases (pgserver's own, say); the new database's URL is
the same with the database name replaced.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import create_engine, make_url

__all__ = [
    "ServerProcess",
    "drop_database",
    "fresh_database",
    "new_database",
    "temporary_server",
    "temporary_server_process",
]


def new_database(admin_url: str, name: str | None = None) -> str:
    """A new, empty database on the server of ``admin_url`` (named ``name``, replacing any database of that name;
    else a random name); its URL."""
    name = _checked(name or f"t_{os.urandom(6).hex()}")
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    """Drop the database ``name`` on the server of ``admin_url``, ending its connections."""
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{_checked(name)}" WITH (FORCE)')


@contextmanager
def fresh_database(admin_url: str, name: str | None = None) -> Iterator[str]:
    """``new_database`` for the ``with`` block, dropped after it; its URL."""
    url = new_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, str(make_url(url).database))


@dataclass(frozen=True)
class ServerProcess:
    """A running server: its admin URL (psycopg driver) and its postmaster's process id (None if pgserver cannot
    say), whose descendants are the server's processes."""

    url: str
    pid: int | None


@contextmanager
def temporary_server_process(prefix: str) -> Iterator[ServerProcess]:
    """A PostgreSQL server of its own (pgserver) for the ``with`` block, its data in a new temporary folder named
    with ``prefix`` (outside pytest's, whose access rights another pytest session may change)."""
    import pgserver  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
        try:
            yield ServerProcess(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1), server.get_pid())
        finally:
            server.cleanup()


@contextmanager
def temporary_server(prefix: str) -> Iterator[str]:
    """``temporary_server_process``'s admin URL, for a caller that needs no more."""
    with temporary_server_process(prefix) as server:
        yield server.url


def _checked(name: str) -> str:
    """``name`` if it is a plain lower-case identifier (it is written into the SQL)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def _admin(admin_url: str, *statements: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        admin.dispose()
