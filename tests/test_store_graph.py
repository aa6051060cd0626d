"""A store reaches the nodes of a graph compiled with it (issue 16):
a ``store`` parameter, ``runtime.store``, ``get_store()``, in subgraphs too,
and memory written in one thread is read in another."""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.config import get_store
from cairn.errors import OutsideNodeError
from cairn.graph import START, StateGraph
from cairn.runtime.context import Runtime
from cairn.store.base import BaseStore
from cairn.store.memory import InMemoryStore
from cairn.store.sqlite import SqliteStore
from tests.store_support import DIMS, embed


class Chat(TypedDict):
    user: str
    said: str
    recalled: Annotated[list[str], operator.add]


def remember(state: Chat, config: dict[str, Any], *, store: BaseStore) -> dict[str, Any]:
    """Keeps what the user said under their id, and recalls what they said before."""
    ns = ("memories", state["user"])
    before = [item.value["text"] for item in store.search(ns, limit=100)]
    store.put(ns, config["configurable"]["thread_id"], {"text": state["said"]})
    return {"recalled": sorted(before)}


def chat_graph(saver: Any, store: Any) -> Any:
    return StateGraph(Chat).add_node("remember", remember).add_edge(START, "remember").compile(
        checkpointer=saver, store=store
    )


def test_memory_written_in_one_thread_is_read_in_another(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with SqliteSaver(path) as saver, SqliteStore(path) as store:
        graph = chat_graph(saver, store)
        graph.invoke({"user": "ada", "said": "I like tea"}, {"configurable": {"thread_id": "t1"}})
        graph.invoke({"user": "bob", "said": "I like maps"}, {"configurable": {"thread_id": "t2"}})
        out = graph.invoke({"user": "ada", "said": "hello"}, {"configurable": {"thread_id": "t3"}})
    assert out["recalled"] == ["I like tea"]
    with SqliteStore(path) as again:  # in the file, for the next process
        assert again.get(("memories", "ada"), "t3").value == {"text": "hello"}


class Box(TypedDict):
    seen: Annotated[list[str], operator.add]


def test_store_runtime_and_get_store_name_the_same_store() -> None:
    store = InMemoryStore()

    def by_parameter(state: Box, store: BaseStore) -> dict[str, Any]:
        store.put(("n",), "parameter", {"ok": True})
        return {"seen": [type(store).__name__]}

    def by_runtime(state: Box, runtime: Runtime) -> dict[str, Any]:
        return {"seen": [str(runtime.store is store)]}

    def by_function(state: Box) -> dict[str, Any]:
        return {"seen": [str(get_store() is store)]}

    graph = (
        StateGraph(Box)
        .add_sequence([by_parameter, by_runtime, by_function])
        .add_edge(START, "by_parameter")
        .compile(store=store)
    )
    assert graph.invoke({"seen": []})["seen"] == ["InMemoryStore", "True", "True"]
    assert store.get(("n",), "parameter").value == {"ok": True}


def test_a_graph_without_a_store_passes_none() -> None:
    def node(state: Box, store: Any) -> dict[str, Any]:
        return {"seen": [repr(store), repr(get_store())]}

    graph = StateGraph(Box).add_node("node", node).add_edge(START, "node").compile()
    assert graph.invoke({"seen": []})["seen"] == ["None", "None"]
    with pytest.raises(OutsideNodeError):
        get_store()


def test_a_subgraph_uses_its_parents_store() -> None:
    store = InMemoryStore()

    def inner(state: Box, store: BaseStore) -> dict[str, Any]:
        store.put(("sub",), "k", {"from": "subgraph"})
        return {"seen": [str(get_store() is store)]}

    sub = StateGraph(Box).add_node("inner", inner).add_edge(START, "inner").compile()
    graph = StateGraph(Box).add_node("sub", sub).add_edge(START, "sub").compile(
        checkpointer=InMemorySaver(), store=store
    )
    out = graph.invoke({"seen": []}, {"configurable": {"thread_id": "t"}})
    assert out["seen"] == ["True"]
    assert store.get(("sub",), "k").value == {"from": "subgraph"}


def test_async_nodes_use_the_async_methods(tmp_path: Path) -> None:
    from cairn.store.sqlite.aio import AsyncSqliteStore

    async def node(state: Box, store: BaseStore) -> dict[str, Any]:
        await store.aput(("a",), "k", {"text": "cats purr"})
        found = await store.asearch(("a",), query="cats")
        return {"seen": [found[0].key]}

    async def main() -> list[str]:
        async with AsyncSqliteStore(tmp_path / "a.db", index={"dims": DIMS, "embed": embed}) as store:
            graph = StateGraph(Box).add_node("node", node).add_edge(START, "node").compile(store=store)
            return (await graph.ainvoke({"seen": []}))["seen"]

    assert asyncio.run(main()) == ["k"]
