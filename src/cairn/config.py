"""What a running node can reach of its run (LangGraph's ``langgraph.config``).

    from cairn.config import get_config, get_stream_writer

    def node(state):
        user = get_config()["configurable"].get("user_id")
        write = get_stream_writer()
        write({"progress": "halfway"})   # streamed with stream_mode="custom"
        ...

Each raises ``OutsideNodeError`` (a ``RuntimeError``) when no node is running.
"""

from __future__ import annotations

from typing import Any, Callable

from cairn.store.base import BaseStore

from cairn.runtime.context import get_runtime, task_context

__all__ = ["get_config", "get_runtime", "get_store", "get_stream_writer"]


def get_config() -> dict[str, Any]:
    """The config of the running node's run: what the node would receive as
    its ``config`` parameter (``configurable``, ``metadata``, ``recursion_limit``...)."""
    return task_context("get_config()").scope.config


def get_store() -> BaseStore | None:
    """The store the graph was compiled with (``compile(store=...)``), or None."""
    store: BaseStore | None = task_context("get_store()").scope.runtime.store
    return store


def get_stream_writer() -> Callable[[Any], None]:
    """The current node's stream writer: each value it is called with is a
    chunk of ``stream_mode="custom"`` (and dropped when nobody streams it)."""
    return task_context("get_stream_writer()").scope.runtime.stream_writer
