"""cairn.channels as schema annotations, with LangGraph's semantics: a key
that holds only what the last step wrote is the same in the live run and
in every state rebuilt from the stored log (get_state, history, resume
after a failure, replay), on every saver."""

from __future__ import annotations

import asyncio
import operator
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from typing_extensions import NotRequired, TypedDict

from cairn.channels import AnyValue, BinaryOperatorAggregate, EphemeralValue, LastValue, Topic, UntrackedValue
from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import GraphValidationError, InvalidUpdateError
from cairn.graph import END, START, StateGraph
from cairn.types import Command, interrupt
from tests.support import thread

ROOT = Path(__file__).resolve().parents[1]


class State(TypedDict, total=False):
    query: Annotated[str, EphemeralValue]
    events: Annotated[list[str], Topic(str)]
    seen: Annotated[list[str], Topic(str, accumulate=True)]
    total: Annotated[int, BinaryOperatorAggregate(int, operator.add)]
    last: Annotated[str, AnyValue]
    plain: Annotated[int, LastValue(int)]
    scratch: Annotated[str, UntrackedValue]


def _pipeline(
    saver: Any = None, seen_by: dict[str, Any] | None = None, fail: set[str] | None = None, die: bool = False
) -> Any:
    """a -> b -> c, each recording the state it was given; ``die``: b kills
    its process, as a crash would."""
    seen_by = {} if seen_by is None else seen_by

    def a(state: State) -> dict[str, Any]:
        seen_by["a"] = dict(state)
        return {"query": "q1", "events": ["x", "y"], "seen": "s1", "total": 1, "last": "la", "plain": 1, "scratch": "tmp"}

    def b(state: State) -> dict[str, Any]:
        seen_by["b"] = dict(state)
        if die:
            os._exit(3)
        if fail is not None and "b" in fail:
            fail.discard("b")
            raise RuntimeError("b fails once")
        return {"total": 2, "seen": ["s2"]}

    def c(state: State) -> dict[str, Any]:
        seen_by["c"] = dict(state)
        return {"events": "z"}

    builder = StateGraph(State).add_sequence([a, b, c]).add_edge(START, "a")
    return builder.compile(checkpointer=saver)


AFTER_A = {"query": "q1", "events": ["x", "y"], "seen": ["s1"], "total": 1, "last": "la", "plain": 1}
AFTER_B = {"seen": ["s1", "s2"], "total": 3, "plain": 1}
FINAL = {"events": ["z"], "seen": ["s1", "s2"], "total": 3, "plain": 1}
"""The states LangGraph 1.2.22 gives for the same graph (checked with a probe)."""


def test_reset_keys_live_one_step_and_accumulate_across_steps() -> None:
    seen_by: dict[str, Any] = {}
    result = _pipeline(seen_by=seen_by).invoke({"query": "in", "plain": 0})
    assert seen_by["a"] == {"query": "in", "total": 0, "plain": 0}
    assert seen_by["b"] == {**AFTER_A, "scratch": "tmp"}
    assert seen_by["c"] == {**AFTER_B, "scratch": "tmp"}
    assert result == {**FINAL, "scratch": "tmp"}


def test_stored_history_matches_the_live_run(saver: Any) -> None:
    graph = _pipeline(saver)
    graph.invoke({"query": "in", "plain": 0}, thread("t"))
    fresh = _pipeline(saver)  # nothing cached: every state folded from the log
    states = {s.metadata["step"]: s.values for s in fresh.get_state_history(thread("t"))}
    assert states == {
        -1: {"total": 0},
        0: {"query": "in", "total": 0, "plain": 0},
        1: AFTER_A,
        2: AFTER_B,
        3: FINAL,
    }
    assert fresh.get_state(thread("t")).values == FINAL
    assert graph.get_state(thread("t")).values == FINAL


def test_a_new_input_clears_what_the_last_run_left(saver: Any) -> None:
    seen_by: dict[str, Any] = {}
    graph = _pipeline(saver, seen_by)
    graph.invoke({"plain": 0}, thread("t"))
    graph.invoke({"query": "again"}, thread("t"))
    # The input step cleared the topic "events" (["z"]) and the run's untracked scratch is gone.
    assert seen_by["a"] == {"query": "again", "seen": ["s1", "s2"], "total": 3, "plain": 1}
    assert _pipeline(saver).get_state(thread("t")).values == {
        "events": ["z"], "seen": ["s1", "s2"] * 2, "total": 6, "plain": 1,
    }


