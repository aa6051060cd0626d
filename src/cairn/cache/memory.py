"""``InMemoryCache``: node results cached in this process's memory.

    from cairn.cache.memory import InMemoryCache
    graph = builder.compile(cache=InMemoryCache())

Each graph compiled with the cache uses it; nothing is shared otherwise.
Values are copied in and out, so a node that changes what it got from the
cache does not change the cache.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from cairn.cache.base import BaseCache, FullKey, Namespace

__all__ = ["InMemoryCache"]


class InMemoryCache(BaseCache[Any]):
    """A cache in process memory. ``clock``: what tells the time in seconds
    (``time.time``), against which entries expire."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[Namespace, dict[str, tuple[Any, float | None]]] = {}
        self._lock = threading.Lock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        now = self._clock()
        found: dict[FullKey, Any] = {}
        with self._lock:
            for ns, key in keys:
                entries = self._entries.get(tuple(ns))
                entry = entries.get(key) if entries is not None else None
                if entry is None:
                    continue
                if entry[1] is not None and now >= entry[1]:
                    del entries[key]  # type: ignore[union-attr]
                    continue
                found[(ns, key)] = entry[0]
        return {k: copy.deepcopy(v) for k, v in found.items()}

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        now = self._clock()
        copied = {k: (copy.deepcopy(v), ttl) for k, (v, ttl) in pairs.items()}
        with self._lock:
            for (ns, key), (value, ttl) in copied.items():
                expiry = None if ttl is None else now + ttl
                self._entries.setdefault(tuple(ns), {})[key] = (value, expiry)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._entries.clear()
            else:
                for ns in namespaces:
                    self._entries.pop(tuple(ns), None)

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        return self.get(keys)  # memory only: nothing blocks

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        self.set(pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.clear(namespaces)
