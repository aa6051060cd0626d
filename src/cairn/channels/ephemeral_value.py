"""``langgraph.channels.ephemeral_value``'s import path: EphemeralValue."""

from cairn.channels.base import EphemeralValue

__all__ = ["EphemeralValue"]
