"""The state at the head of recently used threads, kept in memory.

A run's next step, or ``get_state`` on a hot thread, then needs no fold of
stored writes: the head's id is still read from the store, and the cached
state is used only when it belongs to that very checkpoint, so another
process writing the thread only costs a fold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Mapping


class HeadCache:
    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()

    def get(self, thread_id: str, ns: str, checkpoint_id: str) -> dict[str, Any] | None:
        """A shallow copy of the state cached for this checkpoint, if any."""
        with self._lock:
            entry = self._entries.get((thread_id, ns))
            if entry is None or entry[0] != checkpoint_id:
                return None
            self._entries.move_to_end((thread_id, ns))
            return dict(entry[1])

    def put(self, thread_id: str, ns: str, checkpoint_id: str, values: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries[(thread_id, ns)] = (checkpoint_id, dict(values))
            self._entries.move_to_end((thread_id, ns))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
