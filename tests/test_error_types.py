"""Where LangGraph raises a built-in error type, cairn's error derives from it
too (and from CairnError), so ``except TypeError`` written for LangGraph
still catches it; the message names the offending value."""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import (
    ArgumentTypeError,
    CairnError,
    GraphValidationError,
    InvalidResumeError,
    InvalidUpdateError,
    NotCallableError,
)
from cairn.graph import END, START, StateGraph
from cairn.types import Command


class S(TypedDict):
    xs: Annotated[list, operator.add]


def built() -> StateGraph:
    return StateGraph(S).add_node("a", lambda s: {"xs": ["a"]}).add_edge(START, "a").add_edge("a", END)


CASES: dict[str, tuple[Callable[[], Any], type, str]] = {
    "a node that is not callable": (
        lambda: StateGraph(S).add_node("x", 5), NotCallableError, "node 'x': 5 is not callable"
    ),
    "a path that is not callable": (
        lambda: built().add_conditional_edges("a", 5), NotCallableError, "path 5 is not callable"
    ),
    "a checkpointer that is not a saver": (
        lambda: built().compile(checkpointer="memory"), ArgumentTypeError, "got builtins.str"
    ),
    "a config that is not a dict": (
        lambda: built().compile().invoke({"xs": []}, [1]), ArgumentTypeError, "got list [1]"
    ),
    "a recursion_limit that is not a number": (
        lambda: built().compile().invoke({"xs": []}, {"recursion_limit": "x"}),
        ArgumentTypeError,
        "got 'x'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_value_of_the_wrong_type_is_a_type_error_as_in_langgraph(case: str) -> None:
    call, error, named = CASES[case]
    with pytest.raises(TypeError) as caught:
        call()
    assert isinstance(caught.value, error) and isinstance(caught.value, CairnError)
    assert named in str(caught.value)


def test_the_type_errors_are_still_the_value_errors_cairn_raised_before() -> None:
    with pytest.raises(GraphValidationError):
        StateGraph(S).add_node("x", 5)
    with pytest.raises(ValueError):
        built().compile(checkpointer=InMemorySaver).invoke({"xs": []}, "t")


def test_an_answer_to_a_graph_without_a_checkpointer_is_a_runtime_error_as_in_langgraph() -> None:
    with pytest.raises(RuntimeError, match="Command.resume=.... needs a checkpointer") as caught:
        built().compile().invoke(Command(resume="yes"))
    assert isinstance(caught.value, InvalidResumeError)


@pytest.mark.parametrize("given", ["hello", [1], 5])
def test_an_input_that_is_not_a_dict_is_an_invalid_update_as_in_langgraph(given: Any) -> None:
    with pytest.raises(InvalidUpdateError, match=re.escape(f"got {type(given).__name__} {given!r}")):
        built().compile().invoke(given)
