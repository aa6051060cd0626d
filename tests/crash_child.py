"""Graphs and entry points that the SQLite tests run in child processes.

The tests import the graph builders from here (so the parent and its children
build exactly the same graph), and start children with

    python -m tests.crash_child <command> [args...]

from the repository root. Commands:

    torture DB THREAD EFFECTS SEED start|resume [DURABILITY]
        Run the 12-node crash graph on THREAD of the SQLite file DB, starting
        with the input ("start") or with invoke(None, ...) ("resume"), with
        durability "sync" (the default) or another one. Prints
        "ready" just before the run begins and "done <seconds>" after it.
        The parent SIGKILLs it at a random moment in between.
    project DB THREAD RUNS
        "The next day" of seed 003: build the project workflow again and
        continue the thread with invoke(None, config); prints the result as JSON.
    writer DB PREFIX THREADS GO
        Wait until the file GO exists, then run THREADS threads named
        PREFIX-0, PREFIX-1, ... of the writer graph on DB; prints "done".

Node runs and side effects are recorded by appending lines to files (one
``os.write`` on an ``O_APPEND`` descriptor per line), so they survive a SIGKILL
of the process that made them.
"""

from __future__ import annotations

import json
import operator
import os
import random
import sys
import time
from typing import Annotated, Any, Literal, TypedDict

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.graph import END, START, StateGraph


def append_line(path: str, line: str) -> None:
    """Append one line to ``path`` with a single write (atomic for our purposes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_lines(path: str) -> list[str]:
    """The lines appended to ``path`` so far ([] if none)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line]


# --- the torture graph: 12 sequential nodes --------------------------------------

TORTURE_NODES = [f"n{i:02d}" for i in range(1, 13)]


class TortureState(TypedDict):
    log: Annotated[list, operator.add]
    count: Annotated[int, operator.add]
    last: str


TORTURE_INPUT: dict[str, Any] = {"log": [], "count": 0, "last": ""}


