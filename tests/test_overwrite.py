"""``Overwrite``: a node writes a key with a reducer as it is, bypassing the
reducer (LangGraph's ``types.Overwrite`` and its ``{"__overwrite__": v}``
form). The stored write log folds back to the same state, on every saver."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import InvalidUpdateError
from cairn.graph import START, MessagesState, StateGraph
from cairn.types import Overwrite
from tests.support import thread


class S(TypedDict):
    xs: Annotated[list, operator.add]
    y: int


def parallel(a: Any, b: Any, saver: Any = None) -> Any:
    """Nodes a and b run in one step, returning ``a`` and ``b``."""
    builder = StateGraph(S)
    builder.add_node("a", lambda s: a).add_node("b", lambda s: b)
    builder.add_edge(START, "a").add_edge(START, "b")
    return builder.compile(checkpointer=saver)


def cold(graph: Any, saver: Any) -> Any:
    """The same graph compiled again: its first read folds the stored log."""
    return graph.builder.compile(checkpointer=saver)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"xs": Overwrite(["O"])}, {}),
        ({"xs": Overwrite(["O"])}, {"xs": ["B"]}),
        ({"xs": ["A"]}, {"xs": Overwrite(["O"])}),
        ({"xs": {"__overwrite__": ["O"]}}, {"xs": ["B"]}),
    ],
    ids=["alone", "before-an-append", "after-an-append", "dict-form"],
)
def test_an_overwrite_replaces_the_value_and_the_steps_other_writes(saver: Any, a: Any, b: Any) -> None:
    graph = parallel(a, b, saver)
    assert graph.invoke({"xs": ["init"], "y": 0}, thread("t")) == {"xs": ["O"], "y": 0}
    assert cold(graph, saver).get_state(thread("t")).values == {"xs": ["O"], "y": 0}


def test_two_overwrites_of_a_key_in_one_step_are_an_error_naming_both_nodes() -> None:
    graph = parallel({"xs": Overwrite(["1"])}, {"xs": Overwrite(["2"])})
    with pytest.raises(InvalidUpdateError, match=r"'xs' got two Overwrite values.*'a' and 'b'"):
        graph.invoke({"xs": [], "y": 0})


def test_an_overwrite_of_a_plain_key_writes_its_value() -> None:
    assert parallel({"y": Overwrite(5)}, {}).invoke({"xs": [], "y": 0}) == {"xs": [], "y": 5}


def test_messages_overwritten_mid_thread_fold_back_from_storage(saver: Any) -> None:
    """add_messages folds a chain in one pass; an overwrite in the chain
    drops what came before it, and later appends land on top of it."""
    turn = {"n": 0}

    def reply(state: MessagesState) -> dict[str, Any]:
        turn["n"] += 1
        if turn["n"] == 3:
            return {"messages": Overwrite([{"role": "ai", "content": "summary", "id": "s"}])}
        return {"messages": [{"role": "ai", "content": f"r{turn['n']}", "id": f"r{turn['n']}"}]}

    builder = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply")
    graph = builder.compile(checkpointer=saver)
    for n in range(1, 6):
        # Long first messages: the stored snapshot before the overwrite is
        # large, so the small writes after it are folded from the log.
        content = "x" * 20_000 if n < 3 else f"u{n}"
        live = graph.invoke({"messages": [{"role": "user", "content": content, "id": f"u{n}"}]}, thread("c"))
    ids = [m["id"] if isinstance(m, dict) else m.id for m in live["messages"]]
    assert ids == ["s", "u4", "r4", "u5", "r5"]
    stored = cold(graph, saver).get_state(thread("c")).values["messages"]
    assert [m["id"] if isinstance(m, dict) else m.id for m in stored] == ids


def test_update_state_and_ainvoke_take_an_overwrite(saver: Any) -> None:
    graph = parallel({}, {"xs": ["b"]}, saver)
    graph.invoke({"xs": ["init"], "y": 0}, thread("u"))
    graph.update_state(thread("u"), {"xs": Overwrite(["edited"])}, as_node="a")
    assert cold(graph, saver).get_state(thread("u")).values == {"xs": ["edited"], "y": 0}

    async_graph = parallel({"xs": Overwrite([])}, {"xs": ["b"]}, saver)
    assert asyncio.run(async_graph.ainvoke({"xs": ["init"], "y": 1}, thread("v"))) == {"xs": [], "y": 1}