def test_resume_after_a_failure_sees_the_values_of_the_step_before(saver: Any) -> None:
    fail = {"b"}
    with pytest.raises(RuntimeError, match="b fails once"):
        _pipeline(saver, fail=fail).invoke({"plain": 0}, thread("t"))
    seen_by: dict[str, Any] = {}
    result = _pipeline(saver, seen_by).invoke(None, thread("t"))  # a new graph, as after a crash
    assert seen_by["b"] == AFTER_A  # the ephemeral "query" and the topic written by a
    assert result == FINAL


def crash_in_b(path: str) -> None:
    """Run in a child process: the pipeline on the SQLite file at ``path``,
    killed in node b."""
    from cairn.checkpoint.sqlite import SqliteSaver

    _pipeline(SqliteSaver(path), die=True).invoke({"plain": 0}, thread("t"))


def test_resume_in_another_process_after_a_crash(tmp_path: Any) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver

    path = str(tmp_path / "crash.db")
    child = subprocess.run(
        [sys.executable, "-c", f"from tests.test_channels import crash_in_b; crash_in_b({path!r})"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 3, child.stderr
    seen_by: dict[str, Any] = {}
    with SqliteSaver(path) as saver:
        assert _pipeline(saver).get_state(thread("t")).values == AFTER_A
        assert _pipeline(saver, seen_by).invoke(None, thread("t")) == FINAL
    assert seen_by["b"] == AFTER_A


def test_replay_from_a_past_checkpoint_sees_its_values(saver: Any) -> None:
    graph = _pipeline(saver)
    graph.invoke({"plain": 0}, thread("t"))
    before_b = next(s for s in graph.get_state_history(thread("t")) if s.next == ("b",))
    seen_by: dict[str, Any] = {}
    result = _pipeline(saver, seen_by).invoke(None, before_b.config)
    assert seen_by["b"] == AFTER_A
    assert result == FINAL


def test_update_state_is_a_step_that_clears(saver: Any) -> None:
    graph = _pipeline(saver)
    graph.invoke({"plain": 0}, thread("t"))
    config = graph.update_state(thread("t"), {"query": "edited", "events": "e"}, as_node="b")
    expected = {"query": "edited", "events": ["e"], "seen": ["s1", "s2"], "total": 3, "plain": 1}
    assert graph.get_state(thread("t")).values == expected
    assert _pipeline(saver).get_state(config).values == expected


def test_long_thread_folds_through_snapshots(saver: Any) -> None:
    """Many steps: the stored state is read back through snapshots and
    write logs, and still clears what each step did not write."""

    class Loop(TypedDict, total=False):
        n: int
        flag: Annotated[str, EphemeralValue]
        log: Annotated[list[str], Topic(str, accumulate=True)]

    def step(state: Loop) -> dict[str, Any]:
        n = state.get("n", 0) + 1
        update: dict[str, Any] = {"n": n, "log": "x" * 200}
        if n % 3 == 0:
            update["flag"] = f"at {n}"
        return update

    builder = StateGraph(Loop).add_node("step", step).add_edge(START, "step")
    builder.add_conditional_edges("step", lambda s: END if s["n"] >= 40 else "step")
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"n": 0}, {**thread("t"), "recursion_limit": 100})
    fresh = builder.compile(checkpointer=saver)
    for snap in fresh.get_state_history(thread("t")):
        n = snap.values.get("n", 0)
        if snap.metadata["step"] >= 1:
            assert snap.values.get("flag") == (f"at {n}" if n % 3 == 0 else None)
            assert len(snap.values["log"]) == n


def test_two_writes_to_a_guarded_key_in_one_step_raise() -> None:
    class Pair(TypedDict, total=False):
        once: Annotated[str, EphemeralValue]
        plain: Annotated[int, LastValue(int)]
        any: Annotated[str, AnyValue]
        loose: Annotated[str, EphemeralValue(str, guard=False)]

    def build(key: str) -> Any:
        builder = StateGraph(Pair)
        builder.add_node("p1", lambda s: {key: "one"}).add_node("p2", lambda s: {key: "two"})
        return builder.add_edge(START, "p1").add_edge(START, "p2").compile()

    with pytest.raises(InvalidUpdateError, match=r"'once'.*EphemeralValue\(\.\.\., guard=False\)"):
        build("once").invoke({})
    with pytest.raises(InvalidUpdateError, match="'plain' got two values in one step"):
        build("plain").invoke({})
    assert build("any").invoke({}) == {"any": "two"}  # the last, in LangGraph's order
    assert build("loose").invoke({}) == {"loose": "two"}


