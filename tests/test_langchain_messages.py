"""``add_messages`` with LangChain's message objects (langchain_core is a dev
dependency): dicts, ``(role, content)`` tuples and strings become message
objects as in LangGraph, ids assigned, replacement by id, removal, and the
objects stored and read back, by this process and by another one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest

from cairn.errors import InvalidUpdateError
from cairn.graph import START, MessagesState, StateGraph, add_messages
from cairn.graph.message import REMOVE_ALL_MESSAGES
from tests.messages_child import run_child
from tests.support import thread

messages = pytest.importorskip("langchain_core.messages", reason="langchain_core is not installed")
AIMessage, HumanMessage, RemoveMessage = messages.AIMessage, messages.HumanMessage, messages.RemoveMessage
SystemMessage, AIMessageChunk = messages.SystemMessage, messages.AIMessageChunk


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


def test_dicts_and_strings_become_message_objects_with_ids() -> None:
    merged = add_messages(
        [],
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            "c",
            {"role": "system", "content": "d", "id": "s"},
        ],
    )
    assert [(type(m), m.content) for m in merged] == [
        (HumanMessage, "a"),
        (AIMessage, "b"),
        (HumanMessage, "c"),
        (SystemMessage, "d"),
    ]
    assert merged[3].id == "s"
    assert all(isinstance(m.id, str) and m.id for m in merged)
    assert len({m.id for m in merged}) == 4


def test_a_lone_tuple_dict_or_string_is_one_message() -> None:
    for update in (("user", "hi"), {"role": "user", "content": "hi"}, "hi"):
        assert [(type(m), m.content) for m in add_messages([], update)] == [(HumanMessage, "hi")]


def test_a_history_of_dicts_becomes_message_objects_keeping_its_ids() -> None:
    left = [
        {"role": "user", "content": "a", "id": "1"},
        {"role": "assistant", "content": "b", "id": "2"},
    ]
    merged = add_messages(left, [{"role": "assistant", "content": "B", "id": "2"}])
    assert [(type(m), m.id, m.content) for m in merged] == [
        (HumanMessage, "1", "a"),
        (AIMessage, "2", "B"),
    ]


def test_a_message_chunk_is_kept_as_its_full_message() -> None:
    [message] = add_messages([], [AIMessageChunk(content="streamed")])
    assert (type(message), message.content) == (AIMessage, "streamed")


def test_an_id_is_given_to_the_message_object_itself_as_in_langgraph() -> None:
    message = HumanMessage(content="hi")
    [stored] = add_messages([], [message])
    assert message.id is not None and message.id == stored.id


def test_a_removal_given_as_a_dict_or_remove_all_deletes() -> None:
    left = [HumanMessage(content="a", id="1"), AIMessage(content="b", id="2")]
    assert [m.id for m in add_messages(left, [{"type": "remove", "id": "1"}])] == ["2"]
    cleared = add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), ("user", "fresh")])
    assert [(type(m), m.content) for m in cleared] == [(HumanMessage, "fresh")]


def test_something_that_is_not_a_message_is_refused_naming_it() -> None:
    with pytest.raises(InvalidUpdateError, match="'no role'"):
        add_messages([], [{"content": "no role"}])


def test_nodes_read_content_of_messages_given_as_dicts(saver: Any) -> None:
    """LangGraph code reads ``state["messages"][-1].content`` whatever form the
    input, node returns and ``update_state`` used; the ids the reducer gave
    let later updates replace messages, live and after a cold read."""
    graph = chat(saver)
    graph.invoke({"messages": [{"role": "user", "content": "hi"}]}, thread("t"))
    graph.invoke({"messages": ("user", "how are you?")}, thread("t"))
    first = graph.get_state(thread("t")).values["messages"][0]
    edit = {"role": "user", "content": "hello", "id": first.id}
    graph.update_state(thread("t"), {"messages": [edit]})
    graph.update_state(thread("t"), {"messages": "bye"}, as_node="bot")
    live = graph.get_state(thread("t")).values["messages"]
    assert [(type(m), m.content) for m in live] == [
        (HumanMessage, "hello"),
        (AIMessage, "re: hi"),
        (HumanMessage, "how are you?"),
        (AIMessage, "re: how are you?"),
        (HumanMessage, "bye"),
    ]
    assert live[0].id == first.id
    assert len({m.id for m in live}) == 5
    cold = chat(saver).get_state(thread("t")).values["messages"]
    assert [(type(m), m.id, m.content) for m in cold] == [(type(m), m.id, m.content) for m in live]
    for snapshot in graph.get_state_history(thread("t")):
        assert all(isinstance(m, messages.BaseMessage) for m in snapshot.values.get("messages", []))


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


def test_messages_given_as_dicts_are_read_back_as_objects_by_another_process(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "chat.db")
    run_child("write", path)
    assert run_child("read", path) == [
        "HumanMessage user hello",
        "AIMessage assistant re: hi",
        "HumanMessage user how are you?",
        "AIMessage assistant re: how are you?",
        "HumanMessage user bye",
        "AIMessage assistant re: bye",
        "langchain_core imported: True",
    ]


def test_another_process_reads_the_message_objects_back(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.db")
    for step in ("write", "read"):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, path, step], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["HumanMessage hello", "AIMessage re: hello"]


# -- duplicate ids in one update, format="langchain-openai" ---------------------------


def test_two_messages_with_one_id_in_one_update_leave_the_last_in_the_first_ones_place(
    saver: Any,
) -> None:
    def bot(state: MessagesState) -> dict[str, Any]:
        replies = [AIMessage("draft", id="a"), AIMessage("other", id="b"), AIMessage("final", id="a")]
        return {"messages": replies}

    graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot").compile(checkpointer=saver)
    result = graph.invoke({"messages": [HumanMessage("hi", id="h")]}, thread("d"))
    expected = [("h", "hi"), ("a", "final"), ("b", "other")]
    assert [(m.id, m.content) for m in result["messages"]] == expected
    stored = graph.builder.compile(checkpointer=saver).get_state(thread("d")).values["messages"]
    assert [(m.id, m.content) for m in stored] == expected


class OpenAIFormatState(MessagesState):
    messages: Annotated[list, add_messages(format="langchain-openai")]


def test_format_langchain_openai_rewrites_merged_messages_as_langgraph_does(saver: Any) -> None:
    """Content blocks of text become a string, and the merged messages carry
    no ids (what LangChain's conversion through OpenAI's format gives)."""

    def bot(state: OpenAIFormatState) -> dict[str, Any]:
        return {"messages": [AIMessage([{"type": "text", "text": "sure"}], id="r")]}

    builder = StateGraph(OpenAIFormatState).add_node("bot", bot).add_edge(START, "bot")
    graph = builder.compile(checkpointer=saver)
    result = graph.invoke({"messages": [HumanMessage("hi", id="h")]}, thread("f"))
    assert [(type(m), m.content, m.id) for m in result["messages"]] == [
        (HumanMessage, "hi", None),
        (AIMessage, "sure", None),
    ]
    stored = builder.compile(checkpointer=saver).get_state(thread("f")).values["messages"]
    assert [(type(m), m.content) for m in stored] == [(HumanMessage, "hi"), (AIMessage, "sure")]


def test_an_unknown_message_format_is_refused_naming_it() -> None:
    from cairn.errors import ConfigError

    with pytest.raises(ConfigError, match="format='openai'.*langchain-openai"):
        add_messages(format="openai")


def test_a_node_storing_a_messages_text_runs_and_resumes_in_another_process(tmp_path: Path) -> None:
    """AIMessage.text is a subclass of str: stored as its plain str, read back
    by a fresh saver on the same file, and the run goes on from there."""
    from typing import TypedDict

    from cairn.checkpoint.sqlite import SqliteSaver
    from cairn.types import Command, interrupt

    class Answer(TypedDict, total=False):
        answer: str
        verdict: str

    def reply(state: Answer) -> dict[str, Any]:
        return {"answer": AIMessage("forty-two").text}

    def review(state: Answer) -> dict[str, Any]:
        return {"verdict": interrupt(state["answer"])}

    builder = StateGraph(Answer).add_node("reply", reply).add_node("review", review)
    builder.add_edge(START, "reply").add_edge("reply", "review")
    path = tmp_path / "text.db"
    with SqliteSaver(path) as saver:
        builder.compile(checkpointer=saver).invoke({}, thread("x"))
    with SqliteSaver(path) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.get_state(thread("x")).tasks[0].interrupts[0].value == "forty-two"
        assert graph.invoke(Command(resume="ok"), thread("x")) == {"answer": "forty-two", "verdict": "ok"}
