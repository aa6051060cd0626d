"""A run's outcome for a request that waits for it, wherever it runs.

A run made by this process may be executed by another server sharing the
database; its events then do not reach this process (that is next: events
through the database), but its end does: ``settle`` looks at the run's row
while nobody here executes it, and ends the local stream with the outcome
read from the database."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from cairn.server.db import ACTIVE
from cairn.server.http import Server
from cairn.server.streams import RunStream

__all__ = ["outcome_from_rows", "settle", "watch"]

POLL = 0.25
"""Seconds between looks at the row of a run executed elsewhere."""

_watching: set[asyncio.Task[None]] = set()


def outcome_from_rows(run: dict[str, Any] | None, thread: dict[str, Any] | None) -> Any:
    """What ``runs/wait`` answers for a finished run, from the database alone."""
    if run is not None and run["status"] == "error":
        return {"__error__": run["error"]}
    values = dict((thread or {}).get("state_values") or {})
    interrupts = [i for found in ((thread or {}).get("interrupts") or {}).values() for i in found]
    if interrupts:
        values["__interrupt__"] = interrupts
    return values


async def settle(server: Server, run_id: str, stream: RunStream) -> None:
    """End ``stream`` once run ``run_id`` is over, if no worker of this process runs it."""
    while not stream.done:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(stream.wait()), POLL)
            return
        if server.workers.runs_here(run_id):
            continue
        run = await server.call(server.db.get_run, run_id)
        if run is not None and run["status"] in ACTIVE:
            continue
        thread = await server.call(server.db.get_thread, run["thread_id"]) if run is not None else None
        if not stream.done and not server.workers.runs_here(run_id):
            stream.finish(run["status"] if run else "interrupted", outcome_from_rows(run, thread))


def watch(server: Server, run_id: str, stream: RunStream) -> None:
    """``settle`` in the background (kept referenced until it ends)."""
    task = asyncio.get_running_loop().create_task(settle(server, run_id, stream))
    _watching.add(task)
    task.add_done_callback(_watching.discard)
