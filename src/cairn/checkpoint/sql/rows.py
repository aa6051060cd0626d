"""Whole threads as stored rows, out of a SQL saver and into another (the
dump format, ``cairn.checkpoint.dump``); and the leases of the threads
being run, for an operator's view of what is running or stuck.

Rows go out with their blobs opened (decrypted, never decoded) and come in
sealed by the receiving saver's serializer for their place, so a thread
moves between SQLite and PostgreSQL, and into or out of an encrypted store,
byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from cairn.checkpoint.codec import Row, pending_aad, row_aad, structure_of
from cairn.checkpoint.dump import PendingRow, ThreadRows
from cairn.checkpoint.sql.tables import (
    CHECKPOINTS,
    COLUMNS,
    PENDING,
    checkpoint_row,
    checkpoint_values,
    pending_values,
)
from cairn.checkpoint.sql.threads import SqlThreads
from cairn.errors import ConfigError, StorageError

__all__ = ["LeaseRow", "export_thread", "import_threads", "leases"]

_ADD_CHECKPOINT = CHECKPOINTS.insert(keep_existing=False)
_ADD_PENDING = PENDING.insert(keep_existing=False)


def export_thread(saver: SqlThreads, thread_id: str) -> ThreadRows:
    """Every checkpoint row (oldest first) and pending write of a thread,
    their blobs opened; raises ConfigError when it has no checkpoints."""
    # One snapshot: a step another process commits between the two reads
    # would leave pending writes of a checkpoint the dump lacks (and clear
    # some of the ones it holds).
    with saver._snapshot(f"thread {thread_id!r}") as cur:
        cur.execute(
            saver._sql(f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE thread_id = ? ORDER BY ns, id"),
            (thread_id,),
        )
        rows = [checkpoint_row(values) for values in cur.fetchall()]
        cur.execute(
            saver._sql(
                "SELECT ns, checkpoint_id, task_id, kind, value FROM cairn_pending "
                "WHERE thread_id = ? ORDER BY ns, checkpoint_id, task_id, kind"
            ),
            (thread_id,),
        )
        pending = cur.fetchall()
    if not rows:
        raise ConfigError(f"thread {thread_id!r} has no checkpoints in {saver.location}")
    thread = ThreadRows(thread_id)
    for row in rows:
        thread.checkpoints.append(_moved(saver, row, opening=True))
    for ns, checkpoint_id, task_id, kind, value in pending:
        aad = pending_aad((thread_id, ns, checkpoint_id), task_id, kind, bytes(value))
        blob = _open(saver, bytes(value), aad, thread_id)
        thread.pending.append(PendingRow(thread_id, ns, checkpoint_id, task_id, kind, blob))
    return thread


def import_threads(saver: SqlThreads, threads: Sequence[ThreadRows]) -> None:
    """Store ``threads`` as they were, all in one transaction; raises
    ConfigError, storing nothing, if one of them exists already."""
    with saver._write() as cur:
        for thread in threads:
            cur.execute(
                saver._sql("SELECT COUNT(*) FROM cairn_checkpoints WHERE thread_id = ?"),
                (thread.thread_id,),
            )
            if cur.fetchone()[0]:
                raise ConfigError(
                    f"thread {thread.thread_id!r} exists already in {saver.location}; nothing "
                    f"was imported: delete it first (cairn delete {thread.thread_id}) or import "
                    "into another database"
                )
        for thread in threads:
            for row in thread.checkpoints:
                cur.execute(saver._sql(_ADD_CHECKPOINT), checkpoint_values(_moved(saver, row, opening=False)))
            for write in thread.pending:
                at = (write.thread_id, write.ns, write.checkpoint_id)
                blob = saver.serde.seal(write.value, pending_aad(at, write.task_id, write.kind))
                cur.execute(saver._sql(_ADD_PENDING), pending_values(at, write.task_id, write.kind, blob))


def _moved(saver: SqlThreads, row: Row, *, opening: bool) -> Row:
    """``row`` with its blobs opened (on the way out) or sealed for its place
    and its structure (parent, step, source, snapshot stored or not)."""
    structure = structure_of(row)

    def moved(blob: bytes, name: str) -> bytes:
        if opening:
            return _open(saver, bytes(blob), row_aad(structure, name, bytes(blob)), row.thread_id)
        return saver.serde.seal(blob, row_aad(structure, name))

    return replace(
        row,
        metadata=moved(row.metadata, "metadata"),
        writes=moved(row.writes, "writes"),
        plan=moved(row.plan, "plan"),
        snapshot=moved(row.snapshot, "snapshot") if row.snapshot is not None else None,
    )


def _open(saver: SqlThreads, blob: bytes, aad: bytes, thread_id: str) -> bytes:
    try:
        return saver.serde.open(blob, aad)
    except Exception as exc:
        raise StorageError(
            f"thread {thread_id!r} in {saver.location} cannot be exported: {exc}"
        ) from exc


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """A thread held by a run: its holder and how long the hold has left
    (negative: it expired, and the run that held it never let go: it died)."""

    thread_id: str
    owner: str
    seconds_left: float


def leases(saver: SqlThreads) -> list[LeaseRow]:
    """Every hold on a thread, by the database's clock."""
    with saver._read() as cur:
        cur.execute(
            saver._sql("SELECT thread_id, owner, expires_at - {now} FROM cairn_leases ORDER BY thread_id")
        )
        return [LeaseRow(str(t), str(o), float(left)) for t, o, left in cur.fetchall()]
