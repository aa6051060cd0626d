"""``cairn.pregel.remote.RemoteGraph`` against a real ``cairn serve``
subprocess: what LangGraph's ``RemoteGraph`` users do, with the import
renamed (run, stream, pause and resume, read and fork the remote thread's
history, draw it, use it as a node of a local graph)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import CairnError, ConfigError
from cairn.graph import END, START, StateGraph
from cairn.pregel.remote import RemoteException, RemoteGraph
from cairn.types import Command, StateSnapshot
from tests.server_app import State
from tests.server_support import ServerProcess, make_project, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("remote")
    make_project(folder)
    running = start_server(folder)
    yield running
    running.stop()


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def test_invoke_pauses_at_the_remote_interrupt_and_a_command_resumes_it(server: ServerProcess) -> None:
    remote = RemoteGraph("agent", url=server.url)
    config = thread()
    paused = remote.invoke({"items": []}, config)
    assert paused["items"] == ["a"]
    assert paused["__interrupt__"][0]["value"] == {"question": "ok?"}
    state = remote.get_state(config)
    assert isinstance(state, StateSnapshot)
    assert state.next == ("ask",)
    assert [i.value for i in state.interrupts] == [{"question": "ok?"}]

    done = remote.invoke(Command(resume="yes"), config)
    assert done == {"items": ["a", "b", "c"], "answer": "yes"}
    assert remote.get_state(config).next == ()


def test_stream_yields_what_a_local_graph_streams(server: ServerProcess) -> None:
    remote = RemoteGraph("steps", url=server.url)
    updates = list(remote.stream({"items": []}, thread()))
    assert updates == [{"s1": {"items": ["s1"]}}, {"s2": {"items": ["s2"]}},
                       {"s3": {"items": ["s3"]}}, {"s4": {"items": ["s4"]}}]
    both = list(remote.stream({"items": []}, thread(), stream_mode=["values", "updates"]))
    assert both[0] == ("values", {"items": []})
    assert ("updates", {"s4": {"items": ["s4"]}}) in both
    assert both[-1] == ("values", {"items": ["s1", "s2", "s3", "s4"]})


def test_a_run_without_a_thread_is_stateless(server: ServerProcess) -> None:
    assert RemoteGraph("steps", url=server.url).invoke({"items": ["x"]}) == {
        "items": ["x", "s1", "s2", "s3", "s4"]
    }


def test_history_and_a_fork_from_an_earlier_checkpoint(server: ServerProcess) -> None:
    remote = RemoteGraph("steps", url=server.url)
    config = thread()
    remote.invoke({"items": []}, config)
    history = list(remote.get_state_history(config, limit=20))
    assert [h.next for h in history[:2]] == [(), ("s4",)]
    before_s3 = next(h for h in history if h.next == ("s3",))
    assert before_s3.values == {"items": ["s1", "s2"]}
    assert history[0].parent_config["configurable"]["checkpoint_id"] == history[1].config["configurable"]["checkpoint_id"]

    forked = remote.update_state(before_s3.config, {"items": ["edited"]}, as_node="s2")
    assert remote.get_state(forked).values == {"items": ["s1", "s2", "edited"]}
    assert remote.invoke(None, forked) == {"items": ["s1", "s2", "edited", "s3", "s4"]}


def test_the_drawing_of_the_served_graph(server: ServerProcess) -> None:
    drawing = RemoteGraph("steps", url=server.url).get_graph()
    assert {n.name for n in drawing.nodes.values()} >= {"__start__", "s1", "s4", "__end__"}
    assert ("s1", "s2") in {(e.source, e.target) for e in drawing.edges}


def test_a_failed_remote_run_raises_remote_exception(server: ServerProcess) -> None:
    with pytest.raises(RemoteException, match="kaput") as caught:
        RemoteGraph("boom", url=server.url).invoke({"items": []}, thread())
    assert isinstance(caught.value, CairnError)


def test_as_a_node_of_a_local_graph(server: ServerProcess, tmp_path: Path) -> None:
    """The local run's thread names the remote one; the remote state comes
    back as the node's update; a remote interrupt pauses the local run."""
    with SqliteSaver.from_conn_string(str(tmp_path / "local.db")) as saver:
        builder = StateGraph(State)
        builder.add_node("remote", RemoteGraph("steps", url=server.url))
        builder.add_edge(START, "remote")
        builder.add_edge("remote", END)
        local = builder.compile(checkpointer=saver)
        config = thread()
        # the remote graph's final values are its update: its list, appended by the reducer
        assert local.invoke({"items": ["x"]}, config) == {
            "items": ["x", "x", "s1", "s2", "s3", "s4"]
        }
        remote_state = RemoteGraph("steps", url=server.url).get_state(config)
        assert remote_state.values == {"items": ["x", "s1", "s2", "s3", "s4"]}

        asking = StateGraph(State)
        asking.add_node("remote", RemoteGraph("agent", url=server.url))
        asking.add_edge(START, "remote")
        paused_graph = asking.compile(checkpointer=saver)
        other = thread()
        paused = paused_graph.invoke({"items": []}, other)
        assert [i.value for i in paused["__interrupt__"]] == [{"question": "ok?"}]
        assert paused_graph.get_state(other).next == ("remote",)


