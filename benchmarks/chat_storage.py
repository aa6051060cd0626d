"""The 400-turn chat: how storage and speed grow as a thread gets long.

Each turn sends a ~500-character user message into a thread whose one node
appends a ~500-character reply to ``messages`` through ``add_messages``, with
a durable SQLite saver. Prints the bytes stored against the bytes of the
messages themselves, the time of early and late turns, and what a cold
``get_state`` (a new process's first read) has to read.

    python benchmarks/chat_storage.py [--turns 400] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import string
import tempfile
import time
from typing import Any

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.graph import START, MessagesState, StateGraph

SIZE = 500


def text(rng: random.Random, size: int = SIZE) -> str:
    """Word-like text of about ``size`` characters."""
    words = []
    while sum(len(w) + 1 for w in words) < size:
        words.append("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))))
    return " ".join(words)[:size]


def build(saver: Any) -> Any:
    rng = random.Random(7)

    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": text(rng)}]}

    return StateGraph(MessagesState).add_node("reply", reply).add_edge(START, "reply").compile(
        checkpointer=saver
    )


def file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(), "chat.db")
    rng = random.Random(1)
    config = {"configurable": {"thread_id": "chat"}}
    times = []
    with SqliteSaver(path) as saver:
        graph = build(saver)
        for _ in range(args.turns):
            started = time.perf_counter()
            graph.invoke({"messages": [{"role": "user", "content": text(rng)}]}, config)
            times.append(time.perf_counter() - started)
        stats = saver.stats()
        saver._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    message_bytes = 2 * args.turns * SIZE
    with SqliteSaver(path) as cold:
        graph = build(cold)
        head = cold.get(config["configurable"]["thread_id"], "")
        assert head is not None
        chain = cold.get_chain("chat", "", head.id)
        snapshot = len(cold.serde.dumps(dict(chain[0].snapshot or {})))
        log = sum(len(cold.serde.dumps([[w.task_id, w.name, w.update, w.goto] for w in c.writes])) for c in chain[1:])
        started = time.perf_counter()
        state = graph.get_state(config)
        cold_ms = (time.perf_counter() - started) * 1000
        state_bytes = len(cold.serde.dumps(state.values))
    early = sum(times[5:15]) / 10 * 1000
    late = sum(times[-10:]) / 10 * 1000
    print(f"turns                      {args.turns}")
    print(f"message bytes              {message_bytes:,}")
    print(f"checkpoints                {stats.checkpoints:,}")
    print(f"stored bytes (blobs)       {stats.bytes:,}  = {stats.bytes / message_bytes:.2f}x messages")
    print(f"  log / snapshots          {stats.log_bytes:,} / {stats.snapshot_bytes:,}")
    print(f"database file              {file_bytes(path):,}  = {file_bytes(path) / message_bytes:.2f}x messages")
    print(f"turn time, turns 6-15      {early:.2f} ms")
    print(f"turn time, last 10 turns   {late:.2f} ms")
    print(f"cold get_state             {cold_ms:.2f} ms, read {snapshot + log:,} bytes "
          f"({len(chain)} rows) for a state of {state_bytes:,} bytes "
          f"= {(snapshot + log) / state_bytes:.2f}x")


if __name__ == "__main__":
    main()
