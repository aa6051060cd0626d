"""``Command(graph=Command.PARENT, ...)``: a subgraph's node hands off to a
node of the graph above, as in LangGraph: the command's update is the
subgraph node's update there, and its goto is where that graph goes next."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import ParentCommand
from cairn.graph import START, StateGraph
from cairn.types import Command, RetryPolicy
from tests.support import history, thread


class S(TypedDict, total=False):
    xs: Annotated[list, operator.add]
    who: str


CALLS: list[str] = []


def handoff(state: S) -> Command:
    CALLS.append("handoff")
    return Command(graph=Command.PARENT, goto="other", update={"xs": ["handoff"], "who": "agent"})


def with_agent(saver: Any) -> Any:
    """parent: agent (a subgraph: work -> handoff, which hands off to other), other.
    Only the hand-off leads to "other": compile must accept it."""
    agent = StateGraph(S).add_node("work", lambda s: {"xs": ["work"]})
    agent.add_node("handoff", handoff, retry_policy=RetryPolicy(max_attempts=3, retry_on=Exception))
    agent.add_edge(START, "work").add_edge("work", "handoff")
    parent = StateGraph(S).add_node("agent", agent.compile()).add_node("other", lambda s: {"xs": ["other"]})
    return parent.add_edge(START, "agent").compile(checkpointer=saver)


def test_a_subgraph_node_hands_off_to_a_node_of_its_parent(saver: Any) -> None:
    CALLS.clear()
    graph = with_agent(saver)

    chunks = list(graph.stream({"xs": []}, thread("t")))

    assert chunks == [{"agent": {"xs": ["handoff"], "who": "agent"}}, {"other": {"xs": ["other"]}}]
    assert CALLS == ["handoff"]  # a hand-off is not a failure to retry
    cold = graph.builder.compile(checkpointer=saver)
    assert cold.get_state(thread("t")).values == {"xs": ["handoff", "other"], "who": "agent"}
    assert [(s.metadata["step"], s.next) for s in history(cold, thread("t"))] == [
        (2, ()),
        (1, ("other",)),
        (0, ("agent",)),
        (-1, ("__start__",)),
    ]


def test_a_hand_off_reaches_the_graph_just_above_two_levels_down(saver: Any) -> None:
    inner = StateGraph(S).add_node("h", lambda s: Command(graph=Command.PARENT, goto="c2", update={"xs": ["h"]}))
    middle = StateGraph(S).add_node("inner", inner.add_edge(START, "h").compile())
    middle.add_node("c2", lambda s: {"xs": ["c2"]}).add_edge(START, "inner")
    top = StateGraph(S).add_node("middle", middle.compile()).add_node("end", lambda s: {"xs": ["end"]})
    graph = top.add_edge(START, "middle").add_edge("middle", "end").compile(checkpointer=saver)

    assert asyncio.run(graph.ainvoke({"xs": []}, thread("t"))) == {"xs": ["h", "c2", "end"]}


def test_a_hand_off_from_a_graph_without_a_parent_is_an_error() -> None:
    graph = StateGraph(S).add_node("n", handoff).add_node("other", lambda s: {})
    with pytest.raises(ParentCommand, match="is not running as a subgraph") as raised:
        graph.add_edge(START, "n").compile().invoke({"xs": []})
    assert raised.value.command.goto == "other"
