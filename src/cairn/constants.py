"""LangGraph's ``langgraph.constants``: the names programs import from it.

>>> from cairn.constants import START, END
"""

from __future__ import annotations

from cairn.graph.constants import END, START, TAG_HIDDEN, TAG_NOSTREAM

__all__ = ["END", "START", "TAG_HIDDEN", "TAG_NOSTREAM"]
