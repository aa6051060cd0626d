"""The server's tables in the PostgreSQL database of the checkpoints, which
any number of server processes on any number of hosts share. A claim takes
the run's thread with a transaction-scoped advisory lock (skipping a thread
another worker is claiming), then checks again that the thread is free.

Connections come from a small pool that checks a connection before lending
it, so a server outlives the database dropping its idle connections."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from cairn.checkpoint.postgres.dialect import POSTGRES
from cairn.errors import MissingDependencyError, StorageError
from cairn.server.db import ServerDB
from cairn.server.tables import META

__all__ = ["PostgresServerDB"]

_SETUP_LOCK = 0x6361_6972_6E73  # "cairns": one process creates the tables at a time

CONNECTIONS = 4
"""Calls of the server on its tables at once, each on a connection of its own:
a call waits on the network for each statement, so one at a time would make
every run wait for the others' round trips."""


class PostgresServerDB(ServerDB):
    dialect = POSTGRES

    def __init__(self, url: str) -> None:
        super().__init__(CONNECTIONS)
        try:
            import psycopg
        except ImportError as exc:
            raise MissingDependencyError("--db postgresql://... needs psycopg: pip install 'cairn[postgres]'") from exc
        from psycopg_pool import ConnectionPool

        self.location = "the PostgreSQL database of --db"
        self._pool = ConnectionPool(
            url, min_size=1, max_size=CONNECTIONS, kwargs={"autocommit": True}, open=False,
            check=ConnectionPool.check_connection, name="cairn-server",
        )
        try:
            self._pool.open(wait=True, timeout=30)
            self._setup()
        except (psycopg.Error, Exception) as exc:
            self._pool.close()
            raise StorageError(f"cannot open the server's tables in {self.location}: {exc}") from exc

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if not durable:  # the commit does not wait for the WAL flush; the next durable one does
                cur.execute("SET LOCAL synchronous_commit = off")
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def _has_tables(self, cur: Any) -> bool:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
        cur.execute("SELECT to_regclass(%s)", (META.name,))
        return cur.fetchone()[0] is not None

    def _take_thread(self, cur: Any, thread_id: str) -> bool:
        cur.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (thread_id,))
        return bool(cur.fetchone()[0])

    def _close_connection(self) -> None:
        self._pool.close()
