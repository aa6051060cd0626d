"""What a running node can reach of its run (LangGraph's ``langgraph.config``).

    from cairn.config import get_stream_writer

    def node(state):
        write = get_stream_writer()
        write({"progress": "halfway"})   # streamed with stream_mode="custom"
        ...
"""

from __future__ import annotations

from typing import Any, Callable

from cairn.errors import CairnError
from cairn.runtime import interrupts

__all__ = ["get_stream_writer"]


def get_stream_writer() -> Callable[[Any], None]:
    """The current node's stream writer: each value it is called with is a
    chunk of ``stream_mode="custom"`` (and dropped when nobody streams it)."""
    pad = interrupts.current.get()
    if pad is None:
        raise CairnError(
            "get_stream_writer() was called outside a running node; call it inside a node "
            "function while the graph runs"
        )
    return pad.write
