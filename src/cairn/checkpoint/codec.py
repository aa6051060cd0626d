"""Checkpoint records to the byte fields every saver stores, and back.

A stored checkpoint is a few plain columns (ids, step, source, time) and
three blobs: ``writes`` (the step's updates, the log that states are folded
from), ``plan`` (next tasks and carried progress) and ``metadata`` (without
``source`` and ``step``, which are columns); plus, now and then, a
``snapshot`` of the full state.

Every blob starts with a format byte, the stored format's version: 1 for
msgpack, 2 for zlib-compressed msgpack, 3 for zstd-compressed msgpack
(compression is used for blobs of 256 bytes and more when it saves a tenth),
0x11 for an encrypted blob holding one of those (``encryption``; 0x10 as
written before cairn bound a row's structure). A reader meeting another byte
refuses the blob rather than guessing.

Each blob is sealed with associated data, which an encrypting serializer
binds it to (``row_aad``, ``pending_aad``): a checkpoint's blobs to where
they are stored (thread, namespace, checkpoint id, field) and to the row's
structure, the columns that are not blobs but decide what is read: the
parent id, step, source and whether a snapshot is stored. A row whose parent
was re-pointed, whose step or source was edited or whose snapshot was
NULLed then fails to open, as does a blob moved to another row. Blobs sealed
with 0x10 were bound to their place only, and still open so.
"""

from __future__ import annotations

import zlib

from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable, Mapping, NoReturn, Sequence

import msgpack

from cairn.checkpoint.base import CheckpointRecord, PendingWrite, TaskRecord, TaskWrite
from cairn.checkpoint.ids import created_at_of
from cairn.checkpoint.registry import ClassNotLoadableError
from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.serializer import SEALED
from cairn.errors import SerializationError, StorageError

_PLAIN, _ZLIB, _ZSTD = b"\x01", b"\x02", b"\x03"
_COMPRESS_FROM = 256
MAX_BLOB = 1 << 30
"""The most a compressed blob may ever inflate to (1 GiB)."""
INFLATE_FLOOR = 16 << 20
INFLATE_RATIO = 32
"""A compressed blob may inflate to ``INFLATE_FLOOR`` bytes, or to
``INFLATE_RATIO`` times its own size when that is more (up to ``MAX_BLOB``).
cairn never writes one that inflates further (it stores such a value
uncompressed), so a crafted blob (a "bomb": 2 MB of zlib inflate to 2 GB,
64 kB of zstd to 1 GB) is refused after at most that much output, inflated
in bounded steps."""
_INFLATE_STEP = 1 << 20
"""How much is inflated at a time (the most inflated past the limit)."""
_ZSTD_WINDOW = 8 << 20
"""The largest zstd window a reader allocates (what levels up to 19 use)."""


def inflate_limit(compressed: int) -> int:
    """The most a compressed body of ``compressed`` bytes may inflate to."""
    return min(MAX_BLOB, max(INFLATE_FLOOR, INFLATE_RATIO * compressed))


_PLACE_SEALED = bytes([SEALED])
"""The first byte of a blob sealed with associated data ``where`` gives."""

Structure = tuple[str, str, str, "str | None", int, str, bool]
"""What a checkpoint's blobs are bound to: its thread, namespace, id, parent
id, step, source, and whether a snapshot is stored."""


def where(thread_id: str, ns: str, checkpoint_id: str, *field: str) -> bytes:
    """The associated data blobs were sealed with before a row's structure was
    bound (first byte 0x10): the row and field they belong to."""
    return "\x00".join((thread_id, ns, checkpoint_id, *field)).encode()


def row_aad(structure: Structure, field: str, blob: bytes | None = None) -> bytes:
    """The associated data of blob ``field`` of the checkpoint ``structure``
    describes; to open a stored ``blob``, the data it was sealed with."""
    if blob is not None and blob[:1] == _PLACE_SEALED:
        return where(*structure[:3], field)
    return msgpack.packb(("cairn/checkpoint", *structure, field))  # type: ignore[no-any-return]


