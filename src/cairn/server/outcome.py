"""Following a run that another process executes (a server sharing the
database, or ``cairn worker``): ``settle`` copies its events from the
database into this process's stream of the run as they are stored, and
ends that stream with the outcome read from the run's row."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from cairn.server.db import ACTIVE
from cairn.server.http import Server
from cairn.server.streams import RunStream

__all__ = ["outcome_from_rows", "settle", "watch"]

POLL = 0.1
"""Seconds between looks at the events and row of a run executed elsewhere."""

_watching: set[asyncio.Task[None]] = set()


def outcome_from_rows(run: dict[str, Any] | None, thread: dict[str, Any] | None) -> Any:
    """What ``runs/wait`` answers for a finished run, from the database alone."""
    if run is not None and run.get("outcome") is not None:
        return run["outcome"]
    if run is not None and run["status"] == "error":
        return {"__error__": run["error"]}
    values = dict((thread or {}).get("state_values") or {})
    interrupts = [i for found in ((thread or {}).get("interrupts") or {}).values() for i in found]
    if interrupts:
        values["__interrupt__"] = interrupts
    return values


async def settle(server: Server, run_id: str, stream: RunStream) -> None:
    """Feed ``stream`` the events run ``run_id`` stores, and end it once the
    run is over, while no worker of this process runs it."""
    while not stream.done:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(stream.wait()), POLL)
            return
        if server.workers.runs_here(run_id):
            continue
        run = await server.call(server.db.get_run, run_id)  # before the events: none is missed
        events = await server.call(server.db.events_after, run_id, len(stream.events) - 1)
        if stream.done or server.workers.runs_here(run_id):
            continue
        for event, data in events:
            stream.publish(event, data)
        if run is None or run["status"] not in ACTIVE:
            thread = await server.call(server.db.get_thread, run["thread_id"]) if run is not None else None
            stream.finish(run["status"] if run else "interrupted", outcome_from_rows(run, thread))


def watch(server: Server, run_id: str, stream: RunStream) -> None:
    """``settle`` in the background (kept referenced until it ends)."""
    task = asyncio.get_running_loop().create_task(settle(server, run_id, stream))
    _watching.add(task)
    task.add_done_callback(_watching.discard)
