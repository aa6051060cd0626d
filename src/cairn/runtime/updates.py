"""Writing state from outside a run: ``update_state`` and ``bulk_update_state``.

Each superstep of updates becomes one checkpoint on top of the one the config
names (the thread's head if none), in one of three kinds:

- updates as nodes (``as_node`` a node, or None for the node that wrote the
  checkpoint): source "update", the nodes' writes applied together, the next
  tasks planned from them, as if those nodes had returned the values;
- ``as_node="__input__"`` (alone in its superstep): source "input", an input
  checkpoint whose start task holds the values, so that ``invoke(None,
  config)`` runs the graph on them as on an input;
- ``as_node="__copy__"`` (alone, values None): source "fork", a sibling of
  the checkpoint (same parent, writes and next tasks, one step later), as a
  new head to run from.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping, Protocol, Sequence

from cairn.checkpoint.base import BaseCheckpointSaver, CheckpointRecord, Lease, PendingWrite, TaskWrite
from cairn.checkpoint.ids import task_id
from cairn.errors import ConfigError, InvalidUpdateError, not_supported
from cairn.graph.constants import START
from cairn.graph.spec import GraphSpec
from cairn.runtime.config import RunConfig, canonical
from cairn.runtime.context import Runtime, RunScope
from cairn.runtime.heads import HeadCache
from cairn.runtime.loop import make_checkpoint, node_config
from cairn.runtime.persist import storable
from cairn.runtime.plan import start_task
from cairn.runtime.state import apply_updates
from cairn.runtime.tasks import TaskRunner
from cairn.types import StateUpdate

__all__ = ["COPY", "INPUT", "write_supersteps"]

INPUT = "__input__"
"""``as_node`` that writes the values as the input of a run to come."""
COPY = "__copy__"
"""``as_node`` that copies the checkpoint as a new head (source "fork")."""


class UpdateGraph(Protocol):
    """What updating needs of the compiled graph."""

    name: str
    spec: GraphSpec
    runner: TaskRunner
    store: Any
    heads: HeadCache

    def values_at(self, checkpoint: CheckpointRecord) -> dict[str, Any]: ...


def write_supersteps(
    graph: UpdateGraph,
    saver: BaseCheckpointSaver,
    lease: Lease,
    rc: RunConfig,
    supersteps: Iterable[Iterable[StateUpdate]],
) -> dict[str, Any]:
    """Write each superstep as a checkpoint after the one before; the config
    of the last one written."""
    thread = lease.thread_id
    base = saver.load(thread, rc.checkpoint_ns, rc.checkpoint_id)
    if base is None and rc.checkpoint_id is not None:
        raise ConfigError(
            f"checkpoint {rc.checkpoint_id!r} does not exist in thread {thread!r}; "
            "pick one from get_state_history"
        )
    steps = [[StateUpdate(*u) for u in step] for step in supersteps]
    _check(graph.spec, steps)
    state = graph.values_at(base) if base else graph.spec.schema.initial()
    for updates in steps:
        base, state = _write_one(graph, saver, lease, rc, base, state, updates)
    assert base is not None
    return canonical(thread, rc.checkpoint_ns, base.id)


def _write_one(
    graph: UpdateGraph,
    saver: BaseCheckpointSaver,
    lease: Lease,
    rc: RunConfig,
    base: CheckpointRecord | None,
    state: dict[str, Any],
    updates: Sequence[StateUpdate],
) -> tuple[CheckpointRecord, dict[str, Any]]:
    """One superstep's checkpoint, stored, and the state at it."""
    pending: Sequence[PendingWrite] = ()
    if updates[0].as_node == COPY:
        checkpoint = _copy(graph, rc, lease.thread_id, base)
    elif updates[0].as_node == INPUT:
        checkpoint, pending = _input(graph, rc, lease.thread_id, base, updates[0])
    else:
        checkpoint, state = _as_nodes(graph, rc, lease.thread_id, base, state, updates)
    checkpoint, stored, pending = storable(graph.spec.schema.transient, checkpoint, state, pending)
    saver.save(checkpoint, stored, list(pending), lease=lease)
    graph.heads.put(lease.thread_id, rc.checkpoint_ns, checkpoint.id, stored)
    return checkpoint, state


def _check(spec: GraphSpec, steps: Sequence[Sequence[StateUpdate]]) -> None:
    """Refuse a malformed bulk update before anything of it is written."""
    if not steps:
        raise InvalidUpdateError("bulk_update_state got no supersteps; give a list of lists of StateUpdate")
    for updates in steps:
        if not updates:
            raise InvalidUpdateError("a superstep of bulk_update_state holds no updates; give at least one")
        for update in updates:
            not_supported("update_state", task_id=update.task_id)
            if update.as_node not in (None, INPUT, COPY):
                _check_node(spec, update.as_node)
            if update.as_node == COPY and update.values is not None:
                raise InvalidUpdateError(
                    f"as_node={COPY!r} copies the checkpoint as it is, got values {update.values!r}; pass None"
                )
        kinds = {u.as_node for u in updates} & {INPUT, COPY}
        if kinds and len(updates) > 1:
            raise InvalidUpdateError(
                f"as_node={kinds.pop()!r} must be alone in its superstep, got {len(updates)} updates; "
                "put it in a superstep of its own"
            )


