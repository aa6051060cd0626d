"""The 400-turn chat: how storage and speed grow as a thread gets long.

Each turn sends a ~500-character user message into a thread whose one node
appends a ~500-character reply to ``messages`` through ``add_messages``, with
a durable SQLite saver. Prints the bytes stored against the bytes of the
messages themselves, the time of early and late turns, and what a cold
``get_state`` (a new process's first read) has to read.

The workload runs twice: with language-like text (words of a 400-word
vocabulary drawn with Zipf's law, as words are in real messages) and with
random letters, which no compressor can shrink much: the worst case.

    python benchmarks/chat_storage.py [--turns 400]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from typing import Any

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.graph import START, MessagesState, StateGraph
from chat_text import SIZE, text  # beside this file


def build(saver: Any, kind: str) -> Any:
    rng = random.Random(7)

    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": text(rng, kind)}]}

    return StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile(
        checkpointer=saver
    )


def file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def run(turns: int, kind: str) -> None:
    path = os.path.join(tempfile.mkdtemp(), "chat.db")
    rng = random.Random(1)
    config = {"configurable": {"thread_id": "chat"}}
    times = []
    with SqliteSaver(path) as saver:
        graph = build(saver, kind)
        for _ in range(turns):
            started = time.perf_counter()
            graph.invoke({"messages": [{"role": "user", "content": text(rng, kind)}]}, config)
            times.append(time.perf_counter() - started)
        stats = saver.stats()
    message_bytes = 2 * turns * SIZE
    with SqliteSaver(path) as cold:  # a new saver and graph: nothing cached
        graph = build(cold, kind)
        head = cold.get("chat", "")
        assert head is not None
        chain = cold.get_chain("chat", "", head.id)
        read = len(cold.serde.dumps(dict(chain[0].snapshot or {}))) + sum(
            len(cold.serde.dumps([[w.task_id, w.name, w.update, w.goto] for w in c.writes]))
            for c in chain[1:]
        )
        started = time.perf_counter()
        state = graph.get_state(config)
        cold_ms = (time.perf_counter() - started) * 1000
        state_bytes = len(cold.serde.dumps(state.values))
    size = file_bytes(path)
    tenth = sum(times[5:15]) / 10 * 1000
    last = sum(times[-10:]) / 10 * 1000
    print(f"\n{turns}-turn chat, {kind} text")
    print(f"  message bytes              {message_bytes:,}")
    print(f"  checkpoints                {stats.checkpoints:,}")
    print(f"  database file              {size:,} bytes = {size / message_bytes:.2f}x the messages")
    print(f"  stored blobs               {stats.bytes:,} (log {stats.log_bytes:,}, "
          f"snapshots {stats.snapshot_bytes:,})")
    print(f"  turn time, turns 6-15      {tenth:.2f} ms")
    print(f"  turn time, last 10 turns   {last:.2f} ms")
    print(f"  cold get_state             {cold_ms:.2f} ms; read {read:,} bytes "
          f"({len(chain)} checkpoints) for a state of {state_bytes:,} = {read / state_bytes:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    for kind in ("words", "random"):
        run(args.turns, kind)


if __name__ == "__main__":
    main()
