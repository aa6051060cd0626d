"""What the SQL savers share: the tables, the statements and the logic of the
saver contract over them. A backend supplies a connection with transactions
(``_write`` / ``_read``) and its placeholder style; the statements here are
plain SQL that SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Protocol, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    ChainLink,
    Checkpoint,
    Lease,
    PendingWrite,
    PruneResult,
    StoreStats,
    ThreadInfo,
    already_stored,
    check_limit,
    check_prune_args,
    lease_lost,
    prunable,
)
from cairn.checkpoint.ids import created_at_of, id_floor
from cairn.checkpoint.serde import Serializer, default_serializer
from cairn.errors import ConfigError, StorageError

SCHEMA_VERSION = 2
"""1: checkpoints and pending writes; 2: leases (one writer per thread)."""

# created_at is not stored: checkpoint ids are UUIDv7 and carry their time.
_COLUMNS = (
    "thread_id, ns, id, parent_id, step, source, metadata, writes, plan, "
    "snapshot, snapshot_bytes, log_bytes"
)
_NO_SNAPSHOT = (
    "thread_id, ns, id, parent_id, step, source, metadata, writes, plan, "
    "NULL, snapshot_bytes, log_bytes"
)


def upgrade(
    cur: "Cursor", version: int, migrations: Mapping[int, Sequence[str]], location: str
) -> None:
    """Refuse tables of a newer cairn; bring older ones up to SCHEMA_VERSION."""
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{location} holds cairn tables of a newer cairn (schema version {version}; this "
            f"cairn reads up to {SCHEMA_VERSION}): upgrade cairn to use them"
        )
    for older in range(version, SCHEMA_VERSION):
        for statement in migrations[older]:
            cur.execute(statement)
    if version < SCHEMA_VERSION:
        cur.execute(
            f"UPDATE cairn_meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'"
        )


def _params(row: codec.Row) -> tuple[Any, ...]:
    """A row's values in the order of ``_COLUMNS``."""
    return (
        row.thread_id, row.ns, row.id, row.parent_id, row.step, row.source,
        row.metadata, row.writes, row.plan, row.snapshot, row.snapshot_bytes, row.log_bytes,
    )


