"""The builder and ``compile()`` reject graphs that cannot run, naming the problem."""

import operator
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.errors import GraphValidationError
from cairn.graph import END, START, StateGraph


class Log(TypedDict):
    log: Annotated[list, operator.add]


def logger(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda state: {"log": [name]}


def test_edge_to_unknown_node_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="ghost"):
        builder.add_edge("a", "ghost")
        builder.compile()


def test_edge_from_unknown_node_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="phantom"):
        builder.add_edge("phantom", "a")
        builder.compile()


def test_join_from_unknown_node_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("c", logger("c"))
    builder.add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="wraith"):
        builder.add_edge(["a", "wraith"], "c")
        builder.compile()


def test_conditional_edge_from_unknown_node_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="spectre"):
        builder.add_conditional_edges("spectre", lambda s: "a")
        builder.compile()


def test_conditional_path_map_to_unknown_node_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="ghoul"):
        builder.add_conditional_edges("a", lambda s: "x", {"x": "ghoul", "done": END})
        builder.compile()


def test_graph_without_entry_point_is_rejected() -> None:
    builder = StateGraph(Log).add_node("a", logger("a"))
    with pytest.raises(GraphValidationError, match="(?i)entry|start"):
        builder.compile()


def test_duplicate_node_name_is_rejected_by_add_node() -> None:
    builder = StateGraph(Log).add_node("twice", logger("a"))
    with pytest.raises(GraphValidationError, match="twice"):
        builder.add_node("twice", logger("b"))


def test_duplicate_node_name_from_function_name_is_rejected() -> None:
    def fetch(state: Log) -> dict[str, Any]:
        return {}

    builder = StateGraph(Log).add_node(fetch)
    with pytest.raises(GraphValidationError, match="fetch"):
        builder.add_node(fetch)


@pytest.mark.parametrize("name", ["__start__", "__end__", "a:b", "a|b"])
def test_reserved_node_name_is_rejected(name: str) -> None:
    with pytest.raises(GraphValidationError):
        builder = StateGraph(Log).add_node(name, logger("x"))
        builder.add_edge(START, name)
        builder.compile()


def test_reserved_node_name_error_names_the_node() -> None:
    with pytest.raises(GraphValidationError, match="__end__"):
        StateGraph(Log).add_node("__end__", logger("x")).add_edge(START, "__end__").compile()


def test_edge_out_of_end_is_rejected() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError):
        builder.add_edge(END, "a")
        builder.compile()


def test_edge_into_start_is_rejected() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.raises(GraphValidationError):
        builder.add_edge("a", START)
        builder.compile()


def test_node_that_can_never_run_is_rejected_naming_it() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("island", logger("i"))
    builder.add_edge(START, "a")
    with pytest.raises(GraphValidationError, match="island"):
        builder.compile()


def test_node_reachable_only_through_a_path_map_compiles() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("b", logger("b"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: "go", {"go": "b", "stop": END})
    assert builder.compile().invoke({"log": []}) == {"log": ["a", "b"]}


def test_unreached_node_is_allowed_when_a_conditional_edge_has_no_path_map() -> None:
    # Without a path_map the router may return any node name, so cairn cannot
    # tell which nodes are reachable and must not reject any.
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("maybe", logger("maybe"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: "maybe")
    assert builder.compile().invoke({"log": []}) == {"log": ["a", "maybe"]}


def test_graph_validation_error_is_a_value_error() -> None:
    # so `except ValueError` written for LangGraph keeps working
    builder = StateGraph(Log).add_node("a", logger("a"))
    with pytest.raises(ValueError):
        builder.compile()
