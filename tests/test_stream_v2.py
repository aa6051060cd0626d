"""``stream(version="v2")`` / ``astream`` / ``invoke`` / ``ainvoke``: every
chunk as a typed ``StreamPart`` dict and ``GraphOutput`` from invoke. Each
expected value below is what LangGraph 1.2.22 gives for the same graph
(run under benchmarks/.venv-langgraph while writing these tests), ids and
timestamps left out."""

from __future__ import annotations

import asyncio
import dataclasses
import operator
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from cairn.checkpoint.memory import InMemorySaver
from cairn.config import get_stream_writer
from cairn.errors import CairnError, ConfigError, UnknownVersionError
from cairn.func import entrypoint
from cairn.graph import START, StateGraph
from cairn.types import Command, GraphOutput, Interrupt, interrupt
from cairn.warnings import LangGraphDeprecatedSinceV11
from tests.support import thread


class State(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def a(state: State) -> dict[str, Any]:
    get_stream_writer()({"progress": "a"})
    return {"x": state["x"] + 1, "log": ["a"]}


def b(state: State) -> dict[str, Any]:
    return {"log": ["b"]}


def ask(state: State) -> dict[str, Any]:
    return {"log": [interrupt("q?")]}


def two_steps(saver: Any = None) -> Any:
    builder = StateGraph(State).add_node("a", a).add_node("b", b)
    builder.add_edge(START, "a").add_edge("a", "b")
    return builder.compile(checkpointer=saver)


def asking() -> Any:
    builder = StateGraph(State).add_node("a", a).add_node("ask", ask)
    builder.add_edge(START, "a").add_edge("a", "ask")
    return builder.compile(checkpointer=InMemorySaver())


def with_subgraph() -> Any:
    sub = StateGraph(State).add_node("s1", lambda s: {"log": ["s1"]}).add_edge(START, "s1").compile()
    builder = StateGraph(State).add_node("a", a).add_node("sub", sub)
    builder.add_edge(START, "a").add_edge("a", "sub")
    return builder.compile()


START_INPUT = {"x": 0, "log": []}


def without_ids(value: Any) -> Any:
    """``value`` with task ids and timestamps left out, and each subgraph
    namespace ``"node:<task id>"`` as ``"node"``."""
    if isinstance(value, dict):
        return {
            k: tuple(p.split(":")[0] for p in v) if k == "ns" else without_ids(v)
            for k, v in value.items()
            if k not in ("id", "timestamp")
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def test_values_parts_carry_the_state_and_no_interrupts() -> None:
    parts = list(two_steps().stream(START_INPUT, stream_mode="values", version="v2"))
    assert parts == [
        {"type": "values", "ns": (), "data": {"x": 0, "log": []}, "interrupts": ()},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a", "b"]}, "interrupts": ()},
    ]


def test_updates_and_custom_parts_wrap_the_v1_chunks() -> None:
    graph = two_steps()
    assert list(graph.stream(START_INPUT, stream_mode="updates", version="v2")) == [
        {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}},
        {"type": "updates", "ns": (), "data": {"b": {"log": ["b"]}}},
    ]
    assert list(graph.stream(START_INPUT, stream_mode="custom", version="v2")) == [
        {"type": "custom", "ns": (), "data": {"progress": "a"}},
    ]


def test_tasks_and_debug_parts() -> None:
    graph = two_steps()
    tasks = list(graph.stream(START_INPUT, stream_mode="tasks", version="v2"))
    assert without_ids(tasks) == [
        {"type": "tasks", "ns": (), "data": {"name": "a", "input": {"x": 0, "log": []}, "triggers": ("branch:to:a",)}},
        {"type": "tasks", "ns": (), "data": {"name": "a", "error": None, "result": {"x": 1, "log": ["a"]}, "interrupts": []}},
        {"type": "tasks", "ns": (), "data": {"name": "b", "input": {"x": 1, "log": ["a"]}, "triggers": ("branch:to:b",)}},
        {"type": "tasks", "ns": (), "data": {"name": "b", "error": None, "result": {"log": ["b"]}, "interrupts": []}},
    ]
    debug = list(graph.stream(START_INPUT, stream_mode="debug", version="v2"))
    assert [(p["type"], p["ns"], p["data"]["step"], p["data"]["type"]) for p in debug] == [
        ("debug", (), 1, "task"),
        ("debug", (), 1, "task_result"),
        ("debug", (), 2, "task"),
        ("debug", (), 2, "task_result"),
    ]
    assert [without_ids(p["data"]["payload"]) for p in debug] == [t["data"] for t in without_ids(tasks)]


def test_checkpoints_parts_hold_get_states_shape() -> None:
    parts = list(two_steps(InMemorySaver()).stream(START_INPUT, thread("c"), stream_mode="checkpoints", version="v2"))
    assert [(p["type"], p["ns"]) for p in parts] == [("checkpoints", ())] * 4
    assert [p["data"]["values"] for p in parts] == [{"log": []}, {"x": 0, "log": []}, {"x": 1, "log": ["a"]}, {"x": 1, "log": ["a", "b"]}]
    assert [p["data"]["next"] for p in parts] == [["__start__"], ["a"], ["b"], []]


def test_a_list_of_modes_gives_parts_not_pairs() -> None:
    parts = list(two_steps().stream(START_INPUT, stream_mode=["values", "updates"], version="v2"))
    assert parts == [
        {"type": "values", "ns": (), "data": {"x": 0, "log": []}, "interrupts": ()},
        {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "updates", "ns": (), "data": {"b": {"log": ["b"]}}},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a", "b"]}, "interrupts": ()},
    ]


def test_an_interrupt_is_a_values_parts_interrupts_not_a_key_of_its_data() -> None:
    parts = list(asking().stream(START_INPUT, thread("i"), stream_mode=["values", "updates"], version="v2"))
    (pending,) = parts[-1]["interrupts"]
    assert isinstance(pending, Interrupt) and pending.value == "q?"
    assert parts == [
        {"type": "values", "ns": (), "data": {"x": 0, "log": []}, "interrupts": ()},
        {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "updates", "ns": (), "data": {"__interrupt__": (pending,)}},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": (pending,)},
    ]


def test_invoke_v2_returns_graph_output_with_the_interrupts() -> None:
    graph = asking()
    paused = graph.invoke(START_INPUT, thread("j"), version="v2")
    assert isinstance(paused, GraphOutput)
    assert paused.value == {"x": 1, "log": ["a"]}
    (pending,) = paused.interrupts
    assert pending.value == "q?" and pending == graph.get_state(thread("j")).interrupts[0]
    assert graph.invoke(Command(resume="yes"), thread("j"), version="v2") == GraphOutput(
        {"x": 1, "log": ["a", "yes"]}, ()
    )
    assert two_steps().invoke(START_INPUT, version="v2") == GraphOutput({"x": 1, "log": ["a", "b"]}, ())


def test_invoke_v2_with_another_mode_returns_the_parts() -> None:
    assert two_steps().invoke(START_INPUT, stream_mode="updates", version="v2") == [
        {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}},
        {"type": "updates", "ns": (), "data": {"b": {"log": ["b"]}}},
    ]


