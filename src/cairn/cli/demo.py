"""``cairn demo``: seed 003's multi-day project, crashed, resumed and forked.

Day 1 runs in a child process that is killed with SIGKILL part-way; day 2
resumes the thread from the database file in this process; then the demo
shows the history, forks from the checkpoint after planning with an edited
plan and runs the fork to its end beside the original branch.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import click
from rich.console import Console
from rich.text import Text

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.cli import render
from cairn.cli.crash import CrashError, Day1Result, day1_worker, run_day1
from cairn.cli.models import STAND_IN, Model, ModelError, OllamaModel, model_from_option
from cairn.cli.project import build_project_graph, describe_writes
from cairn.cli.steps import StepEvent, checkpoint_id, follow
from cairn.cli.store import StoreError, open_saver
from cairn.errors import CairnError
from cairn.graph import START
from cairn.runtime import CompiledStateGraph
from cairn.types import StateSnapshot

# Day 1 is killed while the step after this one runs: planning and the
# first execution round are committed by then (checkpoints -1, 0, 1 and 2).
CRASH_AFTER_STEP = 2
MVP_TASKS = 4


@click.command()
@click.option(
    "--db",
    "db_option",
    # A str, not a Path: a Path would fold the "//" of a URL given by mistake.
    type=click.Path(dir_okay=True),
    default="cairn-demo.db",
    show_default=True,
    help="SQLite file holding the checkpoints (created if missing; not :memory:, which the "
    "day-1 child process cannot share).",
)
@click.option(
    "--model",
    "model_option",
    default=STAND_IN,
    show_default=True,
    metavar="stand-in|ollama:NAME",
    help="The language model: a deterministic stand-in, or a local Ollama model.",
)
@click.option("--day1-worker", "worker_thread", metavar="THREAD", hidden=True)
@click.option("--crash-after-step", type=int, default=CRASH_AFTER_STEP, hidden=True)
def demo(
    db_option: str, model_option: str, worker_thread: str | None, crash_after_step: int
) -> None:
    """Run a multi-day project workflow, crash it, resume it and fork it.

    Day 1 starts the project in a child process and kills it with SIGKILL
    in the middle of a step. Day 2 resumes the thread from the SQLite file, running only the
    steps that had not finished. Then the checkpoint history is shown, and an
    earlier checkpoint is edited and run as a second branch. Each run starts a
    new thread (project-1, project-2, ...) in the same file.

    Examples:

    \b
        cairn demo
        cairn demo --db /tmp/projects.db
        cairn demo --model ollama:llama3.2
    """
    db = database_path(db_option)
    try:
        model = model_from_option(model_option)
        if worker_thread is not None:  # the child process run_day1 starts
            day1_worker(db, worker_thread, model, crash_after_step, sys.stdout)
            return
        if isinstance(model, OllamaModel):
            model.check()
        run_demo(Console(highlight=False), db, model, model_option, crash_after_step)
    except (ModelError, StoreError, CrashError, CairnError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"database error in {str(db)!r}: {exc}") from None


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def database_path(db: str) -> Path:
    """The --db value as a path, refused at once when the demo cannot use it:
    day 1 runs in a child process, which must open the same file."""
    if db == ":memory:":
        raise click.ClickException(
            "--db ':memory:' is a database in this process's memory, and day 1 runs in a "
            "child process that cannot see it; give a file path such as 'cairn-demo.db'"
        )
    url = _URL.match(db)
    if url:
        raise click.ClickException(
            f"--db takes the path of a SQLite file, not a URL ({url.group(0)}...); the demo "
            "keeps its checkpoints in SQLite: give a path such as 'cairn-demo.db'"
        )
    return Path(db)


def next_thread_id(saver: BaseCheckpointSaver) -> str:
    """project-N for the smallest N not used yet in the file, so reruns keep
    the earlier runs' threads to look at."""
    taken = {info.thread_id for info in saver.list_threads()}
    n = 1
    while f"project-{n}" in taken:
        n += 1
    return f"project-{n}"


def run_demo(
    console: Console, db: Path, model: Model, model_option: str, crash_after_step: int
) -> None:
    """The whole demo, printed to ``console``."""
    with open_saver(db) as saver:
        thread_id = next_thread_id(saver)
    console.print(Text("cairn demo · a multi-day project that survives a crash", style="bold"))
    render.fields(
        console,
        [
            ("thread", thread_id),
            ("database", f"{db} (SQLite)"),
            ("model", model.name + (" (deterministic)" if model.name == STAND_IN else "")),
        ],
    )
    thread = {"configurable": {"thread_id": thread_id}}

    render.heading(
        console, "Day 1 · start the project", "a child process runs it and is killed part-way"
    )
    # A real model can take minutes; the stand-in answers at once.
    timeout = 60.0 if model.name == STAND_IN else 900.0
    day1 = run_day1(
        db,
        thread_id,
        model_option,
        crash_after_step,
        lambda event: render.step_line(console, event),
        timeout,
    )
    running = ", ".join(day1.steps[-1].next) if day1.steps else "the first step"
    render.note(
        console,
        f"SIGKILL -> pid {day1.pid} while step {crash_after_step + 1} ({running}) was running",
        "bold red",
    )

    render.heading(
        console,
        "Day 2 · resume",
        "this process reopens the file and resumes: graph.stream(None, config)",
    )
    with open_saver(db) as saver:
        calls: Counter[str] = Counter()
        graph = build_project_graph(model, saver, calls)
        main_head = day2(console, graph, thread, calls, day1)

        render.heading(console, "History", "graph.get_state_history(config), newest first")
        console.print(render.history_table(list(graph.get_state_history(thread))))

        render.heading(
            console, "Time travel · fork after planning", "update_state(..., as_node='planning')"
        )
        main_rounds = graph.get_state(main_head).values.get("execution_round", 0)
        fork_head = fork(console, graph, thread, main_rounds)

        main_report = graph.get_state(main_head).values.get("final_report", "")
        fork_report = graph.get_state(fork_head).values.get("final_report", "")
        console.print()
        reports = [
            ("original branch", main_report),
            (f"fork: MVP of {MVP_TASKS} tasks", fork_report),
        ]
        console.print(render.reports_side_by_side(reports))
        history = list(graph.get_state_history(thread))
        render.heading(console, "History with both branches", "newest first")
        console.print(render.history_table(history, branch_labels(history, main_head, fork_head)))
        threads = len(saver.list_threads())
    console.print()
    render.note(
        console, f"{str(db)!r} now holds {threads} thread(s); run `cairn demo` again for another."
    )


