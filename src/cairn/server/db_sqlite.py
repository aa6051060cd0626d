"""The server's tables in the SQLite file of the checkpoints, WAL,
``BEGIN IMMEDIATE`` for every write (so a claim holds the whole file for its
few statements, which keeps two workers off one thread).

The server uses the saver's own connection, under the saver's lock
(``SqliteSaver.transaction``), on the saver's I/O thread: SQLite has one
writer at a time per file, and two connections of one process would
otherwise meet as two processes do, the second sleeping in SQLite's busy
handler (a millisecond and more each time) until the first commits; two
threads would hand the lock to each other. Alone (no saver), it opens a
connection of its own."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.checkpoint.sqlite.dialect import SQLITE
from cairn.errors import StorageError
from cairn.server.db import ServerDB
from cairn.server.tables import META

__all__ = ["SqliteServerDB"]


class SqliteServerDB(ServerDB):
    dialect = SQLITE

    def __init__(self, path: str, busy_timeout: float = 5.0, *, saver: SqliteSaver | None = None) -> None:
        """The tables in the file ``path``, on ``saver``'s connection when
        given (``saver`` must be on that file), else on a connection of their own."""
        super().__init__()
        self.location = f"SQLite database {path!r}"
        self._saver = saver
        shared = saver.io_executor() if saver is not None else None
        if shared is not None:  # the saver's I/O thread: one thread at the file, no hand-over of its lock
            self.executor.shutdown(wait=False)
            self.executor = shared
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            if saver is None:
                self._conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._setup()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the server's tables in {self.location}: {exc}") from exc

    def _write(self, durable: bool = True) -> AbstractContextManager[Any]:
        if self._saver is not None:
            return self._saver.transaction(durable)
        return self._own_write(durable)

    def _read(self) -> AbstractContextManager[Any]:
        if self._saver is not None:
            return self._saver.reading()
        return self._own_read()

    @contextmanager
    def _own_write(self, durable: bool) -> Iterator[sqlite3.Cursor]:
        assert self._conn is not None
        with self._lock:
            cur = self._conn.cursor()
            if not durable:  # in WAL mode a NORMAL commit skips the fsync
                cur.execute("PRAGMA synchronous = NORMAL")
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                if not durable:
                    cur.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _own_read(self) -> Iterator[sqlite3.Cursor]:
        assert self._conn is not None
        with self._lock:
            yield self._conn.cursor()

    def _has_tables(self, cur: Any) -> bool:
        found = cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (META.name,))
        return found.fetchone() is not None

    def _take_thread(self, cur: Any, thread_id: str) -> bool:
        return True  # BEGIN IMMEDIATE: no other writer until this transaction ends

    def close(self) -> None:
        if self._saver is None:
            super().close()
        # else the thread and the connection are the saver's, closed with it

    def _close_connection(self) -> None:
        if self._conn is not None:  # the saver's connection is the saver's to close
            with self._lock:
                self._conn.close()
