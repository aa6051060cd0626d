"""Checkpoint records to the byte fields every saver stores, and back.

A stored checkpoint is a few plain columns (ids, step, source, time) and
three blobs: ``writes`` (the step's updates, the log that states are folded
from), ``plan`` (next tasks and carried progress) and ``metadata`` (without
``source`` and ``step``, which are columns); plus, now and then, a
``snapshot`` of the full state.

Every blob starts with a format byte: 1 for msgpack, 2 for zlib-compressed
msgpack (used for blobs of 256 bytes and more when it saves a tenth). A reader
meeting another byte refuses the blob rather than guessing.
"""

from __future__ import annotations

import zlib

from dataclasses import dataclass
from typing import Any, Mapping

from cairn.checkpoint.base import Checkpoint, PendingWrite, TaskRecord, TaskWrite
from cairn.checkpoint.ids import created_at_of
from cairn.checkpoint.serde import Serializer
from cairn.errors import SerializationError

_PLAIN, _ZLIB = b"\x01", b"\x02"
_COMPRESS_FROM = 256


def pack(serde: Serializer, value: Any) -> bytes:
    """``value`` as a stored blob."""
    return _pack_raw(serde.dumps(value))


def _pack_raw(raw: bytes) -> bytes:
    if len(raw) >= _COMPRESS_FROM:
        small = zlib.compress(raw, 1)
        if len(small) * 10 < len(raw) * 9:
            return _ZLIB + small
    return _PLAIN + raw


def unpack(serde: Serializer, blob: bytes) -> Any:
    """The value a stored blob holds."""
    kind, body = blob[:1], blob[1:]
    if kind == _PLAIN:
        return serde.loads(body)
    if kind == _ZLIB:
        try:
            return serde.loads(zlib.decompress(body))
        except zlib.error as exc:
            raise SerializationError(f"a compressed blob is damaged: {exc}") from exc
    raise SerializationError(
        f"a stored blob has format byte {kind!r}, which this cairn does not know; it was "
        "written by a newer cairn or is damaged"
    )


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
    raw_writes = serde.dumps([[w.task_id, w.name, w.update, w.goto] for w in checkpoint.writes])
    writes = _pack_raw(raw_writes)
    plan = pack(
        serde, [[[t.id, t.name, t.arg, t.push] for t in checkpoint.tasks], dict(checkpoint.carry)]
    )
    metadata = {k: v for k, v in checkpoint.metadata.items() if k not in ("source", "step")}
    if metadata.get("parents") == {}:
        del metadata["parents"]
    # The snapshot rule weighs uncompressed sizes: that is the work of a fold.
    snapshot_bytes, log_bytes = parent if parent is not None else (0, 0)
    log_bytes += len(raw_writes)
    snapshot = None
    if parent is None or log_bytes >= ratio * snapshot_bytes:
        raw_snapshot = serde.dumps(dict(values))
        snapshot = _pack_raw(raw_snapshot)
        snapshot_bytes, log_bytes = len(raw_snapshot), 0
    return Row(
        thread_id=checkpoint.thread_id,
        ns=checkpoint.ns,
        id=checkpoint.id,
        parent_id=checkpoint.parent_id,
        step=checkpoint.step,
        source=checkpoint.source,
        created_at=checkpoint.created_at,
        metadata=pack(serde, metadata),
        writes=writes,
        plan=plan,
        snapshot=snapshot,
        snapshot_bytes=snapshot_bytes,
        log_bytes=log_bytes,
    )


def decode(serde: Serializer, row: Row, *, with_snapshot: bool = True) -> Checkpoint:
    """The checkpoint a row holds (with its snapshot when asked and stored)."""
    tasks, carry = unpack(serde, row.plan)
    metadata = decode_metadata(serde, row.metadata, row.source, row.step)
    return Checkpoint(
        thread_id=row.thread_id,
        ns=row.ns,
        id=row.id,
        parent_id=row.parent_id,
        step=row.step,
        source=row.source,
        created_at=created_at_of(row.id),
        metadata=metadata,
        writes=tuple(
            TaskWrite(task_id, name, update, tuple(goto))
            for task_id, name, update, goto in unpack(serde, row.writes)
        ),
        tasks=tuple(TaskRecord(tid, name, arg, push) for tid, name, arg, push in tasks),
        carry=carry,
        snapshot=unpack(serde, row.snapshot) if with_snapshot and row.snapshot is not None else None,
    )


def decode_metadata(serde: Serializer, blob: bytes, source: str, step: int) -> dict[str, Any]:
    """A checkpoint's metadata, with the fields kept in columns put back."""
    metadata = unpack(serde, blob)
    if not isinstance(metadata, dict):
        raise SerializationError(f"stored metadata is a {type(metadata).__name__}, not a dict")
    metadata.update(source=source, step=step, parents=metadata.get("parents", {}))
    return metadata


def encode_pending(serde: Serializer, write: PendingWrite) -> bytes:
    value = write.value
    if isinstance(value, TaskWrite):
        value = [value.task_id, value.name, value.update, value.goto]
    return pack(serde, value)


def decode_pending(serde: Serializer, task_id: str, kind: str, blob: bytes) -> PendingWrite:
    value = unpack(serde, blob)
    if kind == "result":
        tid, name, update, goto = value
        value = TaskWrite(tid, name, update, tuple(goto))
    return PendingWrite(task_id, kind, value)

