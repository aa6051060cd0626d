"""``SqliteStore``: the embedded store, in a SQLite file several processes share.

    store = SqliteStore("memory.db")
    with SqliteStore.from_conn_string("memory.db") as store: ...
    store = SqliteStore("memory.db", index={"dims": 384, "embed": embed, "fields": ["text"]})

The file is opened in WAL mode with a busy timeout; each batch with a put is
one ``BEGIN IMMEDIATE`` transaction. The store's tables (``cairn_store_*``,
with their own schema version) can live in the checkpoint database of a
``SqliteSaver``, or in a file of their own.

Semantic search is the exact search of ``cairn.store.vectors`` (the
sqlite-vec extension is not used yet).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator, Union

from cairn.checkpoint.sqlite import files
from cairn.errors import ConfigError, StorageError
from cairn.store.base import IndexConfig, TTLConfig
from cairn.store.sql import SCHEMA_VERSION, Cursor, SqlStore, check_version

__all__ = ["SqliteStore"]

_SCHEMA = (
    "CREATE TABLE cairn_store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE cairn_store_items (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " created_at REAL NOT NULL, updated_at REAL NOT NULL, ttl_minutes REAL, expires_at REAL,"
    " PRIMARY KEY (ns, key)) WITHOUT ROWID",
    "CREATE INDEX cairn_store_items_expiry ON cairn_store_items (expires_at)"
    " WHERE expires_at IS NOT NULL",
    "CREATE TABLE cairn_store_vectors (ns TEXT NOT NULL, key TEXT NOT NULL, field TEXT NOT NULL,"
    " vector BLOB NOT NULL, PRIMARY KEY (ns, key, field)) WITHOUT ROWID",
)

Connectable = Union[str, "os.PathLike[str]", sqlite3.Connection]


class SqliteStore(SqlStore):
    """A store in a SQLite file; safe to share between threads and processes."""

    def __init__(
        self,
        conn: Connectable,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        synchronous: str = "full",
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(index, ttl)
        if not isinstance(synchronous, str) or synchronous.lower() not in ("full", "normal", "extra"):
            raise ConfigError(
                f"synchronous must be 'full' (survives power loss) or 'normal' (survives a "
                f"process crash), got {synchronous!r}"
            )
        self._synchronous = synchronous.upper()
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._given = conn if isinstance(conn, sqlite3.Connection) else None
        self._conn: sqlite3.Connection | None = None
        if self._given is None:
            self._path: str | None = os.fspath(conn)  # type: ignore[arg-type]
            self.location = f"SQLite database {self._path!r}"
        else:
            row = self._given.execute("PRAGMA database_list").fetchone()
            self._path = str(row[2]) if row and row[2] else None
            self.location = f"SQLite database {(self._path or ':memory:')!r}"
        self._start()

    @classmethod
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        synchronous: str = "full",
        busy_timeout: float = 5.0,
    ) -> "SqliteStore":
        """A store on the file ``conn_string``; use it directly or as a context
        manager, which closes it on exit."""
        return cls(conn_string, index=index, ttl=ttl, synchronous=synchronous, busy_timeout=busy_timeout)

    # -- opening ---------------------------------------------------------------------

    def _open(self) -> None:
        if self._given is not None:
            conn = self._given
        else:
            assert self._path is not None
            if self._path != ":memory:":
                files.check(self._path, self.location)
            try:
                conn = sqlite3.connect(
                    self._path, timeout=self._busy_timeout, isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open {self.location}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._conn = conn
            with self._transaction() as cur:
                self._setup(cur)
        except sqlite3.DatabaseError as exc:
            self._close_connection()
            raise StorageError(f"cannot open {self.location}: {exc}") from exc
        except BaseException:
            self._close_connection()
            raise

    def _setup(self, cur: Cursor) -> None:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {row[0] for row in cur.fetchall()} - {"sqlite_sequence"}
        if "cairn_store_meta" in tables:
            cur.execute("SELECT value FROM cairn_store_meta WHERE key = 'schema_version'")
            found = cur.fetchone()
            check_version(int(found[0]) if found else 0, self.location)
            return
        others = sorted(name for name in tables if not name.startswith("cairn_"))
        if others:
            raise StorageError(
                f"{self.location} holds tables that are not cairn's ({', '.join(others)}); "
                "cairn will not write into another application's database: use a new file"
            )
        for statement in _SCHEMA:
            cur.execute(statement)
        cur.execute(
            "INSERT INTO cairn_store_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    # -- transactions ----------------------------------------------------------------

    def _write(self) -> AbstractContextManager[Cursor]:
        self._ensure_open()
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            conn = self._connection()
            try:
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur  # type: ignore[misc]
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
                conn.commit()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        self._ensure_open()
        with self._lock:
            try:
                yield self._connection().cursor()  # type: ignore[misc]
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"{self.location}: the store was closed; open a new SqliteStore to use it again")
        return self._conn

    def _error(self, exc: sqlite3.Error) -> StorageError:
        if "locked" in str(exc) or "busy" in str(exc):
            return StorageError(
                f"{self.location} stayed locked by another writer past the busy timeout "
                f"({self._busy_timeout} s); retry, or raise busy_timeout"
            )
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
            return StorageError(f"{self.location}: the store was closed; open a new SqliteStore to use it again")
        return StorageError(f"{self.location}: {exc}")

    # -- the dialect -----------------------------------------------------------------

    def _loads(self, raw: Any) -> dict[str, Any]:
        return json.loads(raw)  # type: ignore[no-any-return]

    def _condition(self, field: str, op: str, operand: Any) -> tuple[str, list[Any]] | None:
        if '"' in field or "\\" in field or op == "$ne":
            return None
        path = f'$."{field}"'
        compare = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        if isinstance(operand, bool):
            if op != "$eq":
                return ("0", [])  # results.matches: no order between booleans
            return ("json_type(value, ?) = ?", [path, "true" if operand else "false"])
        if operand is None:
            return ("json_type(value, ?) = 'null'", [path]) if op == "$eq" else ("0", [])
        if isinstance(operand, str):
            if op == "$eq" and operand[:1] not in ("[", "{"):
                # json_extract gives a string as text, a number as a number (never
                # equal to text) and a list or object as its JSON text, which
                # starts with [ or {: only such an operand needs the type checked.
                return ("json_extract(value, ?) = ?", [path, operand])
            return (f"json_type(value, ?) = 'text' AND json_extract(value, ?) {compare} ?", [path, path, operand])
        if isinstance(operand, (int, float)):
            return (
                f"json_type(value, ?) IN ('integer', 'real') AND json_extract(value, ?) {compare} ?",
                [path, path, operand],
            )
        return None

    # -- lifetime --------------------------------------------------------------------

    def _close_connection(self) -> None:
        with self._lock:
            if self._conn is not None and self._given is None:
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Close the file (only if this store opened it)."""
        self.stop_ttl_sweeper()
        self._close_io()
        self._close_connection()

