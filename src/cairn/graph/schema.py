"""A state schema (TypedDict, dataclass or pydantic model) read as channels.

Each key of the schema is a channel. ``Annotated[T, reducer]`` gives it a
reducer ``reducer(old, update) -> new``; a key without one keeps the last
value written. A reducer key starts at ``T()`` when T can be built empty
(``list`` -> ``[]``, ``int`` -> ``0``), as in LangGraph. A channel of
``cairn.channels`` in the annotation (``Annotated[str, EphemeralValue]``)
says how the key takes its values instead.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cairn.channels.base import BaseChannel, channel_marker
from cairn.errors import GraphValidationError
from cairn.graph.constants import Transient
from cairn.managed import ManagedValue, managed_marker
from cairn.types import OVERWRITE, Overwrite

Reducer = Callable[[Any, Any], Any]


def is_overwrite(value: Any) -> bool:
    """Whether ``value`` is an overwrite in its stored (dict) form."""
    return type(value) is dict and len(value) == 1 and OVERWRITE in value


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    reducer: Reducer | None = None
    initial: Callable[[], Any] | None = None


def _reducer_of(annotation: Any) -> Reducer | None:
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    for meta in reversed(annotation.__metadata__):
        if callable(meta) and _takes_two_args(meta):
            return meta
    return None


def _is_transient(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not typing.Annotated:
        return False
    return any(meta is Transient or isinstance(meta, Transient) for meta in annotation.__metadata__)


def _takes_two_args(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True  # builtins such as operator.add
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def _empty_factory(annotation: Any) -> Callable[[], Any] | None:
    base = typing.get_args(annotation)[0]
    typ = typing.get_origin(base) or base
    if not isinstance(typ, type):
        return None
    try:
        typ()
    except Exception:
        return None
    return typ


def _classes_in(annotation: Any, seen: set[int]) -> list[type]:
    """The classes a stored value of this annotation may hold, as the
    serializer stores them (enums, dataclasses, NamedTuples, pydantic
    models): named by the annotation or reachable from it, through type
    arguments (``list[X]``, ``X | None``, ``Annotated[X, ...]``), the fields
    of those classes and of TypedDicts, ``Literal`` enum members and
    ``NewType``. A fresh process building the same schema finds the same."""
    if id(annotation) in seen:
        return []
    seen.add(id(annotation))
    found: list[type] = []
    if isinstance(annotation, enum.Enum):  # a Literal's member
        return _classes_in(type(annotation), seen)
    supertype = getattr(annotation, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return _classes_in(supertype, seen)
    if isinstance(annotation, type):
        stored = (
            dataclasses.is_dataclass(annotation)
            or issubclass(annotation, enum.Enum)
            or hasattr(annotation, "model_fields")
            or (issubclass(annotation, tuple) and hasattr(annotation, "_fields"))
        )
        if stored:
            found.append(annotation)
        if stored or _is_typeddict(annotation):
            for hint in _field_hints(annotation):
                found.extend(_classes_in(hint, seen))
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]  # the rest is metadata (reducers, Transient), not types
    for arg in args:
        found.extend(_classes_in(arg, seen))
    return found


def _is_typeddict(cls: type) -> bool:
    # typing_extensions' TypedDict too, which typing.is_typeddict may not know.
    return typing.is_typeddict(cls) or (issubclass(cls, dict) and hasattr(cls, "__total__"))


def _field_hints(cls: type) -> list[Any]:
    """The annotations of the fields of ``cls`` (best effort: a class whose
    annotations cannot be resolved contributes none)."""
    hints: list[Any] = []
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict):
        # A parametrized generic model (Page[Item]) has its type arguments here.
        hints.extend(getattr(info, "annotation", None) for info in model_fields.values())
    try:
        hints.extend(typing.get_type_hints(cls, include_extras=True).values())
    except Exception:  # noqa: BLE001 - unresolvable forward references
        pass
    return hints


ROOT = "__root__"
"""The one channel of a state that is not a dict (``StateGraph(Annotated[list, add])``)."""


def _read_schema(schema: Any, what: str) -> tuple[str, dict[str, Any]]:
    """A schema's kind and its keys' annotations. A type that declares no
    keys (``int``, ``list``, ``Annotated[list, operator.add]``) is a state
    of one value, as in LangGraph: kind "root", one channel."""
    if schema is dict:
        return "dict", {}
    if not isinstance(schema, type) or not (
        dataclasses.is_dataclass(schema)
        or hasattr(schema, "model_fields")
        or issubclass(schema, dict)
        or typing.get_type_hints(schema)
    ):
        return "root", {ROOT: schema}
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception as exc:
        raise GraphValidationError(
            f"cannot read the annotations of {what} {schema.__qualname__}: {exc}"
        ) from exc
    if dataclasses.is_dataclass(schema):
        kind = "dataclass"
        hints = {f.name: hints[f.name] for f in dataclasses.fields(schema)}
    elif hasattr(schema, "model_fields"):
        kind = "pydantic"
        hints = {name: hints.get(name, Any) for name in schema.model_fields}
    elif issubclass(schema, dict):
        kind = "typeddict"
    else:
        raise GraphValidationError(
            f"{what} {schema.__qualname__} is not a TypedDict, dataclass or "
            "pydantic model; declare it as one of those"
        )
    if not hints:
        raise GraphValidationError(
            f"{what} {schema.__qualname__} declares no keys; add at least one annotated field"
        )
    return kind, hints


def is_schema_class(value: Any) -> bool:
    """Whether ``value`` is a class of keys a schema can be read from (a node's input annotation)."""
    if not isinstance(value, type) or value is dict:
        return False
    try:
        kind, _ = _read_schema(value, "schema")
    except (GraphValidationError, TypeError, NameError):
        return False
    return kind != "root"


class StateSchema:
    """The channels of a state schema, and conversions between its forms."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.kind, hints = _read_schema(schema, "state schema")
        self.managed: dict[str, ManagedValue] = {}
        """Keys the runtime computes for each task (``cairn.managed``): no
        channel, never stored, a write to them ignored."""
        self.state_keys: tuple[str, ...] = tuple(k for k in hints if managed_marker(hints[k]) is None)
        """The keys of the state schema itself: what "values" streams show."""
        self.input_keys: frozenset[str] | None = None
        """The keys an input may write (``input_schema=``); None: any channel."""
        self.output_keys: tuple[str, ...] | None = None
        """The keys ``invoke`` returns (``output_schema=``); None: the state schema's."""
        self.input_schema: Any = schema
        self.output_schema: Any = schema
        """The classes of what ``invoke`` takes and returns (for their JSON schemas)."""
        self.channels: dict[str, Channel] = {}
        self.transient: frozenset[str] = frozenset()
        """Keys never stored (``Annotated[..., Transient]``)."""
        self.reducers: dict[str, Reducer] = {}
        self.starts: dict[str, Callable[[Any], Any]] = {}
        """Reducer keys whose first value is not the value written (a Topic's: a list)."""
        self.resets: tuple[str, ...] = ()
        """Keys that hold only what the last step wrote (EphemeralValue, AnyValue, Topic)."""
        self.loose: frozenset[str] = frozenset()
        """Keys without reducer that take the last of several writes in a step (AnyValue)."""
        self.declared: dict[str, BaseChannel] = {}
        """The channels the annotations name (``cairn.channels``)."""
        self.preparers: dict[str, Callable[[Any], Any]] = {}
        self.stored_types: tuple[type, ...] = ()
        """The classes whose values the state may hold: compiling the graph
        with a saver registers them into its serializer (only registered
        classes are stored, so that a fresh process compiling the same graph
        loads everything this one stores)."""
        self._add(hints)

    def extend(self, schema: Any) -> tuple[str, ...]:
        """Add the keys of another schema (an input, output or node input
        schema) that this state lacks as channels of their own, as LangGraph
        does: a node's private state. Returns the other schema's keys."""
        _, hints = _read_schema(schema, "schema")
        self._add({k: v for k, v in hints.items() if k not in self.channels and k not in self.managed})
        return tuple(hints)

    def _add(self, hints: Mapping[str, Any]) -> None:
        if any(managed_marker(a) for a in hints.values()):
            self.managed.update((k, m) for k, a in hints.items() if (m := managed_marker(a)) is not None)
            hints = {k: a for k, a in hints.items() if k not in self.managed}
        for name, annotation in hints.items():
            declared = channel_marker(annotation)
            if declared is not None:
                self._declare(name, declared)
                continue
            reducer = _reducer_of(annotation)
            initial = _empty_factory(annotation) if reducer else None
            self.channels[name] = Channel(name, reducer, initial)
            if reducer is not None:
                self.reducers[name] = reducer
                # A reducer may normalize an update once, before it is stored,
                # through a ``prepare`` attribute (add_messages assigns message
                # ids there): folding stored writes then gives the same state
                # every time.
                if callable(prepare := getattr(reducer, "prepare", None)):
                    self.preparers[name] = prepare
        self.transient |= {name for name, annotation in hints.items() if _is_transient(annotation)}
        self.stored_types = tuple(dict.fromkeys((*self.stored_types, *self._reach(hints))))

    def _declare(self, name: str, declared: BaseChannel) -> None:
        """Key ``name`` as the channel its annotation names."""
        self.declared[name] = declared
        reducer = declared.reducer
        self.channels[name] = Channel(name, reducer, declared.initial())
        if reducer is not None:
            self.reducers[name] = reducer
            if type(declared).start is not BaseChannel.start:
                self.starts[name] = declared.start
        elif not declared.guard:
            self.loose |= {name}
        if declared.reset:
            self.resets = (*self.resets, name)
        if not declared.tracked:
            self.transient |= {name}

    def _reach(self, hints: Mapping[str, Any]) -> tuple[type, ...]:
        seen: set[int] = set()
        found = [cls for annotation in hints.values() for cls in _classes_in(annotation, seen)]
        if self.kind in ("dataclass", "pydantic"):
            found.append(self.schema)
        # A reducer may name the classes of the values it merges (add_messages:
        # LangChain's message classes), so that another process can load them.
        for name in hints:
            reducer = self.reducers.get(name)
            if callable(stored := getattr(reducer, "stored_types", None)):
                found.extend(stored())
        return tuple(dict.fromkeys(found))

    def output(self, values: Mapping[str, Any]) -> Any:
        """What ``invoke`` returns of the state: the output schema's keys (the
        state schema's when there is none), in the schema's order."""
        keys = self.output_keys if self.output_keys is not None else self.state_keys
        if self.open or len(keys) == len(self.channels):
            return self.ordered(values)
        return {k: values[k] for k in keys if k in values}

    def shown(self, values: Mapping[str, Any]) -> Any:
        """The state as "values" streams show it: the state schema's keys."""
        if self.open or len(self.state_keys) == len(self.channels):
            return self.ordered(values)
        return {k: values[k] for k in self.state_keys if k in values}

    def shows(self, update: Mapping[str, Any] | None) -> bool:
        """Whether ``update`` writes a key "values" streams follow: as in
        LangGraph, a step streams the state only when one was written (any
        key of a graph's state, its private keys included)."""
        return bool(update)

    def shown_update(self, update: Mapping[str, Any] | None) -> Any:
        """A node's update as "updates" streams show it (None for one that
        wrote nothing, as LangGraph shows it)."""
        if update is None:
            return None
        if self.kind == "root":
            return update.get(ROOT)
        return dict(update) if update else None

    def shown_input(self, arg: Any) -> Any:
        """A task's input as "tasks" streams show it (what its node is given)."""
        return arg

    def triggers(self, node: str) -> tuple[str, ...]:
        """What triggers a task of ``node`` that is no ``Send``'s, as "tasks" streams show it."""
        return (f"branch:to:{node}",)

    def task_result(self, update: Any) -> dict[str, Any]:
        """A task's update as its "tasks" result: a dict, where a key its
        Commands wrote more than once (``update`` is then a list of one-key
        updates) holds ``{"$writes": [each value]}``, as LangGraph's."""
        if update is None:
            return {}
        if not isinstance(update, list):
            return dict(update)
        result: dict[str, Any] = {}
        for key, value in (item for one in update for item in one.items()):
            if key not in result:
                result[key] = value
            elif isinstance(before := result[key], dict) and "$writes" in before:
                before["$writes"].append(value)
            else:
                result[key] = {"$writes": [before, value]}
        return result

    @property
    def open(self) -> bool:
        """A plain ``dict`` schema accepts any key."""
        return self.kind == "dict"

    def initial(self) -> dict[str, Any]:
        """The state before anything was written."""
        return {
            name: ch.initial() for name, ch in self.channels.items() if ch.initial is not None
        }

    def ordered(self, values: Mapping[str, Any]) -> Any:
        """A copy of ``values`` with keys in the schema's order (as users see
        state); the one value of a state that is not a dict."""
        if self.kind == "root":
            return values.get(ROOT)
        out = {name: values[name] for name in self.channels if name in values}
        if len(out) < len(values):
            out.update((k, v) for k, v in values.items() if k not in out)
        return out

    def prepare(self, update: Mapping[str, Any]) -> Mapping[str, Any]:
        """``update`` with each reducer's ``prepare`` applied to its key, and
        each ``Overwrite`` in its stored form: ``{"__overwrite__": value}`` for
        a key with a reducer (applied as it is, unprepared), the bare value
        for a plain key."""
        preparers = self.preparers
        if any(type(v) is Overwrite for v in update.values()):
            reducers = self.reducers
            update = {
                k: ({OVERWRITE: v.value} if k in reducers else v.value) if type(v) is Overwrite else v
                for k, v in update.items()
            }
        if not preparers or not any(key in preparers for key in update):
            return update
        return {
            k: preparers[k](v) if k in preparers and not is_overwrite(v) else v
            for k, v in update.items()
        }

    def to_node_input(self, values: Mapping[str, Any], steps_left: int | None = None) -> Any:
        """The state as a node sees it: a dict, or an instance of the schema;
        with the managed keys' values for a step leaving ``steps_left`` steps."""
        if self.managed and steps_left is not None:
            values = {**values, **{k: m.value(steps_left) for k, m in self.managed.items()}}
        if self.kind in ("dict", "typeddict"):
            return dict(values)
        if self.kind == "root":
            return values.get(ROOT)
        return self.schema(**values)

    def as_update(self, obj: Any) -> Mapping[str, Any] | None:
        """``obj`` as a mapping of keys to values, or None if it is not one."""
        if self.kind == "root":
            return None if obj is None else {ROOT: obj}
        if obj is None or obj.__class__ is dict or isinstance(obj, Mapping):
            return obj
        if self.kind == "dataclass" and isinstance(obj, self.schema):
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        if self.kind == "pydantic" and isinstance(obj, self.schema):
            # As LangGraph: every field but those left None where None is the default.
            fields, given = type(obj).model_fields, obj.model_fields_set
            return {
                name: value
                for name, field in fields.items()
                if (value := getattr(obj, name)) is not None or field.default is not None or name in given
            }
        return None
