"""``langgraph.channels.binop``'s import path: BinaryOperatorAggregate."""

from cairn.channels.base import BinaryOperatorAggregate

__all__ = ["BinaryOperatorAggregate"]
