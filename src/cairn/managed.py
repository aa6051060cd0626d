"""Managed values: state keys the runtime computes for each task, never stored.

    from cairn.managed import IsLastStep, RemainingSteps

    class State(TypedDict):
        messages: Annotated[list, add_messages]
        remaining_steps: RemainingSteps   # steps this run may still take
        is_last_step: IsLastStep          # True in the run's last allowed step

As in LangGraph (``langgraph.managed``): a node (or a conditional edge) reads
them like any key; a value written to them (by the input or a node) is
ignored. ``remaining_steps`` counts down from ``recursion_limit - 1`` in the
first step of a node; at 1 (``is_last_step`` True) the next step would raise
``GraphRecursionError``.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from typing import Annotated, Any

__all__ = ["IsLastStep", "ManagedValue", "RemainingSteps", "managed_marker"]


class ManagedValue(ABC):
    """What marks a key as managed (in its ``Annotated`` metadata): computes
    the key's value from the number of steps the run may still take."""

    @abstractmethod
    def value(self, steps_left: int) -> Any:
        """The key's value in a step that leaves ``steps_left`` steps (it included)."""

    def __repr__(self) -> str:
        return type(self).__name__


class _RemainingStepsValue(ManagedValue):
    def value(self, steps_left: int) -> int:
        return steps_left


class _IsLastStepValue(ManagedValue):
    def value(self, steps_left: int) -> bool:
        return steps_left <= 1


RemainingSteps = Annotated[int, _RemainingStepsValue()]
"""The steps the run may still take, this one included (an ``int``)."""

IsLastStep = Annotated[bool, _IsLastStepValue()]
"""Whether this step is the last the run's ``recursion_limit`` allows."""


def managed_marker(annotation: Any) -> ManagedValue | None:
    """The managed value an annotation declares (through ``NotRequired``,
    ``Required`` and ``Annotated``), or None."""
    # NotRequired / Required of typing (3.11+) or of typing_extensions
    while getattr(typing.get_origin(annotation), "_name", None) in ("NotRequired", "Required"):
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is not Annotated:
        return None
    return next((m for m in annotation.__metadata__ if isinstance(m, ManagedValue)), None)
