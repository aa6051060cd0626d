"""The task running now, in one context variable.

The runtime sets it around each task (``runtime/executor.py``); what a node
calls reads it: ``cairn.types.interrupt`` for the task's answers, and
``get_config()``/``get_runtime()`` for its run (``runtime/context.py``, where
the run's part, ``RunScope``, is defined). It sits below every layer so
that ``cairn.types`` reaches the running task without importing runtime/.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cairn.errors import OutsideNodeError

__all__ = ["TaskContext", "current", "heartbeat", "progressed", "task_context"]

ScopeT = TypeVar("ScopeT")


@dataclass(slots=True)
class TaskContext(Generic[ScopeT]):
    """One running task: its id, its run, and its ``interrupt()`` answers."""

    task_id: str
    scope: ScopeT
    """What every task of the run shares (runtime/context.py's ``RunScope``)."""
    answers: list[Any]
    used: int = 0
    """How many ``interrupt()`` calls the task has made so far."""
    calls_made: int = 0
    """How many ``@task`` calls the task (an entrypoint) has made so far."""
    parent: "TaskContext[Any] | None" = None
    """The task whose ``interrupt()`` calls this task's are, if another's
    (a task of a subgraph compiled with ``checkpointer=False``)."""
    beat: float = 0.0
    """When the running attempt last made progress (``time.monotonic()``),
    watched by an ``idle_timeout``."""
    auto: bool = True
    """Whether progress other than ``heartbeat()`` counts (refresh_on="auto")."""
    name: str = ""
    """The task's node."""
    attempt: int = 1
    """Which attempt of the task runs, from 1 (retries count up)."""
    started: float | None = None
    """When the task's first attempt started (``time.time()``): set when its
    node first reads its ``Runtime`` (a node taking ``runtime`` reads it as
    each attempt starts), so that tasks that never do pay nothing for it."""


current: ContextVar[TaskContext[Any] | None] = ContextVar("cairn_task", default=None)


def task_context(what: str) -> TaskContext[Any]:
    """The running task's context; ``what`` names the caller in the error."""
    found = current.get()
    if found is None:
        raise OutsideNodeError(
            f"{what} was called outside a running node; call it inside a node function "
            "(or a conditional edge's path function) while the graph runs"
        )
    return found


def heartbeat() -> None:
    """Record that the running node makes progress, holding off its
    ``idle_timeout`` (``runtime.heartbeat()``); a no-op outside a node."""
    found = current.get()
    if found is not None:
        found.beat = time.monotonic()


def progressed() -> None:
    """A progress signal other than ``heartbeat()`` (a chunk written to the
    custom stream): it counts under ``TimeoutPolicy(refresh_on="auto")``."""
    found = current.get()
    if found is not None and found.auto:
        found.beat = time.monotonic()
