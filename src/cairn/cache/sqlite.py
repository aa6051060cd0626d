"""``SqliteCache``: node results cached in a SQLite file, shared by the
processes that open it.

    from cairn.cache.sqlite import SqliteCache
    graph = builder.compile(cache=SqliteCache(path="cache.db"))

Values are stored with cairn's serializer (``cairn.checkpoint.serde``):
nothing stored is loaded by running code, and a class is stored only if it
is registered, as a graph compiled with the cache registers its state's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from cairn.cache.base import BaseCache, FullKey, Namespace
from cairn.checkpoint.serializer import Serializer

__all__ = ["SqliteCache"]

_TABLE = """CREATE TABLE IF NOT EXISTS cairn_cache (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    expiry REAL,
    value BLOB NOT NULL,
    PRIMARY KEY (ns, key)
)"""


class SqliteCache(BaseCache[Any]):
    """A cache in the SQLite file at ``path`` (made if missing). ``serde``:
    the serializer of its values (cairn's default when None). ``clock``:
    what tells the time in seconds, against which entries expire."""

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        serde: Serializer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.serde = serde if serde is not None else Serializer()
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(os.fspath(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.execute(_TABLE)

    def register(self, *classes: type) -> None:
        self.serde.register(*classes)

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        now = self._clock()
        found: dict[FullKey, Any] = {}
        with self._lock:
            for ns, key in keys:
                row = self._conn.execute(
                    "SELECT expiry, value FROM cairn_cache WHERE ns = ? AND key = ?", (_ns(ns), key)
                ).fetchone()
                if row is not None and (row[0] is None or now < row[0]):
                    found[(ns, key)] = row[1]
        return {k: self.serde.loads(blob) for k, blob in found.items()}

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        now = self._clock()
        rows = [
            (_ns(ns), key, None if ttl is None else now + ttl, self.serde.dumps(value))
            for (ns, key), (value, ttl) in pairs.items()
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM cairn_cache WHERE expiry IS NOT NULL AND expiry <= ?", (now,))
                self._conn.executemany("INSERT OR REPLACE INTO cairn_cache VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._conn.execute("DELETE FROM cairn_cache")
            else:
                self._conn.executemany("DELETE FROM cairn_cache WHERE ns = ?", [(_ns(ns),) for ns in namespaces])

    def close(self) -> None:
        """Close the connection to the file."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "SqliteCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ns(namespace: Namespace) -> str:
    return json.dumps(list(namespace))
