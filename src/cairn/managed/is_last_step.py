"""``IsLastStep`` and ``RemainingSteps`` (``langgraph.managed.is_last_step``)."""

from __future__ import annotations

from typing import Annotated

from cairn.managed.base import ManagedValue

__all__ = ["IsLastStep", "IsLastStepManager", "RemainingSteps", "RemainingStepsManager"]


class RemainingStepsManager(ManagedValue):
    """Computes ``RemainingSteps``: the steps left, the running one included."""

    def value(self, steps_left: int) -> int:
        return steps_left


class IsLastStepManager(ManagedValue):
    """Computes ``IsLastStep``: whether the running step is the last allowed."""

    def value(self, steps_left: int) -> bool:
        return steps_left <= 1


RemainingSteps = Annotated[int, RemainingStepsManager()]
"""The steps the run may still take, this one included (an ``int``)."""

IsLastStep = Annotated[bool, IsLastStepManager()]
"""Whether this step is the last the run's ``recursion_limit`` allows."""
