"""Applying updates to state through the schema's reducers, and folding stored
checkpoints back into state."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from cairn.checkpoint.base import CheckpointRecord, TaskRecord, TaskWrite
from cairn.errors import InvalidUpdateError
from cairn.graph.schema import StateSchema, is_overwrite
from cairn.types import OVERWRITE


def apply_updates(
    schema: StateSchema,
    values: dict[str, Any],
    updates: Iterable[tuple[str, Mapping[str, Any] | None]],
) -> dict[str, Any]:
    """Apply one step's ``(node name, update)`` pairs to ``values`` in place.

    Reducer keys fold every update in order; a plain key takes the single
    value written, and two writes to it in one step are an error.
    """
    reducers = schema.reducers
    writers: dict[str, str] = {}
    overwrites: dict[str, str] = {}
    for name, update in updates:
        if not update:
            continue
        for key, value in update.items():
            reducer = reducers.get(key)
            if reducer is not None:
                if is_overwrite(value):
                    _overwrite(values, key, value, name, overwrites)
                elif key not in overwrites:
                    values[key] = reducer(values[key], value) if key in values else value
                continue
            if key in writers:
                raise InvalidUpdateError(
                    f"state key {key!r} got two values in one step (from nodes "
                    f"{writers[key]!r} and {name!r}); a key without a reducer takes one "
                    f"value per step: give it one, e.g. Annotated[list, operator.add]"
                )
            writers[key] = name
            values[key] = value
    return values


def _overwrite(
    values: dict[str, Any], key: str, value: dict[str, Any], name: str, overwrites: dict[str, str]
) -> None:
    """An overwrite of ``key`` by node ``name``: it replaces what the key
    held and what other nodes of the step add to it."""
    if key in overwrites:
        raise InvalidUpdateError(
            f"state key {key!r} got two Overwrite values in one step (from nodes "
            f"{overwrites[key]!r} and {name!r}); a key takes one overwrite per step"
        )
    overwrites[key] = name
    values[key] = value[OVERWRITE]


def ordered_writes(
    tasks: Sequence[TaskRecord], writes: Mapping[str, TaskWrite]
) -> list[TaskWrite]:
    """A step's writes in the order they are applied: node tasks by name, then
    sends (and the input) in the order they were made. The same as LangGraph."""
    pull = sorted((t for t in tasks if not t.push and t.id in writes), key=lambda t: t.name)
    push = [t for t in tasks if t.push and t.id in writes]
    return [writes[t.id] for t in (*pull, *push)]


def fold(schema: StateSchema, chain: Sequence[CheckpointRecord]) -> dict[str, Any]:
    """The state at the last checkpoint of ``chain`` (as ``get_chain`` returns it)."""
    if not chain:
        return {}
    first = chain[0]
    if first.snapshot is not None:
        values = dict(first.snapshot)
        rest = chain[1:]
    else:
        values = schema.initial()
        rest = chain
    # A reducer marked ``batchable`` gives the same result for one call with
    # all updates concatenated as for one call per update (add_messages
    # does): a long chain then folds in one pass instead of one per step.
    batchable = {k for k, r in schema.reducers.items() if getattr(r, "batchable", False)}
    gathered: dict[str, list[Any]] = {}
    for checkpoint in rest:
        updates = []
        overwritten = []
        for write in checkpoint.writes:
            update = write.update
            if update and batchable and not batchable.isdisjoint(update):
                for key in batchable.intersection(update):
                    if is_overwrite(update[key]):
                        overwritten.append(key)
                    else:
                        gathered.setdefault(key, []).extend(update[key])
                update = {k: v for k, v in update.items() if k not in batchable or is_overwrite(v)}
            updates.append((write.name, update))
        for key in overwritten:
            # The overwrite replaces what came before and what the step's
            # other nodes added; apply_updates writes it.
            gathered.pop(key, None)
        apply_updates(schema, values, updates)
    for key, items in gathered.items():
        reducer = schema.reducers[key]
        values[key] = reducer(values[key], items) if key in values else reducer([], items)
    return values
