"""LangGraph's checkpointer interface (``get``, ``get_tuple``, ``list``, ``put``,
``put_writes``, ``delete_thread``, ``delete_for_runs``, ``get_next_version`` and
the async twins)
on every cairn saver: in memory, SQLite and AsyncSqliteSaver files, and
PostgresSaver / AsyncPostgresSaver on a real server.

Written from LangGraph's documented behaviour: the same file, with "cairn"
replaced by "langgraph" in its text, passes against LangGraph 1.x's
InMemorySaver (the only saver kind it then runs):

    sed 's/cairn/langgraph/g' tests/test_checkpointer_interface.py > /tmp/t.py
    benchmarks/.venv-langgraph/bin/python -m pytest -q -p no:cacheprovider /tmp/t.py

(the last test does that, where that LangGraph is installed).

Tests that prove what only cairn does (the event loop left free by a saver
waiting on a locked file, the message of a read it cannot do) are skipped there.
"""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, Awaitable, Callable, Iterator, TypedDict

import pytest

from cairn.checkpoint.base import CheckpointTuple, empty_checkpoint
from cairn.checkpoint.memory import InMemorySaver
from cairn.graph import END, START, StateGraph
from cairn.types import interrupt

OURS = InMemorySaver.__module__.startswith("ca" + "irn.")
"""Whether this runs against cairn (else LangGraph, with the imports converted)."""

KINDS = ["memory", "sqlite", "async_sqlite", "postgres", "async_postgres"] if OURS else ["memory"]


