"""Which tasks run next, from what the tasks of a step chose and the progress
carried between steps (joins waiting for sources, deferred nodes)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import TaskRecord, TaskWrite
from cairn.checkpoint.ids import task_id
from cairn.graph.constants import END, START
from cairn.graph.spec import GraphSpec


def start_task(checkpoint_id: str, input_values: Mapping[str, Any]) -> TaskRecord:
    """The task that writes a run's input into the state."""
    return TaskRecord(task_id(checkpoint_id, START, 0), START, dict(input_values), push=True)


def plan_next(
    spec: GraphSpec,
    writes: Sequence[TaskWrite],
    carry: Mapping[str, Any],
    checkpoint_id: str,
) -> tuple[tuple[TaskRecord, ...], dict[str, Any]]:
    """The tasks of the next step and the progress to carry past it."""
    if not carry and len(writes) == 1 and writes[0].name not in spec.joins_by_source:
        # The common step: one task that routed to node names, no join or
        # deferred node involved. Its routes are looked up once per graph.
        goto = writes[0].goto
        names = None
        if goto.__class__ is tuple and all(r.__class__ is str for r in goto):  # no sends
            names = spec.plain_routes.get(goto, _UNSEEN)
            if names is _UNSEEN:
                names = _plain(spec, goto)
        if names is not None:
            return tuple(TaskRecord(task_id(checkpoint_id, n, i), n) for i, n in enumerate(names)), {}
    triggered: set[str] = set()
    sends: list[tuple[str, Any]] = []
    waiting = {target: set(seen) for target, seen in carry.get("waiting", {}).items()}
    for write in writes:
        for route in write.goto:
            if isinstance(route, str):
                if route != END:
                    triggered.add(route)
            else:
                sends.append(route)
        for target in spec.joins_by_source.get(write.name, ()):
            seen = waiting.setdefault(target, set())
            seen.add(write.name)
            if seen >= spec.joins[target]:
                triggered.add(target)
                del waiting[target]
    held = set(carry.get("deferred", ()))
    held.update(name for name in triggered if spec.nodes[name].defer)
    active = sorted((n for n in triggered if not spec.nodes[n].defer), key=spec.order.__getitem__)
    if not active and not sends and held:
        active, held = sorted(held, key=spec.order.__getitem__), set()
    tasks = [TaskRecord(task_id(checkpoint_id, name, i), name) for i, name in enumerate(active)]
    offset = len(tasks)
    for i, (name, arg) in enumerate(sends):
        tasks.append(TaskRecord(task_id(checkpoint_id, name, offset + i), name, arg, push=True))
    next_carry: dict[str, Any] = {}
    if waiting:
        next_carry["waiting"] = {t: sorted(s) for t, s in waiting.items()}
    if held:
        next_carry["deferred"] = sorted(held)
    return tuple(tasks), next_carry


_UNSEEN: Any = object()


def _plain(spec: GraphSpec, goto: tuple[str, ...]) -> tuple[str, ...] | None:
    """The nodes that routes made of node names start, in the graph's order
    (None when a deferred node is among them); remembered per graph."""
    names = sorted({r for r in goto if r != END}, key=spec.order.__getitem__)
    found = None if any(spec.nodes[n].defer for n in names) else tuple(names)
    spec.plain_routes[goto] = found
    return found
