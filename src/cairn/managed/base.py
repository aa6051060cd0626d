"""What marks a state key as managed (``langgraph.managed.base``), and how
the schema finds the mark in a key's annotation."""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from typing import Annotated, Any

__all__ = ["ManagedValue", "ManagedValueMapping", "ManagedValueSpec", "managed_marker"]


class ManagedValue(ABC):
    """What marks a key as managed (in its ``Annotated`` metadata): computes
    the key's value from the number of steps the run may still take."""

    @abstractmethod
    def value(self, steps_left: int) -> Any:
        """The key's value in a step that leaves ``steps_left`` steps (it included)."""

    def __repr__(self) -> str:
        return type(self).__name__


ManagedValueSpec = type[ManagedValue]
"""A managed value's class (LangGraph's name)."""

ManagedValueMapping = dict[str, ManagedValueSpec]
"""Managed keys by name (LangGraph's name)."""


def managed_marker(annotation: Any) -> ManagedValue | None:
    """The managed value an annotation declares (through ``NotRequired``,
    ``Required`` and ``Annotated``; an instance or, as LangGraph writes it,
    the class), or None."""
    # NotRequired / Required of typing (3.11+) or of typing_extensions
    while getattr(typing.get_origin(annotation), "_name", None) in ("NotRequired", "Required"):
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is not Annotated:
        return None
    for mark in annotation.__metadata__:
        if isinstance(mark, ManagedValue):
            return mark
        if isinstance(mark, type) and issubclass(mark, ManagedValue):
            return mark()
    return None
