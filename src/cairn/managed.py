"""Managed values: state keys the run computes for each step, never stored.

>>> class State(TypedDict):
...     messages: Annotated[list, add_messages]
...     remaining_steps: RemainingSteps
>>> def agent(state: State):
...     if state["remaining_steps"] < 2:
...         return {"messages": [("ai", "out of steps")]}

``RemainingSteps``: how many steps the run may still take before its
``recursion_limit``, this one included; ``IsLastStep``: whether this is the
last one. As LangGraph's ``langgraph.managed``.
"""

from __future__ import annotations

from typing import Annotated

from cairn.graph.schema import Managed

__all__ = ["IsLastStep", "RemainingSteps"]

RemainingSteps = Annotated[int, Managed("remaining_steps")]
IsLastStep = Annotated[bool, Managed("is_last_step")]
