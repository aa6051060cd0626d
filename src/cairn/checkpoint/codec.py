"""Checkpoint records to the byte fields every saver stores, and back.

A stored checkpoint is a few plain columns (ids, step, source, time) and
three blobs: ``writes`` (the step's updates, the log that states are folded
from), ``plan`` (next tasks and carried progress) and ``metadata``; plus,
now and then, a ``snapshot`` of the full state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import Checkpoint, PendingWrite, TaskRecord, TaskWrite
from cairn.checkpoint.serde import Serializer


@dataclass(frozen=True, slots=True)
class Row:
    """A checkpoint as stored: plain columns plus encoded blobs."""

    thread_id: str
    ns: str
    id: str
    parent_id: str | None
    step: int
    source: str
    created_at: str
    metadata: bytes
    writes: bytes
    plan: bytes
    snapshot: bytes | None
    snapshot_bytes: int
    log_bytes: int


def encode(
    serde: Serializer,
    checkpoint: Checkpoint,
    values: Mapping[str, Any],
    parent: tuple[int, int] | None,
    ratio: float,
) -> Row:
    """Encode ``checkpoint``; ``parent`` is the parent row's (snapshot_bytes,
    log_bytes), or None for a root. Adds a snapshot when one is due."""
    writes = serde.dumps([[w.task_id, w.name, w.update, w.goto] for w in checkpoint.writes])
    plan = serde.dumps(
        [[[t.id, t.name, t.arg, t.push] for t in checkpoint.tasks], dict(checkpoint.carry)]
    )
    snapshot_bytes, log_bytes = parent if parent is not None else (0, 0)
    log_bytes += len(writes)
    snapshot = None
    if parent is None or log_bytes >= ratio * snapshot_bytes:
        snapshot = serde.dumps(dict(values))
        snapshot_bytes, log_bytes = len(snapshot), 0
    return Row(
        thread_id=checkpoint.thread_id,
        ns=checkpoint.ns,
        id=checkpoint.id,
        parent_id=checkpoint.parent_id,
        step=checkpoint.step,
        source=checkpoint.source,
        created_at=checkpoint.created_at,
        metadata=serde.dumps(dict(checkpoint.metadata)),
        writes=writes,
        plan=plan,
        snapshot=snapshot,
        snapshot_bytes=snapshot_bytes,
        log_bytes=log_bytes,
    )


def decode(serde: Serializer, row: Row, *, with_snapshot: bool = True) -> Checkpoint:
    """The checkpoint a row holds (with its snapshot when asked and stored)."""
    tasks, carry = serde.loads(row.plan)
    return Checkpoint(
        thread_id=row.thread_id,
        ns=row.ns,
        id=row.id,
        parent_id=row.parent_id,
        step=row.step,
        source=row.source,
        created_at=row.created_at,
        metadata=serde.loads(row.metadata),
        writes=tuple(
            TaskWrite(task_id, name, update, tuple(goto))
            for task_id, name, update, goto in serde.loads(row.writes)
        ),
        tasks=tuple(TaskRecord(tid, name, arg, push) for tid, name, arg, push in tasks),
        carry=carry,
        snapshot=serde.loads(row.snapshot) if with_snapshot and row.snapshot is not None else None,
    )


def encode_pending(serde: Serializer, write: PendingWrite) -> bytes:
    value = write.value
    if isinstance(value, TaskWrite):
        value = [value.task_id, value.name, value.update, value.goto]
    return serde.dumps(value)


def decode_pending(serde: Serializer, task_id: str, kind: str, blob: bytes) -> PendingWrite:
    value = serde.loads(blob)
    if kind == "result":
        tid, name, update, goto = value
        value = TaskWrite(tid, name, update, tuple(goto))
    return PendingWrite(task_id, kind, value)


def decode_all(serde: Serializer, rows: Sequence[Row]) -> list[Checkpoint]:
    return [decode(serde, row) for row in rows]