def _stands_in(spec: GraphSpec) -> dict[str, str]:
    """Each error handler's node name -> the node a step it wrote counts as
    written by: the node it stood in for (an error handler writes as a node of
    its own, without edges), or itself when it is the default handler of
    several nodes."""
    nodes: dict[str, list[str]] = {}
    for name, node in spec.nodes.items():
        if node.error_handler is not None:
            nodes.setdefault(node.error_handler.name, []).append(name)
    return {handler: names[0] if len(names) == 1 else handler for handler, names in nodes.items()}


def _check_node(spec: GraphSpec, as_node: Any) -> None:
    known = as_node in spec.nodes or as_node in _stands_in(spec)
    if not isinstance(as_node, str) or (as_node != START and not known):
        raise InvalidUpdateError(
            f"as_node={as_node!r} is not a node of this graph; use one of "
            f"{sorted(spec.nodes)} (or START to update as input)"
        )


def _as_nodes(
    graph: UpdateGraph,
    rc: RunConfig,
    thread: str,
    base: CheckpointRecord | None,
    state: dict[str, Any],
    updates: Sequence[StateUpdate],
) -> tuple[CheckpointRecord, dict[str, Any]]:
    scope = RunScope(node_config(rc, thread), Runtime(store=graph.store))
    writes = []
    for index, update in enumerate(updates):
        node = _author(graph.spec, base, update.as_node)
        values = graph.runner.filter_update(node, update.values, by_caller=True)
        goto, _ = graph.runner.routes(node, values, (), state, scope)
        writes.append(TaskWrite(task_id(base.id if base else thread, node, -1 - index), node, values, goto))
    state = apply_updates(graph.spec.schema, dict(state), [(w.name, w.update) for w in writes])
    carry = base.carry if base else {}
    checkpoint = _new(graph, rc, thread, base, "update", tuple(writes), carry, step=None if base else 0)
    return checkpoint, state


def _input(
    graph: UpdateGraph, rc: RunConfig, thread: str, base: CheckpointRecord | None, update: StateUpdate
) -> tuple[CheckpointRecord, list[PendingWrite]]:
    values = graph.runner.filter_update(START, update.values, by_caller=True) or {}
    checkpoint = _new(graph, rc, thread, base, "input", (), {}, plan=False)
    task = start_task(checkpoint.id, values)
    # Stored as a run's input is: the start task's values as a pending write.
    return replace(checkpoint, tasks=(replace(task, arg=None),)), [PendingWrite(task.id, "input", task.arg)]


def _copy(graph: UpdateGraph, rc: RunConfig, thread: str, base: CheckpointRecord | None) -> CheckpointRecord:
    if base is None:
        raise InvalidUpdateError(
            f"as_node={COPY!r} copies a checkpoint, and thread {thread!r} has none; run the graph first"
        )
    # A sibling of the copied checkpoint, as LangGraph makes it: the same
    # parent and writes (so the same state) and next tasks, one step later.
    checkpoint = _new(graph, rc, thread, base, "fork", (), base.carry, plan=False)
    return replace(checkpoint, parent_id=base.parent_id, writes=base.writes, tasks=base.tasks)


def _new(
    graph: UpdateGraph,
    rc: RunConfig,
    thread: str,
    base: CheckpointRecord | None,
    source: str,
    writes: tuple[TaskWrite, ...],
    carry: Mapping[str, Any],
    plan: bool = True,
    step: int | None = None,
) -> CheckpointRecord:
    return make_checkpoint(
        graph.spec,
        thread_id=thread,
        ns=rc.checkpoint_ns,
        parent=base,
        source=source,
        writes=writes,
        carry=carry,
        metadata=rc.stored_metadata,
        graph=graph.name,
        plan=plan,
        step=step,
    )


def _author(spec: GraphSpec, base: CheckpointRecord | None, as_node: Any) -> str:
    """The node an update is written as: ``as_node``, or the one node that
    wrote ``base`` (START for a thread's first update)."""
    if as_node is not None:
        return str(as_node)  # checked by _check
    if base is None or not base.writes:
        return START
    handlers = _stands_in(spec)
    names = sorted({handlers.get(w.name, w.name) for w in base.writes})
    if len(names) > 1:
        raise InvalidUpdateError(
            f"the checkpoint was written by several nodes ({names}); say which one the "
            "update comes from with update_state(config, values, as_node=...)"
        )
    return names[0]
