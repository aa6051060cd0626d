"""Building ``StateSnapshot``s from stored checkpoints."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from cairn.checkpoint.base import Checkpoint, PendingWrite, TaskRecord, TaskWrite
from cairn.graph.constants import START
from cairn.runtime.config import canonical
from cairn.types import Interrupt, PregelTask, StateSnapshot


def empty_snapshot(thread_id: str | None, ns: str, checkpoint_id: str | None) -> StateSnapshot:
    """What get_state shows for a thread or checkpoint that does not exist."""
    return StateSnapshot(
        values={},
        next=(),
        config=canonical(thread_id or "", ns, checkpoint_id),
        metadata=None,
        created_at=None,
        parent_config=None,
        tasks=(),
        interrupts=(),
    )


def writes_metadata(writes: Iterable[TaskWrite], source: str) -> dict[str, Any] | None:
    """``metadata["writes"]``: each node's update in the step that made the checkpoint."""
    if source == "input":
        return None
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for write in writes:
        update = dict(write.update) if write.update is not None else None
        counts[write.name] = counts.get(write.name, 0) + 1
        if counts[write.name] == 1:
            out[write.name] = update
        elif counts[write.name] == 2:
            out[write.name] = [out[write.name], update]
        else:
            out[write.name].append(update)
    return out


def _path(task: TaskRecord, index: int) -> tuple[Any, ...]:
    if task.push and task.name != START:
        return ("__pregel_push", index)
    return ("__pregel_pull", task.name)


def build_snapshot(
    checkpoint: Checkpoint,
    values: Mapping[str, Any],
    pending: Iterable[PendingWrite],
    child: Checkpoint | None,
) -> StateSnapshot:
    """The snapshot of ``checkpoint``; ``child`` (its first child) supplies the
    results of tasks that already ran, so a past snapshot never changes."""
    errors: dict[str, str] = {}
    results: dict[str, Any] = {}
    finished: set[str] = set()
    interrupts: dict[str, tuple[Interrupt, ...]] = {}
    for item in pending:
        if item.kind == "error":
            errors[item.task_id] = item.value
        elif item.kind == "result":
            results[item.task_id] = item.value.update
            finished.add(item.task_id)
        elif item.kind == "interrupt":
            interrupts[item.task_id] = tuple(Interrupt(value=v, id=i) for i, v in item.value)
    for task_id in finished:  # answered, and finished since: no longer waiting
        interrupts.pop(task_id, None)
    if child is not None:
        for write in child.writes:
            results.setdefault(write.task_id, write.update)
    tasks = tuple(
        PregelTask(
            id=task.id,
            name=task.name,
            path=_path(task, i),
            error=errors.get(task.id),
            interrupts=interrupts.get(task.id, ()),
            state=None,
            result=dict(results[task.id]) if results.get(task.id) is not None else None,
        )
        for i, task in enumerate(checkpoint.tasks)
    )
    metadata = dict(checkpoint.metadata)
    metadata["writes"] = writes_metadata(checkpoint.writes, checkpoint.source)
    return StateSnapshot(
        values=dict(values),
        next=tuple(task.name for task in checkpoint.tasks if task.id not in finished),
        config=canonical(checkpoint.thread_id, checkpoint.ns, checkpoint.id),
        metadata=metadata,
        created_at=checkpoint.created_at,
        parent_config=(
            canonical(checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id)
            if checkpoint.parent_id
            else None
        ),
        tasks=tasks,
        interrupts=tuple(i for t in tasks for i in t.interrupts),
    )


def matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` holds every key/value of the history ``filter``."""
    return not wanted or all(k in metadata and metadata[k] == v for k, v in wanted.items())
