"""What ``stream`` yields when the mode is not given, in which order the
"updates" of parallel tasks arrive, how interrupts show in "updates" and when
"values" has nothing to say: as LangGraph 1.x streams them."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any, TypedDict

import pytest

from cairn.config import get_stream_writer
from cairn.graph import START, StateGraph
from cairn.types import Command, interrupt
from tests.support import history, thread


class S(TypedDict, total=False):
    xs: Annotated[list, operator.add]


def slow(state: S) -> S:
    time.sleep(0.3)
    return {"xs": ["slow"]}


async def aslow(state: S) -> S:
    await asyncio.sleep(0.3)
    return {"xs": ["slow"]}


def race(saver: Any, slow_node: Any = slow) -> Any:
    """Nodes "slow" and "fast" start together; "end" joins them. The slow one
    is named to come first in the order a step's updates are applied in."""
    builder = StateGraph(S)
    builder.add_node("a_slow", slow_node).add_node("b_fast", lambda s: {"xs": ["fast"]})
    builder.add_node("end", lambda s: {"xs": ["end"]})
    builder.add_edge(START, "a_slow").add_edge(START, "b_fast").add_edge(["a_slow", "b_fast"], "end")
    return builder.compile(checkpointer=saver)


async def collect(stream: Any) -> list[Any]:
    return [chunk async for chunk in stream]


def test_stream_yields_updates_when_no_mode_is_given(saver: Any) -> None:
    chunks = list(race(saver).stream({"xs": ["p"]}, thread("t")))
    assert chunks == [{"b_fast": {"xs": ["fast"]}}, {"a_slow": {"xs": ["slow"]}}, {"end": {"xs": ["end"]}}]


def test_astream_yields_updates_in_the_order_tasks_finish(saver: Any) -> None:
    chunks = asyncio.run(collect(race(saver, aslow).astream({"xs": ["p"]}, thread("t"))))
    assert chunks == [{"b_fast": {"xs": ["fast"]}}, {"a_slow": {"xs": ["slow"]}}, {"end": {"xs": ["end"]}}]


def test_the_state_still_applies_updates_in_a_fixed_order(saver: Any) -> None:
    graph = race(saver)
    list(graph.stream({"xs": ["p"]}, thread("t")))
    assert graph.get_state(thread("t")).values == {"xs": ["p", "slow", "fast", "end"]}


def test_task_results_stream_as_tasks_finish(saver: Any) -> None:
    results = [
        chunk["name"]
        for chunk in race(saver).stream({"xs": ["p"]}, thread("t"), stream_mode="tasks")
        if "result" in chunk
    ]
    assert results == ["b_fast", "a_slow", "end"]


def two_questions(saver: Any) -> Any:
    builder = StateGraph(S)
    builder.add_node("a1", lambda s: {"xs": [interrupt("q1")]})
    builder.add_node("a2", lambda s: {"xs": [interrupt("q2")]})
    builder.add_edge(START, "a1").add_edge(START, "a2")
    return builder.compile(checkpointer=saver)


def test_parallel_interrupts_come_one_updates_chunk_per_task(saver: Any) -> None:
    graph = two_questions(saver)
    chunks = list(graph.stream({"xs": []}, thread("t"), stream_mode="updates"))

    assert [list(chunk) for chunk in chunks] == [["__interrupt__"], ["__interrupt__"]]
    assert sorted(i.value for chunk in chunks for i in chunk["__interrupt__"]) == ["q1", "q2"]
    assert all(len(chunk["__interrupt__"]) == 1 for chunk in chunks)


def test_an_interrupt_keeps_its_id_when_another_is_answered(saver: Any) -> None:
    graph = two_questions(saver)
    first = list(graph.stream({"xs": []}, thread("t"), stream_mode="updates"))
    ids = {chunk["__interrupt__"][0].value: chunk["__interrupt__"][0].id for chunk in first}

    second = list(graph.stream(Command(resume={ids["q1"]: "A"}), thread("t"), stream_mode="updates"))

    assert second[0] == {"a1": {"xs": ["A"]}}
    assert [(i.value, i.id) for i in second[1]["__interrupt__"]] == [("q2", ids["q2"])]
    assert [i.id for i in graph.get_state(thread("t")).interrupts] == [ids["q2"]]