def test_an_empty_list_written_to_a_topic_leaves_it_empty() -> None:
    class Lists(TypedDict, total=False):
        now: Annotated[list[int], Topic(int)]
        all: Annotated[list[int], Topic(int, accumulate=True)]

    builder = StateGraph(Lists).add_node("a", lambda s: {"now": [], "all": []})
    builder.add_node("b", lambda s: {"all": []}).add_edge(START, "a").add_edge("a", "b")
    assert builder.compile().invoke({}) is None  # nothing in the state, as LangGraph
    assert builder.compile().invoke({"all": [1]}) == {"all": [1]}


def test_one_node_writing_twice_in_commands_adds_to_a_topic_and_keeps_the_last_any_value() -> None:
    class Log(TypedDict, total=False):
        log: Annotated[list[str], Topic(str)]
        last: Annotated[str, AnyValue]

    builder = StateGraph(Log).add_node(
        "a", lambda s: [Command(update={"log": "ab", "last": "x"}), Command(update={"log": "cd", "last": "y"})]
    )
    assert builder.add_edge(START, "a").compile().invoke({}) == {"log": ["ab", "cd"], "last": "y"}


def test_conditional_edge_sees_the_step_just_made() -> None:
    routed: list[dict[str, Any]] = []

    class Flags(TypedDict, total=False):
        flag: Annotated[str, EphemeralValue]
        n: int

    def route(state: Flags) -> str:
        routed.append(dict(state))
        return END

    builder = StateGraph(Flags).add_node("a", lambda s: {"flag": "up"}).add_node("b", lambda s: {"n": 1})
    builder.add_edge(START, "a").add_edge("a", "b").add_conditional_edges("b", route)
    builder.compile().invoke({})
    assert routed == [{"n": 1}]  # "flag" from the step before is cleared by b's step


def test_channel_class_or_instance_and_not_required() -> None:
    class Forms(TypedDict):
        bare: Annotated[str, EphemeralValue]
        optional: NotRequired[Annotated[list[int], Topic(int, accumulate=True)]]
        counter: Annotated[int, BinaryOperatorAggregate(int, operator.add)]

    builder = StateGraph(Forms)
    builder.add_node("a", lambda s: {"optional": [1, 2], "counter": 5}).add_edge(START, "a")
    assert builder.compile().invoke({"bare": "x"}) == {"optional": [1, 2], "counter": 5}


def test_binary_operator_aggregate_needs_its_operator() -> None:
    class Bad(TypedDict):
        total: Annotated[int, BinaryOperatorAggregate]

    with pytest.raises(GraphValidationError, match=r"BinaryOperatorAggregate\(int, operator.add\)"):
        StateGraph(Bad)


def test_untracked_value_is_never_stored(tmp_path: Any) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver

    with SqliteSaver(tmp_path / "c.db") as saver:
        result = _pipeline(saver).invoke({"plain": 0}, thread("t"))
        assert result["scratch"] == "tmp"
        assert "scratch" not in _pipeline(saver).get_state(thread("t")).values


def test_resume_with_update_clears_what_the_step_does_not_write() -> None:
    seen: list[dict[str, Any]] = []

    class Ask(TypedDict, total=False):
        flag: Annotated[str, EphemeralValue]
        answer: str

    def ask(state: Ask) -> dict[str, Any]:
        seen.append(dict(state))
        return {"answer": interrupt("question?")}

    saver = InMemorySaver()
    builder = StateGraph(Ask).add_node("ask", ask).add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)
    graph.invoke({}, thread("t"))
    result = graph.invoke(Command(resume="yes", update={"flag": "given"}), thread("t"))
    assert seen[-1] == {"flag": "given"}  # the node sees the update
    assert result == {"answer": "yes"}  # and its step clears it, as LangGraph's
    assert builder.compile(checkpointer=saver).get_state(thread("t")).values == {"answer": "yes"}


def test_stream_values_through_astream(saver: Any) -> None:
    async def run() -> list[Any]:
        graph = _pipeline(saver)
        return [chunk async for chunk in graph.astream({"plain": 0}, thread("t"), stream_mode="values")]

    chunks = asyncio.run(run())
    assert chunks[1:] == [AFTER_A | {"scratch": "tmp"}, AFTER_B | {"scratch": "tmp"}, FINAL | {"scratch": "tmp"}]
