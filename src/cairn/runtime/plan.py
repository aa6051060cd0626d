"""Which tasks run next, from what the tasks of a step chose and the progress
carried between steps (joins waiting for sources, deferred nodes)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import TaskRecord, TaskWrite
from cairn.checkpoint.ids import task_id
from cairn.graph.constants import END, START
from cairn.graph.state import GraphSpec


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
    if not carry and len(writes) == 1:
        # The common step: one task that routed along plain edges, no join
        # or deferred node involved.
        write = writes[0]
        if write.name not in spec.joins_by_source:
            names = [r for r in write.goto if r.__class__ is str and r != END]
            if len(names) == len(write.goto) and not any(spec.nodes[n].defer for n in names):
                if len(names) > 1:
                    names = sorted(set(names), key=spec.order.__getitem__)
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