def build_torture_graph(checkpointer: Any, effects_path: str, seed: int = 0) -> Any:
    """n01 -> n02 -> ... -> n12. Each node sleeps 0-20 ms, appends its name to
    the effects file (a side effect outside the state), and returns its name
    for ``log``, 1 for ``count`` and its name as ``last``."""
    rng = random.Random(seed)
    pauses = {name: rng.uniform(0.0, 0.020) for name in TORTURE_NODES}

    def make(name: str) -> Any:
        def node(state: TortureState) -> dict[str, Any]:
            time.sleep(pauses[name])
            append_line(effects_path, name)
            return {"log": [name], "count": 1, "last": name}

        node.__name__ = name
        return node

    builder = StateGraph(TortureState)
    previous = START
    for name in TORTURE_NODES:
        builder.add_node(name, make(name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=checkpointer)


def torture(
    db: str, thread_id: str, effects: str, seed: str, mode: str, durability: str = "sync"
) -> None:
    saver = SqliteSaver(db)
    graph = build_torture_graph(saver, effects, int(seed))
    config = {"configurable": {"thread_id": thread_id}}
    print("ready", flush=True)
    began = time.perf_counter()
    graph.invoke(dict(TORTURE_INPUT) if mode == "start" else None, config, durability=durability)
    print(f"done {time.perf_counter() - began:.4f}", flush=True)
    saver.close()


# --- seed 003: the multi-day project workflow ----------------------------------


class ProjectState(TypedDict, total=False):
    project_name: str
    project_description: str
    planning_complete: bool
    execution_complete: bool
    review_complete: bool
    project_plan: str
    execution_results: list[str]
    final_report: str
    current_stage: Literal["planning", "execution", "review", "complete"]
    completed_tasks: list[str]
    pending_tasks: list[str]


PROJECT_TASKS = [f"Task {i}" for i in range(1, 7)]
TASKS_PER_DAY = 3


def build_project_workflow(checkpointer: Any, runs_path: str) -> Any:
    """Seed 003's planning -> execution (a few tasks a day, repeated) -> review.

    The workflow pauses after planning and after every execution batch (one
    "day" of work each); ``invoke(None, config)`` is "resume the project".
    Each node run appends the node's name to ``runs_path``.
    """

    def planning_stage(state: ProjectState) -> dict[str, Any]:
        append_line(runs_path, "planning")
        return {
            "project_plan": f"plan for {state['project_name']}: " + ", ".join(PROJECT_TASKS),
            "pending_tasks": list(PROJECT_TASKS),
            "completed_tasks": [],
            "execution_results": [],
            "planning_complete": True,
            "current_stage": "execution",
        }

    def execution_stage(state: ProjectState) -> dict[str, Any]:
        append_line(runs_path, "execution")
        todo = state["pending_tasks"][:TASKS_PER_DAY]
        remaining = state["pending_tasks"][TASKS_PER_DAY:]
        all_done = not remaining
        return {
            "completed_tasks": state["completed_tasks"] + todo,
            "execution_results": state["execution_results"] + [f"{t}: done" for t in todo],
            "pending_tasks": remaining,
            "execution_complete": all_done,
            "current_stage": "review" if all_done else "execution",
        }

    def review_stage(state: ProjectState) -> dict[str, Any]:
        append_line(runs_path, "review")
        return {
            "final_report": f"{state['project_name']}: {len(state['completed_tasks'])} tasks done",
            "review_complete": True,
            "current_stage": "complete",
        }

    def after_execution(state: ProjectState) -> str:
        return "review" if state["execution_complete"] else "execution"

    workflow = StateGraph(ProjectState)
    workflow.add_node("planning", planning_stage)
    workflow.add_node("execution", execution_stage)
    workflow.add_node("review", review_stage)
    workflow.set_entry_point("planning")
    workflow.add_edge("planning", "execution")
    workflow.add_conditional_edges("execution", after_execution, ["execution", "review"])
    workflow.add_edge("review", END)
    return workflow.compile(
        checkpointer=checkpointer, interrupt_after=["planning", "execution"]
    )


def project(db: str, thread_id: str, runs: str) -> None:
    checkpointer = SqliteSaver.from_conn_string(db)
    graph = build_project_workflow(checkpointer, runs)
    result = graph.invoke(None, {"configurable": {"thread_id": thread_id}})
    checkpointer.close()
    print(json.dumps(result, sort_keys=True))


# --- a small graph for concurrent writers ----------------------------------------

WRITER_STEPS = 6


class WriterState(TypedDict):
    items: Annotated[list, operator.add]


def build_writer_graph(checkpointer: Any) -> Any:
    """w1 -> w2 -> ... -> w6, each appending "<thread>:<node>" to ``items``."""

    def make(name: str) -> Any:
        def node(state: WriterState, config: Any) -> dict[str, Any]:
            time.sleep(0.001)
            return {"items": [f"{config['configurable']['thread_id']}:{name}"]}

        return node

    builder = StateGraph(WriterState)
    previous = START
    for i in range(1, WRITER_STEPS + 1):
        builder.add_node(f"w{i}", make(f"w{i}"))
        builder.add_edge(previous, f"w{i}")
        previous = f"w{i}"
    return builder.compile(checkpointer=checkpointer)


def writer_expected(thread_id: str, upto: int = WRITER_STEPS) -> list[str]:
    return [f"{thread_id}:w{i}" for i in range(1, upto + 1)]


def writer(db: str, prefix: str, threads: str, go: str) -> None:
    deadline = time.monotonic() + 30
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.001)
    saver = SqliteSaver(db)
    graph = build_writer_graph(saver)
    for i in range(int(threads)):
        graph.invoke({"items": []}, {"configurable": {"thread_id": f"{prefix}-{i}"}})
    saver.close()
    print("done", flush=True)


COMMANDS = {"torture": torture, "project": project, "writer": writer}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
