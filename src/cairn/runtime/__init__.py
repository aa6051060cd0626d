"""Running graphs: the super-step loop, tasks, state folding and snapshots.

``Runtime`` and ``get_runtime`` are here as in LangGraph's ``langgraph.runtime``.
"""

from cairn.runtime.compiled import CompiledStateGraph
from cairn.runtime.context import ExecutionInfo, Runtime, ServerInfo, get_runtime

__all__ = ["CompiledStateGraph", "ExecutionInfo", "Runtime", "ServerInfo", "get_runtime"]
