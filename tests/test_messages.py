"""``add_messages`` and ``MessagesState``: chat histories that grow, with replacement by id."""

from typing import Any

from cairn.graph import START, MessagesState, StateGraph, add_messages
from tests.support import thread


def content(message: Any) -> str:
    """A message's text, whether it is a plain dict or a LangChain message object."""
    return message["content"] if isinstance(message, dict) else message.content


def message_id(message: Any) -> Any:
    return message.get("id") if isinstance(message, dict) else message.id


def test_add_messages_appends_new_messages() -> None:
    merged = add_messages(
        [{"role": "user", "content": "hi", "id": "1"}],
        [{"role": "assistant", "content": "hello", "id": "2"}],
    )
    assert [content(m) for m in merged] == ["hi", "hello"]
    assert [message_id(m) for m in merged] == ["1", "2"]


def test_add_messages_replaces_a_message_with_the_same_id_in_place() -> None:
    merged = add_messages(
        [
            {"role": "user", "content": "hi", "id": "1"},
            {"role": "assistant", "content": "yo", "id": "2"},
        ],
        [{"role": "user", "content": "hi again", "id": "1"}],
    )
    assert [content(m) for m in merged] == ["hi again", "yo"]


def test_add_messages_gives_every_message_an_id() -> None:
    merged = add_messages([], [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    ids = [message_id(m) for m in merged]
    assert all(ids)
    assert len(set(ids)) == 2


def test_messages_state_grows_across_invokes_on_a_thread(saver: Any) -> None:
    def bot(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": f"echo {len(state['messages'])}"}]}

    graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot")
    graph = graph.compile(checkpointer=saver)
    graph.invoke({"messages": [{"role": "user", "content": "one"}]}, thread("chat"))
    result = graph.invoke({"messages": [{"role": "user", "content": "two"}]}, thread("chat"))
    assert [content(m) for m in result["messages"]] == ["one", "echo 1", "two", "echo 3"]
    assert [content(m) for m in graph.get_state(thread("chat")).values["messages"]] == [
        "one",
        "echo 1",
        "two",
        "echo 3",
    ]


def test_messages_of_earlier_checkpoints_stay_as_they_were(saver: Any) -> None:
    def bot(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": "ok"}]}

    graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot")
    graph = graph.compile(checkpointer=saver)
    graph.invoke({"messages": [{"role": "user", "content": "one"}]}, thread("chat"))
    graph.invoke({"messages": [{"role": "user", "content": "two"}]}, thread("chat"))
    lengths = [len(s.values.get("messages", [])) for s in graph.get_state_history(thread("chat"))]
    assert lengths == [4, 3, 2, 2, 1, 0]


def test_a_cold_read_of_a_long_chat_equals_what_the_run_saw(saver: Any) -> None:
    """A new graph (nothing cached) folds the stored writes, replacements and
    removals included, back into exactly the state the live run had, and
    ids assigned when the messages were written stay the same."""

    def reply(state: MessagesState) -> dict[str, Any]:
        turn = len(state["messages"])
        out: list[Any] = [{"role": "assistant", "content": f"reply {turn}"}]
        if turn % 7 == 0:  # rewrite the first message now and then
            out.append({**state["messages"][0], "content": f"edited at {turn}"})
        if turn % 11 == 0:  # and drop the oldest reply
            oldest = next(m for m in state["messages"] if m["role"] == "assistant")
            out.append({"type": "remove", "id": oldest["id"]})
        return {"messages": out}

    def build() -> Any:
        return StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile(
            checkpointer=saver
        )

    live = build()
    for turn in range(60):
        seen = live.invoke({"messages": [{"role": "user", "content": f"turn {turn}"}]}, "chat")
    cold = build()
    assert cold.get_state("chat").values == seen
    assert [s.values for s in cold.get_state_history("chat")] == [
        s.values for s in live.get_state_history("chat")
    ]