@pytest.fixture(params=KINDS)
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh, empty saver of each kind."""
    kind = request.param
    if kind == "memory":
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

        cls = PostgresSaver if kind == "postgres" else AsyncPostgresSaver
        with fresh_schema() as url, cls(url) as made:
            yield made


class State(TypedDict):
    topic: str
    log: Annotated[list, operator.add]


def two_steps(saver: Any) -> Any:
    """topic -> a -> b, each appending to ``log`` (a reducer key)."""

    def a(state: State) -> dict[str, Any]:
        return {"topic": state["topic"] + "!", "log": ["a"]}

    def b(state: State) -> dict[str, Any]:
        return {"log": ["b"]}

    builder = StateGraph(State)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder.compile(checkpointer=saver)


def thread(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def checkpoint_id(config: dict[str, Any] | None) -> Any:
    return (config or {}).get("configurable", {}).get("checkpoint_id")


def state(checkpoint: Any) -> dict[str, Any]:
    """A checkpoint's channel values without LangGraph's routing channels (cairn has none)."""
    return {k: v for k, v in checkpoint["channel_values"].items() if not k.startswith(("branch:", "__"))}


def pairs(item: CheckpointTuple) -> list[tuple[str, Any]]:
    """A tuple's pending writes as (channel, value), without LangGraph's routing channels."""
    return [(c, v) for _, c, v in item.pending_writes or [] if not c.startswith("branch:")]


# -- reads after a graph ran ----------------------------------------------------------


def test_get_tuple_of_a_thread_shows_its_newest_checkpoint_in_langgraphs_shape(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    item = saver.get_tuple(thread("t"))
    assert isinstance(item, CheckpointTuple)
    assert item.checkpoint["channel_values"] == {"topic": "cats!", "log": ["a", "b"]}
    assert {"v", "id", "ts", "channel_values", "channel_versions", "versions_seen"} <= set(item.checkpoint)
    assert item.config == {
        "configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": item.checkpoint["id"]}
    }
    assert (item.metadata["source"], item.metadata["step"], item.metadata["parents"]) == ("loop", 2, {})
    assert item.pending_writes == []
    assert item.config == graph.get_state(thread("t")).config
    assert item.parent_config == graph.get_state(thread("t")).parent_config


def test_get_returns_the_checkpoint_dict_and_programs_read_its_channel_values(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    assert saver.get(thread("t"))["channel_values"]["log"] == ["a", "b"]
    assert saver.get_tuple(thread("t")).metadata["step"] == 2


def test_list_is_newest_first_and_each_past_checkpoint_holds_the_state_then(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    items = list(saver.list(thread("t")))
    assert [i.metadata["step"] for i in items] == [2, 1, 0, -1]
    assert [i.metadata["source"] for i in items] == ["loop", "loop", "loop", "input"]
    assert state(items[1].checkpoint) == {"topic": "cats!", "log": ["a"]}
    assert [checkpoint_id(i.parent_config) for i in items[:-1]] == [i.checkpoint["id"] for i in items[1:]]
    assert items[-1].parent_config is None
    history = list(graph.get_state_history(thread("t")))
    assert [i.config for i in items] == [s.config for s in history]


def test_a_past_checkpoint_read_by_id_holds_the_state_then(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    step_1 = next(s for s in graph.get_state_history(thread("t")) if s.metadata["step"] == 1)
    assert state(saver.get(step_1.config)) == step_1.values == {"topic": "cats!", "log": ["a"]}
    assert saver.get_tuple(step_1.config).config == step_1.config


def test_each_past_checkpoint_lists_the_writes_of_the_step_that_ran_after_it(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    head, step_1, step_0, _ = saver.list(thread("t"))
    assert pairs(step_1) == [("log", ["b"])]
    assert pairs(step_0) == [("topic", "cats!"), ("log", ["a"])]
    task_ids = {task_id for task_id, _, _ in step_0.pending_writes}
    assert len(task_ids) == 1 and task_ids != {""}
    assert pairs(head) == []


def test_a_long_thread_with_a_fork_lists_the_states_its_history_shows(saver: Any) -> None:
    class Count(TypedDict):
        n: int
        log: Annotated[list, operator.add]

    def count(state: Count) -> dict[str, Any]:
        return {"n": state["n"] + 1, "log": [state["n"]]}

    builder = StateGraph(Count)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    builder.add_conditional_edges("count", lambda state: END if state["n"] >= 150 else "count")
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}, "recursion_limit": 500}
    graph.invoke({"n": 0, "log": []}, config)
    past = next(s for s in graph.get_state_history(config) if s.metadata["step"] == 40)
    graph.update_state(past.config, {"log": ["edited"]})
    history = list(graph.get_state_history(config))
    items = list(saver.list(thread("t")))
    assert len(items) == len(history) > 150
    # The input checkpoint aside: LangGraph's holds no value of a reducer key there, its history an empty list.
    assert [state(i.checkpoint) for i in items[:-1]] == [s.values for s in history[:-1]]
    assert [i.config for i in items] == [s.config for s in history]
    page = list(saver.list(thread("t"), before=items[10].config, limit=80))
    assert [state(i.checkpoint) for i in page] == [s.values for s in history[11:91]]


def test_list_takes_a_metadata_filter_a_before_config_and_a_limit(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    items = list(saver.list(thread("t")))
    assert [i.metadata["step"] for i in saver.list(thread("t"), filter={"source": "input"})] == [-1]
    assert [i.metadata["step"] for i in saver.list(thread("t"), filter={"step": 1})] == [1]
    assert [i.metadata["step"] for i in saver.list(thread("t"), before=items[1].config)] == [0, -1]
    assert [i.metadata["step"] for i in saver.list(thread("t"), limit=2)] == [2, 1]
    assert list(saver.list(thread("t"), limit=0)) == []
    before_with_filter = saver.list(thread("t"), before=items[0].config, filter={"source": "loop"}, limit=1)
    assert [i.metadata["step"] for i in before_with_filter] == [1]


def test_list_with_a_checkpoint_id_gives_that_checkpoint_only(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    items = list(saver.list(thread("t")))
    assert [i.config for i in saver.list(items[2].config)] == [items[2].config]


def test_list_without_a_config_lists_every_thread(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("one"))
    graph.invoke({"topic": "dogs", "log": []}, thread("two"))
    found = list(saver.list(None, filter={"step": 2}))
    assert sorted(i.config["configurable"]["thread_id"] for i in found) == ["one", "two"]


class Notes(TypedDict):
    notes: Annotated[list, operator.add]


def with_a_pausing_subgraph(saver: Any) -> Any:
    """START -> sub, a subgraph that notes "n1" then asks a question."""

    def note(state: Notes) -> dict[str, Any]:
        return {"notes": ["n1"]}

    def ask(state: Notes) -> dict[str, Any]:
        return {"notes": [interrupt("more?")]}

    inner = StateGraph(Notes)
    inner.add_node("note", note)
    inner.add_node("ask", ask)
    inner.add_edge(START, "note")
    inner.add_edge("note", "ask")
    outer = StateGraph(Notes)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    return outer.compile(checkpointer=saver)


def test_list_without_a_namespace_lists_the_subgraphs_checkpoints_too(saver: Any) -> None:
    graph = with_a_pausing_subgraph(saver)
    graph.invoke({"notes": ["first"]}, thread("t"))
    everything = list(saver.list(thread("t")))
    spaces = [i.config["configurable"]["checkpoint_ns"] for i in everything]
    [sub_ns] = {ns for ns in spaces if ns}
    assert sub_ns.startswith("sub:")
    top = list(saver.list({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}))
    assert [i.config for i in top] == [i.config for i in everything if not i.config["configurable"]["checkpoint_ns"]]
    inner = list(saver.list({"configurable": {"thread_id": "t", "checkpoint_ns": sub_ns}}))
    assert [i.config for i in inner] == [i.config for i in everything if i.config["configurable"]["checkpoint_ns"]]
    assert state(inner[0].checkpoint)["notes"] == ["first", "n1"]
    assert sorted(i.metadata["step"] for i in inner) == [-1, 0, 1]


def test_an_unknown_thread_or_checkpoint_reads_as_none(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    assert saver.get_tuple(thread("nobody")) is None
    assert saver.get(thread("nobody")) is None
    assert list(saver.list(thread("nobody"))) == []
    unknown = empty_checkpoint()["id"]
    assert saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_id": unknown}}) is None


def test_a_paused_run_shows_its_interrupt_as_a_pending_write_of_the_head(saver: Any) -> None:
    def ask(state: State) -> dict[str, Any]:
        return {"topic": interrupt("which topic?")}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"topic": "", "log": []}, thread("t"))
    item = saver.get_tuple(thread("t"))
    [(channel, value)] = [(c, v) for c, v in pairs(item) if c == "__interrupt__"]
    assert [i.value for i in value] == ["which topic?"]
    assert item.metadata["step"] == 0


def test_delete_thread_removes_what_the_interface_reads(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))
    graph.invoke({"topic": "dogs", "log": []}, thread("kept"))
    saver.delete_thread("t")
    assert saver.get_tuple(thread("t")) is None
    assert list(saver.list(thread("t"))) == []
    assert saver.get(thread("kept"))["channel_values"]["topic"] == "dogs!"


# -- writes ---------------------------------------------------------------------------


def put_chain(saver: Any, thread_id: str = "t") -> tuple[dict[str, Any], dict[str, Any]]:
    """A root and its child put through the interface, with versions the
    saver makes; their configs."""
    first = saver.get_next_version(None, None)
    root = empty_checkpoint()
    root["channel_values"] = {"topic": "cats", "log": ["a"]}
    root["channel_versions"] = {"topic": first, "log": first}
    root_config = saver.put(
        {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}},
        root,
        {"source": "input", "step": -1, "parents": {}},
        {"topic": first, "log": first},
    )
    second = saver.get_next_version(first, None)
    child = empty_checkpoint()
    child["channel_values"] = {"topic": "dogs", "log": ["a", "b"]}
    child["channel_versions"] = {"topic": second, "log": second}
    child_config = saver.put(
        root_config,
        child,
        {"source": "loop", "step": 0, "parents": {}, "who": "me"},
        {"topic": second, "log": second},
    )
    return root_config, child_config


def test_put_returns_the_stored_checkpoints_config_and_get_tuple_reads_it_back(saver: Any) -> None:
    root_config, child_config = put_chain(saver)
    assert child_config["configurable"]["thread_id"] == "t"
    assert child_config["configurable"]["checkpoint_ns"] == ""
    item = saver.get_tuple(child_config)
    assert item.config == child_config
    assert item.checkpoint["id"] == checkpoint_id(child_config)
    assert item.checkpoint["channel_values"] == {"topic": "dogs", "log": ["a", "b"]}
    second = saver.get_next_version(saver.get_next_version(None, None), None)
    versions = item.checkpoint["channel_versions"]
    assert set(versions) == {"topic", "log"} and versions["topic"] == versions["log"]
    assert type(versions["topic"]) is type(second)
    assert item.metadata == {"source": "loop", "step": 0, "parents": {}, "who": "me"}
    assert item.parent_config == root_config
    assert item.pending_writes == []
    assert saver.get_tuple(thread("t")).config == child_config


def test_a_checkpoint_put_reads_back_as_it_was_given(saver: Any) -> None:
    """LangGraph's documented example: a checkpoint dict written by hand, empty metadata."""
    checkpoint = {
        "v": 4,
        "ts": "2024-07-31T20:14:19.804150+00:00",
        "id": "1ef4f797-8335-6428-8001-8a1503f9b875",
        "channel_values": {"my_key": "meow", "node": "node"},
        "channel_versions": {"__start__": 2, "my_key": 3, "start:node": 3, "node": 3},
        "versions_seen": {"__input__": {}, "__start__": {"__start__": 1}, "node": {"start:node": 2}},
        "pending_sends": [],
    }
    written = saver.put({"configurable": {"thread_id": "1", "checkpoint_ns": ""}}, checkpoint, {}, {"my_key": 3, "node": 3})
    assert written == {
        "configurable": {"thread_id": "1", "checkpoint_ns": "", "checkpoint_id": checkpoint["id"]}
    }
    item = saver.get_tuple({"configurable": {"thread_id": "1"}})
    assert item.checkpoint == checkpoint
    assert item.metadata == {}
    assert item.parent_config is None


