"""The functional API, as LangGraph's ``langgraph.func``: ``@entrypoint`` and
``@task``.

>>> @task
... def double(x: int) -> int:
...     return 2 * x
>>> @entrypoint(checkpointer=InMemorySaver())
... def flow(n: int, *, previous: int | None = None) -> int:
...     total = sum(f.result() for f in [double(i) for i in range(n)])
...     return entrypoint.final(value=total, save=total + (previous or 0))

An entrypoint is a graph of one node, run and read like any graph:
``invoke``, ``stream`` (a task's result streams as ``{task_name: result}``),
``get_state`` (its values: what the last run returned), ``interrupt()``
inside and ``Command(resume=...)``. ``previous`` is what the thread's last
run saved. A task runs when called (side by side with other tasks) and its
result is stored as a pending write of the entrypoint's step as soon as it
finishes, so a run resumed after an interrupt, an error or a killed process
reruns the entrypoint but not the tasks that finished.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Generic, Mapping, TypedDict, TypeVar

from cairn.checkpoint.base import PendingWrite
from cairn.current import TaskContext, task_context
from cairn.errors import GraphValidationError, not_supported
from cairn.graph.constants import START
from cairn.graph.schema import StateSchema
from cairn.graph.state import StateGraph

__all__ = ["entrypoint", "task"]

R = TypeVar("R")
S = TypeVar("S")

RETURN, PREVIOUS, INPUT = "__return__", "__previous__", "__input__"

_CALLS = uuid.UUID("7d1c3b5e-9a2f-4c6d-8e0b-1f2a3b4c5d6e")


class _Entry(TypedDict, total=False):
    __return__: Any
    __previous__: Any
    __input__: Any


class _EntrySchema(StateSchema):
    """An entrypoint's state: its input, what its last run returned (its
    values) and what it saved (the next run's ``previous``)."""

    def __init__(self) -> None:
        super().__init__(_Entry)

    def as_update(self, obj: Any) -> Mapping[str, Any] | None:
        if isinstance(obj, Mapping) and obj and set(obj) <= {RETURN, PREVIOUS, INPUT}:
            return obj  # the entrypoint's own write
        return {INPUT: obj}  # a run's input

    def ordered(self, values: Mapping[str, Any]) -> Any:
        return values.get(RETURN)

    def output(self, values: Mapping[str, Any]) -> Any:
        return values.get(RETURN)

    def shown(self, values: Mapping[str, Any]) -> Any:
        return values.get(RETURN)

    def shown_update(self, update: Mapping[str, Any] | None) -> Any:
        return None if update is None else update.get(RETURN)

    def to_node_input(self, values: Mapping[str, Any], steps_left: int | None = None) -> Any:
        return dict(values)


class entrypoint(Generic[R]):  # noqa: N801 - LangGraph's name
    """Make a function a graph of one node: ``@entrypoint(checkpointer=saver)``.
    The function takes its input first, and may take ``previous`` (what the
    thread's last run saved), ``config``, ``store``, ``writer`` and
    ``runtime`` by name."""

    @dataclass(frozen=True)
    class final(Generic[S]):  # noqa: N801 - LangGraph's name
        """Return ``value`` to the caller and save ``save`` as the next run's ``previous``."""

        value: Any
        save: Any

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        context_schema: Any = None,
        retry_policy: Any = None,
    ) -> None:
        self.checkpointer = checkpointer
        self.store = store
        self.context_schema = context_schema
        self.retry_policy = retry_policy

    def __call__(self, func: Callable[..., Any]) -> Any:
        if not callable(func):
            raise GraphValidationError(f"@entrypoint decorates a function, got {func!r}")
        builder = StateGraph(_Entry, context_schema=self.context_schema)
        builder.schema = _EntrySchema()
        name = getattr(func, "__name__", "entrypoint")
        builder.add_node(name, _node(func), retry_policy=self.retry_policy)
        builder.add_edge(START, name)
        return builder.compile(checkpointer=self.checkpointer, store=self.store, name="LangGraph")


def _node(func: Callable[..., Any]) -> Callable[..., Any]:
    """The entrypoint's node: reads its input and ``previous`` from the state."""
    wanted = set(inspect.signature(func).parameters)

    def arguments(state: Mapping[str, Any], runtime: Any) -> tuple[Any, dict[str, Any]]:
        from cairn.config import get_config

        given = {
            "previous": lambda: state.get(PREVIOUS),
            "config": get_config,
            "store": lambda: runtime.store,
            "writer": lambda: runtime.stream_writer,
            "runtime": lambda: runtime,
        }
        return state.get(INPUT), {k: make() for k, make in given.items() if k in wanted}

    def written(result: Any) -> dict[str, Any]:
        if isinstance(result, entrypoint.final):
            return {RETURN: result.value, PREVIOUS: result.save}
        return {RETURN: result, PREVIOUS: result}

    if inspect.iscoroutinefunction(func):

        async def run_async(state: Mapping[str, Any], runtime: Any) -> dict[str, Any]:
            value, named = arguments(state, runtime)
            return written(await func(value, **named))

        return run_async

    def run(state: Mapping[str, Any], runtime: Any) -> dict[str, Any]:
        value, named = arguments(state, runtime)
        return written(func(value, **named))

    return run


class _Task(Generic[R]):
    """A function made a task by ``@task``: calling it inside an entrypoint
    starts it and returns a future of its result."""

    def __init__(self, func: Callable[..., R], name: str | None) -> None:
        self.func = func
        self.name = name or getattr(func, "__name__", "task")
        self.is_async = inspect.iscoroutinefunction(func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        caller: TaskContext[Any] = task_context(f"task {self.name!r}")
        with _lock:
            index = caller.calls_made
            caller.calls_made += 1
        call_id = uuid.uuid5(_CALLS, f"{caller.task_id}|{self.name}|{index}").hex
        scope = caller.scope
        if call_id in scope.calls:  # finished in an earlier try of this step
            return _done(scope.calls[call_id], self.is_async)
        if self.is_async:  # an asyncio task: a copy of this context, the entrypoint's
            return asyncio.ensure_future(self._arun(scope, call_id, args, kwargs))
        context = contextvars.copy_context()
        future: Future[Any] = Future()
        threading.Thread(
            target=context.run, args=(self._run, scope, call_id, args, kwargs, future), daemon=True
        ).start()
        return future

    def _run(self, scope: Any, call_id: str, args: Any, kwargs: Any, future: Future[Any]) -> None:
        try:
            result = self.func(*args, **kwargs)
            scope.record_call(self.name, PendingWrite(call_id, "call", result))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(exc)
        else:
            future.set_result(result)

    async def _arun(self, scope: Any, call_id: str, args: Any, kwargs: Any) -> Any:
        result = await self.func(*args, **kwargs)  # type: ignore[misc]
        await asyncio.to_thread(scope.record_call, self.name, PendingWrite(call_id, "call", result))
        return result


_lock = threading.Lock()


def _done(result: Any, is_async: bool) -> Any:
    if is_async:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    else:
        future = Future()  # type: ignore[assignment]
    future.set_result(result)
    return future


def task(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: Any = None,
) -> Any:
    """Make ``func`` a task: ``@task`` or ``@task(name=...)``."""
    not_supported("task", retry_policy=retry_policy)
    if func is None:
        return lambda f: _Task(f, name)
    return _Task(func, name)
