"""cairn: durable state graphs, with LangGraph's API.

Build a graph with ``StateGraph``, compile it with a checkpointer, and every
super-step is checkpointed: runs can be inspected, resumed, replayed and forked.
"""

from cairn.checkpoint.memory import InMemorySaver, MemorySaver
from cairn.errors import (
    CairnError,
    GraphRecursionError,
    InvalidUpdateError,
    ThreadBusyError,
)
from cairn.graph import END, START, MessagesState, StateGraph, add_messages
from cairn.runtime import CompiledStateGraph
from cairn.types import (
    Command,
    Interrupt,
    PregelTask,
    RetryPolicy,
    Send,
    StateSnapshot,
    StateUpdate,
    interrupt,
)
from cairn.version import __version__

__all__ = [
    "CairnError",
    "Command",
    "CompiledStateGraph",
    "END",
    "GraphRecursionError",
    "InMemorySaver",
    "Interrupt",
    "InvalidUpdateError",
    "MemorySaver",
    "MessagesState",
    "PregelTask",
    "RetryPolicy",
    "START",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "StateUpdate",
    "ThreadBusyError",
    "add_messages",
    "interrupt",
]
