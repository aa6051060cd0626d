"""Seed 003's multi-day project workflow: planning, execution in rounds, review.

    START -> planning -> execution --(tasks left)--> execution
                                   --(all done)---> review -> END

Each execution round carries out up to ``ROUND_SIZE`` pending tasks, so a
long plan spreads over several checkpointed steps: the points where a
crashed run can pick up again.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Mapping, TypedDict

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.cli.models import PLAN_PROMPT, REPORT_PROMPT, TASK_PROMPT, Model
from cairn.graph import END, START, StateGraph
from cairn.runtime import CompiledStateGraph

ROUND_SIZE = 3
PROJECT_NAME = "AI Platform"
PROJECT_DESCRIPTION = "An internal platform to serve the ML teams' models behind one API."
MAX_TASKS = 8


class ProjectState(TypedDict):
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
    execution_round: int

    started_at: str
    last_updated: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_project() -> dict[str, Any]:
    """The input that starts the demo's project."""
    return {
        "project_name": PROJECT_NAME,
        "project_description": PROJECT_DESCRIPTION,
        "planning_complete": False,
        "execution_complete": False,
        "review_complete": False,
        "project_plan": "",
        "execution_results": [],
        "final_report": "",
        "current_stage": "planning",
        "completed_tasks": [],
        "pending_tasks": [],
        "execution_round": 0,
        "started_at": _now(),
        "last_updated": _now(),
    }


def plan_tasks(plan: str) -> list[str]:
    """The tasks of a plan: its numbered or bulleted lines, without the markers."""
    tasks = []
    for line in plan.splitlines():
        match = re.match(r"\s*(?:\d+[.)]|[-*•])\s+(.+)", line)
        if match:
            tasks.append(match.group(1).strip().rstrip("."))
    return tasks[:MAX_TASKS]


Node = Callable[[ProjectState], dict[str, Any]]


def _counted(name: str, fn: Node, calls: Counter[str]) -> Node:
    # Counting calls in this process is how the demo proves a resume did not
    # run the finished steps again.
    def node(state: ProjectState) -> dict[str, Any]:
        calls[name] += 1
        return fn(state)

    return node


def build_project_graph(
    model: Model, checkpointer: BaseCheckpointSaver, calls: Counter[str] | None = None
) -> CompiledStateGraph:
    """The workflow compiled with ``checkpointer``; ``calls`` counts node runs."""

    def planning(state: ProjectState) -> dict[str, Any]:
        plan = model.complete(
            f"{PLAN_PROMPT}: {state['project_name']}\n{state['project_description']}\n"
            f"List 6 to {MAX_TASKS} concrete tasks as a numbered list, one short line each."
        )
        # A real model may ignore the format; its first line is then the one task.
        tasks = plan_tasks(plan) or [(plan.strip() or "Do the work").splitlines()[0]]
        return {
            "project_plan": plan,
            "pending_tasks": tasks,
            "planning_complete": True,
            "current_stage": "execution",
            "last_updated": _now(),
        }

    def execution(state: ProjectState) -> dict[str, Any]:
        batch = state["pending_tasks"][:ROUND_SIZE]
        results = [
            f"{task}: "
            + model.complete(
                f"{TASK_PROMPT} of project {state['project_name']} and report the outcome "
                f"in one short sentence:\n{task}"
            ).splitlines()[0]
            for task in batch
        ]
        remaining = state["pending_tasks"][len(batch) :]
        done = not remaining
        return {
            "completed_tasks": [*state["completed_tasks"], *batch],
            "pending_tasks": remaining,
            "execution_results": [*state["execution_results"], *results],
            "execution_round": state["execution_round"] + 1,
            "execution_complete": done,
            "current_stage": "review" if done else "execution",
            "last_updated": _now(),
        }

    def review(state: ProjectState) -> dict[str, Any]:
        completed = "\n".join(f"- {task}" for task in state["completed_tasks"])
        report = model.complete(
            f"{REPORT_PROMPT} of project: {state['project_name']}\n"
            f"Write at most four short lines.\n\nPlan:\n{state['project_plan']}\n\n"
            f"Completed tasks:\n{completed}\n\nExecution rounds: {state['execution_round']}\n"
        )
        return {
            "final_report": report,
            "review_complete": True,
            "current_stage": "complete",
            "last_updated": _now(),
        }

    def next_stage(state: ProjectState) -> str:
        return "execution" if state["pending_tasks"] else "review"

    counter: Counter[str] = calls if calls is not None else Counter()
    builder = StateGraph(ProjectState)
    builder.add_node("planning", _counted("planning", planning, counter))
    builder.add_node("execution", _counted("execution", execution, counter))
    builder.add_node("review", _counted("review", review, counter))
    builder.add_edge(START, "planning")
    builder.add_edge("planning", "execution")
    builder.add_conditional_edges("execution", next_stage, ["execution", "review"])
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)


def describe_writes(writes: Mapping[str, Any] | None) -> str:
    """One line saying what a step's nodes did, from ``metadata["writes"]``."""
    if not writes:
        return "project submitted"
    parts = []
    for node, update in writes.items():
        update = update if isinstance(update, Mapping) else {}
        if node == START:
            parts.append(f"project {update.get('project_name', '?')!r} received")
        elif node == "planning":
            parts.append(f"plan written: {len(update.get('pending_tasks', []))} tasks")
        elif node == "execution":
            done = len(update.get("completed_tasks", []))
            left = len(update.get("pending_tasks", []))
            parts.append(
                f"round {update.get('execution_round', '?')}: "
                f"{done}/{done + left} tasks done, {left} pending"
            )
        elif node == "review":
            parts.append("final report written")
        else:
            parts.append(f"wrote {', '.join(sorted(update)) or 'nothing'}")
    return "; ".join(parts)