def test_put_writes_are_read_back_as_pending_writes_of_their_checkpoint(saver: Any) -> None:
    root_config, child_config = put_chain(saver)
    saver.put_writes(child_config, [("topic", "birds"), ("log", ["c"])], "task-1")
    saver.put_writes(child_config, [("__error__", "ValueError('no')")], "task-2")
    item = saver.get_tuple(child_config)
    assert sorted(item.pending_writes) == [
        ("task-1", "log", ["c"]),
        ("task-1", "topic", "birds"),
        ("task-2", "__error__", "ValueError('no')"),
    ]
    assert saver.get_tuple(root_config).pending_writes == []


def test_list_of_checkpoints_put_gives_them_newest_first_with_their_parents(saver: Any) -> None:
    root_config, child_config = put_chain(saver)
    items = list(saver.list(thread("t")))
    assert [i.config for i in items] == [child_config, root_config]
    assert [i.parent_config for i in items] == [root_config, None]
    assert [i.metadata["step"] for i in saver.list(thread("t"), filter={"who": "me"})] == [0]


def test_a_graph_on_the_saver_reads_checkpoints_put_through_the_interface(saver: Any) -> None:
    graph = two_steps(saver)
    _, child_config = put_chain(saver)
    state = graph.get_state(thread("t"))
    assert state.values == {"topic": "dogs", "log": ["a", "b"]}
    assert state.config == child_config
    assert [s.values["topic"] for s in graph.get_state_history(thread("t"))] == ["dogs", "cats"]
    assert graph.invoke({"topic": "owls", "log": ["c"]}, thread("t")) == {
        "topic": "owls!",
        "log": ["a", "b", "c", "a", "b"],
    }
    assert saver.get_tuple(thread("t")).metadata["step"] == 4  # input 1, then __start__, a, b


