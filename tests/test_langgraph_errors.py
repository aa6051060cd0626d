"""The names of ``langgraph.errors`` that ported code catches or builds
messages with, in ``cairn.errors``: each the class cairn really raises for
the same situation, and a ``CairnError`` (or a signal that is no error)."""

from __future__ import annotations

import operator
import pickle
import threading
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import (
    CairnError,
    EmptyChannelError,
    ErrorCode,
    GraphBubbleUp,
    GraphDrained,
    GraphInterrupt,
    InvalidResumeError,
    ParentCommand,
    RunCancelledError,
    TaskNotFound,
    UnknownInterruptError,
    create_error_message,
)
from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import thread


class S(TypedDict):
    log: Annotated[list, operator.add]


def two_questions() -> Any:
    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"log": [interrupt("a?")]})
    builder.add_node("b", lambda s: {"log": [interrupt("b?")]})
    builder.add_edge(START, "a").add_edge(START, "b")
    return builder.compile(checkpointer=InMemorySaver())


def test_an_unknown_interrupt_id_raises_unknown_interrupt_error_with_the_ids() -> None:
    graph = two_questions()
    pending = sorted(i.id for i in graph.invoke({"log": []}, thread("t"))["__interrupt__"])
    unknown = "0123456789abcdef0123456789abcdef"
    with pytest.raises(UnknownInterruptError, match=unknown) as caught:
        graph.invoke(Command(resume={pending[0]: "x", unknown: "z"}), thread("t"))
    error = caught.value
    assert (error.reason, error.interrupt_ids, error.pending_ids) == ("not_pending", (unknown,), tuple(pending))
    assert isinstance(error, InvalidResumeError) and isinstance(error, CairnError)
    again = pickle.loads(pickle.dumps(error))
    assert (again.reason, again.interrupt_ids, again.pending_ids, str(again)) == (
        error.reason, error.interrupt_ids, error.pending_ids, str(error)
    )


def test_one_answer_for_two_interrupts_is_ambiguous() -> None:
    graph = two_questions()
    pending = sorted(i.id for i in graph.invoke({"log": []}, thread("t"))["__interrupt__"])
    with pytest.raises(UnknownInterruptError) as caught:
        graph.invoke(Command(resume="plain"), thread("t"))
    assert (caught.value.reason, caught.value.pending_ids) == ("ambiguous", tuple(pending))
    assert isinstance(caught.value, RuntimeError)  # as LangGraph's non-strict resume raises


def test_a_cancelled_run_is_caught_as_graph_drained() -> None:
    builder = StateGraph(S).add_node("a", lambda s: {"log": ["a"]}).add_edge(START, "a")
    graph = builder.compile(checkpointer=InMemorySaver())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(GraphDrained) as caught:
        graph.invoke({"log": []}, thread("c"), cancel=cancel)
    assert type(caught.value) is RunCancelledError and caught.value.reason == "cancelled"
    assert "invoke(None, config)" in str(caught.value)
    assert graph.invoke(None, thread("c")) == {"log": ["a"]}  # it goes on from where it stopped
    assert str(GraphDrained()) == "Graph drained: shutdown" and GraphDrained("sigterm").reason == "sigterm"


def test_a_node_that_catches_broadly_reraises_graph_bubble_up() -> None:
    seen: list[str] = []

    def careful(state: S) -> dict[str, Any]:
        try:
            answer = interrupt("name?")
        except GraphBubbleUp:
            seen.append("bubbled")
            raise
        except Exception:  # pragma: no cover - what the pattern guards against
            seen.append("swallowed")
            answer = "none"
        return {"log": [answer]}

    graph = StateGraph(S).add_node("n", careful).add_edge(START, "n").compile(checkpointer=InMemorySaver())
    assert [i.value for i in graph.invoke({"log": []}, thread("b"))["__interrupt__"]] == ["name?"]
    assert graph.invoke(Command(resume="Ada"), thread("b")) == {"log": ["Ada"]}
    assert seen == ["bubbled"]
    assert issubclass(GraphInterrupt, GraphBubbleUp) and not issubclass(GraphBubbleUp, Exception)
    assert issubclass(ParentCommand, GraphBubbleUp) and issubclass(ParentCommand, CairnError)


def test_error_codes_and_messages_are_langgraphs() -> None:
    assert [code.value for code in ErrorCode] == [
        "GRAPH_RECURSION_LIMIT",
        "INVALID_CONCURRENT_GRAPH_UPDATE",
        "INVALID_GRAPH_NODE_RETURN_VALUE",
        "MULTIPLE_SUBGRAPHS",
        "INVALID_CHAT_HISTORY",
    ]
    # As langgraph.errors.create_error_message gives it.
    assert create_error_message(message="Too deep", error_code=ErrorCode.GRAPH_RECURSION_LIMIT) == (
        "Too deep\nFor troubleshooting, visit: "
        "https://docs.langchain.com/oss/python/langgraph/errors/GRAPH_RECURSION_LIMIT"
    )


def test_errors_cairn_never_raises_still_catch_as_cairn_errors() -> None:
    assert issubclass(EmptyChannelError, CairnError) and issubclass(EmptyChannelError, LookupError)
    assert issubclass(TaskNotFound, CairnError)
