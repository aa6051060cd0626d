"""Threads, runs and assistants in the JSON shapes of LangGraph's server."""

from __future__ import annotations

from typing import Any, Mapping

from cairn.server.graphs import Assistant

__all__ = ["assistant_json", "matches", "run_json", "thread_json"]


def thread_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": row["thread_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "state_updated_at": row["updated_at"],
        "metadata": row["metadata"],
        "status": row["status"],
        "config": {},
        "values": row["state_values"],
        "interrupts": row["interrupts"] or {},
        "error": row["error"],
    }


def run_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "thread_id": row["thread_id"],
        "assistant_id": row["assistant_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "status": row["status"],
        "metadata": row["metadata"],
        "kwargs": row["kwargs"],
        "multitask_strategy": row["multitask_strategy"],
    }


def assistant_json(assistant: Assistant) -> dict[str, Any]:
    return {
        "assistant_id": assistant.assistant_id,
        "graph_id": assistant.graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": assistant.graph_id,
        "created_at": assistant.created_at,
        "updated_at": assistant.created_at,
        "version": 1,
        "description": None,
    }


def matches(value: Any, filter: Any) -> bool:
    """Whether ``value`` contains ``filter`` (JSON containment, as Postgres' ``@>``)."""
    if isinstance(filter, Mapping):
        return isinstance(value, Mapping) and all(k in value and matches(value[k], v) for k, v in filter.items())
    if isinstance(filter, list) and isinstance(value, list):
        return all(any(matches(item, f) for item in value) for f in filter)
    return bool(value == filter)
