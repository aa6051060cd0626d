"""Prebuilt agents and tool nodes (LangGraph's ``langgraph.prebuilt``).

    from cairn.prebuilt import ToolNode, ValidationNode, create_react_agent, tools_condition

Needs ``langchain_core`` (``pip install 'cairn[langchain]'``); importing this
package without it raises ``MissingDependencyError`` naming that extra.
"""

from cairn.prebuilt import _requires  # noqa: F401  (first: names the extra when missing)
from cairn.prebuilt.chat_agent_executor import create_react_agent
from cairn.prebuilt.injection import InjectedState, InjectedStore, InjectedToolCallId, ToolRuntime
from cairn.prebuilt.tool_node import ToolNode, tools_condition
from cairn.prebuilt.tool_validator import ValidationNode

__all__ = [
    "InjectedState",
    "InjectedStore",
    "InjectedToolCallId",
    "ToolNode",
    "ToolRuntime",
    "ValidationNode",
    "create_react_agent",
    "tools_condition",
]
