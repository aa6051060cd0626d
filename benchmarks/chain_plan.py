"""The read of a snapshot's chain (``saver.get_chain``) on PostgreSQL tables
the planner has no statistics for yet, then after ``ANALYZE``.

A thread of N checkpoints (10,000 by default: 1,000 invokes of an 8-node
linear graph) is written to a fresh database; autovacuum has not analyzed it
yet, as after any burst of writes. The chain of the newest checkpoint (up to
its snapshot) is read from a new saver, best of a few reads, before and after
``ANALYZE cairn_checkpoints``, and the statement's plan is printed.

    python3 benchmarks/chain_plan.py [--checkpoints N] [--url URL]

The database named by ``--url`` (default ``$CAIRN_BENCH_POSTGRES_URL``'s
server, database ``cairn_bench_chain``) is dropped and created again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # workloads.py, beside this file

import psycopg  # noqa: E402

from workloads import config, linear_graph, load_library  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database(base: str, name: str) -> str:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlsplit(base)._replace(path=f"/{name}").geturl()


def chain_reads(url: str, thread: str, head: str, repeats: int) -> tuple[float, int]:
    """Best ms of ``repeats`` reads of the head's chain on a new saver, and its length."""
    from cairn.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        times, length = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            length = len(saver.get_chain(thread, "", head))
            times.append(time.perf_counter() - started)
    return min(times) * 1000, length


def analyzed(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
            "FROM pg_stat_user_tables WHERE relname = 'cairn_checkpoints'"
        ).fetchone()
    return bool(found and found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    base = os.environ.get("CAIRN_BENCH_POSTGRES_URL", DEFAULT_URL)
    url = args.url or fresh_database(base, "cairn_bench_chain")

    from cairn.checkpoint.postgres import PostgresSaver

    lib = load_library("cairn")
    thread = "chain"
    nodes = 8
    with PostgresSaver.from_conn_string(url) as saver:
        graph = linear_graph(lib, saver, nodes)
        for i in range(args.checkpoints // (nodes + 2)):
            graph.invoke({"count": i, "log": []}, config(thread), durability="sync")
        head = graph.get_state(config(thread)).config["configurable"]["checkpoint_id"]
    if analyzed(url):
        print("autovacuum analyzed the table already: the 'before' figure is not fresh")
    fresh_ms, length = chain_reads(url, thread, head, args.repeats)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE cairn_checkpoints")
    after_ms, _ = chain_reads(url, thread, head, args.repeats)
    print(f"chain of {length} checkpoints in a thread of {args.checkpoints:,}:")
    print(f"  no statistics (fresh table): {fresh_ms:8.1f} ms")
    print(f"  after ANALYZE:               {after_ms:8.1f} ms")


if __name__ == "__main__":
    main()
