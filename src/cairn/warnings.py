"""The warnings cairn gives (LangGraph's ``langgraph.warnings`` has its own)."""

from __future__ import annotations

__all__ = ["UnknownKeyWarning"]


class UnknownKeyWarning(UserWarning):
    """A node, the input or ``update_state`` wrote a key that is not in the
    state schema; it was dropped (``compile(strict=True)`` makes it an error).
    The warning points at the node's definition, or at the caller's line."""
