"""Building ``StateSnapshot``s from stored checkpoints."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from cairn.checkpoint.base import (
    CheckpointRecord,
    PendingWrite,
    TaskRecord,
    TaskWrite,
    looping_link,
    parent_missing,
)
from cairn.checkpoint.records import interrupt_entries
from cairn.graph.constants import START
from cairn.graph.schema import StateSchema
from cairn.runtime.config import canonical
from cairn.runtime.state import apply_stored_step, fold
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
    counts: dict[str, int] | None = None  # of names written more than once
    for write in writes:
        update = dict(write.update) if write.update is not None else None
        name = write.name
        if name not in out:
            out[name] = update
            continue
        if counts is None:
            counts = {}
        counts[name] = count = counts.get(name, 1) + 1
        if count == 2:
            out[name] = [out[name], update]
        else:
            out[name].append(update)
    return out


def _path(task: TaskRecord, index: int) -> tuple[Any, ...]:
    if task.push and task.name != START:
        return ("__pregel_push", index)
    return ("__pregel_pull", task.name)


# A history builds a StateSnapshot and its PregelTasks for every checkpoint:
# ``tuple.__new__`` with the fields in order is what their NamedTuple
# ``__new__`` does, without its keyword handling in Python. The field lists
# are checked here, at import.
_make = tuple.__new__
if PregelTask._fields != ("id", "name", "path", "error", "interrupts", "state", "result") or (
    StateSnapshot._fields
    != ("values", "next", "config", "metadata", "created_at", "parent_config", "tasks", "interrupts")
):
    raise RuntimeError("build_snapshot's field order of PregelTask or StateSnapshot is out of date")

_NONE: dict[str, Any] = {}
"""An empty mapping for lookups only (never written to)."""


def build_snapshot(
    checkpoint: CheckpointRecord,
    values: dict[str, Any],
    pending: Sequence[PendingWrite],
    child: CheckpointRecord | None,
) -> StateSnapshot:
    """The snapshot of ``checkpoint``; ``child`` (its first child) supplies the
    results of tasks that already ran, so a past snapshot never changes.
    ``values`` becomes the snapshot's own: pass a dict nothing else holds."""
    # This runs for every checkpoint of a history, where only the head has
    # pending writes: the rest build little beyond the snapshot itself.
    results: dict[str, Any] = {}
    if child is not None:
        for write in child.writes:
            if write.task_id not in results:
                results[write.task_id] = write.update
    errors: Mapping[str, str] = _NONE
    interrupts: Mapping[str, tuple[Interrupt, ...]] = _NONE
    finished: set[str] | None = None
    if pending:
        errors, interrupts, finished = pending_outcomes(pending, results, child is None)
    tasks: list[PregelTask] = []
    names: list[str] = []  # of the tasks still due
    for i, task in enumerate(checkpoint.tasks):  # a loop: cheaper than comprehensions for a few
        result = results.get(task.id)
        tasks.append(
            _make(
                PregelTask,
                (
                    task.id,
                    task.name,
                    _path(task, i),
                    errors.get(task.id),
                    interrupts.get(task.id, ()),
                    None,
                    dict(result) if result is not None else None,
                ),
            )
        )
        if finished is None or task.id not in finished:
            names.append(task.name)
    metadata = dict(checkpoint.metadata)
    metadata["writes"] = writes_metadata(checkpoint.writes, checkpoint.source)
    thread_id, ns, parent_id = checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id
    # The configs are config.canonical's, written out: two per snapshot.
    return _make(
        StateSnapshot,
        (
            values,
            tuple(names),
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint.id}},
            metadata,
            checkpoint.created_at,
            (
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}}
                if parent_id
                else None
            ),
            tuple(tasks),
            tuple([i for t in tasks for i in t.interrupts]) if interrupts else (),
        ),
    )


def pending_outcomes(
    pending: Sequence[PendingWrite], results: dict[str, Any], head: bool
) -> tuple[dict[str, str], dict[str, tuple[Interrupt, ...]], set[str]]:
    """The errors, interrupts and finished tasks that a checkpoint's pending
    writes record; adds the results of finished tasks to ``results`` (they
    win over the child's, which are read first). The head shows only the
    interrupts still open; a past checkpoint every interrupt its tasks made."""
    errors: dict[str, str] = {}
    finished: set[str] = set()
    interrupts: dict[str, tuple[Interrupt, ...]] = {}
    for item in pending:
        if item.kind == "error":
            errors[item.task_id] = item.value
        elif item.kind == "result":
            results[item.task_id] = item.value.update
            finished.add(item.task_id)
        elif item.kind == "interrupt":
            interrupts[item.task_id] = tuple(
                Interrupt(value=v, id=i, response_schema=r) for i, v, r in interrupt_entries(item.value)
            )
    if head:
        for task_id in finished:  # answered, and finished since: no longer waiting
            interrupts.pop(task_id, None)
    return errors, interrupts, finished