def test_an_interrupt_before_a_node_gives_no_interrupts() -> None:
    builder = StateGraph(State).add_node("a", a).add_node("b", b)
    builder.add_edge(START, "a").add_edge("a", "b")
    graph = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    parts = list(graph.stream(START_INPUT, thread("ib"), stream_mode=["values", "updates"], version="v2"))
    assert parts[-2:] == [
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "updates", "ns": (), "data": {"__interrupt__": ()}},
    ]
    assert graph.invoke(START_INPUT, thread("ib2"), version="v2") == GraphOutput({"x": 1, "log": ["a"]}, ())


def test_subgraph_parts_name_their_namespace() -> None:
    graph = with_subgraph()
    values = list(graph.stream(START_INPUT, stream_mode="values", subgraphs=True, version="v2"))
    assert without_ids(values) == [
        {"type": "values", "ns": (), "data": {"x": 0, "log": []}, "interrupts": ()},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "values", "ns": ("sub",), "data": {"x": 1, "log": ["a"]}, "interrupts": ()},
        {"type": "values", "ns": ("sub",), "data": {"x": 1, "log": ["a", "s1"]}, "interrupts": ()},
        {"type": "values", "ns": (), "data": {"x": 1, "log": ["a", "a", "s1"]}, "interrupts": ()},
    ]
    assert values[2]["ns"][0].startswith("sub:")
    mixed = list(graph.stream(START_INPUT, stream_mode=["updates", "custom"], subgraphs=True, version="v2"))
    assert without_ids(mixed) == [
        {"type": "custom", "ns": (), "data": {"progress": "a"}},
        {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}},
        {"type": "updates", "ns": ("sub",), "data": {"s1": {"log": ["s1"]}}},
        {"type": "updates", "ns": (), "data": {"sub": {"x": 1, "log": ["a", "s1"]}}},
    ]
    # Without subgraphs=True only the top graph's parts, still with ns ().
    assert [p["ns"] for p in graph.stream(START_INPUT, stream_mode="updates", version="v2")] == [(), ()]


class Model(BaseModel):
    x: int = 0
    log: Annotated[list, operator.add] = []


class Out(BaseModel):
    log: list = []


def pydantic_graph() -> Any:
    builder = StateGraph(Model, output_schema=Out)
    builder.add_node("a", lambda s: {"x": s.x + 1, "log": ["a"]}).add_node("ask", lambda s: {"log": [interrupt("q")]})
    builder.add_edge(START, "a").add_edge("a", "ask")
    return builder.compile(checkpointer=InMemorySaver())


