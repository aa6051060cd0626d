"""The workloads of the side-by-side benchmark, run with cairn or with LangGraph.

``run.py`` starts this file in a subprocess, with cairn's interpreter or with
the LangGraph virtual environment's, as

    python workloads.py LIBRARY WORKLOAD '{"param": value, ...}'

LIBRARY is ``cairn`` or ``langgraph``; the same code below imports
``StateGraph``, ``START``, ``END``, ``MessagesState`` and the savers from that
package, whose public APIs are the same. The last line printed is a JSON
object: ``{"figures": {...}, "info": {...}}``, or ``{"na": "reason"}`` when the
library lacks the saver asked for.

What each workload measures:

- ``linear``: node steps per second of a 10-node linear graph (state
  ``count`` plus a ``log`` list with an ``operator.add`` reducer), a fresh
  thread per run, ``durability="sync"``; with no checkpointer, in memory, on a
  SQLite file or on Postgres.
- ``fanout``: runs per second of START -> split -> 8 parallel nodes -> join,
  the 8 branches appending to one ``operator.add`` list; in memory.
- ``history``: time to read a whole thread of 1,000 checkpoints on SQLite
  (``list(graph.get_state_history(config))``) from a new saver on the file,
  and the time to write that thread (250 invokes of a 2-node graph).
- ``chat``: a chat of N turns on SQLite (``benchmarks/chat_storage.py``'s
  messages): bytes of the file against the bytes of the messages, time of an
  early and of a late turn, and a cold ``get_state`` (new saver, same file).
- ``concurrent_pg``: total node steps per second of 16 Python threads, each
  running the linear graph on threads of its own, on one Postgres saver.
- ``history_page``: a page of 10 of a SQLite thread of 10,000 checkpoints
  (``get_state_history(config, limit=10)``, newest and from the middle).
- ``list_threads``: the 10,000 threads of a SQLite file with their heads'
  metadata (LangGraph, which has no ``list_threads``: ``list(None)``).
- ``agent``: runs per second of ``create_react_agent`` (``version="v2"``)
  with a scripted chat model (tests/fake_chat.py, no network): two tool calls
  run side by side, then one more, then the answer (7 messages), a fresh
  thread per run; in memory and on a SQLite file.
- ``async_pg``: node steps per second of the linear graph with async nodes
  under ``ainvoke``, on one AsyncPostgresSaver whose server sits behind a
  1 ms one-way delay (``delay_proxy.py``): one run at a time, then 16
  concurrent runs (tasks of one event loop).
"""

from __future__ import annotations

import importlib
import json
import operator
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Iterator, TypedDict

from chat_text import SIZE, text  # beside this file

LINEAR_NODES = 10
FANOUT_BRANCHES = 8
PG_UNAVAILABLE = "cairn.checkpoint.postgres not available"


class Unavailable(Exception):
    """The library has no such saver (yet)."""


class Counter(TypedDict):
    count: int
    log: Annotated[list[str], operator.add]


@dataclass(frozen=True)
class Library:
    """The names a workload needs, imported from cairn or from LangGraph."""

    name: str
    StateGraph: Any
    START: str
    END: str
    MessagesState: Any
    InMemorySaver: Any


def load_library(name: str) -> Library:
    if name not in ("cairn", "langgraph"):
        raise SystemExit(f"library must be 'cairn' or 'langgraph', got {name!r}")
    graph = importlib.import_module(f"{name}.graph")
    memory = importlib.import_module(f"{name}.checkpoint.memory")
    return Library(
        name, graph.StateGraph, graph.START, graph.END, graph.MessagesState, memory.InMemorySaver
    )


# --- savers -----------------------------------------------------------------


@contextmanager
def open_saver(lib: Library, kind: str, folder: str, url: str = "") -> Iterator[Any]:
    """A saver of ``kind``: none, memory, sqlite, sqlite-normal, postgres, postgres-pool."""
    if kind == "none":
        yield None
    elif kind == "memory":
        yield lib.InMemorySaver()
    elif kind in ("sqlite", "sqlite-normal"):
        with sqlite_saver(lib, os.path.join(folder, "bench.db"), kind == "sqlite-normal") as saver:
            yield saver
    elif kind == "postgres":
        with postgres_saver(lib, url) as saver:
            yield saver
    elif kind == "postgres-pool":
        with langgraph_pooled_postgres_saver(lib, url) as saver:
            yield saver
    else:
        raise SystemExit(f"unknown saver {kind!r}")