class HistoryStates:
    """The state at each checkpoint of a history, from records listed newest
    first (as ``list_checkpoints`` gives them).

    A state is folded once: from the nearest stored snapshot, or from the
    state of its parent, which the fold of a newer child leaves behind. Each
    folded state is a dict of its own that later folds copy and never change.
    """

    def __init__(
        self,
        schema: StateSchema,
        records: Sequence[CheckpointRecord],
        outside: Callable[[str], Sequence[CheckpointRecord]] | None = None,
        where: str = "the checkpoint store",
    ) -> None:
        """``outside(id)``: the chain (``get_chain``) of a checkpoint the
        records do not hold (a page of a history reaches past its oldest
        record, a filtered page skips checkpoints), or None when the records
        hold every checkpoint of the thread. ``where``: the store the records
        come from, for errors about damaged records."""
        self.schema = schema
        self.by_id = {r.id: r for r in records}
        self.folded: dict[str, dict[str, Any]] = {}
        self.order = tuple(schema.channels)
        self.keyed = schema.kind != "root"
        self.outside = outside
        self.where = where

    def add(self, records: Sequence[CheckpointRecord]) -> None:
        """Records of the next (older) page of the history."""
        self.by_id.update((r.id, r) for r in records)

    def take(self, record: CheckpointRecord) -> dict[str, Any]:
        """The state at ``record``, in the schema's order, as a dict the caller
        owns. Taken newest first, the folded dict itself is handed over: no
        newer checkpoint needs it any more, and an older one never did (a
        checkpoint older than its parent would fold the parent again)."""
        values = self.folded.pop(record.id, None)
        if values is None:
            values = self._fold(record)
            self.folded.pop(record.id, None)
        return values if tuple(values) == self.order and self.keyed else self.schema.ordered(values)

    def _fold(self, record: CheckpointRecord) -> dict[str, Any]:
        folded, schema = self.folded, self.schema
        chain = []
        current = record
        seen: set[str] | None = None
        while current.id not in folded and current.snapshot is None:
            chain.append(current)
            parent = current.parent_id
            if parent is None:
                values = schema.initial()
                break
            if seen is None and not parent < current.id:
                # A parent that is not older (a clock ahead, or a loop): from
                # here on every link is checked against those seen.
                seen = {item.id for item in chain}
            if seen is not None:
                if parent in seen:
                    raise looping_link(current.thread_id, current.ns, current.id, parent, self.where)
                seen.add(parent)
            if parent not in self.by_id:
                # The records hold the whole thread, or the chain from the
                # store ends short: the parent row was deleted.
                found = self.outside(parent) if self.outside is not None else ()
                if not found:
                    raise parent_missing(current)
                values = folded[parent] = self._fold_chain(found)
                break
            current = self.by_id[parent]
        else:
            if current.id in folded:
                values = folded[current.id]
            else:
                # As ``state.fold``: a key a stored snapshot lacks holds its initial value.
                values = {**schema.initial(), **current.snapshot}  # type: ignore[dict-item]
                folded[current.id] = values
        for item in reversed(chain):
            values = apply_stored_step(schema, dict(values), item.writes)
            folded[item.id] = values
        return values


    def _fold_chain(self, chain: Sequence[CheckpointRecord]) -> dict[str, Any]:
        """The state at the last of ``chain``; on the way, the states at the
        records it passes (older checkpoints of a filtered page, which are
        then not folded again from chains of their own)."""
        values: dict[str, Any] = {}
        segment: list[CheckpointRecord] = []
        for index, record in enumerate(chain):
            segment.append(record)
            if index == len(chain) - 1 or (record.id in self.by_id and record.id not in self.folded):
                values = fold(self.schema, segment)
                if index < len(chain) - 1:
                    self.folded[record.id] = values
                    segment = [replace(record, snapshot=values)]
        return values


def matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` holds every key/value of the history ``filter``."""
    return not wanted or all(k in metadata and metadata[k] == v for k, v in wanted.items())
