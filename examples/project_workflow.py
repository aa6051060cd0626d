"""Seed 003 in cairn: a multi-day project kept in SQLite, resumed across processes.

The workflow (planning -> execution in rounds -> review) is the one
``cairn demo`` runs; this file shows the seed's own helpers on top of it.
Run it several times: the first run starts ``project-1``, later runs resume
it or report that it is complete.

    python examples/project_workflow.py [path/to/checkpoints.db]
"""

from __future__ import annotations

import sys
from typing import Any

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli.models import StandInModel
from cairn.cli.project import build_project_graph, new_project
from cairn.runtime import CompiledStateGraph


def create_project_workflow(db_path: str = "project_checkpoints.db") -> CompiledStateGraph:
    """The workflow compiled with a SQLite checkpointer on ``db_path``."""
    return build_project_graph(StandInModel(), SqliteSaver.from_conn_string(db_path))


def start_new_project(graph: CompiledStateGraph, thread_id: str) -> dict[str, Any]:
    """Start a project on ``thread_id`` and run it to the end."""
    config = {"configurable": {"thread_id": thread_id}}
    graph.invoke(new_project(), config)
    return config


def resume_project(graph: CompiledStateGraph, thread_id: str) -> dict[str, Any]:
    """Continue ``thread_id`` from its last committed step (after a crash,
    or on another day); a finished project is left as it is."""
    config = {"configurable": {"thread_id": thread_id}}
    if graph.get_state(config).next:
        graph.invoke(None, config)
    return config


def get_progress(graph: CompiledStateGraph, thread_id: str) -> dict[str, Any]:
    """Tasks done out of all, and the stage the project is in."""
    values = graph.get_state({"configurable": {"thread_id": thread_id}}).values
    done, pending = len(values.get("completed_tasks", [])), len(values.get("pending_tasks", []))
    total = done + pending
    return {
        "progress": f"{done}/{total}",
        "percentage": done / total * 100 if total else 0.0,
        "current_stage": values.get("current_stage"),
    }


def main() -> None:
    graph = create_project_workflow(*sys.argv[1:2])
    thread_id = "project-1"
    state = graph.get_state({"configurable": {"thread_id": thread_id}})
    if state.next:
        print(f"Resuming {thread_id} from its last checkpoint (step {(state.metadata or {}).get('step')}).")
        resume_project(graph, thread_id)
    elif state.values:
        print(f"{thread_id} is complete.")
    else:
        print(f"Starting {thread_id}.")
        start_new_project(graph, thread_id)
    print("Progress:", get_progress(graph, thread_id))
    history = list(graph.get_state_history({"configurable": {"thread_id": thread_id}}))
    print(f"{len(history)} checkpoints; final report:")
    print(history[0].values.get("final_report", "(none yet)"))


if __name__ == "__main__":
    main()
