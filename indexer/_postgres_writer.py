"""The PostgreSQL writer process: it writes and commits planned transactions while the indexer plans the next.

The same as the SQLite writer process (``indexer._sqlite_writer``: its protocol, checked write and serving loop),
over psycopg, rows with ``COPY FROM STDIN``: a catch-up into PostgreSQL hands each range's ``WritePlan`` to it
(``python -m indexer._postgres_writer PID``), so that formatting the rows for the server and waiting for the
server's COPY and commit happen on another core while the indexer fetches, decodes, maps and plans the next.
The connection's parameters come as the first message on stdin (never in the command line, where other users
could read a password). As in process (``WriterLock.refresh``), each transaction bounds how long it may sit idle,
so that a writer stalled inside one cannot keep a standby from taking over.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from indexer._pipes import die_with_parent, receive, send
from indexer._sqlite_writer import Lock, serve_plans, write_checked
from indexer.write_plan import Row, WritePlan

__all__ = ["copy_into", "serve"]


def copy_into(cursor: Any) -> Callable[[str, tuple[str, ...], list[Row]], None]:
    """PostgreSQL's COPY FROM STDIN through psycopg's cursor: values travel as text (hence decimal strings)."""

    def copy(table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        listed = ", ".join(f'"{name}"' for name in columns)
        with cursor.copy(f'COPY "{table}" ({listed}) FROM STDIN') as stream:
            for row in rows:
                stream.write_row(row)

    return copy


def serve(parent: int) -> int:
    """Connect with the parameters of the first message, then apply the transactions read from stdin one at a
    time, answering each on stdout. Ends when the indexer closes the pipes (or is gone)."""
    die_with_parent(parent)
    import psycopg

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    try:
        params: dict[str, Any] = receive(requests)
        try:
            db = psycopg.connect(**params)
        except psycopg.Error as exc:
            send(replies, ("error", f"cannot connect to PostgreSQL: {exc}"))
            return 1
        with db:

            def apply(plan: WritePlan, lock: Lock, now_ms: int) -> None:
                with db.cursor() as cursor:
                    cursor.execute(f"SET LOCAL idle_in_transaction_session_timeout = {int(lock[2])}")
                    write_checked(cursor, plan, now_ms=now_ms, lock=lock, mark="%s", copy=copy_into(cursor))
                db.commit()

            serve_plans(apply, db.rollback, requests, replies)
    except (EOFError, BrokenPipeError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
