"""``langgraph.channels.any_value``'s import path: AnyValue."""

from cairn.channels.base import AnyValue

__all__ = ["AnyValue"]
