"""Watching runs: the hooks metrics and tracing are built on.

An ``Observer`` is attached to a compiled graph (``compile(observers=[...])``)
or to one call (``config={"observers": [...]}``, cairn's own key). When a run
starts, each observer's ``run_started`` is asked for a ``RunObserver`` (None:
not this run), which is then told of the run's steps, its tasks, its
checkpoint writes and its end. A run nobody observes pays one attribute
check per hook and nothing else.

The hooks are called on the threads doing the work: those of a step's
tasks side by side, those of checkpoint writes on the run's background
writer with ``durability="async"``, so a ``RunObserver`` must be safe to call
from several threads. A hook's exception is the run's: keep hooks small.
A subgraph's steps run inside its parent's node and are not reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from cairn.checkpoint.base import CheckpointRecord, TaskRecord
from cairn.errors import ArgumentTypeError

__all__ = ["Observer", "RunInfo", "RunObserver", "check_observers", "start_observing"]

RUN_STATUSES = ("success", "error", "interrupted", "cancelled")
"""How a run ends, as ``RunObserver.run_ended`` is told."""


@dataclass(frozen=True)
class RunInfo:
    """Which run is starting."""

    graph: str
    """The compiled graph's name (``compile(name=...)``)."""
    thread_id: str
    """The thread it runs on ("" without a checkpointer and a thread id)."""
    run_id: str


class RunObserver:
    """What watches one run. Every hook does nothing here: override those you need."""

    def lease_taken_over(self, holder: str) -> None:
        """The run took its thread over from ``holder``, a writer whose process is gone."""

    def step_started(self, step: int, tasks: Sequence[TaskRecord]) -> None:
        """Step ``step`` starts running ``tasks``."""

    def step_ended(self, step: int, error: BaseException | None) -> None:
        """Step ``step`` ended: committed (no error), paused on an interrupt
        (no error), or failed with ``error``. A step cut short by its run
        (cancelled, a storage error) gets no call: ``run_ended`` follows."""

    def task_started(self, step: int, task: TaskRecord) -> Any:
        """Task ``task`` (node ``task.name``) starts, in its own context (what
        it sets there, the node's code sees); returns a token for ``task_ended``."""
        return None

    def task_ended(self, token: Any, task: TaskRecord, error: BaseException | None) -> None:
        """The task started with ``token`` returned (no error; an interrupt is
        no error) or raised ``error``, after its retries."""

    def checkpoint_written(self, checkpoint: CheckpointRecord, seconds: float, size: int | None) -> None:
        """A commit stored ``checkpoint`` (with the checkpoints held for it,
        such as a run's input) in ``seconds``, ``size`` bytes of rows (None:
        the saver does not tell)."""

    def run_ended(self, status: str, error: BaseException | None) -> None:
        """The run ended with ``status`` (one of ``RUN_STATUSES``) and, when it
        failed, ``error``. A step still open was cut short by it."""


@runtime_checkable
class Observer(Protocol):
    """What ``compile(observers=...)`` and ``config["observers"]`` take."""

    def run_started(self, run: RunInfo) -> RunObserver | None:
        """A ``RunObserver`` for ``run``, or None to leave it alone."""


class _Fanout(RunObserver):
    """Several observers of one run, told in order."""

    def __init__(self, watchers: Sequence[RunObserver]) -> None:
        self.watchers = watchers

    def lease_taken_over(self, holder: str) -> None:
        for watcher in self.watchers:
            watcher.lease_taken_over(holder)

    def step_started(self, step: int, tasks: Sequence[TaskRecord]) -> None:
        for watcher in self.watchers:
            watcher.step_started(step, tasks)

    def step_ended(self, step: int, error: BaseException | None) -> None:
        for watcher in self.watchers:
            watcher.step_ended(step, error)

    def task_started(self, step: int, task: TaskRecord) -> Any:
        return [watcher.task_started(step, task) for watcher in self.watchers]

    def task_ended(self, token: Any, task: TaskRecord, error: BaseException | None) -> None:
        for watcher, own in zip(self.watchers, token):
            watcher.task_ended(own, task, error)

    def checkpoint_written(self, checkpoint: CheckpointRecord, seconds: float, size: int | None) -> None:
        for watcher in self.watchers:
            watcher.checkpoint_written(checkpoint, seconds, size)

    def run_ended(self, status: str, error: BaseException | None) -> None:
        for watcher in self.watchers:
            watcher.run_ended(status, error)


def check_observers(observers: Any, where: str) -> tuple[Observer, ...]:
    """``observers`` (a list of ``Observer``) as a tuple; ArgumentTypeError
    naming the one that has no ``run_started``."""
    if observers is None:
        return ()
    if isinstance(observers, Observer):
        return (observers,)
    if not isinstance(observers, Iterable) or isinstance(observers, (str, bytes)):
        raise ArgumentTypeError(f"{where} must be a list of observers, got {observers!r}")
    found = tuple(observers)
    for observer in found:
        if not isinstance(observer, Observer):
            raise ArgumentTypeError(
                f"{where} holds {observer!r}, which is not an observer: give objects with a "
                "run_started(run) method, such as cairn.otel.instrument()"
            )
    return found


def start_observing(observers: Sequence[Observer], run: RunInfo) -> RunObserver | None:
    """The run's observer: None when nobody watches it."""
    watchers = [w for w in (o.run_started(run) for o in observers) if w is not None]
    if not watchers:
        return None
    return watchers[0] if len(watchers) == 1 else _Fanout(watchers)