def pending_aad(at: tuple[str, str, str], task_id: str, kind: str, blob: bytes | None = None) -> bytes:
    """The associated data of a pending write of checkpoint ``at`` (thread,
    namespace, id); to open a stored ``blob``, the data it was sealed with."""
    if blob is not None and blob[:1] == _PLACE_SEALED:
        return where(*at, task_id, kind)
    return msgpack.packb(("cairn/pending", *at, task_id, kind))  # type: ignore[no-any-return]


def structure_of(row: "Row") -> Structure:
    """What the blobs of ``row`` are bound to."""
    return (row.thread_id, row.ns, row.id, row.parent_id, row.step, row.source, row.snapshot is not None)


def pack(serde: Serializer, value: Any, aad: bytes) -> bytes:
    """``value`` as a stored blob."""
    return _pack_raw(serde, serde.dumps(value), aad)


def _pack_raw(serde: Serializer, raw: bytes, aad: bytes) -> bytes:
    framed = _PLAIN + raw
    if serde.compression is not None and len(raw) >= _COMPRESS_FROM:
        if serde.compression == "zstd":
            import zstandard

            kind, small = _ZSTD, zstandard.ZstdCompressor(level=3).compress(raw)
        else:
            kind, small = _ZLIB, zlib.compress(raw, 1)
        # Compressed when that saves a tenth, and reads back within the limit.
        if len(small) * 10 < len(raw) * 9 and len(raw) <= inflate_limit(len(small)):
            framed = kind + small
    return serde.seal(framed, aad)


def unpack(serde: Serializer, blob: bytes, aad: bytes) -> Any:
    """The value a stored blob holds."""
    return _unframe(serde, serde.open(blob, aad))


def _unpack_metadata(serde: Serializer, blob: bytes, aad: bytes) -> Any:
    """The metadata a stored blob holds. A format byte with nothing after it
    is empty metadata as cairn wrote it before its process-wide metadata
    cache was removed (commit eab4a47): read as {}, so that the threads it
    made unreadable read again."""
    framed = serde.open(blob, aad)
    return {} if framed == _PLAIN else _unframe(serde, framed)


def _unframe(serde: Serializer, framed: bytes) -> Any:
    kind, body = framed[:1], framed[1:]
    if kind == _PLAIN:
        return serde.loads(body)
    if kind in (_ZLIB, _ZSTD):
        return serde.loads(_inflate(kind, body))
    raise SerializationError(
        f"a stored blob has format byte {kind!r}, which this cairn does not know; it was "
        "written by a newer cairn or is damaged"
    )


def _inflate(kind: bytes, body: bytes) -> bytes:
    """A compressed body, inflated a step at a time and refused as soon as
    it passes ``inflate_limit``: memory never holds much more than that."""
    limit = inflate_limit(len(body))
    try:
        parts = _inflate_zlib(body, limit) if kind == _ZLIB else _inflate_zstd(body, limit)
    except SerializationError:
        raise
    except Exception as exc:  # zlib.error, zstandard.ZstdError, MemoryError
        raise SerializationError(f"a compressed blob is damaged: {exc!r}") from exc
    if parts is None:
        raise SerializationError(
            f"a compressed blob of {len(body)} bytes inflates past {limit} bytes; cairn never "
            "writes that (it stores such a value uncompressed): the data is damaged or was "
            "crafted (a decompression bomb), and it was not inflated further"
        )
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _inflate_zlib(body: bytes, limit: int) -> list[bytes] | None:
    """The inflated parts of a zlib body, or None past ``limit`` bytes."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size, rest = 0, body
    while True:
        part = inflater.decompress(rest, _INFLATE_STEP)
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
        rest = inflater.unconsumed_tail
        if inflater.eof or (not rest and len(part) < _INFLATE_STEP):
            break
    if not inflater.eof:
        raise SerializationError("a compressed blob is damaged: its zlib stream ends early")
    return parts


def _inflate_zstd(body: bytes, limit: int) -> list[bytes] | None:
    """The inflated parts of a zstd body, or None past ``limit`` bytes."""
    try:
        import zstandard
    except ImportError as exc:
        raise SerializationError(
            "a blob is zstd-compressed and the zstandard package is not installed: "
            "pip install 'cairn[zstd]'"
        ) from exc
    declared = zstandard.frame_content_size(body)
    step = declared + 1 if 0 <= declared < _INFLATE_STEP else _INFLATE_STEP
    reader = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW).stream_reader(body)
    parts: list[bytes] = []
    size = 0
    while True:
        part = reader.read(step)
        if not part:
            return parts
        size += len(part)
        if size > limit:
            return None
        parts.append(part)


def reseal(serde: Serializer, blob: bytes, old: bytes, new: bytes) -> bytes:
    """A blob moved to another row (a copied thread), bound to its new place."""
    return serde.seal(serde.open(blob, old), new) if serde.encrypted else blob


def move_pending(
    serde: Serializer, blob: bytes, at: tuple[str, str, str], thread_id: str, task_id: str, kind: str
) -> bytes:
    """A pending write's blob, copied to thread ``thread_id``."""
    if not serde.encrypted:
        return blob
    old = pending_aad(at, task_id, kind, blob)
    return reseal(serde, blob, old, pending_aad((thread_id, *at[1:]), task_id, kind))


