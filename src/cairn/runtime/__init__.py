"""Running graphs: the super-step loop, tasks, state folding and snapshots.

``Runtime`` and ``get_runtime`` are here as in LangGraph's ``langgraph.runtime``.
"""

from cairn.runtime.compiled import CompiledStateGraph
from cairn.runtime.context import Runtime, get_runtime

__all__ = ["CompiledStateGraph", "Runtime", "get_runtime"]
