"""The dump format: whole threads as stored, as lines of JSON.

``cairn export`` writes it and ``cairn import`` reads it back into any SQL
saver (SQLite or PostgreSQL), with the same checkpoint ids, parents,
metadata, snapshots and pending writes, so that the imported threads'
histories are the same. Format ``cairn-dump``, version 1:

- line 1, the header: ``{"format": "cairn-dump", "version": 1,
  "threads": [ids...], "created_at": ISO-8601}``;
- a ``{"type": "checkpoint", ...}`` line per checkpoint, oldest first in
  each thread: ``thread_id``, ``ns``, ``id``, ``parent_id``, ``step``,
  ``source``, ``created_at`` (for reading only: the id carries it), the
  blobs ``metadata``, ``writes``, ``plan`` and ``snapshot`` (null when none
  is stored there), and the counters ``snapshot_bytes`` and ``log_bytes``;
- a ``{"type": "pending", ...}`` line per pending write: ``thread_id``,
  ``ns``, ``checkpoint_id``, ``task_id``, ``kind`` and the blob ``value``;
- the last line, ``{"type": "end", "threads": N, "checkpoints": N,
  "pending": N}``, without which a dump is taken for cut short and refused.

A blob is base64 of the bytes cairn stores, unencrypted: a format byte (1
msgpack, 2 zlib-compressed msgpack, 3 zstd-compressed msgpack) then the
body (``cairn.checkpoint.codec``). Nothing is decoded on the way out or in,
so a dump needs none of the application's classes, and what comes back is
byte for byte what was stored. An encrypted store is exported only with its
key (``CAIRN_ENCRYPTION_KEY``), and the dump then holds the values in clear:
keep it as safe as the key; an import into an encrypted store seals every
blob with that store's key.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any, Iterable, Iterator

from cairn.checkpoint.codec import Row
from cairn.checkpoint.ids import created_at_of
from cairn.errors import StorageError

__all__ = ["FORMAT", "VERSION", "PendingRow", "ThreadRows", "read_dump", "write_dump"]

FORMAT = "cairn-dump"
VERSION = 1


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A stored pending write, its value an unencrypted blob."""

    thread_id: str
    ns: str
    checkpoint_id: str
    task_id: str
    kind: str
    value: bytes


@dataclass(slots=True)
class ThreadRows:
    """A thread as stored: its checkpoint rows, oldest first, and pending
    writes, every blob unencrypted."""

    thread_id: str
    checkpoints: list[Row] = field(default_factory=list)
    pending: list[PendingRow] = field(default_factory=list)


def _b64(blob: bytes | None) -> str | None:
    return None if blob is None else base64.b64encode(blob).decode("ascii")


def _checkpoint_line(row: Row) -> dict[str, Any]:
    return {
        "type": "checkpoint",
        "thread_id": row.thread_id,
        "ns": row.ns,
        "id": row.id,
        "parent_id": row.parent_id,
        "step": row.step,
        "source": row.source,
        "created_at": created_at_of(row.id),
        "metadata": _b64(row.metadata),
        "writes": _b64(row.writes),
        "plan": _b64(row.plan),
        "snapshot": _b64(row.snapshot),
        "snapshot_bytes": row.snapshot_bytes,
        "log_bytes": row.log_bytes,
    }


def _pending_line(row: PendingRow) -> dict[str, Any]:
    return {
        "type": "pending",
        "thread_id": row.thread_id,
        "ns": row.ns,
        "checkpoint_id": row.checkpoint_id,
        "task_id": row.task_id,
        "kind": row.kind,
        "value": _b64(row.value),
    }


