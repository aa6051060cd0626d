"""Running the tasks of one super-step: inline when there is one, on a shared
thread pool (plus the caller's own thread) when there are several; under
asyncio, as tasks of the event loop, where a failure cancels the step's
tasks still running (as LangGraph does: the step fails anyway, and what
they would write is not waited for)."""

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
from cairn.errors import GraphInterrupt, NodeError, NodeInterrupt
from cairn.runtime import offload
from cairn.runtime.context import RunScope, unkept
from cairn.runtime.tasks import HandlerFailed, Outcome, TaskRunner
from cairn.types import Interrupt, interrupt_id

_pools: dict[str, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()
_local = threading.local()
_TASK_WORKERS = max(32, (os.cpu_count() or 1) * 4)


def _lazy_pool(name: str, **options: Any) -> ThreadPoolExecutor:
    """The process's pool ``name``, made on first use."""
    with _pool_lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(thread_name_prefix=name, **options)
        return pool


def _shared_pool() -> ThreadPoolExecutor:
    """Task workers: the tasks of a step after its first."""
    return _lazy_pool("cairn-task", max_workers=_TASK_WORKERS, initializer=_mark_worker)


def stepping_pool() -> ThreadPoolExecutor:
    """Threads that run a streamed step while the stream's own thread hands
    out its chunks as they come (not task workers: a step there still runs
    its tasks side by side)."""
    return _lazy_pool("cairn-stream", max_workers=64)


def _mark_worker() -> None:
    _local.worker = True


@dataclass
class TaskResult:
    """What became of one task: an outcome, or the exception it raised."""

    task: TaskRecord
    outcome: Outcome | None = None
    error: BaseException | None = None
    handled: NodeError | None = None
    """The node's failure its error handler took (and then failed on, if ``error``)."""

    @property
    def failed(self) -> bool:
        """Whether the task failed (an interrupt is a pause, not a failure)."""
        return self.error is not None and not isinstance(self.error, GraphInterrupt)


def _failure(task: TaskRecord, exc: BaseException) -> TaskResult:
    if isinstance(exc, HandlerFailed):
        return TaskResult(task, error=exc.error, handled=exc.handled)
    if isinstance(exc, NodeInterrupt):  # the task's interrupt, with an id as interrupt()'s
        exc = GraphInterrupt([Interrupt(value=exc.value, id=interrupt_id(task.id, 0))])
    return TaskResult(task, error=exc)


class _Unfinished:
    """How many tasks of a step have not finished. What a task produced is
    kept as soon as it finishes while others still run (``scope.keep``); the
    last one's is not: the step's commit follows at once."""

    __slots__ = ("_left", "_lock")

    def __init__(self, count: int) -> None:
        self._left = count
        self._lock = threading.Lock()

    def others_running(self) -> bool:
        """Count one task as finished; whether some others still run."""
        with self._lock:
            self._left -= 1
            return self._left > 0


def _run_task(
    context: contextvars.Context,
    runner: TaskRunner,
    task: TaskRecord,
    state: Mapping[str, Any],
    scope: RunScope,
    answers: Mapping[str, list[Any]],
    failed: Mapping[str, NodeError],
    unfinished: _Unfinished,
) -> TaskResult:
    """Run one task in ``context`` (a copy of the caller's) on this thread."""
    own = TaskContext(task.id, scope, list(answers.get(task.id, ())), parent=scope.interrupts_of, name=task.name)
    try:
        outcome = context.run(
            _in_context, own, runner.run, task, state, scope, failed.get(task.id)
        )
        result = TaskResult(task, outcome=outcome)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then re-raised
        result = _failure(task, exc)
    scope.report(result)
    if unfinished.others_running() and result.outcome is not None:
        scope.keep(result)
    return result


def _in_context(own: TaskContext[Any], run: Callable[..., Outcome], *args: Any) -> Outcome:
    current.set(own)
    task, scope = args[0], own.scope
    _entered(task, scope)
    watch = scope.observer
    if watch is None:
        return run(*args)
    token = watch.task_started(scope.step, task)
    try:
        outcome = run(*args)
    except BaseException as exc:
        watch.task_ended(token, task, _as_failure(exc))
        raise
    watch.task_ended(token, task, None)
    return outcome


def _as_failure(exc: BaseException) -> BaseException | None:
    """What a task's observer is told it failed with: an interrupt is a pause."""
    if isinstance(exc, HandlerFailed):  # the error handler failed too: its error is the task's
        return exc.error
    return None if isinstance(exc, (GraphInterrupt, NodeInterrupt)) else exc


def _entered(task: TaskRecord, scope: RunScope) -> None:
    """What a task's own context holds besides ``current``: the "messages"
    stream's LangChain callbacks, when that mode is streamed."""
    if scope.messages is not None:
        scope.messages.enter(task, scope.step)


def run_step(
    runner: TaskRunner,
    tasks: Sequence[TaskRecord],
    state: Mapping[str, Any],
    scope: RunScope,
    answers: Mapping[str, list[Any]],
    failed: Mapping[str, NodeError],
) -> tuple[list[TaskResult], BaseException | None]:
    """Run ``tasks``; returns what finished, and an exception (such as a
    KeyboardInterrupt) that stopped the waiting, if one did. ``answers``:
    each task's answers to its ``interrupt()`` calls, by task id; ``failed``:
    the failures of tasks whose error handler is to run instead of them."""

    if not tasks:
        return [], None
    unfinished = _Unfinished(len(tasks))
    if len(tasks) == 1 or getattr(_local, "worker", False):
        # One task (or a graph nested in a pool worker): no thread hand-off.
        return [
            _run_task(contextvars.copy_context(), runner, t, state, scope, answers, failed, unfinished)
            for t in tasks
        ], None

    pool = _shared_pool()
    futures: list[Future[TaskResult]] = [
        pool.submit(
            _run_task, contextvars.copy_context(), runner, t, state, scope, answers, failed, unfinished
        )
        for t in tasks[1:]
    ]
    results = [
        _run_task(contextvars.copy_context(), runner, tasks[0], state, scope, answers, failed, unfinished)
    ]
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
    failed: Mapping[str, NodeError],
) -> tuple[list[TaskResult], BaseException | None]:
    """The async twin of ``run_step``: tasks run concurrently on the event
    loop (sync nodes in worker threads). The first task to fail cancels the
    others still running; each of those is recorded as failed with
    ``asyncio.CancelledError`` and runs again on resume."""

    keeps = len(tasks) > 1 and scope.keep is not unkept

    async def one(task: TaskRecord) -> TaskResult:
        current.set(
            TaskContext(task.id, scope, list(answers.get(task.id, ())), parent=scope.interrupts_of, name=task.name)
        )
        _entered(task, scope)
        watch = scope.observer
        token = watch.task_started(scope.step, task) if watch is not None else None
        try:
            result = TaskResult(task, outcome=await runner.arun(task, state, scope, failed.get(task.id)))
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised by the loop
            result = _failure(task, exc)
            if watch is not None:
                watch.task_ended(token, task, _as_failure(exc))
        else:
            if watch is not None:
                watch.task_ended(token, task, None)
        scope.report(result)
        return result

    # Each task gets its own asyncio Task, and so its own copy of the context.
    if not tasks:
        return [], None
    if len(tasks) == 1:
        return [await asyncio.ensure_future(one(tasks[0]))], None
    running = [asyncio.ensure_future(one(t)) for t in tasks]
    keeping: list[asyncio.Future[None]] = []
    """What finished while siblings ran, being stored (not cancelled with them)."""
    saver = scope.binding.saver if scope.binding is not None else None
    try:
        waiting: set[asyncio.Future[TaskResult]] = set(running)
        while waiting:
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if keeps and waiting:
                finished = [f.result() for f in done if f.result().outcome is not None]
                keeping += [asyncio.ensure_future(offload.call(saver, scope.keep, r)) for r in finished]
            if waiting and any(f.result().failed for f in done):
                for future in waiting:
                    future.cancel()
                await asyncio.wait(waiting)
                break
    except BaseException:  # the run itself is cancelled (or interrupted): so are its tasks
        for future in running:
            future.cancel()
        raise
    finally:
        await asyncio.gather(*keeping)
    return [
        f.result() if not f.cancelled() else TaskResult(t, error=asyncio.CancelledError())
        for t, f in zip(tasks, running)
    ], None
