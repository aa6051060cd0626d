"""How a subgraph stores, by what it was compiled with, as in LangGraph:
``checkpointer=None`` (the parent's saver, a namespace per parent task),
``checkpointer=True`` (one namespace per thread: the subgraph remembers
across the parent's runs) and ``checkpointer=False`` (nothing stored; an
interrupt inside reruns the subgraph from its start). Each case resumes
through a second compile of the parent, so it reads what the saver stored."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import CheckpointerModeError
from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import history, thread


class Parent(TypedDict, total=False):
    xs: Annotated[list, operator.add]


class Child(TypedDict, total=False):
    xs: Annotated[list, operator.add]
    seen: Annotated[list, operator.add]


def parent_of(mode: Any, saver: Any, calls: list[str] | None = None) -> Any:
    """parent: child; child (compiled with ``checkpointer=mode``): remember ->
    ask, where remember notes how many runs it has seen and ask interrupts."""

    def remember(state: Child) -> Child:
        if calls is not None:
            calls.append("remember")
        return {"seen": [len(state.get("seen", []))], "xs": ["sub"]}

    child = StateGraph(Child)
    child.add_node("remember", remember).add_node("ask", lambda s: {"xs": [interrupt("q")]})
    child.add_edge(START, "remember").add_edge("remember", "ask")
    parent = StateGraph(Parent).add_node("child", child.compile(checkpointer=mode))
    return parent.add_edge(START, "child").compile(checkpointer=saver)


def child_state(graph: Any, thread_id: str) -> Any:
    """The subgraph's state as get_state(subgraphs=True) shows it (None if none)."""
    return graph.get_state(thread(thread_id), subgraphs=True).tasks[0].state


def cold(graph: Any, saver: Any) -> Any:
    return graph.builder.compile(checkpointer=saver)


def test_a_subgraph_compiled_with_true_remembers_across_the_parents_runs(saver: Any) -> None:
    graph = parent_of(True, saver)
    graph.invoke({"xs": ["p"]}, thread("t"))
    first = child_state(graph, "t")
    assert first.config["configurable"]["checkpoint_ns"] == "child"  # no task id: one per thread
    cold(graph, saver).invoke(Command(resume="A"), thread("t"))

    cold(graph, saver).invoke({"xs": ["q"]}, thread("t"))

    again = child_state(cold(graph, saver), "t")
    assert again.values["seen"] == [0, 1]  # the second run saw the first
    assert again.values["xs"][:3] == ["p", "sub", "A"]
    assert cold(graph, saver).invoke(Command(resume="B"), thread("t"))["xs"][-1] == "B"
    kept = history(graph, {"configurable": {"thread_id": "t", "checkpoint_ns": "child"}})
    assert kept[0].values["seen"] == [0, 1] and kept[0].values["xs"][-1] == "B"


def test_a_subgraph_compiled_with_none_starts_afresh_in_each_parent_task(saver: Any) -> None:
    graph = parent_of(None, saver)
    graph.invoke({"xs": ["p"]}, thread("t"))
    assert child_state(graph, "t").config["configurable"]["checkpoint_ns"].startswith("child:")
    graph.invoke(Command(resume="A"), thread("t"))

    graph.invoke({"xs": ["q"]}, thread("t"))

    assert child_state(cold(graph, saver), "t").values["seen"] == [0]


def test_a_subgraph_compiled_with_false_stores_nothing_and_reruns_on_resume(saver: Any) -> None:
    calls: list[str] = []
    graph = parent_of(False, saver, calls)
    paused = graph.invoke({"xs": ["p"]}, thread("t"))
    assert [i.value for i in paused["__interrupt__"]] == ["q"]
    assert child_state(graph, "t") is None

    again = parent_of(False, saver, calls)
    result = again.invoke(Command(resume="A"), thread("t"))

    assert result == {"xs": ["p", "p", "sub", "A"]}
    assert calls == ["remember", "remember"]  # nothing kept: the subgraph ran again from its start
    assert [s.config["configurable"]["checkpoint_ns"] for s in history(graph, thread("t"))] == [""] * 3


def test_a_subgraph_compiled_with_false_answers_its_interrupts_in_order(saver: Any) -> None:
    child = StateGraph(Child)
    child.add_node("one", lambda s: {"xs": [interrupt("q1")]})
    child.add_node("two", lambda s: {"xs": [interrupt("q2")]})
    child.add_edge(START, "one").add_edge("one", "two")
    graph = StateGraph(Parent).add_node("child", child.compile(checkpointer=False))
    graph = graph.add_edge(START, "child").compile(checkpointer=saver)

    first = graph.invoke({"xs": []}, thread("t"))["__interrupt__"][0]
    second = graph.invoke(Command(resume="A"), thread("t"))["__interrupt__"][0]
    result = graph.invoke(Command(resume={second.id: "B"}), thread("t"))

    assert (first.value, second.value) == ("q1", "q2")
    assert result == {"xs": ["A", "B"]}


def test_a_subgraph_compiled_with_true_runs_under_ainvoke(saver: Any) -> None:
    graph = parent_of(True, saver)

    async def twice() -> Any:
        await graph.ainvoke({"xs": ["p"]}, thread("t"))
        await graph.ainvoke(Command(resume="A"), thread("t"))
        await graph.ainvoke({"xs": ["q"]}, thread("t"))
        return (await graph.aget_state(thread("t"), subgraphs=True)).tasks[0].state

    assert asyncio.run(twice()).values["seen"] == [0, 1]


def test_a_graph_compiled_with_true_is_refused_on_its_own() -> None:
    graph = StateGraph(Parent).add_node("n", lambda s: {"xs": [1]}).add_edge(START, "n")
    compiled = graph.compile(checkpointer=True)
    with pytest.raises(CheckpointerModeError, match="compiled with checkpointer=True") as raised:
        compiled.invoke({"xs": []}, thread("t"))
    assert isinstance(raised.value, RuntimeError)
    with pytest.raises(CheckpointerModeError):
        compiled.get_state(thread("t"))


def test_subgraph_checkpoints_name_the_checkpoints_their_parents_ran_from(saver: Any) -> None:
    inner = StateGraph(Child).add_node("ask", lambda s: {"xs": [interrupt("q")]}).add_edge(START, "ask")
    middle = StateGraph(Child).add_node("inner", inner.compile()).add_edge(START, "inner")
    top = StateGraph(Parent).add_node("one", lambda s: {"xs": [1]}).add_node("middle", middle.compile())
    graph = top.add_edge(START, "one").add_edge("one", "middle").compile(checkpointer=saver)
    graph.invoke({"xs": []}, thread("t"))

    state = cold(graph, saver).get_state(thread("t"), subgraphs=True)
    mid = state.tasks[0].state
    low = mid.tasks[0].state

    top_id = state.config["configurable"]["checkpoint_id"]
    mid_ns, mid_id = mid.config["configurable"]["checkpoint_ns"], mid.config["configurable"]["checkpoint_id"]
    assert state.metadata["parents"] == {}
    assert mid.metadata["parents"] == {"": top_id}
    assert low.metadata["parents"] == {"": top_id, mid_ns: mid_id}
