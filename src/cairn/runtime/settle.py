"""What a finished super-step comes to, as a record: pure functions of where
the run stands and what its tasks did, no storage and no stream.

``settle`` turns a step's task results into ``Committed`` (every task ran:
the step's writes, in the order they apply, and the state after them) or
``Halted`` (a task failed or paused on an interrupt, or the step was stopped:
what to keep as pending writes of the step's checkpoint, and the error to
raise or the interrupts to pause on). The run loop (``loop.py``) does the I/O
either one asks for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Collection

from cairn.checkpoint.base import CheckpointRecord, PendingWrite, TaskWrite
from cairn.checkpoint.records import interrupt_entry
from cairn.errors import INVALID_RESUME, GraphInterrupt, InvalidUpdateError, NodeError
from cairn.graph.schema import StateSchema
from cairn.runtime.executor import TaskResult
from cairn.runtime.state import apply_updates, ordered_writes
from cairn.types import Interrupt


@dataclass
class Position:
    """Where a run stands: its checkpoint and state, and for the step about to
    run, the results it may reuse and the answers to its interrupts."""

    checkpoint: CheckpointRecord
    values: dict[str, Any]
    reuse: dict[str, TaskWrite] = field(default_factory=dict)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    failed: dict[str, NodeError] = field(default_factory=dict)
    """Tasks whose node failed in an earlier run and whose error handler is
    to run instead (its failure, the stored repr of the node's error)."""
    resuming: bool = False
    taken: int = 0
    prelude: list[TaskWrite] = field(default_factory=list)
    """``Command(resume=..., update=...)``'s updates, applied to ``values``
    before the step's tasks run and committed as the step's first writes."""


@dataclass(frozen=True, slots=True)
class Committed:
    """Every task of the step finished: its writes (``Command(update=)``'s
    first) and the state after them."""

    writes: list[TaskWrite]
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Halted:
    """The step did not finish: what to keep of it, and why it stopped."""

    pending: list[PendingWrite]
    """Pending writes of the step's checkpoint not stored yet."""
    interrupts: list[Interrupt]
    error: BaseException | None
    """What to raise: a task's failure, or what stopped the step (such as a
    KeyboardInterrupt). None: the step paused on ``interrupts``."""
    values: dict[str, Any] | None = None
    """When paused: the state with what the finished tasks wrote, as get_state shows it."""
    wrote: bool = False
    """When paused: whether the finished tasks wrote a key (so the state changed)."""


def settle(
    schema: StateSchema,
    position: Position,
    todo: Collection[object],
    results: list[TaskResult],
    stopped: BaseException | None,
    kept: Collection[str] = (),
) -> Committed | Halted:
    """What the step that ran ``todo`` from ``position`` comes to. ``kept``:
    tasks whose writes are already stored (they finished while others ran)."""
    done = {r.task.id: r.outcome for r in results if r.outcome is not None}
    if stopped is not None or len(done) < len(todo):
        return _halted(schema, position, results, stopped, kept)
    checkpoint = position.checkpoint
    only = results[0].outcome if len(results) == 1 and not position.reuse else None
    if only is not None and len(checkpoint.tasks) == 1:
        writes = [only.write]
    else:
        writes = ordered_writes(
            checkpoint.tasks, {**position.reuse, **{tid: o.write for tid, o in done.items()}}
        )
    if only is not None and only.fresh is not None:
        values = only.fresh
    else:
        try:
            values = apply_updates(schema, dict(position.values), [(w.name, w.update) for w in writes])
        except InvalidUpdateError as exc:  # the writes do not go together: the step fails
            return Halted(_unkept(results, kept), [], exc)
    if position.prelude:  # already in position.values
        writes = [*position.prelude, *writes]
    return Committed(writes, values)


def _halted(
    schema: StateSchema,
    position: Position,
    results: list[TaskResult],
    stopped: BaseException | None,
    kept: Collection[str],
) -> Halted:
    pending = _unkept(results, kept)
    interrupts = [
        i
        for r in results
        if isinstance(r.error, GraphInterrupt)
        for i in r.error.interrupts
        if isinstance(i, Interrupt)
    ]
    if stopped is not None:
        return Halted(pending, interrupts, stopped)
    failures = [r.error for r in results if r.error is not None and r.failed]
    if failures:
        # A task cancelled because another failed is not the cause.
        cause = next((e for e in failures if not isinstance(e, asyncio.CancelledError)), failures[0])
        return Halted(pending, interrupts, cause)
    finished = ordered_writes(
        position.checkpoint.tasks,
        {**position.reuse, **{r.task.id: r.outcome.write for r in results if r.outcome is not None}},
    )
    values = apply_updates(schema, dict(position.values), [(w.name, w.update) for w in finished])
    return Halted(pending, interrupts, None, values, any(schema.shows(w.update) for w in finished))


def _unkept(results: list[TaskResult], kept: Collection[str]) -> list[PendingWrite]:
    """The pending writes of the tasks not kept yet."""
    return [w for r in results if r.task.id not in kept for w in kept_writes(r)]


def kept_writes(result: TaskResult) -> list[PendingWrite]:
    """The pending writes that keep what became of one task: its write (and,
    if its error handler produced it, the node's failure), its interrupts,
    or its error."""
    task_id = result.task.id
    handled = result.handled or (result.outcome.handled if result.outcome is not None else None)
    writes = _handled(task_id, handled) if handled is not None else []
    if result.outcome is not None:
        writes.append(PendingWrite(task_id, "result", result.outcome.write))
    elif isinstance(result.error, GraphInterrupt):
        found = [i for i in result.error.interrupts if isinstance(i, Interrupt)]
        writes.append(PendingWrite(task_id, "interrupt", [interrupt_entry(i.id, i.value, i.response_schema) for i in found]))
    elif result.error is not None and handled is None:
        writes.append(PendingWrite(task_id, "error", repr(result.error)))
        refused = getattr(result.error, INVALID_RESUME, None)
        if refused is not None and refused[0] == task_id:  # the answer its schema refused is dropped
            writes.append(PendingWrite(task_id, "resume", refused[1]))
    return writes


def _handled(task_id: str, handled: NodeError) -> list[PendingWrite]:
    """What is kept of a node's failure its error handler took: the error
    (shown as the task's, as any failure is) and, for a resume to run the
    handler instead of the node, which node failed and how."""
    error = handled.error if isinstance(handled.error, str) else repr(handled.error)
    return [
        PendingWrite(task_id, "error", error),
        PendingWrite(task_id, "handled", [handled.node, error]),
    ]

