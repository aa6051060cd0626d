"""The channels a schema annotation may name (see ``cairn.channels``), and
``channel_marker``, which finds the one an annotation names."""

from __future__ import annotations

import collections.abc
import typing
from typing import Any, Callable, Iterable

from cairn.errors import GraphValidationError

__all__ = [
    "AnyValue",
    "BaseChannel",
    "BinaryOperatorAggregate",
    "EphemeralValue",
    "LastValue",
    "Topic",
    "UntrackedValue",
    "channel_marker",
]

Reducer = Callable[[Any, Any], Any]

_ABSTRACT = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}


class BaseChannel:
    """What a channel annotation tells the schema about its key."""

    reducer: Reducer | None = None
    """Folds a written value into the key's value (None: the value replaces it)."""
    reset: bool = False
    """The key holds only what the last step wrote: a step that writes none clears it."""
    guard: bool = True
    """Two writes to the key in one step are an error (for a key without reducer)."""
    tracked: bool = True
    """The key is stored in checkpoints."""

    def __init__(self, typ: Any = Any) -> None:
        self.typ = typ

    def initial(self) -> Callable[[], Any] | None:
        """What builds the key's value before anything is written (None: it has none)."""
        return None

    def start(self, value: Any) -> Any:
        """The key's value after ``value`` is written to it while it holds
        none; None: it still holds none."""
        return value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_type_name(self.typ)})"


class LastValue(BaseChannel):
    """The last value written; two writes in one step raise ``InvalidUpdateError``.

    What a key without any annotation is."""


class AnyValue(BaseChannel):
    """The last of the values written in a step (several writes are fine);
    a step that writes none clears the key."""

    reset = True
    guard = False


class EphemeralValue(BaseChannel):
    """The value written in the step before; a step that writes none clears it.

    With ``guard`` (the default) two writes in one step raise
    ``InvalidUpdateError``; ``guard=False`` keeps the last of them."""

    reset = True

    def __init__(self, typ: Any = Any, guard: bool = True) -> None:
        super().__init__(typ)
        self.guard = guard


class UntrackedValue(BaseChannel):
    """The last value written, held by the running process only: never
    stored in a checkpoint (a resumed run or another process does not see it).

    With ``guard`` (the default) two writes in one step raise
    ``InvalidUpdateError``; ``guard=False`` keeps the last of them."""

    tracked = False

    def __init__(self, typ: Any = Any, guard: bool = True) -> None:
        super().__init__(typ)
        self.guard = guard


class Topic(BaseChannel):
    """A list of the values written: each write adds a value, or the items of
    a list. Without ``accumulate`` the list holds the last step's values only;
    with it, every value written since the thread began."""

    def __init__(self, typ: Any = Any, accumulate: bool = False) -> None:
        super().__init__(typ)
        self.accumulate = accumulate
        self.reset = not accumulate
        self.reducer = _append

    def start(self, value: Any) -> Any:
        return _append([], value) or None  # an empty list written leaves it empty

    def __repr__(self) -> str:
        return f"Topic({_type_name(self.typ)}, accumulate={self.accumulate})"


class BinaryOperatorAggregate(BaseChannel):
    """``operator(old, new)`` for each value written, starting from ``typ()``
    when the type can be built empty (``int`` -> 0, ``list`` -> [])."""

    def __init__(self, typ: Any, operator: Reducer) -> None:
        super().__init__(typ)
        self.operator = operator
        self.reducer = operator

    def initial(self) -> Callable[[], Any] | None:
        typ = typing.get_origin(self.typ) or self.typ
        typ = _ABSTRACT.get(typ, typ)
        if not isinstance(typ, type):
            return None
        try:
            typ()
        except Exception:  # noqa: BLE001 - a type that cannot be built empty starts with no value
            return None
        return typ

    def __repr__(self) -> str:
        name = getattr(self.operator, "__name__", repr(self.operator))
        return f"BinaryOperatorAggregate({_type_name(self.typ)}, {name})"


def _append(old: Any, new: Any) -> list[Any]:
    """A topic's list with ``new`` (a value, or a list of them) added; ``old``
    too may be a value (two writes of one node merged before they are applied)."""
    before: Iterable[Any] = old if isinstance(old, list) else (old,)
    items: Iterable[Any] = new if isinstance(new, list) else (new,)
    return [*before, *items]


def _type_name(typ: Any) -> str:
    return typ.__name__ if isinstance(typ, type) else repr(typ)


def channel_marker(annotation: Any) -> BaseChannel | None:
    """The channel an annotation declares (``Annotated[T, EphemeralValue]``:
    a channel class, built for ``T``, or a channel instance; through
    ``Required`` / ``NotRequired``), or None."""
    while getattr(typing.get_origin(annotation), "_name", None) in ("NotRequired", "Required"):
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    for meta in annotation.__metadata__:
        if isinstance(meta, BaseChannel):
            return meta
        if isinstance(meta, type) and issubclass(meta, BaseChannel):
            base = typing.get_args(annotation)[0]
            if meta is BinaryOperatorAggregate:
                raise GraphValidationError(
                    f"{annotation!r} names BinaryOperatorAggregate without its operator; "
                    "give an instance: Annotated[int, BinaryOperatorAggregate(int, operator.add)]"
                )
            return meta(typing.get_origin(base) or base)
    return None
