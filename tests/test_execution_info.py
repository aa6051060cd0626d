"""``Runtime.execution_info`` and ``Runtime.server_info`` for a node taking
``runtime: Runtime``, filled as LangGraph 1.2.22 fills them for the same
graph (checked under benchmarks/.venv-langgraph while writing these tests):
the checkpoint the step runs from, the task's own namespace, the task,
thread and run, and which attempt runs."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import OutsideNodeError
from cairn.graph import START, StateGraph
from cairn.runtime import ExecutionInfo, Runtime, ServerInfo, get_runtime
from cairn.types import RetryPolicy
from tests.support import history, thread


class S(TypedDict, total=False):
    x: int


RUN_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def recorder(seen: list[tuple[str, Runtime[Any]]], name: str) -> Any:
    def node(state: S, runtime: Runtime) -> S:
        seen.append((name, runtime))
        return {"x": 1}

    return node


def test_a_node_sees_its_checkpoint_namespace_task_thread_and_run() -> None:
    seen: list[tuple[str, Runtime[Any]]] = []
    builder = StateGraph(S).add_node("a", recorder(seen, "a")).add_node("b", recorder(seen, "b"))
    graph = builder.add_edge(START, "a").add_edge("a", "b").compile(checkpointer=InMemorySaver())
    before = time.time()
    graph.invoke({}, {"configurable": {"thread_id": "t"}, "run_id": RUN_ID})
    checkpoints = {s.next: s for s in history(graph, thread("t"))}
    for name, runtime in seen:
        info = runtime.execution_info
        assert isinstance(info, ExecutionInfo)
        at = checkpoints[(name,)]  # the checkpoint whose next is this task
        (task,) = at.tasks
        assert info.checkpoint_id == at.config["configurable"]["checkpoint_id"]
        assert (info.task_id, info.checkpoint_ns) == (task.id, f"{name}:{task.id}")
        assert (info.thread_id, info.run_id, info.node_attempt) == ("t", str(RUN_ID), 1)
        assert info.node_first_attempt_time is not None and before <= info.node_first_attempt_time <= time.time()
        assert runtime.server_info is None  # not run by a server


def test_retries_count_attempts_from_the_first_attempts_time() -> None:
    seen: list[ExecutionInfo] = []

    def flaky(state: S, runtime: Runtime) -> S:
        assert runtime.execution_info is not None
        seen.append(runtime.execution_info)
        if len(seen) < 3:
            raise ValueError("not yet")
        return {"x": 2}

    policy = RetryPolicy(initial_interval=0.01, jitter=False, retry_on=ValueError)
    graph = StateGraph(S).add_node("f", flaky, retry_policy=policy).add_edge(START, "f").compile()
    assert graph.invoke({}) == {"x": 2}
    assert [i.node_attempt for i in seen] == [1, 2, 3]
    assert len({i.node_first_attempt_time for i in seen}) == 1
    assert len({(i.task_id, i.checkpoint_id) for i in seen}) == 1


def test_a_subgraphs_node_has_the_namespace_under_its_parent_task() -> None:
    seen: list[tuple[str, Runtime[Any]]] = []
    sub = StateGraph(S).add_node("inner", recorder(seen, "inner")).add_edge(START, "inner").compile()
    graph = StateGraph(S).add_node("sub", sub).add_edge(START, "sub").compile(checkpointer=InMemorySaver())
    graph.invoke({}, thread("s"))
    ((_, runtime),) = seen
    info = runtime.execution_info
    assert info is not None
    (parent_task,) = [s for s in history(graph, thread("s")) if s.next == ("sub",)][0].tasks
    parent, own = info.checkpoint_ns.split("|")
    assert parent == f"sub:{parent_task.id}" and own == f"inner:{info.task_id}"
    assert info.thread_id == "s"


def test_without_a_thread_the_thread_id_is_none() -> None:
    seen: list[tuple[str, Runtime[Any]]] = []
    graph = StateGraph(S).add_node("a", recorder(seen, "a")).add_edge(START, "a").compile()
    graph.invoke({})
    info = seen[0][1].execution_info
    assert info is not None and info.thread_id is None and info.checkpoint_id


def test_server_info_comes_from_the_ids_a_server_puts_in_configurable() -> None:
    seen: list[tuple[str, Runtime[Any]]] = []
    graph = StateGraph(S).add_node("a", recorder(seen, "a")).add_edge(START, "a").compile()
    graph.invoke({}, {"configurable": {"assistant_id": "asst", "graph_id": "agent"}})
    assert seen[0][1].server_info == ServerInfo(assistant_id="asst", graph_id="agent", user=None)


def test_get_runtime_and_async_nodes_see_it_too() -> None:
    seen: list[ExecutionInfo | None] = []

    async def anode(state: S, runtime: Runtime) -> S:
        seen.append(runtime.execution_info)
        return {"x": 1}

    def plain(state: S) -> S:
        seen.append(get_runtime().execution_info)
        return {"x": 2}

    builder = StateGraph(S).add_node("a", anode).add_node("p", plain)
    graph = builder.add_edge(START, "a").add_edge("a", "p").compile()
    asyncio.run(graph.ainvoke({}))
    assert [i.checkpoint_ns.split(":")[0] for i in seen if i is not None] == ["a", "p"]


def test_patching_execution_info() -> None:
    info = ExecutionInfo(checkpoint_id="c", checkpoint_ns="a:t", task_id="t")
    runtime = Runtime(execution_info=info)
    assert runtime.patch_execution_info(node_attempt=2).execution_info == info.patch(node_attempt=2)
    assert info.patch(node_attempt=2).node_attempt == 2 and info.node_attempt == 1
    with pytest.raises(OutsideNodeError, match="execution_info"):
        Runtime().patch_execution_info(node_attempt=2)


def test_override_replaces_only_what_is_given_none_included() -> None:
    runtime = Runtime(context={"user": "ada"}, store="a store")
    changed = runtime.override(store=None, previous=3)
    assert (changed.context, changed.store, changed.previous) == ({"user": "ada"}, None, 3)
    assert runtime.store == "a store"  # the original stays as it was