def test_the_async_twins(server: ServerProcess) -> None:
    async def main() -> None:
        remote = RemoteGraph("agent", url=server.url)
        config = thread()
        paused = await remote.ainvoke({"items": []}, config)
        assert paused["__interrupt__"][0]["value"] == {"question": "ok?"}
        assert (await remote.aget_state(config)).next == ("ask",)
        chunks = [c async for c in remote.astream(Command(resume="y"), config, stream_mode="values")]
        assert chunks[-1] == {"items": ["a", "b", "c"], "answer": "y"}
        history = [s async for s in remote.aget_state_history(config)]
        assert history[0].values == chunks[-1]
        forked = await remote.aupdate_state(history[0].config, {"answer": "changed"})
        assert (await remote.aget_state(forked)).values["answer"] == "changed"
        drawing = await remote.aget_graph()
        assert "ask" in {n.name for n in drawing.nodes.values()}

    asyncio.run(main())


def test_bad_arguments_are_refused_with_what_to_do(server: ServerProcess) -> None:
    with pytest.raises(ConfigError, match="url="):
        RemoteGraph("agent")
    with pytest.raises(ConfigError, match="assistant id"):
        RemoteGraph("", url=server.url)
    with pytest.raises(ConfigError, match="thread_id"):
        RemoteGraph("agent", url=server.url).get_state({})
    with pytest.raises(TypeError):
        RemoteGraph("agent", url=server.url).invoke({}, thread(), not_a_parameter=1)  # type: ignore[call-arg]


def test_version_v2_gives_the_parts_and_graph_output_a_local_graph_gives(server: ServerProcess) -> None:
    from cairn.errors import UnknownVersionError
    from cairn.types import GraphOutput, Interrupt

    remote = RemoteGraph("steps", url=server.url)
    parts = list(remote.stream({"items": []}, thread(), stream_mode=["values", "updates"], version="v2"))
    assert parts[0] == {"type": "values", "ns": (), "data": {"items": []}, "interrupts": ()}
    assert {"type": "updates", "ns": (), "data": {"s4": {"items": ["s4"]}}} in parts
    assert parts[-1] == {"type": "values", "ns": (), "data": {"items": ["s1", "s2", "s3", "s4"]}, "interrupts": ()}

    agent = RemoteGraph("agent", url=server.url)
    config = thread()
    paused = agent.invoke({"items": []}, config, version="v2")
    assert isinstance(paused, GraphOutput) and paused.value["items"] == ["a"]
    (asked,) = paused.interrupts
    assert isinstance(asked, Interrupt) and asked.value == {"question": "ok?"} and asked.id
    done = asyncio.run(agent.ainvoke(Command(resume="yes"), config, version="v2"))
    assert done == GraphOutput({"items": ["a", "b", "c"], "answer": "yes"}, ())
    with pytest.raises(UnknownVersionError, match="'v9'"):
        list(remote.stream({"items": []}, thread(), version="v9"))
