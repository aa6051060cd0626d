"""Streams that hand out chunks while a node runs, and ``stream_mode=
"messages"``: a LangChain chat model's tokens as ``(chunk, metadata)`` with
LangGraph's metadata keys, sync and async."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from cairn.config import get_stream_writer
from cairn.graph import START, MessagesState, StateGraph
from tests.support import thread

pytest.importorskip("langchain_core", reason="the messages mode streams LangChain chat models")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk  # noqa: E402


def waiting_node(released: threading.Event, seen: list[bool]) -> Any:
    """A node that writes a custom chunk, then waits for the stream's reader
    to say it got it (which it can only do if the chunk went out while the
    node still runs)."""

    def node(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()("first")
        seen.append(released.wait(timeout=10))
        return {"messages": [AIMessage("done", id="done")]}

    return node


def test_a_custom_chunk_goes_out_while_its_node_still_runs(saver: Any) -> None:
    released, seen = threading.Event(), []
    graph = StateGraph(MessagesState).add_node("n", waiting_node(released, seen))
    graph = graph.add_edge(START, "n").compile(checkpointer=saver)

    chunks = []
    for chunk in graph.stream({"messages": []}, thread("t"), stream_mode=["custom", "updates"]):
        chunks.append(chunk)
        released.set()

    assert seen == [True]
    assert [mode for mode, _ in chunks] == ["custom", "updates"]


def test_astream_hands_out_chunks_while_its_node_still_runs(saver: Any) -> None:
    released, seen = threading.Event(), []
    graph = StateGraph(MessagesState).add_node("n", waiting_node(released, seen))
    graph = graph.add_edge(START, "n").compile(checkpointer=saver)

    async def read() -> list[Any]:
        chunks = []
        async for chunk in graph.astream({"messages": []}, thread("t"), stream_mode="custom"):
            chunks.append(chunk)
            released.set()
        return chunks

    assert asyncio.run(read()) == ["first"]
    assert seen == [True]


def chatty(saver: Any) -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage("hello big world", id="m1")]))
    builder = StateGraph(MessagesState)
    builder.add_node("call", lambda s: {"messages": [model.invoke(s["messages"])]})
    builder.add_node("plain", lambda s: {"messages": [AIMessage("not streamed", id="p1")]})
    return builder.add_edge(START, "call").add_edge("call", "plain").compile(checkpointer=saver)


def check_messages(chunks: list[tuple[Any, dict[str, Any]]]) -> None:
    tokens = [(type(m).__name__, m.content, meta["langgraph_node"]) for m, meta in chunks]
    assert tokens == [
        ("AIMessageChunk", "hello", "call"),
        ("AIMessageChunk", " ", "call"),
        ("AIMessageChunk", "big", "call"),
        ("AIMessageChunk", " ", "call"),
        ("AIMessageChunk", "world", "call"),
        ("AIMessage", "not streamed", "plain"),
    ]
    first, meta = chunks[0]
    assert isinstance(first, AIMessageChunk) and first.id == "m1"
    assert meta["thread_id"] == "t" and meta["langgraph_step"] == 1
    assert meta["langgraph_triggers"] == ("branch:to:call",)
    assert meta["langgraph_path"] == ("__pregel_pull", "call")
    assert meta["langgraph_checkpoint_ns"].startswith("call:") and meta["ls_provider"] == "genericfakechatmodel"
    assert chunks[-1][1]["langgraph_step"] == 2


def test_messages_streams_a_chat_models_tokens_and_returned_messages(saver: Any) -> None:
    check_messages(list(chatty(saver).stream({"messages": [("user", "hi")]}, thread("t"), stream_mode="messages")))


def test_messages_through_astream(saver: Any) -> None:
    async def read() -> list[Any]:
        graph = chatty(saver)
        return [c async for c in graph.astream({"messages": [("user", "hi")]}, thread("t"), stream_mode="messages")]

    check_messages(asyncio.run(read()))


def test_astream_events_v2_gives_the_events_langchain_users_read(saver: Any) -> None:
    async def read(**filters: Any) -> list[dict[str, Any]]:
        graph = chatty(saver)
        stream = graph.astream_events({"messages": [("user", "hi")]}, thread("t"), version="v2", **filters)
        return [event async for event in stream]

    events = asyncio.run(read())

    assert [(e["event"], e["name"]) for e in events[:3]] == [
        ("on_chain_start", "LangGraph"),
        ("on_chain_start", "call"),
        ("on_chat_model_start", "GenericFakeChatModel"),
    ]
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == "hello big world"
    call_end = next(e for e in events if e["event"] == "on_chain_end" and e["name"] == "call")
    assert call_end["data"]["output"]["messages"][0].content == "hello big world"
    assert call_end["metadata"]["langgraph_node"] == "call" and call_end["tags"] == ["graph:step:1"]
    model_start = events[2]
    assert model_start["parent_ids"] == [events[0]["run_id"], events[1]["run_id"]]
    assert events[-1]["event"] == "on_chain_end" and events[-1]["name"] == "LangGraph"
    assert [m.content for m in events[-1]["data"]["output"]["messages"]] == ["hi", "hello big world", "not streamed"]

    only_models = asyncio.run(read(include_types=["chat_model"]))
    assert {e["event"] for e in only_models} == {"on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"}


def two_slow_steps(saver: Any) -> Any:
    def step(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()("started")
        return {"messages": [AIMessage("done")]}

    builder = StateGraph(MessagesState).add_node("a", step).add_node("b", step)
    return builder.add_edge(START, "a").add_edge("a", "b").compile(checkpointer=saver)


def test_a_stream_closed_mid_step_commits_the_step_and_the_run_goes_on_from_there(saver: Any) -> None:
    graph = two_slow_steps(saver)
    for _ in graph.stream({"messages": []}, thread("t"), stream_mode="custom"):
        break  # while step "a" may still run

    assert graph.get_state(thread("t")).next == ("b",)
    assert [m.content for m in graph.invoke(None, thread("t"))["messages"]] == ["done", "done"]


def test_an_async_stream_closed_mid_step_commits_the_step(saver: Any) -> None:
    graph = two_slow_steps(saver)

    async def first() -> None:
        stream = graph.astream({"messages": []}, thread("t"), stream_mode="custom")
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(first())
    assert graph.get_state(thread("t")).next == ("b",)