def test_get_next_version_gives_increasing_versions(saver: Any) -> None:
    first = saver.get_next_version(None, None)
    second = saver.get_next_version(first, None)
    assert second > first
    assert saver.get_next_version(second, None) > second


SIGNATURES = {
    "get": ["config"],
    "get_tuple": ["config"],
    "list": ["config", "*filter", "*before", "*limit"],
    "put": ["config", "checkpoint", "metadata", "new_versions"],
    "put_writes": ["config", "writes", "task_id", "task_path"],
    "delete_thread": ["thread_id"],
    "delete_for_runs": ["run_ids"],
    "get_next_version": ["current", "channel"],
    "aget": ["config"],
    "aget_tuple": ["config"],
    "alist": ["config", "*filter", "*before", "*limit"],
    "aput": ["config", "checkpoint", "metadata", "new_versions"],
    "aput_writes": ["config", "writes", "task_id", "task_path"],
    "adelete_thread": ["thread_id"],
    "adelete_for_runs": ["run_ids"],
}
"""LangGraph's BaseCheckpointSaver methods and their parameters ("*": keyword-only)."""


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_each_method_takes_langgraphs_parameters(saver: Any, name: str) -> None:
    import inspect

    method = getattr(saver, name)
    params = inspect.signature(method).parameters.values()
    assert [("*" if p.kind is p.KEYWORD_ONLY else "") + p.name for p in params] == SIGNATURES[name]
    if name in ("put_writes", "aput_writes"):
        assert inspect.signature(method).parameters["task_path"].default == ""
    if name == "alist":
        assert inspect.isasyncgenfunction(method)
    else:
        assert inspect.iscoroutinefunction(method) == name.startswith("a")


