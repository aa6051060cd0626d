"""``interrupt(value, response_schema=...)``: the interrupt carries the JSON
Schema of the answer it expects, on every saver and after a fresh process
reads it; a pydantic model, TypedDict or dataclass validates the answer. The
expected values are what LangGraph 1.2.22 gives for the same graph (run side
by side while writing these tests), ids left out."""

from __future__ import annotations

import operator
import shutil
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel, ValidationError

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ArgumentTypeError, InvalidResumeError, is_invalid_resume
from cairn.graph import START, StateGraph
from cairn.types import Command, Interrupt, interrupt
from tests.stored_formats.graph import build as build_stored
from tests.support import thread


class Decision(BaseModel):
    ok: bool
    note: str = ""


DECISION_SCHEMA = {
    "properties": {
        "ok": {"title": "Ok", "type": "boolean"},
        "note": {"default": "", "title": "Note", "type": "string"},
    },
    "required": ["ok"],
    "title": "Decision",
    "type": "object",
}
"""What LangGraph 1.2.22 shows as ``response_schema`` for ``Decision``."""


class State(TypedDict):
    log: Annotated[list, operator.add]


def approve(state: State) -> dict[str, Any]:
    return {"log": [repr(interrupt("approve?", response_schema=Decision))]}


def raw(state: State) -> dict[str, Any]:
    return {"log": [interrupt("raw?", response_schema={"type": "string"})]}


def graph_on(saver: Any) -> Any:
    builder = StateGraph(State).add_node("a", approve).add_node("b", raw)
    return builder.add_edge(START, "a").add_edge("a", "b").compile(checkpointer=saver)


def test_an_interrupt_shows_its_response_schema_and_the_answer_is_validated(saver: Any) -> None:
    graph, config = graph_on(saver), thread("r")
    out = graph.invoke({"log": []}, config)
    (asked,) = out["__interrupt__"]
    assert (asked.value, asked.response_schema) == ("approve?", DECISION_SCHEMA)
    state = graph.get_state(config)
    assert state.interrupts == (asked,) and state.tasks[0].interrupts == (asked,)

    with pytest.raises(ValidationError) as refused:
        graph.invoke(Command(resume={"ok": "not a bool"}), config)
    assert is_invalid_resume(refused.value)
    state = graph.get_state(config)
    assert state.next == ("a",) and state.interrupts == (asked,)  # still waiting for an answer

    out = graph.invoke(Command(resume={"ok": True}), config)
    assert out["log"] == ["Decision(ok=True, note='')"]  # the validated object
    (second,) = out["__interrupt__"]
    assert (second.value, second.response_schema) == ("raw?", {"type": "string"})
    assert graph.invoke(Command(resume=123), config) == {"log": ["Decision(ok=True, note='')", 123]}  # a dict schema checks nothing
    past = [(s.metadata["step"], [i.response_schema for i in s.interrupts]) for s in graph.get_state_history(config)]
    assert past[:3] == [(2, []), (1, [{"type": "string"}]), (0, [DECISION_SCHEMA])]


def test_a_response_schema_is_read_back_by_a_new_saver_on_the_file(tmp_path: Path) -> None:
    with SqliteSaver(tmp_path / "c.db") as saver:
        graph_on(saver).invoke({"log": []}, thread("f"))
    with SqliteSaver(tmp_path / "c.db") as saver:
        graph = graph_on(saver)
        (asked,) = graph.get_state(thread("f")).interrupts
        assert asked.response_schema == DECISION_SCHEMA
        (tuple_write,) = [w for w in saver.get_tuple(thread("f")).pending_writes if w[1] == "__interrupt__"]
        assert [i.response_schema for i in tuple_write[2]] == [DECISION_SCHEMA]
        assert "Decision(ok=False" in graph.invoke(Command(resume={"ok": False}), thread("f"))["log"][0]


def test_an_interrupt_written_before_response_schemas_still_loads_and_resumes(tmp_path: Path) -> None:
    """tests/stored_formats/make.py wrote the file with the cairn before this change."""
    path = tmp_path / "old.sqlite"
    shutil.copy(Path(__file__).parent / "stored_formats" / "paused_before_response_schema.sqlite", path)
    with SqliteSaver(path) as saver:
        graph = build_stored(saver)
        (asked,) = graph.get_state(thread("t")).interrupts
        assert (asked.value, asked.response_schema) == ("name?", None)
        assert graph.invoke(Command(resume="Ada"), thread("t")) == {"log": ["Ada"]}


