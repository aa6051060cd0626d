"""Managed values (``cairn.managed``), as LangGraph's: ``RemainingSteps`` and
``IsLastStep`` state keys are computed for each step from the run's
recursion limit, seen by nodes and conditional edges, and never stored."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import GraphRecursionError
from cairn.graph import END, START, StateGraph
from cairn.managed import IsLastStep, RemainingSteps
from tests.support import thread


class S(TypedDict):
    seen: Annotated[list, operator.add]
    remaining: RemainingSteps
    last: IsLastStep


def looping(stop: Any) -> StateGraph:
    """One node that records what it sees, looping until ``stop(state)``."""
    builder = StateGraph(S).add_node("loop", lambda s: {"seen": [(s["remaining"], s["last"])]})
    builder.add_edge(START, "loop")
    return builder.add_conditional_edges("loop", lambda s: END if stop(s) else "loop")


def test_remaining_steps_count_down_to_the_recursion_limit(saver: Any) -> None:
    graph = looping(lambda s: s["remaining"] <= 2).compile(checkpointer=saver)
    config = {**thread("t"), "recursion_limit": 6}

    result = graph.invoke({"seen": []}, config)

    assert result == {"seen": [(5, False), (4, False), (3, False), (2, False)]}
    stored = graph.builder.compile(checkpointer=saver).get_state(thread("t")).values
    assert set(stored) == {"seen"}  # managed keys are not stored


def test_is_last_step_lets_a_graph_stop_before_the_limit() -> None:
    graph = looping(lambda s: s["last"]).compile()
    result = asyncio.run(graph.ainvoke({"seen": []}, {"recursion_limit": 4}))
    assert result == {"seen": [(3, False), (2, False), (1, True)]}


def test_without_looking_the_limit_still_stops_the_run() -> None:
    graph = looping(lambda s: False).compile()
    with pytest.raises(GraphRecursionError):
        graph.invoke({"seen": []}, {"recursion_limit": 4})


def test_a_resumed_run_counts_its_steps_from_where_it_resumes(saver: Any) -> None:
    # (LangGraph counts a resumed run's steps from recursion_limit + 1, and
    # lets it take two more steps than the limit: README lists the difference.)
    graph = looping(lambda s: s["remaining"] <= 3).compile(checkpointer=saver, interrupt_before=["loop"])
    config = {**thread("t"), "recursion_limit": 5}
    graph.invoke({"seen": []}, config)  # stops before the first loop step

    assert graph.invoke(None, config)["seen"] == [(5, False)]
