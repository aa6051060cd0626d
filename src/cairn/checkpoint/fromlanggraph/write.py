"""Writing LangGraph's checkpoints into a cairn saver, through the same
record the checkpointer interface's ``put`` stores (the checkpoint dict
and metadata kept beside cairn's record, read back as given by ``get_tuple``)
and ``put_writes``: parent links, metadata, channel versions and pending
writes stay as they were. Beyond what ``put`` knows, the record also gets
the tasks due at the checkpoint (``due_tasks``: what ``get_state`` shows as
``next``, and what a run resuming there runs) and the writes of the step
that made it (``step_writes``), and its state leaves out LangGraph's internal channels (``__start__``,
``branch:to:...``, ``join:...``), which are no state keys in cairn.

Everything is read and decoded before anything is written, and a thread the
target holds already refuses the whole import. Threads are then written one
at a time, parents before children, each checkpoint with a new cairn id
(``cairn.checkpoint.fromlanggraph.renumber`` says why; LangGraph's id stays
in its metadata); a thread whose writing fails is removed again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from cairn.checkpoint.fromlanggraph.decode import Allowed
from cairn.checkpoint.fromlanggraph.renumber import in_order, renumbered
from cairn.checkpoint.fromlanggraph.source import LangGraphCheckpoint, LangGraphWrite
from cairn.checkpoint.records import CheckpointRecord, TaskRecord, TaskWrite
from cairn.checkpoint.tuples import KEPT_AS
from cairn.errors import ConfigError
from cairn.types import Send

__all__ = ["ImportedCounts", "due_tasks", "import_checkpoints", "internal", "record_of", "state_of", "step_writes"]


@dataclass(frozen=True)
class ImportedCounts:
    """What an import wrote."""

    threads: list[str]
    checkpoints: int
    pending: int


def _config(cp: LangGraphCheckpoint, checkpoint_id: str | None) -> dict[str, Any]:
    configurable = {"thread_id": cp.thread_id, "checkpoint_ns": cp.ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _by_task(writes: Iterable[LangGraphWrite]) -> dict[tuple[str, str], list[tuple[str, Any]]]:
    tasks: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for write in sorted(writes, key=lambda w: (w.task_path, w.task_id, w.idx)):
        tasks.setdefault((write.task_id, write.task_path), []).append((write.channel, write.value))
    return tasks


def import_checkpoints(saver: Any, checkpoints: Sequence[LangGraphCheckpoint], allowed: Allowed) -> ImportedCounts:
    """Write ``checkpoints`` (from ``read_sqlite``/``read_postgres``) into
    ``saver``; refuses, writing nothing, if a thread exists there already."""
    threads = {thread_id: renumbered(group) for thread_id, group in in_order(checkpoints).items()}
    for thread_id, group in threads.items():
        for ns in {cp.ns for cp in group}:
            if saver.load(thread_id, ns) is not None:
                raise ConfigError(
                    f"thread {thread_id!r} exists already in {saver.location}; nothing was imported: "
                    f"delete it first (cairn delete {thread_id}) or import into another database"
                )
    saver.serde.register(*allowed.used)
    pending = 0
    for thread_id, group in threads.items():
        try:
            pending += _write_thread(saver, group)
        except BaseException:
            saver.delete_thread(thread_id)
            raise
    return ImportedCounts(list(threads), len(checkpoints), pending)


def _write_thread(saver: Any, group: list[LangGraphCheckpoint]) -> int:
    pending = 0
    by_id = {cp.id: cp for cp in group}
    due: dict[str, tuple[TaskRecord, ...]] = {}
    for cp in group:
        parent = by_id.get(cp.parent_id) if cp.parent_id is not None else None
        due[cp.id] = due_tasks(cp, parent)
        ran = step_writes(parent, due[parent.id]) if parent is not None and cp.metadata.get("source") == "loop" else ()
        saver.save(record_of(cp, due[cp.id], ran), state_of(cp), snapshot=True)
        for (task_id, task_path), writes in _by_task(cp.writes).items():
            # Edges and sends taken are the next checkpoint's tasks, not writes.
            kept = [(channel, value) for channel, value in writes if channel in _NOT_DONE or not internal(channel)]
            if kept:
                saver.put_writes(_config(cp, cp.id), kept, task_id, task_path)
                pending += len(kept)
    return pending


def step_writes(parent: LangGraphCheckpoint, tasks: tuple[TaskRecord, ...]) -> tuple[TaskWrite, ...]:
    """What the tasks due at ``parent`` wrote, as the record of the step they
    made (cairn keeps a step's writes on the checkpoint it produced: what
    ``cairn history`` and a past checkpoint's tasks show)."""
    names = {task.id: task.name for task in tasks}
    done = []
    for (task_id, _), writes in _by_task(parent.writes).items():
        if task_id not in names or all(channel in _NOT_DONE for channel, _ in writes):
            continue  # failed, or paused and not answered
        update = {channel: value for channel, value in writes if not internal(channel)}
        goto = tuple(
            channel[len("branch:to:"):] if channel.startswith("branch:to:") else (value.node, value.arg)
            for channel, value in writes
            if channel.startswith("branch:to:") or (channel == "__pregel_tasks" and isinstance(value, Send))
        )
        done.append(TaskWrite(task_id, names[task_id], update, goto))
    return tuple(done)


_NOT_DONE = ("__error__", "__interrupt__", "__resume__")
"""Writes of a task that may not have finished: one that wrote nothing else
did not (an answered interrupt's task wrote its results beside them)."""


def record_of(
    cp: LangGraphCheckpoint, tasks: tuple[TaskRecord, ...], writes: tuple[TaskWrite, ...] = ()
) -> CheckpointRecord:
    """The record of a LangGraph checkpoint, as the checkpointer interface's
    ``put`` makes it (the checkpoint dict but its values and the metadata
    kept beside it, to be read back as given), with the tasks due at it and
    the writes of the step that made it."""
    meta = dict(cp.metadata)
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int):
        step = -1
    source = meta.get("source") if isinstance(meta.get("source"), str) else "update"
    given = {k: v for k, v in cp.checkpoint.items() if k != "channel_values"}
    return CheckpointRecord(
        cp.thread_id, cp.ns, cp.id, cp.parent_id, step, str(source), "",
        {**meta, "source": source, "step": step},
        writes=writes,
        tasks=tasks,
        carry={KEPT_AS: {"checkpoint": given, "metadata": meta}},
    )


