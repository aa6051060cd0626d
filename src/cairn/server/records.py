"""Threads, runs and assistants in the JSON shapes of LangGraph's server."""

from __future__ import annotations

from typing import Any, Mapping

from cairn.server.graphs import Assistant

__all__ = ["ASSISTANT_FIELDS", "assistant_json", "matches", "run_json", "system_assistant", "thread_json"]


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


ASSISTANT_FIELDS = (
    "assistant_id", "graph_id", "config", "context", "metadata", "name", "description", "version",
    "created_at", "updated_at",
)
"""The fields of an assistant as answered (``select`` picks among them)."""


def system_assistant(assistant: Assistant) -> dict[str, Any]:
    """A graph's own assistant, as a stored assistant's row reads."""
    return {
        "assistant_id": assistant.assistant_id,
        "graph_id": assistant.graph_id,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "name": assistant.graph_id,
        "description": None,
        "version": 1,
        "created_at": assistant.created_at,
        "updated_at": assistant.created_at,
    }


def assistant_json(row: Mapping[str, Any], version: bool = False) -> dict[str, Any]:
    """An assistant (or, with ``version``, one of its versions, which has no
    ``updated_at``) as LangGraph's server answers it."""
    names = ASSISTANT_FIELDS[:-1] if version else ASSISTANT_FIELDS
    return {name: row[name] for name in names}


def matches(value: Any, filter: Any) -> bool:
    """Whether ``value`` contains ``filter`` (JSON containment, as Postgres' ``@>``)."""
    if isinstance(filter, Mapping):
        return isinstance(value, Mapping) and all(k in value and matches(value[k], v) for k, v in filter.items())
    if isinstance(filter, list) and isinstance(value, list):
        return all(any(matches(item, f) for item in value) for f in filter)
    return bool(value == filter)
