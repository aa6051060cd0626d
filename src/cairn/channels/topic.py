"""``langgraph.channels.topic``'s import path: Topic."""

from cairn.channels.base import Topic

__all__ = ["Topic"]