def test_a_models_values_are_the_output_schemas_instances() -> None:
    parts = list(pydantic_graph().stream({"x": 1}, thread("p"), stream_mode="values", version="v2"))
    assert [p["data"] for p in parts] == [Out(log=[]), Out(log=["a"]), Out(log=["a"])]
    assert [len(p["interrupts"]) for p in parts] == [0, 0, 1]


def test_a_models_checkpoint_values_are_the_state_schemas_instances_but_the_inputs() -> None:
    parts = list(pydantic_graph().stream({"x": 1}, thread("p"), stream_mode=["checkpoints", "debug"], version="v2"))
    checkpoints = [p["data"]["values"] for p in parts if p["type"] == "checkpoints"]
    assert checkpoints == [{"log": []}, Model(x=1, log=[]), Model(x=2, log=["a"])]
    in_debug = [p["data"]["payload"]["values"] for p in parts if p["type"] == "debug" and p["data"]["type"] == "checkpoint"]
    assert in_debug == checkpoints


def test_invoke_v2_of_a_model_or_a_dataclass_gives_an_instance() -> None:
    graph = pydantic_graph()
    paused = graph.invoke({"x": 1}, thread("q"), version="v2")
    assert paused.value == Out(log=["a"]) and [i.value for i in paused.interrupts] == ["q"]
    assert graph.invoke(Command(resume="r"), thread("q"), version="v2") == GraphOutput(Out(log=["a", "r"]), ())

    @dataclasses.dataclass
    class D:
        x: int = 0

    plain = StateGraph(D).add_node("a", lambda s: {"x": s.x + 1}).add_edge(START, "a").compile()
    assert plain.invoke({"x": 1}, version="v2") == GraphOutput(D(x=2), ())
    assert [p["data"] for p in plain.stream({"x": 1}, stream_mode="values", version="v2")] == [D(x=1), D(x=2)]


def test_a_state_of_one_value_and_an_empty_state() -> None:
    one = StateGraph(int).add_node("a", lambda s: s + 1).add_edge(START, "a").compile()
    assert one.invoke(1, version="v2") == GraphOutput(2, ())
    assert [p["data"] for p in one.stream(1, stream_mode="values", version="v2")] == [1, 2]

    class Loose(TypedDict, total=False):
        x: int

    empty = StateGraph(Loose).add_node("a", lambda s: None).add_edge(START, "a").compile()
    assert empty.invoke({}, version="v2") == GraphOutput(None, ())


def test_a_paused_entrypoint_shows_an_empty_value_with_its_interrupt() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int) -> int:
        return n + interrupt("q")

    paused = flow.invoke(3, thread("f"), version="v2")
    assert paused.value == {} and [i.value for i in paused.interrupts] == ["q"]
    assert flow.invoke(Command(resume=4), thread("f"), version="v2") == GraphOutput(7, ())
    parts = list(flow.stream(3, thread("g"), stream_mode="values", version="v2"))
    assert parts[-1]["data"] == {} and [i.value for i in parts[-1]["interrupts"]] == ["q"]


def test_astream_and_ainvoke_take_version_too() -> None:
    graph = asking()

    async def run() -> tuple[list[Any], Any]:
        parts = [p async for p in graph.astream(START_INPUT, thread("as"), stream_mode="updates", version="v2")]
        return parts, await graph.ainvoke(START_INPUT, thread("ai"), version="v2")

    parts, output = asyncio.run(run())
    assert [p["type"] for p in parts] == ["updates", "updates"]
    assert parts[0] == {"type": "updates", "ns": (), "data": {"a": {"x": 1, "log": ["a"]}}}
    assert output.value == {"x": 1, "log": ["a"]} and [i.value for i in output.interrupts] == ["q?"]


def test_v1_stays_the_default() -> None:
    graph = two_steps()
    assert list(graph.stream(START_INPUT, stream_mode="updates")) == list(
        graph.stream(START_INPUT, stream_mode="updates", version="v1")
    ) == [{"a": {"x": 1, "log": ["a"]}}, {"b": {"log": ["b"]}}]
    assert graph.invoke(START_INPUT) == graph.invoke(START_INPUT, version="v1") == {"x": 1, "log": ["a", "b"]}


@pytest.mark.parametrize("call", ["invoke", "stream", "ainvoke", "astream"])
def test_an_unknown_version_is_refused_by_name(call: str) -> None:
    graph = two_steps()

    async def drain_async() -> None:
        if call == "ainvoke":
            await graph.ainvoke(START_INPUT, version="v3")
        else:
            async for _ in graph.astream(START_INPUT, version="v3"):
                pass

    with pytest.raises(UnknownVersionError, match="'v3'") as raised:
        if call == "invoke":
            graph.invoke(START_INPUT, version="v3")
        elif call == "stream":
            list(graph.stream(START_INPUT, version="v3"))
        else:
            asyncio.run(drain_async())
    assert isinstance(raised.value, ConfigError) and isinstance(raised.value, CairnError)
    assert '"v1"' in str(raised.value) and '"v2"' in str(raised.value)


