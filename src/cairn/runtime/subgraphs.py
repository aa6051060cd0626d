"""Compiled graphs used as nodes.

``builder.add_node("research", compiled_subgraph)`` runs the subgraph with
the parent's state (the keys the two share) and returns its final state as
the node's update. When the parent has a checkpointer, the subgraph runs as
a nested run on the same thread and under the parent's lease, storing its own
checkpoints under the namespace ``"research:<task id>"`` (deeper subgraphs
add ``"|child:<task id>"``). So a subgraph that was interrupted or failed
resumes where it stopped when the parent task runs again, and
``get_state(config, subgraphs=True)`` shows its state in the parent's tasks.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, AsyncIterator, Iterator, Mapping, Protocol

from cairn.checkpoint.base import BaseCheckpointSaver, CheckpointRecord
from cairn.current import TaskContext
from cairn.errors import GraphInterrupt, ParentCommand
from cairn.graph.spec import GraphSpec
from cairn.runtime import offload
from cairn.runtime.config import RunConfig, read_config
from cairn.runtime.context import Binding, Runtime, RunScope, task_context
from cairn.runtime.events import Events
from cairn.types import Command, Interrupt


def subgraph_ns(spec: GraphSpec, name: str, task_id: str, ns: str) -> str | None:
    """The namespace where the subgraph node ``name``'s task ``task_id`` of a
    graph running in namespace ``ns`` keeps its checkpoints; None when the
    node is no subgraph, or one that stores nothing (checkpointer=False)."""
    node = spec.nodes.get(name)
    if node is None or not node.subgraph:
        return None
    persistence = getattr(node.fn, "persistence", "task")
    if persistence == "none":
        return None
    own = name if persistence == "thread" else f"{name}:{task_id}"
    return f"{ns}|{own}" if ns else own


def subgraph_configs(spec: GraphSpec, thread_id: str, ns: str, tasks: Any) -> dict[str, dict[str, Any]]:
    """The config of each subgraph task's checkpoints among ``tasks`` (with
    ``id`` and ``name``), by task id: what LangGraph shows as the task's
    ``state`` when it does not show the subgraph's snapshot."""
    found = {}
    for task in tasks:
        own = subgraph_ns(spec, task.name, task.id, ns)
        if own is not None:
            found[task.id] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": own}}
    return found


class NestedRun(Protocol):
    """What a subgraph node needs of its nested run (``loop.py``'s ``Run``)."""

    thread_id: str
    interrupts: list[Interrupt]
    scope: RunScope

    @property
    def values(self) -> dict[str, Any]: ...

    def steps(self, input: Any) -> Iterator[Any]: ...

    def asteps(self, input: Any) -> AsyncIterator[Any]: ...


class Subgraph(Protocol):
    """What a subgraph node needs of a compiled graph (``compiled.py``'s
    ``CompiledStateGraph``, which imports this module: named by this Protocol,
    it is not imported back)."""

    spec: GraphSpec
    checkpointer: BaseCheckpointSaver | None
    depth: int

    def nested_run(
        self,
        config: RunConfig,
        runtime: Runtime[Any],
        binding: Binding | None,
        fresh: bool,
        events: Events | None,
        interrupts_of: TaskContext[Any] | None,
    ) -> NestedRun: ...

    def values_at(self, checkpoint: CheckpointRecord) -> dict[str, Any]: ...