def internal(channel: str) -> bool:
    """Whether a channel is one LangGraph keeps for itself (the input, edges'
    triggers, joins, sends), not a state key."""
    return channel.startswith(("__", "branch:", "join:"))


def state_of(cp: LangGraphCheckpoint) -> dict[str, Any]:
    """The state at a checkpoint: its channel values but LangGraph's own."""
    return {k: v for k, v in cp.checkpoint["channel_values"].items() if not internal(k)}


def _newer(version: Any, seen: Any) -> bool:
    if seen is None:
        return version is not None
    if type(version) is not type(seen):
        return str(version) > str(seen)
    return bool(version > seen)


def due_tasks(cp: LangGraphCheckpoint, parent: LangGraphCheckpoint | None) -> tuple[TaskRecord, ...]:
    """The tasks due at a checkpoint, as LangGraph finds them: a node whose
    edge channel (``branch:to:NODE``) holds a value written since the node last ran,
    the input (``__start__``) not yet read, and the sends the parent's tasks
    made. Ids are those of the tasks' writes at the checkpoint (so that
    pending writes and interrupts belong to them), else made from the
    checkpoint id and the task's name."""
    available = cp.checkpoint["channel_values"]
    versions = {k: v for k, v in (cp.checkpoint.get("channel_versions") or {}).items() if k in available}
    seen = cp.checkpoint.get("versions_seen") or {}
    ids = {path.rpartition(", ")[2]: task_id for (task_id, path) in _by_task(cp.writes)
           if path.startswith("~__pregel_pull")}
    tasks = []
    if "__start__" in versions and _newer(versions["__start__"], (seen.get("__start__") or {}).get("__start__")):
        arg = available["__start__"]
        tasks.append(TaskRecord(_task_id(cp, "__start__", ids), "__start__", arg, push=True))
    for channel in sorted(versions):
        if channel.startswith("branch:to:"):
            node = channel[len("branch:to:"):]
            if _newer(versions[channel], (seen.get(node) or {}).get(channel)):
                tasks.append(TaskRecord(_task_id(cp, node, ids), node))
    pushed = [task_id for (task_id, path) in sorted(_by_task(cp.writes), key=lambda k: k[1])
              if path.startswith("~__pregel_push")]  # in the order of the sends: their paths count up
    sends = [w.value for w in (parent.writes if parent is not None else ()) if w.channel == "__pregel_tasks"]
    for i, send in enumerate(sends):
        node, arg = getattr(send, "node", None), getattr(send, "arg", None)
        if isinstance(node, str):
            task_id = pushed[i] if len(pushed) == len(sends) else _task_id(cp, f"{node}:{i}", {})
            tasks.append(TaskRecord(task_id, node, arg, push=True))
    return tuple(tasks)


def _task_id(cp: LangGraphCheckpoint, name: str, ids: dict[str, str]) -> str:
    return ids.get(name) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"langgraph:{cp.thread_id}:{cp.ns}:{cp.id}:{name}"))
