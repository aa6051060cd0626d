"""What the operator's commands show of a store, as plain records: a
thread with its status, a checkpoint with its writes and next tasks.

A thread's status, from what is stored (no application code needed):

- busy: a run holds the thread now;
- stuck: a run held it and died mid-step without letting go: its hold
  expired, or its process ran on this machine and is gone (the next run
  takes the thread over at once, as it does then, and resumes);
- error: the step after the head failed (its error is a pending write);
- interrupted: the step after the head paused in ``interrupt()``;
- idle: none of these.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import CheckpointRecord, PendingWrite, ThreadInfo
from cairn.checkpoint.sql import SqlSaver
from cairn.checkpoint.sql.rows import LeaseRow, leases
from cairn.errors import ConfigError
from cairn.runtime.leases import owner_is_gone

STATUSES = ("idle", "busy", "stuck", "interrupted", "error")


def status_of(saver: SqlSaver, thread_id: str, lease: LeaseRow | None) -> tuple[str, CheckpointRecord | None]:
    """A thread's status and its head checkpoint."""
    head = next(iter(saver.list_checkpoints(thread_id, "", limit=1)), None)
    if lease is not None:
        held = lease.seconds_left > 0 and not owner_is_gone(lease.owner)
        return ("busy" if held else "stuck"), head
    if head is None:
        return "idle", None
    kinds = {write.kind for write in saver.get_pending(thread_id, "", head.id)}
    if "error" in kinds:
        return "error", head
    if "interrupt" in kinds:
        return "interrupted", head
    return "idle", head


def thread_records(saver: SqlSaver, threads: Sequence[ThreadInfo]) -> list[dict[str, Any]]:
    """Each thread as a record with its status and its head's step and next tasks."""
    held = {lease.thread_id: lease for lease in leases(saver)}
    found = []
    for info in threads:
        status, head = status_of(saver, info.thread_id, held.get(info.thread_id))
        lease = held.get(info.thread_id)
        found.append(
            {
                "thread_id": info.thread_id,
                "status": status,
                "checkpoints": info.checkpoints,
                "created_at": info.created_at,
                "updated_at": info.updated_at,
                "head": head.id if head else None,
                "step": head.step if head else None,
                "next": [task.name for task in head.tasks] if head else [],
                "lease_seconds_left": round(lease.seconds_left, 3) if lease else None,
                "metadata": dict(info.metadata),
            }
        )
    return found


def checkpoint_record(
    checkpoint: CheckpointRecord, pending: Sequence[PendingWrite] = (), values: Any = None
) -> dict[str, Any]:
    """A checkpoint as the commands show it; ``values`` (the folded state)
    only when a graph was given."""
    record: dict[str, Any] = {
        "thread_id": checkpoint.thread_id,
        "checkpoint_id": checkpoint.id,
        "parent_id": checkpoint.parent_id,
        "step": checkpoint.step,
        "source": checkpoint.source,
        "created_at": checkpoint.created_at,
        "metadata": {k: v for k, v in checkpoint.metadata.items() if k not in ("step", "source")},
        "writes": [
            {"node": w.name, "task_id": w.task_id, "update": w.update} for w in checkpoint.writes
        ],
        "next": [task.name for task in checkpoint.tasks],
        "pending": [{"task_id": p.task_id, "kind": p.kind, "value": p.value} for p in pending],
    }
    if values is not None:
        record["values"] = values
    return record


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict, each value read as JSON when it is
    JSON, else as the string it is."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair!r} is not KEY=VALUE (e.g. {what} user=alice)")
        try:
            found[key] = json.loads(text)
        except ValueError:
            found[key] = text
    return found


def strict_json_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=JSON`` options as a dict; a value that is not JSON is refused."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r} is not KEY=JSON (e.g. --set plan='[\"a\", \"b\"]')")
        try:
            found[key] = json.loads(text)
        except ValueError as exc:
            raise ConfigError(
                f"--set {pair!r}: {text!r} is not JSON ({exc}); quote a string: {key}='\"{text}\"'"
            ) from None
    return found


def metadata_summary(metadata: Mapping[str, Any], width: int = 40) -> str:
    """A thread's metadata in a table cell."""
    text = ", ".join(f"{k}={v!r}" for k, v in metadata.items() if k not in ("step", "source", "parents", "writes", "graph_id", "run_id"))
    return text if len(text) <= width else text[: width - 1] + "…"