def _dumps_naming_the_key(
    serde: Serializer, value: Any, items: Iterable[tuple[str, Any]]
) -> bytes:
    """``serde.dumps(value)``; on failure, says which part of it (a state key
    and the node that wrote it, a task's argument...) holds what cannot be
    stored. ``items``: (what the part is, its value), tried only on failure."""
    try:
        return serde.dumps(value)
    except SerializationError as exc:
        for what, item in items:
            try:
                serde.dumps(item)
            except SerializationError as inner:
                raise SerializationError(f"cannot store {what}: {inner}") from exc
        raise


def _write_items(writes: Iterable[TaskWrite]) -> Iterable[tuple[str, Any]]:
    for write in writes:
        for key, item in (write.update or {}).items():
            yield f"state key {key!r} (written by {write.name!r})", item
        for route in write.goto:
            if isinstance(route, (tuple, list)) and len(route) == 2:
                yield f"the argument {write.name!r} sends to node {route[0]!r}", route[1]


def _keyed_items(what: str, value: Any) -> Iterable[tuple[str, Any]]:
    """The items of a mapping, each named ``what`` with its key."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield what.format(key=key), item


def _task_items(tasks: Iterable[TaskRecord]) -> Iterable[tuple[str, Any]]:
    for task in tasks:
        if task.name == "__start__":
            yield from _keyed_items("state key {key!r} (in the run's input)", task.arg)
        elif task.push:
            yield f"the argument of a task of node {task.name!r} (a Send)", task.arg


def _pending_items(write: PendingWrite) -> Iterable[tuple[str, Any]]:
    if write.kind == "input":
        yield from _keyed_items("state key {key!r} (in the run's input)", write.value)
    elif write.kind == "interrupt":
        yield f"the value of an interrupt() in task {write.task_id!r}", write.value
    elif write.kind == "resume":
        yield f"an answer to an interrupt() (Command(resume=...)) of task {write.task_id!r}", write.value


def stored_bytes_remedy(exc: BaseException, thread_id: str) -> str:
    """What a saver tells to do about a row ``exc`` says cannot be loaded:
    nothing to the store when its bytes are intact (a class the serializer has
    not registered, or has changed since); else restore or delete it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClassNotLoadableError):
            return "Nothing in the store needs restoring or deleting"
        cause = cause.__cause__
    return (
        f"If no key, package or newer cairn is missing, the row is damaged: restore the "
        f"database from a backup, or delete the thread with delete_thread({thread_id!r})"
    )


@dataclass(slots=True)
class Row:
    """A checkpoint as stored: plain columns plus encoded blobs. Its fields
    are the columns of the SQL savers' checkpoint table, in their order
    (``sql/tables.py`` declares them; the creation time is the id's)."""

    thread_id: str
    ns: str
    id: str
    parent_id: str | None
    step: int
    source: str
    metadata: bytes
    writes: bytes
    plan: bytes
    snapshot: bytes | None
    snapshot_bytes: int
    log_bytes: int

    @property
    def size(self) -> int:
        """The bytes of its blobs: what storing it writes, but for the plain columns."""
        return len(self.metadata) + len(self.writes) + len(self.plan) + len(self.snapshot or b"")


