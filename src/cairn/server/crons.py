"""Firing crons: a task beside the workers of each process that runs them
(``cairn serve`` with workers, ``cairn worker``) looks every ``TICK``
seconds (``$CAIRN_CRON_TICK``) for crons whose slot has come and fires each (``CronTable.fire``:
once per slot across every process on the database).

A firing queues a run like ``POST /threads/{id}/runs`` does, with the
cron's stored fields: on the cron's thread, or on a new thread for a
stateless cron (deleted after the run unless ``on_run_completed`` is
"keep"). Workers run it as any other run. The run's metadata holds the
cron's metadata and its ``cron_id``.

Missed slots (no process ran through several) give one run when a process
comes back, then the schedule goes on from the next slot to come. On a busy
thread the run follows the cron's ``multitask_strategy``: "enqueue" (the
default) runs it after the thread's runs; "interrupt" / "rollback" stop
them first; "reject" lets the slot pass without a run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import partial
from typing import Any, Callable, Mapping, Protocol, TypeVar

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import ConfigError, RequestError
from cairn.server.assistant_db import AssistantTable, bind
from cairn.server.cron_db import CronTable
from cairn.server.db import ServerDB, now_iso
from cairn.server.graphs import Assistant, Assistants
from cairn.server.runinput import check_run_fields

__all__ = ["TICK", "WorkersLike", "cron_tick", "fire_crons", "fire_due", "plan_run"]

log = logging.getLogger("cairn.server")

T = TypeVar("T")

TICK = 1.0
"""Seconds between looks for due crons (one indexed read when none is due),
unless ``$CAIRN_CRON_TICK`` says otherwise."""


def cron_tick() -> float:
    """The seconds between looks for due crons: ``$CAIRN_CRON_TICK``, else ``TICK``."""
    given = os.environ.get("CAIRN_CRON_TICK")
    if given is None:
        return TICK
    try:
        tick = float(given)
    except ValueError:
        tick = -1.0
    if not 0 < tick <= 3600:
        raise ConfigError(f"CAIRN_CRON_TICK must be a number of seconds in (0, 3600], got {given!r}")
    return tick


def plan_run(
    assistants: Assistants, cron: dict[str, Any], stored: Mapping[str, Assistant] | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The run a firing of ``cron`` queues, and its thread's metadata; None
    (with a warning in the log) when its assistant or fields no longer fit
    the graphs served. ``stored``: the assistants of ``POST /assistants``
    whose graph is served, by id."""
    assistant = assistants.find(cron["assistant_id"]) or (stored or {}).get(cron["assistant_id"])
    if assistant is None:
        log.warning("cron %s: assistant %r is no longer served; slot skipped", cron["cron_id"], cron["assistant_id"])
        return None
    try:
        kwargs = check_run_fields(cron["payload"], assistant)
    except RequestError as exc:
        log.warning("cron %s: its run no longer fits graph %r (%s); slot skipped", cron["cron_id"], assistant.graph_id, exc)
        return None
    stateless = cron["thread_id"] is None
    temporary = stateless and cron["on_run_completed"] != "keep"
    kwargs["temporary"] = temporary
    graph_keys = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
    now = now_iso()
    run = {
        "run_id": new_checkpoint_id(),
        "thread_id": cron["thread_id"] or new_checkpoint_id(),
        "assistant_id": assistant.assistant_id,
        "status": "pending",
        "kwargs": kwargs,
        "metadata": {**cron["metadata"], **graph_keys, "cron_id": cron["cron_id"]},
        "multitask_strategy": cron["payload"].get("multitask_strategy") or "enqueue",
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "temporary": 1 if temporary else 0,
    }
    return run, {**graph_keys, "cron_id": cron["cron_id"]} if stateless else graph_keys


class WorkersLike(Protocol):
    """What firing needs of the process's ``Workers`` (``worker.py``, which starts ``fire_crons``)."""

    db: ServerDB
    assistants: Assistants

    async def call(self, fn: Callable[..., T], *args: Any) -> T: ...

    def cancel(self, run_id: str, action: str) -> None: ...

    def wake(self) -> None: ...


async def fire_due(workers: WorkersLike) -> int:
    """Fire the crons due now that no other process fires first; how many
    runs this process queued."""
    table = CronTable(workers.db)
    queued = 0
    due = await workers.call(table.due)
    stored: dict[str, Assistant] = {}
    if due:
        for row in await workers.call(AssistantTable(workers.db).of_graph, None):
            if workers.assistants.of_graph(row["graph_id"]) is not None:
                stored[row["assistant_id"]] = bind(workers.assistants, row)
    for cron_id, slot in due:
        plan = partial(plan_run, workers.assistants, stored=stored)
        fired = await workers.call(table.fire, cron_id, slot, plan, now_iso())
        if fired is None or fired.run is None:
            continue
        queued += 1
        for run_id in fired.stopped:
            workers.cancel(run_id, fired.run["multitask_strategy"])
        workers.wake()
    return queued


async def fire_crons(workers: WorkersLike, tick: float = TICK) -> None:
    """Fire due crons every ``tick`` seconds until cancelled."""
    while True:
        try:
            await fire_due(workers)
        except Exception:  # the database may be away a moment: look again next tick
            log.exception("firing crons failed; trying again in %s s", tick)
        await asyncio.sleep(tick)