def test_values_are_streamed_only_after_something_was_written(saver: Any) -> None:
    builder = StateGraph(S)
    builder.add_node("silent", lambda s: None).add_node("empty", lambda s: {"xs": []})
    builder.add_node("loud", lambda s: {"xs": ["loud"]})
    builder.add_edge(START, "silent").add_edge("silent", "empty").add_edge("empty", "loud")
    graph = builder.compile(checkpointer=saver)

    chunks = list(graph.stream({}, thread("t"), stream_mode="values"))

    # Nothing for the input that wrote nothing, nor for the node that returned
    # None; {"xs": []} writes xs (to the same value), so it shows.
    assert chunks == [{"xs": []}, {"xs": ["loud"]}]


def nested(saver: Any) -> Any:
    """parent: child -> after; child: one -> two; two: grand; grand: inner
    (which also writes a custom chunk)."""

    def inner(state: S) -> S:
        get_stream_writer()({"from": "inner"})
        return {"xs": ["inner"]}

    grand = StateGraph(S).add_node("inner", inner).add_edge(START, "inner").compile()
    two = StateGraph(S).add_node("grand", grand).add_edge(START, "grand").compile()
    child = StateGraph(S)
    child.add_node("one", lambda s: {"xs": ["one"]}).add_node("two", two)
    child.add_edge(START, "one").add_edge("one", "two")
    parent = StateGraph(S).add_node("child", child.compile()).add_node("after", lambda s: {"xs": ["after"]})
    parent.add_edge(START, "child").add_edge("child", "after")
    return parent.compile(checkpointer=saver)


def nodes(namespace: tuple[str, ...]) -> tuple[str, ...]:
    """A namespace without its task ids."""
    return tuple(part.split(":")[0] for part in namespace)


@pytest.mark.parametrize("keep", [True, False])
def test_subgraphs_stream_their_updates_under_their_namespace(saver: Any, keep: bool) -> None:
    graph = nested(saver if keep else None)
    chunks = list(graph.stream({"xs": []}, thread("t"), subgraphs=True))

    assert [(nodes(ns), list(update)) for ns, update in chunks] == [
        (("child",), ["one"]),
        (("child", "two", "grand"), ["inner"]),
        (("child", "two"), ["grand"]),
        (("child",), ["two"]),
        ((), ["child"]),
        ((), ["after"]),
    ]
    if keep:  # the namespace names where the subgraph's checkpoints are
        child_ns = chunks[0][0][0]
        stored = history(graph, {"configurable": {"thread_id": "t", "checkpoint_ns": child_ns}})
        assert stored[0].values == {"xs": ["one", "one", "one", "inner"]}


def test_subgraphs_with_several_modes_yield_namespace_mode_and_chunk(saver: Any) -> None:
    async def go() -> list[Any]:
        stream = nested(saver).astream(
            {"xs": []}, thread("t"), subgraphs=True, stream_mode=["values", "custom"]
        )
        return [(nodes(ns), mode, chunk) async for ns, mode, chunk in stream]

    chunks = asyncio.run(go())

    assert (("child", "two", "grand"), "custom", {"from": "inner"}) in chunks
    assert [c for c in chunks if c[0] == ()] == [
        ((), "values", {"xs": []}),
        ((), "values", {"xs": ["one", "one", "one", "inner"]}),
        ((), "values", {"xs": ["one", "one", "one", "inner", "after"]}),
    ]
    assert [c[2] for c in chunks if c[0] == ("child", "two", "grand")] == [
        {"xs": ["one"]},
        {"from": "inner"},
        {"xs": ["one", "inner"]},
    ]


def test_without_subgraphs_a_subgraph_streams_nothing(saver: Any) -> None:
    chunks = list(nested(saver).stream({"xs": []}, thread("t"), stream_mode=["updates", "custom"]))
    assert chunks == [
        ("updates", {"child": {"xs": ["one", "one", "one", "inner"]}}),
        ("updates", {"after": {"xs": ["after"]}}),
    ]
