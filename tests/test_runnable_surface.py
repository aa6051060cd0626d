"""The runnable surface a compiled graph shares with LangGraph's: get_graph
(drawn by LangChain's Graph, as LangGraph's is), the input and output JSON
schemas, with_config, batch and abatch, and the import path of
CompiledStateGraph."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest

from cairn.config import get_config
from cairn.errors import ArgumentTypeError
from cairn.graph import END, START, StateGraph
from cairn.types import Command
from tests.support import thread

pytest.importorskip("langchain_core", reason="get_graph draws with langchain_core (cairn[langchain])")


class S(TypedDict):
    xs: Annotated[list, operator.add]


def route(state: S) -> Literal["b", "c"]:
    return "b"


def hand_on(state: S) -> Command[Literal["c", "__end__"]]:
    return Command(goto=END)


def shaped() -> StateGraph:
    builder = StateGraph(S)
    for name in "abc":
        builder.add_node(name, lambda s: {"xs": [1]})
    builder.add_node("d", hand_on)
    builder.add_edge(START, "a").add_conditional_edges("a", route).add_edge("b", "d")
    return builder.add_conditional_edges("c", lambda s: "x", {"x": END, "y": "a"})


def edges(graph: Any) -> list[tuple[str, str, bool, Any]]:
    return [(e.source, e.target, e.conditional, e.data) for e in graph.edges]


def test_get_graph_has_the_edges_langgraph_draws() -> None:
    drawn = shaped().compile().get_graph()

    assert list(drawn.nodes) == ["__start__", "a", "b", "c", "d", "__end__"]
    assert edges(drawn) == [
        ("__start__", "a", False, None),
        ("a", "b", True, None),
        ("a", "c", True, None),
        ("b", "d", False, None),
        ("c", "__end__", True, "x"),
        ("c", "a", True, "y"),
        ("d", "__end__", True, None),
        ("d", "c", True, None),
    ]
    mermaid = drawn.draw_mermaid()
    assert "\t__start__ --> a;\n" in mermaid and "\tc -. &nbsp;y&nbsp; .-> a;\n" in mermaid


def test_get_graph_with_xray_draws_a_subgraph_inside() -> None:
    inner = StateGraph(S).add_node("i1", lambda s: {}).add_node("i2", lambda s: {})
    inner.add_edge(START, "i1").add_edge("i1", "i2")
    outer = StateGraph(S).add_node("pre", lambda s: {}).add_node("child", inner.compile())
    graph = outer.add_edge(START, "pre").add_edge("pre", "child").add_edge("child", END).compile()

    assert edges(graph.get_graph())[-1] == ("child", "__end__", False, None)
    drawn = graph.get_graph(xray=True)
    assert list(drawn.nodes) == ["__start__", "pre", "__end__", "child:i1", "child:i2"]
    assert edges(drawn) == [
        ("__start__", "pre", False, None),
        ("pre", "child:i1", False, None),
        ("child:i2", "__end__", False, None),
        ("child:i1", "child:i2", False, None),
    ]


class In(TypedDict):
    question: str


class Out(TypedDict, total=False):
    answer: str


class All(In, Out):
    pass


def test_json_schemas_of_input_and_output() -> None:
    graph = StateGraph(All, input_schema=In, output_schema=Out).add_node("n", lambda s: {})
    compiled = graph.add_edge(START, "n").compile()

    assert compiled.get_input_jsonschema() == {
        "properties": {"question": {"title": "Question", "type": "string"}},
        "required": ["question"],
        "title": "In",
        "type": "object",
    }
    output = compiled.get_output_jsonschema()
    assert output["title"] == "Out" and "required" not in output  # total=False
    assert output["properties"]["answer"]["type"] == "string"


def counter(saver: Any = None) -> Any:
    builder = StateGraph(S).add_node("n", lambda s: {"xs": [len(s["xs"])]})
    return builder.add_edge(START, "n").compile(checkpointer=saver)


def test_with_config_puts_its_config_under_every_call(saver: Any) -> None:
    bound = counter(saver).with_config(thread("t"), recursion_limit=5)

    bound.invoke({"xs": []})
    bound.invoke({"xs": []})

    assert bound.get_state(None).values == {"xs": [0, 1]}
    assert counter(saver).get_state(thread("t")).values == {"xs": [0, 1]}
    assert list(bound.stream({"xs": []}, {"configurable": {"thread_id": "u"}})) == [{"n": {"xs": [0]}}]


def test_batch_and_abatch_run_each_input() -> None:
    graph = counter()
    assert graph.batch([{"xs": []}, {"xs": ["a"]}]) == [{"xs": [0]}, {"xs": ["a", 1]}]
    assert asyncio.run(graph.abatch([{"xs": []}, {"xs": ["a", "b"]}])) == [{"xs": [0]}, {"xs": ["a", "b", 2]}]


def test_batch_returns_exceptions_when_asked() -> None:
    results = counter().batch([{"xs": []}, "not a dict"], return_exceptions=True)
    assert results[0] == {"xs": [0]} and isinstance(results[1], ValueError)
    with pytest.raises(ArgumentTypeError, match="2 inputs and 1 configs"):
        counter().batch([{"xs": []}, {"xs": []}], [None])


def test_compiled_state_graph_imports_from_the_builders_module() -> None:
    from cairn.graph.state import CompiledStateGraph

    assert isinstance(counter(), CompiledStateGraph)


def test_with_config_layers_and_refuses_a_misspelt_key() -> None:
    seen: list[Any] = []

    def look(state: S) -> S:
        config = get_config()
        seen.append((config["recursion_limit"], config["metadata"].get("who")))
        return {"xs": [1]}

    graph = StateGraph(S).add_node("n", look).add_edge(START, "n").compile()
    graph.with_config(recursion_limit=5).with_config(metadata={"who": "me"}).invoke({"xs": []})

    assert seen == [(5, "me")]
    with pytest.raises(TypeError, match="recursion_limt"):
        counter().with_config(recursion_limt=5)  # type: ignore[call-arg]
