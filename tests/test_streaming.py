"""``stream`` / ``astream`` in every mode: the exact shape of each chunk and
their order, on small graphs (shapes and order as LangGraph 1.2.22 gives
them for the same graphs)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.config import get_stream_writer
from cairn.errors import CairnError, ConfigError
from cairn.graph import START, StateGraph
from cairn.types import Command, Interrupt, interrupt
from tests.support import thread


class State(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def a(state: State) -> dict[str, Any]:
    get_stream_writer()({"progress": "a-half"})
    return {"x": state["x"] + 1, "log": ["a"]}


def b(state: State) -> dict[str, Any]:
    return {"log": ["b"]}


def two_steps(saver: Any = None) -> Any:
    builder = StateGraph(State).add_node("a", a).add_node("b", b)
    builder.add_edge(START, "a").add_edge("a", "b")
    return builder.compile(checkpointer=saver)


START_INPUT = {"x": 0, "log": []}


def test_values_and_updates_shapes() -> None:
    graph = two_steps()
    assert list(graph.stream(START_INPUT, stream_mode="values")) == [
        {"x": 0, "log": []},
        {"x": 1, "log": ["a"]},
        {"x": 1, "log": ["a", "b"]},
    ]
    assert list(graph.stream(START_INPUT, stream_mode="updates")) == [
        {"a": {"x": 1, "log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


def test_custom_mode_yields_what_nodes_write() -> None:
    assert list(two_steps().stream(START_INPUT, stream_mode="custom")) == [{"progress": "a-half"}]


def test_a_stream_writer_with_nobody_listening_drops_chunks() -> None:
    assert two_steps().invoke(START_INPUT) == {"x": 1, "log": ["a", "b"]}


def test_get_stream_writer_outside_a_node_says_where_to_call_it() -> None:
    with pytest.raises(CairnError, match="outside a running node"):
        get_stream_writer()


def test_checkpoints_mode_has_get_states_shape_for_every_checkpoint() -> None:
    saver = InMemorySaver()
    graph = two_steps(saver)
    chunks = list(graph.stream(START_INPUT, thread("c"), stream_mode="checkpoints"))
    history = list(graph.get_state_history(thread("c")))[::-1]
    assert [c["metadata"]["step"] for c in chunks] == [-1, 0, 1, 2]
    assert [c["metadata"]["source"] for c in chunks] == ["input", "loop", "loop", "loop"]
    assert [c["next"] for c in chunks] == [["__start__"], ["a"], ["b"], []]
    assert [c["values"] for c in chunks] == [
        {"log": []},
        {"x": 0, "log": []},
        {"x": 1, "log": ["a"]},
        {"x": 1, "log": ["a", "b"]},
    ]
    # The configs are those of the stored checkpoints, each linked to its parent.
    assert [c["config"] for c in chunks] == [s.config for s in history]
    assert [c["parent_config"] for c in chunks] == [s.parent_config for s in history]
    assert [[t["name"] for t in c["tasks"]] for c in chunks] == [["__start__"], ["a"], ["b"], []]
    assert chunks[1]["tasks"][0] == {
        "id": history[1].tasks[0].id,
        "name": "a",
        "interrupts": (),
        "state": None,
    }


def test_checkpoints_mode_without_a_checkpointer_yields_nothing() -> None:
    assert list(two_steps().stream(START_INPUT, stream_mode="checkpoints")) == []


def test_tasks_mode_yields_each_start_and_result() -> None:
    chunks = list(two_steps().stream(START_INPUT, stream_mode="tasks"))
    assert [sorted(c) for c in chunks] == [
        ["id", "input", "name", "triggers"],
        ["error", "id", "interrupts", "name", "result"],
    ] * 2
    start_a, done_a, start_b, done_b = chunks
    assert start_a["id"] == done_a["id"] != start_b["id"] == done_b["id"]
    assert (start_a["name"], start_a["input"], start_a["triggers"]) == (
        "a",
        {"x": 0, "log": []},
        ("branch:to:a",),
    )
    assert (done_a["error"], done_a["result"], done_a["interrupts"]) == (
        None,
        {"x": 1, "log": ["a"]},
        [],
    )
    assert start_b["input"] == {"x": 1, "log": ["a"]}
    assert done_b["result"] == {"log": ["b"]}


def test_debug_mode_wraps_checkpoints_and_tasks_with_step_and_time() -> None:
    chunks = list(two_steps(InMemorySaver()).stream(START_INPUT, thread("d"), stream_mode="debug"))
    assert [(c["type"], c["step"]) for c in chunks] == [
        ("checkpoint", -1),
        ("checkpoint", 0),
        ("task", 1),
        ("task_result", 1),
        ("checkpoint", 1),
        ("task", 2),
        ("task_result", 2),
        ("checkpoint", 2),
    ]
    assert all(sorted(c) == ["payload", "step", "timestamp", "type"] for c in chunks)
    assert chunks[3]["payload"]["result"] == {"x": 1, "log": ["a"]}
    assert chunks[-1]["payload"]["values"] == {"x": 1, "log": ["a", "b"]}
    stamps = [c["timestamp"] for c in chunks]
    assert stamps == sorted(stamps) and stamps[0].endswith("+00:00")


def test_a_list_of_modes_yields_pairs_in_the_order_things_happen() -> None:
    graph = two_steps(InMemorySaver())
    chunks = list(
        graph.stream(
            START_INPUT, thread("l"), stream_mode=["values", "updates", "checkpoints", "tasks", "custom"]
        )
    )
    assert [mode for mode, _ in chunks] == [
        "checkpoints",  # the input checkpoint
        "values",  # the state after the input
        "checkpoints",
        "tasks",  # a starts
        "custom",  # a writes while it runs
        "updates",  # a's update
        "tasks",  # a's result
        "values",
        "checkpoints",
        "tasks",
        "updates",
        "tasks",
        "values",
        "checkpoints",
    ]
    assert ("custom", {"progress": "a-half"}) in chunks


def test_an_interrupt_is_streamed_in_updates_and_values() -> None:
    def ask(state: State) -> dict[str, Any]:
        return {"log": [interrupt("name?")]}

    builder = StateGraph(State).add_node("ask", ask).add_edge(START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    chunks = list(graph.stream(START_INPUT, thread("i"), stream_mode=["updates", "values", "tasks"]))
    (_, update), = [c for c in chunks if c[0] == "updates"]
    (found,) = update["__interrupt__"]
    assert isinstance(found, Interrupt) and found.value == "name?"
    # As LangGraph 1.2.22: the task's updates, values and result chunks, in that order.
    assert [m for m, _ in chunks[-3:]] == ["updates", "values", "tasks"]
    assert chunks[-2] == ("values", {"x": 0, "log": [], "__interrupt__": (found,)})
    result = [c for m, c in chunks if m == "tasks" and "result" in c]
    assert result == [
        {"id": result[0]["id"], "name": "ask", "error": None, "result": {}, "interrupts": [
            {"value": "name?", "id": found.id, "response_schema": None}
        ]}
    ]
    resumed = list(graph.stream(Command(resume="Ada"), thread("i"), stream_mode="updates"))
    assert resumed == [{"ask": {"log": ["Ada"]}}]


def test_a_failing_node_streams_what_happened_then_raises() -> None:
    def boom(state: State) -> dict[str, Any]:
        raise ValueError("boom")

    builder = StateGraph(State).add_node("a", a).add_node("boom", boom)
    builder.add_edge(START, "a").add_edge("a", "boom")
    seen: list[Any] = []
    with pytest.raises(ValueError, match="boom"):
        for chunk in builder.compile().stream(START_INPUT, stream_mode=["updates", "tasks"]):
            seen.append(chunk)
    failed = seen[-1]
    assert failed[0] == "tasks" and failed[1]["name"] == "boom"
    assert isinstance(failed[1]["error"], ValueError)
    assert ("updates", {"a": {"x": 1, "log": ["a"]}}) in seen


def test_invoke_with_a_stream_mode_returns_the_chunks() -> None:
    assert two_steps().invoke(START_INPUT, stream_mode="updates") == [
        {"a": {"x": 1, "log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


def test_an_unknown_stream_mode_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="'everything'.*'custom'"):
        list(two_steps().stream(START_INPUT, stream_mode="everything"))


def test_astream_gives_the_same_chunks_as_stream() -> None:
    modes = ["values", "updates", "tasks", "custom"]

    async def collect() -> list[Any]:
        return [c async for c in two_steps().astream(START_INPUT, stream_mode=modes)]

    def strip(chunks: list[Any]) -> list[Any]:
        # task ids are the same (they derive from checkpoint ids only with a
        # saver); compare everything else
        return [(m, {k: v for k, v in c.items() if k != "id"}) for m, c in chunks]

    assert strip(asyncio.run(collect())) == strip(list(two_steps().stream(START_INPUT, stream_mode=modes)))


def test_custom_chunks_from_parallel_nodes_all_arrive() -> None:
    def worker(i: int) -> Any:
        def run(state: State) -> dict[str, Any]:
            write = get_stream_writer()
            for n in range(3):
                write((i, n))
            return {"log": [i]}

        return run

    builder = StateGraph(State)
    for i in range(4):
        builder.add_node(f"w{i}", worker(i)).add_edge(START, f"w{i}")
    chunks = list(builder.compile().stream(START_INPUT, stream_mode="custom"))
    assert sorted(chunks) == [(i, n) for i in range(4) for n in range(3)]
    for i in range(4):  # each node's own chunks keep their order
        assert [n for j, n in chunks if j == i] == [0, 1, 2]


@pytest.mark.parametrize("how", ["error", "interrupt"])
def test_a_resumed_values_stream_yields_the_current_state_before_the_next_step_runs(
    saver: Any, how: str
) -> None:
    """As LangGraph: ``stream(None, config)`` (or ``Command(resume=)``) first
    yields the state the run goes on from, at once, not when the next step ends."""
    ran: list[str] = []
    fail = [how == "error"]

    def first(state: State) -> dict[str, Any]:
        ran.append("first")
        return {"x": 1, "log": ["first"]}

    def second(state: State) -> dict[str, Any]:
        ran.append("second")
        if fail[0]:
            raise RuntimeError("flaky")
        answer = interrupt("go on?") if how == "interrupt" else "ok"
        return {"log": [f"second:{answer}"]}

    builder = StateGraph(State).add_node("first", first).add_node("second", second)
    graph = builder.add_edge(START, "first").add_edge("first", "second").compile(checkpointer=saver)
    config = thread("r")
    if how == "error":
        with pytest.raises(RuntimeError):
            graph.invoke(START_INPUT, config)
        fail[0] = False
        resume: Any = None
    else:
        graph.invoke(START_INPUT, config)
        resume = Command(resume="yes")
    ran.clear()
    chunks = graph.stream(resume, config, stream_mode="values")
    assert next(chunks) == {"x": 1, "log": ["first"]}
    assert ran == []  # nothing ran yet: the chunk is the state the run resumes from
    assert list(chunks) == [{"x": 1, "log": ["first", f"second:{'yes' if how == 'interrupt' else 'ok'}"]}]
    assert ran == ["second"]
