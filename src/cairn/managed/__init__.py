"""Managed values: state keys the runtime computes for each task, never stored.

    from cairn.managed import IsLastStep, RemainingSteps

    class State(TypedDict):
        messages: Annotated[list, add_messages]
        remaining_steps: RemainingSteps   # steps this run may still take
        is_last_step: IsLastStep          # True in the run's last allowed step

As in LangGraph (``langgraph.managed``, ``.is_last_step``, ``.base``): a
node (or a conditional edge) reads them like any key; a value written to
them (by the input or a node) is ignored. ``remaining_steps`` counts down
from ``recursion_limit - 1`` in the first step of a node; at 1
(``is_last_step`` True) the next step would raise ``GraphRecursionError``.
"""

from cairn.managed.base import ManagedValue, managed_marker
from cairn.managed.is_last_step import IsLastStep, RemainingSteps

__all__ = ["IsLastStep", "ManagedValue", "RemainingSteps", "managed_marker"]