# -- async twins ----------------------------------------------------------------------


def test_the_async_twins_read_and_write_as_the_sync_methods(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, thread("t"))

    async def main() -> tuple[Any, ...]:
        item = await saver.aget_tuple(thread("t"))
        got = await saver.aget(thread("t"))
        listed = [i async for i in saver.alist(thread("t"), limit=3)]
        new = empty_checkpoint()
        new["channel_values"] = {"topic": "owls", "log": []}
        new["channel_versions"] = {"topic": 9, "log": 9}
        config = await saver.aput(item.config, new, {"source": "update", "step": 3, "parents": {}}, {"topic": 9, "log": 9})
        await saver.aput_writes(config, [("log", ["x"])], "task-9")
        after = await saver.aget_tuple(config)
        await saver.adelete_thread("t")
        return item, got, listed, after, await saver.aget_tuple(thread("t"))

    item, got, listed, after, deleted = asyncio.run(main())
    assert item == saver.get_tuple(item.config) or item.config == listed[0].config
    assert got["channel_values"] == {"topic": "cats!", "log": ["a", "b"]}
    assert [i.metadata["step"] for i in listed] == [2, 1, 0]
    assert after.checkpoint["channel_values"] == {"topic": "owls", "log": []}
    assert after.parent_config == item.config
    assert after.pending_writes == [("task-9", "log", ["x"])]
    assert deleted is None


# -- what only cairn does ---------------------------------------------------------------

only_cairn = pytest.mark.skipif(not OURS, reason="checks what cairn does beyond LangGraph")


@only_cairn
def test_a_subgraphs_checkpoints_hold_the_subgraphs_own_state(saver: Any) -> None:
    class Inner(TypedDict):
        notes: Annotated[list, operator.add]

    def note(state: Inner) -> dict[str, Any]:
        return {"notes": [interrupt("note?")]}

    inner = StateGraph(Inner)
    inner.add_node("note", note)
    inner.add_edge(START, "note")
    sub = inner.compile()

    class Outer(TypedDict):
        notes: Annotated[list, operator.add]

    outer = StateGraph(Outer)
    outer.add_node("sub", sub)
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=saver)
    graph.invoke({"notes": ["first"]}, thread("t"))
    sub_config = graph.get_state(thread("t"), subgraphs=True).tasks[0].state.config
    item = saver.get_tuple(sub_config)
    assert item.checkpoint["channel_values"] == {"notes": ["first"]}
    assert item.config["configurable"]["checkpoint_ns"].startswith("sub:")


