"""LangGraph's ``langgraph.constants``: the names programs import from it.

>>> from cairn.constants import START, END
"""

from __future__ import annotations

from cairn.graph.constants import END, START

__all__ = ["END", "START", "TAG_HIDDEN", "TAG_NOSTREAM"]

TAG_NOSTREAM = "nostream"
"""Tag of a chat model whose tokens are not streamed (LangChain's callbacks)."""
TAG_HIDDEN = "langsmith:hidden"
"""Tag that hides a node or edge from tracing and drawing."""
