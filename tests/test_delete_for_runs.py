"""``delete_for_runs`` / ``adelete_for_runs`` (LangGraph's saver methods) and
cairn's ``delete_runs`` on every saver the ``saver`` fixture yields (in
memory, a real SQLite file, a real PostgreSQL), the async savers too: the
checkpoints a run wrote go, with their pending writes, on every thread and
in every namespace, and what stays reads back exactly as before the run.

A run is named by the config's ``run_id``, which cairn copies into the
metadata of every checkpoint the run stores (as LangGraph and its server do).
"""

from __future__ import annotations

import asyncio
import operator
import os
from pathlib import Path
from typing import Annotated, Any, Iterator, TypedDict

import pytest

from cairn.checkpoint.base import empty_checkpoint
from cairn.errors import CheckpointInUseError, ConfigError
from cairn.graph import START, StateGraph
from tests.support import history


class State(TypedDict, total=False):
    items: Annotated[list, operator.add]
    notes: str
    fail: bool
    sub: str


class Inner(TypedDict, total=False):
    sub: str


def _step(name: str) -> Any:
    def node(state: State) -> dict[str, Any]:
        if state.get("fail") and name == "s2":
            raise RuntimeError("s2 failed")
        return {"items": [name]}

    return node


def build(saver: Any) -> Any:
    """START -> s1 -> sub (a subgraph: its own namespace) -> s2."""
    inner = StateGraph(Inner).add_node("i1", lambda state: {"sub": "i1"}).add_edge(START, "i1").compile()
    builder = StateGraph(State)
    builder.add_node("s1", _step("s1")).add_node("sub", inner).add_node("s2", _step("s2"))
    return builder.add_edge(START, "s1").add_edge("s1", "sub").add_edge("sub", "s2").compile(checkpointer=saver)


def run(graph: Any, thread_id: str, run_id: str, value: Any) -> Any:
    return graph.invoke(value, {"configurable": {"thread_id": thread_id}, "run_id": run_id})


def everything(graph: Any, thread_id: str) -> list[Any]:
    """What a user reads of a thread: its whole history (every snapshot's
    values, next, config, metadata, time, parent and tasks), newest first."""
    return history(graph, {"configurable": {"thread_id": thread_id}})


def namespaces(saver: Any, thread_id: str) -> list[tuple[str, list[Any]]]:
    """Each namespace of the thread with its checkpoints' ids and metadata."""
    return [
        (ns, [(r.id, r.metadata) for r in saver.list_checkpoints(thread_id, ns)])
        for ns in saver.namespaces(thread_id)
    ]


BIG = os.urandom(1500).hex()
"""A state that does not compress away, so that later small steps are stored
as their writes on top of their parent, not as snapshots."""


@pytest.fixture
def graph(saver: Any) -> Any:
    return build(saver)


def test_deleting_a_run_leaves_the_history_exactly_as_before_it(saver: Any, graph: Any) -> None:
    run(graph, "t", "run-a", {"items": ["x"], "notes": BIG})
    run(graph, "u", "run-u", {"items": ["other"]})
    before, other = everything(graph, "t"), everything(graph, "u")
    spaces = namespaces(saver, "t")
    run(graph, "t", "run-b", {"items": ["y"]})
    assert len(everything(graph, "t")) > len(before)

    saver.delete_for_runs(["run-b"])

    assert everything(graph, "t") == before
    assert graph.get_state({"configurable": {"thread_id": "t"}}) == before[0]
    assert graph.get_state({"configurable": {"thread_id": "t"}}).values["items"] == ["x", "s1", "s2"]
    assert namespaces(saver, "t") == spaces  # the subgraph's checkpoints of run-b went too
    assert everything(graph, "u") == other
    # and the thread goes on from there as if run-b had never been
    assert run(graph, "t", "run-c", {"items": ["z"]})["items"] == ["x", "s1", "s2", "z", "s1", "s2"]


def test_a_run_is_deleted_on_every_thread_it_wrote_and_delete_runs_can_keep_to_one(
    saver: Any, graph: Any
) -> None:
    for thread_id in ("t", "u", "v"):
        run(graph, thread_id, "first", {"items": [thread_id]})
    before = {thread_id: everything(graph, thread_id) for thread_id in ("t", "u", "v")}
    stored = saver.stats().checkpoints
    for thread_id in ("t", "u", "v"):
        run(graph, thread_id, "again", {"items": ["more"]})
    written = (saver.stats().checkpoints - stored) // 3  # on each thread: the graph's and the subgraph's

    assert saver.delete_runs(["again"], thread_id="v") == written
    assert everything(graph, "v") == before["v"]
    assert everything(graph, "t") != before["t"]

    saver.delete_for_runs(["again"])
    assert {thread_id: everything(graph, thread_id) for thread_id in ("t", "u", "v")} == before


def test_a_thread_whose_checkpoints_were_all_the_runs_is_gone(saver: Any, graph: Any) -> None:
    run(graph, "keep", "other", {"items": ["k"]})
    run(graph, "t", "only", {"items": ["x"]})
    saver.delete_for_runs(["only"])
    state = graph.get_state({"configurable": {"thread_id": "t"}})
    assert (state.values, state.next, state.metadata) == ({}, (), None)
    assert everything(graph, "t") == []
    assert saver.namespaces("t") == []
    assert [info.thread_id for info in saver.list_threads()] == ["keep"]
    assert saver.stats().threads == 1