class Cursor(Protocol):
    """The little of a DB-API cursor the shared logic uses."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...


class SqlSaver(BaseCheckpointSaver):
    """The saver contract over SQL tables ``cairn_checkpoints`` and ``cairn_pending``."""

    placeholder = "?"
    now = "0"
    """SQL for the database's clock in seconds since the epoch: leases use
    the database's clock, so processes on machines whose clocks differ agree."""
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
    def _read(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads (a consistent snapshot of the data)."""

    def _after_delete(self) -> None:
        """Called after rows were deleted; a backend may reclaim space here."""

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    # -- decoding ------------------------------------------------------------

    def _row(self, values: Sequence[Any]) -> codec.Row:
        fields: list[Any] = [bytes(v) if isinstance(v, memoryview) else v for v in values]
        fields.insert(6, created_at_of(fields[2]))
        return codec.Row(*fields)

    def _decode(self, values: Sequence[Any], with_snapshot: bool = True) -> Checkpoint:
        row = self._row(values)
        try:
            return codec.decode(self.serde, row, with_snapshot=with_snapshot)
        except Exception as exc:
            raise StorageError(
                f"checkpoint {row.id!r} of thread {row.thread_id!r} in {self.location} cannot be "
                f"read: {exc}. If no key or newer cairn is missing, the row is damaged: restore "
                f"the database from a backup, or delete the thread with "
                f"delete_thread({row.thread_id!r})"
            ) from exc

    # -- the contract ----------------------------------------------------------

    def put(
        self,
        checkpoint: Checkpoint,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Lease | None = None,
    ) -> None:
        with self._write() as cur:
            self._check(cur, lease)
            # The parent's counters are read in the same transaction: if another
            # process deleted the parent, this checkpoint becomes a root with a
            # snapshot instead of a link to nothing.
            parent = None
            if checkpoint.parent_id is not None:
                cur.execute(
                    self._sql(
                        "SELECT snapshot_bytes, log_bytes FROM cairn_checkpoints "
                        "WHERE thread_id = ? AND ns = ? AND id = ?"
                    ),
                    (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id),
                )
                found = cur.fetchone()
                parent = (int(found[0]), int(found[1])) if found else None
            row = codec.encode(self.serde, checkpoint, values, parent, self.snapshot_policy.ratio)
            cur.execute(
                self._sql(
                    f"INSERT INTO cairn_checkpoints ({_COLUMNS}) VALUES ({', '.join('?' * 12)}) "
                    "ON CONFLICT (thread_id, ns, id) DO NOTHING"
                ),
                _params(row),
            )
            if cur.rowcount != 1:
                raise already_stored(checkpoint, self.location)
            if checkpoint.parent_id is not None:
                cur.execute(
                    self._sql(
                        "DELETE FROM cairn_pending WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                    ),
                    (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id),
                )
            self._insert_pending(cur, row.thread_id, row.ns, row.id, pending)

    def put_pending(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[PendingWrite],
        lease: Lease | None = None,
    ) -> None:
        with self._write() as cur:
            self._check(cur, lease)
            self._insert_pending(cur, thread_id, ns, checkpoint_id, writes)

    def _insert_pending(
        self, cur: Cursor, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        for w in writes:
            blob = codec.encode_pending(self.serde, (thread_id, ns, checkpoint_id), w)
            params = (thread_id, ns, checkpoint_id, w.task_id, w.kind, blob)
            cur.execute(
                    self._sql(
                        "INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id, ns, checkpoint_id, task_id, kind) "
                        "DO UPDATE SET value = excluded.value"
                    ),
                    params,
                )

    # -- one writer per thread ---------------------------------------------------

    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        with self._write(durable=False) as cur:
            # Taken when free, expired, already ours or held by a dead owner;
            # a live hold of another owner is left as it is.
            cur.execute(
                self._sql(
                    "INSERT INTO cairn_leases (thread_id, owner, expires_at) "
                    f"VALUES (?, ?, {self.now} + ?) ON CONFLICT (thread_id) DO UPDATE "
                    "SET owner = excluded.owner, expires_at = excluded.expires_at "
                    "WHERE cairn_leases.owner = excluded.owner OR cairn_leases.owner = ? "
                    f"OR cairn_leases.expires_at < {self.now}"
                ),
                (lease.thread_id, lease.owner, lease.ttl, replacing or ""),
            )
            cur.execute(
                self._sql("SELECT owner FROM cairn_leases WHERE thread_id = ?"), (lease.thread_id,)
            )
            holder = str(cur.fetchone()[0])
        return None if holder == lease.owner else holder

    def renew(self, lease: Lease) -> bool:
        with self._write(durable=False) as cur:
            return self._renewed(cur, lease)

    def release(self, lease: Lease) -> None:
        with self._write(durable=False) as cur:
            cur.execute(
                self._sql("DELETE FROM cairn_leases WHERE thread_id = ? AND owner = ?"),
                (lease.thread_id, lease.owner),
            )

    def _renewed(self, cur: Cursor, lease: Lease) -> bool:
        cur.execute(
            self._sql(
                f"UPDATE cairn_leases SET expires_at = {self.now} + ? "
                "WHERE thread_id = ? AND owner = ?"
            ),
            (lease.ttl, lease.thread_id, lease.owner),
        )
        return bool(cur.rowcount == 1)

    def _check(self, cur: Cursor, lease: Lease | None) -> None:
        """Renew ``lease`` inside a write, or refuse the write."""
        if lease is not None and not self._renewed(cur, lease):
            raise lease_lost(lease)

    def get(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        with self._read() as cur:
            if checkpoint_id is None:
                cur.execute(
                    self._sql(
                        f"SELECT {_NO_SNAPSHOT} FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? "
                        "ORDER BY id DESC LIMIT 1"
                    ),
                    (thread_id, ns),
                )
            else:
                cur.execute(
                    self._sql(
                        f"SELECT {_NO_SNAPSHOT} FROM cairn_checkpoints "
                        "WHERE thread_id = ? AND ns = ? AND id = ?"
                    ),
                    (thread_id, ns, checkpoint_id),
                )
            found = cur.fetchone()
        return self._decode(found, with_snapshot=False) if found else None

    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[Checkpoint]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "WITH RECURSIVE chain(id, parent_id, done) AS ("
                    " SELECT id, parent_id, snapshot IS NOT NULL FROM cairn_checkpoints"
                    "  WHERE thread_id = ? AND ns = ? AND id = ?"
                    " UNION ALL"
                    " SELECT c.id, c.parent_id, c.snapshot IS NOT NULL FROM cairn_checkpoints c"
                    "  JOIN chain ON c.id = chain.parent_id"
                    "  WHERE c.thread_id = ? AND c.ns = ? AND NOT chain.done)"
                    f" SELECT {_COLUMNS} FROM cairn_checkpoints"
                    " WHERE thread_id = ? AND ns = ? AND id IN (SELECT id FROM chain) ORDER BY id"
                ),
                (thread_id, ns, checkpoint_id, thread_id, ns, thread_id, ns),
            )
            rows = cur.fetchall()
        return [self._decode(r) for r in rows]

    def list_checkpoints(
        self, thread_id: str, ns: str, *, before: str | None = None, limit: int | None = None
    ) -> Iterator[Checkpoint]:
        sql = f"SELECT {_COLUMNS} FROM cairn_checkpoints WHERE thread_id = ? AND ns = ?"
        params: list[Any] = [thread_id, ns]
        if before is not None:
            sql += " AND id < ?"
            params.append(before)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
        return (self._decode(r) for r in rows)

    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT task_id, kind, value FROM cairn_pending "
                    "WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                ),
                (thread_id, ns, checkpoint_id),
            )
            rows = cur.fetchall()
        try:
            at = (thread_id, ns, checkpoint_id)
            return [codec.decode_pending(self.serde, at, t, k, bytes(v)) for t, k, v in rows]
        except Exception as exc:
            raise StorageError(
                f"pending writes of checkpoint {checkpoint_id!r} of thread {thread_id!r} in "
                f"{self.location} cannot be read ({exc}); restore the database from a backup"
            ) from exc

    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> Checkpoint | None:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    f"SELECT {_NO_SNAPSHOT} FROM cairn_checkpoints "
                    "WHERE thread_id = ? AND ns = ? AND id > ? AND parent_id = ? ORDER BY id LIMIT 1"
                ),
                (thread_id, ns, checkpoint_id, checkpoint_id),
            )
            found = cur.fetchone()
        return self._decode(found, with_snapshot=False) if found else None

    # -- thread management -----------------------------------------------------

    def list_threads(
        self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[ThreadInfo]:
        check_limit(limit)
        if limit == 0:
            return []
        with self._read() as cur:
            # A thread's head is its newest top-level checkpoint (namespace "").
            cur.execute(
                "SELECT thread_id, COUNT(*), MIN(id), MAX(id), "
                "COALESCE(MAX(CASE WHEN ns = '' THEN id END), MAX(id)) "
                "FROM cairn_checkpoints GROUP BY thread_id ORDER BY MAX(id) DESC"
            )
            threads = cur.fetchall()
            found = []
            for thread_id, count, first_id, last_id, head_id in threads:
                cur.execute(
                    self._sql(
                        "SELECT metadata, source, step, ns FROM cairn_checkpoints "
                        "WHERE thread_id = ? AND id = ?"
                    ),
                    (thread_id, head_id),
                )
                blob, source, step, ns = cur.fetchone()
                try:
                    metadata = codec.decode_metadata(
                        self.serde, bytes(blob), source, step, (thread_id, ns, head_id)
                    )
                except Exception as exc:
                    raise StorageError(
                        f"the head checkpoint {head_id!r} of thread {thread_id!r} in "
                        f"{self.location} cannot be read ({exc}); restore the database from a "
                        f"backup, or delete the thread with delete_thread({thread_id!r})"
                    ) from exc
                if all(metadata.get(k) == v for k, v in (filter or {}).items()):
                    found.append(
                        ThreadInfo(
                            thread_id,
                            int(count),
                            created_at_of(first_id),
                            created_at_of(last_id),
                            metadata,
                        )
                    )
                    if limit is not None and len(found) >= limit:
                        break
        return found

    def delete_thread(self, thread_id: str) -> None:
        with self._write() as cur:
            cur.execute(self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ?"), (thread_id,))
            cur.execute(self._sql("DELETE FROM cairn_pending WHERE thread_id = ?"), (thread_id,))
        self._after_delete()

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._write() as cur:
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
            rest = _COLUMNS.split(", ", 1)[1]
            cur.execute(
                self._sql(
                    f"INSERT INTO cairn_checkpoints ({_COLUMNS}) SELECT CAST(? AS TEXT), {rest} "
                    "FROM cairn_checkpoints WHERE thread_id = ?"
                ),
                (target_thread_id, source_thread_id),
            )
            cur.execute(
                self._sql(
                    "INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
                    "SELECT CAST(? AS TEXT), ns, checkpoint_id, task_id, kind, value FROM cairn_pending "
                    "WHERE thread_id = ?"
                ),
                (target_thread_id, source_thread_id),
            )

    def _copy_sealed(self, cur: Cursor, source: str, target: str) -> None:
        cur.execute(
            self._sql(f"SELECT {_COLUMNS} FROM cairn_checkpoints WHERE thread_id = ?"), (source,)
        )
        for values in cur.fetchall():
            row = codec.move_row(self.serde, self._row(values), target)
            cur.execute(
                self._sql(f"INSERT INTO cairn_checkpoints ({_COLUMNS}) VALUES ({', '.join('?' * 12)})"),
                _params(row),
            )
        cur.execute(
            self._sql(
                "SELECT ns, checkpoint_id, task_id, kind, value FROM cairn_pending WHERE thread_id = ?"
            ),
            (source,),
        )
        for ns, checkpoint_id, task_id, kind, value in cur.fetchall():
            blob = codec.move_pending(
                self.serde, bytes(value), (source, ns, checkpoint_id), target, task_id, kind
            )
            cur.execute(
                self._sql(
                    "INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (target, ns, checkpoint_id, task_id, kind, blob),
            )

    def prune(
        self,
        *,
        keep_last: int | None = None,
        older_than: timedelta | None = None,
        thread_id: str | None = None,
    ) -> PruneResult:
        check_prune_args(keep_last, older_than)
        threads_deleted = checkpoints_deleted = 0
        with self._write() as cur:
            where, params = ("WHERE thread_id = ?", [thread_id]) if thread_id is not None else ("", [])
            if older_than is not None:
                cutoff = id_floor(datetime.now(timezone.utc) - older_than)
                cur.execute(
                    self._sql(
                        f"SELECT thread_id, COUNT(*) FROM cairn_checkpoints {where} "
                        "GROUP BY thread_id HAVING MAX(id) < ?"
                    ),
                    [*params, cutoff],
                )
                for stale, count in cur.fetchall():
                    cur.execute(self._sql("DELETE FROM cairn_checkpoints WHERE thread_id = ?"), (stale,))
                    cur.execute(self._sql("DELETE FROM cairn_pending WHERE thread_id = ?"), (stale,))
                    threads_deleted += 1
                    checkpoints_deleted += int(count)
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
                    spaces.setdefault((tid, ns), []).append(ChainLink(cid, parent_id, bool(has_snapshot)))
                for (tid, ns), links in spaces.items():
                    for cid in sorted(prunable(links, keep_last)):
                        cur.execute(
                            self._sql(
                                "DELETE FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?"
                            ),
                            (tid, ns, cid),
                        )
                        cur.execute(
                            self._sql(
                                "DELETE FROM cairn_pending "
                                "WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                            ),
                            (tid, ns, cid),
                        )
                        checkpoints_deleted += 1
        if checkpoints_deleted:
            self._after_delete()
        return PruneResult(threads_deleted, checkpoints_deleted)

    def stats(self) -> StoreStats:
        with self._read() as cur:
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