_AT = {field.name: at for at, field in enumerate(fields(Row))}
"""Where each of a Row's fields is in a sequence of its values in order."""
_THREAD_ID, _NS, _ID, _PARENT_ID, _STEP, _SOURCE = (
    _AT[name] for name in ("thread_id", "ns", "id", "parent_id", "step", "source")
)
_METADATA, _WRITES, _PLAN, _SNAPSHOT = (_AT[name] for name in ("metadata", "writes", "plan", "snapshot"))


def encode(
    serde: Serializer,
    checkpoint: CheckpointRecord,
    values: Mapping[str, Any],
    parent: tuple[int, int] | None,
    ratio: float,
) -> Row:
    """Encode ``checkpoint``; ``parent`` is the parent row's (snapshot_bytes,
    log_bytes), or None for a root. Adds a snapshot when one is due."""
    # goto is stored as a list (a tuple would be a typed extension); decode
    # makes it a tuple again.
    raw_writes = _dumps_naming_the_key(
        serde,
        [[w.task_id, w.name, w.update, list(w.goto)] for w in checkpoint.writes],
        _write_items(checkpoint.writes),
    )
    # The snapshot rule weighs uncompressed sizes: that is the work of a fold.
    snapshot_bytes, log_bytes = parent if parent is not None else (0, 0)
    log_bytes += len(raw_writes)
    raw_snapshot = None
    if parent is None or log_bytes >= ratio * snapshot_bytes:
        raw_snapshot = _dumps_naming_the_key(
            serde, dict(values), _keyed_items("state key {key!r} (in the state)", values)
        )
        snapshot_bytes, log_bytes = len(raw_snapshot), 0
    # A serializer that does not seal (encrypt) never reads the associated data.
    sealed = type(serde).seal is not Serializer.seal
    structure: Structure = (
        checkpoint.thread_id,
        checkpoint.ns,
        checkpoint.id,
        checkpoint.parent_id,
        checkpoint.step,
        checkpoint.source,
        raw_snapshot is not None,
    )
    writes = _pack_raw(serde, raw_writes, row_aad(structure, "writes") if sealed else b"")
    raw_plan = _dumps_naming_the_key(
        serde,
        [[[t.id, t.name, t.arg, t.push] for t in checkpoint.tasks], dict(checkpoint.carry)],
        _task_items(checkpoint.tasks),
    )
    plan = _pack_raw(serde, raw_plan, row_aad(structure, "plan") if sealed else b"")
    packed_metadata = _pack_metadata(
        serde, checkpoint.metadata, row_aad(structure, "metadata") if sealed else b""
    )
    snapshot = None
    if raw_snapshot is not None:
        snapshot = _pack_raw(serde, raw_snapshot, row_aad(structure, "snapshot") if sealed else b"")
    return Row(
        thread_id=checkpoint.thread_id,
        ns=checkpoint.ns,
        id=checkpoint.id,
        parent_id=checkpoint.parent_id,
        step=checkpoint.step,
        source=checkpoint.source,
        metadata=packed_metadata,
        writes=writes,
        plan=plan,
        snapshot=snapshot,
        snapshot_bytes=snapshot_bytes,
        log_bytes=log_bytes,
    )


def _pack_metadata(serde: Serializer, metadata: Mapping[str, Any], aad: bytes) -> bytes:
    """A checkpoint's metadata blob: without ``source`` and ``step`` (columns),
    nor empty ``parents``. Packed afresh every time: a cache shared by the
    process once stored an empty blob for empty metadata."""
    kept = {k: v for k, v in metadata.items() if k not in ("source", "step")}
    if kept.get("parents") == {}:
        del kept["parents"]
    raw = _dumps_naming_the_key(serde, kept, _keyed_items("metadata key {key!r}", kept))
    return _pack_raw(serde, raw, aad)


def decode(serde: Serializer, row: Row, *, with_snapshot: bool = True) -> CheckpointRecord:
    """The checkpoint a row holds (with its snapshot when asked and stored).
    A row's ``snapshot`` may be b"": stored, and not read (``NO_SNAPSHOT``)."""
    return decode_columns(
        serde,
        row.thread_id,
        row.ns,
        row.id,
        row.parent_id,
        row.step,
        row.source,
        row.metadata,
        row.writes,
        row.plan,
        row.snapshot if with_snapshot or row.snapshot is None else b"",
    )


