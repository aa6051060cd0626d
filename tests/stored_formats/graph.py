"""The graph whose paused threads tests/stored_formats/*.sqlite hold."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from cairn.graph import START, StateGraph
from cairn.types import interrupt


class State(TypedDict):
    log: Annotated[list, operator.add]


def ask(state: State) -> dict[str, Any]:
    return {"log": [interrupt("name?")]}


def build(saver: Any) -> Any:
    return StateGraph(State).add_node("ask", ask).add_edge(START, "ask").compile(checkpointer=saver)
