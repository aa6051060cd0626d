"""``StateGraph``: the builder a workflow is described with.

Builder methods record nodes and edges and return the builder, so calls
chain. ``compile()`` validates the whole graph, naming the offending node or
edge, and hands a frozen ``GraphSpec`` to the runtime.
"""

from __future__ import annotations

import inspect
import typing
from datetime import timedelta
from typing import Any, Callable, Hashable, Iterable, Literal, Mapping, Sequence, Union

from cairn.cache.base import BaseCache
from cairn.errors import ArgumentTypeError, ConfigError, GraphValidationError, NotCallableError, not_supported
from cairn.graph.constants import END, RESERVED_CHARS, START
from cairn.graph.policies import (
    DEFAULT_HANDLER,
    HANDLER_PREFIX,
    NodeDefaults,
    handler_spec,
    retry_policies,
    timeout_policy,
)
from cairn.graph.policies import cache_policy as cache_policy_of
from cairn.graph.schema import StateSchema, is_schema_class
from cairn.graph.spec import Branch, GraphSpec, NodeSpec
from cairn.types import Command, RetryPolicy, TimeoutPolicy

__all__ = ["Branch", "GraphSpec", "NodeSpec", "StateGraph"]


def _literal_names(annotation: Any) -> tuple[str, ...] | None:
    """Node names a ``Literal[...]`` (possibly inside ``Command[...]``) lists."""
    if typing.get_origin(annotation) is Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    for arg in typing.get_args(annotation):
        names = _literal_names(arg)
        if names is not None:
            return names
    return None


def _return_annotation(fn: Callable[..., Any]) -> Any:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = getattr(fn, "__annotations__", {}) or {}
    return hints.get("return", inspect.Signature.empty)


def _mentions_command(annotation: Any) -> bool:
    if annotation is Command or typing.get_origin(annotation) is Command:
        return True
    return any(_mentions_command(a) for a in typing.get_args(annotation))


def _code_mentions(fn: Callable[..., Any], name: str) -> bool:
    code = getattr(getattr(fn, "__call__", None), "__code__", None)
    code = getattr(fn, "__code__", code)
    if code is None:
        return True  # not plain Python: assume it may route anywhere
    stack = [code]
    while stack:
        current = stack.pop()
        if name in current.co_names:
            return True
        stack.extend(c for c in current.co_consts if inspect.iscode(c))
    return False


