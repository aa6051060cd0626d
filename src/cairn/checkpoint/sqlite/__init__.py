"""``SqliteSaver``: the embedded default, every thread in one SQLite file.

The file is opened in WAL mode with a busy timeout; each write is one
``BEGIN IMMEDIATE`` transaction, so several processes can share the file.
``synchronous="full"`` (the default, as LangGraph) makes a committed step
survive power loss; ``synchronous="normal"`` survives a crash of the process
only, and is faster.

    saver = SqliteSaver("checkpoints.db")
    with SqliteSaver.from_conn_string("checkpoints.db") as saver: ...
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterable, Iterator, Sequence, Union

from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.base import Lease
from cairn.checkpoint.sqlite import files
from cairn.checkpoint.sql import SCHEMA_VERSION, SqlSaver, upgrade
from cairn.checkpoint.sql.dialect import Statement
from cairn.checkpoint.sql.tables import LEASES, TABLES, Cursor
from cairn.checkpoint.sqlite.dialect import SQLITE
from cairn.errors import ConfigError, StorageError

__all__ = ["SqliteSaver"]

# What turns a file of each older schema version into the next one.
_MIGRATIONS = {1: (SQLITE.create(LEASES),)}

_SCHEMA = tuple(SQLITE.create(table) for table in TABLES)

Connectable = Union[str, "os.PathLike[str]", sqlite3.Connection]


def _foreign_tables(names: Iterable[str]) -> set[str]:
    """The tables that are not SQLite's own nor a cairn store's (``cairn_store_*``,
    which may share the file: see cairn.store.sqlite) nor ``cairn serve``'s
    (``cairn_server_*``: cairn.server.tables)."""
    return {
        n for n in names
        if n != "sqlite_sequence" and not n.startswith(("cairn_store_", "cairn_server_"))
    }


class SqliteSaver(SqlSaver):
    """Checkpoints in a SQLite file; safe to share between threads and processes."""

    dialect = SQLITE

    def __init__(
        self,
        conn: Connectable,
        *,
        synchronous: str = "full",
        busy_timeout: float = 5.0,
        serde: Serializer | None = None,
        lease_ttl: float = 30.0,
        wait_for_thread: float = 0.0,
    ) -> None:
        super().__init__(serde)
        self._set_lease_options(lease_ttl, wait_for_thread)
        if synchronous.lower() not in ("full", "normal", "extra"):
            raise ConfigError(
                f"synchronous must be 'full' (survives power loss) or 'normal' (survives a "
                f"process crash), got {synchronous!r}"
            )
        self._lock = threading.RLock()
        self._owns = not isinstance(conn, sqlite3.Connection)
        if isinstance(conn, sqlite3.Connection):
            self._conn = conn
            row = conn.execute("PRAGMA database_list").fetchone()
            self._path = str(row[2]) if row and row[2] else None
            self.location = f"SQLite database {(self._path or ':memory:')!r}"
        else:
            self._conn = self._open(os.fspath(conn), busy_timeout)
        self._synchronous = synchronous.upper()
        try:
            self._configure(self._synchronous, busy_timeout)
            self._setup()
        except BaseException:
            self.close()  # a refused file keeps no connection (nor -wal and -shm files)
            raise

    @classmethod
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        synchronous: str = "full",
        busy_timeout: float = 5.0,
        serde: Serializer | None = None,
        lease_ttl: float = 30.0,
        wait_for_thread: float = 0.0,
    ) -> "SqliteSaver":
        """A saver on the file ``conn_string``; use it directly or as a context
        manager (``with SqliteSaver.from_conn_string(path) as saver``), which
        closes it on exit."""
        return cls(
            conn_string,
            synchronous=synchronous,
            busy_timeout=busy_timeout,
            serde=serde,
            lease_ttl=lease_ttl,
            wait_for_thread=wait_for_thread,
        )

    def _open(self, path: str, busy_timeout: float) -> sqlite3.Connection:
        self.location = f"SQLite database {path!r}"
        self._path = None if path == ":memory:" else path
        if self._path is not None:
            files.check(path, self.location)
        try:
            return sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.location}: {self._cause(exc)}") from exc

    def _configure(self, synchronous: str, busy_timeout: float) -> None:
        try:
            with self._lock:
                conn = self._conn
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                tables = _foreign_tables(
                    row[0]
                    for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                )
                if tables and "cairn_meta" not in tables:
                    raise StorageError(
                        f"{self.location} holds tables that are not cairn's "
                        f"({', '.join(sorted(tables))}); cairn will not write into another "
                        "application's database: use a new file"
                    )
                if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {synchronous}")
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open {self.location}: {self._cause(exc)}") from exc

    def _cause(self, exc: sqlite3.Error) -> str:
        """Why SQLite refused the file, and what to do (an error path only)."""
        if files.not_a_database(exc):
            return (
                f"the file is not a SQLite database ({exc}); cairn did not change it: "
                "point cairn at a new file"
            )
        if files.damaged(exc):
            return (
                f"the SQLite file is damaged ({exc}); cairn did not change it: restore it "
                "from a backup, or point cairn at a new file"
            )
        reason = files.why_unwritable(self._path) if self._path else None
        return reason or str(exc)

    def _setup(self) -> None:
        with self._write() as cur:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = _foreign_tables(row[0] for row in cur.fetchall())
            if "cairn_meta" in tables:
                cur.execute("SELECT value FROM cairn_meta WHERE key = 'schema_version'")
                found = cur.fetchone()
                version = int(found[0]) if found else 0
                upgrade(cur, version, _MIGRATIONS, self.location)
                return
            if tables:
                raise StorageError(
                    f"{self.location} holds tables that are not cairn's ({', '.join(sorted(tables))}); "
                    "cairn will not write into another application's database: use a new file"
                )
            for statement in _SCHEMA:
                cur.execute(statement)
            cur.execute(
                "INSERT INTO cairn_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    # -- storing -------------------------------------------------------------------

    def _put_at_once(self, statement: Statement, lease: Lease) -> bool | None:
        if not self._autocommits():
            return None
        # In autocommit mode a writing statement is a transaction of its own
        # that takes the write lock first, as BEGIN IMMEDIATE does: one call
        # into SQLite.
        with self._lock:
            try:
                cur = self._conn.cursor()
                cur.execute(*statement)
            except sqlite3.Error as exc:
                raise self._storage_error(exc) from exc
            return cur.rowcount == 1 or self._still_held(cur, lease)

    def _autocommits(self) -> bool:
        return self._conn.isolation_level is None and not self._conn.in_transaction

    # -- leases ----------------------------------------------------------------------
    # Each lease write is one statement: in autocommit mode, one call into SQLite.

    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        for _ in range(2):
            _, taken = self._lease_write(*self.dialect.take_lease(lease, replacing or ""))
            if taken:
                return None
            with self._read() as cur:
                cur.execute("SELECT owner FROM cairn_leases WHERE thread_id = ?", (lease.thread_id,))
                found = cur.fetchone()
            if found is not None:
                holder = str(found[0])
                return None if holder == lease.owner else holder
            # Released between the two statements: try again.
        return "a run that held the thread a moment ago"

    def renew(self, lease: Lease) -> bool:
        changed, _ = self._lease_write(*self.dialect.renew_lease(lease))
        return changed == 1

    def release(self, lease: Lease) -> None:
        self._tips.forget(lease)
        self._lease_write(*self.dialect.release_lease(lease))

    def _lease_write(self, sql: str, args: Sequence[Any]) -> tuple[int, list[Any]]:
        """One lease statement (rows changed, rows returned), committed without
        waiting for the disk: in WAL mode a NORMAL commit skips the fsync, and
        the next durable commit's fsync covers it."""
        if not self._autocommits():
            with self._write(durable=False) as cur:
                cur.execute(sql, args)
                return cur.rowcount, cur.fetchall()
        with self._lock:
            try:
                cur = self._conn.cursor()
                with self._unsynced(cur, True):
                    rows = cur.execute(sql, args).fetchall()
                    return cur.rowcount, rows
            except sqlite3.Error as exc:
                raise self._storage_error(exc) from exc

    @contextmanager
    def _unsynced(self, cur: Cursor, unsynced: bool) -> Iterator[None]:
        """Commits inside skip the fsync when ``unsynced``: in WAL mode a
        NORMAL commit does, and the next durable commit's fsync covers it."""
        if not unsynced or self._synchronous == "NORMAL":
            yield
            return
        cur.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            cur.execute(f"PRAGMA synchronous = {self._synchronous}")

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[Cursor]:
        with self._lock:
            cur = self._guard(lambda: self._conn.cursor())
            with self._unsynced(cur, not durable):
                self._guard(lambda: cur.execute("BEGIN IMMEDIATE"))
                try:
                    yield cur
                except BaseException as exc:
                    if self._conn.in_transaction:
                        self._conn.rollback()
                    if isinstance(exc, sqlite3.Error):
                        raise self._storage_error(exc) from exc
                    raise
                self._guard(self._conn.commit)

    def transaction(self, durable: bool = True) -> AbstractContextManager[Cursor]:
        """A write transaction (``BEGIN IMMEDIATE``) on the saver's connection,
        under its lock: for other tables of the file (``cairn serve``'s), whose
        writes then take turns with the saver's in this process instead of
        waiting out SQLite's busy timeout. ``durable=False`` commits without
        waiting for the disk (the next durable commit covers it)."""
        return self._write(durable)

    def reading(self) -> AbstractContextManager[Cursor]:
        """A cursor on the saver's connection, under its lock (as ``transaction``)."""
        return self._read()

    @contextmanager
    def _read(self, about: str | None = None) -> Iterator[Cursor]:
        with self._lock:
            cur = self._guard(lambda: self._conn.cursor(), about)
            try:
                yield cur
            except sqlite3.Error as exc:  # a damaged page, text that is not UTF-8...
                raise self._storage_error(exc, about) from exc

    @contextmanager
    def _snapshot(self, about: str | None = None, writing: bool = False) -> Iterator[Cursor]:
        if writing:  # BEGIN IMMEDIATE: no other writer until it commits
            with self._write() as cur:
                yield cur
            return
        # Outside a transaction each SELECT sees the file as of its own start;
        # a read transaction (WAL) keeps the moment of its first read.
        with self._read(about) as cur:
            if self._conn.in_transaction:  # a user's connection, in their transaction
                yield cur
                return
            self._guard(lambda: cur.execute("BEGIN"), about)
            try:
                yield cur
            finally:
                if self._conn.in_transaction:
                    self._conn.rollback()  # it only read

    def _guard(self, action: Any, about: str | None = None) -> Any:
        try:
            return action()
        except sqlite3.Error as exc:
            raise self._storage_error(exc, about) from exc

    def _storage_error(self, exc: sqlite3.Error, about: str | None = None) -> StorageError:
        """What a user is told of an error of the connection or the file;
        ``about``: what was being read (a thread, a checkpoint)."""
        where = self.location if about is None else f"{self.location} (reading {about})"
        if isinstance(exc, sqlite3.ProgrammingError):
            if "closed" in str(exc):
                return StorageError(
                    f"{where}: the saver was closed; open a new SqliteSaver to use it again"
                )
            return StorageError(
                f"{where}: {exc}; open the connection with "
                "sqlite3.connect(path, check_same_thread=False) to share it between threads"
            )
        if isinstance(exc, sqlite3.OperationalError):
            if "locked" in str(exc) or "busy" in str(exc):
                return StorageError(
                    f"{where} stayed locked by another writer past the busy timeout; "
                    "retry, or raise busy_timeout"
                )
            if files.refused_write(exc):
                reason = files.why_unwritable(self._path) if self._path else None
                if reason is None and not self._owns:
                    reason = (
                        "the connection given to the saver may only read (opened with "
                        "mode=ro?); give it one opened for writing"
                    )
                if reason:
                    return StorageError(f"{where} cannot be written ({exc}): {reason}")
            if "decode" in str(exc):  # text stored as bytes that are not UTF-8
                return StorageError(
                    f"{where}: a row is damaged ({exc}); restore the file from a backup, or "
                    "delete the damaged thread with delete_thread"
                )
            return StorageError(f"{where}: {exc}")
        if isinstance(exc, sqlite3.DatabaseError) and files.damaged(exc):
            return StorageError(
                f"{where}: the SQLite file is damaged ({exc}); restore it from a backup (the "
                "sqlite3 command's .recover may save what is left)"
            )
        return StorageError(f"{where}: {exc}")

    def _after_delete(self) -> None:
        with self._lock:
            # execute() steps the pragma once, freeing one page; a script runs it out.
            self._conn.executescript("PRAGMA incremental_vacuum;")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (only if this saver opened it)."""
        super().close()
        if self._owns:
            with self._lock:
                self._conn.close()
