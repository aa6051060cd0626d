"""Caches of node and task results (``compile(cache=...)``), as LangGraph's
``langgraph.cache``: the contract in ``cairn.cache.base``, a cache in process
memory in ``cairn.cache.memory`` and one in a SQLite file in ``cairn.cache.sqlite``.
"""

from cairn.cache.base import BaseCache, FullKey, Namespace, ValueT

__all__ = ["BaseCache", "FullKey", "Namespace", "ValueT"]
