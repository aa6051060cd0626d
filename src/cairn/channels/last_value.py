"""``langgraph.channels.last_value``'s import path: LastValue."""

from cairn.channels.base import LastValue

__all__ = ["LastValue"]