def decode_columns(
    serde: Serializer,
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    step: int,
    source: str,
    metadata: bytes,
    writes: bytes,
    plan: bytes,
    snapshot: bytes | None,
) -> CheckpointRecord:
    """``decode`` from a row's columns, for savers that read them straight
    from the database. ``snapshot``: None when none is stored, b"" when one
    is stored and was not read."""
    if type(serde).open is Serializer.open:
        # A serializer that does not encrypt never reads the associated data.
        meta_aad = writes_aad = plan_aad = snapshot_aad = b""
    else:
        structure = (thread_id, ns, checkpoint_id, parent_id, step, source, snapshot is not None)
        meta_aad = row_aad(structure, "metadata", metadata)
        writes_aad, plan_aad = row_aad(structure, "writes", writes), row_aad(structure, "plan", plan)
        snapshot_aad = row_aad(structure, "snapshot", snapshot) if snapshot else b""
    raw_plan = unpack(serde, plan, plan_aad)
    meta = _unpack_metadata(serde, metadata, meta_aad)
    raw_writes = unpack(serde, writes, writes_aad)
    return _assemble(
        thread_id,
        ns,
        checkpoint_id,
        parent_id,
        step,
        source,
        meta,
        raw_writes,
        raw_plan,
        unpack(serde, snapshot, snapshot_aad) if snapshot else None,
    )


def decode_many(serde: Serializer, rows: Sequence[Sequence[Any]]) -> list[CheckpointRecord] | None:
    """``decode`` of each row (with its snapshot, when stored), given as the
    values of a ``Row``'s fields in their order (as the SQL savers read
    them), with bytes blobs.

    The metadata, writes and plan blobs of all rows are each decoded in one
    call of the serializer (a history reads them all, and a call per blob
    costs more than the decoding). Returns None when that cannot be done (an
    encrypting or custom serializer) or fails: decode the rows one by one
    then, which says which row is damaged. (Plain sequences, not Rows: a Row
    per row made the garbage collector run more often.)"""
    kind = type(serde)
    if not rows or not (
        kind.open is Serializer.open
        and kind.loads is Serializer.loads
        and kind._loads is Serializer._loads
    ):
        return None
    checkpoints: list[CheckpointRecord] = []
    try:
        # In slices: the decoded lists a slice leaves behind are freed before
        # the next is loaded, rather than all kept until the end (which makes
        # the garbage collector run more often, over more).
        for start in range(0, len(rows), _SLICE):
            part = rows[start : start + _SLICE]
            metas = _loads_together(serde, [row[_METADATA] for row in part])
            writes = _loads_together(serde, [row[_WRITES] for row in part])
            plans = _loads_together(serde, [row[_PLAN] for row in part])
            checkpoints += [
                _assemble(
                    row[_THREAD_ID],
                    row[_NS],
                    row[_ID],
                    row[_PARENT_ID],
                    row[_STEP],
                    row[_SOURCE],
                    meta,
                    raw_writes,
                    raw_plan,
                    unpack(serde, row[_SNAPSHOT], b"") if row[_SNAPSHOT] is not None else None,
                )
                for row, meta, raw_writes, raw_plan in zip(part, metas, writes, plans)
            ]
    except Exception:  # noqa: BLE001 - the caller decodes row by row and reports the damage
        return None
    return checkpoints


_ROUTES = _SEQUENCES = (list, tuple)
"""The types a stored sequence may have (a list; a tuple, as older cairns stored routes)."""

_SLICE = 64
"""How many rows ``decode_many`` decodes together."""


def _loads_together(serde: Serializer, blobs: list[bytes]) -> list[Any]:
    """What each blob holds. The bodies of the plain ones (format 1: one
    msgpack value each) are joined under one msgpack array header and loaded
    in one call. A damaged body leaves the array short or bytes over, and the
    call fails (the caller then decodes the rows one by one)."""
    bodies = [blob[1:] for blob in blobs if blob[:1] == _PLAIN]
    count = len(bodies)
    if count < 16:
        header = bytes([0x90 | count])
    elif count < 1 << 16:
        header = b"\xdc" + count.to_bytes(2, "big")
    else:
        header = b"\xdd" + count.to_bytes(4, "big")
    values = serde.loads(header + b"".join(bodies))
    if type(values) is not list or len(values) != count:
        raise SerializationError("blobs decoded together gave another number of values")
    if count == len(blobs):
        return values
    plain = iter(values)
    return [next(plain) if blob[:1] == _PLAIN else unpack(serde, blob, b"") for blob in blobs]


