"""The type variables of LangGraph's ``langgraph.typing``, for annotations
written against it (``Runtime[ContextT]``, generic nodes and helpers).

cairn's classes do not check them: they are for type checkers only.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["ContextT", "InputT", "OutputT", "StateT", "StateT_co", "StateT_contra"]

StateT = TypeVar("StateT", bound=Any)
"""A graph's state."""
StateT_co = TypeVar("StateT_co", bound=Any, covariant=True)
StateT_contra = TypeVar("StateT_contra", bound=Any, contravariant=True)
ContextT = TypeVar("ContextT", bound=Any)
"""A run's context (``context_schema``)."""
InputT = TypeVar("InputT", bound=Any)
"""What a graph takes (``input_schema``)."""
OutputT = TypeVar("OutputT", bound=Any)
"""What a graph returns (``output_schema``)."""
