"""Storage grows with what happened, not with the state at every step.

Byte counts, not timings: a chat whose state grows by appends must store
each message about once (plus bounded snapshots), and reading the head must
replay only about one state's worth of writes. The full 400-turn figures are
in benchmarks/chat_storage.py.
"""

from __future__ import annotations

import os
from typing import Any

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.graph import START, MessagesState, StateGraph

TURNS = 120
SIZE = 500


def chat(saver: BaseCheckpointSaver) -> Any:
    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": os.urandom(SIZE // 2).hex()}]}

    graph = StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply")
    compiled = graph.compile(checkpointer=saver)
    for _ in range(TURNS):
        message = {"role": "user", "content": os.urandom(SIZE // 2).hex()}
        compiled.invoke({"messages": [message]}, "chat")
    return compiled


def test_a_growing_chat_stores_each_message_about_once(saver: Any) -> None:
    chat(saver)
    message_bytes = 2 * TURNS * SIZE
    stats = saver.stats()
    assert stats.checkpoints == 3 * TURNS
    assert stats.pending_writes == 0  # each input moved into its step's writes
    # Each message once in the log (with its id and role), snapshots bounded
    # by the snapshot rule, little else; LangGraph stores hundreds of times more.
    assert stats.log_bytes < 1.3 * message_bytes
    assert stats.snapshot_bytes < 2.5 * message_bytes
    # The rest is a checkpoint's own: its metadata (run id, graph name) and
    # next tasks, a bounded size each, whatever the messages hold.
    assert (stats.bytes - stats.log_bytes - stats.snapshot_bytes) / stats.checkpoints < 128
    assert stats.bytes < 3 * message_bytes


def test_reading_the_head_replays_about_one_state_of_writes(saver: Any) -> None:
    graph = chat(saver)
    head = saver.load("chat", "")
    chain = saver.get_chain("chat", "", head.id)
    snapshot = chain[0].snapshot
    assert snapshot is not None
    dumps = saver.serde.dumps
    replayed = sum(len(dumps([w.update for w in c.writes])) for c in chain[1:])
    state_bytes = len(dumps(graph.get_state("chat").values))
    assert len(dumps(dict(snapshot))) <= state_bytes
    assert replayed <= 1.25 * state_bytes + 2 * SIZE
