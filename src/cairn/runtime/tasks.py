"""Running one task: call the node, read what it returned, decide where it routes.

The outcome of a task is a ``TaskWrite`` (its update, filtered to the schema,
and its routes), or the exception it raised. Routing (static edges,
conditional edges evaluated on the state plus this task's own update, and a
returned ``Command``'s ``goto``) is part of the task, so a task's pending
write alone says what it did.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from cairn.cache.base import BaseCache
from cairn.checkpoint.base import TaskRecord, TaskWrite
from cairn.current import current
from cairn.errors import GraphInterrupt, InvalidUpdateError, NodeError, ParentCommand
from cairn.graph.constants import END, START
from cairn.graph.spec import Branch, GraphSpec, NodeSpec
from cairn.runtime import offload
from cairn.runtime.attempts import aretrying, retrying
from cairn.runtime.caching import NodeCache
from cairn.runtime.context import RunScope, task_runtime
from cairn.runtime.state import apply_updates
from cairn.runtime.subgraphs import arun_subgraph, run_subgraph
from cairn.types import Command, Send
from cairn.warnings import UnknownKeyWarning


_INJECTABLE = ("config", "writer", "store", "runtime", "previous")
"""Parameters a node or path function receives by name, as in LangGraph
(and ``error``, when annotated ``NodeError``: an error handler's failure)."""


@dataclass(frozen=True, slots=True)
class Injection:
    """What to pass a node besides its state: the config as its second
    positional argument (a parameter named otherwise), and parameters by name."""

    config_positional: bool
    names: tuple[str, ...]

    def args(self, scope: RunScope) -> tuple[Any, ...]:
        return (scope.config,) if self.config_positional else ()

    def kwargs(self, scope: RunScope, error: NodeError | None = None) -> dict[str, Any]:
        runtime = scope.runtime
        if "runtime" in self.names and (task := current.get()) is not None:
            runtime = task_runtime(task)
        values = {
            "config": scope.config,
            "writer": runtime.stream_writer,
            "store": runtime.store,
            "runtime": runtime,
            "previous": runtime.previous,
            "error": error,
        }
        return {name: values[name] for name in self.names}


def _is_node_error(annotation: Any) -> bool:
    return annotation is NodeError or annotation in ("NodeError", "cairn.errors.NodeError")


def injection(fn: Callable[..., Any]) -> Injection | None:
    """What ``fn`` takes besides the state, or None when it takes the state alone."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", fn)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    rest = params[1:]
    by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = tuple(
        p.name
        for p in rest
        if p.kind in by_name
        and (p.name in _INJECTABLE or (p.name == "error" and _is_node_error(p.annotation)))
    )
    # LangGraph passes the config only by name; a second positional parameter
    # named otherwise and without a default gets it too (cairn's older rule).
    positional = [p for p in rest if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    config_positional = bool(
        positional
        and positional[0].name not in _INJECTABLE
        and positional[0].name not in names
        and positional[0].default is inspect.Parameter.empty
        and "config" not in names
    )
    if not names and not config_positional:
        return None
    return Injection(config_positional, names)


def async_twin(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """The async implementation of a node object that has both kinds: its
    ``async def acall`` method, taking what its ``__call__`` takes. The async
    API (``ainvoke``, ``astream``) awaits it instead of running ``__call__`` in
    a thread (``cairn.prebuilt``'s ``ToolNode`` awaits its tools' ``ainvoke``)."""
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return None
    twin = getattr(fn, "acall", None)
    return twin if inspect.iscoroutinefunction(twin) else None


def _run_coroutine(awaitable: Any) -> Any:
    """Finish an async node's coroutine from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop runs here already (Jupyter)
        return pool.submit(asyncio.run, _await(awaitable)).result()


async def _await(awaitable: Any) -> Any:
    return await awaitable


def call(
    fn: Callable[..., Any],
    arg: Any,
    scope: RunScope,
    inject: Injection | None,
    error: NodeError | None = None,
) -> Any:
    """Call a node or path function, finishing it if it is async. ``error``:
    what an error handler is told of the failure it handles."""
    if inject is None:
        result = fn(arg)
    else:
        result = fn(arg, *inject.args(scope), **inject.kwargs(scope, error))
    if result.__class__ is not dict and inspect.isawaitable(result):
        result = _run_coroutine(result)
    return result


@dataclass(slots=True)
class Outcome:
    """A task's write, plus the state as the task left it when that was computed."""

    write: TaskWrite
    fresh: dict[str, Any] | None = None
    handled: NodeError | None = None
    """The node failed and its error handler wrote ``write`` in its place."""
    cached: bool = False
    """``write`` came from the cache: the node did not run (``cache_policy``)."""
    shown: Any = None
    """What the node returned, as "updates", "tasks" and "messages" streams
    show it (LangGraph's): its update before reducers prepared it (messages
    as the node gave them), or a list of one-key updates when the Commands it
    returned wrote a key more than once. None: ``write.update`` shows."""


class HandlerFailed(BaseException):
    """A node failed and so did its error handler (or the handler paused on
    an interrupt): the executor records ``error``, what the handler raised,
    and ``handled``, the node's failure that a resume hands the handler again.
    A BaseException so that no retry or ``except Exception`` takes it."""

    def __init__(self, error: BaseException, handled: NodeError) -> None:
        super().__init__(error, handled)
        self.error = error
        self.handled = handled


class TaskRunner:
    """Runs the tasks of one compiled graph (shared by every run of it)."""

    def __init__(self, spec: GraphSpec, strict: bool, cache: BaseCache | None = None) -> None:
        self.spec = spec
        self.strict = strict
        self.cache = NodeCache(cache) if cache is not None else None
        """Where nodes with a ``cache_policy`` find and leave their writes."""
        self.has_subgraphs = any(n.subgraph for n in spec.nodes.values())
        """Whether a node of the graph is a compiled graph."""
        self._inject = {name: injection(n.fn) for name, n in spec.nodes.items()}
        for n in spec.nodes.values():
            if n.error_handler is not None:
                self._inject[n.error_handler.name] = injection(n.error_handler.fn)
        self._branch_inject = {
            id(b): injection(b.path) for bs in spec.branches.values() for b in bs
        }

    # -- reading what a node returned ---------------------------------------

    def filter_update(
        self, name: str, update: Any, *, by_caller: bool = False
    ) -> Mapping[str, Any] | None:
        """The update with keys outside the schema dropped (or refused if
        strict). ``by_caller``: ``update_state`` wrote it as node ``name``."""
        mapping = self.spec.schema.as_update(update)
        if mapping is None and update is not None:
            raise InvalidUpdateError(
                f"node {name!r} returned {type(update).__name__} {_short(update)}; a node must "
                "return a dict of state updates, None, or a Command"
            )
        return self.filter_mapping(name, mapping, by_caller=by_caller)

    def filter_mapping(
        self, name: str, mapping: Mapping[str, Any] | None, *, by_caller: bool = False
    ) -> Mapping[str, Any] | None:
        """``filter_update`` of an update already in the schema's mapping form."""
        kept = self._kept_keys(name, mapping, by_caller)
        return self.spec.schema.prepare(kept) if kept else kept

    def _kept_keys(
        self, name: str, mapping: Mapping[str, Any] | None, by_caller: bool = False
    ) -> Mapping[str, Any] | None:
        """``mapping`` without the keys the state does not have (warned of, or
        refused if strict), not yet prepared for storing."""
        schema = self.spec.schema
        if not mapping or schema.open:
            return mapping
        channels = schema.channels
        if schema.managed and any(k in schema.managed for k in mapping):
            # computed for each task (cairn.managed): a write is ignored, as in LangGraph
            mapping = {k: v for k, v in mapping.items() if k not in schema.managed}
        unknown = [k for k in mapping if k not in channels]
        if not unknown:
            return mapping
        if by_caller:
            what = f"update_state(as_node={name!r})"
        else:
            what = "the input" if name == START else f"node {name!r}"
        message = (
            f"{what} wrote key(s) {unknown!r}, which the state schema "
            f"{getattr(schema.schema, '__qualname__', schema.schema)!s} does not declare"
        )
        if self.strict:
            raise InvalidUpdateError(message + "; add them to the schema")
        author = None if by_caller else self.spec.nodes.get(name)
        _warn_at_user_code(message + "; they were dropped", author)
        return {k: v for k, v in mapping.items() if k in channels}

    def _read_output(self, node: str, output: Any) -> tuple[Mapping[str, Any] | None, list[Any], Any]:
        """What a node returned: its update (prepared for storing), its
        routes, and the update as streams show it (before it was prepared)."""
        if isinstance(output, (list, tuple)) and any(isinstance(o, Command) for o in output):
            return self._read_outputs(node, output)
        gotos: list[Any] = []
        if isinstance(output, Command):
            if output.graph == Command.PARENT:
                raise ParentCommand(output, node)  # the parent graph applies it (subgraphs.py)
            if output.graph is not None:
                raise InvalidUpdateError(
                    f"node {node!r} returned Command(graph={output.graph!r}); only the "
                    "current graph can be targeted"
                )
            goto = output.goto
            gotos = [goto] if isinstance(goto, (str, Send)) else list(goto or ())
            output = output.update
            if isinstance(output, (list, tuple)):
                output = dict(output)
        mapping = self.spec.schema.as_update(output)
        if mapping is None and output is not None:
            raise InvalidUpdateError(
                f"node {node!r} returned {type(output).__name__} {_short(output)}; a node must "
                "return a dict of state updates, None, or a Command"
            )
        shown = self._kept_keys(node, mapping)
        return (self.spec.schema.prepare(shown) if shown else shown), gotos, shown

    def _read_outputs(self, node: str, outputs: Sequence[Any]) -> tuple[Mapping[str, Any] | None, list[Any], Any]:
        """A list of Commands (and updates) returned by one node, as one
        update and the routes of all: a key written twice is reduced, in
        order, when it has a reducer, and refused when it has none. Shown as
        LangGraph shows it: one update, or a list of one-key updates when a
        key was written more than once."""
        merged: dict[str, Any] = {}
        gotos: list[Any] = []
        written: list[tuple[str, Any]] = []
        reducers = self.spec.schema.reducers
        for output in outputs:
            update, routes, shown = self._read_output(node, output)
            gotos.extend(routes)
            written.extend((shown or {}).items())
            for key, value in (update or {}).items():
                if key not in merged:
                    merged[key] = value
                elif key in reducers:
                    merged[key] = reducers[key](merged[key], value)
                elif key in self.spec.schema.loose:  # AnyValue: the last write
                    merged[key] = value
                else:
                    raise InvalidUpdateError(
                        f"node {node!r} returned {len(outputs)} updates that each write key "
                        f"{key!r}, which has no reducer to combine them; write it once, or give "
                        "it a reducer with Annotated[type, reducer]"
                    )
        keys = [key for key, _ in written]
        repeated = len(set(keys)) < len(keys)
        return merged, gotos, [{k: v} for k, v in written] if repeated else dict(written)

    def _check_route(self, source: str, route: Any) -> Any:
        nodes = self.spec.nodes
        if isinstance(route, Send):
            if route.node not in nodes:
                raise InvalidUpdateError(
                    f"{source!r} sent to unknown node {route.node!r}; the nodes are {sorted(nodes)}"
                )
            return (route.node, route.arg)
        if route == END or route in nodes:
            return route
        raise InvalidUpdateError(
            f"{source!r} routed to unknown node {route!r}; the nodes are {sorted(nodes)} (or END)"
        )

    def routes(
        self,
        name: str,
        update: Mapping[str, Any] | None,
        gotos: Sequence[Any],
        state: Mapping[str, Any],
        scope: RunScope,
    ) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
        """Where the task goes next, and the state with its update (if computed)."""
        spec = self.spec
        out = [self._check_route(name, g) for g in gotos]
        out.extend(spec.edges.get(name, ()))
        branches: Sequence[Branch] = spec.branches.get(name, ())
        fresh = None
        if branches:
            fresh = apply_updates(spec.schema, dict(state), [(name, update)])
            arg = spec.schema.to_node_input(fresh, scope.steps_left)
            for branch in branches:
                result = call(branch.path, arg, scope, self._branch_inject[id(branch)])
                out.extend(self._check_route(name, r) for r in branch.resolve(result))
        return tuple(out), fresh

    # -- running -------------------------------------------------------------

    def run(
        self,
        task: TaskRecord,
        state: Mapping[str, Any],
        scope: RunScope,
        failed: NodeError | None = None,
    ) -> Outcome:
        """Run ``task`` against ``state``; raises what the node raised (unless
        its error handler takes it). ``failed``: the node failed in an earlier
        run and its handler did not finish: run only the handler."""
        if task.name == START:
            return self._start(task, state, scope)
        node, arg = self._prepare(task, state, scope.steps_left)
        if failed is None:
            cache = self.cache
            key = None if cache is None or node.cache_policy is None else cache.key(node, arg)
            if key is not None and cache is not None and (write := cache.get(node, task, key)):
                return Outcome(write, cached=True)
            try:
                output = retrying(node, lambda: self._once(node, arg, scope))
                outcome = self._finish(task, node, output, state, scope)
            except Exception as exc:
                if node.error_handler is None or isinstance(exc, ParentCommand):
                    raise
                failed = NodeError(node.name, exc)
            else:
                if key is not None and cache is not None:
                    cache.put(node, key, outcome.write)
                return outcome
        handler = self._handler(node)
        try:
            output = retrying(
                handler, lambda: call(handler.fn, arg, scope, self._inject[handler.name], failed)
            )
            outcome = self._finish(task, handler, output, state, scope)
        except (Exception, GraphInterrupt) as exc:
            raise HandlerFailed(exc, failed) from None
        outcome.handled = failed
        return outcome

    def _once(self, node: NodeSpec, arg: Any, scope: RunScope) -> Any:
        if node.subgraph:
            return self._subgraph_output(run_subgraph(node.fn, node.name, arg))
        return call(node.fn, arg, scope, self._inject[node.name])

    async def arun(
        self,
        task: TaskRecord,
        state: Mapping[str, Any],
        scope: RunScope,
        failed: NodeError | None = None,
    ) -> Outcome:
        """The async twin of ``run``: awaits async nodes, runs sync ones in a thread."""
        if task.name == START:
            return self._start(task, state, scope)
        node, arg = self._prepare(task, state, scope.steps_left)
        if failed is None:
            cache = self.cache
            key = None if cache is None or node.cache_policy is None else cache.key(node, arg)
            if key is not None and cache is not None and (write := await cache.aget(node, task, key)):
                return Outcome(write, cached=True)
            try:
                output = await aretrying(node, lambda: self._aonce(node, arg, scope))
                outcome = self._finish(task, node, output, state, scope)
            except Exception as exc:
                if node.error_handler is None or isinstance(exc, ParentCommand):
                    raise
                failed = NodeError(node.name, exc)
            else:
                if key is not None and cache is not None:
                    await cache.aput(node, key, outcome.write)
                return outcome
        handler = self._handler(node)
        try:
            output = await aretrying(handler, lambda: self._aonce(handler, arg, scope, failed))
            outcome = self._finish(task, handler, output, state, scope)
        except (Exception, GraphInterrupt) as exc:
            raise HandlerFailed(exc, failed) from None
        outcome.handled = failed
        return outcome

    async def _aonce(
        self, node: NodeSpec, arg: Any, scope: RunScope, error: NodeError | None = None
    ) -> Any:
        if node.subgraph:
            return self._subgraph_output(await arun_subgraph(node.fn, node.name, arg))
        inject = self._inject[node.name]
        fn = async_twin(node.fn) or node.fn
        if inspect.iscoroutinefunction(fn):
            if inject is None:
                return await fn(arg)
            return await fn(arg, *inject.args(scope), **inject.kwargs(scope, error))
        return await asyncio.to_thread(call, fn, arg, scope, inject, error)

    def _handler(self, node: NodeSpec) -> NodeSpec:
        handler = node.error_handler
        if handler is None:  # a stored failure of a node that has no handler now
            raise InvalidUpdateError(
                f"the checkpoint says node {node.name!r} failed and its error handler is to "
                "run, but this graph gives the node no error_handler; resume with the graph "
                "that wrote the checkpoint"
            )
        return handler

    def _subgraph_output(self, values: Mapping[str, Any] | Command) -> dict[str, Any] | Command:
        """A subgraph's final state as an update: the keys this graph has (or
        the Command one of its nodes handed to this graph)."""
        if isinstance(values, Command):
            return values
        if self.spec.schema.open:
            return dict(values)
        channels = self.spec.schema.channels
        return {k: v for k, v in values.items() if k in channels}

    def _start(self, task: TaskRecord, state: Mapping[str, Any], scope: RunScope) -> Outcome:
        update = task.arg  # filtered when the input checkpoint was made
        goto, fresh = self.routes(START, update, (), state, scope)
        return Outcome(TaskWrite(task.id, START, update, goto), fresh)

    def task_input(self, task: TaskRecord, state: Mapping[str, Any], steps_left: int | None) -> Any:
        """What ``task``'s node is given on ``state`` (as "tasks" streams show it)."""
        return self._prepare(task, state, steps_left)[1]

    def _prepare(
        self, task: TaskRecord, state: Mapping[str, Any], steps_left: int | None = None
    ) -> tuple[NodeSpec, Any]:
        node = self.spec.nodes.get(task.name)
        if node is None:
            raise InvalidUpdateError(
                f"the checkpoint names node {task.name!r}, which this graph does not have; "
                "run it with the graph that wrote the checkpoint"
            )
        if task.push:
            return node, task.arg
        if node.input_schema is not None:  # the node reads through a schema of its own
            keys = node.input_schema.channels
            return node, node.input_schema.to_node_input(
                {k: v for k, v in state.items() if k in keys}, steps_left
            )
        return node, self.spec.schema.to_node_input(state, steps_left)

    def _finish(
        self,
        task: TaskRecord,
        node: NodeSpec,
        output: Any,
        state: Mapping[str, Any],
        scope: RunScope,
    ) -> Outcome:
        update, gotos, shown = self._read_output(node.name, output)
        goto, fresh = self.routes(node.name, update, gotos, state, scope)
        return Outcome(TaskWrite(task.id, node.name, update, goto), fresh, shown=shown)


def _warn_at_user_code(message: str, node: NodeSpec | None) -> None:
    """Warn ``UnknownKeyWarning`` at the node function's definition, or (for
    the input, update_state and subgraphs) at the caller's line outside cairn."""
    fn = node.fn if node is not None else None
    code = getattr(fn, "__code__", None)
    if code is not None:
        where = (code.co_filename, code.co_firstlineno, getattr(fn, "__globals__", {}))
    elif (frame := offload.caller.get() or offload.user_frame()) is not None:
        where = (frame.f_code.co_filename, frame.f_lineno, frame.f_globals)
    else:
        warnings.warn(message, UnknownKeyWarning)
        return
    filename, line, globals_ = where
    warnings.warn_explicit(
        message,
        UnknownKeyWarning,
        filename,
        line,
        module=globals_.get("__name__"),
        registry=globals_.setdefault("__warningregistry__", {}),
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
