"""The server's tables in the SQLite file of the checkpoints: one connection
behind a lock, WAL, ``BEGIN IMMEDIATE`` for every write (so a claim holds the
whole file for its few statements, which keeps two workers off one thread)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from cairn.checkpoint.sqlite.dialect import SQLITE
from cairn.errors import StorageError
from cairn.server.db import ServerDB
from cairn.server.tables import META

__all__ = ["SqliteServerDB"]


class SqliteServerDB(ServerDB):
    dialect = SQLITE

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        super().__init__()
        self.location = f"SQLite database {path!r}"
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._setup()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the server's tables in {self.location}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._conn.cursor()

    def _has_tables(self, cur: Any) -> bool:
        found = cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (META.name,))
        return found.fetchone() is not None

    def _take_thread(self, cur: Any, thread_id: str) -> bool:
        return True  # BEGIN IMMEDIATE: no other writer until this transaction ends

    def _close_connection(self) -> None:
        with self._lock:
            self._conn.close()