def _command_destinations(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    """Where a node's Commands may go: () if it returns none, None if unknown."""
    annotation = _return_annotation(fn)
    if annotation is not inspect.Signature.empty:
        if not _mentions_command(annotation):
            return ()
        return _literal_names(annotation)
    return None if _code_mentions(fn, "Command") else ()


class StateGraph:
    """A graph of nodes over a shared state; ``compile()`` makes it runnable.

    >>> builder = StateGraph(State).add_node("a", a).add_edge(START, "a")
    >>> graph = builder.compile(checkpointer=InMemorySaver())
    """

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        config_schema: Any = None,
        input: Any = None,
        output: Any = None,
    ) -> None:
        """``context_schema``: the type of ``invoke(..., context=...)``, which nodes
        taking ``runtime`` see as ``runtime.context`` (``config_schema``, its
        older LangGraph name, is taken as it when it is alone)."""
        self.schema = StateSchema(state_schema)
        # LangGraph's older names of input_schema / output_schema.
        input_schema = input_schema if input_schema is not None else input
        output_schema = output_schema if output_schema is not None else output
        if input_schema is not None and input_schema is not state_schema:
            self.schema.input_keys = frozenset(self.schema.extend(input_schema))
            self.schema.input_schema = input_schema
        if output_schema is not None and output_schema is not state_schema:
            self.schema.output_keys = self.schema.extend(output_schema)
            self.schema.output_schema = output_schema
        self.state_schema = state_schema
        self.context_schema = context_schema if context_schema is not None else config_schema
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, list[Branch]] = {}
        self.node_defaults = NodeDefaults()

    # -- nodes ---------------------------------------------------------------

    def set_node_defaults(
        self,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: Any = None,
        error_handler: Callable[..., Any] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> "StateGraph":
        """Policies for every node that does not set its own, applied at
        ``compile()``: ``retry_policy`` and ``timeout`` apply to error
        handlers too; ``error_handler`` (run as ``__default_error_handler__``)
        to ordinary nodes only. Not inherited by subgraphs.

        >>> builder.set_node_defaults(retry_policy=RetryPolicy(max_attempts=3), error_handler=fallback)
        """
        defaults = self.node_defaults
        if cache_policy is not None:
            defaults.cache_policy = cache_policy_of(cache_policy, "set_node_defaults")
        if retry_policy is not None:
            defaults.retry_policy = retry_policies(retry_policy, "set_node_defaults")
        if timeout is not None:
            defaults.timeout = timeout_policy(timeout, "set_node_defaults")
        if error_handler is not None:
            defaults.error_handler = handler_spec(
                DEFAULT_HANDLER,
                "set_node_defaults",
                error_handler,
                _command_destinations(error_handler) if callable(error_handler) else (),
            )
        return self

    def add_node(
        self,
        node: Union[str, Callable[..., Any]],
        action: Callable[..., Any] | None = None,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        retry: RetryPolicy | Sequence[RetryPolicy] | None = None,
        defer: bool = False,
        timeout: float | timedelta | TimeoutPolicy | None = None,
        destinations: Sequence[str] | Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        input_schema: Any = None,
        cache_policy: Any = None,
        input: Any = None,
        error_handler: Callable[..., Any] | None = None,
    ) -> "StateGraph":
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)`` (named after fn).

        ``retry_policy``: a ``RetryPolicy``, or several (the first whose
        ``retry_on`` accepts the error retries it); ``retry`` is its older
        name. ``timeout``: seconds, a timedelta or a ``TimeoutPolicy``; an
        attempt past it fails with ``NodeTimeoutError``. ``error_handler``:
        ``(state, error: NodeError)`` run in the task's place when the node
        fails for good; its update and Command routing replace the node's.
        """
        if action is None:
            if isinstance(node, str):
                raise GraphValidationError(
                    f"add_node({node!r}) needs a function to run: add_node({node!r}, fn)"
                )
            # A function by its name, a callable instance by its class's, as LangGraph.
            action = node
            name = getattr(node, "name", None) or getattr(node, "__name__", type(node).__name__)
            if not isinstance(name, str):
                raise GraphValidationError(
                    f"cannot name node {node!r}: pass a name, add_node('name', fn)"
                )
        else:
            name = node  # type: ignore[assignment]
        if not isinstance(name, str) or not name:
            raise GraphValidationError(f"node name must be a non-empty string, got {name!r}")
        if name in (START, END):
            raise GraphValidationError(f"node name {name!r} is reserved; choose another name")
        for char in RESERVED_CHARS:
            if char in name:
                raise GraphValidationError(
                    f"node name {name!r} contains {char!r}, which is reserved; choose another name"
                )
        if name in self.nodes:
            raise GraphValidationError(
                f"node {name!r} is already in the graph; node names must be unique"
            )
        subgraph = bool(getattr(action, "is_cairn_graph", False))
        if not callable(action) and not subgraph:
            raise NotCallableError(
                f"node {name!r}: {action!r} is not callable; pass a function, a runnable or a "
                "compiled graph"
            )
        if name.startswith(HANDLER_PREFIX) or name == DEFAULT_HANDLER:
            raise GraphValidationError(
                f"node name {name!r} is reserved for error handlers; choose another name"
            )
        where = f"node {name!r}"
        try:
            policy = timeout_policy(timeout, where)
        except ConfigError as exc:
            raise GraphValidationError(str(exc)) from None
        handler = None
        if error_handler is not None:
            handler = handler_spec(
                HANDLER_PREFIX + name,
                where,
                error_handler,
                _command_destinations(error_handler) if callable(error_handler) else (),
            )
        if destinations is not None:
            dests: tuple[str, ...] | None = tuple(destinations)
        elif subgraph:
            dests = ()
        else:
            dests = _command_destinations(action)
        self.nodes[name] = NodeSpec(
            name=name,
            fn=action,
            retry_policy=retry_policies(retry_policy if retry_policy is not None else retry, where),
            defer=defer,
            timeout=policy,
            destinations=dests,
            metadata=dict(metadata or {}),
            subgraph=subgraph,
            input_schema=self._node_input(action, input_schema if input_schema is not None else input),
            error_handler=handler,
            cache_policy=cache_policy_of(cache_policy, where),
        )
        return self

    def _node_input(self, action: Any, given: Any) -> StateSchema | None:
        """The schema a node reads the state through: ``input_schema=``, else
        its first parameter's annotation when that is a schema class other
        than the state's (LangGraph's private state). Its keys become channels."""
        schema = given if given is not None else _first_parameter_schema(action)
        if schema is None or schema is self.schema.schema:
            return None
        self.schema.extend(schema)
        return StateSchema(schema)

    def add_sequence(
        self, nodes: Sequence[Union[Callable[..., Any], tuple[str, Callable[..., Any]]]]
    ) -> "StateGraph":
        """Add nodes that run one after the other, with edges between them."""
        if not nodes:
            raise GraphValidationError("add_sequence needs at least one node")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, fn = item
                self.add_node(name, fn)
            else:
                self.add_node(item)
                name = list(self.nodes)[-1]
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    # -- edges ---------------------------------------------------------------

    def add_edge(self, start_key: Union[str, Sequence[str]], end_key: str) -> "StateGraph":
        """``add_edge(a, b)``: b runs after a. ``add_edge([a, b], c)``: c waits for both."""
        if isinstance(start_key, str):
            if start_key == END:
                raise GraphValidationError("END cannot be the start of an edge")
            if end_key == START:
                raise GraphValidationError("START cannot be the end of an edge")
            self.edges.append((start_key, end_key))
            return self
        sources = tuple(start_key)
        if not sources:
            raise GraphValidationError(f"add_edge([], {end_key!r}) needs at least one source")
        for source in sources:
            if source == END:
                raise GraphValidationError("END cannot be the start of an edge")
        if end_key == START:
            raise GraphValidationError("START cannot be the end of an edge")
        self.joins.append((sources, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Union[Mapping[Hashable, str], Sequence[str], None] = None,
    ) -> "StateGraph":
        """After ``source``, ``path(state)`` names the next node(s), END, or Sends."""
        if not callable(path):
            raise NotCallableError(
                f"add_conditional_edges({source!r}, ...): path {path!r} is not callable; pass a "
                "function of the state that names the next node(s)"
            )
        ends: Mapping[Hashable, str] | None
        if path_map is None:
            names = _literal_names(_return_annotation(path))
            ends = {n: n for n in names} if names else None
        elif isinstance(path_map, Mapping):
            ends = dict(path_map)
        else:
            ends = {n: n for n in path_map}
        self.branches.setdefault(source, []).append(Branch(path, ends))
        return self

    def set_entry_point(self, key: str) -> "StateGraph":
        """The same as ``add_edge(START, key)``."""
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: Any = None
    ) -> "StateGraph":
        """The same as ``add_conditional_edges(START, path, path_map)``."""
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> "StateGraph":
        """The same as ``add_edge(key, END)``."""
        return self.add_edge(key, END)

    # -- compile -------------------------------------------------------------

    def validate(self, interrupt: Iterable[str] = ()) -> GraphSpec:
        """Check the graph and freeze it; raises GraphValidationError naming the problem."""
        known = set(self.nodes)

        def check_source(source: str, what: str) -> None:
            if source != START and source not in known:
                raise GraphValidationError(
                    f"{what} starts at unknown node {source!r}; add it with add_node first"
                )

        def check_target(target: str, what: str) -> None:
            if target != END and target not in known:
                raise GraphValidationError(
                    f"{what} ends at unknown node {target!r}; add it with add_node first"
                )

        for source, target in self.edges:
            check_source(source, f"edge {source!r} -> {target!r}")
            check_target(target, f"edge {source!r} -> {target!r}")
        for sources, target in self.joins:
            for source in sources:
                check_source(source, f"edge {list(sources)!r} -> {target!r}")
            check_target(target, f"edge {list(sources)!r} -> {target!r}")
        for source, branches in self.branches.items():
            check_source(source, "conditional edge")
            for branch in branches:
                for target in (branch.ends or {}).values():
                    check_target(target, f"conditional edge from {source!r}")
        nodes = {name: self.node_defaults.apply(node) for name, node in self.nodes.items()}
        for node in nodes.values():
            for target in node.destinations or ():
                check_target(target, f"Command destination of node {node.name!r}")
            for target in (node.error_handler.destinations or ()) if node.error_handler else ():
                check_target(target, f"Command destination of the error handler of {node.name!r}")
        for name in interrupt:
            if name != "*" and name not in known:
                raise GraphValidationError(
                    f"interrupt_before/interrupt_after names unknown node {name!r}; "
                    f"the nodes are {sorted(known)}"
                )
        if not any(s == START for s, _ in self.edges) and START not in self.branches:
            raise GraphValidationError(
                "the graph has no entry point: add an edge from START, e.g. "
                "builder.add_edge(START, 'first') or builder.set_entry_point('first')"
            )
        self._check_reachable(nodes)

        edges: dict[str, list[str]] = {}
        for source, target in self.edges:
            if target not in edges.setdefault(source, []):
                edges[source].append(target)
        merged: dict[str, set[str]] = {}
        for sources, target in self.joins:
            merged.setdefault(target, set()).update(sources)
        joins = {target: frozenset(sources) for target, sources in merged.items()}
        by_source: dict[str, list[str]] = {}
        for target, waited in joins.items():
            for source in waited:
                by_source.setdefault(source, []).append(target)
        return GraphSpec(
            schema=self.schema,
            nodes=nodes,
            edges={k: tuple(v) for k, v in edges.items()},
            joins=joins,
            branches={k: tuple(v) for k, v in self.branches.items()},
            joins_by_source={k: tuple(v) for k, v in by_source.items()},
            order={name: i for i, name in enumerate(self.nodes)},
        )

    def _check_reachable(self, nodes: Mapping[str, NodeSpec]) -> None:
        """Every node must be reachable from START by some edge, branch or
        Command (a node's error handler routes on the node's behalf)."""
        targets: dict[str, set[str]] = {}
        wildcard: set[str] = set()
        for source, target in self.edges:
            targets.setdefault(source, set()).add(target)
        for sources, target in self.joins:
            for source in sources:
                targets.setdefault(source, set()).add(target)
        for source, branches in self.branches.items():
            for branch in branches:
                if branch.ends is None:
                    wildcard.add(source)
                else:
                    targets.setdefault(source, set()).update(branch.ends.values())
        for node in nodes.values():
            if node.subgraph:  # its nodes may hand off to any node here (Command.PARENT)
                wildcard.add(node.name)
            for routed in (node, node.error_handler):
                if routed is None:
                    continue
                if routed.destinations is None:
                    wildcard.add(node.name)
                else:
                    targets.setdefault(node.name, set()).update(routed.destinations)
        seen, frontier = {START}, [START]
        while frontier:
            current = frontier.pop()
            if current in wildcard:
                return
            for target in targets.get(current, ()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        unreachable = [name for name in self.nodes if name not in seen]
        if unreachable:
            raise GraphValidationError(
                f"node {unreachable[0]!r} can never run: no edge, conditional edge or Command "
                f"from START leads to it; add an edge to it or remove it"
            )

    def compile(
        self,
        checkpointer: Any = None,
        *,
        interrupt_before: Union[str, Sequence[str], None] = None,
        interrupt_after: Union[str, Sequence[str], None] = None,
        cache: Any = None,
        store: Any = None,
        name: str | None = None,
        strict: bool = False,
        debug: bool = False,
        observers: Sequence[Any] = (),
    ) -> Any:
        """Validate the graph and return a runnable ``CompiledStateGraph``.

        ``store`` is handed to nodes taking ``store`` or ``runtime`` (and to
        ``get_store()``). ``strict=True`` makes an update key that is not in
        the schema an error instead of a warning. ``observers`` (cairn's own)
        watch every run: metrics and tracing hooks (``cairn.otel.instrument()``,
        ``cairn.runtime.observe``).
        """
        from cairn.runtime.compiled import CompiledStateGraph
        from cairn.runtime.observe import check_observers

        not_supported("compile", debug=debug)
        if cache is not None and not isinstance(cache, BaseCache):
            raise ArgumentTypeError(
                f"compile(cache={cache!r}): not a cache; pass InMemoryCache() from "
                "cairn.cache.memory (or another cairn.cache.base.BaseCache)"
            )
        before = _names(interrupt_before)
        after = _names(interrupt_after)
        spec = self.validate([*before, *after])
        return CompiledStateGraph(
            spec,
            checkpointer=checkpointer,
            interrupt_before=before,
            interrupt_after=after,
            name=name or "LangGraph",
            strict=strict,
            builder=self,
            store=store,
            cache=cache,
            observers=check_observers(observers, "compile(observers=...)"),
        )


def _first_parameter_schema(action: Any) -> Any:
    """The schema class annotating ``action``'s first parameter, or None."""
    target = action if inspect.isfunction(action) or inspect.ismethod(action) else getattr(action, "__call__", None)
    if target is None:
        return None
    try:
        first = next(iter(inspect.signature(target).parameters.values()), None)
        hints = typing.get_type_hints(target) if first is not None else {}
    except Exception:  # noqa: BLE001 - unresolvable annotations: no input schema
        return None
    hint = hints.get(first.name) if first is not None else None
    return hint if is_schema_class(hint) else None


def _names(value: Union[str, Sequence[str], None]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def __getattr__(name: str) -> Any:
    # ``from cairn.graph.state import CompiledStateGraph``, as from LangGraph's
    # module; imported when asked for, since the runtime imports this package.
    if name == "CompiledStateGraph":
        from cairn.runtime.compiled import CompiledStateGraph

        return CompiledStateGraph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
