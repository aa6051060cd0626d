"""A fan-out graph that the SIGKILL tests of finished siblings run in child
processes, on a SQLite file or a PostgreSQL URL:

    python -m tests.fanout_child DB THREAD EFFECTS SEED start|resume sync|async

Four stages of three parallel nodes each (every node of a stage leads to
every node of the next, so each stage is one step). Each node sleeps a
while (drawn from SEED, the same in every process), then appends its name to
EFFECTS: one ``os.write`` on an ``O_APPEND`` descriptor, which survives a
SIGKILL. A node whose name is listed in the file ``EFFECTS.hold`` waits
until that file is gone before it returns: a test holds a slow sibling
there while the others finish. Prints "ready" before the run, "done" after.
"""

from __future__ import annotations

import asyncio
import operator
import random
import sys
import time
from typing import Annotated, Any, TypedDict

from cairn.graph import START, StateGraph
from tests.crash_child import append_line
from tests.support import saver_on as open_saver

STAGES = [[f"s{stage}{branch}" for branch in "abc"] for stage in range(1, 5)]
NODES = [name for stage in STAGES for name in stage]


class FanState(TypedDict):
    log: Annotated[list, operator.add]


def held(effects: str, name: str) -> bool:
    try:
        with open(effects + ".hold", encoding="utf-8") as f:
            return name in f.read().split()
    except FileNotFoundError:
        return False


def build_fanout_graph(checkpointer: Any, effects: str, seed: int = 0) -> Any:
    rng = random.Random(seed)
    pauses = {name: rng.uniform(0.0, 0.030) for name in NODES}

    def make(name: str) -> Any:
        def node(state: FanState) -> dict[str, Any]:
            time.sleep(pauses[name])
            while held(effects, name):
                time.sleep(0.005)
            append_line(effects, name)
            return {"log": [name]}

        node.__name__ = name
        return node

    builder = StateGraph(FanState)
    for name in NODES:
        builder.add_node(name, make(name))
    for name in STAGES[0]:
        builder.add_edge(START, name)
    for stage, following in zip(STAGES, STAGES[1:]):
        for a in stage:
            for b in following:
                builder.add_edge(a, b)
    return builder.compile(checkpointer=checkpointer)


def main(db: str, thread_id: str, effects: str, seed: str, mode: str, driver: str) -> None:
    config = {"configurable": {"thread_id": thread_id}}
    with open_saver(db) as saver:
        graph = build_fanout_graph(saver, effects, int(seed))
        given = {"log": []} if mode == "start" else None
        print("ready", flush=True)
        if driver == "async":
            asyncio.run(graph.ainvoke(given, config))
        else:
            graph.invoke(given, config)
        print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
