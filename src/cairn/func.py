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
from datetime import timedelta
from typing import Any, Callable, Generic, Mapping, Sequence, TypedDict, TypeVar

from cairn.cache.base import BaseCache, FullKey
from cairn.checkpoint.base import PendingWrite
from cairn.current import TaskContext, task_context
from cairn.errors import GraphValidationError
from cairn.graph.constants import START
from cairn.graph.policies import cache_policy as cache_policy_of
from cairn.graph.policies import retry_policies, timeout_policy
from cairn.graph.schema import StateSchema
from cairn.graph.spec import NodeSpec
from cairn.graph.state import StateGraph
from cairn.runtime.attempts import aretrying, retrying
from cairn.runtime.caching import default_cache_key
from cairn.types import CachePolicy, RetryPolicy, TimeoutPolicy

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

    def shows(self, update: Mapping[str, Any] | None) -> bool:
        return update is not None and RETURN in update

    def to_node_input(self, values: Mapping[str, Any], steps_left: int | None = None) -> Any:
        return dict(values)

    # As LangGraph's "tasks" stream shows an entrypoint's task: its input, and what it returned.
    def shown_input(self, arg: Any) -> Any:
        return arg.get(INPUT) if isinstance(arg, Mapping) else arg

    def triggers(self, node: str) -> tuple[str, ...]:
        return ("__start__",)

    def task_result(self, update: Any) -> dict[str, Any]:
        return {"__end__": update[RETURN]} if isinstance(update, Mapping) and RETURN in update else {}


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
        cache: BaseCache | None = None,
        context_schema: Any = None,
        cache_policy: CachePolicy | None = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> None:
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        """Where the entrypoint (``cache_policy``) and its tasks with a ``cache_policy`` find their results."""
        self.context_schema = context_schema
        self.cache_policy = cache_policy
        """Caches the entrypoint's result by its input (``previous`` aside)."""
        self.retry_policy = retry_policy
        self.timeout = timeout

    def __call__(self, func: Callable[..., Any]) -> Any:
        if not callable(func):
            raise GraphValidationError(f"@entrypoint decorates a function, got {func!r}")
        builder = StateGraph(_Entry, context_schema=self.context_schema)
        builder.schema = _EntrySchema()
        name = getattr(func, "__name__", "entrypoint")
        builder.add_node(
            name,
            _node(func),
            retry_policy=self.retry_policy,
            timeout=self.timeout,
            cache_policy=_by_input(self.cache_policy),
        )
        builder.add_edge(START, name)
        return builder.compile(
            checkpointer=self.checkpointer, store=self.store, cache=self.cache, name="LangGraph"
        )


def _by_input(policy: CachePolicy | None) -> CachePolicy | None:
    """An entrypoint's cache policy as its node's: keyed by the input alone."""
    if policy is None:
        return None
    key_func = policy.key_func or default_cache_key
    return CachePolicy(key_func=lambda state: key_func(state.get(INPUT)), ttl=policy.ttl)


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

    def __init__(
        self,
        func: Callable[..., R],
        name: str | None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> None:
        self.func = func
        self.name: str = name or str(getattr(func, "__name__", "task"))
        self.is_async = inspect.iscoroutinefunction(func)
        where = f"task {self.name!r}"
        self.spec = NodeSpec(
            name=self.name,
            fn=func,
            retry_policy=retry_policies(retry_policy, where),
            timeout=timeout_policy(timeout, where),
            cache_policy=cache_policy_of(cache_policy, where),
        )
        """The task as the runtime's attempts see it: its retries and timeout."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        caller: TaskContext[Any] = task_context(f"task {self.name!r}")
        with _lock:
            index = caller.calls_made
            caller.calls_made += 1
        call_id = uuid.uuid5(_CALLS, f"{caller.task_id}|{self.name}|{index}").hex
        scope = caller.scope
        scope.call_started(self.name, call_id, (args, kwargs))
        if call_id in scope.calls:  # finished in an earlier try of this step
            return _done(scope.calls[call_id], self.is_async)
        call = _Call(self, scope, call_id, args, kwargs)
        if self.is_async:  # an asyncio task: a copy of this context, the entrypoint's
            return asyncio.ensure_future(call.arun())
        context = contextvars.copy_context()
        future: Future[Any] = Future()
        threading.Thread(target=context.run, args=(call.run, future), daemon=True).start()
        return future


@dataclass
class _Call:
    """One call of a task: run under its retry policies, its result taken
    from (and left in) the entrypoint's cache when it has a ``cache_policy``,
    and recorded as a pending write of the entrypoint's step."""

    task: _Task[Any]
    scope: Any
    call_id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def key(self) -> FullKey | None:
        cache, policy = self.scope.cache, self.task.spec.cache_policy
        if cache is None or policy is None:
            return None
        return cache.call_key(self.task.name, self.task.func, policy, self.args, self.kwargs)  # type: ignore[no-any-return]

    def run(self, future: Future[Any]) -> None:
        try:
            key = self.key()
            found = self.scope.cache.cache.get([key]) if key is not None else {}
            if key in found:
                result = found[key]
            else:
                result = retrying(self.task.spec, lambda: self.task.func(*self.args, **self.kwargs))
                if key is not None:
                    self.scope.cache.cache.set({key: (result, self.task.spec.cache_policy.ttl)})  # type: ignore[union-attr]
            self.scope.record_call(self.task.name, PendingWrite(self.call_id, "call", result), key in found)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
            if isinstance(exc, Exception):
                self.scope.call_failed(self.task.name, self.call_id, exc)
            future.set_exception(exc)
        else:
            future.set_result(result)

    async def arun(self) -> Any:
        key = self.key()
        found = await self.scope.cache.cache.aget([key]) if key is not None else {}
        if key in found:
            result = found[key]
        else:
            try:
                result = await aretrying(self.task.spec, lambda: self.task.func(*self.args, **self.kwargs))
            except Exception as exc:
                self.scope.call_failed(self.task.name, self.call_id, exc)
                raise
            if key is not None:
                await self.scope.cache.cache.aset({key: (result, self.task.spec.cache_policy.ttl)})  # type: ignore[union-attr]
        write = PendingWrite(self.call_id, "call", result)
        await asyncio.to_thread(self.scope.record_call, self.task.name, write, key in found)
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
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: CachePolicy | None = None,
    timeout: float | timedelta | TimeoutPolicy | None = None,
) -> Any:
    """Make ``func`` a task: ``@task`` or ``@task(name=..., retry_policy=..., cache_policy=...)``.

    ``retry_policy`` retries a failing call in place, as a node's
    (``timeout`` limits each attempt); ``cache_policy`` takes the result of
    a call whose arguments' key is in the entrypoint's cache
    (``@entrypoint(cache=InMemoryCache())``) without running it.
    """
    if func is None:
        return lambda f: _Task(f, name, retry_policy, cache_policy, timeout)
    return _Task(func, name, retry_policy, cache_policy, timeout)