@contextmanager
def sqlite_saver(lib: Library, path: str, normal: bool = False) -> Iterator[Any]:
    """cairn: ``SqliteSaver(path)``; LangGraph: ``SqliteSaver(sqlite3.connect(path))``."""
    module = importlib.import_module(f"{lib.name}.checkpoint.sqlite")
    if lib.name == "cairn":
        with module.SqliteSaver(path, synchronous="normal" if normal else "full") as saver:
            yield saver
        return
    if normal:
        raise Unavailable("LangGraph's SqliteSaver has no synchronous option")
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = module.SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


@contextmanager
def postgres_saver(lib: Library, url: str) -> Iterator[Any]:
    """``with PostgresSaver.from_conn_string(url) as saver: saver.setup()``, for both."""
    try:
        module = importlib.import_module(f"{lib.name}.checkpoint.postgres")
    except ModuleNotFoundError as exc:
        if lib.name == "cairn" and exc.name in ("cairn.checkpoint.postgres", "cairn.checkpoint"):
            raise Unavailable(PG_UNAVAILABLE) from exc
        raise
    saver_class = getattr(module, "PostgresSaver", None)
    if saver_class is None:  # the module is being written
        raise Unavailable(PG_UNAVAILABLE)
    with saver_class.from_conn_string(url) as saver:
        saver.setup()
        yield saver


@contextmanager
def langgraph_pooled_postgres_saver(lib: Library, url: str) -> Iterator[Any]:
    """LangGraph's PostgresSaver on a 16-connection pool instead of one connection."""
    if lib.name != "langgraph":
        raise Unavailable("the pooled variant is LangGraph's only")
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with ConnectionPool(url, min_size=16, max_size=16, kwargs=kwargs) as pool:
        saver = PostgresSaver(pool)
        saver.setup()
        yield saver


