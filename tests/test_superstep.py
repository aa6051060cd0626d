"""Running a graph: super-steps, how updates are applied, limits, node kinds and Command."""

import asyncio
import operator
import threading
import time
from typing import Annotated, Any, Callable, Literal, TypedDict

import pytest

from cairn.errors import ConfigError, GraphRecursionError, InvalidUpdateError
from cairn.graph import END, START, StateGraph
from cairn.types import Command, Send
from tests.support import history, steps, thread


class Log(TypedDict):
    log: Annotated[list, operator.add]
    plain: str


def logger(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda state: {"log": [name]}


def parallel_graph(names: list[str], checkpointer: Any = None) -> Any:
    builder = StateGraph(Log)
    for name in names:
        builder.add_node(name, logger(name))
        builder.add_edge(START, name)
    return builder.compile(checkpointer=checkpointer)


# --- parallel steps -------------------------------------------------------------


def test_nodes_triggered_together_run_in_one_step(saver: Any) -> None:
    graph = parallel_graph(["zeta", "alpha", "mid"], saver)
    graph.invoke({"log": []}, thread("p"))
    snapshots = history(graph, thread("p"))
    assert steps(snapshots) == [1, 0, -1]
    assert snapshots[0].values["log"] == ["alpha", "mid", "zeta"]


def test_reducer_applies_parallel_writes_in_alphabetical_node_order() -> None:
    result = parallel_graph(["zeta", "alpha", "mid"]).invoke({"log": []})
    assert result == {"log": ["alpha", "mid", "zeta"]}


def test_parallel_write_order_does_not_depend_on_finishing_order() -> None:
    def slow_alpha(state: Log) -> dict[str, Any]:
        time.sleep(0.05)
        return {"log": ["alpha"]}

    builder = StateGraph(Log).add_node("alpha", slow_alpha).add_node("beta", logger("beta"))
    builder.add_edge(START, "alpha").add_edge(START, "beta")
    assert builder.compile().invoke({"log": []}) == {"log": ["alpha", "beta"]}


def test_next_lists_parallel_nodes_in_the_order_they_were_added(saver: Any) -> None:
    graph = parallel_graph(["zeta", "alpha", "mid"], saver)
    graph.invoke({"log": []}, thread("p"))
    at_step_0 = history(graph, thread("p"))[1]
    assert at_step_0.next == ("zeta", "alpha", "mid")
    assert [task.name for task in at_step_0.tasks] == ["zeta", "alpha", "mid"]


def test_parallel_sync_nodes_run_concurrently() -> None:
    # Each node waits for the other at a barrier: run one after the other,
    # the first would time out.
    barrier = threading.Barrier(2, timeout=5)

    def meet(name: str) -> Callable[[Log], dict[str, Any]]:
        def node(state: Log) -> dict[str, Any]:
            barrier.wait()
            return {"log": [name]}

        return node

    builder = StateGraph(Log).add_node("left", meet("left")).add_node("right", meet("right"))
    builder.add_edge(START, "left").add_edge(START, "right")
    assert builder.compile().invoke({"log": []}) == {"log": ["left", "right"]}


def test_single_task_runs_inline_in_the_callers_thread() -> None:
    idents: list[int] = []

    def where(state: Log) -> dict[str, Any]:
        idents.append(threading.get_ident())
        return {}

    builder = StateGraph(Log).add_node("only", where).add_edge(START, "only")
    builder.compile().invoke({"log": []})
    assert idents == [threading.get_ident()]


def test_two_writes_to_a_plain_key_in_one_step_raise_naming_the_key() -> None:
    builder = StateGraph(Log)
    builder.add_node("x", lambda s: {"plain": "x"}).add_node("y", lambda s: {"plain": "y"})
    builder.add_edge(START, "x").add_edge(START, "y")
    with pytest.raises(InvalidUpdateError, match="plain"):
        builder.compile().invoke({"log": []})


def test_conflicting_writes_are_not_applied(saver: Any) -> None:
    builder = StateGraph(Log)
    builder.add_node("x", lambda s: {"plain": "x"}).add_node("y", lambda s: {"plain": "y"})
    builder.add_edge(START, "x").add_edge(START, "y")
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(InvalidUpdateError):
        graph.invoke({"log": [], "plain": "input"}, thread("c"))
    assert graph.get_state(thread("c")).values == {"log": [], "plain": "input"}


# --- what a node may return -----------------------------------------------------


@pytest.mark.parametrize(("value", "type_name"), [("oops", "str"), (["x"], "list"), (42, "int")])
def test_node_returning_a_non_dict_raises_naming_node_and_type(value: Any, type_name: str) -> None:
    builder = StateGraph(Log).add_node("badnode", lambda s: value).add_edge(START, "badnode")
    with pytest.raises(InvalidUpdateError) as excinfo:
        builder.compile().invoke({"log": []})
    assert "badnode" in str(excinfo.value)
    assert type_name in str(excinfo.value)


def test_node_returning_none_changes_nothing() -> None:
    builder = StateGraph(Log).add_node("nothing", lambda s: None).add_edge(START, "nothing")
    assert builder.compile().invoke({"log": ["a"], "plain": "p"}) == {"log": ["a"], "plain": "p"}


def test_node_returning_an_empty_dict_changes_nothing() -> None:
    builder = StateGraph(Log).add_node("nothing", lambda s: {}).add_edge(START, "nothing")
    assert builder.compile().invoke({"log": ["a"], "plain": "p"}) == {"log": ["a"], "plain": "p"}


def test_unknown_key_in_node_update_is_dropped_with_a_warning() -> None:
    builder = StateGraph(Log)
    builder.add_node("unk", lambda s: {"bogus": 1, "plain": "ok"}).add_edge(START, "unk")
    with pytest.warns(UserWarning, match="bogus"):
        result = builder.compile().invoke({"log": []})
    assert result == {"log": [], "plain": "ok"}


def test_unknown_key_in_input_is_dropped_with_a_warning() -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a")
    with pytest.warns(UserWarning, match="stray"):
        result = builder.compile().invoke({"log": [], "stray": 3})
    assert result == {"log": ["a"]}


def test_node_may_update_only_some_keys() -> None:
    class S(TypedDict):
        a: str
        b: str

    builder = StateGraph(S).add_node("n", lambda s: {"b": "new"}).add_edge(START, "n")
    assert builder.compile().invoke({"a": "kept", "b": "old"}) == {"a": "kept", "b": "new"}


# --- recursion limit ------------------------------------------------------------


class Counter(TypedDict):
    n: int


def chain(length: int, checkpointer: Any = None) -> Any:
    builder = StateGraph(Counter)
    names = [f"n{i}" for i in range(length)]
    for name in names:
        builder.add_node(name, lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, names[0])
    for first, second in zip(names, names[1:]):
        builder.add_edge(first, second)
    return builder.compile(checkpointer=checkpointer)


@pytest.mark.parametrize("limit", [2, 3, 5])
def test_recursion_limit_n_allows_n_minus_1_node_steps(limit: int) -> None:
    # The __start__ step counts against the limit, as in LangGraph.
    assert chain(limit - 1).invoke({"n": 0}, {"recursion_limit": limit}) == {"n": limit - 1}
    with pytest.raises(GraphRecursionError):
        chain(limit).invoke({"n": 0}, {"recursion_limit": limit})


def test_recursion_error_names_the_limit() -> None:
    builder = StateGraph(Counter).add_node("loop", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "loop").add_conditional_edges("loop", lambda s: "loop")
    with pytest.raises(GraphRecursionError, match=r"\b7\b"):
        builder.compile().invoke({"n": 0}, {"recursion_limit": 7})


def test_default_recursion_limit_is_25() -> None:
    assert chain(24).invoke({"n": 0}) == {"n": 24}
    with pytest.raises(GraphRecursionError):
        chain(25).invoke({"n": 0})


def test_recursion_limit_is_read_with_a_thread_config(saver: Any) -> None:
    graph = chain(3, saver)
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0}, {"configurable": {"thread_id": "r"}, "recursion_limit": 3})
    assert graph.invoke({"n": 0}, {"configurable": {"thread_id": "s"}, "recursion_limit": 4}) == {
        "n": 3
    }


