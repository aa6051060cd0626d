"""``CompiledStateGraph``: what ``StateGraph.compile()`` returns, and the
public surface of running a graph: invoke, stream, get_state,
get_state_history and update_state."""

from __future__ import annotations

from functools import partial
from typing import Any, AsyncIterator, Iterator, Mapping, Sequence, Union

from cairn.cache.base import BaseCache
from cairn.checkpoint.base import BaseCheckpointSaver, CheckpointRecord
from cairn.errors import (
    ArgumentTypeError,
    CheckpointerModeError,
    ConfigError,
    InvalidUpdateError,
    not_supported,
)
from cairn.current import TaskContext, current
from cairn.graph.spec import GraphSpec
from cairn.runtime import offload
from cairn.runtime.caching import cache_namespaces
from cairn.runtime.config import RunConfig, canonical, read_config, require_thread
from cairn.runtime.context import Binding, Runtime
from cairn.runtime.event_stream import EventFilter, event_stream
from cairn.runtime.events import STREAM_MODES, Events
from cairn.runtime.heads import HeadCache
from cairn.runtime.leases import ThreadHold
from cairn.runtime.loop import Cancel, Run
from cairn.runtime.observe import Observer
from cairn.runtime.parts import Parts, is_v2
from cairn.runtime.snapshot import HistoryStates, build_snapshot, empty_snapshot, matches
from cairn.runtime.state import apply_updates, fold, ordered_writes
from cairn.runtime.subgraphs import bound, subgraph_configs, subgraph_ns
from cairn.runtime.surface import RunnableSurface
from cairn.runtime.tasks import TaskRunner
from cairn.runtime.updates import write_supersteps
from cairn.types import GraphOutput, StateSnapshot, StateUpdate

