"""The events of each run, kept in order while it runs and for a while
after, so that any number of clients can follow it: the one that created it
(``runs/stream``), a later ``join`` and a stream joined again with
``Last-Event-ID`` (events are numbered from 0)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

__all__ = ["RunStream", "Streams"]

KEEP_AFTER_END = 60.0
"""Seconds a finished run's events stay for late joiners."""


@dataclass
class RunStream:
    """One run's events: (SSE event name, JSON text) pairs, then its end."""

    events: list[tuple[str, str]] = field(default_factory=list)
    done: bool = False
    result: Any = None
    """What ``runs/wait`` answers once done: the final values, or ``{"__error__": ...}``."""
    status: str = "pending"
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, event: str, data: str) -> None:
        self.events.append((event, data))
        self._wake()

    def finish(self, status: str, result: Any) -> None:
        self.status, self.result, self.done = status, result, True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, start: int = 0) -> AsyncIterator[tuple[int, str, str]]:
        """Each event from number ``start`` on, as it comes, until the run ends."""
        index = start
        while True:
            while index < len(self.events):
                event, data = self.events[index]
                yield index, event, data
                index += 1
            if self.done:
                return
            await self._changed.wait()

    async def wait(self) -> Any:
        while not self.done:
            await self._changed.wait()
        return self.result


class Streams:
    """The RunStream of each recent run of this process, by run id."""

    def __init__(self) -> None:
        self._streams: dict[str, RunStream] = {}

    def open(self, run_id: str) -> RunStream:
        """The run's stream, made if this process has none yet."""
        found = self._streams.get(run_id)
        if found is None:
            found = self._streams[run_id] = RunStream()
        return found

    def get(self, run_id: str) -> RunStream | None:
        return self._streams.get(run_id)

    def close(self, run_id: str) -> None:
        """Forget a finished run's events after ``KEEP_AFTER_END`` seconds."""
        stream = self._streams.get(run_id)
        asyncio.get_running_loop().call_later(KEEP_AFTER_END, self._drop, run_id, stream)

    def _drop(self, run_id: str, stream: RunStream | None) -> None:
        if self._streams.get(run_id) is stream:
            del self._streams[run_id]