def write_dump(threads: Iterable[ThreadRows], out: IO[str], thread_ids: list[str]) -> dict[str, int]:
    """Write the dump of ``threads`` (whose ids, in order, are ``thread_ids``)
    to ``out``; returns the counts of its end line."""
    header = {
        "format": FORMAT,
        "version": VERSION,
        "threads": thread_ids,
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    out.write(json.dumps(header) + "\n")
    counts = {"threads": 0, "checkpoints": 0, "pending": 0}
    for thread in threads:
        counts["threads"] += 1
        for row in thread.checkpoints:
            out.write(json.dumps(_checkpoint_line(row)) + "\n")
            counts["checkpoints"] += 1
        for pending in thread.pending:
            out.write(json.dumps(_pending_line(pending)) + "\n")
            counts["pending"] += 1
    out.write(json.dumps({"type": "end", **counts}) + "\n")
    return counts


class _Reader:
    """Parses a dump line by line, naming the line of anything wrong."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.line = 0

    def fail(self, what: str) -> StorageError:
        return StorageError(f"{self.name} line {self.line}: {what}; nothing was imported")

    def once(self, seen: set[tuple[str, ...]], key: tuple[str, ...], what: str) -> None:
        if key in seen:
            raise self.fail(f"{what} of thread {key[1]!r} appears a second time")
        seen.add(key)

    def parse(self, text: str) -> dict[str, Any]:
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise self.fail(f"not JSON ({exc})") from None
        if not isinstance(found, dict):
            raise self.fail(f"a JSON {type(found).__name__}, not an object")
        return found

    def field(self, record: dict[str, Any], name: str, kind: type, null: bool = False) -> Any:
        value = record.get(name)
        if value is None and null:
            return None
        if type(value) is not kind:
            raise self.fail(f"{name!r} must be a {kind.__name__}, got {value!r:.60}")
        return value

    def blob(self, record: dict[str, Any], name: str, null: bool = False) -> bytes | None:
        text = self.field(record, name, str, null)
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(f"{name!r} is not base64") from None

    def header(self, record: dict[str, Any]) -> None:
        if record.get("format") != FORMAT:
            raise self.fail(f"not a cairn dump (its first line has format {record.get('format')!r}, "
                            f"not {FORMAT!r}); make one with `cairn export`")
        version = record.get("version")
        if version != VERSION:
            raise self.fail(f"a cairn dump of format version {version!r}; this cairn reads version "
                            f"{VERSION}: import it with the cairn that wrote it, or a newer one")

    def checkpoint(self, record: dict[str, Any]) -> Row:
        f = self.field
        blob = self.blob
        return Row(
            thread_id=f(record, "thread_id", str),
            ns=f(record, "ns", str),
            id=f(record, "id", str),
            parent_id=f(record, "parent_id", str, null=True),
            step=f(record, "step", int),
            source=f(record, "source", str),
            metadata=blob(record, "metadata") or b"",
            writes=blob(record, "writes") or b"",
            plan=blob(record, "plan") or b"",
            snapshot=blob(record, "snapshot", null=True),
            snapshot_bytes=f(record, "snapshot_bytes", int),
            log_bytes=f(record, "log_bytes", int),
        )

    def pending(self, record: dict[str, Any]) -> PendingRow:
        f = self.field
        return PendingRow(
            f(record, "thread_id", str),
            f(record, "ns", str),
            f(record, "checkpoint_id", str),
            f(record, "task_id", str),
            f(record, "kind", str),
            self.blob(record, "value") or b"",
        )


def read_dump(lines: Iterable[str], name: str = "the dump") -> list[ThreadRows]:
    """The threads of a dump, checked whole (header, every line, the end
    line's counts) before anything is returned; raises StorageError naming
    the line of the first fault."""
    reader = _Reader(name)
    threads: dict[str, ThreadRows] = {}
    seen: set[tuple[str, ...]] = set()
    end: dict[str, Any] | None = None
    for reader.line, text in enumerate(_nonblank(lines), start=1):
        record = reader.parse(text)
        if reader.line == 1:
            reader.header(record)
            continue
        if end is not None:
            raise reader.fail("a line after the end line")
        kind = record.get("type")
        if kind == "checkpoint":
            row = reader.checkpoint(record)
            reader.once(seen, ("c", row.thread_id, row.ns, row.id), f"checkpoint {row.id!r}")
            threads.setdefault(row.thread_id, ThreadRows(row.thread_id)).checkpoints.append(row)
        elif kind == "pending":
            write = reader.pending(record)
            key = ("p", write.thread_id, write.ns, write.checkpoint_id, write.task_id, write.kind)
            reader.once(seen, key, f"the {write.kind} pending write of task {write.task_id!r}")
            threads.setdefault(write.thread_id, ThreadRows(write.thread_id)).pending.append(write)
        elif kind == "end":
            end = record
        else:
            raise reader.fail(f"unknown line type {kind!r}")
    if reader.line == 0:
        raise StorageError(f"{name} is empty: not a cairn dump; nothing was imported")
    counts = {
        "threads": len(threads),
        "checkpoints": sum(len(t.checkpoints) for t in threads.values()),
        "pending": sum(len(t.pending) for t in threads.values()),
    }
    if end is None:
        raise StorageError(f"{name} has no end line: it was cut short; nothing was imported")
    expected = {key: end.get(key) for key in counts}
    if expected != counts:
        raise StorageError(
            f"{name} says it holds {expected} but holds {counts}: it is damaged; nothing was imported"
        )
    return list(threads.values())


def _nonblank(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        if line.strip():
            yield line
