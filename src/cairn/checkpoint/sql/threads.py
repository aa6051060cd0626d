"""Thread management over the SQL tables: list, delete, copy, prune, stats;
and what a SQL backend supplies (transactions, its dialect)."""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    ChainLink,
    PruneResult,
    StoreStats,
    ThreadInfo,
    check_limit,
    check_prune_args,
    check_still_readable,
    of_runs,
    prunable,
    run_id_set,
    split_filter,
)
from cairn.checkpoint.ids import created_at_of, id_floor
from cairn.checkpoint.serde import Serializer, default_serializer
from cairn.checkpoint.sql.dialect import Dialect
from cairn.checkpoint.sql.tables import (
    CHECKPOINTS,
    COLUMNS,
    PENDING,
    Cursor,
    checkpoint_row,
    checkpoint_values,
    pending_values,
)
from cairn.errors import ConfigError, StorageError

_COPY_CHECKPOINTS = (
    f"INSERT INTO cairn_checkpoints ({COLUMNS}) "
    f"SELECT {CHECKPOINTS.select({'thread_id': 'CAST(? AS TEXT)'})} "
    "FROM cairn_checkpoints WHERE thread_id = ?"
)
_COPY_PENDING = (
    f"INSERT INTO cairn_pending ({PENDING.select()}) "
    f"SELECT {PENDING.select({'thread_id': 'CAST(? AS TEXT)'})} "
    "FROM cairn_pending WHERE thread_id = ?"
)
"""A thread's rows copied to another thread (parameters: the target, the source)."""
_ADD_CHECKPOINT = CHECKPOINTS.insert(keep_existing=False)
_ADD_PENDING = PENDING.insert(keep_existing=False)
"""A row of an encrypted thread's copy, sealed anew (the target thread is empty)."""