def test_the_pending_writes_of_the_runs_checkpoints_go_with_them(saver: Any, graph: Any) -> None:
    run(graph, "t", "good", {"items": ["x"]})
    before, pending = everything(graph, "t"), saver.stats().pending_writes
    with pytest.raises(RuntimeError, match="s2 failed"):
        run(graph, "t", "failing", {"items": ["y"], "fail": True})
    assert saver.stats().pending_writes > pending  # the failed task's error, kept with its checkpoint

    saver.delete_for_runs(["failing"])

    assert saver.stats().pending_writes == pending
    assert everything(graph, "t") == before
    assert graph.get_state({"configurable": {"thread_id": "t"}}).tasks == ()


def test_deleting_a_run_another_one_is_stored_on_top_of_is_refused_and_deletes_nothing(
    saver: Any, graph: Any
) -> None:
    run(graph, "t", "run-a", {"items": ["x"], "notes": BIG})
    before = everything(graph, "t")
    run(graph, "t", "run-b", {"items": ["y"]})
    run(graph, "t", "run-c", {"items": ["z"]})  # its input is stored as writes on run-b's last checkpoint
    run(graph, "a-thread-listed-first", "run-b", {"items": ["elsewhere"]})
    after_c, elsewhere = everything(graph, "t"), everything(graph, "a-thread-listed-first")

    with pytest.raises(CheckpointInUseError) as refused:
        saver.delete_for_runs(["run-b"])
    message = str(refused.value)
    assert "'run-b'" in message and "'t'" in message and "delete_for_runs" in message
    assert everything(graph, "t") == after_c
    assert everything(graph, "a-thread-listed-first") == elsewhere  # nothing deleted anywhere

    saver.delete_for_runs(["run-b", "run-c"])
    assert everything(graph, "t") == before


def test_a_checkpoint_with_its_own_snapshot_stays_readable_when_its_parents_run_is_deleted(saver: Any) -> None:
    """LangGraph's case: checkpoints put through its interface hold their
    whole state, so one stays when its parent's run is deleted; its parent
    config then names a checkpoint that is gone, as in LangGraph."""
    first = empty_checkpoint()
    first["channel_values"] = {"items": ["one"]}
    stored = saver.put({"configurable": {"thread_id": "t"}}, first, {"run_id": "r1"}, {})
    second = empty_checkpoint()
    second["channel_values"] = {"items": ["one", "two"]}
    child = saver.put(stored, second, {"run_id": "r2"}, {})
    saver.put_writes(stored, [("items", ["w"])], "task-1")

    saver.delete_for_runs(["r1"])

    assert saver.get_tuple(stored) is None
    kept = saver.get_tuple(child)
    assert kept.checkpoint["channel_values"] == {"items": ["one", "two"]}
    assert kept.metadata["run_id"] == "r2"
    assert kept.parent_config == stored
    assert [item.config for item in saver.list({"configurable": {"thread_id": "t"}})] == [child]
    assert saver.stats().pending_writes == 0


def test_no_run_ids_or_unknown_ones_delete_nothing_and_a_bare_string_is_refused(saver: Any, graph: Any) -> None:
    run(graph, "t", "run-a", {"items": ["x"]})
    before = everything(graph, "t")
    saver.delete_for_runs([])
    saver.delete_for_runs(["nobody"])
    assert saver.delete_runs(["run-a"], thread_id="other") == 0
    with pytest.raises(ConfigError, match=r"list of run ids.*\['run-a'\]"):
        saver.delete_for_runs("run-a")
    with pytest.raises(ConfigError, match="non-empty strings"):
        saver.delete_for_runs([None])
    assert everything(graph, "t") == before


# -- the async twin, on every saver kind (the async savers too) -----------------------

KINDS = ["memory", "sqlite", "async_sqlite", "postgres", "async_postgres"]


@pytest.fixture(params=KINDS)
def any_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    kind = request.param
    if kind == "memory":
        from cairn.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif kind in ("sqlite", "async_sqlite"):
        from cairn.checkpoint.sqlite import SqliteSaver
        from cairn.checkpoint.sqlite.aio import AsyncSqliteSaver

        with (SqliteSaver if kind == "sqlite" else AsyncSqliteSaver)(tmp_path / "c.db") as made:
            yield made
    else:
        from cairn.checkpoint.postgres import PostgresSaver
        from cairn.checkpoint.postgres.aio import AsyncPostgresSaver
        from tests.pg import fresh_schema

        with fresh_schema() as url, (PostgresSaver if kind == "postgres" else AsyncPostgresSaver)(url) as made:
            yield made


def test_adelete_for_runs_deletes_as_delete_for_runs_does(any_saver: Any) -> None:
    graph = build(any_saver)

    async def main() -> tuple[list[Any], list[Any], list[Any]]:
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"items": ["x"], "notes": BIG}, {**config, "run_id": "run-a"})
        await graph.ainvoke({"items": ["o"]}, {"configurable": {"thread_id": "u"}, "run_id": "run-u"})
        before = [s async for s in graph.aget_state_history(config)]
        other = [s async for s in graph.aget_state_history({"configurable": {"thread_id": "u"}})]
        await graph.ainvoke({"items": ["y"]}, {**config, "run_id": "run-b"})
        await any_saver.adelete_for_runs(["run-b"])
        after = [s async for s in graph.aget_state_history(config)]
        assert after == before
        return before, other, [s async for s in graph.aget_state_history({"configurable": {"thread_id": "u"}})]

    before, other, other_after = asyncio.run(main())
    assert before[0].values["items"] == ["x", "s1", "s2"]
    assert other_after == other
