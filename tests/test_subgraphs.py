"""Compiled graphs as nodes: shared keys in and out, checkpoints under their
own namespace, interrupts and failures inside them resumed where they stopped,
and their state shown by get_state(subgraphs=True) and by their namespace."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import ConfigError
from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import thread


class State(TypedDict):
    topic: str
    notes: Annotated[list, operator.add]


class Inner(TypedDict):
    topic: str
    notes: Annotated[list, operator.add]
    draft: str  # the subgraph's own key, never seen by the parent


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.fail = False

    def node(self, name: str, ask: bool = False) -> Any:
        def run(state: Any) -> dict[str, Any]:
            self.names.append(name)
            if self.fail and name == "s2":
                raise RuntimeError("s2 broke")
            note = f"{name}:{interrupt('ok?')}" if ask else name
            return {"notes": [note]}

        return run


def research(calls: Calls, ask: bool = False) -> Any:
    def draft(state: Inner) -> dict[str, Any]:
        calls.names.append("draft")
        return {"draft": f"about {state['topic']}"}

    builder = StateGraph(Inner)
    builder.add_node("s1", calls.node("s1")).add_node("s2", calls.node("s2", ask)).add_node("draft", draft)
    builder.add_edge(START, "s1").add_edge("s1", "s2").add_edge("s2", "draft")
    return builder.compile()


def parent(calls: Calls, saver: Any, ask: bool = False) -> Any:
    builder = StateGraph(State).add_node("research", research(calls, ask))
    builder.add_node("after", calls.node("after"))
    builder.add_edge(START, "research").add_edge("research", "after")
    return builder.compile(checkpointer=saver)


INPUT = {"topic": "tides", "notes": []}


def test_a_subgraph_node_takes_and_returns_the_shared_keys(saver: Any) -> None:
    calls = Calls()
    result = parent(calls, saver).invoke(INPUT, thread("t"))
    assert result == {"topic": "tides", "notes": ["s1", "s2", "after"]}
    assert calls.names == ["s1", "s2", "draft", "after"]


def test_a_subgraph_runs_without_any_checkpointer() -> None:
    calls = Calls()
    assert parent(calls, None).invoke(INPUT) == {"topic": "tides", "notes": ["s1", "s2", "after"]}


def test_the_subgraphs_checkpoints_live_under_its_own_namespace(saver: Any) -> None:
    graph = parent(Calls(), saver)
    graph.invoke(INPUT, thread("t"))
    top = list(graph.get_state_history(thread("t")))
    assert [s.metadata["step"] for s in top] == [2, 1, 0, -1]  # the parent's own steps only
    research_task = top[2].tasks[0]
    assert research_task.name == "research"
    ns = f"research:{research_task.id}"
    inner = list(graph.get_state_history({"configurable": {"thread_id": "t", "checkpoint_ns": ns}}))
    assert [s.next for s in inner] == [(), ("draft",), ("s2",), ("s1",), ("__start__",)]
    assert inner[0].values == {"topic": "tides", "notes": ["s1", "s2"], "draft": "about tides"}
    assert all(s.config["configurable"]["checkpoint_ns"] == ns for s in inner)
    head = graph.get_state({"configurable": {"thread_id": "t", "checkpoint_ns": ns}})
    assert head.values["draft"] == "about tides"


def test_an_interrupt_inside_a_subgraph_pauses_the_parent_and_resumes_inside(saver: Any) -> None:
    calls = Calls()
    graph = parent(calls, saver, ask=True)
    paused = graph.invoke(INPUT, thread("t"))
    (pending,) = paused["__interrupt__"]
    assert pending.value == "ok?"
    state = graph.get_state(thread("t"), subgraphs=True)
    assert state.next == ("research",)
    inner = state.tasks[0].state
    assert inner.values == {"topic": "tides", "notes": ["s1"]}
    assert inner.next == ("s2",)
    assert [i.id for i in inner.interrupts] == [pending.id]
    # Without subgraphs=True, as LangGraph 1.2.22: the config of the subgraph's checkpoints.
    assert graph.get_state(thread("t")).tasks[0].state == {
        "configurable": {"thread_id": "t", "checkpoint_ns": inner.config["configurable"]["checkpoint_ns"]}
    }

    result = graph.invoke(Command(resume="yes"), thread("t"))
    assert result == {"topic": "tides", "notes": ["s1", "s2:yes", "after"]}
    # s1 ran once: the subgraph resumed at s2 (which runs again, as interrupted nodes do).
    assert calls.names == ["s1", "s2", "s2", "draft", "after"]


def test_resuming_by_interrupt_id_reaches_the_subgraph(saver: Any) -> None:
    graph = parent(Calls(), saver, ask=True)
    (pending,) = graph.invoke(INPUT, thread("t"))["__interrupt__"]
    result = graph.invoke(Command(resume={pending.id: "by id"}), thread("t"))
    assert result["notes"] == ["s1", "s2:by id", "after"]


def test_a_failure_inside_a_subgraph_resumes_at_the_failed_node(saver: Any) -> None:
    calls = Calls()
    calls.fail = True
    graph = parent(calls, saver)
    with pytest.raises(RuntimeError, match="s2 broke"):
        graph.invoke(INPUT, thread("t"))
    calls.fail = False
    assert graph.invoke(None, thread("t")) == {"topic": "tides", "notes": ["s1", "s2", "after"]}
    assert calls.names == ["s1", "s2", "s2", "draft", "after"]


def test_subgraphs_nest(saver: Any) -> None:
    calls = Calls()
    middle = StateGraph(State).add_node("research", research(calls)).add_edge(START, "research").compile()
    top = StateGraph(State).add_node("middle", middle).add_edge(START, "middle").compile(checkpointer=saver)
    assert top.invoke(INPUT, thread("t"))["notes"] == ["s1", "s2"]
    middle_task = list(top.get_state_history(thread("t")))[1].tasks[0]
    middle_ns = f"middle:{middle_task.id}"
    middle_history = list(top.get_state_history({"configurable": {"thread_id": "t", "checkpoint_ns": middle_ns}}))
    research_task = middle_history[1].tasks[0]
    deep_ns = f"{middle_ns}|research:{research_task.id}"
    deep = top.get_state({"configurable": {"thread_id": "t", "checkpoint_ns": deep_ns}})
    assert deep.values["draft"] == "about tides"
    assert deep.config["configurable"]["checkpoint_ns"] == deep_ns


def test_a_namespace_that_names_no_subgraph_is_refused(saver: Any) -> None:
    graph = parent(Calls(), saver)
    graph.invoke(INPUT, thread("t"))
    with pytest.raises(ConfigError, match="'after'.*not a subgraph.*'research'"):
        graph.get_state({"configurable": {"thread_id": "t", "checkpoint_ns": "after:123"}})


def test_a_subgraph_under_ainvoke(saver: Any) -> None:
    calls = Calls()

    async def main() -> Any:
        graph = parent(calls, saver, ask=True)
        await graph.ainvoke(INPUT, thread("t"))
        return await graph.ainvoke(Command(resume="async"), thread("t"))

    assert asyncio.run(main())["notes"] == ["s1", "s2:async", "after"]


def test_replaying_the_parent_reruns_the_subgraph_from_scratch(saver: Any) -> None:
    calls = Calls()
    graph = parent(calls, saver)
    graph.invoke(INPUT, thread("t"))
    before_research = [s for s in graph.get_state_history(thread("t")) if s.next == ("research",)][0]
    calls.names.clear()
    assert graph.invoke(None, before_research.config)["notes"] == ["s1", "s2", "after"]
    assert calls.names == ["s1", "s2", "draft", "after"]


def test_update_state_on_a_subgraph_namespace_uses_the_subgraphs_schema(saver: Any) -> None:
    graph = parent(Calls(), saver, ask=True)
    graph.invoke(INPUT, thread("t"))
    inner = graph.get_state(thread("t"), subgraphs=True).tasks[0].state
    ns_config = {"configurable": {"thread_id": "t", "checkpoint_ns": inner.config["configurable"]["checkpoint_ns"]}}
    graph.update_state(ns_config, {"draft": "edited"})  # a key only the subgraph has
    assert graph.get_state(ns_config).values["draft"] == "edited"
