"""Running the tasks of one super-step: inline when there is one, on a shared
thread pool (plus the caller's own thread) when there are several."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from cairn.checkpoint.base import TaskRecord
from cairn.current import TaskContext, current
from cairn.runtime.context import RunScope
from cairn.runtime.tasks import Outcome, TaskRunner

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_local = threading.local()


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(32, (os.cpu_count() or 1) * 4),
                thread_name_prefix="cairn-task",
                initializer=_mark_worker,
            )
        return _pool


def _mark_worker() -> None:
    _local.worker = True


@dataclass
class TaskResult:
    """What became of one task: an outcome, or the exception it raised."""

    task: TaskRecord
    outcome: Outcome | None = None
    error: BaseException | None = None


def _run_task(
    context: contextvars.Context,
    runner: TaskRunner,
    task: TaskRecord,
    state: Mapping[str, Any],
    scope: RunScope,
    answers: Mapping[str, list[Any]],
) -> TaskResult:
    """Run one task in ``context`` (a copy of the caller's) on this thread."""
    own = TaskContext(task.id, scope, list(answers.get(task.id, ())), parent=scope.interrupts_of)
    try:
        result = TaskResult(task, outcome=context.run(_in_context, own, runner.run, task, state, scope))
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then re-raised
        result = TaskResult(task, error=exc)
    scope.report(result)
    return result


def _in_context(own: TaskContext, run: Callable[..., Outcome], *args: Any) -> Outcome:
    current.set(own)
    return run(*args)


def run_step(
    runner: TaskRunner,
    tasks: Sequence[TaskRecord],
    state: Mapping[str, Any],
    scope: RunScope,
    answers: Mapping[str, list[Any]],
) -> tuple[list[TaskResult], BaseException | None]:
    """Run ``tasks``; returns what finished, and an exception (such as a
    KeyboardInterrupt) that stopped the waiting, if one did. ``answers``:
    each task's answers to its ``interrupt()`` calls, by task id."""

    if len(tasks) == 1 or getattr(_local, "worker", False):
        # One task (or a graph nested in a pool worker): no thread hand-off.
        return [
            _run_task(contextvars.copy_context(), runner, t, state, scope, answers)
            for t in tasks
        ], None

    pool = _shared_pool()
    futures: list[Future[TaskResult]] = [
        pool.submit(_run_task, contextvars.copy_context(), runner, t, state, scope, answers)
        for t in tasks[1:]
    ]
    results = [_run_task(contextvars.copy_context(), runner, tasks[0], state, scope, answers)]
    stopped: BaseException | None = None
    for future in futures:
        if stopped is None:
            try:
                results.append(future.result())
                continue
            except BaseException as exc:  # noqa: BLE001 - e.g. KeyboardInterrupt while waiting
                stopped = exc
        if future.done() and not future.cancelled():
            results.append(future.result())
        else:
            future.cancel()
    return results, stopped


async def arun_step(
    runner: TaskRunner,
    tasks: Sequence[TaskRecord],
    state: Mapping[str, Any],
    scope: RunScope,
    answers: Mapping[str, list[Any]],
) -> tuple[list[TaskResult], BaseException | None]:
    """The async twin of ``run_step``: tasks run concurrently on the event
    loop (sync nodes in worker threads)."""

    async def one(task: TaskRecord) -> TaskResult:
        current.set(TaskContext(task.id, scope, list(answers.get(task.id, ())), parent=scope.interrupts_of))
        try:
            result = TaskResult(task, outcome=await runner.arun(task, state, scope))
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised by the loop
            result = TaskResult(task, error=exc)
        scope.report(result)
        return result

    # Each task gets its own asyncio Task, and so its own copy of the context.
    return list(await asyncio.gather(*(one(t) for t in tasks))), None
