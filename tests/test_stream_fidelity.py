"""Streams show what LangGraph's show for the same program: a node's update
as the node returned it, a task's input as its node receives it, and one
"values" chunk per task that paused on ``interrupt()``. Each expected value
below is what LangGraph 1.2.22 streams for the same graph (run side by side
while writing these tests), ids and timestamps left out."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from cairn.checkpoint.memory import InMemorySaver
from cairn.graph import START, StateGraph
from cairn.types import Command, Interrupt, Overwrite, interrupt
from tests.support import thread


class Log(TypedDict):
    x: int
    log: Annotated[list, operator.add]


def _without_ids(chunks: list[Any]) -> list[Any]:
    out = []
    for chunk in chunks:
        if isinstance(chunk, tuple) and chunk[0] == "tasks":
            chunk = (chunk[0], {k: v for k, v in chunk[1].items() if k != "id"})
        out.append(chunk)
    return out


# -- "updates" and "tasks" show what the node returned --------------------------


def test_updates_show_messages_as_the_node_returned_them() -> None:
    pytest.importorskip("langchain_core", reason="add_messages makes LangChain messages when it is installed")
    from cairn.graph import MessagesState

    def n1(state: Any) -> dict[str, Any]:
        return {"messages": [("user", "hi"), {"role": "ai", "content": "yo"}]}

    def n2(state: Any) -> dict[str, Any]:
        return {"messages": "plain string"}

    builder = StateGraph(MessagesState).add_node("n1", n1).add_node("n2", n2)
    graph = builder.add_edge(START, "n1").add_edge("n1", "n2").compile(checkpointer=InMemorySaver())
    chunks = list(graph.stream({"messages": [("user", "start")]}, thread("m"), stream_mode=["updates", "tasks"]))
    results = [c for c in _without_ids(chunks) if c[0] == "updates" or "result" in c[1]]
    assert results == [
        ("updates", {"n1": {"messages": [("user", "hi"), {"role": "ai", "content": "yo"}]}}),
        ("tasks", {"name": "n1", "error": None, "result": {"messages": [("user", "hi"), {"role": "ai", "content": "yo"}]}, "interrupts": []}),
        ("updates", {"n2": {"messages": "plain string"}}),
        ("tasks", {"name": "n2", "error": None, "result": {"messages": "plain string"}, "interrupts": []}),
    ]
    # the state holds them converted, ids assigned
    messages = graph.get_state(thread("m")).values["messages"]
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "HumanMessage", "AIMessage", "HumanMessage"]
    assert all(m.id for m in messages)


def test_a_message_object_a_node_returns_is_shown_with_the_id_it_is_stored_under() -> None:
    pytest.importorskip("langchain_core", reason="LangChain messages")
    from langchain_core.messages import AIMessage

    from cairn.graph import MessagesState

    graph = StateGraph(MessagesState).add_node("n", lambda s: {"messages": AIMessage(content="a")})
    graph = graph.add_edge(START, "n").compile(checkpointer=InMemorySaver())
    [chunk] = list(graph.stream({"messages": []}, thread("o"), stream_mode="updates"))
    shown = chunk["n"]["messages"]
    assert isinstance(shown, AIMessage)  # not a list: as returned
    assert shown.id == graph.get_state(thread("o")).values["messages"][0].id


def test_updates_and_task_results_of_commands_overwrites_and_empty_returns() -> None:
    def a(state: Log) -> Any:
        return [Command(update={"log": ["a1"]}), Command(update={"log": ["a2"], "x": 1})]

    def b(state: Log) -> Any:
        return [Command(update={"log": ["b1"]}), Command(update={"x": 2}, goto="c")]

    builder = StateGraph(Log).add_node("a", a).add_node("b", b)
    builder.add_node("c", lambda s: {"log": Overwrite(["c"])}).add_node("d", lambda s: {})
    builder.add_node("e", lambda s: None).add_node("f", lambda s: {"log": ["f"]})
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", "d").add_edge("d", "e").add_edge("e", "f")
    chunks = list(builder.compile().stream({"x": 0, "log": []}, stream_mode=["updates", "tasks", "values"]))
    assert [c for c in _without_ids(chunks) if not (c[0] == "tasks" and "input" in c[1])] == [
        ("values", {"x": 0, "log": []}),
        ("updates", {"a": [{"log": ["a1"]}, {"log": ["a2"]}, {"x": 1}]}),
        ("tasks", {"name": "a", "error": None, "result": {"log": {"$writes": [["a1"], ["a2"]]}, "x": 1}, "interrupts": []}),
        ("values", {"x": 1, "log": ["a1", "a2"]}),
        ("updates", {"b": {"log": ["b1"], "x": 2}}),
        ("tasks", {"name": "b", "error": None, "result": {"log": ["b1"], "x": 2}, "interrupts": []}),
        ("values", {"x": 2, "log": ["a1", "a2", "b1"]}),
        ("updates", {"c": {"log": Overwrite(["c"])}}),
        ("tasks", {"name": "c", "error": None, "result": {"log": Overwrite(["c"])}, "interrupts": []}),
        ("values", {"x": 2, "log": ["c"]}),
        ("updates", {"d": None}),
        ("tasks", {"name": "d", "error": None, "result": {}, "interrupts": []}),
        ("updates", {"e": None}),
        ("tasks", {"name": "e", "error": None, "result": {}, "interrupts": []}),
        ("updates", {"f": {"log": ["f"]}}),
        ("tasks", {"name": "f", "error": None, "result": {"log": ["f"]}, "interrupts": []}),
        ("values", {"x": 2, "log": ["c", "f"]}),
    ]


def test_the_messages_stream_hands_out_the_message_objects_a_node_returned_not_tuples() -> None:
    pytest.importorskip("langchain_core", reason="the messages mode streams LangChain messages")
    from langchain_core.messages import AIMessage

    from cairn.graph import MessagesState

    def n1(state: Any) -> dict[str, Any]:
        return {"messages": [("ai", "tuple msg"), AIMessage(content="obj", id="m1")]}

    def n2(state: Any) -> Any:
        return [
            Command(update={"messages": [AIMessage(content="c1", id="c1")]}),
            Command(update={"messages": [AIMessage(content="c2", id="c2")]}),
        ]

    builder = StateGraph(MessagesState).add_node("n1", n1).add_node("n2", n2)
    graph = builder.add_edge(START, "n1").add_edge("n1", "n2").compile()
    chunks = list(graph.stream({"messages": [("user", "hi")]}, stream_mode="messages"))
    assert [(m.content, m.id, meta["langgraph_node"]) for m, meta in chunks] == [
        ("obj", "m1", "n1"),
        ("c1", "c1", "n2"),
        ("c2", "c2", "n2"),
    ]


# -- "tasks" / "debug": a task's input is what its node receives -----------------


class Model(BaseModel):
    x: int = 0
    log: Annotated[list, operator.add] = []


class Own(BaseModel):
    y: int = 0


class Wide(BaseModel):
    x: int = 0
    y: int = 0


def test_a_task_input_is_the_pydantic_state_its_node_receives() -> None:
    def a(state: Model) -> dict[str, Any]:
        return {"x": state.x + 1, "log": ["a"]}

    builder = StateGraph(Model).add_node("a", a).add_node("b", lambda s: Model(x=5, log=["b"]))
    graph = builder.add_edge(START, "a").add_edge("a", "b").compile()
    chunks = _without_ids(list(graph.stream({"x": 1}, stream_mode=["tasks", "updates", "values"])))
    assert chunks == [
        ("values", {"x": 1, "log": []}),
        ("tasks", {"name": "a", "input": Model(x=1, log=[]), "triggers": ("branch:to:a",)}),
        ("updates", {"a": {"x": 2, "log": ["a"]}}),
        ("tasks", {"name": "a", "error": None, "result": {"x": 2, "log": ["a"]}, "interrupts": []}),
        ("values", {"x": 2, "log": ["a"]}),
        ("tasks", {"name": "b", "input": Model(x=2, log=["a"]), "triggers": ("branch:to:b",)}),
        ("updates", {"b": {"x": 5, "log": ["b"]}}),
        ("tasks", {"name": "b", "error": None, "result": {"x": 5, "log": ["b"]}, "interrupts": []}),
        ("values", {"x": 5, "log": ["a", "b"]}),
    ]
    debug = [c for c in graph.stream({"x": 1}, stream_mode="debug") if c["type"] == "task"]
    assert [c["payload"]["input"] for c in debug] == [Model(x=1, log=[]), Model(x=2, log=["a"])]


def test_a_task_input_follows_the_nodes_input_schema() -> None:
    builder = StateGraph(Wide).add_node("p1", lambda s: {"x": 3}).add_node("p2", lambda s: {"x": 4}, input_schema=Own)
    graph = builder.add_edge(START, "p1").add_edge("p1", "p2").compile()
    started = [c for c in graph.stream({"x": 1}, stream_mode="tasks") if "input" in c]
    assert [c["input"] for c in started] == [Wide(x=1, y=0), Own(y=0)]


# -- several tasks pausing in one step ---------------------------------------------


def _pausing() -> Any:
    def a(state: Log) -> dict[str, Any]:
        return {"log": ["a:" + interrupt("qa")]}

    def b(state: Log) -> dict[str, Any]:
        return {"log": ["b:" + interrupt("qb")]}

    builder = StateGraph(Log).add_node("a", a).add_node("b", b).add_node("c", lambda s: {"log": ["c"]})
    builder.add_edge(START, "a").add_edge(START, "b").add_edge(START, "c")
    return builder.compile(checkpointer=InMemorySaver())


def _asked(chunk: Any) -> str:
    return ",".join(i.value for i in chunk.get("__interrupt__", ()))


def test_each_paused_task_streams_the_steps_starting_state_with_its_interrupt() -> None:
    chunks = list(_pausing().stream({"x": 0, "log": []}, thread("p"), stream_mode="values"))
    # LangGraph: [{'x': 0, 'log': []},
    #             {'x': 0, 'log': [], '__interrupt__': (Interrupt(value='qb', ...),)},
    #             {'x': 0, 'log': [], '__interrupt__': (Interrupt(value='qa', ...),)},
    #             {'x': 0, 'log': ['c']}]   (the paused tasks in the order they finished)
    shown = [({k: v for k, v in c.items() if k != "__interrupt__"}, _asked(c)) for c in chunks]
    assert shown[0] == ({"x": 0, "log": []}, "")
    assert sorted(shown[1:3], key=lambda s: s[1]) == [({"x": 0, "log": []}, "qa"), ({"x": 0, "log": []}, "qb")]
    assert all(len(c["__interrupt__"]) == 1 and c["__interrupt__"][0].id for c in chunks[1:3])
    assert chunks[3:] == [{"x": 0, "log": ["c"]}]  # what the finished task wrote, no interrupts


def test_a_paused_tasks_values_chunk_follows_its_updates_chunk() -> None:
    chunks = list(_pausing().stream({"x": 0, "log": []}, thread("q"), stream_mode=["values", "updates"]))
    kinds = [(mode, _asked(chunk) if "__interrupt__" in chunk else sorted(chunk)) for mode, chunk in chunks]
    assert kinds[0] == ("values", ["log", "x"])
    assert kinds[-1] == ("values", ["log", "x"])
    paused = [(m, c) for m, c in chunks if "__interrupt__" in c]
    for (m1, c1), (m2, c2) in zip(paused[::2], paused[1::2]):
        assert (m1, m2) == ("updates", "values") and c1["__interrupt__"] == c2["__interrupt__"]
    assert sorted(_asked(c) for m, c in paused if m == "values") == ["qa", "qb"]
    assert ("updates", {"c": {"log": ["c"]}}) in chunks


def test_a_lone_paused_task_streams_one_values_chunk() -> None:
    graph = StateGraph(Log).add_node("a", lambda s: {"log": [interrupt("q")]}).add_edge(START, "a")
    graph = graph.compile(checkpointer=InMemorySaver())
    chunks = list(graph.stream({"x": 1, "log": []}, thread("l"), stream_mode="values"))
    assert [{k: v for k, v in c.items() if k != "__interrupt__"} for c in chunks] == [{"x": 1, "log": []}] * 2
    assert [i.value for i in chunks[1]["__interrupt__"]] == ["q"]


# -- a resumed run shows where it goes on from ------------------------------------


def _resumable() -> Any:
    def a(state: Log) -> dict[str, Any]:
        return {"log": ["a:" + interrupt("qa")]}

    builder = StateGraph(Log).add_node("a", a).add_node("c", lambda s: {"log": ["c"]}).add_node("d", lambda s: {"log": ["d"]})
    builder.add_edge(START, "a").add_edge(START, "c").add_edge("a", "d")
    return builder.compile(checkpointer=InMemorySaver(), interrupt_before=["d"])


def _brief(chunk: Any) -> Any:
    """A chunk with ids left out, a checkpoint as (step, source, values, next, tasks)."""
    mode, data = chunk
    if mode == "checkpoints":
        tasks = [{k: v for k, v in t.items() if k != "id"} for t in data["tasks"]]
        for t in tasks:
            t["interrupts"] = tuple({k: v for k, v in i.items() if k != "id"} for i in t.get("interrupts", ()))
        return (mode, data["metadata"]["step"], data["metadata"]["source"], data["values"], data["next"], tasks)
    if mode == "tasks":
        return (mode, {k: v for k, v in data.items() if k not in ("id", "input")})
    return chunk


def test_a_resume_streams_its_checkpoint_and_what_finished_before_as_cached() -> None:
    graph, config = _resumable(), thread("r")
    list(graph.stream({"x": 0, "log": []}, config))
    resumed = [_brief(c) for c in graph.stream(Command(resume="A"), config, stream_mode=["checkpoints", "updates", "tasks"])]
    assert resumed == [
        ("checkpoints", 0, "loop", {"x": 0, "log": []}, ["a", "c"], [
            {"name": "a", "interrupts": ({"value": "qa", "response_schema": None},), "state": None},
            {"name": "c", "result": {"log": ["c"]}, "interrupts": (), "state": None},
        ]),
        ("tasks", {"name": "a", "triggers": ("branch:to:a",)}),
        ("tasks", {"name": "c", "triggers": ("branch:to:c",)}),
        ("updates", {"c": {"log": ["c"]}, "__metadata__": {"cached": True}}),
        ("updates", {"a": {"log": ["a:A"]}}),
        ("tasks", {"name": "a", "error": None, "result": {"log": ["a:A"]}, "interrupts": []}),
        ("checkpoints", 1, "loop", {"x": 0, "log": ["a:A", "c"]}, ["d"], [{"name": "d", "interrupts": (), "state": None}]),
        ("updates", {"__interrupt__": ()}),
    ]
    continued = [_brief(c) for c in graph.stream(None, config, stream_mode=["checkpoints", "updates", "values"])]
    assert continued == [
        ("values", {"x": 0, "log": ["a:A", "c"]}),
        ("checkpoints", 1, "loop", {"x": 0, "log": ["a:A", "c"]}, ["d"], [{"name": "d", "interrupts": (), "state": None}]),
        ("updates", {"d": {"log": ["d"]}}),
        ("values", {"x": 0, "log": ["a:A", "c", "d"]}),
        ("checkpoints", 2, "loop", {"x": 0, "log": ["a:A", "c", "d"]}, [], []),
    ]


# -- a subgraph task's state, where LangGraph shows a config -------------------------


def _with_subgraph() -> Any:
    sub = StateGraph(Log).add_node("s1", lambda s: {"log": ["s1"]}).add_edge(START, "s1").compile()
    builder = StateGraph(Log).add_node("a", lambda s: {"log": ["a"]}).add_node("sub", sub)
    return builder.add_edge(START, "a").add_edge("a", "sub").compile(checkpointer=InMemorySaver(), interrupt_before=["sub"])


def test_a_subgraph_tasks_state_is_the_config_of_its_checkpoints() -> None:
    graph, config = _with_subgraph(), thread("g")
    streamed = [c for c in graph.stream({"x": 0, "log": []}, config, stream_mode="checkpoints") if c["next"] == ["sub"]]
    (task,) = graph.get_state(config).tasks
    expected = {"configurable": {"thread_id": "g", "checkpoint_ns": f"sub:{task.id}"}}
    assert task.state == expected
    assert [t.state for t in next(iter(graph.get_state_history(config))).tasks] == [expected]
    assert [t["state"] for c in streamed for t in c["tasks"]] == [expected]
    # with subgraphs=True, a subgraph that has not run yet shows an empty snapshot (LangGraph too)
    (task,) = graph.get_state(config, subgraphs=True).tasks
    assert (task.state.values, task.state.next, task.state.metadata) == ({}, (), None)


# -- an entrypoint's tasks ----------------------------------------------------------


def test_an_entrypoints_task_and_its_task_calls_in_the_tasks_stream() -> None:
    from cairn.func import entrypoint, task

    @task
    def double(x: int) -> int:
        return x * 2

    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int) -> int:
        return double(n).result() + interrupt("ok?")

    def brief(chunk: Any) -> Any:
        mode, data = chunk
        return (mode, {k: v for k, v in data.items() if k != "id"} if mode == "tasks" else data)

    first = [brief(c) for c in flow.stream(3, thread("e"), stream_mode=["updates", "tasks"])]
    (asked,) = next(c[1]["__interrupt__"] for c in first if c[0] == "updates" and "__interrupt__" in c[1])
    assert first == [
        ("tasks", {"name": "flow", "input": 3, "triggers": ("__start__",)}),
        ("tasks", {"name": "double", "input": ((3,), {}), "triggers": ("__pregel_push",)}),
        ("updates", {"double": 6}),
        ("tasks", {"name": "double", "error": None, "result": {"__return__": 6}, "interrupts": []}),
        ("updates", {"__interrupt__": (asked,)}),
        ("tasks", {"name": "flow", "error": None, "result": {}, "interrupts": [{"value": "ok?", "id": asked.id, "response_schema": None}]}),
    ]
    resumed = [brief(c) for c in flow.stream(Command(resume=1), thread("e"), stream_mode=["updates", "tasks"])]
    assert resumed == [  # the call's result is reused: its start shows, as LangGraph's, and no result
        ("tasks", {"name": "flow", "input": 3, "triggers": ("__start__",)}),
        ("tasks", {"name": "double", "input": ((3,), {}), "triggers": ("__pregel_push",)}),
        ("updates", {"flow": 7}),
        ("tasks", {"name": "flow", "error": None, "result": {"__end__": 7}, "interrupts": []}),
    ]


def test_a_failing_task_call_shows_its_error_in_the_tasks_stream() -> None:
    from cairn.func import entrypoint, task

    @task
    def boom(x: int) -> int:
        raise ValueError("no")

    @entrypoint(checkpointer=InMemorySaver())
    def flow(n: int) -> int:
        return boom(n).result()

    seen: list[Any] = []
    with pytest.raises(ValueError, match="no"):
        for _, data in flow.stream(3, thread("b"), stream_mode=["updates", "tasks"]):
            seen.append({k: (repr(v) if k == "error" else v) for k, v in data.items() if k != "id"})
    assert seen == [
        {"name": "flow", "input": 3, "triggers": ("__start__",)},
        {"name": "boom", "input": ((3,), {}), "triggers": ("__pregel_push",)},
        {"name": "boom", "error": "ValueError('no')", "result": {}, "interrupts": []},
        {"name": "flow", "error": "ValueError('no')", "result": {}, "interrupts": []},
    ]


def test_a_paused_subgraph_streams_no_values_of_its_finished_tasks() -> None:
    """LangGraph 1.2.22: the subgraph's pause goes up to the parent's task; only
    the top graph streams what its finished tasks wrote."""
    sub = StateGraph(Log).add_node("s1", lambda s: {"log": ["s1:" + interrupt("q1")]}).add_node("s2", lambda s: {"log": ["s2"]})
    sub = sub.add_edge(START, "s1").add_edge(START, "s2").compile()
    builder = StateGraph(Log).add_node("sub", sub).add_node("p", lambda s: {"log": ["p"]})
    graph = builder.add_edge(START, "sub").add_edge(START, "p").compile(checkpointer=InMemorySaver())
    chunks = graph.stream({"x": 0, "log": []}, thread("sp"), stream_mode="values", subgraphs=True)
    shown = sorted((tuple(p.split(":")[0] for p in ns), _asked(c), c["log"]) for ns, c in chunks)
    assert shown == [
        ((), "", []),
        ((), "", ["p"]),
        ((), "q1", []),
        (("sub",), "", []),
        (("sub",), "q1", []),
    ]
