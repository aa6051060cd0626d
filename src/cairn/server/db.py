"""``ServerDB``: the server's thread records and run queue in SQLite, in the
checkpoint database's file (tables in ``tables.py``).

Every method is a short transaction on one connection behind a lock; the
async server calls them on ``ServerDB.executor`` (one thread), never on the
event loop. Several processes may share the file: writes are
``BEGIN IMMEDIATE`` transactions, a claim of a run included.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

from cairn.checkpoint.sqlite.dialect import SQLITE
from cairn.errors import RequestError, StorageError
from cairn.server.tables import INDEXES, META, RUNS, SCHEMA_VERSION, TABLES, THREADS

__all__ = ["ACTIVE", "ServerDB", "now_iso"]

ACTIVE = ("pending", "running")
"""The statuses of a run that is not over."""

_JSON_COLUMNS = {"metadata", "kwargs", "state_values", "interrupts", "error"}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class ServerDB:
    """Thread records and runs, in the SQLite file at ``path``."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        self.location = f"SQLite database {path!r}"
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._setup()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the server's tables in {self.location}: {exc}") from exc
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="cairn-server-db")

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        with self._lock:
            self._conn.close()

    # -- plumbing --------------------------------------------------------------------

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

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(SQLITE.sql(sql), args)
            names = [d[0] for d in cur.description]
            return [_decoded(dict(zip(names, row))) for row in cur.fetchall()]

    def _setup(self) -> None:
        with self._write() as cur:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (META.name,))
            if cur.fetchone() is not None:
                cur.execute(f"SELECT value FROM {META.name} WHERE key = 'schema_version'")
                found = cur.fetchone()
                version = int(found[0]) if found else 0
                if version != SCHEMA_VERSION:
                    raise StorageError(
                        f"{self.location} holds cairn serve's tables of schema version {version}; "
                        f"this cairn reads version {SCHEMA_VERSION}: upgrade cairn, or use a new --db"
                    )
                return
            for table in TABLES:
                cur.execute(SQLITE.create(table))
            for index in INDEXES:
                cur.execute(index)
            cur.execute(f"INSERT INTO {META.name} (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    # -- threads ---------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
        return rows[0] if rows else None

    def create_thread(self, thread_id: str, metadata: dict[str, Any], if_exists: str) -> dict[str, Any]:
        """The new thread; with ``if_exists="do_nothing"`` the existing one, else 409."""
        with self._write() as cur:
            cur.execute(f"SELECT 1 FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
            if cur.fetchone() is not None:
                if if_exists != "do_nothing":
                    raise RequestError(f"thread {thread_id!r} already exists; pass if_exists='do_nothing' to get it", 409)
            else:
                now = now_iso()
                cur.execute(
                    f"INSERT INTO {THREADS.name} (thread_id, metadata, status, created_at, updated_at) "
                    "VALUES (?, ?, 'idle', ?, ?)",
                    (thread_id, json.dumps(metadata), now, now),
                )
        found = self.get_thread(thread_id)
        assert found is not None
        return found

    def patch_thread(self, thread_id: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
        """Merge ``metadata`` into the thread's; None if there is no such thread."""
        with self._write() as cur:
            cur.execute(f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
            row = cur.fetchone()
            if row is None:
                return None
            merged = {**json.loads(row[0]), **metadata}
            cur.execute(
                f"UPDATE {THREADS.name} SET metadata = ?, updated_at = ? WHERE thread_id = ?",
                (json.dumps(merged), now_iso(), thread_id),
            )
        return self.get_thread(thread_id)

    def set_thread_state(
        self,
        thread_id: str,
        *,
        status: str | None = None,
        values: str | None = None,
        interrupts: str | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record a thread's status and (JSON text) values after a run or an update."""
        sets: list[str] = ["updated_at = ?"]
        args: list[str | None] = [now_iso()]
        for column, value in (("status", status), ("state_values", values), ("interrupts", interrupts)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if status is not None:
            sets.append("error = ?")
            args.append(error)
        with self._write() as cur:
            if metadata:
                cur.execute(f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
                row = cur.fetchone()
                if row is not None:
                    sets.append("metadata = ?")
                    args.append(json.dumps({**json.loads(row[0]), **metadata}))
            cur.execute(f"UPDATE {THREADS.name} SET {', '.join(sets)} WHERE thread_id = ?", (*args, thread_id))

    def delete_thread(self, thread_id: str) -> bool:
        with self._write() as cur:
            cur.execute(f"DELETE FROM {RUNS.name} WHERE thread_id = ?", (thread_id,))
            cur.execute(f"DELETE FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
            return cur.rowcount > 0

    def list_threads(self, status: str | None, ids: Sequence[str] | None) -> list[dict[str, Any]]:
        """Threads, most recently updated first (filters on metadata are the caller's)."""
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if ids is not None:
            where.append(f"thread_id IN ({', '.join('?' * len(ids))})")
            args.extend(ids)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT * FROM {THREADS.name}{clause} ORDER BY updated_at DESC, thread_id DESC", args)

    # -- runs ------------------------------------------------------------------------

    def get_run(self, run_id: str, thread_id: str | None = None) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {RUNS.name} WHERE run_id = ?", (run_id,))
        if not rows or (thread_id is not None and rows[0]["thread_id"] != thread_id):
            return None
        return rows[0]

    def list_runs(self, thread_id: str, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        where, args = "thread_id = ?", [thread_id]
        if status is not None:
            where += " AND status = ?"
            args.append(status)
        return self._rows(
            f"SELECT * FROM {RUNS.name} WHERE {where} ORDER BY run_id DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    def insert_run(self, run: dict[str, Any], strategy: str) -> list[str]:
        """Queue ``run`` on its thread under the multitask ``strategy``:
        "reject" refuses (409) when the thread has a run that is not over,
        "interrupt" and "rollback" ask those runs to stop (the ids returned),
        "enqueue" lets them finish first. The thread is busy from now on."""
        with self._write() as cur:
            cur.execute(
                f"SELECT run_id, status FROM {RUNS.name} WHERE thread_id = ? AND status IN ('pending', 'running')",
                (run["thread_id"],),
            )
            active = cur.fetchall()
            if active and strategy == "reject":
                raise RequestError(
                    f"thread {run['thread_id']!r} is already running a run; wait for it to finish "
                    "or choose another multitask_strategy (enqueue, interrupt, rollback)",
                    409,
                )
            stopped = []
            if active and strategy in ("interrupt", "rollback"):
                for run_id, _ in active:
                    self._ask_cancel(cur, run_id, strategy)
                    stopped.append(run_id)
            values = [run.get(name) for name in RUNS.names]
            for i, name in enumerate(RUNS.names):
                if name in ("kwargs", "metadata"):
                    values[i] = json.dumps(run[name])
            cur.execute(f"INSERT INTO {RUNS.name} ({', '.join(RUNS.names)}) VALUES ({RUNS.marks})", values)
            cur.execute(
                f"UPDATE {THREADS.name} SET status = 'busy', updated_at = ? WHERE thread_id = ?",
                (now_iso(), run["thread_id"]),
            )
            return stopped

    def _ask_cancel(self, cur: sqlite3.Cursor, run_id: str, action: str) -> None:
        # A run not started yet stops here; a running one when its worker
        # next looks (between steps).
        cur.execute(
            f"UPDATE {RUNS.name} SET status = 'interrupted', cancel = ?, updated_at = ? "
            "WHERE run_id = ? AND status = 'pending'",
            (action, now_iso(), run_id),
        )
        cur.execute(
            f"UPDATE {RUNS.name} SET cancel = ? WHERE run_id = ? AND status = 'running'",
            (action, run_id),
        )

    def cancel_run(self, run_id: str, action: str) -> str | None:
        """Ask run ``run_id`` to stop; its status then (None: no such run)."""
        with self._write() as cur:
            self._ask_cancel(cur, run_id, action)
            cur.execute(f"SELECT status FROM {RUNS.name} WHERE run_id = ?", (run_id,))
            row = cur.fetchone()
            return None if row is None else str(row[0])

    def cancel_asked(self, run_id: str) -> str | None:
        rows = self._rows(f"SELECT cancel FROM {RUNS.name} WHERE run_id = ?", (run_id,))
        return rows[0]["cancel"] if rows else None

    def claim_run(self, owner: str, lease: float) -> dict[str, Any] | None:
        """Take the oldest pending run whose thread runs nothing else and
        has no older pending run: it is running, owned by ``owner``."""
        with self._write() as cur:
            cur.execute(
                f"SELECT r.run_id FROM {RUNS.name} r WHERE r.status = 'pending' AND NOT EXISTS ("
                f"SELECT 1 FROM {RUNS.name} o WHERE o.thread_id = r.thread_id AND ("
                "o.status = 'running' OR (o.status = 'pending' AND o.run_id < r.run_id))) "
                "ORDER BY r.run_id LIMIT 1"
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                f"UPDATE {RUNS.name} SET status = 'running', owner = ?, attempts = attempts + 1, "
                f"lease_until = {SQLITE.now} + ?, updated_at = ? WHERE run_id = ?",
                (owner, lease, now_iso(), row[0]),
            )
        return self.get_run(row[0])

    def renew(self, owner: str, lease: float) -> None:
        with self._write() as cur:
            cur.execute(
                f"UPDATE {RUNS.name} SET lease_until = {SQLITE.now} + ? WHERE owner = ? AND status = 'running'",
                (lease, owner),
            )

    def finish_run(self, run_id: str, status: str, error: Any = None) -> None:
        with self._write() as cur:
            cur.execute(
                f"UPDATE {RUNS.name} SET status = ?, error = ?, owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE run_id = ?",
                (status, None if error is None else json.dumps(error), now_iso(), run_id),
            )

    def delete_run(self, run_id: str) -> bool:
        with self._write() as cur:
            cur.execute(f"DELETE FROM {RUNS.name} WHERE run_id = ?", (run_id,))
            return cur.rowcount > 0

    def orphaned_runs(self, is_gone: Callable[[str], bool]) -> list[dict[str, Any]]:
        """Running runs whose owner is gone (``is_gone``) or whose lease expired."""
        rows = self._rows(
            f"SELECT run_id, owner, lease_until < {SQLITE.now} AS expired FROM {RUNS.name} WHERE status = 'running'"
        )
        return [r for r in rows if r["expired"] or (r["owner"] and is_gone(r["owner"]))]

    def requeue(self, run_id: str, owner: str, max_attempts: int) -> None:
        """Put a run whose ``owner`` is gone back in the queue (or end it as an
        error once it used ``max_attempts``)."""
        with self._write() as cur:
            cur.execute(
                f"UPDATE {RUNS.name} SET status = CASE WHEN attempts >= ? THEN 'error' ELSE 'pending' END, "
                "error = CASE WHEN attempts >= ? THEN ? ELSE error END, "
                "owner = NULL, lease_until = NULL, updated_at = ? WHERE run_id = ? AND owner = ?",
                (
                    max_attempts,
                    max_attempts,
                    json.dumps({"error": "RunAttemptsExhausted", "message": f"the run's process died {max_attempts} times"}),
                    now_iso(),
                    run_id,
                    owner,
                ),
            )

    def thread_has_active_runs(self, thread_id: str) -> bool:
        return bool(
            self._rows(
                f"SELECT 1 AS x FROM {RUNS.name} WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1",
                (thread_id,),
            )
        )


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON_COLUMNS & row.keys():
        if row[name] is not None:
            row[name] = json.loads(row[name])
    return row
