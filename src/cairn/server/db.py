"""``ServerDB``: the server's thread records and run queue, in the
checkpoint database (tables in ``tables.py``).

The statements are written once, with "?" placeholders and ``{now}`` for
the database's clock, and run through the backend's dialect; a backend
(``db_sqlite.SqliteServerDB``, ``db_postgres.PostgresServerDB``) supplies
the connection, its transactions, how it finds its tables, and how a claim
keeps two workers off one thread. Every method is a short transaction; the
async server calls them on ``ServerDB.executor`` (on SQLite the saver's
thread; on PostgreSQL a few threads, each on a connection of the pool),
never on the event loop.

A write the server acknowledges to a client (a run queued, a run over) is
committed durably; one that a later durable commit covers (claiming a run,
whose steps and end are committed durably after; a run's stream events,
before its end; renewing leases) is committed without waiting for the disk
(``_write(durable=False)``): the database's log is written in order, so a
crash loses such a write only with everything after it, and a run whose
claim is lost is still queued and runs again.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from cairn.checkpoint.sql.dialect import Dialect
from cairn.errors import RequestError, StorageError
from cairn.server.tables import (
    ASSISTANT_VERSIONS, ASSISTANTS, ASSISTANTS_INDEXES, ASSISTANTS_VERSION, CRONS, CRONS_INDEXES, CRONS_VERSION,
    EVENTS, INDEXES, META, RUNS, SCHEMA_VERSION, TABLES, THREADS,
)

__all__ = ["ACTIVE", "ServerDB", "now_iso"]

ACTIVE = ("pending", "running")
"""The statuses of a run that is not over."""

_JSON_COLUMNS = {"metadata", "kwargs", "state_values", "interrupts", "error", "outcome"}

_FREE_THREAD = (
    f"NOT EXISTS (SELECT 1 FROM {RUNS.name} o WHERE o.thread_id = r.thread_id AND ("
    "o.status = 'running' OR (o.status = 'pending' AND o.run_id < r.run_id)))"
)
"""A pending run ``r`` may start: its thread runs nothing and has no older pending run."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class ServerDB(ABC):
    """Thread records and runs, in one backend's database."""

    dialect: Dialect
    location: str

    def __init__(self, threads: int = 1) -> None:
        """``threads``: how many calls run at once (each on a connection of its own)."""
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="cairn-server-db")

    # -- what a backend supplies -----------------------------------------------------

    @abstractmethod
    def _write(self, durable: bool = True) -> AbstractContextManager[Any]:
        """A transaction that writes: a cursor, committed on exit (rolled back
        on error); ``durable=False``: the commit does not wait for the disk
        (a later durable commit covers it, see the module's docstring)."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for reading."""

    @abstractmethod
    def _has_tables(self, cur: Any) -> bool:
        """Whether the server's tables are there (in the transaction ``cur``)."""

    @abstractmethod
    def _take_thread(self, cur: Any, thread_id: str) -> bool:
        """Keep other workers off ``thread_id`` until the transaction ends;
        False when one holds it now."""

    @abstractmethod
    def _close_connection(self) -> None: ...

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self._close_connection()

    # -- plumbing --------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return self.dialect.sql(text)

    def _run(self, cur: Any, text: str, args: Sequence[Any] = ()) -> Any:
        cur.execute(self._sql(text), tuple(args))
        return cur

    def _row(self, cur: Any, text: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row ``text`` selects in the transaction ``cur``, by column name; None if none."""
        self._run(cur, text, args)
        names = [d[0] for d in cur.description]
        found = cur.fetchone()
        return None if found is None else dict(zip(names, found))

    def _rows(self, text: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._read() as cur:
            self._run(cur, text, args)
            names = [d[0] for d in cur.description]
            return [_decoded(dict(zip(names, row))) for row in cur.fetchall()]

    def _setup(self) -> None:
        with self._write() as cur:
            if self._has_tables(cur):
                found = self._run(cur, f"SELECT value FROM {META.name} WHERE key = 'schema_version'").fetchone()
                version = int(found[0]) if found else 0
                if version != SCHEMA_VERSION:
                    raise StorageError(
                        f"{self.location} holds cairn serve's tables of schema version {version}; "
                        f"this cairn reads version {SCHEMA_VERSION}: upgrade cairn, or use a new --db"
                    )
                self._setup_parts(cur)
                return
            for table in TABLES:
                cur.execute(self.dialect.create(table))
            for index in INDEXES:
                cur.execute(index)
            self._run(cur, f"INSERT INTO {META.name} (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._setup_parts(cur)

    def _setup_parts(self, cur: Any) -> None:
        """Make the tables added after the first schema (crons: ``cron_db.py``;
        assistants: ``assistant_db.py``) unless they are there, each part
        versioned apart: a database made by an older cairn gains them."""
        parts = (
            ("crons", CRONS_VERSION, (CRONS,), CRONS_INDEXES),
            ("assistants", ASSISTANTS_VERSION, (ASSISTANTS, ASSISTANT_VERSIONS), ASSISTANTS_INDEXES),
        )
        for name, version, tables, indexes in parts:
            key = f"{name}_schema_version"
            found = self._run(cur, f"SELECT value FROM {META.name} WHERE key = ?", (key,)).fetchone()
            if found is not None:
                if int(found[0]) != version:
                    raise StorageError(
                        f"{self.location} holds cairn serve's {name} tables of schema version {found[0]}; "
                        f"this cairn reads version {version}: upgrade cairn, or use a new --db"
                    )
                continue
            for table in tables:
                cur.execute(self.dialect.create(table))
            for index in indexes:
                cur.execute(index)
            self._run(cur, f"INSERT INTO {META.name} (key, value) VALUES (?, ?)", (key, str(version)))

    # -- threads ---------------------------------------------------------------------

    def get_thread(self, thread_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {THREADS.name} WHERE thread_id = ?", (thread_id,))
        return rows[0] if rows else None

    def has_thread(self, thread_id: str) -> bool:
        """Whether the thread is there (without reading its values)."""
        return bool(self._rows(f"SELECT 1 AS x FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)))

    def create_thread(self, thread_id: str, metadata: dict[str, Any], if_exists: str) -> dict[str, Any]:
        """The new thread; with ``if_exists="do_nothing"`` the existing one, else 409."""
        with self._write() as cur:
            if not self._insert_thread(cur, thread_id, metadata) and if_exists != "do_nothing":
                raise RequestError(f"thread {thread_id!r} already exists; pass if_exists='do_nothing' to get it", 409)
        found = self.get_thread(thread_id)
        assert found is not None
        return found

    def _insert_thread(self, cur: Any, thread_id: str, metadata: dict[str, Any]) -> bool:
        """Make the thread unless it is there: whether it was made."""
        now = now_iso()
        self._run(
            cur,
            f"INSERT INTO {THREADS.name} (thread_id, metadata, status, created_at, updated_at) "
            "VALUES (?, ?, 'idle', ?, ?) ON CONFLICT (thread_id) DO NOTHING",
            (thread_id, json.dumps(metadata), now, now),
        )
        return bool(cur.rowcount != 0)

    def _merge_metadata(self, cur: Any, thread_id: str, metadata: dict[str, Any]) -> None:
        row = self._run(cur, f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).fetchone()
        if row is not None:
            merged = json.dumps({**json.loads(row[0]), **metadata})
            self._run(cur, f"UPDATE {THREADS.name} SET metadata = ? WHERE thread_id = ?", (merged, thread_id))

    def patch_thread(self, thread_id: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
        """Merge ``metadata`` into the thread's; None if there is no such thread."""
        with self._write() as cur:
            row = self._run(cur, f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).fetchone()
            if row is None:
                return None
            self._run(
                cur,
                f"UPDATE {THREADS.name} SET metadata = ?, updated_at = ? WHERE thread_id = ?",
                (json.dumps({**json.loads(row[0]), **metadata}), now_iso(), thread_id),
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
        """Record a thread's status, (JSON text) values, interrupts and error
        after a run or an update; merge ``metadata`` into its own."""
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
                row = self._run(cur, f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).fetchone()
                if row is not None:
                    sets.append("metadata = ?")
                    args.append(json.dumps({**json.loads(row[0]), **metadata}))
            self._run(cur, f"UPDATE {THREADS.name} SET {', '.join(sets)} WHERE thread_id = ?", (*args, thread_id))

    def delete_thread(self, thread_id: str) -> bool:
        with self._write() as cur:
            self._run(
                cur,
                f"DELETE FROM {EVENTS.name} WHERE run_id IN (SELECT run_id FROM {RUNS.name} WHERE thread_id = ?)",
                (thread_id,),
            )
            self._run(cur, f"DELETE FROM {RUNS.name} WHERE thread_id = ?", (thread_id,))
            return bool(self._run(cur, f"DELETE FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).rowcount > 0)

    def list_threads(self, status: str | None, ids: Sequence[str] | None) -> list[dict[str, Any]]:
        """Threads, most recently updated first (filters on metadata are the caller's)."""
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if ids is not None:
            where.append(f"thread_id IN ({', '.join('?' * len(ids))})" if ids else "1 = 0")
            args.extend(ids)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT * FROM {THREADS.name}{clause} ORDER BY updated_at DESC, thread_id DESC", args)

    # -- runs ------------------------------------------------------------------------

    def get_run(self, run_id: str, thread_id: str | None = None) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {RUNS.name} WHERE run_id = ?", (run_id,))
        if not rows or (thread_id is not None and rows[0]["thread_id"] != thread_id):
            return None
        return rows[0]

    def _get_run(self, cur: Any, run_id: str) -> dict[str, Any]:
        """Run ``run_id``'s row, read in the transaction ``cur``."""
        found = self._row(cur, f"SELECT * FROM {RUNS.name} WHERE run_id = ?", (run_id,))
        assert found is not None, run_id
        return _decoded(found)

    def list_runs(self, thread_id: str, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        where, args = "thread_id = ?", [thread_id]
        if status is not None:
            where += " AND status = ?"
            args.append(status)
        return self._rows(
            f"SELECT * FROM {RUNS.name} WHERE {where} ORDER BY run_id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
        )

    def insert_run(self, run: dict[str, Any], strategy: str) -> list[str]:
        """Queue ``run`` on its thread under the multitask ``strategy``:
        "reject" refuses (409) when the thread has a run that is not over,
        "interrupt" and "rollback" ask those runs to stop (the ids returned),
        "enqueue" lets them finish first. The thread is busy from now on."""
        with self._write() as cur:
            return self._insert_run(cur, run, strategy)

    def queue_run(
        self,
        run: dict[str, Any],
        strategy: str,
        *,
        new_thread: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        owner: str | None = None,
        lease: float = 30.0,
    ) -> tuple[list[str], dict[str, Any] | None]:
        """``insert_run`` in one transaction with what goes with it: the
        thread made first when ``new_thread`` (its metadata) is given,
        ``metadata`` merged into the thread's, and, with ``owner``, the run
        claimed for ``owner`` (``lease`` seconds) if it may start now (see
        ``_FREE_THREAD``). The runs stopped, and the claimed run (None: it waits)."""
        thread_id = run["thread_id"]
        with self._write() as cur:
            if new_thread is not None:
                self._insert_thread(cur, thread_id, new_thread)
            stopped = self._insert_run(cur, run, strategy)
            if metadata:
                self._merge_metadata(cur, thread_id, metadata)
            claimed = owner is not None and self._claim(cur, run["run_id"], thread_id, owner, lease)
            return stopped, (self._get_run(cur, run["run_id"]) if claimed else None)

    def _insert_run(self, cur: Any, run: dict[str, Any], strategy: str) -> list[str]:
        """``insert_run`` inside the transaction ``cur`` (a cron's firing queues its run so)."""
        # The thread's row is written first: a second insert on the thread waits for this one.
        self._run(cur, f"UPDATE {THREADS.name} SET status = 'busy', updated_at = ? WHERE thread_id = ?", (now_iso(), run["thread_id"]))
        active = self._run(
            cur,
            f"SELECT run_id FROM {RUNS.name} WHERE thread_id = ? AND status IN ('pending', 'running')",
            (run["thread_id"],),
        ).fetchall()
        if active and strategy == "reject":
            raise RequestError(
                f"thread {run['thread_id']!r} is already running a run; wait for it to finish "
                "or choose another multitask_strategy (enqueue, interrupt, rollback)",
                409,
            )
        values = [json.dumps(run[n]) if n in ("kwargs", "metadata") else run.get(n) for n in RUNS.names]
        self._run(cur, f"INSERT INTO {RUNS.name} ({', '.join(RUNS.names)}) VALUES ({RUNS.marks})", values)
        # Stopped once this run is in: a stopped run that never started sees it wait, and leaves the thread busy.
        stopped = [row[0] for row in active] if strategy in ("interrupt", "rollback") else []
        for run_id in stopped:
            self._ask_cancel(cur, run_id, strategy)
        return stopped

    def _ask_cancel(self, cur: Any, run_id: str, action: str) -> None:
        # A run that never started stops here; a running one when its worker
        # next looks (between steps), and a queued one that ran before (its
        # process died) when a worker claims it: what it wrote may need undoing.
        stopped = self._run(
            cur,
            f"UPDATE {RUNS.name} SET status = 'interrupted', cancel = ?, updated_at = ? "
            "WHERE run_id = ? AND status = 'pending' AND attempts = 0",
            (action, now_iso(), run_id),
        ).rowcount
        self._run(
            cur,
            f"UPDATE {RUNS.name} SET cancel = ? WHERE run_id = ? AND status IN ('pending', 'running')",
            (action, run_id),
        )
        if stopped:  # its thread is no longer busy unless another run waits
            self._run(
                cur,
                f"UPDATE {THREADS.name} SET status = 'idle', updated_at = ? WHERE status = 'busy' AND thread_id = "
                f"(SELECT thread_id FROM {RUNS.name} WHERE run_id = ?) AND NOT EXISTS (SELECT 1 FROM {RUNS.name} "
                f"WHERE thread_id = {THREADS.name}.thread_id AND status IN ('pending', 'running'))",
                (now_iso(), run_id),
            )

    def cancel_run(self, run_id: str, action: str) -> str | None:
        """Ask run ``run_id`` to stop; its status then (None: no such run)."""
        with self._write() as cur:
            self._ask_cancel(cur, run_id, action)
            row = self._run(cur, f"SELECT status FROM {RUNS.name} WHERE run_id = ?", (run_id,)).fetchone()
            return None if row is None else str(row[0])

    def active_runs(self, thread_id: str | None, run_ids: Sequence[str] | None, status: str | None) -> list[str]:
        """The ids of the runs not over yet, of a thread, among ``run_ids``, of a status."""
        where, args = ["status IN ('pending', 'running')"], []
        if thread_id is not None:
            where.append("thread_id = ?")
            args.append(thread_id)
        if run_ids is not None:
            where.append(f"run_id IN ({', '.join('?' * len(run_ids))})" if run_ids else "1 = 0")
            args.extend(run_ids)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        return [r["run_id"] for r in self._rows(f"SELECT run_id FROM {RUNS.name} WHERE {' AND '.join(where)}", args)]

    def counts(self) -> dict[str, int]:
        """How many runs there are of each status, and how many threads."""
        found = {r["status"]: int(r["n"]) for r in self._rows(f"SELECT status, COUNT(*) AS n FROM {RUNS.name} GROUP BY status")}
        found["threads"] = int(self._rows(f"SELECT COUNT(*) AS n FROM {THREADS.name}")[0]["n"])
        return found

    def oldest_pending(self) -> str | None:
        """When the oldest pending run was made (ISO 8601 text), or None when none waits."""
        rows = self._rows(f"SELECT MIN(created_at) AS at FROM {RUNS.name} WHERE status = 'pending'")
        return rows[0]["at"] if rows else None

    def cancel_asked(self, run_id: str) -> str | None:
        rows = self._rows(f"SELECT cancel FROM {RUNS.name} WHERE run_id = ?", (run_id,))
        return rows[0]["cancel"] if rows else None

    def claim_next(self, owner: str, lease: float) -> tuple[dict[str, Any] | None, bool]:
        """Take the oldest pending run whose thread is free (see ``_FREE_THREAD``):
        it is running from now on, owned by ``owner`` for ``lease`` seconds.
        The run taken (None: none may start), and whether pending runs are left."""
        if not self._rows(f"SELECT 1 AS x FROM {RUNS.name} WHERE status = 'pending' LIMIT 1"):
            return None, False  # the common case when idle: no write transaction
        with self._write(durable=False) as cur:
            candidates = self._run(
                cur,
                f"SELECT r.run_id, r.thread_id FROM {RUNS.name} r WHERE r.status = 'pending' AND {_FREE_THREAD} "
                "ORDER BY r.run_id LIMIT 8",
            ).fetchall()
            for run_id, thread_id in candidates:
                if self._claim(cur, run_id, thread_id, owner, lease):
                    left = self._run(cur, f"SELECT 1 FROM {RUNS.name} WHERE status = 'pending' LIMIT 1").fetchone()
                    return self._get_run(cur, run_id), left is not None
        return None, True

    def _claim(self, cur: Any, run_id: str, thread_id: str, owner: str, lease: float) -> bool:
        """Claim pending run ``run_id`` for ``owner`` in the transaction ``cur``
        if it may start now; whether it was claimed."""
        if not self._take_thread(cur, thread_id):
            return False
        # Seen again now the thread is ours: another worker may have claimed first.
        still = self._run(
            cur,
            f"SELECT 1 FROM {RUNS.name} r WHERE r.run_id = ? AND r.status = 'pending' AND {_FREE_THREAD}",
            (run_id,),
        ).fetchone()
        if still is None:
            return False
        self._run(
            cur,
            f"UPDATE {RUNS.name} SET status = 'running', owner = ?, attempts = attempts + 1, "
            "lease_until = {now} + ?, updated_at = ? WHERE run_id = ?",
            (owner, lease, now_iso(), run_id),
        )
        return True

    def renew(self, owner: str, lease: float) -> None:
        with self._write(durable=False) as cur:
            self._run(
                cur,
                f"UPDATE {RUNS.name} SET lease_until = {{now}} + ? WHERE owner = ? AND status = 'running'",
                (lease, owner),
            )

    def finish_run(self, run_id: str, status: str, error: Any = None) -> None:
        with self._write() as cur:
            self._run(
                cur,
                f"UPDATE {RUNS.name} SET status = ?, error = ?, owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE run_id = ?",
                (status, None if error is None else json.dumps(error), now_iso(), run_id),
            )

    def add_events(self, events: Sequence[tuple[str, int, str, str]]) -> None:
        """Store stream events: (run id, number, event name, JSON text), not
        waiting for the disk (their run's end is committed durably after)."""
        with self._write(durable=False) as cur:
            self._insert_events(cur, events)

    def _insert_events(self, cur: Any, events: Sequence[tuple[str, int, str, str]]) -> None:
        if events:
            cur.executemany(self._sql(EVENTS.insert()), events)

    def drop_old_events(self, before: str) -> None:
        """Forget the events of runs over since before ``before`` (ISO time),
        and those stateless runs themselves."""
        over = "status NOT IN ('pending', 'running') AND updated_at < ?"
        with self._write() as cur:
            self._run(
                cur, f"DELETE FROM {EVENTS.name} WHERE run_id IN (SELECT run_id FROM {RUNS.name} WHERE {over})", (before,)
            )
            self._run(cur, f"DELETE FROM {RUNS.name} WHERE temporary = 1 AND {over}", (before,))

    def events_after(self, run_id: str, seq: int) -> list[tuple[str, str]]:
        """The run's stored events numbered above ``seq``, in order: (name, JSON text)."""
        rows = self._rows(f"SELECT event, data FROM {EVENTS.name} WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, seq))
        return [(r["event"], r["data"]) for r in rows]

    def end_run(
        self,
        run: dict[str, Any],
        status: str,
        outcome: str,
        ended: dict[str, str | None] | None,
        events: Sequence[tuple[str, int, str, str]] = (),
    ) -> None:
        """Record in one transaction that ``run`` is over: its status, its
        ``outcome`` (JSON text), and its thread's state ``ended`` ("status",
        "values", "interrupts", "error" as JSON text), the thread busy still
        if it has another run to go; and the stream ``events`` not stored yet
        (as ``add_events``). A stateless run's thread record goes (its run
        row stays, for waiters, until the sweep)."""
        error = (ended or {}).get("error")
        with self._write() as cur:
            self._insert_events(cur, events)
            self._run(
                cur,
                f"UPDATE {RUNS.name} SET status = ?, error = ?, outcome = ?, owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE run_id = ?",
                (status, error if status == "error" else None, outcome, now_iso(), run["run_id"]),
            )
            if run["temporary"]:
                self._run(cur, f"DELETE FROM {THREADS.name} WHERE thread_id = ?", (run["thread_id"],))
                return
            if ended is None:
                return
            busy = self._run(
                cur,
                f"SELECT 1 FROM {RUNS.name} WHERE thread_id = ? AND status IN ('pending', 'running') LIMIT 1",
                (run["thread_id"],),
            ).fetchone()
            sets, args = ["status = ?", "error = ?", "updated_at = ?"], ["busy" if busy else ended["status"], error, now_iso()]
            for column, key in (("state_values", "values"), ("interrupts", "interrupts")):
                if ended.get(key) is not None:
                    sets.append(f"{column} = ?")
                    args.append(ended[key])
            self._run(cur, f"UPDATE {THREADS.name} SET {', '.join(sets)} WHERE thread_id = ?", (*args, run["thread_id"]))

    def delete_run(self, run_id: str) -> bool:
        with self._write() as cur:
            self._run(cur, f"DELETE FROM {EVENTS.name} WHERE run_id = ?", (run_id,))
            return bool(self._run(cur, f"DELETE FROM {RUNS.name} WHERE run_id = ?", (run_id,)).rowcount > 0)

    def orphaned_runs(self, is_gone: Callable[[str], bool]) -> list[dict[str, Any]]:
        """Running runs whose owner is gone (``is_gone``) or whose lease expired."""
        rows = self._rows(
            f"SELECT run_id, owner, CASE WHEN lease_until < {{now}} THEN 1 ELSE 0 END AS expired "
            f"FROM {RUNS.name} WHERE status = 'running'"
        )
        return [r for r in rows if r["expired"] or (r["owner"] and is_gone(r["owner"]))]

    def requeue(self, run_id: str, owner: str, max_attempts: int) -> None:
        """Put a run whose ``owner`` is gone back in the queue (or end it as an
        error once it used ``max_attempts``)."""
        error = json.dumps({"error": "RunAttemptsExhausted", "message": f"the run's process died {max_attempts} times"})
        with self._write() as cur:
            self._run(
                cur,
                f"UPDATE {RUNS.name} SET status = CASE WHEN attempts >= ? THEN 'error' ELSE 'pending' END, "
                "error = CASE WHEN attempts >= ? THEN ? ELSE error END, "
                "owner = NULL, lease_until = NULL, updated_at = ? WHERE run_id = ? AND owner = ?",
                (max_attempts, max_attempts, error, now_iso(), run_id, owner),
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