def test_graph_recursion_error_is_a_recursion_error() -> None:
    with pytest.raises(RecursionError):
        chain(3).invoke({"n": 0}, {"recursion_limit": 2})


@pytest.mark.parametrize("limit", [0, -3])
def test_non_positive_recursion_limit_is_a_config_error(limit: int) -> None:
    with pytest.raises(ConfigError, match=str(limit)):
        chain(1).invoke({"n": 0}, {"recursion_limit": limit})


# --- async nodes ----------------------------------------------------------------


async def async_a1(state: Log) -> dict[str, Any]:
    await asyncio.sleep(0.001)
    return {"log": ["a1"]}


async def async_a2(state: Log) -> dict[str, Any]:
    await asyncio.sleep(0.001)
    return {"log": ["a2"]}


def test_sync_invoke_runs_async_nodes() -> None:
    builder = StateGraph(Log).add_node(async_a1).add_node(async_a2)
    builder.add_edge(START, "async_a1").add_edge("async_a1", "async_a2")
    assert builder.compile().invoke({"log": []}) == {"log": ["a1", "a2"]}


def test_sync_invoke_runs_parallel_async_and_sync_nodes() -> None:
    builder = StateGraph(Log).add_node(async_a2).add_node(async_a1).add_node("s", logger("s"))
    builder.add_edge(START, "async_a2").add_edge(START, "async_a1").add_edge(START, "s")
    assert builder.compile().invoke({"log": []}) == {"log": ["a1", "a2", "s"]}


def test_ainvoke_runs_the_graph(saver: Any) -> None:
    builder = StateGraph(Log).add_node(async_a1).add_node("s", logger("s"))
    builder.add_edge(START, "async_a1").add_edge("async_a1", "s")
    graph = builder.compile(checkpointer=saver)

    async def main() -> tuple[Any, Any]:
        result = await graph.ainvoke({"log": []}, thread("a"))
        snapshot = await graph.aget_state(thread("a"))
        return result, snapshot

    result, snapshot = asyncio.run(main())
    assert result == {"log": ["a1", "s"]}
    assert snapshot.values == result
    assert snapshot.metadata["step"] == 2


