"""The records a saver stores: a checkpoint, the tasks due at it, what
tasks wrote, and the writes of a step that did not complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

__all__ = [
    "CheckpointRecord",
    "KEPT",
    "PendingWrite",
    "PutItem",
    "TaskRecord",
    "TaskWrite",
    "interrupt_entry",
    "interrupt_entries",
]


@dataclass(slots=True)
class TaskRecord:
    """A task due to run at a checkpoint.

    The records of this module (tasks, writes, checkpoints) are never changed
    once made: ``dataclasses.replace`` makes an edited copy. They are not
    frozen only because a frozen dataclass is several times slower to build,
    and the runtime builds a few per step.

    A pull task reads the state; a push task (``push=True``) runs with ``arg``
    as its input instead: a ``Send``'s argument, or the run's input for the
    ``__start__`` task.
    """

    id: str
    name: str
    arg: Any = None
    push: bool = False


@dataclass(slots=True)
class TaskWrite:
    """What one finished task produced: its update and where it routes next.

    ``goto`` holds node names and ``(node, arg)`` pairs for sends.
    """

    task_id: str
    name: str
    update: Mapping[str, Any] | None
    goto: tuple[Any, ...] = ()


@dataclass(slots=True)
class PendingWrite:
    """Left by a task of a step that did not complete, against the step's checkpoint.

    When the step's checkpoint is stored, the pending writes of its parent
    are cleared but for the ``KEPT`` kinds: a past snapshot shows its tasks'
    errors and interrupts, as LangGraph's does.

    ``kind`` is "result" (value: a TaskWrite), "error" (value: the exception's
    repr), "interrupt" (value: a list of ``[interrupt id, value]`` entries,
    with the interrupt's response schema third when it has one:
    ``interrupt_entry``), "resume"
    (value: the answers given to the task's interrupts, in order), "input"
    (value: a run's input, kept here until the step that applies it commits,
    so that it is stored once) or "update" (value: a TaskWrite of
    ``Command(resume=..., update=...)``, applied before the step's tasks).
    """

    task_id: str
    kind: str
    value: Any


@dataclass(slots=True)
class CheckpointRecord:
    """One checkpoint of a thread: a super-step's writes and what runs next.

    ``carry`` holds run-time progress that spans steps: joins waiting for
    more of their sources (``{"waiting": {target: [sources seen]}}``) and
    deferred nodes held back (``{"deferred": [names]}``).
    ``snapshot`` is filled by savers on load when they stored the full state
    at this checkpoint; it is ignored by ``save``. ``created_at`` is not
    stored: ids are UUIDv7 strings (``ids.new_checkpoint_id``) and savers read
    the time back from the id (``ids.created_at_of``).
    """

    thread_id: str
    ns: str
    id: str
    parent_id: str | None
    step: int
    source: str
    created_at: str
    metadata: Mapping[str, Any]
    writes: tuple[TaskWrite, ...] = ()
    tasks: tuple[TaskRecord, ...] = ()
    carry: Mapping[str, Any] = field(default_factory=dict)
    snapshot: Mapping[str, Any] | None = None


KEPT = ("error", "interrupt")
"""Kinds of pending writes kept after the step they belong to is stored."""

PutItem = tuple[CheckpointRecord, Mapping[str, Any], Sequence[PendingWrite]]
"""One checkpoint for ``save_many``: the checkpoint, its state, its pending writes."""


def interrupt_entry(interrupt_id: str, value: Any, response_schema: Any = None) -> list[Any]:
    """A pending interrupt as an "interrupt" pending write stores it:
    ``[id, value]``, and its response schema third when it has one (so that
    what was stored before response schemas existed reads the same)."""
    if response_schema is None:
        return [interrupt_id, value]
    return [interrupt_id, value, response_schema]


def interrupt_entries(stored: Sequence[Sequence[Any]]) -> list[tuple[str, Any, Any]]:
    """The ``(id, value, response schema)`` of each stored interrupt entry
    (``interrupt_entry``'s; None for an entry stored without a schema)."""
    return [(entry[0], entry[1], entry[2] if len(entry) > 2 else None) for entry in stored]
