"""What a node receives besides its state, as in LangGraph 1.x: parameters
named ``config``, ``runtime``, ``store`` and ``writer`` are injected by name
(positional or keyword-only); ``get_config()``, ``get_runtime()``,
``get_store()`` and ``get_stream_writer()`` reach the same from inside a node;
no internal object of cairn's travels in the config a node sees."""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.config import get_config, get_runtime, get_store, get_stream_writer
from cairn.errors import CairnError, OutsideNodeError
from cairn.graph import END, START, StateGraph
from cairn.runtime import Runtime
from cairn.types import Command, interrupt
from tests.support import thread


class State(TypedDict):
    seen: Annotated[list, operator.add]


@dataclass
class Context:
    user: str


class Store:
    """Anything given as ``compile(store=...)`` reaches the nodes as is."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}


def one_node(fn: Callable[..., Any], saver: Any = None, **compile_options: Any) -> Any:
    builder = StateGraph(State, context_schema=Context)
    builder.add_node("n", fn).add_edge(START, "n").add_edge("n", END)
    return builder.compile(checkpointer=saver, **compile_options)


# -- config ----------------------------------------------------------------------


def test_a_keyword_only_config_parameter_receives_the_config(saver: Any) -> None:
    def node(state: State, *, config: dict[str, Any]) -> dict[str, Any]:
        return {"seen": [config["configurable"]["thread_id"], config["configurable"]["user"]]}

    graph = one_node(node, saver)
    config = {"configurable": {"thread_id": "t", "user": "ada"}}
    assert graph.invoke({"seen": []}, config) == {"seen": ["t", "ada"]}


def test_a_positional_config_parameter_receives_the_config() -> None:
    def node(state: State, config: dict[str, Any]) -> dict[str, Any]:
        return {"seen": [config["configurable"]["user"]]}

    assert one_node(node).invoke({"seen": []}, {"configurable": {"user": "ada"}}) == {"seen": ["ada"]}


def _internal_objects(value: Any, path: str = "config") -> list[str]:
    """Where ``value`` holds something that is not plain data a user put there."""
    if isinstance(value, dict):
        found = [f"{path}[{k!r}]" for k in value if isinstance(k, str) and k.startswith("__")]
        for k, v in value.items():
            found += _internal_objects(v, f"{path}[{k!r}]")
        return found
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _internal_objects(v, f"{path}[{i}]")]
    if value is None or isinstance(value, (str, int, float, bool)):
        return []
    return [f"{path} = {type(value).__name__}"]


@pytest.mark.parametrize("how", ["parameter", "get_config"])
def test_the_config_a_node_sees_holds_only_what_the_user_and_the_thread_put_there(
    saver: Any, how: str
) -> None:
    seen: list[dict[str, Any]] = []

    def node(state: State, config: dict[str, Any]) -> dict[str, Any]:
        seen.append(config if how == "parameter" else get_config())
        return {"seen": ["n"]}

    graph = one_node(node, saver)
    config = {"configurable": {"thread_id": "t", "user": "ada"}, "tags": ["x"], "metadata": {"m": 1}}
    graph.invoke({"seen": []}, config)
    assert _internal_objects(seen[0]) == []
    assert set(seen[0]["configurable"]) == {"thread_id", "checkpoint_ns", "user"}
    assert seen[0]["tags"] == ["x"] and seen[0]["metadata"] == {"m": 1}


def test_a_subgraph_node_sees_no_internal_object_either(saver: Any) -> None:
    seen: list[dict[str, Any]] = []

    def inner(state: State, config: dict[str, Any]) -> dict[str, Any]:
        seen.append(config)
        return {"seen": ["inner"]}

    child = one_node(inner)
    builder = StateGraph(State).add_node("child", child).add_edge(START, "child")
    builder.compile(checkpointer=saver).invoke({"seen": []}, thread("t"))
    assert _internal_objects(seen[0]) == []
    assert seen[0]["configurable"]["checkpoint_ns"].startswith("child:")


# -- runtime, context, store, writer -----------------------------------------------


def test_a_runtime_parameter_receives_the_context_store_and_writer(saver: Any) -> None:
    store = Store()

    def node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        runtime.stream_writer({"for": runtime.context.user})
        runtime.store.items["last"] = runtime.context.user
        return {"seen": [runtime.context.user]}

    graph = one_node(node, saver, store=store)
    chunks = list(
        graph.stream(
            {"seen": []}, thread("t"), context=Context(user="ada"), stream_mode=["custom", "values"]
        )
    )
    assert ("custom", {"for": "ada"}) in chunks
    assert chunks[-1] == ("values", {"seen": ["ada"]})
    assert store.items == {"last": "ada"}


def test_store_and_writer_parameters_are_injected_by_name() -> None:
    store = Store()

    def node(state: State, *, store: Store, writer: Callable[[Any], None]) -> dict[str, Any]:
        writer("hello")
        store.items["n"] = 1
        return {"seen": ["n"]}

    graph = one_node(node, store=store)
    assert list(graph.stream({"seen": []}, stream_mode="custom")) == ["hello"]
    assert store.items == {"n": 1}


def test_without_a_store_or_context_the_runtime_holds_none() -> None:
    def node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return {"seen": [runtime.context, runtime.store]}

    assert one_node(node).invoke({"seen": []}) == {"seen": [None, None]}


def test_get_runtime_get_store_and_get_stream_writer_inside_a_node() -> None:
    store = Store()

    def node(state: State) -> dict[str, Any]:
        runtime = get_runtime(Context)
        get_stream_writer()(runtime.context.user)
        return {"seen": [get_store() is store, runtime.store is store]}

    graph = one_node(node, store=store)
    chunks = list(graph.stream({"seen": []}, context=Context("bo"), stream_mode=["custom", "values"]))
    assert chunks == [("values", {"seen": []}), ("custom", "bo"), ("values", {"seen": [True, True]})]


@pytest.mark.parametrize("call", [get_config, get_runtime, get_store, get_stream_writer])
def test_the_getters_outside_a_node_raise_a_runtime_error_saying_where_to_call_them(
    call: Callable[[], Any],
) -> None:
    with pytest.raises(OutsideNodeError, match="outside a running node") as raised:
        call()
    assert isinstance(raised.value, RuntimeError) and isinstance(raised.value, CairnError)


def test_an_async_node_receives_the_runtime_and_config() -> None:
    async def node(state: State, runtime: Runtime[Context], config: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"seen": [runtime.context.user, config["configurable"]["user"]]}

    graph = one_node(node)
    result = asyncio.run(
        graph.ainvoke({"seen": []}, {"configurable": {"user": "cy"}}, context=Context("ada"))
    )
    assert result == {"seen": ["ada", "cy"]}


def test_a_sync_node_under_ainvoke_and_a_node_with_a_timeout_receive_the_runtime() -> None:
    def node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return {"seen": [runtime.context.user, get_config()["configurable"]["user"]]}

    builder = StateGraph(State).add_node("n", node).add_node("t", node, timeout=5)
    graph = builder.add_edge(START, "n").add_edge("n", "t").compile()
    config = {"configurable": {"user": "cy"}}
    expected = {"seen": ["ada", "cy", "ada", "cy"]}
    assert graph.invoke({"seen": []}, config, context=Context("ada")) == expected
    assert asyncio.run(graph.ainvoke({"seen": []}, config, context=Context("ada"))) == expected


def test_a_conditional_edge_receives_the_runtime() -> None:
    def node(state: State) -> dict[str, Any]:
        return {"seen": ["n"]}

    def route(state: State, runtime: Runtime[Context]) -> str:
        return "admin" if runtime.context.user == "root" else END

    builder = StateGraph(State).add_node("n", node).add_node("admin", lambda s: {"seen": ["admin"]})
    builder.add_edge(START, "n").add_conditional_edges("n", route, ["admin", END])
    graph = builder.compile()
    assert graph.invoke({"seen": []}, context=Context("root")) == {"seen": ["n", "admin"]}
    assert graph.invoke({"seen": []}, context=Context("ada")) == {"seen": ["n"]}


def test_a_subgraph_node_sees_the_parents_context_and_store(saver: Any) -> None:
    store = Store()

    def inner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return {"seen": [runtime.context.user, runtime.store is store]}

    child = one_node(inner)
    builder = StateGraph(State).add_node("child", child).add_edge(START, "child")
    graph = builder.compile(checkpointer=saver, store=store)
    assert graph.invoke({"seen": []}, thread("t"), context=Context("ada")) == {"seen": ["ada", True]}


def test_a_resumed_run_gets_the_context_of_its_own_call(saver: Any) -> None:
    """The context is not stored: each call gives its own, as in LangGraph."""

    def node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        answer = interrupt("ok?")
        return {"seen": [runtime.context.user, answer]}

    graph = one_node(node, saver)
    graph.invoke({"seen": []}, thread("t"), context=Context("ada"))
    result = graph.invoke(Command(resume="yes"), thread("t"), context=Context("bo"))
    assert result == {"seen": ["bo", "yes"]}


def test_the_older_config_schema_name_is_taken_as_the_context_schema() -> None:
    assert StateGraph(State, config_schema=Context).context_schema is Context
    assert StateGraph(State, Context).context_schema is Context


class TwoKinds:
    """A node object with a sync ``__call__`` and an async twin ``acall``."""

    def __call__(self, state: State, config: dict[str, Any]) -> dict[str, Any]:
        return {"seen": [f"sync {config['configurable']['thread_id']}"]}

    async def acall(self, state: State, config: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"seen": [f"async {config['configurable']['thread_id']}"]}


def test_a_node_object_with_an_async_twin_is_awaited_under_the_async_api() -> None:
    graph = StateGraph(State).add_node("both", TwoKinds()).add_edge(START, "both").compile()

    assert graph.invoke({"seen": []}, "t")["seen"] == ["sync t"]
    assert asyncio.run(graph.ainvoke({"seen": []}, "t"))["seen"] == ["async t"]
