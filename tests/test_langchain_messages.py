"""``add_messages`` with LangChain's message objects (langchain_core is a dev
dependency): ids assigned, replacement by id, removal, and the objects
stored and read back, by this process and by another one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cairn.errors import InvalidUpdateError
from cairn.graph import START, MessagesState, StateGraph, add_messages
from tests.support import thread

messages = pytest.importorskip("langchain_core.messages", reason="langchain_core is not installed")
AIMessage, HumanMessage, RemoveMessage = messages.AIMessage, messages.HumanMessage, messages.RemoveMessage


def chat(saver: Any) -> Any:
    def bot(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content=f"re: {state['messages'][-1].content}")]}

    return StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot").compile(checkpointer=saver)


def test_new_message_objects_get_ids() -> None:
    merged = add_messages([], [HumanMessage(content="hi"), AIMessage(content="hello")])
    assert [type(m) for m in merged] == [HumanMessage, AIMessage]
    assert all(isinstance(m.id, str) and m.id for m in merged)
    assert merged[0].id != merged[1].id


def test_dicts_become_message_objects_when_mixed_with_them() -> None:
    merged = add_messages([HumanMessage(content="hi", id="1")], [{"role": "assistant", "content": "yo"}])
    assert [type(m) for m in merged] == [HumanMessage, AIMessage]


def test_a_message_with_a_known_id_replaces_it_in_place() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    merged = add_messages(left, [AIMessage(content="B", id="2"), HumanMessage(content="c", id="3")])
    assert [(m.id, m.content) for m in merged] == [("1", "a"), ("2", "B"), ("3", "c")]


def test_remove_message_deletes_by_id_and_an_unknown_id_is_refused() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    assert [m.id for m in add_messages(left, [RemoveMessage(id="1")])] == ["2"]
    with pytest.raises(InvalidUpdateError, match="'nope'"):
        add_messages(left, [RemoveMessage(id="nope")])


def test_message_objects_are_stored_and_edited_through_the_graph(saver: Any) -> None:
    graph = chat(saver)
    result = graph.invoke({"messages": [HumanMessage(content="hello")]}, thread("t"))
    assert [(type(m), m.content) for m in result["messages"]] == [
        (HumanMessage, "hello"),
        (AIMessage, "re: hello"),
    ]
    first, reply = graph.get_state(thread("t")).values["messages"]
    assert (first.id, reply.id) == (result["messages"][0].id, result["messages"][1].id)
    graph.update_state(thread("t"), {"messages": [RemoveMessage(id=first.id)]})
    graph.update_state(thread("t"), {"messages": [AIMessage(content="edited", id=reply.id)]})
    assert [(m.id, m.content) for m in graph.get_state(thread("t")).values["messages"]] == [
        (reply.id, "edited")
    ]
    # Every checkpoint of the history reads back as message objects.
    for snapshot in graph.get_state_history(thread("t")):
        assert all(isinstance(m, messages.BaseMessage) for m in snapshot.values.get("messages", []))


CHILD = """
import sys
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.graph import START, MessagesState, StateGraph
from langchain_core.messages import AIMessage, HumanMessage

def bot(state):
    return {"messages": [AIMessage(content="re: " + state["messages"][-1].content)]}

graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot").compile(
    checkpointer=SqliteSaver(sys.argv[1])
)
config = {"configurable": {"thread_id": "t"}}
if sys.argv[2] == "write":
    graph.invoke({"messages": [HumanMessage(content="hello")]}, config)
else:
    for m in graph.get_state(config).values["messages"]:
        print(type(m).__name__, m.content)
"""


def test_another_process_reads_the_message_objects_back(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.db")
    for step in ("write", "read"):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, path, step], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["HumanMessage hello", "AIMessage re: hello"]
