"""``BaseCache``: what the runtime asks of a cache of node results.

A cache holds values under a full key ``(namespace, key)``: a node's results
under the namespace ``("__cairn_ns_writes", "<module>.<function>", "<node>")``
and the hash of its input as key. Entries live ``ttl`` seconds (None: until
cleared). The async methods run the sync ones in a thread unless a backend
has its own.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Generic, Mapping, Sequence, TypeVar

__all__ = ["BaseCache", "FullKey", "Namespace", "ValueT"]

Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]
ValueT = TypeVar("ValueT")


class BaseCache(ABC, Generic[ValueT]):
    """A cache of values by ``(namespace, key)``, safe to share between
    threads (``BaseCache[ValueT]``: of values of that type)."""

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The values held under ``keys`` and not expired (a key without one is left out)."""

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Hold each value under its key for ``ttl`` seconds (``(value, ttl)``; None: until cleared)."""

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Drop the values of ``namespaces``; all of them when None."""

    def register(self, *classes: type) -> None:
        """Classes whose values this cache must be able to store (a graph
        compiled with the cache registers its state's); a cache that keeps
        values as they are needs none."""

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The async twin of ``get``."""
        return await asyncio.to_thread(self.get, keys)

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """The async twin of ``set``."""
        await asyncio.to_thread(self.set, pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """The async twin of ``clear``."""
        await asyncio.to_thread(self.clear, namespaces)
