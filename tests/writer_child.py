"""The graph and the child-process entry points of tests/test_one_writer.py.

The tests import ``build_graph`` from here, so a parent and its children build
exactly the same graph. Children are started from the repository root with

    python -m tests.writer_child <command> KIND TARGET [args...]

where KIND is "sqlite" (TARGET: the file) or "postgres" (TARGET: the URL).
Every line a child prints is flushed at once. Commands:

    hold KIND TARGET THREAD TTL
        Open a saver with lease_ttl=TTL and start a run on THREAD. When node
        n2 runs, print "entered <pid>" and block until a line arrives on
        stdin (the parent SIGKILLs or SIGSTOPs it meanwhile, or lets it go).
        Prints "done <result as JSON>" at the end, or "error <class> <message>"
        and exits with code 3 if the run raises.
    bulk KIND TARGET PREFIX COUNT GO
        Print "ready", wait until the file GO exists, then for each thread
        PREFIX-0 ... PREFIX-<COUNT-1>: invoke, update_state, invoke again.
        Prints "done".
    contend KIND TARGET TAG THREADS RUNS GO
        Print "ready", wait for GO, then RUNS times over THREADS shared
        threads (shared-0, shared-1, ...) start a run whose input is
        "<TAG>.<run>", with wait_for_thread=60. Prints "done".
"""

from __future__ import annotations

import json
import operator
import os
import sys
import time
from typing import Annotated, Any, Callable, TypedDict

from cairn.errors import CairnError
from cairn.graph import END, START, StateGraph

NODES = ["n1", "n2", "n3"]


class LogState(TypedDict):
    log: Annotated[list, operator.add]


Gate = Callable[[str, dict[str, Any]], None]


def build_graph(checkpointer: Any, gate: Gate | None = None, **compile_options: Any) -> Any:
    """n1 -> n2 -> n3; each node appends its name to ``log``. ``gate(name,
    config)``, when given, is called at the start of every node (it may block
    or raise)."""

    def make(name: str) -> Any:
        def node(state: LogState, config: Any) -> dict[str, Any]:
            if gate is not None:
                gate(name, config)
            return {"log": [name]}

        node.__name__ = name
        return node

    builder = StateGraph(LogState)
    previous = START
    for name in NODES:
        builder.add_node(name, make(name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=checkpointer, **compile_options)


def run_values(tag: str) -> list[str]:
    """What one complete run started with input ``[tag]`` adds to ``log``."""
    return [tag, *NODES]


def open_saver(kind: str, target: str, **options: Any) -> Any:
    if kind == "sqlite":
        from cairn.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target, **options)
    if kind == "postgres":
        from cairn.checkpoint.postgres import PostgresSaver

        return PostgresSaver(target, pool_size=3, **options)
    raise SystemExit(f"unknown saver kind {kind!r}")


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def wait_for_file(path: str) -> None:
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.002)


def hold(kind: str, target: str, thread_id: str, ttl: str) -> None:
    saver = open_saver(kind, target, lease_ttl=float(ttl))

    def gate(name: str, _config: dict[str, Any]) -> None:
        if name == "n2":
            say(f"entered {os.getpid()}")
            sys.stdin.readline()

    graph = build_graph(saver, gate)
    try:
        result = graph.invoke({"log": ["held"]}, config(thread_id))
    except CairnError as exc:
        say(f"error {type(exc).__name__} {exc}")
        saver.close()
        raise SystemExit(3)
    say(f"done {json.dumps(result)}")
    saver.close()


def bulk(kind: str, target: str, prefix: str, count: str, go: str) -> None:
    saver = open_saver(kind, target)
    graph = build_graph(saver)
    say("ready")
    wait_for_file(go)
    for i in range(int(count)):
        thread = config(f"{prefix}-{i}")
        graph.invoke({"log": ["a"]}, thread)
        graph.update_state(thread, {"log": ["u"]})
        graph.invoke({"log": ["b"]}, thread)
    saver.close()
    say("done")


def contend(kind: str, target: str, tag: str, threads: str, runs: str, go: str) -> None:
    saver = open_saver(kind, target, wait_for_thread=60)
    graph = build_graph(saver)
    say("ready")
    wait_for_file(go)
    for run in range(int(runs)):
        for i in range(int(threads)):
            graph.invoke({"log": [f"{tag}.{run}"]}, config(f"shared-{i}"))
    saver.close()
    say("done")


COMMANDS: dict[str, Callable[..., None]] = {"hold": hold, "bulk": bulk, "contend": contend}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
