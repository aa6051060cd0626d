"""``bulk_update_state`` and the two special ``as_node`` values, as LangGraph
has them: each superstep of ``StateUpdate``s is one checkpoint on top of the
one before; ``"__input__"`` writes a run's input, ``"__copy__"`` forks a copy
of a checkpoint. Each case reads back through a second compile of the graph,
so what is checked is what the saver stored, on every saver."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import InvalidUpdateError
from cairn.graph import START, StateGraph
from cairn.types import StateUpdate
from tests.support import by_step, cid, history, thread


class S(TypedDict):
    xs: Annotated[list, operator.add]
    y: int


def chain(saver: Any) -> Any:
    """START -> a -> b; b records how many items it saw."""
    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"xs": ["a"]})
    builder.add_node("b", lambda s: {"xs": ["b"], "y": len(s["xs"])})
    builder.add_edge(START, "a").add_edge("a", "b")
    return builder.compile(checkpointer=saver)


def cold(graph: Any, saver: Any) -> Any:
    """The same graph compiled again: it knows only what the saver stored."""
    return graph.builder.compile(checkpointer=saver)


def test_an_update_as_input_is_what_the_next_run_starts_from(saver: Any) -> None:
    graph = chain(saver)
    config = graph.update_state(thread("t"), {"xs": ["p"]}, as_node="__input__")

    snapshot = cold(graph, saver).get_state(thread("t"))
    assert (snapshot.values, snapshot.next) == ({"xs": []}, ("__start__",))
    assert (snapshot.metadata["source"], snapshot.metadata["step"]) == ("input", -1)
    assert cid(snapshot.config) == cid(config)

    assert cold(graph, saver).invoke(None, thread("t")) == {"xs": ["p", "a", "b"], "y": 2}


def test_a_copy_forks_a_sibling_that_runs_on(saver: Any) -> None:
    graph = chain(saver)
    graph.invoke({"xs": ["p"]}, thread("t"))
    source = by_step(history(graph, thread("t")), 1)  # after a, before b
    before = by_step(history(graph, thread("t")), 0)

    config = graph.update_state(source.config, None, as_node="__copy__")

    copy = cold(graph, saver).get_state(thread("t"))
    assert cid(copy.config) == cid(config) != cid(source.config)
    assert (copy.metadata["source"], copy.metadata["step"]) == ("fork", 2)
    assert cid(copy.parent_config) == cid(before.config)  # a sibling of the source
    assert (copy.values, copy.next) == (source.values, ("b",))
    assert cold(graph, saver).invoke(None, thread("t")) == {"xs": ["p", "a", "b"], "y": 2}


def test_each_superstep_is_one_checkpoint(saver: Any) -> None:
    graph = chain(saver)
    graph.bulk_update_state(
        thread("t"), [[StateUpdate({"xs": ["A"]}, "a")], [StateUpdate({"xs": ["B"]}, "b")]]
    )

    snapshots = history(cold(graph, saver), thread("t"))
    assert [(s.metadata["step"], s.metadata["source"]) for s in snapshots] == [(1, "update"), (0, "update")]
    assert (snapshots[0].values, snapshots[0].next) == ({"xs": ["A", "B"]}, ())
    assert snapshots[1].values == {"xs": ["A"]}


def test_updates_of_one_superstep_apply_together_after_an_input(saver: Any) -> None:
    # As in LangGraph: the input waits in its start task, so the superstep
    # after it applies its updates to the empty state and plans from them.
    graph = chain(saver)
    graph.bulk_update_state(
        thread("t"),
        [
            [StateUpdate({"xs": ["p"]}, "__input__")],
            [StateUpdate({"xs": ["A"]}, "a"), StateUpdate({"y": 5}, "b")],
        ],
    )

    snapshot = cold(graph, saver).get_state(thread("t"))
    assert (snapshot.values, snapshot.next) == ({"xs": ["A"], "y": 5}, ("b",))
    assert (snapshot.metadata["source"], snapshot.metadata["step"]) == ("update", 0)
    assert len(history(graph, thread("t"))) == 2


def test_abulk_update_state_writes_as_bulk_update_state(saver: Any) -> None:
    graph = chain(saver)
    graph.invoke({"xs": ["p"]}, thread("t"))
    supersteps = [[StateUpdate({"xs": ["A"]}, "a")], [StateUpdate(None, "__copy__")]]

    config = asyncio.run(graph.abulk_update_state(thread("t"), supersteps))
    snapshot = asyncio.run(cold(graph, saver).aget_state(thread("t")))

    assert cid(snapshot.config) == cid(config)
    assert (snapshot.values, snapshot.next) == ({"xs": ["p", "a", "b", "A"], "y": 2}, ("b",))
    assert snapshot.metadata["source"] == "fork"
    assert asyncio.run(graph.ainvoke(None, thread("t"))) == {"xs": ["p", "a", "b", "A", "b"], "y": 4}


@pytest.mark.parametrize(
    ("supersteps", "message"),
    [
        ([], "no supersteps"),
        ([[]], "holds no updates"),
        ([[StateUpdate({"xs": ["p"]}, "__input__"), StateUpdate({"y": 1}, "a")]], "'__input__' must be alone"),
        ([[StateUpdate(None, "__copy__"), StateUpdate(None, "__copy__")]], "'__copy__' must be alone"),
        ([[StateUpdate({"xs": ["p"]}, "__copy__")]], "got values {'xs': ['p']}"),
        ([[StateUpdate({"xs": ["p"]}, "c")]], "as_node='c' is not a node"),
    ],
)
def test_a_bad_bulk_update_writes_nothing(saver: Any, supersteps: Any, message: str) -> None:
    graph = chain(saver)
    graph.invoke({"xs": ["p"]}, thread("t"))
    head = graph.get_state(thread("t"))

    with pytest.raises(InvalidUpdateError, match=message.replace("[", r"\[").replace("(", r"\(")):
        graph.bulk_update_state(thread("t"), supersteps)

    assert cid(cold(graph, saver).get_state(thread("t")).config) == cid(head.config)


def test_a_copy_of_nothing_is_refused(saver: Any) -> None:
    with pytest.raises(InvalidUpdateError, match="thread 'new' has none; run the graph first"):
        chain(saver).update_state(thread("new"), None, as_node="__copy__")


def test_a_bad_later_superstep_writes_none_of_the_earlier(saver: Any) -> None:
    graph = chain(saver)
    with pytest.raises(InvalidUpdateError, match="holds no updates"):
        graph.bulk_update_state(thread("t"), [[StateUpdate({"xs": ["A"]}, "a")], []])

    assert history(cold(graph, saver), thread("t")) == []
