"""Observers (``compile(observers=...)``, ``config["observers"]``) are told of
a run's steps, tasks, checkpoint writes and end, in order, with what a
metrics or tracing backend needs."""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ArgumentTypeError
from cairn.graph import END, START, StateGraph
from cairn.runtime.observe import RunInfo, RunObserver
from cairn.types import interrupt


class State(TypedDict, total=False):
    items: Annotated[list, operator.add]
    fail: bool


class Recorder(RunObserver):
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def step_started(self, step: int, tasks: Any) -> None:
        self.log.append(("step", step, sorted(t.name for t in tasks)))

    def step_ended(self, step: int, error: BaseException | None) -> None:
        self.log.append(("step_end", step, type(error).__name__ if error else None))

    def task_started(self, step: int, task: Any) -> Any:
        return task.name

    def task_ended(self, token: Any, task: Any, error: BaseException | None) -> None:
        assert token == task.name
        self.log.append(("node", task.name, type(error).__name__ if error else None))

    def checkpoint_written(self, checkpoint: Any, seconds: float, size: int | None) -> None:
        assert seconds >= 0
        self.log.append(("write", checkpoint.step, bool(size)))

    def run_ended(self, status: str, error: BaseException | None) -> None:
        self.log.append(("end", status))


class Watch:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []
        self.runs: list[RunInfo] = []

    def run_started(self, run: RunInfo) -> RunObserver:
        self.runs.append(run)
        return Recorder(self.log)


def two_steps() -> StateGraph:
    def a(state: State) -> dict:
        return {"items": ["a"]}

    def b(state: State) -> dict:
        if state.get("fail"):
            raise ValueError("b failed")
        return {"items": ["b"]}

    builder = StateGraph(State)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder


def test_a_run_on_sqlite_reports_steps_nodes_writes_and_success(tmp_path: Path) -> None:
    watch = Watch()
    graph = two_steps().compile(SqliteSaver(str(tmp_path / "db.sqlite")), observers=[watch], name="two")
    graph.invoke({"items": []}, {"configurable": {"thread_id": "t"}})
    assert [(r.graph, r.thread_id) for r in watch.runs] == [("two", "t")]
    assert watch.log == [
        ("step", 0, ["__start__"]), ("node", "__start__", None), ("write", 0, True), ("step_end", 0, None),
        ("step", 1, ["a"]), ("node", "a", None), ("write", 1, True), ("step_end", 1, None),
        ("step", 2, ["b"]), ("node", "b", None), ("write", 2, True), ("step_end", 2, None),
        ("end", "success"),
    ]


def test_a_failing_node_reports_its_error_and_the_run_as_failed(tmp_path: Path) -> None:
    watch = Watch()
    graph = two_steps().compile(SqliteSaver(str(tmp_path / "db.sqlite")))
    with pytest.raises(ValueError):
        asyncio.run(graph.ainvoke({"fail": True}, {"configurable": {"thread_id": "t"}, "observers": [watch]}))
    assert watch.log[-3:] == [("node", "b", "ValueError"), ("step_end", 2, "ValueError"), ("end", "error")]


def test_a_run_paused_on_an_interrupt_ends_interrupted(tmp_path: Path) -> None:
    def ask(state: State) -> dict:
        return {"items": [interrupt("ok?")]}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    watch = Watch()
    graph = builder.compile(SqliteSaver(str(tmp_path / "db.sqlite")), observers=[watch])
    graph.invoke({"items": []}, "t")
    assert watch.log[-3:] == [("node", "ask", None), ("step_end", 1, None), ("end", "interrupted")]


def test_an_object_that_is_not_an_observer_is_refused_by_name() -> None:
    with pytest.raises(ArgumentTypeError, match="'nope'"):
        two_steps().compile(observers=["nope"])
    with pytest.raises(ArgumentTypeError, match="config"):
        two_steps().compile().invoke({}, {"observers": [object()]})


@pytest.mark.parametrize("durability", ["async", "exit"])
def test_writes_held_or_made_in_the_background_are_reported_before_the_run_ends(
    tmp_path: Path, durability: str
) -> None:
    watch = Watch()
    graph = two_steps().compile(SqliteSaver(str(tmp_path / "db.sqlite")), observers=[watch])
    graph.invoke({"items": []}, "t", durability=durability)
    writes = [entry for entry in watch.log if entry[0] == "write"]
    assert writes and all(sized for _, _, sized in writes)
    assert writes[-1][1] == 2 and watch.log[-1] == ("end", "success")


def test_a_graphs_observer_and_a_calls_observer_both_watch_the_call(tmp_path: Path) -> None:
    own, call = Watch(), Watch()
    graph = two_steps().compile(SqliteSaver(str(tmp_path / "db.sqlite")), observers=[own])
    graph.invoke({"items": []}, {"configurable": {"thread_id": "t"}, "observers": [call]})
    graph.invoke({"items": []}, "t")
    assert own.log.count(("end", "success")) == 2 and call.log.count(("end", "success")) == 1
    assert [e for e in call.log if e[0] == "node"] == [("node", "__start__", None), ("node", "a", None), ("node", "b", None)]


def test_a_stream_read_no_further_ends_the_run_as_cancelled(tmp_path: Path) -> None:
    watch = Watch()
    graph = two_steps().compile(SqliteSaver(str(tmp_path / "db.sqlite")), observers=[watch])
    for _ in graph.stream({"items": []}, "t"):
        break
    assert watch.log[-1] == ("end", "cancelled")
