"""``langgraph.channels.untracked_value``'s import path: UntrackedValue."""

from cairn.channels.base import UntrackedValue

__all__ = ["UntrackedValue"]