def _assemble(
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    step: int,
    source: str,
    meta: Any,
    raw_writes: Any,
    raw_plan: Any,
    values: Any,
) -> CheckpointRecord:
    """The CheckpointRecord of a row, from its decoded blobs, refusing (with a
    SerializationError) columns and blobs of another shape than cairn writes."""
    if type(step) is not int or type(source) is not str or not (parent_id is None or type(parent_id) is str):
        _damaged_columns(parent_id, step, source)
    if type(raw_plan) is not list or len(raw_plan) != 2:
        _wrong_shape("plan", raw_plan, "a list of the next tasks and the carried progress")
    tasks, carry = raw_plan
    if type(tasks) is not list or type(carry) is not dict:
        _wrong_shape("plan", raw_plan, "a list of the next tasks and a map of carried progress")
    if type(raw_writes) is not list:
        _wrong_shape("writes", raw_writes, "a list of the step's writes")
    if values is not None and type(values) is not dict:
        _wrong_shape("snapshot", values, "a map of the state's keys to their values")
    if not isinstance(meta, dict):
        _not_a_dict(meta)
    meta["source"] = source  # what decode_metadata does, without keyword arguments
    meta["step"] = step
    if "parents" not in meta:
        meta["parents"] = {}
    # Loops, not comprehensions: cheaper for the one or two items of a step.
    writes = []
    for write in raw_writes:
        if type(write) is not list or len(write) != 4:
            _wrong_shape("writes", write, "a task's id, node, update and routes")
        task_id, name, update, goto = write
        if type(name) is not str or type(goto) not in _ROUTES or not (update is None or type(update) is dict):
            _wrong_shape("writes", write, "a task's id, node, update (a map) and routes (a list)")
        writes.append(TaskWrite(task_id, name, update, goto if type(goto) is tuple else tuple(goto)))
    records = []
    for task in tasks:
        if type(task) is not list or len(task) != 4 or type(task[1]) is not str:
            _wrong_shape("plan", task, "a task's id, node, argument and kind")
        task_id, name, arg, push = task
        records.append(TaskRecord(task_id, name, arg, push))
    try:
        created_at = created_at_of(checkpoint_id)
    except ValueError:
        _wrong_shape("id", checkpoint_id, "a UUID made when the checkpoint was")
    return CheckpointRecord(
        thread_id,
        ns,
        checkpoint_id,
        parent_id,
        step,
        source,
        created_at,
        meta,
        tuple(writes),
        tuple(records),
        carry,
        values,
    )


def decode_metadata(
    serde: Serializer,
    blob: bytes,
    source: str,
    step: int,
    at: tuple[str, str, str],
    *,
    parent_id: str | None,
    has_snapshot: bool,
) -> dict[str, Any]:
    """A checkpoint's metadata, with the fields kept in columns put back;
    ``at``: its (thread id, namespace, checkpoint id)."""
    aad = b""
    if type(serde).open is not Serializer.open:  # only an encrypting one reads it
        aad = row_aad((*at, parent_id, step, source, has_snapshot), "metadata", blob)
    metadata = _unpack_metadata(serde, blob, aad)
    if not isinstance(metadata, dict):
        _not_a_dict(metadata)
    if type(step) is not int or type(source) is not str:
        _damaged_columns(None, step, source)
    metadata.update(source=source, step=step, parents=metadata.get("parents", {}))
    return metadata


def read_metadata(
    serde: Serializer,
    blob: bytes,
    source: str,
    step: int,
    at: tuple[str, str, str],
    *,
    parent_id: str | None,
    has_snapshot: bool,
    location: str,
) -> dict[str, Any]:
    """:func:`decode_metadata`, a failure told as a :class:`StorageError`
    naming the checkpoint, its thread and ``location`` (where it is stored)."""
    try:
        return decode_metadata(serde, blob, source, step, at, parent_id=parent_id, has_snapshot=has_snapshot)
    except Exception as exc:
        thread_id, _, checkpoint_id = at
        raise StorageError(
            f"the metadata of checkpoint {checkpoint_id!r} of thread {thread_id!r} in "
            f"{location} cannot be read: {exc}. {stored_bytes_remedy(exc, thread_id)}"
        ) from exc