class CompiledStateGraph(RunnableSurface):
    """A validated graph, ready to run. Safe to share between threads."""

    is_cairn_graph = True
    """Marks a compiled graph, which ``add_node`` accepts as a subgraph."""
    depth = 0
    """How many subgraph levels below the top graph this one runs."""

    def __init__(
        self,
        spec: GraphSpec,
        *,
        checkpointer: BaseCheckpointSaver | bool | None,
        interrupt_before: Sequence[str],
        interrupt_after: Sequence[str],
        name: str,
        strict: bool,
        builder: Any,
        store: Any = None,
        cache: BaseCache | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.spec = spec
        self.observers: tuple[Observer, ...] = tuple(observers)
        """What watches every run of the graph (``compile(observers=...)``;
        ``runtime/observe.py``), before those of a call's config."""
        self.stored_types = stored_types(spec)
        """The classes whose values this graph's state (and its subgraphs')
        may hold: registered into the serializer of every saver it runs on."""
        self.persistence = _PERSISTENCE.get(checkpointer, "task") if isinstance(checkpointer, bool) else "task"
        """How the graph stores as a subgraph: "task" (a namespace per parent
        task: checkpointer None, the parent's saver), "thread" (one namespace
        per thread, kept across the parent's runs: checkpointer=True) or
        "none" (nothing: checkpointer=False)."""
        self.checkpointer = None if isinstance(checkpointer, bool) else checkpointer
        self.interrupt_before_nodes = tuple(interrupt_before)
        self.interrupt_after_nodes = tuple(interrupt_after)
        self.name = name
        self.builder = builder
        self.store = store
        """What nodes receive as ``store`` (``compile(store=...)``); subgraphs
        without one of their own use their parent's."""
        self.cache = cache
        """Where nodes with a ``cache_policy`` find their results (``compile(cache=...)``)."""
        if cache is not None:
            cache.register(*self.stored_types)
        self.runner = TaskRunner(spec, strict, cache)
        self.heads = HeadCache()
        self._has_subgraphs = any(n.subgraph for n in spec.nodes.values())

    @property
    def checkpointer(self) -> BaseCheckpointSaver | None:
        """Where the graph's checkpoints are stored (None: nowhere)."""
        return self._checkpointer

    @checkpointer.setter
    def checkpointer(self, saver: BaseCheckpointSaver | None) -> None:
        # Registering the classes the state may hold into the saver's own
        # serializer, not the process: another saver in the same process
        # stores only what its own graphs declare.
        if saver is not None:
            if not isinstance(saver, BaseCheckpointSaver):
                raise ArgumentTypeError(
                    f"checkpointer must be a cairn saver such as "
                    f"cairn.checkpoint.memory.InMemorySaver(), got "
                    f"{type(saver).__module__}.{type(saver).__qualname__}"
                )
            if saver.serde.unknown != "error":
                raise ConfigError(
                    f"this saver's serializer reads values of unknown classes as OpaqueValue "
                    f"(unknown={saver.serde.unknown!r}): that is for looking at a store, and a "
                    "graph run on it would resume with records in place of its values. Compile "
                    "the graph with a saver made without unknown="
                )
            saver.serde.register(*self.stored_types)
            if self.depth == 0:  # a subgraph's twin is handed its fold where it runs
                hand_folds(saver, self.spec, ())
        self._checkpointer = saver

    @property
    def nodes(self) -> Mapping[str, Any]:
        return self.spec.nodes

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Drop the cached results of ``nodes`` (all the graph's when None)."""
        cache, namespaces = cache_namespaces(self.runner.cache, self.spec, nodes)
        cache.clear(namespaces)

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """The async twin of ``clear_cache``."""
        cache, namespaces = cache_namespaces(self.runner.cache, self.spec, nodes)
        await cache.aclear(namespaces)

    # -- running -------------------------------------------------------------

    def nested_run(
        self,
        config: RunConfig,
        runtime: Runtime[Any],
        binding: Binding | None,
        fresh: bool,
        events: Events | None,
        interrupts_of: TaskContext[Any] | None,
    ) -> Run:
        """A run of this graph as a subgraph node's (``runtime/subgraphs.py``):
        with the parent run's durability, lease and runtime, streaming into
        ``events`` (the parent's stream, when it streams subgraphs)."""
        return Run(
            self,
            config,
            durability=binding.durability if binding is not None else "sync",
            interrupt_before=self.interrupt_before_nodes,
            interrupt_after=self.interrupt_after_nodes,
            lease=binding.lease if binding is not None else None,
            fresh=fresh,
            parent_runtime=runtime,
            events=events,
            parents=binding.child_parents() if binding is not None else None,
            interrupts_of=interrupts_of,
        )

    def _run(
        self,
        config: Any,
        durability: str | None,
        interrupt_before: Union[str, Sequence[str], None],
        interrupt_after: Union[str, Sequence[str], None],
        context: Any,
        stream_mode: Union[str, Sequence[str], None] = None,
        subgraphs: bool = False,
        cancel: Cancel | None = None,
        parts: bool = False,
    ) -> Run:
        self._refuse_as_root()
        before = self._interrupt_names(interrupt_before, self.interrupt_before_nodes)
        after = self._interrupt_names(interrupt_after, self.interrupt_after_nodes)
        events = None
        if stream_mode is not None:
            single = isinstance(stream_mode, str)
            events = Events(_modes(stream_mode), single, self.spec.schema, subgraphs=subgraphs, parts=parts)
        return Run(
            self,
            read_config(config),
            durability=durability,
            interrupt_before=before,
            interrupt_after=after,
            events=events,
            context=context,
            # Run inside a node without a saver of its own: its interrupts are the node's.
            interrupts_of=current.get() if self.checkpointer is None else None,
            cancel=cancel,
        )

    def _interrupt_names(
        self, given: Union[str, Sequence[str], None], default: tuple[str, ...]
    ) -> tuple[str, ...]:
        if given is None:
            return default
        names = (given,) if isinstance(given, str) else tuple(given)
        for name in names:
            if name != "*" and name not in self.spec.nodes:
                raise ConfigError(
                    f"interrupt_before/interrupt_after names unknown node {name!r}; the nodes "
                    f"are {sorted(self.spec.nodes)}"
                )
        return names

    def invoke(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Union[str, Sequence[str]] = "values",
        print_mode: Union[str, Sequence[str]] = (),
        output_keys: Union[str, Sequence[str], None] = None,
        interrupt_before: Union[str, Sequence[str], None] = None,
        interrupt_after: Union[str, Sequence[str], None] = None,
        durability: str | None = None,
        checkpoint_during: bool | None = None,
        debug: bool | None = None,
        cancel: Cancel | None = None,
        version: str = "v1",
    ) -> Any:
        """Run the graph to the end (or to an interrupt) and return the final state.

        ``input`` is a dict of state values, ``None`` to resume the thread (or
        replay from the checkpoint the config names), or ``Command(resume=...)``.
        When the run paused on ``interrupt()``, the result also holds
        ``"__interrupt__": [Interrupt, ...]``. ``context`` is what nodes see
        as ``runtime.context``. ``cancel`` (cairn's own; a ``threading.Event``
        or an ``asyncio.Event``): once set, the run stops after the step
        running then commits, raising ``RunCancelledError``; ``invoke(None,
        config)`` goes on from there. ``version="v2"``: a ``GraphOutput``
        (``.value``, ``.interrupts``) in place of the state, or with another
        ``stream_mode`` a list of ``StreamPart`` dicts.
        """
        not_supported("invoke", print_mode=print_mode, output_keys=output_keys, debug=debug)
        v2 = is_v2(version)
        durability = _durability(durability, checkpoint_during)
        if stream_mode != "values":
            return list(
                self.stream(
                    input,
                    config,
                    context=context,
                    stream_mode=stream_mode,
                    durability=durability,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                    cancel=cancel,
                    version=version,
                )
            )
        run = self._run(config, durability, interrupt_before, interrupt_after, context, cancel=cancel)
        for _ in run.steps(input):
            pass
        return self._output(run) if v2 else self._result(run)

    async def ainvoke(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Union[str, Sequence[str]] = "values",
        print_mode: Union[str, Sequence[str]] = (),
        output_keys: Union[str, Sequence[str], None] = None,
        interrupt_before: Union[str, Sequence[str], None] = None,
        interrupt_after: Union[str, Sequence[str], None] = None,
        durability: str | None = None,
        checkpoint_during: bool | None = None,
        debug: bool | None = None,
        cancel: Cancel | None = None,
        version: str = "v1",
    ) -> Any:
        """The async twin of ``invoke``: async nodes run on the event loop."""
        not_supported("ainvoke", print_mode=print_mode, output_keys=output_keys, debug=debug)
        v2 = is_v2(version)
        durability = _durability(durability, checkpoint_during)
        if stream_mode != "values":
            return [
                chunk
                async for chunk in self.astream(
                    input,
                    config,
                    context=context,
                    stream_mode=stream_mode,
                    durability=durability,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                    cancel=cancel,
                    version=version,
                )
            ]
        run = self._run(config, durability, interrupt_before, interrupt_after, context, cancel=cancel)
        async for _ in run.asteps(input):
            pass
        return self._output(run) if v2 else self._result(run)

    def _result(self, run: Run) -> dict[str, Any] | None:
        result = self.spec.schema.output(run.values)
        if result == {} and not run.interrupts:
            return None  # nothing in the state: LangGraph returns None too
        if run.interrupts:
            if not isinstance(result, dict):  # an entrypoint's, a state of one value: as LangGraph,
                result = {}  # the interrupts in place of the value
            result["__interrupt__"] = list(run.interrupts)
        return result

    def _output(self, run: Run) -> GraphOutput[Any]:
        """What ``invoke(version="v2")`` returns: the state (as the output
        schema's class when it is a model or dataclass) and the interrupts."""
        value = self.spec.schema.output(run.values)
        if value == {} and not run.interrupts:
            value = None
        elif run.interrupts and not isinstance(value, dict):
            value = {}  # a paused entrypoint (or state of one value), as LangGraph shows it
        interrupts = tuple(run.interrupts)
        make = Parts(self.spec.schema).output
        if make is not None and isinstance(value, dict):
            value = make(value)
        return GraphOutput(value, interrupts)

    def stream(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Union[str, Sequence[str]] = "updates",
        print_mode: Union[str, Sequence[str]] = (),
        output_keys: Union[str, Sequence[str], None] = None,
        interrupt_before: Union[str, Sequence[str], None] = None,
        interrupt_after: Union[str, Sequence[str], None] = None,
        durability: str | None = None,
        subgraphs: bool = False,
        checkpoint_during: bool | None = None,
        debug: bool | None = None,
        cancel: Cancel | None = None,
        version: str = "v1",
    ) -> Iterator[Any]:
        """Run the graph, yielding as it goes, in each mode asked for:
        "updates" (each node's update as it finishes; the default, as in
        LangGraph), "values" (the state after each step),
        "checkpoints" (each checkpoint, shaped like get_state), "tasks" (each
        task's start and result), "debug" (all of those, with the step and a
        timestamp) and "custom" (what nodes send to ``get_stream_writer()``).
        With a list of modes, ``(mode, chunk)`` pairs. With ``subgraphs=True``,
        subgraphs' chunks too, each prefixed by the namespace it comes from:
        ``(namespace, chunk)`` or ``(namespace, mode, chunk)``, where the
        namespace is ``()`` for this graph and ``("node:<task id>", ...)`` for a
        subgraph's. With ``version="v2"``, every chunk is a ``StreamPart``
        dict instead (``{"type": mode, "ns": namespace, "data": chunk}``, and
        ``"interrupts"`` on "values" parts), in every mode and shape."""
        not_supported("stream", print_mode=print_mode, output_keys=output_keys, debug=debug)
        durability = _durability(durability, checkpoint_during)
        run = self._run(
            config, durability, interrupt_before, interrupt_after, context, stream_mode, subgraphs, cancel,
            is_v2(version),
        )
        events = run.events
        assert events is not None
        steps = run.steps(input)
        try:
            for _ in steps:
                yield from events.take()
        except Exception:
            yield from events.take()
            raise
        finally:
            steps.close()  # a reader that stops early ends the run here, not when collected
        yield from events.take()

    async def astream_events(
        self,
        input: Any,
        config: Any = None,
        *,
        version: str = "v2",
        context: Any = None,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """The run as LangChain's event stream (version "v2"): on_chain_start,
        on_chain_stream and on_chain_end for the graph and each node's task,
        on_chat_model_start/_stream/_end for the chat models nodes call."""
        keep = EventFilter(include_names, include_types, include_tags, exclude_names, exclude_types, exclude_tags)

        def run() -> AsyncIterator[Any]:
            return self.astream(input, config, context=context, stream_mode=_EVENT_MODES)

        async for event in event_stream(self.name, input, run, keep, version):
            yield event

    async def astream(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Union[str, Sequence[str]] = "updates",
        print_mode: Union[str, Sequence[str]] = (),
        output_keys: Union[str, Sequence[str], None] = None,
        interrupt_before: Union[str, Sequence[str], None] = None,
        interrupt_after: Union[str, Sequence[str], None] = None,
        durability: str | None = None,
        subgraphs: bool = False,
        checkpoint_during: bool | None = None,
        debug: bool | None = None,
        cancel: Cancel | None = None,
        version: str = "v1",
    ) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        not_supported("astream", print_mode=print_mode, output_keys=output_keys, debug=debug)
        durability = _durability(durability, checkpoint_during)
        run = self._run(
            config, durability, interrupt_before, interrupt_after, context, stream_mode, subgraphs, cancel,
            is_v2(version),
        )
        events = run.events
        assert events is not None
        steps = run.asteps(input)
        try:
            async for _ in steps:
                for chunk in events.take():
                    yield chunk
        except Exception:
            for chunk in events.take():
                yield chunk
            raise
        finally:
            await steps.aclose()  # a reader that stops early ends the run here, not when collected
        for chunk in events.take():
            yield chunk

    # -- reading state -------------------------------------------------------

    def _refuse_as_root(self) -> None:
        if self.persistence == "thread" and self.depth == 0:
            raise CheckpointerModeError(
                "this graph was compiled with checkpointer=True, which keeps a subgraph's "
                "memory under its parent's saver; add it as a node of a graph compiled with a "
                "saver, or compile it with checkpointer=InMemorySaver() (or another saver) to run it"
            )

    def _saver(self, what: str) -> BaseCheckpointSaver:
        self._refuse_as_root()
        if self.checkpointer is None:
            raise ConfigError(
                f"{what} needs a checkpointer: compile the graph with "
                "builder.compile(checkpointer=InMemorySaver()) or another saver"
            )
        return self.checkpointer

    def values_at(self, checkpoint: CheckpointRecord) -> dict[str, Any]:
        """The full state at a stored checkpoint."""
        cached = self.heads.get(checkpoint.thread_id, checkpoint.ns, checkpoint.id)
        if cached is not None:
            return cached
        saver = self._saver("reading state")
        return fold(self.spec.schema, saver.get_chain(checkpoint.thread_id, checkpoint.ns, checkpoint.id))

    def get_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's head, or the checkpoint ``config`` names (an empty
        snapshot when there is none)."""
        saver = self._saver("get_state")
        rc = read_config(config)
        thread = require_thread(rc, "get_state")
        owner = self._owner_of(rc.checkpoint_ns, saver)
        if owner is not self:
            return owner.get_state(config, subgraphs=subgraphs)
        checkpoint = saver.load(thread, rc.checkpoint_ns, rc.checkpoint_id)
        if checkpoint is None:
            return empty_snapshot(thread, rc.checkpoint_ns, rc.checkpoint_id)
        child = saver.first_child(thread, rc.checkpoint_ns, checkpoint.id)
        # A past checkpoint's pending writes are its tasks' errors and interrupts.
        pending = saver.get_pending(thread, rc.checkpoint_ns, checkpoint.id)
        values = self.values_at(checkpoint)
        updates = [w.value for w in pending if w.kind == "update"]  # Command(resume=, update=)
        if updates:
            values = apply_updates(self.spec.schema, values, [(w.name, w.update) for w in updates], step=False)
        finished = {w.task_id: w.value for w in pending if w.kind == "result"}
        if finished:
            # As LangGraph: the head shows what the finished tasks of a failed step wrote,
            # unless their writes conflict (the step's own failure): the thread stays readable.
            writes = ordered_writes(checkpoint.tasks, finished)
            try:
                values = apply_updates(self.spec.schema, dict(values), [(w.name, w.update) for w in writes])
            except InvalidUpdateError:
                pass
        snapshot = build_snapshot(checkpoint, self.spec.schema.ordered(values), pending, child)
        if subgraphs:
            return self._with_subgraphs(snapshot, saver)
        return self._with_subgraph_configs(snapshot)

    def _with_subgraph_configs(self, snapshot: StateSnapshot) -> StateSnapshot:
        """``snapshot`` with each subgraph task's ``state`` the config of the
        subgraph's checkpoints, as LangGraph shows it without ``subgraphs=True``."""
        if not self._has_subgraphs or not snapshot.tasks:
            return snapshot
        config = snapshot.config["configurable"]
        states = subgraph_configs(self.spec, config["thread_id"], config["checkpoint_ns"], snapshot.tasks)
        return snapshot._replace(tasks=tuple(t._replace(state=states[t.id]) if t.id in states else t for t in snapshot.tasks))

    def _owner_of(self, ns: str, saver: BaseCheckpointSaver) -> "CompiledStateGraph":
        """The graph whose checkpoints live in namespace ``ns``: this one, or
        the subgraph (of a subgraph...) the namespace names."""
        parts = ns.split("|") if ns else []
        if len(parts) <= self.depth:
            return self
        name = parts[self.depth].split(":", 1)[0]
        node = self.spec.nodes.get(name)
        if node is None or not node.subgraph:
            raise ConfigError(
                f"checkpoint_ns {ns!r} names {name!r}, which is not a subgraph node of this "
                f"graph; its subgraph nodes are {sorted(n for n, s in self.spec.nodes.items() if s.subgraph)}"
            )
        return bound(node.fn, saver, self.depth + 1)._owner_of(ns, saver)

    def _with_subgraphs(self, snapshot: StateSnapshot, saver: BaseCheckpointSaver) -> StateSnapshot:
        """``snapshot`` with the state of each subgraph task that has stored any."""
        tasks = []
        for task in snapshot.tasks:
            ns = subgraph_ns(self.spec, task.name, task.id, snapshot.config["configurable"]["checkpoint_ns"])
            if ns is not None:  # as LangGraph: the subgraph's snapshot, empty when it has stored none
                child = canonical(snapshot.config["configurable"]["thread_id"], ns, None)
                sub = bound(self.spec.nodes[task.name].fn, saver, self.depth + 1)
                task = task._replace(state=sub.get_state(child, subgraphs=True))
            tasks.append(task)
        return snapshot._replace(tasks=tuple(tasks))

    def get_state_history(
        self,
        config: Any,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Snapshots of every checkpoint of the thread, newest first, all branches.

        Reads what it yields: the saver lists the ``limit`` checkpoints (from
        ``before``, matching ``filter``) newest first, and each state is
        folded from the page or from one chain back to a stored snapshot. A
        filter on ``writes`` (which the saver does not store as metadata) is
        checked here, on pages of rows."""
        saver = self._saver("get_state_history")
        rc = read_config(config)
        thread = require_thread(rc, "get_state_history")
        owner = self._owner_of(rc.checkpoint_ns, saver)
        if owner is not self:
            yield from owner.get_state_history(config, filter=filter, before=before, limit=limit)
            return
        ns = rc.checkpoint_ns
        before_id = read_config(before).checkpoint_id if before is not None else None
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ConfigError(f"limit must be a whole number >= 0, got {limit!r}")
        if limit == 0:
            return
        schema = self.spec.schema
        states = HistoryStates(
            schema,
            [],
            lambda cid: saver.get_chain(thread, ns, cid),
            getattr(saver, "location", f"this {type(saver).__name__}"),
        )
        first_child: dict[str, CheckpointRecord] = {}
        count = 0
        # A page without a filter holds every checkpoint from the newest it
        # lists to ``before``: a record's first child is in it or at/after
        # ``before``. A filtered page skips checkpoints, its children too.
        contiguous = not filter
        for page in _pages(saver, thread, ns, before_id, limit, filter):
            states.add(page)
            pending = saver.get_pending_many(thread, ns, [record.id for record in page])
            for record in page:  # newest first: a record's children come before it
                if contiguous and record.parent_id is not None:  # the last child seen is the oldest
                    first_child[record.parent_id] = record
                child = first_child.get(record.id)
                if child is None and (before_id is not None or not contiguous):
                    child = saver.first_child(thread, ns, record.id)
                snapshot = build_snapshot(
                    record,
                    states.take(record),
                    pending.get(record.id, ()),
                    child,
                )
                if filter and not matches(snapshot.metadata or {}, filter):
                    continue
                count += 1
                yield self._with_subgraph_configs(snapshot)
                if limit is not None and count >= limit:
                    return

    # -- editing state -------------------------------------------------------

    def update_state(
        self, config: Any, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """Write ``values`` as a new checkpoint on top of the one ``config`` names
        (the head if none), as if ``as_node`` had returned them (``"__input__"``:
        as a run's input; ``"__copy__"`` with values None: a copy of the
        checkpoint). Returns the new checkpoint's config; ``invoke(None,
        that_config)`` continues from it."""
        return self.bulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    def bulk_update_state(self, config: Any, supersteps: Sequence[Sequence[StateUpdate]]) -> dict[str, Any]:
        """Write each superstep of ``StateUpdate``s as one checkpoint, each on
        top of the one before (see ``update_state``); the last one's config."""
        owner, rc, hold = self._update_target(config)
        if owner is not self:  # a subgraph's checkpoint: its own schema applies
            return owner.bulk_update_state(config, supersteps)
        hold.take()
        try:
            return write_supersteps(self, hold.saver, hold.lease, rc, supersteps)
        finally:
            hold.release()

    def _update_target(self, config: Any) -> tuple["CompiledStateGraph", RunConfig, ThreadHold]:
        """The graph whose checkpoint ``config`` names, the config read, and
        the hold on the thread an update takes (when it is this graph's)."""
        saver = self._saver("update_state")
        rc = read_config(config)
        thread = require_thread(rc, "update_state")
        return self._owner_of(rc.checkpoint_ns, saver), rc, ThreadHold(saver, thread)

    async def aget_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """The async twin of ``get_state``: reads on the saver's I/O threads."""
        return await offload.call(self.checkpointer, partial(self.get_state, config, subgraphs=subgraphs))

    async def aget_state_history(
        self,
        config: Any,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """The async twin of ``get_state_history``: reads a page at a time on
        the saver's I/O threads."""
        history = self.get_state_history(config, filter=filter, before=before, limit=limit)
        async for snapshot in offload.iterate(self.checkpointer, history):
            yield snapshot

    async def aupdate_state(
        self, config: Any, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """The async twin of ``update_state``: waits for a busy thread with
        ``asyncio.sleep`` and writes on the saver's I/O threads."""
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node, task_id)]])

    async def abulk_update_state(
        self, config: Any, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> dict[str, Any]:
        """The async twin of ``bulk_update_state``."""
        owner, rc, hold = self._update_target(config)
        if owner is not self:
            return await owner.abulk_update_state(config, supersteps)
        await hold.atake()
        try:
            return await offload.call(
                hold.saver, write_supersteps, self, hold.saver, hold.lease, rc, supersteps
            )
        finally:
            await offload.call(hold.saver, hold.release)


_PERSISTENCE = {True: "thread", False: "none"}
"""compile(checkpointer=True/False): how the graph stores as a subgraph."""

_WRITES_PAGE = 256
"""Rows a history filtered on ``writes`` reads at a time."""


def _pages(
    saver: BaseCheckpointSaver,
    thread: str,
    ns: str,
    before: str | None,
    limit: int | None,
    filter: Mapping[str, Any] | None,
) -> Iterator[list[CheckpointRecord]]:
    """A thread's checkpoints older than ``before`` whose metadata match
    ``filter``, newest first: the saver's page of the ``limit`` newest (all
    without a limit). ``metadata["writes"]`` is made from a checkpoint's
    writes, not stored: a filter on it cannot say how many rows hold
    ``limit`` matches, and reads pages of ``_WRITES_PAGE`` rows."""
    stored = {k: v for k, v in filter.items() if k != "writes"} if filter else None
    if not filter or "writes" not in filter:
        yield list(saver.list_checkpoints(thread, ns, before=before, limit=limit, filter=stored))
        return
    while True:
        page = list(saver.list_checkpoints(thread, ns, before=before, limit=_WRITES_PAGE, filter=stored))
        if page:
            yield page
        if len(page) < _WRITES_PAGE:
            return
        before = page[-1].id


def _durability(durability: str | None, checkpoint_during: bool | None) -> str | None:
    """``durability``, or what LangGraph's older ``checkpoint_during`` meant by it."""
    if checkpoint_during is None:
        return durability
    if durability is not None:
        raise ConfigError(
            f"durability={durability!r} and checkpoint_during={checkpoint_during!r} were both "
            "given; checkpoint_during is LangGraph's older name: pass durability alone"
        )
    return "async" if checkpoint_during else "exit"


_EVENT_MODES = ("debug", "values", "events")
"""What ``astream_events`` streams to make its events of ("events": chat models')."""


def _modes(stream_mode: Union[str, Sequence[str]]) -> list[str]:
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
    if stream_mode is _EVENT_MODES:
        return modes
    for mode in modes:
        if mode not in STREAM_MODES:
            raise ConfigError(f"unknown stream_mode {mode!r}; choose from {STREAM_MODES}")
    return modes


def hand_folds(saver: BaseCheckpointSaver, spec: GraphSpec, path: tuple[str, ...]) -> None:
    """Give ``saver`` the fold of this graph's state (and of its subgraphs',
    each under its node's path), so that its LangGraph interface
    (``get_tuple``, ``list``...) can show the state at a checkpoint."""
    saver.fold_with(partial(fold, spec.schema), path)
    for node in spec.nodes.values():
        inner = getattr(node.fn, "spec", None) if node.subgraph else None
        if isinstance(inner, GraphSpec):
            hand_folds(saver, inner, (*path, node.name))


def stored_types(spec: GraphSpec) -> tuple[type, ...]:
    """The classes the state of ``spec``'s graph reaches, and those its
    subgraph nodes' graphs reach."""
    found = list(spec.schema.stored_types)
    for node in spec.nodes.values():
        if node.subgraph:
            found.extend(getattr(node.fn, "stored_types", ()))
    return tuple(dict.fromkeys(found))
