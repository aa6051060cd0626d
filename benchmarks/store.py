"""The Store, cairn against LangGraph 1.2.22: put, get, search with a filter
and search by similarity, ops/s, on InMemoryStore, SqliteStore and
PostgresStore, in one run.

    python3 benchmarks/store.py [--seconds 1.0] [--rounds 2] [--items 1000]

As ``run.py`` does, each measurement runs in a fresh subprocess, cairn with
this interpreter (from this work tree's ``src/``) and LangGraph with the
interpreter of ``benchmarks/.venv-langgraph`` (created when missing),
alternating cairn, LangGraph, cairn, LangGraph; the best round is kept.

Each child fills a store with ``--items`` items over 10 namespaces
("bench", "ns0") ... ("bench", "ns9"), values of five fields (a quarter have
status "done"), then measures for ``--seconds`` each:

- put: a value replacing an item's (so the store keeps its size); on
  Postgres also "put prepared", cairn's store with ``prepare=True`` (LangGraph
  prepares every statement; cairn does not by default, for PgBouncer);
- get: a random existing key;
- search(filter): ``search(("bench",), filter={"status": "done"}, limit=10)``;
- search(vector): ``search(("vec",), query=..., limit=10)`` in a second store
  of the same items indexed on "text" (64 dimensions, a deterministic
  embedding that costs the same on both sides).

SQLite: a file in a temporary directory, each library with its defaults
(cairn: WAL, synchronous FULL; LangGraph: SQLite's rollback journal,
synchronous FULL). Postgres: the databases ``cairn_bench_cairn`` and
``cairn_bench_langgraph`` at ``$CAIRN_BENCH_POSTGRES_URL`` (dropped and
recreated). A figure a library cannot measure (LangGraph's PostgresStore
needs pgvector for an index) is shown as n/a with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator
from contextlib import contextmanager

BENCH = Path(__file__).resolve().parent
KINDS = ("memory", "sqlite", "postgres")
FIGURES = ("put", "put prepared", "get", "search(filter)", "search(vector)")
"""put prepared: cairn's PostgresStore(prepare=True), against LangGraph's put (which prepares)."""
DIMS = 64
NAMESPACES = 10


# --- the child: one library, one kind of store ----------------------------------------


def embed(texts: Any) -> list[list[float]]:
    """A deterministic embedding, the same cost on both sides."""
    found = []
    for text in texts:
        rng = random.Random(zlib.crc32(text.encode()))
        found.append([rng.uniform(-1.0, 1.0) for _ in range(DIMS)])
    return found


@contextmanager
def open_store(lib: str, kind: str, target: str, index: bool, prepare: bool = False) -> Iterator[Any]:
    config = {"dims": DIMS, "embed": embed, "fields": ["text"]} if index else None
    if lib == "cairn":
        if kind == "memory":
            from cairn.store.memory import InMemoryStore

            yield InMemoryStore(index=config)  # type: ignore[arg-type]
        elif kind == "sqlite":
            from cairn.store.sqlite import SqliteStore

            with SqliteStore(target, index=config) as store:  # type: ignore[arg-type]
                yield store
        else:
            from cairn.store.postgres import PostgresStore

            with PostgresStore(target, index=config, pool_size=2, prepare=prepare) as store:  # type: ignore[arg-type]
                yield store
        return
    if kind == "memory":
        from langgraph.store.memory import InMemoryStore as LgMemory

        yield LgMemory(index=config)  # type: ignore[arg-type]
    elif kind == "sqlite":
        import sqlite3

        from langgraph.store.sqlite import SqliteStore as LgSqlite

        conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        store = LgSqlite(conn, index=config)  # type: ignore[arg-type]
        store.setup()
        yield store
        conn.close()
    else:
        from langgraph.store.postgres import PostgresStore as LgPostgres

        with LgPostgres.from_conn_string(target, index=config) as store:  # type: ignore[arg-type]
            store.setup()
            yield store


def value(n: int) -> dict[str, Any]:
    return {
        "text": f"note {n} about topic {n % 37} and item {n % 11}",
        "status": "done" if n % 4 == 0 else "open",
        "n": n,
        "tags": ["a", "b"] if n % 2 else ["c"],
        "owner": f"user-{n % 13}",
    }


def rate(op: Callable[[int], Any], seconds: float) -> float:
    for n in range(5):
        op(n)
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        op(done)
        done += 1
    return done / elapsed


def child(lib: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    items, seconds, target = params["items"], params["seconds"], params.get("target", "")
    figures: dict[str, float] = {}
    info: dict[str, str] = {}
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "store.db") if kind == "sqlite" else target
    with open_store(lib, kind, path, index=False) as store:
        for n in range(items):
            store.put(("bench", f"ns{n % NAMESPACES}"), f"k{n}", value(n))
        rng = random.Random(3)
        figures["put"] = rate(  # updates: the store keeps its size for what follows
            lambda n: store.put(("bench", f"ns{n % NAMESPACES}"), f"k{n % items}", value(n % items)),
            seconds,
        )
        keys = [(f"ns{n % NAMESPACES}", f"k{n}") for n in range(items)]

        def get(_: int) -> None:
            ns, key = rng.choice(keys)
            assert store.get(("bench", ns), key) is not None

        figures["get"] = rate(get, seconds)
        figures["search(filter)"] = rate(
            lambda _: store.search(("bench",), filter={"status": "done"}, limit=10), seconds
        )
    if lib == "cairn" and kind == "postgres":
        with open_store(lib, kind, path, index=False, prepare=True) as store:
            figures["put prepared"] = rate(
                lambda n: store.put(("bench", f"ns{n % NAMESPACES}"), f"k{n % items}", value(n % items)),
                seconds,
            )
    vec_path = os.path.join(folder, "vec.db") if kind == "sqlite" else target
    try:
        with open_store(lib, kind, vec_path, index=True) as store:
            for n in range(items):
                store.put(("vec", f"ns{n % NAMESPACES}"), f"k{n}", value(n))
            found = store.search(("vec",), query="note about topic 5", limit=10)
            assert len(found) == 10 and found[0].score is not None
            figures["search(vector)"] = rate(
                lambda n: store.search(("vec",), query=f"topic {n % 37}", limit=10), seconds
            )
    except Exception as exc:  # noqa: BLE001 - reported as n/a with the reason
        info["search(vector)"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:120]
    return {"figures": figures, "info": info}


# --- the parent: both libraries, every kind, side by side ------------------------------


def run_child(lib: str, kind: str, params: dict[str, Any], langgraph_python: Path) -> dict[str, Any]:
    from run import interpreter  # beside this file

    python, env = interpreter(lib, langgraph_python)
    command = [python, str(BENCH / "store.py"), "--child", lib, kind, json.dumps(params)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=BENCH, env=env, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"figures": {}, "info": {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="of each measurement")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each library")
    parser.add_argument("--items", type=int, default=1000, help="items in each store")
    parser.add_argument("--only", action="append", default=[], choices=KINDS, help="a kind of store")
    args = parser.parse_args(argv)
    from run import DEFAULT_POSTGRES_URL, ensure_venv, fresh_databases

    langgraph_python = ensure_venv()
    base = os.environ.get("CAIRN_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    rows = []
    for kind in args.only or KINDS:
        best: dict[str, dict[str, float]] = {"cairn": {}, "langgraph": {}}
        notes: dict[str, dict[str, str]] = {"cairn": {}, "langgraph": {}}
        for round_ in range(args.rounds):
            for lib in ("cairn", "langgraph"):
                params: dict[str, Any] = {"items": args.items, "seconds": args.seconds}
                if kind == "postgres":
                    urls, why = fresh_databases(base, [f"cairn_bench_{lib}"])
                    if why:
                        notes[lib]["all"] = why
                        continue
                    params["target"] = urls[f"cairn_bench_{lib}"]
                result = run_child(lib, kind, params, langgraph_python)
                for figure, number in result["figures"].items():
                    best[lib][figure] = max(best[lib].get(figure, 0.0), number)
                notes[lib].update(result.get("info", {}))
                shown = ", ".join(f"{k} {v:,.0f}" for k, v in result["figures"].items())
                print(f"  {kind:8} round {round_ + 1} {lib:9} {shown} {result.get('info') or ''}",
                      flush=True)
        for figure in FIGURES:
            if figure == "put prepared" and figure not in best["cairn"]:
                continue
            mine = best["cairn"].get(figure)
            theirs = best["langgraph"].get("put" if figure == "put prepared" else figure)
            ratio = f"{mine / theirs:.2f}x" if mine and theirs else "-"
            rows.append((kind, figure, _cell(mine, notes["cairn"], figure),
                         _cell(theirs, notes["langgraph"], figure), ratio))
    print()
    print("| store | operation | cairn ops/s | LangGraph 1.2.22 ops/s | cairn / LangGraph |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _cell(number: float | None, notes: dict[str, str], figure: str) -> str:
    if number:
        return f"{number:,.0f}"
    reason = notes.get(figure) or notes.get("error") or notes.get("all") or "not measured"
    return f"n/a ({reason})"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        lib, kind, params = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
        print(json.dumps(child(lib, kind, params)))
    else:
        main(sys.argv[1:])