def _not_a_dict(metadata: Any) -> None:
    raise SerializationError(f"stored metadata is a {type(metadata).__name__}, not a dict")


def _wrong_shape(blob: str, value: Any, expected: str) -> NoReturn:
    raise SerializationError(
        f"the stored {blob} holds {_shown(value)} where cairn writes {expected}: the row is "
        "damaged or was crafted"
    )


def _damaged_columns(parent_id: Any, step: Any, source: Any) -> NoReturn:
    raise SerializationError(
        f"the row's columns hold parent id {_shown(parent_id)}, step {_shown(step)} and source "
        f"{_shown(source)}, where cairn writes a text, a whole number and a text: the row is "
        "damaged or was crafted"
    )


def _shown(value: Any) -> str:
    """A stored value in a message: its type, and its start."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value that cannot even be shown
        text = "..."
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def encode_pending(serde: Serializer, at: tuple[str, str, str], write: PendingWrite) -> bytes:
    """A pending write of checkpoint ``at`` (thread id, namespace, checkpoint id)."""
    value = write.value
    items: Iterable[tuple[str, Any]] = _pending_items(write)
    if isinstance(value, TaskWrite):
        items = _write_items([value])
        value = [value.task_id, value.name, value.update, list(value.goto)]
    raw = _dumps_naming_the_key(serde, value, items)
    return _pack_raw(serde, raw, pending_aad(at, write.task_id, write.kind))


_PENDING_SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "error": (lambda v: type(v) is str, "the error's text"),
    "handled": (
        lambda v: type(v) in _SEQUENCES and len(v) == 2 and all(type(x) is str for x in v),
        "the node that failed and its error",
    ),
    "interrupt": (
        lambda v: type(v) in _SEQUENCES
        and all(type(p) in _SEQUENCES and len(p) in (2, 3) and type(p[0]) is str for p in v),
        "a list of (interrupt id, value[, response schema]) entries",
    ),
    "resume": (lambda v: type(v) in _SEQUENCES, "a list of answers"),
}
"""What a pending write of each kind holds (``base.PendingWrite``), and how
it reads; a stored one of another shape is refused."""


def decode_pending(
    serde: Serializer, at: tuple[str, str, str], task_id: str, kind: str, blob: bytes
) -> PendingWrite:
    value = unpack(serde, blob, pending_aad(at, task_id, kind, blob))
    shape = _PENDING_SHAPES.get(kind)
    if shape is not None and not shape[0](value):
        _wrong_shape(f"{kind} pending write", value, shape[1])
    if kind in ("result", "update"):
        if (
            type(value) is not list
            or len(value) != 4
            or type(value[1]) is not str
            or not (value[2] is None or type(value[2]) is dict)
            or type(value[3]) not in _ROUTES
        ):
            _wrong_shape(f"{kind} pending write", value, "a task's id, node, update and routes")
        tid, name, update, goto = value
        value = TaskWrite(tid, name, update, tuple(goto))
    return PendingWrite(task_id, kind, value)



def move_row(serde: Serializer, row: Row, thread_id: str) -> Row:
    """``row`` copied to thread ``thread_id`` (its blobs bound to their new place)."""
    old = structure_of(row)
    new = (thread_id, *old[1:])

    def moved(blob: bytes, field: str) -> bytes:
        if not serde.encrypted:
            return blob
        return reseal(serde, blob, row_aad(old, field, blob), row_aad(new, field))

    return Row(
        thread_id=thread_id,
        ns=row.ns,
        id=row.id,
        parent_id=row.parent_id,
        step=row.step,
        source=row.source,
        metadata=moved(row.metadata, "metadata"),
        writes=moved(row.writes, "writes"),
        plan=moved(row.plan, "plan"),
        snapshot=moved(row.snapshot, "snapshot") if row.snapshot is not None else None,
        snapshot_bytes=row.snapshot_bytes,
        log_bytes=row.log_bytes,
    )