@only_cairn
def test_a_saver_no_graph_was_compiled_with_says_how_to_read_a_folded_state(tmp_path: Path) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver
    from cairn.errors import StorageError

    # A long topic, then short writes: the head is stored as writes, not a snapshot.
    topic = "cats" * 500
    with SqliteSaver(tmp_path / "c.db") as first:
        graph = two_steps(first)
        graph.invoke({"topic": topic, "log": []}, thread("t"))
    with SqliteSaver(tmp_path / "c.db") as fresh:
        assert [i.metadata["step"] for i in fresh.list(thread("t"), filter={"source": "input"})] == [-1]
        with pytest.raises(StorageError, match=r"compile the graph with this saver"):
            fresh.get_tuple(thread("t"))
        two_steps(fresh)
        assert fresh.get(thread("t"))["channel_values"] == {"topic": topic + "!", "log": ["a", "b"]}


@only_cairn
def test_a_bare_thread_id_string_is_a_config_as_everywhere_in_cairn(saver: Any) -> None:
    graph = two_steps(saver)
    graph.invoke({"topic": "cats", "log": []}, "t")
    assert saver.get_tuple("t") == saver.get_tuple(thread("t"))
    assert [i.config for i in saver.list("t")] == [i.config for i in saver.list(thread("t"))]
    head = saver.get_tuple("t")
    assert saver.put("t", empty_checkpoint(), {}, {})["configurable"]["thread_id"] == "t"
    assert saver.get_tuple("t").parent_config is None and head.config != saver.get_tuple("t").config


@only_cairn
def test_bad_arguments_raise_errors_that_say_what_to_pass(saver: Any) -> None:
    from cairn.errors import ConfigError, StorageError

    with pytest.raises(ConfigError, match="needs a thread"):
        saver.get_tuple({"configurable": {}})
    with pytest.raises(ConfigError, match="checkpoint dict"):
        saver.put(thread("t"), ["not", "a", "checkpoint"], {}, {})
    with pytest.raises(ConfigError, match="UUID"):
        saver.put(thread("t"), {"id": "1", "channel_values": {}}, {}, {})
    with pytest.raises(ConfigError, match="checkpoint_id"):
        saver.put_writes(thread("t"), [("x", 1)], "task")
    _, child_config = put_chain(saver)
    with pytest.raises(ConfigError, match=r"\(channel, value\) pairs"):
        saver.put_writes(child_config, ["x"], "task")
    again = saver.get(child_config)
    with pytest.raises(StorageError, match="already stored"):
        saver.put(child_config, again, {}, {})
    assert saver.get_tuple(child_config).checkpoint["channel_values"] == again["channel_values"]