def day2(
    console: Console,
    graph: CompiledStateGraph,
    thread: Mapping[str, Any],
    calls: Counter[str],
    day1: Day1Result,
) -> dict[str, Any]:
    """Resume the crashed thread; returns the config of its last checkpoint."""
    found = graph.get_state(thread)
    values = found.values
    done, left = len(values.get("completed_tasks", [])), len(values.get("pending_tasks", []))
    step = (found.metadata or {}).get("step")
    next_nodes = ", ".join(found.next)
    render.note(
        console, f"the file holds step {step}: {done}/{done + left} tasks done, next: {next_nodes}"
    )
    last: StepEvent | None = None
    for last in follow(graph, None, {**thread, "metadata": {"day": 2}}, describe_writes):
        render.step_line(console, last)
    ran = ", ".join(f"{node} x{count}" for node, count in sorted(calls.items()))
    render.note(console, f"this process ran: {ran or 'nothing'}", "green")
    # Node calls are counted in this process only: the steps day 1 committed
    # show up here only if the resume ran them again.
    kept = [f"step {e.step} {'+'.join(e.nodes)}" for e in day1.steps if START not in e.nodes]
    render.note(
        console,
        f"not re-run: {', '.join(kept) or 'nothing'} (committed on day 1 by pid {day1.pid})",
        "green",
    )
    if last is None:
        return dict(found.config)
    return {"configurable": {**thread["configurable"], "checkpoint_id": last.checkpoint_id}}


def fork(
    console: Console, graph: CompiledStateGraph, thread: Mapping[str, Any], main_rounds: int
) -> dict[str, Any]:
    """Edit the checkpoint after planning down to an MVP and run that branch
    to its end; returns the config of the branch's last checkpoint."""
    after_planning = next(
        snapshot
        for snapshot in graph.get_state_history(thread)
        if (snapshot.metadata or {}).get("source") == "loop"
        and "planning" in ((snapshot.metadata or {}).get("writes") or {})
    )
    tasks = list(after_planning.values["pending_tasks"])
    edit = {
        "pending_tasks": tasks[:MVP_TASKS],
        "project_plan": after_planning.values["project_plan"]
        + f"\nScope cut to an MVP: only the first {MVP_TASKS} tasks; the rest are deferred.",
    }
    render.note(
        console,
        f"from step {(after_planning.metadata or {}).get('step')} "
        f"(ckpt {render.short_id(checkpoint_id(after_planning.config))}): keep the first "
        f"{MVP_TASKS} of {len(tasks)} tasks",
    )
    metadata = {"day": 2, "branch": "fork"}
    fork_config = graph.update_state(
        {**after_planning.config, "metadata": metadata}, edit, as_node="planning"
    )
    render.step_line(console, StepEvent.from_snapshot(graph.get_state(fork_config), _describe_edit))
    last: StepEvent | None = None
    for last in follow(graph, None, {**fork_config, "metadata": metadata}, describe_writes):
        render.step_line(console, last)
    end = fork_config
    if last is not None:
        end = {"configurable": {**fork_config["configurable"], "checkpoint_id": last.checkpoint_id}}
    rounds = graph.get_state(end).values.get("execution_round", 0)
    render.note(
        console,
        f"the fork took {rounds} execution round(s) where the original took {main_rounds}",
        "green",
    )
    return end


def _describe_edit(writes: Mapping[str, Any] | None) -> str:
    update = (writes or {}).get("planning") or {}
    return f"edited as planning: plan cut to {len(update.get('pending_tasks', []))} tasks"


def branch_labels(
    history: list[StateSnapshot], main_head: Mapping[str, Any], fork_head: Mapping[str, Any]
) -> dict[str, str]:
    """'main', 'fork' or 'both' for each checkpoint, from the parent links."""
    parents = {checkpoint_id(s.config): checkpoint_id(s.parent_config) for s in history}

    def lineage(config: Mapping[str, Any]) -> set[str]:
        seen: set[str] = set()
        current = checkpoint_id(config)
        while current:
            seen.add(current)
            current = parents.get(current, "")
        return seen

    main, forked = lineage(main_head), lineage(fork_head)
    return {
        cid: "both" if cid in main and cid in forked else "main" if cid in main else "fork"
        for cid in parents
    }
