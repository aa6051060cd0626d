"""Schemas as in LangGraph: a state of one value (``StateGraph(int)``,
``StateGraph(Annotated[list, add])``); ``input_schema=``
narrows what an input may write, ``output_schema=`` what ``invoke`` returns;
a node whose first parameter is annotated with another schema (or given
``add_node(input_schema=...)``) sees only that schema's keys, and keys no
other schema has become private channels, stored like the rest."""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel

from cairn.graph import START, StateGraph
from tests.support import thread


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


class All(TypedDict):
    question: str
    answer: str
    scratch: str


def think(state: All) -> dict[str, Any]:
    return {"scratch": "thought about " + state["question"]}


def answer(state: All) -> dict[str, Any]:
    return {"answer": state["scratch"].upper()}


def question_answer(saver: Any) -> Any:
    builder = StateGraph(All, input_schema=In, output_schema=Out)
    builder.add_node("think", think).add_node("answer", answer)
    return builder.add_edge(START, "think").add_edge("think", "answer").compile(checkpointer=saver)


def test_invoke_takes_the_input_schema_and_returns_the_output_schema(saver: Any) -> None:
    graph = question_answer(saver)

    # scratch is a key of the state but not of the input: the input cannot write it
    result = graph.invoke({"question": "q", "scratch": "injected"}, thread("t"))

    assert result == {"answer": "THOUGHT ABOUT Q"}
    stored = graph.builder.compile(checkpointer=saver).get_state(thread("t")).values
    assert stored == {"question": "q", "answer": "THOUGHT ABOUT Q", "scratch": "thought about q"}


def test_values_stream_the_state_schema_and_ainvoke_the_output_schema(saver: Any) -> None:
    graph = question_answer(saver)

    chunks = list(graph.stream({"question": "q"}, thread("t"), stream_mode="values"))
    result = asyncio.run(graph.ainvoke({"question": "r"}, thread("u")))

    assert chunks[-1] == {"question": "q", "answer": "THOUGHT ABOUT Q", "scratch": "thought about q"}
    assert result == {"answer": "THOUGHT ABOUT R"}


class Overall(TypedDict):
    user: str
    result: str


class Private(TypedDict):
    secret: str


def test_a_node_annotated_with_another_schema_reads_only_its_keys(saver: Any) -> None:
    def hide(state: Overall) -> Private:
        return {"secret": "s-" + state["user"]}

    def reveal(state: Private) -> dict[str, Any]:
        return {"result": f"{state['secret']} (saw {sorted(state)})"}

    builder = StateGraph(Overall).add_node("hide", hide).add_node("reveal", reveal)
    graph = builder.add_edge(START, "hide").add_edge("hide", "reveal").compile(checkpointer=saver)

    assert graph.invoke({"user": "ada"}, thread("t")) == {"user": "ada", "result": "s-ada (saw ['secret'])"}
    stored = graph.builder.compile(checkpointer=saver).get_state(thread("t")).values
    assert stored["secret"] == "s-ada"  # a private channel, stored with the rest


@dataclass
class Seen:
    user: str


class Shown(BaseModel):
    user: str


def test_add_node_input_schema_gives_the_node_an_instance_of_it(saver: Any) -> None:
    seen: list[Any] = []

    def look(state: Any) -> dict[str, Any]:
        seen.append(state)
        return {"result": "ok"}

    builder = StateGraph(Overall).add_node("dc", look, input_schema=Seen).add_node("pd", look, input_schema=Shown)
    graph = builder.add_edge(START, "dc").add_edge("dc", "pd").compile(checkpointer=saver)
    graph.invoke({"user": "ada"}, thread("t"))

    assert seen == [Seen(user="ada"), Shown(user="ada")]


def test_a_state_of_one_list_with_a_reducer(saver: Any) -> None:
    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("count", lambda items: [len(items)]).add_node("b", lambda items: ["b"])
    graph = builder.add_edge(START, "count").add_edge("count", "b").compile(checkpointer=saver)

    assert graph.invoke(["x"], thread("t")) == ["x", 1, "b"]
    assert list(graph.stream(["y"], thread("u"))) == [{"count": [1]}, {"b": ["b"]}]
    assert list(graph.stream(["z"], thread("v"), stream_mode="values")) == [["z"], ["z", 1], ["z", 1, "b"]]

    cold = graph.builder.compile(checkpointer=saver)
    assert cold.get_state(thread("t")).values == ["x", 1, "b"]
    assert [s.values for s in cold.get_state_history(thread("t"))] == [["x", 1, "b"], ["x", 1], ["x"], []]
    cold.update_state(thread("t"), ["edit"], as_node="b")
    assert asyncio.run(cold.aget_state(thread("t"))).values == ["x", 1, "b", "edit"]


def test_a_state_of_one_plain_value() -> None:
    graph = StateGraph(int).add_node("inc", lambda n: n + 1).add_edge(START, "inc").compile()
    assert graph.invoke(1) == 2