def test_the_tasks_stream_shows_the_response_schema() -> None:
    graph = graph_on(InMemorySaver())
    results = [c for c in graph.stream({"log": []}, thread("s"), stream_mode="tasks") if "result" in c]
    assert [(r["interrupts"][0]["value"], r["interrupts"][0]["response_schema"]) for r in results] == [
        ("approve?", DECISION_SCHEMA)
    ]


def test_interrupt_repr_and_fields_are_langgraphs() -> None:
    assert repr(Interrupt("q", "abc")) == "Interrupt(value='q', id='abc', response_schema=None)"
    assert Interrupt(value="q", id="abc", response_schema={"type": "string"}).response_schema == {"type": "string"}
    with pytest.raises(TypeError):
        Interrupt("q", "abc", {"type": "string"})  # type: ignore[misc]  # keyword only, as in LangGraph


def test_is_invalid_resume_is_false_for_other_errors() -> None:
    assert not is_invalid_resume(ValueError("x"))
    assert not is_invalid_resume(InvalidResumeError("no pending interrupt"))


def test_a_schema_pydantic_cannot_read_is_refused_naming_it() -> None:
    class NotASchema:
        def __init__(self, x: Any) -> None: ...

    builder = StateGraph(State).add_node("a", lambda s: {"log": [interrupt("q", response_schema=NotASchema)]})
    graph = builder.add_edge(START, "a").compile(checkpointer=InMemorySaver())
    with pytest.raises(ArgumentTypeError, match="NotASchema"):
        graph.invoke({"log": []}, thread("n"))


# -- an answer given while no interrupt waits ------------------------------------------


def _ask(state: State) -> dict[str, Any]:
    return {"log": [interrupt("q")]}


def _then_ask_again(state: State) -> dict[str, Any]:
    return {"log": [interrupt("q1"), interrupt("q2")]}


def test_an_answer_given_at_a_breakpoint_goes_to_the_first_interrupt_reached(saver: Any) -> None:
    """LangGraph 1.2.22: {'log': ['a', 'early', 'b']} (the task that asks takes it, the other runs on)."""
    builder = StateGraph(State).add_node("a", lambda s: {"log": ["a"]}).add_node("ask", _ask).add_node("b", lambda s: {"log": ["b"]})
    graph = builder.add_edge(START, "a").add_edge("a", "ask").add_edge("a", "b").compile(checkpointer=saver, interrupt_before=["ask"])
    assert graph.invoke({"log": []}, thread("k")) == {"log": ["a"]}
    assert graph.invoke(Command(resume="early"), thread("k")) == {"log": ["a", "early", "b"]}


def test_an_answer_given_ahead_is_kept_for_the_tasks_later_interrupts(saver: Any) -> None:
    builder = StateGraph(State).add_node("ask", _then_ask_again).add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver, interrupt_before=["ask"])
    graph.invoke({"log": []}, thread("k2"))
    paused = graph.invoke(Command(resume="one"), thread("k2"))
    assert [i.value for i in paused["__interrupt__"]] == ["q2"]  # "one" answered q1
    assert graph.invoke(Command(resume="two"), thread("k2")) == {"log": ["one", "two"]}


def test_an_answer_after_update_state_reaches_the_interrupt_asked_again() -> None:
    """LangGraph 1.2.22: update_state on a paused thread, then Command(resume=...): the node takes it."""
    builder = StateGraph(State).add_node("a", lambda s: {"log": ["a"]}).add_node("ask", _ask)
    graph = builder.add_edge(START, "a").add_edge("a", "ask").compile(checkpointer=InMemorySaver())
    graph.invoke({"log": []}, thread("u"))
    graph.update_state(thread("u"), {"log": ["m"]}, as_node="a")
    assert graph.invoke(Command(resume="r"), thread("u")) == {"log": ["a", "m", "r"]}


def test_an_answer_given_ahead_reaches_a_subgraphs_interrupt() -> None:
    """LangGraph 1.2.22: {'log': ['a', 'a', 's1:early']}."""
    sub = StateGraph(State).add_node("s1", lambda s: {"log": ["s1:" + interrupt("sub?")]}).add_edge(START, "s1").compile()
    builder = StateGraph(State).add_node("a", lambda s: {"log": ["a"]}).add_node("sub", sub)
    graph = builder.add_edge(START, "a").add_edge("a", "sub").compile(checkpointer=InMemorySaver(), interrupt_before=["sub"])
    graph.invoke({"log": []}, thread("s"))
    assert graph.invoke(Command(resume="early"), thread("s")) == {"log": ["a", "a", "s1:early"]}
