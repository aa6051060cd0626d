"""Pauses that cross graphs, as LangGraph has them: a breakpoint inside a
subgraph stops the whole run there; a graph run inside a node without a
checkpointer of its own asks its questions as that node; ``Command(resume=)``
at a static breakpoint goes on; ``Command(resume=..., update=...)`` applies
the update before the resumed step. Resumes go through a second compile of
the graph, so they read what the saver stored."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import NodeInterrupt
from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import thread


class S(TypedDict, total=False):
    xs: Annotated[list, operator.add]


def with_breakpoint(saver: Any, **breakpoint: list[str]) -> Any:
    """parent: child -> after; child (compiled with ``breakpoint``): s1 -> s2."""
    child = StateGraph(S).add_node("s1", lambda s: {"xs": ["s1"]}).add_node("s2", lambda s: {"xs": ["s2"]})
    child.add_edge(START, "s1").add_edge("s1", "s2")
    parent = StateGraph(S).add_node("child", child.compile(**breakpoint))
    parent.add_node("after", lambda s: {"xs": ["after"]})
    return parent.add_edge(START, "child").add_edge("child", "after").compile(checkpointer=saver)


def cold(graph: Any, saver: Any) -> Any:
    return graph.builder.compile(checkpointer=saver)


@pytest.mark.parametrize("breakpoint", [{"interrupt_before": ["s2"]}, {"interrupt_after": ["s1"]}])
def test_a_breakpoint_in_a_subgraph_stops_the_whole_run(saver: Any, breakpoint: Any) -> None:
    graph = with_breakpoint(saver, **breakpoint)

    assert graph.invoke({"xs": []}, thread("t")) == {"xs": []}

    state = cold(graph, saver).get_state(thread("t"), subgraphs=True)
    assert state.next == ("child",) and state.interrupts == ()
    assert state.tasks[0].state.next == ("s2",)
    assert state.tasks[0].state.values == {"xs": ["s1"]}
    assert cold(graph, saver).invoke(None, thread("t")) == {"xs": ["s1", "s2", "after"]}


def test_a_breakpoint_in_a_subgraph_streams_an_empty_interrupt(saver: Any) -> None:
    graph = with_breakpoint(saver, interrupt_before=["s2"])

    async def chunks() -> list[Any]:
        return [c async for c in graph.astream({"xs": []}, thread("t"))]

    assert asyncio.run(chunks()) == [{"__interrupt__": ()}]


def test_command_resume_at_a_static_breakpoint_goes_on(saver: Any) -> None:
    builder = StateGraph(S).add_node("a", lambda s: {"xs": ["a"]}).add_node("b", lambda s: {"xs": ["b"]})
    builder.add_edge(START, "a").add_edge("a", "b")
    graph = builder.compile(checkpointer=saver, interrupt_before=["b"])
    graph.invoke({"xs": []}, thread("t"))

    assert cold(graph, saver).invoke(Command(resume="ignored"), thread("t")) == {"xs": ["a", "b"]}


def test_a_graph_invoked_in_a_node_asks_its_questions_as_the_node(saver: Any) -> None:
    inner = StateGraph(S).add_node("ask", lambda s: {"xs": [interrupt("inner question")]})
    inner_graph = inner.add_edge(START, "ask").compile()  # no checkpointer of its own

    def calls_inner(state: S) -> S:
        return {"xs": inner_graph.invoke({"xs": []})["xs"]}

    graph = StateGraph(S).add_node("n", calls_inner).add_edge(START, "n").compile(checkpointer=saver)

    paused = graph.invoke({"xs": ["p"]}, thread("t"))
    assert [i.value for i in paused["__interrupt__"]] == ["inner question"]
    assert cold(graph, saver).get_state(thread("t")).next == ("n",)

    assert cold(graph, saver).invoke(Command(resume="answer"), thread("t")) == {"xs": ["p", "answer"]}


def test_a_resume_with_an_update_applies_it_before_the_node_reruns(saver: Any) -> None:
    seen: list[list[str]] = []

    def ask(state: S) -> S:
        seen.append(list(state["xs"]))
        return {"xs": [interrupt("q")]}

    graph = StateGraph(S).add_node("ask", ask).add_edge(START, "ask").compile(checkpointer=saver)
    graph.invoke({"xs": ["p"]}, thread("t"))

    result = cold(graph, saver).invoke(Command(resume="ans", update={"xs": ["upd"]}), thread("t"))

    assert result == {"xs": ["p", "upd", "ans"]}
    assert seen == [["p"], ["p", "upd"]]
    assert cold(graph, saver).get_state(thread("t")).metadata["writes"]["__start__"] == {"xs": ["upd"]}


def test_an_update_given_with_one_of_two_answers_is_kept_until_the_step_commits(saver: Any) -> None:
    builder = StateGraph(S)
    builder.add_node("a1", lambda s: {"xs": [interrupt("q1")]}).add_node("a2", lambda s: {"xs": [interrupt("q2")]})
    graph = builder.add_edge(START, "a1").add_edge(START, "a2").compile(checkpointer=saver)
    ids = {i.value: i.id for i in graph.invoke({"xs": []}, thread("t"))["__interrupt__"]}

    again = cold(graph, saver).invoke(Command(resume={ids["q1"]: "A"}, update={"xs": ["upd"]}), thread("t"))
    assert [i.value for i in again["__interrupt__"]] == ["q2"]
    assert cold(graph, saver).get_state(thread("t")).values == {"xs": ["upd", "A"]}

    final = cold(graph, saver).invoke(Command(resume={ids["q2"]: "B"}), thread("t"))
    assert final == {"xs": ["upd", "A", "B"]}


def test_a_node_raising_node_interrupt_pauses_and_reruns_on_resume(saver: Any) -> None:
    class N(TypedDict):
        n: int

    def check(state: N) -> N:
        if state["n"] > 3:
            raise NodeInterrupt(f"too big: {state['n']}")
        return {"n": state["n"] + 1}

    graph = StateGraph(N).add_node("check", check).add_edge(START, "check").compile(checkpointer=saver)
    paused = graph.invoke({"n": 5}, thread("t"))
    assert [i.value for i in paused["__interrupt__"]] == ["too big: 5"]
    assert cold(graph, saver).get_state(thread("t")).next == ("check",)

    cold(graph, saver).update_state(thread("t"), {"n": 1})
    assert cold(graph, saver).invoke(None, thread("t")) == {"n": 2}
