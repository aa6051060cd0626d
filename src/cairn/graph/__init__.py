"""Building graphs: ``StateGraph``, ``START``, ``END`` and the message helpers."""

from cairn.graph.constants import END, START, Transient
from cairn.graph.message import MessageGraph, MessagesState, add_messages
from cairn.graph.state import StateGraph

__all__ = ["END", "START", "MessageGraph", "MessagesState", "StateGraph", "Transient", "add_messages"]
