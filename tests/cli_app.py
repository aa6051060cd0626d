"""The application the operator-command tests (tests/test_cli_operator.py)
point ``cairn --graph`` at: a state with a reducer (``items`` appends), and
three graphs: one that finishes, one that pauses in interrupt(), one whose
second node fails."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from cairn.graph import END, START, StateGraph
from cairn.types import interrupt


class State(TypedDict, total=False):
    items: Annotated[list[str], operator.add]
    note: str


def plan(state: State) -> dict[str, Any]:
    return {"items": ["planned"], "note": "planned"}


def work(state: State) -> dict[str, Any]:
    return {"items": ["worked"], "note": "worked"}


def ask(state: State) -> dict[str, Any]:
    return {"note": interrupt("go on?")}


def boom(state: State) -> dict[str, Any]:
    raise ValueError("boom")


def _two_steps(second: Any) -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("work", second)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "work")
    builder.add_edge("work", END)
    return builder


builder = _two_steps(work)
graph = builder.compile()
asking = _two_steps(ask).compile()
failing = _two_steps(boom).compile()
