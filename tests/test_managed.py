"""Managed values (cairn.managed): RemainingSteps and IsLastStep, computed
for each task from the run's recursion_limit and never stored, as LangGraph's
langgraph.managed (the numbers below are LangGraph 1.2.22's)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel
from typing_extensions import NotRequired

from cairn.graph import END, START, StateGraph
from cairn.managed import IsLastStep, RemainingSteps


class Counted(TypedDict):
    seen: Annotated[list, operator.add]
    remaining_steps: RemainingSteps
    last: NotRequired[IsLastStep]


def _looping_graph(schema: Any, saver: Any = None) -> Any:
    def step(state: Any) -> dict[str, Any]:
        read = state if isinstance(state, dict) else state.model_dump()
        return {"seen": [(read["remaining_steps"], read["last"])], "remaining_steps": 99}

    def again(state: Any) -> str:
        seen = state["seen"] if isinstance(state, dict) else state.seen
        return END if len(seen) >= 4 else "step"

    builder = StateGraph(schema)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", again)
    return builder.compile(checkpointer=saver)


def test_remaining_steps_counts_down_to_the_last_step(saver: Any) -> None:
    graph = _looping_graph(Counted, saver)
    config = {"configurable": {"thread_id": "m"}, "recursion_limit": 5}

    result = graph.invoke({"seen": [], "remaining_steps": 1}, config)  # the input's value is ignored

    assert result == {"seen": [(4, False), (3, False), (2, False), (1, True)]}
    assert graph.get_state(config).values == {"seen": [(4, False), (3, False), (2, False), (1, True)]}
    assert graph.invoke({"seen": []}, config)["seen"][-1] == (4, False)  # each run counts afresh


def test_managed_values_in_a_pydantic_state() -> None:
    class Model(BaseModel):
        seen: Annotated[list, operator.add] = []
        remaining_steps: RemainingSteps = 25
        last: IsLastStep = False

    result = _looping_graph(Model).invoke({"seen": []}, {"recursion_limit": 10})

    assert result["seen"] == [(9, False), (8, False), (7, False), (6, False)]
    assert "remaining_steps" not in result


class Seen(TypedDict):
    seen: Annotated[list, operator.add]
    remaining: RemainingSteps
    last: IsLastStep


def test_a_resumed_run_counts_its_steps_from_where_it_resumes(saver: Any) -> None:
    # (LangGraph counts a resumed run's steps from recursion_limit + 1, and
    # lets it take two more steps than the limit: README lists the difference.)
    builder = StateGraph(Seen).add_node("loop", lambda s: {"seen": [(s["remaining"], s["last"])]})
    builder.add_edge(START, "loop").add_conditional_edges("loop", lambda s: END if s["remaining"] <= 3 else "loop")
    graph = builder.compile(checkpointer=saver, interrupt_before=["loop"])
    config = {"configurable": {"thread_id": "t"}, "recursion_limit": 5}
    graph.invoke({"seen": []}, config)  # stops before the first loop step

    assert graph.invoke(None, config)["seen"] == [(5, False)]
