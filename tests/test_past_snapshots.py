"""Past snapshots keep their tasks' errors and interrupts after the thread
moves on (``StateSnapshot.tasks[i].error / .interrupts``), as LangGraph's
do: in the history and read by checkpoint id, through a second compile."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import by_step, history, thread


class S(TypedDict):
    xs: Annotated[list, operator.add]


def flaky_then_ask(saver: Any, failing: list[bool]) -> Any:
    def flaky(state: S) -> S:
        if failing[0]:
            failing[0] = False
            raise ValueError("boom")
        return {"xs": ["ok"]}

    builder = StateGraph(S).add_node("flaky", flaky).add_node("ask", lambda s: {"xs": [interrupt("q")]})
    return builder.add_edge(START, "flaky").add_edge("flaky", "ask").compile(checkpointer=saver)


def test_a_past_snapshot_keeps_its_tasks_error_and_interrupts(saver: Any) -> None:
    failing = [True]
    graph = flaky_then_ask(saver, failing)
    with pytest.raises(ValueError, match="boom"):
        graph.invoke({"xs": []}, thread("t"))
    graph.invoke(None, thread("t"))
    graph.invoke(Command(resume="A"), thread("t"))

    cold = flaky_then_ask(saver, failing)
    snapshots = history(cold, thread("t"))
    failed, asked = by_step(snapshots, 0).tasks[0], by_step(snapshots, 1).tasks[0]
    assert (failed.name, failed.error, failed.result) == ("flaky", "ValueError('boom')", {"xs": ["ok"]})
    assert (asked.name, [i.value for i in asked.interrupts], asked.result) == ("ask", ["q"], {"xs": ["A"]})
    assert [i.value for i in by_step(snapshots, 1).interrupts] == ["q"]
    assert cold.get_state(by_step(snapshots, 0).config).tasks[0].error == "ValueError('boom')"
    assert cold.get_state(thread("t")).interrupts == ()  # the head waits for nothing


def test_a_past_snapshot_read_through_the_async_api(saver: Any) -> None:
    graph = flaky_then_ask(saver, [False])
    graph.invoke({"xs": []}, thread("t"))
    graph.invoke(Command(resume="A"), thread("t"))

    async def read() -> list[Any]:
        return [s async for s in graph.aget_state_history(thread("t"))]

    asked = by_step(asyncio.run(read()), 1).tasks[0]
    assert [i.value for i in asked.interrupts] == ["q"]
