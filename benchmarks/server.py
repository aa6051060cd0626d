"""Runs per second through a server with LangGraph's own client: ``cairn
serve`` against ``langgraph dev`` (LangGraph's in-memory server, from
``langgraph-cli[inmem]`` in ``benchmarks/.venv-langgraph`` only), on the
same graph, in one run on one machine.

    python3 benchmarks/server.py [--seconds 3] [--rounds 2] [--postgres URL]

Each server is started on a free port of 127.0.0.1 in a temporary folder
holding a langgraph.json and a 3-node graph (the same code importing from
``cairn`` or from ``langgraph``); once /ok answers, and after a few untimed
runs, two figures are measured for ``--seconds`` each:

- one client: ``runs.wait`` on one thread, one after another (sync client);
- 8 clients: 8 async clients at once, each ``runs.wait`` on its own thread.

cairn serves from a SQLite file (its default, durable: every step is
committed with an fsync), ``langgraph dev`` from memory. The rounds
alternate cairn, LangGraph, cairn, LangGraph; the best round is kept. With
``--postgres URL``, cairn serve on that PostgreSQL database (in a schema of
its own, dropped after) is measured too, in the same rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
LANGGRAPH_BIN = BENCH / ".venv-langgraph" / "bin"

GRAPH = """
import operator
from typing import Annotated, TypedDict
from {lib}.graph import END, START, StateGraph

class State(TypedDict):
    items: Annotated[list, operator.add]

def step(name):
    def node(state):
        return {{"items": [name]}}
    return node

builder = StateGraph(State)
builder.add_node("a", step("a"))
builder.add_node("b", step("b"))
builder.add_node("c", step("c"))
builder.add_edge(START, "a")
builder.add_edge("a", "b")
builder.add_edge("b", "c")
builder.add_edge("c", END)
graph = builder.compile()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(lib: str, folder: Path, db: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``lib``'s server on the graph; cairn's on ``db`` (default: a SQLite file in ``folder``)."""
    (folder / "graph.py").write_text(GRAPH.format(lib=lib))
    (folder / "langgraph.json").write_text(json.dumps({"dependencies": ["."], "graphs": {"g": "./graph.py:graph"}}))
    port = _port()
    if lib == "cairn":
        command = [sys.executable, "-m", "cairn.cli", "serve", "--port", str(port), "--db", db or str(folder / "c.db")]
        env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    else:
        command = [str(LANGGRAPH_BIN / "langgraph"), "dev", "--no-browser", "--no-reload", "--port", str(port)]
        env = {"PATH": f"{LANGGRAPH_BIN}:/usr/bin:/bin"}
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{lib}'s server did not answer /ok:\n{(folder / 'server.log').read_text()}")


def one_client(url: str, seconds: float) -> float:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=url)
    thread = client.threads.create()["thread_id"]
    for _ in range(3):
        client.runs.wait(thread, "g", input={"items": ["x"]})
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        client.runs.wait(thread, "g", input={"items": ["x"]})
        done += 1
    return done / (time.perf_counter() - start)


async def _clients(url: str, seconds: float, count: int) -> float:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    threads = [(await client.threads.create())["thread_id"] for _ in range(count)]
    await asyncio.gather(*(client.runs.wait(t, "g", input={"items": ["x"]}) for t in threads))
    done, start = 0, time.perf_counter()

    async def loop(thread: str) -> None:
        nonlocal done
        while time.perf_counter() - start < seconds:
            await client.runs.wait(thread, "g", input={"items": ["x"]})
            done += 1

    await asyncio.gather(*(loop(t) for t in threads))
    return done / (time.perf_counter() - start)


def measure(lib: str, seconds: float, db: str | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        process, url = _start(lib, Path(folder), db)
        try:
            return {"one client": one_client(url, seconds), "8 clients": asyncio.run(_clients(url, seconds, 8))}
        finally:
            process.terminate()
            process.wait(15)


def measure_postgres(url: str, seconds: float) -> dict[str, float]:
    """cairn serve on the PostgreSQL database ``url``, in a new schema dropped after."""
    import psycopg

    schema = f"cairn_bench_server_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        joiner = "&" if "?" in url else "?"
        return measure("cairn", seconds, f"{url}{joiner}options={quote(f'-csearch_path={schema}')}")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", metavar="URL", help="also measure cairn serve on this PostgreSQL database")
    args = parser.parse_args()
    if not (LANGGRAPH_BIN / "langgraph").exists():
        raise SystemExit(
            f"langgraph dev is missing: {LANGGRAPH_BIN / 'python'} -m pip install 'langgraph-cli[inmem]'"
        )
    best: dict[str, dict[str, float]] = {"cairn": {}, "langgraph": {}, "postgres": {}}
    for _ in range(args.rounds):
        for lib in ("cairn", "langgraph", *(("postgres",) if args.postgres else ())):
            found = measure_postgres(args.postgres, args.seconds) if lib == "postgres" else measure(lib, args.seconds)
            for figure, value in found.items():
                best[lib][figure] = max(value, best[lib].get(figure, 0.0))
    postgres = " cairn serve (PostgreSQL) | ratio |" if args.postgres else ""
    print(f"| runs/s (runs.wait) | cairn serve (SQLite) | langgraph dev (memory) | ratio |{postgres}")
    print("|---|---|---|---|" + ("---|---|" if args.postgres else ""))
    for figure in ("one client", "8 clients"):
        c, lg = best["cairn"][figure], best["langgraph"][figure]
        row = f"| {figure} | {c:,.1f} | {lg:,.1f} | {c / lg:.1f}x |"
        if args.postgres:
            pg = best["postgres"][figure]
            row += f" {pg:,.1f} | {pg / lg:.1f}x |"
        print(row)


if __name__ == "__main__":
    main()