def bound(graph: Any, saver: BaseCheckpointSaver | None, depth: int) -> Any:
    """``graph`` reading and writing through ``saver``, as a subgraph ``depth``
    levels below the top graph: a copy of the compiled graph given, of its type."""
    twin = copy.copy(graph)
    twin.depth = depth
    twin.checkpointer = saver
    return twin


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return dict(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return dict(vars(value))


def _start(graph: Subgraph, node: str, arg: Any) -> tuple[NestedRun, Any] | dict[str, Any]:
    """The nested run and its input, or the subgraph's final state when it
    already finished (the parent's step failed after it)."""
    task = task_context(f"subgraph node {node!r}")
    scope = task.scope
    channels = graph.spec.schema.channels
    state = {k: v for k, v in _as_dict(arg).items() if k in channels or graph.spec.schema.open}
    config = scope.config
    binding = scope.binding
    events = scope.events.child(f"{node}:{task.task_id}", graph.spec.schema) if scope.events else None
    persistence = getattr(graph, "persistence", "task")
    if binding is None or persistence == "none":
        # Nothing stored: the parent keeps no checkpoints, or the subgraph was
        # compiled with checkpointer=False, when it reruns from its start
        # and its interrupt() calls are the parent task's.
        plain: Subgraph = bound(graph, None, getattr(graph, "depth", 0) + 1)
        bare = read_config({k: v for k, v in config.items() if k != "configurable"})
        asker = task if persistence == "none" else None
        return plain.nested_run(bare, scope.runtime, None, False, events, asker), state
    ns = binding.child_ns(node, None if persistence == "thread" else task.task_id)
    configurable = {**config.get("configurable", {}), "checkpoint_ns": ns, "checkpoint_id": None}
    run_config = read_config({**config, "configurable": configurable})
    sub: Subgraph = bound(graph, binding.saver, getattr(graph, "depth", 0) + 1)
    run = sub.nested_run(run_config, scope.runtime, binding, binding.replaying, events, None)
    run.scope.ahead = scope.ahead  # an answer given ahead to the parent's step: its interrupt()s may take it
    head = None if binding.replaying else binding.saver.load(run.thread_id, ns)
    if head is None or not _this_attempt(head, binding):
        # A subgraph with checkpointer=True runs anew on the memory it kept.
        return run, state
    if not head.tasks:
        return sub.spec.schema.ordered(sub.values_at(head))
    # Resuming: hand the subgraph the answers given since it last paused.
    pending = binding.saver.get_pending(run.thread_id, ns, head.id)
    used = sum(len(w.value) for w in pending if w.kind == "resume")
    fresh = list(task.answers[used:])
    if not fresh:
        return run, None
    waiting = [entry[0] for w in pending if w.kind == "interrupt" for entry in w.value]
    if len(fresh) == 1 and len(waiting) <= 1:
        return run, Command(resume=fresh[0])
    return run, Command(resume=dict(zip(waiting, fresh)))


def _this_attempt(head: CheckpointRecord, binding: Binding) -> bool:
    """Whether the subgraph's ``head`` was written while the parent ran the
    step it runs now (an earlier try of the same task), not in an earlier
    step or run: the same checkpoint of the parent's, by its ``parents``."""
    parents = head.metadata.get("parents") or {}
    return binding.at is None or parents.get(binding.ns, binding.at) == binding.at


def _output(graph: Subgraph, run: NestedRun) -> dict[str, Any]:
    if run.interrupts:
        raise GraphInterrupt(run.interrupts)
    return graph.spec.schema.ordered(run.values)


def run_subgraph(graph: Any, node: str, arg: Any) -> Any:
    """The subgraph's final state, or the Command one of its nodes handed to
    this graph (``Command(graph=Command.PARENT)``)."""
    started = _start(graph, node, arg)
    if not isinstance(started, tuple):
        return started
    run, input = started
    try:
        for _ in run.steps(input):
            pass
    except ParentCommand as handoff:
        return _handed_over(handoff)
    return _output(graph, run)


async def arun_subgraph(graph: Any, node: str, arg: Any) -> Any:
    binding = task_context(f"subgraph node {node!r}").scope.binding
    started = await offload.call(binding.saver if binding else None, _start, graph, node, arg)
    if not isinstance(started, tuple):
        return started
    run, input = started
    try:
        async for _ in run.asteps(input):
            pass
    except ParentCommand as handoff:
        return _handed_over(handoff)
    return _output(graph, run)


def _handed_over(handoff: ParentCommand) -> Command:
    """A subgraph node's ``Command(graph=Command.PARENT, ...)`` as this graph's
    node's own Command: its update and where it goes."""
    command = handoff.command
    return Command(update=command.update, goto=command.goto)