class SqlThreads(BaseCheckpointSaver):
    """The part of the SQL savers that manages whole threads: list, delete,
    copy, prune and count; and what a backend supplies to every part."""

    dialect: Dialect
    """The backend's SQL: placeholders, clock, types, put and lease statements."""
    serde: Serializer
    location: str
    """Where the data lives, for error messages (a file path, a host and database)."""

    def __init__(self, serde: Serializer | None = None) -> None:
        self.serde = serde or default_serializer()

    # -- what a backend supplies ----------------------------------------------

    @abstractmethod
    def _write(self, durable: bool = True) -> AbstractContextManager[Cursor]:
        """A cursor inside a write transaction, committed on success. A write
        that need not survive a power loss (a lease: lost, the thread is just
        free) passes ``durable=False`` and skips the wait for the disk."""

    @abstractmethod
    def _snapshot(self, about: str | None = None, writing: bool = False) -> AbstractContextManager[Cursor]:
        """A cursor whose statements all see the data as of one moment, for
        reads that must agree with each other while other processes write
        (a thread's checkpoints and its pending writes, for an export or a
        copy); ``about`` as for ``_read``. ``writing``: in a write
        transaction (as ``_write``), committed on success."""

    @abstractmethod
    def _read(self, about: str | None = None) -> AbstractContextManager[Cursor]:
        """A cursor for reads (a consistent snapshot of the data); an error of
        the database while it is used is a StorageError naming ``about``
        (what is read: "thread 't1'", a checkpoint of it...)."""

    def _after_delete(self) -> None:
        """Called after rows were deleted; a backend may reclaim space here."""

    def _sql(self, sql: str) -> str:
        """``sql`` in the backend's dialect: its placeholders, its clock for ``{now}``."""
        return self.dialect.sql(sql)

    def namespaces(self, thread_id: str) -> list[str]:
        with self._read(f"the namespaces of thread {thread_id!r}") as cur:
            cur.execute(
                self._sql("SELECT DISTINCT ns FROM cairn_checkpoints WHERE thread_id = ?"),
                (thread_id,),
            )
            return sorted(row[0] for row in cur.fetchall())

    # -- thread management -----------------------------------------------------

    def list_threads(
        self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[ThreadInfo]:
        check_limit(limit)
        if limit == 0:
            return []
        # One statement: each thread's counts with its head's row. A thread's
        # head is its newest top-level checkpoint (namespace ""). The head's
        # ``source`` and ``step`` are columns, compared in SQL; with no other
        # filter key, LIMIT is too.
        columns, rest = split_filter(filter)
        where = "".join(f" AND c.{name} = ?" for name in columns)
        sql = (
            "SELECT g.thread_id, g.n, g.first_id, g.last_id, c.id, c.metadata, c.source, "
            "c.step, c.ns, c.parent_id, c.snapshot IS NOT NULL "
            "FROM (SELECT thread_id, COUNT(*) AS n, MIN(id) AS first_id, MAX(id) AS last_id, "
            "COALESCE(MAX(CASE WHEN ns = '' THEN id END), MAX(id)) AS head_id "
            "FROM cairn_checkpoints GROUP BY thread_id) g JOIN cairn_checkpoints c "
            f"ON c.thread_id = g.thread_id AND c.id = g.head_id{where} ORDER BY g.last_id DESC"
        )
        params: tuple[Any, ...] = tuple(columns.values())
        if limit is not None and not rest:
            sql, params = sql + " LIMIT ?", (*params, limit)
        with self._read("the list of threads") as cur:
            cur.execute(self._sql(sql), params)
            threads = cur.fetchall()
        found = []
        for thread_id, count, first_id, last_id, head_id, blob, source, step, ns, *links in threads:
            parent_id, has_snapshot = links
            try:
                metadata = codec.decode_metadata(
                    self.serde,
                    blob,
                    source,
                    step,
                    (thread_id, ns, head_id),
                    parent_id=parent_id,
                    has_snapshot=bool(has_snapshot),
                )
                if not all(metadata.get(k) == v for k, v in rest.items()):
                    continue
                # The ids' times: a damaged id is named here, not a bare ValueError.
                info = ThreadInfo(
                    thread_id, int(count), created_at_of(first_id), created_at_of(last_id), metadata
                )
            except Exception as exc:
                raise StorageError(
                    f"the head checkpoint {head_id!r} of thread {thread_id!r} in "
                    f"{self.location} cannot be read: {exc}. "
                    f"{codec.stored_bytes_remedy(exc, thread_id)}"
                ) from exc
            found.append(info)
            if limit is not None and len(found) >= limit:
                break
        return found

    def delete_thread(self, thread_id: str) -> None:
        with self._write() as cur:
            # The hold first: a run still writing the thread (in any process)
            # finds it lost at its next write and stores nothing, so the
            # thread stays deleted instead of coming back as an orphan step.
            cur.execute(self._sql("DELETE FROM cairn_leases WHERE thread_id = ?"), (thread_id,))
            cur.execute(self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ?"), (thread_id,))
            cur.execute(self._sql("DELETE FROM cairn_pending WHERE thread_id = ?"), (thread_id,))
        self._after_delete()

    def delete_runs(self, run_ids: Sequence[str], *, thread_id: str | None = None) -> int:
        wanted = run_id_set(run_ids)
        if not wanted:
            return 0
        if thread_id is not None:
            threads = [thread_id]
        else:  # every thread checked before any is written: a refusal deletes nothing
            with self._read("the list of threads") as cur:
                cur.execute("SELECT DISTINCT thread_id FROM cairn_checkpoints")
                every = sorted(str(row[0]) for row in cur.fetchall())
            threads = []
            for tid in every:
                with self._read(f"thread {tid!r}") as cur:
                    if self._runs_in(cur, tid, wanted):
                        threads.append(tid)
        deleted = 0
        for tid in threads:
            with self._write() as cur:  # found again, checked and deleted in one transaction
                doomed = self._runs_in(cur, tid, wanted)
                for ns, cid in doomed:
                    cur.execute(
                        self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?"),
                        (tid, ns, cid),
                    )
                    cur.execute(
                        self._sql(
                            "DELETE FROM cairn_pending WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                        ),
                        (tid, ns, cid),
                    )
            deleted += len(doomed)
        if deleted:
            self._after_delete()
        return deleted

    def _runs_in(
        self, cur: Cursor, thread_id: str, run_ids: frozenset[str]
    ) -> dict[tuple[str, str], str]:
        """The checkpoints of thread ``thread_id`` that runs ``run_ids``
        wrote ((namespace, id) -> run id), checked that deleting them leaves
        the others readable (``check_still_readable``)."""
        cur.execute(
            self._sql(
                "SELECT ns, id, source, step, metadata, parent_id, snapshot IS NOT NULL "
                "FROM cairn_checkpoints WHERE thread_id = ?"
            ),
            (thread_id,),
        )
        doomed: dict[tuple[str, str], str] = {}
        kept: list[tuple[str, ChainLink]] = []
        for ns, cid, source, step, blob, parent_id, has_snapshot in cur.fetchall():
            metadata = codec.read_metadata(
                self.serde,
                blob,
                source,
                step,
                (thread_id, ns, cid),
                parent_id=parent_id,
                has_snapshot=bool(has_snapshot),
                location=self.location,
            )
            if of_runs(metadata, run_ids):
                doomed[(ns, cid)] = str(metadata["run_id"])
            else:
                kept.append((ns, ChainLink(cid, parent_id, bool(has_snapshot))))
        for ns in sorted({ns for ns, _ in doomed}):
            check_still_readable(
                thread_id,
                ns,
                (link for space, link in kept if space == ns),
                {cid: run for (space, cid), run in doomed.items() if space == ns},
                self.location,
            )
        return doomed

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        # One snapshot: a step another process commits between copying the
        # checkpoints and the pending writes would leave the copy pending
        # writes of a checkpoint it lacks.
        with self._snapshot(f"thread {source_thread_id!r}", writing=True) as cur:
            for thread_id in (source_thread_id, target_thread_id):
                cur.execute(
                    self._sql("SELECT COUNT(*) FROM cairn_checkpoints WHERE thread_id = ?"),
                    (thread_id,),
                )
                count = cur.fetchone()[0]
                if thread_id == source_thread_id and not count:
                    raise ConfigError(
                        f"cannot copy thread {source_thread_id!r}: it has no checkpoints"
                    )
                if thread_id == target_thread_id and count:
                    raise ConfigError(
                        f"cannot copy to thread {target_thread_id!r}: it exists already; "
                        "delete it first or pick another id"
                    )
            if self.serde.encrypted:
                # Encrypted blobs are bound to their thread: each is sealed anew.
                self._copy_sealed(cur, source_thread_id, target_thread_id)
                return
            for copy in (_COPY_CHECKPOINTS, _COPY_PENDING):
                cur.execute(self._sql(copy), (target_thread_id, source_thread_id))

    def _copy_sealed(self, cur: Cursor, source: str, target: str) -> None:
        cur.execute(
            self._sql(f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE thread_id = ?"), (source,)
        )
        for values in cur.fetchall():
            row = codec.move_row(self.serde, checkpoint_row(values), target)
            cur.execute(self._sql(_ADD_CHECKPOINT), checkpoint_values(row))
        cur.execute(
            self._sql(
                "SELECT ns, checkpoint_id, task_id, kind, value FROM cairn_pending WHERE thread_id = ?"
            ),
            (source,),
        )
        for ns, checkpoint_id, task_id, kind, value in cur.fetchall():
            blob = codec.move_pending(
                self.serde, value, (source, ns, checkpoint_id), target, task_id, kind
            )
            cur.execute(
                self._sql(_ADD_PENDING),
                pending_values((target, ns, checkpoint_id), task_id, kind, blob),
            )

    def prune(
        self,
        *,
        keep_last: int | None = None,
        older_than: timedelta | None = None,
        thread_id: str | None = None,
        dry_run: bool = False,
    ) -> PruneResult:
        """As the contract's; ``dry_run=True`` counts what would go and deletes nothing."""
        check_prune_args(keep_last, older_than)
        with self._write() as cur:
            stale, links = self._doomed(cur, keep_last, older_than, thread_id)
            if not dry_run:
                for tid in stale:
                    cur.execute(self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ?"), (tid,))
                    cur.execute(self._sql("DELETE FROM cairn_pending WHERE thread_id = ?"), (tid,))
                for key in links:
                    cur.execute(
                        self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?"),
                        key,
                    )
                    cur.execute(
                        self._sql(
                            "DELETE FROM cairn_pending WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                        ),
                        key,
                    )
        deleted = sum(stale.values()) + len(links)
        if deleted and not dry_run:
            self._after_delete()
        return PruneResult(len(stale), deleted)

    def _doomed(
        self,
        cur: Cursor,
        keep_last: int | None,
        older_than: timedelta | None,
        thread_id: str | None,
    ) -> tuple[dict[str, int], list[tuple[str, str, str]]]:
        """What a prune deletes: whole threads (with their checkpoint counts),
        and the (thread, namespace, id) of checkpoints of the other threads."""
        where, params = ("WHERE thread_id = ?", [thread_id]) if thread_id is not None else ("", [])
        stale: dict[str, int] = {}
        if older_than is not None:
            cutoff = id_floor(datetime.now(timezone.utc) - older_than)
            # A thread a run holds is not idle, however old its last step: its
            # run is in a long node (or waits to store), and would come back.
            running = "thread_id NOT IN (SELECT thread_id FROM cairn_leases WHERE expires_at > {now})"
            cur.execute(
                self._sql(
                    f"SELECT thread_id, COUNT(*) FROM cairn_checkpoints "
                    f"{where + ' AND' if where else 'WHERE'} {running} "
                    "GROUP BY thread_id HAVING MAX(id) < ?"
                ),
                [*params, cutoff],
            )
            stale = {str(tid): int(count) for tid, count in cur.fetchall()}
        links: list[tuple[str, str, str]] = []
        if keep_last is not None:
            cur.execute(
                self._sql(
                    "SELECT thread_id, ns, id, parent_id, snapshot IS NOT NULL "
                    f"FROM cairn_checkpoints {where}"
                ),
                params,
            )
            spaces: dict[tuple[str, str], list[ChainLink]] = {}
            for tid, ns, cid, parent_id, has_snapshot in cur.fetchall():
                if tid not in stale:
                    spaces.setdefault((tid, ns), []).append(ChainLink(cid, parent_id, bool(has_snapshot)))
            for (tid, ns), chain in spaces.items():
                links += [(tid, ns, cid) for cid in sorted(prunable(chain, keep_last))]
        return stale, links

    def stats(self) -> StoreStats:
        with self._read("the store's statistics") as cur:
            cur.execute(
                "SELECT COUNT(DISTINCT thread_id), COUNT(*), COALESCE(SUM(LENGTH(writes)), 0), "
                "COALESCE(SUM(LENGTH(snapshot)), 0), "
                "COALESCE(SUM(LENGTH(plan) + LENGTH(metadata)), 0) FROM cairn_checkpoints"
            )
            threads, checkpoints, log, snapshots, other = cur.fetchone()
            cur.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(value)), 0) FROM cairn_pending")
            pending, pending_bytes = cur.fetchone()
        return StoreStats(
            threads=int(threads),
            checkpoints=int(checkpoints),
            pending_writes=int(pending),
            log_bytes=int(log),
            snapshot_bytes=int(snapshots),
            bytes=int(log) + int(snapshots) + int(other) + int(pending_bytes),
        )