def test_reading_graph_output_as_a_dict_still_works_with_langgraphs_warning() -> None:
    output = asking().invoke(START_INPUT, thread("w"), version="v2")
    with pytest.warns(LangGraphDeprecatedSinceV11, match="result.value"):
        assert output["log"] == ["a"]
    with pytest.warns(LangGraphDeprecatedSinceV11):
        assert output["__interrupt__"] == output.interrupts
    with pytest.warns(LangGraphDeprecatedSinceV11):
        assert "__interrupt__" in output and "x" in output and "nope" not in output


def test_messages_parts_hold_the_token_and_its_metadata() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from cairn.graph import MessagesState

    model = GenericFakeChatModel(messages=iter([AIMessage("hello big world", id="m1")]))
    builder = StateGraph(MessagesState).add_node("call", lambda s: {"messages": [model.invoke(s["messages"])]})
    graph = builder.add_edge(START, "call").compile(checkpointer=InMemorySaver())
    parts = list(graph.stream({"messages": [("user", "hi")]}, thread("m"), stream_mode="messages", version="v2"))
    assert [(p["type"], p["ns"], p["data"][0].content) for p in parts] == [
        ("messages", (), token) for token in ["hello", " ", "big", " ", "world"]
    ]
    assert all(p["data"][1]["langgraph_node"] == "call" for p in parts)


class Inner(BaseModel):
    y: int = 5
    log: Annotated[list, operator.add] = []


def test_a_subgraphs_values_are_its_own_schemas_instances() -> None:
    # LangGraph 1.2.22 shows them as the top graph's class (Out(log=[...]),
    # the subgraph's y lost); cairn shows each namespace's state as its own.
    sub = StateGraph(Inner).add_node("s1", lambda s: {"log": ["s1"], "y": 6}).add_edge(START, "s1").compile()
    builder = StateGraph(Model, output_schema=Out).add_node("sub", sub).add_edge(START, "sub")
    parts = list(builder.compile().stream({"x": 1}, stream_mode="values", subgraphs=True, version="v2"))
    assert [(len(p["ns"]), p["data"]) for p in parts] == [
        (0, Out(log=[])),
        (1, Inner(y=5, log=[])),
        (1, Inner(y=6, log=["s1"])),
        (0, Out(log=["s1"])),
    ]


def test_a_state_that_is_not_a_dict_gives_way_to_its_interrupts_as_in_langgraph() -> None:
    # LangGraph 1.2.22, v1 and v2, for the same graph: the paused values are the interrupts alone.
    def ask(state: int) -> int:
        return state + len(interrupt("q"))

    builder = StateGraph(int).add_node("a", lambda s: s + 1).add_node("ask", ask)
    graph = builder.add_edge(START, "a").add_edge("a", "ask").compile(checkpointer=InMemorySaver())
    v1 = list(graph.stream(1, thread("r1"), stream_mode=["values", "updates"]))
    (pending,) = v1[-1][1]["__interrupt__"]
    assert v1 == [
        ("values", 1),
        ("updates", {"a": 2}),
        ("values", 2),
        ("updates", {"__interrupt__": (pending,)}),
        ("values", {"__interrupt__": (pending,)}),
    ]
    assert graph.invoke(1, thread("r2"))["__interrupt__"][0].value == "q"
    parts = list(graph.stream(1, thread("r3"), stream_mode="values", version="v2"))
    assert [(p["data"], [i.value for i in p["interrupts"]]) for p in parts] == [(1, []), (2, []), ({}, ["q"])]
    paused = graph.invoke(1, thread("r4"), version="v2")
    assert paused.value == {} and [i.value for i in paused.interrupts] == ["q"]
    assert graph.invoke(Command(resume="yes"), thread("r4"), version="v2") == GraphOutput(5, ())


def test_a_paused_entrypoint_streams_only_its_interrupts_as_in_langgraph() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int) -> int:
        return n + interrupt("q")

    chunks = list(flow.stream(3, thread("e"), stream_mode=["updates", "values"]))
    (pending,) = chunks[0][1]["__interrupt__"]
    # No values chunk for the input (the entrypoint's value is not written yet).
    assert chunks == [("updates", {"__interrupt__": (pending,)}), ("values", {"__interrupt__": (pending,)})]
    resumed = list(flow.stream(Command(resume=4), thread("e"), stream_mode=["values", "updates"]))
    assert resumed == [("values", None), ("updates", {"flow": 7}), ("values", 7)]