def async_calls(saver: Any, head: CheckpointTuple) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Each async twin, called on ``head`` of thread "t"."""
    new = empty_checkpoint()
    new["channel_values"] = {"topic": "owls", "log": []}

    async def listed() -> list[CheckpointTuple]:
        return [i async for i in saver.alist(thread("t"))]

    return {
        "aget": lambda: saver.aget(thread("t")),
        "aget_tuple": lambda: saver.aget_tuple(thread("t")),
        "alist": listed,
        "aput": lambda: saver.aput(head.config, new, {}, {}),
        "aput_writes": lambda: saver.aput_writes(head.config, [("log", ["x"])], "task-1"),
        "adelete_thread": lambda: saver.adelete_thread("t"),
        "adelete_for_runs": lambda: saver.adelete_for_runs([head.metadata["run_id"]]),
    }


WRITING_TWINS = ["aput", "aput_writes", "adelete_thread", "adelete_for_runs"]
ALL_TWINS = ["aget", "aget_tuple", "alist", *WRITING_TWINS]


def check_twin(name: str, saver: Any, head: CheckpointTuple, result: Any) -> None:
    """What each twin gives once the lock is gone."""
    if name in ("aget", "aget_tuple", "alist"):
        first = result[0] if name == "alist" else result
        got = first if name == "aget" else first.checkpoint
        assert got["channel_values"] == {"topic": "cats!", "log": ["a", "b"]}
    elif name == "aput":
        assert saver.get(result)["channel_values"] == {"topic": "owls", "log": []}
    elif name == "aput_writes":
        assert saver.get_tuple(head.config).pending_writes == [("task-1", "log", ["x"])]
    else:  # the thread, or its only run, deleted
        assert saver.get_tuple(thread("t")) is None


@only_cairn
@pytest.mark.parametrize("name", WRITING_TWINS)
def test_an_async_twin_waiting_on_a_locked_sqlite_file_leaves_the_loop_running(
    name: str, tmp_path: Path
) -> None:
    from cairn.checkpoint.sqlite.aio import AsyncSqliteSaver
    from tests.test_async_io import hold_sqlite, waits_without_blocking

    path = tmp_path / "c.db"
    with AsyncSqliteSaver(path) as saver:
        two_steps(saver).invoke({"topic": "cats", "log": []}, thread("t"))
        head = saver.get_tuple(thread("t"))
        call = async_calls(saver, head)[name]
        result = asyncio.run(waits_without_blocking(call, hold_sqlite(path)))
        check_twin(name, saver, head, result)


@only_cairn
@pytest.mark.parametrize("name", ALL_TWINS)
def test_an_async_twin_waiting_on_a_locked_postgres_table_leaves_the_loop_running(name: str) -> None:
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver
    from tests.pg import fresh_schema
    from tests.test_async_io import hold_postgres, waits_without_blocking

    with fresh_schema() as url, AsyncPostgresSaver(url) as saver:
        two_steps(saver).invoke({"topic": "cats", "log": []}, thread("t"))
        head = saver.get_tuple(thread("t"))
        call = async_calls(saver, head)[name]
        result = asyncio.run(waits_without_blocking(call, hold_postgres(url)))
        check_twin(name, saver, head, result)


@only_cairn
def test_a_subgraph_that_ran_leaves_the_parents_state_read_with_the_parents_reducers(saver: Any) -> None:
    class Plain(TypedDict):
        log: list

    def replace(state: Plain) -> dict[str, Any]:
        return {"log": ["s"]}

    inner = StateGraph(Plain)
    inner.add_node("replace", replace)
    inner.add_edge(START, "replace")

    class Outer(TypedDict):
        big: str
        log: Annotated[list, operator.add]

    outer = StateGraph(Outer)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda state: {"log": ["after"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    graph = outer.compile(checkpointer=saver)
    graph.invoke({"big": "b" * 3000, "log": ["start"]}, thread("t"))
    assert saver.get(thread("t"))["channel_values"]["log"] == ["start", "s", "after"]
    assert graph.get_state(thread("t")).values["log"] == ["start", "s", "after"]


@only_cairn
def test_this_file_passes_on_langgraph_with_its_imports_converted(tmp_path: Path) -> None:
    """The claim of the module's docstring, checked where LangGraph is installed
    (benchmarks/.venv-langgraph, or the python CAIRN_LANGGRAPH_PYTHON names)."""
    import os
    import subprocess

    default = Path(__file__).resolve().parent.parent / "benchmarks" / ".venv-langgraph" / "bin" / "python"
    python = Path(os.environ.get("CAIRN_LANGGRAPH_PYTHON") or default)
    if not python.exists():
        pytest.skip(f"no LangGraph to compare with at {python}; set CAIRN_LANGGRAPH_PYTHON to one")
    text = Path(__file__).read_text().replace("ca" + "irn", "lang" + "graph")
    (tmp_path / "test_on_langgraph.py").write_text(text)
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_on_langgraph.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