def sqlite_settings(saver: Any) -> dict[str, str]:
    """journal_mode and synchronous of LangGraph's own connection, as it set them."""
    conn = getattr(saver, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        return {}
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {
        "journal_mode": str(conn.execute("PRAGMA journal_mode").fetchone()[0]),
        "synchronous": names.get(conn.execute("PRAGMA synchronous").fetchone()[0], "?"),
    }


# --- graphs -----------------------------------------------------------------


def step(name: str) -> Callable[[Counter], dict[str, Any]]:
    def node(state: Counter) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": [name]}

    return node


def branch(name: str) -> Callable[[Counter], dict[str, Any]]:
    def node(state: Counter) -> dict[str, Any]:
        return {"log": [name]}

    return node


def linear_graph(lib: Library, saver: Any, nodes: int = LINEAR_NODES) -> Any:
    graph = lib.StateGraph(Counter)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        graph.add_node(name, step(name))
    for a, b in zip([lib.START, *names], [*names, lib.END]):
        graph.add_edge(a, b)
    return graph.compile(checkpointer=saver)


def fanout_graph(lib: Library, saver: Any) -> Any:
    graph = lib.StateGraph(Counter)
    branches = [f"b{i}" for i in range(FANOUT_BRANCHES)]
    graph.add_node("split", step("split"))
    graph.add_node("join", step("join"))
    for name in branches:
        graph.add_node(name, branch(name))
        graph.add_edge("split", name)
    graph.add_edge(lib.START, "split")
    graph.add_edge(branches, "join")
    graph.add_edge("join", lib.END)
    return graph.compile(checkpointer=saver)


def chat_graph(lib: Library, saver: Any, kind: str) -> Any:
    rng = random.Random(7)

    def reply(state: Any) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": text(rng, kind)}]}

    graph = lib.StateGraph(lib.MessagesState)
    graph.add_node("reply", reply)
    graph.add_edge(lib.START, "reply")
    return graph.compile(checkpointer=saver)


# --- timing -----------------------------------------------------------------


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def invoker(graph: Any, durable: bool, prefix: str) -> Callable[[int], Any]:
    """A function running the graph once on a fresh thread (no thread without a saver)."""
    start = {"count": 0, "log": []}
    if not durable:
        return lambda i: graph.invoke(start)
    return lambda i: graph.invoke(start, config(f"{prefix}-{i}"), durability="sync")


def throughput(run_once: Callable[[int], Any], seconds: float, warmup: int) -> tuple[int, float]:
    """Runs completed in about ``seconds`` after ``warmup`` untimed runs, and the time taken."""
    for i in range(warmup):
        run_once(i)
    runs, started = 0, time.perf_counter()
    while True:
        run_once(warmup + runs)
        runs += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return runs, elapsed


def check(result: Any, expected_log: int) -> None:
    """The same work was done: every node ran once."""
    if len(result["log"]) != expected_log:
        raise AssertionError(f"expected {expected_log} log entries, got {len(result['log'])}")


# --- workloads ----------------------------------------------------------------


def linear(lib: Library, saver_kind: str, seconds: float, url: str = "") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, open_saver(lib, saver_kind, folder, url) as saver:
        run_once = invoker(linear_graph(lib, saver), saver is not None, uuid.uuid4().hex)
        check(run_once(-1), LINEAR_NODES)
        runs, elapsed = throughput(run_once, seconds, warmup=5)
        info = sqlite_settings(saver)
    return {"figures": {"steps_per_s": runs * LINEAR_NODES / elapsed}, "info": info}


def fanout(lib: Library, seconds: float) -> dict[str, Any]:
    with open_saver(lib, "memory", "") as saver:
        run_once = invoker(fanout_graph(lib, saver), True, uuid.uuid4().hex)
        check(run_once(-1), FANOUT_BRANCHES + 2)
        runs, elapsed = throughput(run_once, seconds, warmup=5)
    return {"figures": {"runs_per_s": runs / elapsed}}


def history(lib: Library, checkpoints: int, repeats: int) -> dict[str, Any]:
    """Each invoke of a 2-node graph adds 4 checkpoints: input, start, 2 nodes."""
    thread = config("history")
    nodes = 2
    invokes = checkpoints // (nodes + 2)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.db")
        with sqlite_saver(lib, path) as saver:
            graph = linear_graph(lib, saver, nodes)
            started = time.perf_counter()
            for i in range(invokes):
                graph.invoke({"count": i, "log": []}, thread, durability="sync")
            build_s = time.perf_counter() - started
        with sqlite_saver(lib, path) as saver:
            graph = linear_graph(lib, saver, nodes)
            times, count = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                count = len(list(graph.get_state_history(thread)))
                times.append(time.perf_counter() - started)
    if count != checkpoints:
        raise AssertionError(f"expected {checkpoints} checkpoints, got {count}")
    figures = {"history_ms": min(times) * 1000, "first_history_ms": times[0] * 1000,
               "build_s": build_s}
    return {"figures": figures}


@contextmanager
def page_store(lib: Library, kind: str, folder: str, url: str) -> Iterator[Any]:
    """A saver on the store of the paging workloads: the SQLite file in
    ``folder``, or the Postgres database at ``url``, opened anew each time."""
    if kind == "sqlite":
        with sqlite_saver(lib, os.path.join(folder, "bench.db")) as saver:
            yield saver
    elif kind == "postgres":
        with postgres_saver(lib, url) as saver:
            yield saver
    else:
        raise SystemExit(f"unknown store {kind!r}")


def empty_postgres(url: str) -> None:
    """Drop what an earlier round left in the database (its public schema)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def history_page(lib: Library, checkpoints: int, repeats: int, kind: str = "sqlite",
                 url: str = "") -> dict[str, Any]:
    """A page of 10 (``get_state_history(config, limit=10)``) of one thread of
    ``checkpoints`` checkpoints (SQLite or Postgres), from a new saver on the
    store (the first read) and at best: the newest page, one from the middle
    (``before=``), and the 10 newest inputs below the middle
    (``before=``, ``filter={"source": "input"}``)."""
    thread = config("history")
    nodes = 8
    invokes = checkpoints // (nodes + 2)
    if kind == "postgres":
        empty_postgres(url)
    with tempfile.TemporaryDirectory() as folder:
        with page_store(lib, kind, folder, url) as saver:
            graph = linear_graph(lib, saver, nodes)
            for i in range(invokes):  # "sync": LangGraph's "exit" keeps only the last step
                graph.invoke({"count": i, "log": []}, thread, durability="sync")
            middle = list(graph.get_state_history(thread))[checkpoints // 2].config
        figures = {}
        pages = (("newest", None, None), ("middle", middle, None),
                 ("filtered", middle, {"source": "input"}))
        for name, before, wanted in pages:
            with page_store(lib, kind, folder, url) as saver:
                graph = linear_graph(lib, saver, nodes)
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    page = list(graph.get_state_history(thread, before=before, filter=wanted,
                                                        limit=10))
                    times.append(time.perf_counter() - started)
                if len(page) != 10:
                    raise AssertionError(f"expected a page of 10, got {len(page)}")
            figures[f"{name}_first_ms"] = times[0] * 1000
            figures[f"{name}_ms"] = min(times) * 1000
    return {"figures": figures, "info": {"checkpoints": checkpoints}}


def list_threads(lib: Library, threads: int, repeats: int, kind: str = "sqlite",
                 url: str = "") -> dict[str, Any]:
    """The threads of a store of ``threads`` threads (one-node runs; SQLite
    or Postgres), newest first with their head's metadata: cairn's
    ``list_threads()``; LangGraph has none, so the same answer from
    ``saver.list(None)``, the distinct thread ids of every checkpoint,
    newest first."""
    if kind == "postgres":
        empty_postgres(url)
    with tempfile.TemporaryDirectory() as folder:
        with page_store(lib, kind, folder, url) as saver:
            graph = linear_graph(lib, saver, 1)
            for i in range(threads):  # "exit": LangGraph keeps 1 checkpoint a thread, cairn 3
                graph.invoke({"count": i, "log": []}, config(f"t{i}"), durability="exit")
        with page_store(lib, kind, folder, url) as saver:
            times, found = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                if lib.name == "cairn":
                    found = len(saver.list_threads())
                else:
                    heads: dict[str, Any] = {}
                    for item in saver.list(None):
                        heads.setdefault(item.config["configurable"]["thread_id"], item.metadata)
                    found = len(heads)
                times.append(time.perf_counter() - started)
    if found != threads:
        raise AssertionError(f"expected {threads} threads, got {found}")
    return {"figures": {"first_ms": times[0] * 1000, "best_ms": min(times) * 1000}}


def file_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def chat(lib: Library, turns: int, kind: str = "words") -> dict[str, Any]:
    thread = config("chat")
    rng = random.Random(1)
    times: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "chat.db")
        with sqlite_saver(lib, path) as saver:
            graph = chat_graph(lib, saver, kind)
            for _ in range(turns):
                message = {"role": "user", "content": text(rng, kind)}
                started = time.perf_counter()
                graph.invoke({"messages": [message]}, thread, durability="sync")
                times.append(time.perf_counter() - started)
        stored = file_bytes(path)
        with sqlite_saver(lib, path) as cold:  # a new saver and graph: nothing cached
            graph = chat_graph(lib, cold, kind)
            started = time.perf_counter()
            state = graph.get_state(thread)
            cold_ms = (time.perf_counter() - started) * 1000
    if len(state.values["messages"]) != 2 * turns:
        raise AssertionError(f"expected {2 * turns} messages, got {len(state.values['messages'])}")
    message_bytes = 2 * turns * SIZE
    figures = {
        "file_mb": stored / 1e6,
        "file_ratio": stored / message_bytes,
        "early_turn_ms": sum(times[5:15]) / 10 * 1000,
        "late_turn_ms": sum(times[-10:]) / 10 * 1000,
        "cold_get_state_ms": cold_ms,
    }
    return {"figures": figures, "info": {"turns": turns, "kind": kind}}


def concurrent_pg(
    lib: Library, url: str, seconds: float, workers: int = 16, saver_kind: str = "postgres"
) -> dict[str, Any]:
    with open_saver(lib, saver_kind, "", url) as saver:
        graph = linear_graph(lib, saver)
        prefix = uuid.uuid4().hex
        ready, go = threading.Barrier(workers + 1), threading.Event()
        deadline = [0.0]
        runs = [0] * workers
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                run_once = invoker(graph, True, f"{prefix}-w{worker}")
                check(run_once(-1), LINEAR_NODES)  # warm-up, untimed
                ready.wait()
                go.wait()
                while time.perf_counter() < deadline[0]:
                    run_once(runs[worker])
                    runs[worker] += 1
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                ready.abort()

        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        try:
            ready.wait()  # every worker has run once
        except threading.BrokenBarrierError:
            pass
        started = time.perf_counter()
        deadline[0] = started + seconds
        go.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return {"figures": {"steps_per_s": sum(runs) * LINEAR_NODES / elapsed},
            "info": {"workers": workers}}


def async_step(name: str) -> Callable[[Counter], Any]:
    async def node(state: Counter) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": [name]}

    return node


@contextmanager
def delayed(url: str, delay_ms: float) -> Iterator[str]:
    """``url`` reached through delay_proxy.py (a process of its own)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    proxy = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "delay_proxy.py"),
         parts.hostname or "127.0.0.1", str(parts.port or 5432), str(delay_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proxy.stdout is not None
        port = int(proxy.stdout.readline())
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        yield urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{port}"))
    finally:
        proxy.kill()
        proxy.wait()


@contextmanager
def async_postgres_saver(lib: Library, url: str, pool: int) -> Iterator[Any]:
    """An AsyncPostgresSaver opened the way each library documents: cairn's
    with a pool of ``pool`` connections, LangGraph's ``from_conn_string``."""
    import asyncio

    module = importlib.import_module(f"{lib.name}.checkpoint.postgres.aio")
    if lib.name == "cairn":
        with module.AsyncPostgresSaver.from_conn_string(url, pool_size=pool) as saver:
            yield saver
        return
    loop = asyncio.new_event_loop()
    manager = module.AsyncPostgresSaver.from_conn_string(url)
    saver = loop.run_until_complete(manager.__aenter__())
    loop.run_until_complete(saver.setup())
    try:
        yield saver, loop
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def async_pg(lib: Library, url: str, seconds: float, workers: int = 16,
             delay_ms: float = 1.0) -> dict[str, Any]:
    import asyncio

    graph_builder = lib.StateGraph(Counter)
    names = [f"n{i}" for i in range(LINEAR_NODES)]
    for name in names:
        graph_builder.add_node(name, async_step(name))
    for a, b in zip([lib.START, *names], [*names, lib.END]):
        graph_builder.add_edge(a, b)
    start = {"count": 0, "log": []}

    async def measure(graph: Any, concurrency: int) -> float:
        deadline = time.perf_counter() + seconds
        runs = [0] * concurrency
        prefix = uuid.uuid4().hex

        async def work(worker: int) -> None:
            while time.perf_counter() < deadline:
                thread_id = f"{prefix}-{worker}-{runs[worker]}"
                check(await graph.ainvoke(start, config(thread_id), durability="sync"), LINEAR_NODES)
                runs[worker] += 1

        started = time.perf_counter()
        await asyncio.gather(*(work(w) for w in range(concurrency)))
        return sum(runs) * LINEAR_NODES / (time.perf_counter() - started)

    async def both(graph: Any) -> dict[str, float]:
        await measure(graph, 1)  # warm-up: connections, statements
        return {"sequential_steps_per_s": await measure(graph, 1),
                "concurrent_steps_per_s": await measure(graph, workers)}

    with delayed(url, delay_ms) as slow_url, async_postgres_saver(lib, slow_url, workers) as opened:
        if lib.name == "cairn":
            figures = asyncio.run(both(graph_builder.compile(checkpointer=opened)))
        else:
            saver, loop = opened
            figures = loop.run_until_complete(both(graph_builder.compile(checkpointer=saver)))
    figures["concurrent_over_sequential"] = figures["concurrent_steps_per_s"] / figures["sequential_steps_per_s"]
    return {"figures": figures, "info": {"workers": workers, "delay_ms": delay_ms}}


def agent(lib: Library, saver_kind: str, seconds: float) -> dict[str, Any]:
    import warnings

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool
    from tests.fake_chat import ScriptedChatModel, calls

    warnings.filterwarnings("ignore")  # LangGraph's deprecation of create_react_agent
    create_react_agent = importlib.import_module(f"{lib.name}.prebuilt").create_react_agent

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    script = [
        calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})),
        calls(("add", {"a": 5, "b": 6}), id_prefix="second"),
        AIMessage("3, 7 and 11"),
    ]
    with tempfile.TemporaryDirectory() as folder, open_saver(lib, saver_kind, folder) as saver:
        graph = create_react_agent(ScriptedChatModel(script=script), [add], checkpointer=saver)
        prefix = uuid.uuid4().hex

        def run_once(i: int) -> Any:
            return graph.invoke({"messages": [("user", "add")]}, config(f"{prefix}-{i}"))

        if len(run_once(-1)["messages"]) != 7:  # the question, 2 answers of the model with 3 tool results, the answer
            raise AssertionError("the agent did not run its three tool calls")
        runs, elapsed = throughput(run_once, seconds, warmup=5)
    return {"figures": {"runs_per_s": runs / elapsed}}


WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "agent": agent,
    "linear": linear,
    "fanout": fanout,
    "history": history,
    "chat": chat,
    "concurrent_pg": concurrent_pg,
    "async_pg": async_pg,
    "history_page": history_page,
    "list_threads": list_threads,
}


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[1] not in WORKLOADS:
        raise SystemExit(f"usage: workloads.py cairn|langgraph {'|'.join(WORKLOADS)} JSON")
    lib = load_library(argv[0])
    try:
        result = WORKLOADS[argv[1]](lib, **json.loads(argv[2]))
    except Unavailable as exc:
        result = {"na": str(exc)}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
