"""Server-sent events as LangGraph's server writes them:

    event: values
    data: {"items": ["x"]}

with an ``id:`` line per event when the client can join again from it, and a
comment line as a heartbeat while a run is quiet, so proxies keep the
connection open."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from cairn.server.streams import RunStream

__all__ = ["HEARTBEAT", "encode", "events_of"]

HEARTBEAT = 15.0
"""Seconds of silence after which a heartbeat comment is sent."""


def encode(event: str, data: str, event_id: int | None = None) -> bytes:
    """One event, ready for the wire (``data`` is one line of JSON)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


async def events_of(stream: RunStream, start: int = 0, ids: bool = False) -> AsyncIterator[bytes]:
    """The run's events from number ``start`` on, encoded, with heartbeats."""
    events = stream.follow(start).__aiter__()
    pending: asyncio.Task[tuple[int, str, str]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT)
            if not done:
                yield b": heartbeat\n\n"
                continue
            try:
                index, event, data = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield encode(event, data, index if ids else None)
    finally:
        if pending is not None:
            pending.cancel()
