"""Applying updates to state through the schema's reducers, and folding stored
checkpoints back into state."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from cairn.channels.base import EphemeralValue, UntrackedValue
from cairn.checkpoint.base import CheckpointRecord, TaskRecord, TaskWrite
from cairn.errors import InvalidUpdateError
from cairn.graph.constants import START
from cairn.graph.schema import StateSchema, is_overwrite
from cairn.types import OVERWRITE


def apply_updates(
    schema: StateSchema,
    values: dict[str, Any],
    updates: Iterable[tuple[str, Mapping[str, Any] | None]],
    *,
    step: bool = True,
) -> dict[str, Any]:
    """Apply one step's ``(node name, update)`` pairs to ``values`` in place.

    Reducer keys fold every update in order; a plain key takes the single
    value written, and two writes to it in one step are an error. A step
    of at least one task first clears the keys that hold only what the last
    step wrote (``EphemeralValue``, ``AnyValue``, ``Topic``), as LangGraph's
    channels do; ``step=False`` for writes made outside a step's tasks
    (``Command(resume=..., update=...)``), which clear nothing.
    """
    if schema.resets and step:
        updates = list(updates)
        if updates:
            for key in schema.resets:
                values.pop(key, None)
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
                elif key in values:
                    if key not in overwrites:
                        values[key] = reducer(values[key], value)
                elif (start := schema.starts.get(key)) is None:
                    values[key] = value
                elif (first := start(value)) is not None:
                    values[key] = first
                continue
            if key in writers and key not in schema.loose:
                raise InvalidUpdateError(_two_values(schema, key, writers[key], name))
            writers[key] = name
            values[key] = value
    return values


def _two_values(schema: StateSchema, key: str, first: str, second: str) -> str:
    declared = schema.declared.get(key)
    if isinstance(declared, (EphemeralValue, UntrackedValue)):
        fix = f"declare it {type(declared).__name__}(..., guard=False) to keep the last of them"
    else:
        fix = "give it one, e.g. Annotated[list, operator.add]"
    return (
        f"state key {key!r} got two values in one step (from nodes {first!r} and {second!r}); "
        f"a key without a reducer takes one value per step: {fix}"
    )


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


def prelude_length(writes: Sequence[TaskWrite]) -> int:
    """How many of a stored step's writes were given with its resume
    (``Command(update=...)``, written as START before the step's tasks ran):
    applied before the step, they count as written outside it."""
    if not writes or writes[0].name != START or writes[-1].name == START:
        return 0  # an input step (START's task alone) or no prelude
    return next(i for i, w in enumerate(writes) if w.name != START)


def apply_stored_step(schema: StateSchema, values: dict[str, Any], writes: Sequence[TaskWrite]) -> dict[str, Any]:
    """Apply a stored checkpoint's writes to ``values`` in place, as the run applied them."""
    cut = prelude_length(writes) if schema.resets else 0
    if cut:
        apply_updates(schema, values, [(w.name, w.update) for w in writes[:cut]], step=False)
    return apply_updates(schema, values, [(w.name, w.update) for w in writes[cut:]])


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
        if not batchable:
            apply_stored_step(schema, values, checkpoint.writes)
            continue
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
        cut = prelude_length(checkpoint.writes) if schema.resets else 0
        if cut:
            apply_updates(schema, values, updates[:cut], step=False)
        apply_updates(schema, values, updates[cut:])
    for key, items in gathered.items():
        reducer = schema.reducers[key]
        values[key] = reducer(values[key], items) if key in values else reducer([], items)
    return values