def test_async_twins_read_and_update_state(saver: Any) -> None:
    builder = StateGraph(Log).add_node(async_a1).add_node("s", logger("s"))
    builder.add_edge(START, "async_a1").add_edge("async_a1", "s")
    graph = builder.compile(checkpointer=saver)

    async def main() -> tuple[Any, Any, Any]:
        await graph.ainvoke({"log": []}, thread("a"))
        config = await graph.aupdate_state(thread("a"), {"plain": "edited"})
        snapshot = await graph.aget_state(config)
        steps_seen = [s.metadata["step"] async for s in graph.aget_state_history(thread("a"))]
        return config, snapshot, steps_seen

    config, snapshot, steps_seen = asyncio.run(main())
    assert snapshot.values == {"log": ["a1", "s"], "plain": "edited"}
    assert snapshot.metadata["source"] == "update"
    assert snapshot.config == config
    assert steps_seen == [3, 2, 1, 0, -1]


# --- the config parameter -------------------------------------------------------


def test_node_with_config_parameter_receives_thread_id(saver: Any) -> None:
    seen: dict[str, Any] = {}

    # As in LangGraph, a parameter named `config` (unannotated) receives the run's config.
    def with_config(state: Log, config):  # type: ignore[no-untyped-def]
        seen.update(config["configurable"])
        return {"log": [config["configurable"]["thread_id"]]}

    graph = (
        StateGraph(Log).add_node("w", with_config).add_edge(START, "w").compile(checkpointer=saver)
    )
    config = {"configurable": {"thread_id": "cfg-1", "user_id": "u7"}}
    assert graph.invoke({"log": []}, config) == {"log": ["cfg-1"]}
    assert seen["thread_id"] == "cfg-1"
    assert seen["user_id"] == "u7"


def test_node_config_has_thread_id_when_given_as_a_bare_string(saver: Any) -> None:
    seen: list[str] = []

    def with_config(state: Log, config):  # type: ignore[no-untyped-def]
        seen.append(config["configurable"]["thread_id"])
        return {}

    graph = (
        StateGraph(Log).add_node("w", with_config).add_edge(START, "w").compile(checkpointer=saver)
    )
    graph.invoke({"log": []}, "bare-thread")
    graph.invoke({"log": []}, {"thread_id": "top-level"})
    assert seen == ["bare-thread", "top-level"]


def test_graph_without_checkpointer_needs_no_thread_id() -> None:
    graph = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a").compile()
    assert graph.invoke({"log": []}) == {"log": ["a"]}


# --- Command --------------------------------------------------------------------


class Routed(TypedDict):
    log: Annotated[list, operator.add]
    x: int


def test_command_from_node_updates_state_and_goes_to_named_node(saver: Any) -> None:
    def router(state: Routed) -> Command[Literal["b", "c"]]:
        return Command(update={"x": 7, "log": ["router"]}, goto="c")

    builder = StateGraph(Routed).add_node("router", router)
    builder.add_node("b", logger("b")).add_node("c", logger("c"))
    builder.add_edge(START, "router")
    graph = builder.compile(checkpointer=saver)

    assert graph.invoke({"log": [], "x": 0}, thread("cmd")) == {"log": ["router", "c"], "x": 7}
    snapshots = history(graph, thread("cmd"))
    assert steps(snapshots) == [2, 1, 0, -1]
    assert snapshots[1].next == ("c",)


def test_command_goto_list_runs_nodes_in_one_step() -> None:
    def router(state: Routed) -> Command[Literal["b", "c"]]:
        return Command(goto=["b", "c"])

    builder = StateGraph(Routed).add_node("router", router)
    builder.add_node("b", logger("b")).add_node("c", logger("c"))
    builder.add_edge(START, "router")
    assert builder.compile().invoke({"log": [], "x": 0})["log"] == ["b", "c"]


def test_command_goto_send_runs_node_with_the_send_arg() -> None:
    def router(state: Routed) -> Command[Literal["b"]]:
        return Command(update={"x": 8}, goto=Send("b", {"log": [], "x": 99}))

    builder = StateGraph(Routed).add_node("router", router)
    builder.add_node("b", lambda s: {"log": [f"b saw x={s['x']}"]})
    builder.add_edge(START, "router")
    assert builder.compile().invoke({"log": [], "x": 0}) == {"log": ["b saw x=99"], "x": 8}


def test_command_goto_end_stops_the_run() -> None:
    def router(state: Routed) -> Command[Literal["b"]]:
        return Command(update={"x": 1}, goto=END)

    builder = StateGraph(Routed).add_node("router", router).add_node("b", logger("b"))
    builder.add_edge(START, "router")
    assert builder.compile().invoke({"log": [], "x": 0}) == {"log": [], "x": 1}
