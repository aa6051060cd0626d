"""``add_messages`` and ``MessagesState``: chat histories that grow, with
replacement by id and removal.

Every test runs in both forms a history takes: "langchain" (langchain_core
installed: messages become LangChain message objects) and "plain" (it cannot
be imported: messages stay dicts). tests/test_langchain_messages.py has the
tests that only make sense for message objects.
"""

import random
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import cairn.graph.message
from cairn.graph import START, MessagesState, StateGraph, add_messages
from cairn.graph.message import REMOVE_ALL_MESSAGES
from tests.messages_child import message_id, role, run_child, text
from tests.support import thread


@pytest.fixture(autouse=True, params=["langchain", "plain"])
def form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The form messages take; "plain" makes langchain_core unimportable."""
    if request.param == "langchain":
        pytest.importorskip("langchain_core.messages", reason="langchain_core is not installed")
    else:
        for name in [n for n in sys.modules if n.partition(".")[0] == "langchain_core"]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, "langchain_core", None)
    # add_messages looks langchain_core up once per process; look again.
    cairn.graph.message._langchain.cache_clear()
    yield request.param
    cairn.graph.message._langchain.cache_clear()


def test_add_messages_appends_new_messages() -> None:
    merged = add_messages(
        [{"role": "user", "content": "hi", "id": "1"}],
        [{"role": "assistant", "content": "hello", "id": "2"}],
    )
    assert [text(m) for m in merged] == ["hi", "hello"]
    assert [message_id(m) for m in merged] == ["1", "2"]


def test_add_messages_replaces_a_message_with_the_same_id_in_place() -> None:
    merged = add_messages(
        [
            {"role": "user", "content": "hi", "id": "1"},
            {"role": "assistant", "content": "yo", "id": "2"},
        ],
        [{"role": "user", "content": "hi again", "id": "1"}],
    )
    assert [text(m) for m in merged] == ["hi again", "yo"]


def test_add_messages_gives_every_message_an_id() -> None:
    merged = add_messages([], [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    ids = [message_id(m) for m in merged]
    assert all(ids)
    assert len(set(ids)) == 2


def test_messages_take_the_form_langchain_core_allows(form: str) -> None:
    [message] = add_messages([], [{"role": "user", "content": "hi"}])
    if form == "plain":
        assert message == {"role": "user", "content": "hi", "id": message["id"]}
    else:
        assert type(message).__name__ == "HumanMessage"


def test_a_lone_tuple_is_one_message_and_a_string_a_user_message() -> None:
    merged = add_messages([], ("assistant", "yo"))
    assert [(role(m), text(m)) for m in merged] == [("assistant", "yo")]
    merged = add_messages(merged, [("user", "hi"), "there"])
    assert [(role(m), text(m)) for m in merged] == [
        ("assistant", "yo"),
        ("user", "hi"),
        ("user", "there"),
    ]
    assert all(message_id(m) for m in merged)


def test_a_removal_deletes_and_remove_all_clears_what_came_before() -> None:
    left = add_messages([], [("user", "a"), ("assistant", "b"), ("user", "c")])
    a, b, c = (message_id(m) for m in left)
    assert [text(m) for m in add_messages(left, [{"type": "remove", "id": b}])] == ["a", "c"]
    remove_all = {"type": "remove", "id": REMOVE_ALL_MESSAGES}
    kept = add_messages(left, [remove_all, left[2], ("user", "d")])
    assert [text(m) for m in kept] == ["c", "d"]
    assert message_id(kept[0]) == c


def test_a_message_removed_and_added_again_goes_to_the_end() -> None:
    left = add_messages([], [("user", "a"), ("assistant", "b"), ("user", "c")])
    b = message_id(left[1])
    again = {"role": "assistant", "content": "B", "id": b}
    merged = add_messages(left, [{"type": "remove", "id": b}, again])
    assert [text(m) for m in merged] == ["a", "c", "B"]


def random_updates(rng: random.Random, count: int) -> list[list[Any]]:
    """``count`` updates of a chat, each valid on the history before it:
    new messages, edits, removals, re-adds of removed ids, and remove-alls."""
    updates: list[list[Any]] = []
    present: list[str] = []
    removed: list[str] = []
    for n in range(count):
        update: list[Any] = []
        if present and rng.random() < 0.1:
            keep = present[-2:]
            update.append({"type": "remove", "id": REMOVE_ALL_MESSAGES})
            update.extend({"role": "user", "content": f"kept {n}", "id": k} for k in keep)
            removed.extend(k for k in present if k not in keep)
            present = list(keep)
        for _ in range(rng.randint(1, 3)):
            pick = rng.random()
            if present and pick < 0.2:
                update.append({"role": "user", "content": f"edit {n}", "id": rng.choice(present)})
            elif present and pick < 0.35:
                gone = present.pop(rng.randrange(len(present)))
                removed.append(gone)
                update.append({"type": "remove", "id": gone})
            elif removed and pick < 0.45:
                back = removed.pop(rng.randrange(len(removed)))
                present.append(back)
                update.append({"role": "assistant", "content": f"back {n}", "id": back})
            else:
                new = f"m{n}-{len(update)}"
                present.append(new)
                update.append({"role": "assistant", "content": f"new {n}", "id": new})
        updates.append(update)
    return updates


@pytest.mark.parametrize("seed", range(20))
def test_merging_updates_one_by_one_or_all_at_once_gives_the_same_history(seed: int) -> None:
    """``add_messages`` is ``batchable``: a cold read folds many stored updates
    in one call, and must get the history the live run built step by step."""
    rng = random.Random(seed)
    updates = random_updates(rng, 40)
    start = rng.randrange(len(updates))
    one_by_one = add_messages([], [m for u in updates[:start] for m in u])
    at_once = list(one_by_one)
    for update in updates[start:]:
        one_by_one = add_messages(one_by_one, update)
    at_once = add_messages(at_once, [m for u in updates[start:] for m in u])
    view = [(role(m), text(m), message_id(m)) for m in one_by_one]
    assert [(role(m), text(m), message_id(m)) for m in at_once] == view


def test_messages_state_grows_across_invokes_on_a_thread(saver: Any) -> None:
    def bot(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": f"echo {len(state['messages'])}"}]}

    graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot")
    graph = graph.compile(checkpointer=saver)
    graph.invoke({"messages": [{"role": "user", "content": "one"}]}, thread("chat"))
    result = graph.invoke({"messages": [{"role": "user", "content": "two"}]}, thread("chat"))
    assert [text(m) for m in result["messages"]] == ["one", "echo 1", "two", "echo 3"]
    assert [text(m) for m in graph.get_state(thread("chat")).values["messages"]] == [
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
    """A new graph (nothing cached) folds the stored writes, edits, removals,
    re-adds and remove-alls included, back into exactly the state the live
    run had, and ids assigned when the messages were written stay the same.
    A long first message keeps snapshots rare, so that folds are long."""
    removed: list[Any] = []

    def reply(state: MessagesState) -> dict[str, Any]:
        history = state["messages"]
        turn = int(text(history[-1]).split()[1])
        out: list[Any] = [{"role": "assistant", "content": f"reply {turn}"}]
        if turn % 9 == 0:  # keep only the first and the last two messages
            keep = [history[0], *history[-2:]]
            return {"messages": [{"type": "remove", "id": REMOVE_ALL_MESSAGES}, *keep, *out]}
        if turn % 7 == 0:  # rewrite the second message now and then
            second = history[1]
            edit = {"role": role(second), "content": f"edited at {turn}", "id": message_id(second)}
            out.append(edit)
        if turn % 4 == 0 and (replies := [m for m in history if role(m) == "assistant"]):
            removed.append(message_id(replies[0]))  # drop the oldest reply
            out.append({"type": "remove", "id": removed[-1]})
        elif turn % 5 == 0 and removed:  # bring a dropped reply back
            out.append({"role": "assistant", "content": f"back at {turn}", "id": removed.pop()})
        return {"messages": out}

    def build() -> Any:
        return StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile(
            checkpointer=saver
        )

    live = build()
    system = {"role": "system", "content": "be brief " * 2000}
    seen = [live.invoke({"messages": [system, {"role": "user", "content": "turn 1"}]}, "chat")]
    for turn in range(2, 60):
        message = {"role": "user", "content": f"turn {turn}"}
        seen.append(live.invoke({"messages": [message]}, "chat"))
    cold = build()
    assert cold.get_state("chat").values == seen[-1]
    after_reply = [
        s.config for s in live.get_state_history("chat") if "reply" in (s.metadata["writes"] or {})
    ]
    assert [cold.get_state(config).values for config in reversed(after_reply)] == seen
    assert [s.values for s in cold.get_state_history("chat")] == [
        s.values for s in live.get_state_history("chat")
    ]


@pytest.mark.parametrize("form", ["plain"], indirect=True)  # the child process's form
def test_without_langchain_core_messages_stay_plain_dicts(tmp_path: Path) -> None:
    """In a process where langchain_core cannot be imported (and is not
    imported by cairn), messages are dicts with ids, stored and read back."""
    path = str(tmp_path / "chat.db")
    run_child("--without-langchain", "write", path)
    assert run_child("--without-langchain", "read", path) == [
        "dict user hello",
        "dict assistant re: hi",
        "dict user how are you?",
        "dict assistant re: how are you?",
        "dict user bye",
        "dict assistant re: bye",
        "langchain_core imported: False",
    ]
