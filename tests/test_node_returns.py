"""What a node may return and take, as in LangGraph: a list of Commands (with
plain updates among them), an instance of the state class, a pydantic state
changed in place; a callable instance is named after its class; a ``writer:
StreamWriter`` parameter writes "custom" chunks. Results are read back from
the saver through a second compile."""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from cairn.errors import InvalidUpdateError
from cairn.graph import START, StateGraph
from cairn.types import Command, StreamWriter
from tests.support import thread


class S(TypedDict, total=False):
    xs: Annotated[list, operator.add]
    y: int


def stored(graph: Any, saver: Any) -> dict[str, Any]:
    """The thread's state as another compile of the graph reads it."""
    return graph.builder.compile(checkpointer=saver).get_state(thread("t")).values


def test_a_list_of_commands_updates_and_routes_as_one(saver: Any) -> None:
    builder = StateGraph(S)
    builder.add_node("multi", lambda s: [Command(update={"xs": ["c1"]}), {"xs": ["d"]}, Command(update={"y": 2}, goto="end")])
    builder.add_node("end", lambda s: {"xs": [f"end saw {s['y']}"]})
    graph = builder.add_edge(START, "multi").compile(checkpointer=saver)

    assert graph.invoke({"xs": []}, thread("t")) == {"xs": ["c1", "d", "end saw 2"], "y": 2}
    assert stored(graph, saver) == {"xs": ["c1", "d", "end saw 2"], "y": 2}


def test_a_list_of_commands_writing_a_plain_key_twice_is_refused() -> None:
    builder = StateGraph(S).add_node("twice", lambda s: [Command(update={"y": 1}), Command(update={"y": 2})])
    graph = builder.add_edge(START, "twice").compile()
    with pytest.raises(InvalidUpdateError, match="'y', which has no reducer"):
        graph.invoke({"xs": []})


@dataclass
class D:
    xs: Annotated[list, operator.add] = field(default_factory=list)
    y: int = 0


def test_an_instance_of_a_dataclass_state_writes_its_fields(saver: Any) -> None:
    builder = StateGraph(D).add_node("n", lambda s: D(xs=["n"], y=5)).add_edge(START, "n")
    graph = builder.compile(checkpointer=saver)

    assert graph.invoke(D(xs=["i"]), thread("t")) == {"xs": ["i", "n"], "y": 5}
    assert stored(graph, saver) == {"xs": ["i", "n"], "y": 5}


class P(BaseModel):
    xs: list = []
    y: int = 0
    note: str | None = None


def test_a_pydantic_state_changed_in_place_and_returned_is_written(saver: Any) -> None:
    def mutate(state: P) -> P:
        state.y = 7
        state.xs.append("m")
        return state

    graph = StateGraph(P).add_node("n", mutate).add_edge(START, "n").compile(checkpointer=saver)

    # note stays None, its default, so it is not written (as in LangGraph)
    assert graph.invoke({"xs": ["i"], "y": 1}, thread("t")) == {"xs": ["i", "m"], "y": 7}
    assert stored(graph, saver) == {"xs": ["i", "m"], "y": 7}


def test_a_new_pydantic_instance_writes_its_defaults_too_but_not_a_none_default(saver: Any) -> None:
    builder = StateGraph(P).add_node("n", lambda s: P(xs=["new"])).add_edge(START, "n")
    graph = builder.compile(checkpointer=saver)

    result = graph.invoke({"xs": ["i"], "y": 1, "note": "kept"}, thread("t"))

    assert result == {"xs": ["new"], "y": 0, "note": "kept"}


def test_a_callable_instance_is_a_node_named_after_its_class(saver: Any) -> None:
    class Doubler:
        def __call__(self, state: S) -> S:
            return {"y": state["y"] * 2}

    builder = StateGraph(S).add_node(Doubler())
    graph = builder.add_edge(START, "Doubler").compile(checkpointer=saver)

    assert graph.invoke({"y": 4}, thread("t"))["y"] == 8
    assert list(graph.get_state(thread("t")).metadata["writes"]) == ["Doubler"]


def test_a_writer_parameter_writes_custom_chunks(saver: Any) -> None:
    def node(state: S, writer: StreamWriter) -> S:
        writer({"progress": 1})
        return {"y": 1}

    async def anode(state: S, writer: StreamWriter) -> S:
        writer({"progress": 2})
        return {"y": 2}

    for fn, chunk in ((node, {"progress": 1}), (anode, {"progress": 2})):
        graph = StateGraph(S).add_node("n", fn).add_edge(START, "n").compile(checkpointer=saver)

        async def custom() -> list[Any]:
            return [c async for c in graph.astream({"xs": []}, thread(fn.__name__), stream_mode="custom")]

        assert asyncio.run(custom()) == [chunk]


def test_a_node_that_writes_nothing_streams_none_and_an_empty_state_invokes_to_none() -> None:
    """As LangGraph 1.2.22 shows them: an update of ``{}`` (or of None, or a
    Command with only a goto) is None in "updates"; a run that leaves the state
    empty returns None from invoke (its "values" stream has no chunk)."""
    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"y": 1})
    builder.add_node("b", lambda s: {})
    builder.add_node("c", lambda s: None)
    builder.add_node("d", lambda s: Command(goto="e"))
    builder.add_node("e", lambda s: {"y": None})
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "d")
    graph = builder.compile()
    assert list(graph.stream({})) == [
        {"a": {"y": 1}}, {"b": None}, {"c": None}, {"d": None}, {"e": {"y": None}}
    ]

    class Plain(TypedDict, total=False):  # no reducer, so no key has a value before a write
        y: int

    empty = StateGraph(Plain)
    empty.add_node("b", lambda s: {})
    empty.add_edge(START, "b")
    assert list(empty.compile().stream({}, stream_mode="values")) == []
    assert empty.compile().invoke({}) is None
    assert empty.compile().invoke({"y": 2}) == {"y": 2}
