"""Running the queued runs: worker tasks inside the server process.

Up to ``count`` runs execute at once. A run queued through this process is
claimed in the transaction that queues it when a worker is idle and its
thread is free (``Workers.reserve``, ``ServerDB.queue_run``); the others
(queued through another process, or waiting for their thread or for a
worker) are claimed by the dispatcher, the oldest pending run whose thread
is free first, when a worker frees up or a run is queued (``wake``), and
every ``POLL`` seconds for those queued elsewhere. Each run goes
through the graph's ``astream`` (sync nodes on threads, the saver's I/O off
the event loop) and publishes each chunk to the run's stream. A run is a
resume of its thread: the first attempt runs with the run's input (or
command); a later attempt, after the process running it died, with None, so
the thread goes on from its last committed step and no committed step runs
again.

Cancelling is cooperative: each run is given a cancel event (the runtime's
``cancel=``), set at once by a cancel asked in this process and, for one
asked through another process (an API-only server in front of ``cairn
worker`` processes), by a look at the run's row every ``CANCEL_POLL``
seconds. The run stops between two steps, every committed step stored.
"rollback" then deletes the checkpoints the run wrote (those whose metadata
names it, of every attempt), so the thread's history, head and state are
again what they were before the run, as LangGraph's server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Sequence, TypeVar

from cairn.errors import RequestError, RunCancelledError
from cairn.runtime.leases import new_owner, owner_is_gone
from cairn.runtime.observe import Observer
from cairn.server.assistant_db import find_assistant
from cairn.server.crons import cron_tick, fire_crons
from cairn.server.db import ServerDB
from cairn.server.graphs import Assistant, Assistants
from cairn.server.metrics import ServerMetrics
from cairn.server.runinput import run_arguments
from cairn.server.streams import RunStream, Streams
from cairn.server.wire import dumps, interrupt_json, jsonable

__all__ = ["Workers"]

log = logging.getLogger("cairn.server")

LEASE = 30.0
"""Seconds a run stays this process's without a renewal (renewed every third)."""
MAX_ATTEMPTS = 3
"""Attempts of a run whose process keeps dying before it ends as an error."""
POLL = 0.5
"""Seconds between looks at the queue when nothing woke a worker."""
FLUSH_EVERY = 0.05
"""Seconds between writes of the events published meanwhile (one transaction each)."""
KEEP_EVENTS = 3600.0
"""Seconds a finished run's stored events are kept for joiners."""
RECOVER_EVERY = 1.0
"""Seconds between looks for runs whose process died (a cheap read)."""
CANCEL_POLL = 0.25
"""Seconds between looks at a running run's row for a cancel asked elsewhere."""

T = TypeVar("T")


class Workers:
    """``count`` worker tasks running the queue of ``db`` in this process."""

    def __init__(
        self,
        db: ServerDB,
        assistants: Assistants,
        streams: Streams,
        count: int,
        *,
        metrics: ServerMetrics | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        """``metrics``: where the runs' figures go; ``observers``: what else
        watches each run (tracing)."""
        self.db = db
        self.metrics = metrics
        self.observers = tuple(observers)
        if metrics is not None:
            metrics.workers = self
        self.assistants = assistants
        self.streams = streams
        self.count = count
        self.owner = new_owner()
        self.cancels: dict[str, str] = {}
        """Run id -> "interrupt" or "rollback": cancels asked in this process."""
        self._stops: dict[str, asyncio.Event] = {}
        """Run id -> the cancel event of a run executing here."""
        self._running: set[str] = set()
        self._reserved = 0
        """Workers kept for a run being claimed, not running it yet."""
        self._started = False
        self._backlog = True
        """Whether runs may be pending: set by ``wake`` and every ``POLL``
        seconds, cleared when the queue holds none."""
        self._wake = asyncio.Event()
        self._log: list[tuple[str, int, str, str]] = []
        """Events published and not yet stored: (run id, number, name, JSON text)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[None]] = set()
        self._storing: asyncio.Future[None] | None = None
        """The last flush of events (see ``_stored``)."""

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the database's thread."""
        return await asyncio.get_running_loop().run_in_executor(self.db.executor, partial(fn, *args))

    async def start(self) -> None:
        if self.count <= 0:
            return
        await self.recover()
        self._started = True
        self._tasks = [asyncio.create_task(self._dispatch())]
        self._tasks.append(asyncio.create_task(self._renew()))
        self._tasks.append(asyncio.create_task(self._flushing()))
        self._tasks.append(asyncio.create_task(fire_crons(self, cron_tick())))

    async def stop(self) -> None:
        self._started = False
        tasks = [*self._tasks, *self._runs]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def reserve(self) -> bool:
        """Keep an idle worker for a run about to be claimed (False: none is
        idle); then ``run_claimed`` with the run, or ``release``."""
        if not self._started or len(self._running) + self._reserved >= self.count:
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        """Give back a worker ``reserve`` kept, unused."""
        self._reserved -= 1
        self._wake.set()

    def run_claimed(self, run: dict[str, Any]) -> None:
        """Run ``run``, claimed by this process, on the worker ``reserve`` kept."""
        self._reserved -= 1
        self._running.add(run["run_id"])
        task = asyncio.get_running_loop().create_task(self._work(run))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def wake(self) -> None:
        """A run was queued (and not claimed): look at the queue."""
        self._backlog = True
        self._wake.set()

    @property
    def busy(self) -> int:
        """How many runs this process is executing now."""
        return len(self._running)

    def runs_here(self, run_id: str) -> bool:
        """Whether a worker of this process is running ``run_id`` now."""
        return run_id in self._running

    def cancel(self, run_id: str, action: str) -> None:
        self.cancels[run_id] = action
        stop = self._stops.get(run_id)
        if stop is not None:
            stop.set()

    async def _watch(self, run_id: str, stop: asyncio.Event) -> None:
        """Set ``stop`` once a cancel of ``run_id`` is asked through another process."""
        while not stop.is_set():
            await asyncio.sleep(CANCEL_POLL)
            with contextlib.suppress(Exception):
                asked = await self.call(self.db.cancel_asked, run_id)
                if asked is not None:
                    self.cancels.setdefault(run_id, asked)
                    stop.set()

    async def recover(self) -> None:
        """Put back in the queue the runs whose process died or whose lease expired."""
        for run in await self.call(self.db.orphaned_runs, owner_is_gone):
            await self.call(self.db.requeue, run["run_id"], run["owner"], MAX_ATTEMPTS)
            if self.metrics is not None:
                self.metrics.recovered.inc()

    def _publish(self, run_id: str, stream: RunStream, event: str, data: str) -> None:
        """An event to the run's followers here, and to the database for the others."""
        self._log.append((run_id, len(stream.events), event, data))
        stream.publish(event, data)

    async def _flush(self) -> None:
        """Store the events published since the last flush (one transaction)."""
        if self._log:
            self._storing = asyncio.ensure_future(self.call(self.db.add_events, self._unstored()))
            await self._storing

    async def _stored(self) -> list[tuple[str, int, str, str]]:
        """The events not stored yet, once a flush under way is over: stored
        with a run's end, they follow every event before them (the database
        may run two calls at once)."""
        while self._storing is not None and not self._storing.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._storing)
        return self._unstored()

    def _unstored(self) -> list[tuple[str, int, str, str]]:
        """The events published since the last flush, to be stored now."""
        events, self._log = self._log, []
        return events

    async def _flushing(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            with contextlib.suppress(Exception):
                await self._flush()

    async def _renew(self) -> None:
        """Renew this process's leases every third of their length, look for
        runs of dead processes every ``RECOVER_EVERY`` seconds, and forget
        the events of runs over for ``KEEP_EVENTS`` seconds."""
        clock = asyncio.get_running_loop().time
        renewed = swept = clock()
        while True:
            await asyncio.sleep(RECOVER_EVERY)
            with contextlib.suppress(Exception):
                if clock() - renewed >= LEASE / 3:
                    await self.call(self.db.renew, self.owner, LEASE)
                    renewed = clock()
                await self.recover()
                if clock() - swept >= KEEP_EVENTS / 10:
                    cutoff = datetime.now(timezone.utc) - timedelta(seconds=KEEP_EVENTS)
                    await self.call(self.db.drop_old_events, cutoff.isoformat())
                    swept = clock()

    async def run_forever(self) -> None:
        """Run the queue until cancelled (``cairn worker``: no HTTP server)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def _dispatch(self) -> None:
        """Claim the next run whenever a worker is idle and runs may be
        pending: at once after a claim, else when woken (a run queued or
        over) or after ``POLL`` seconds (runs queued by other processes)."""
        while True:
            self._wake.clear()  # before looking: a wake while we look is not lost
            if self._backlog and self.reserve():
                try:
                    run, self._backlog = await self.call(self.db.claim_next, self.owner, LEASE)
                except Exception:  # the database is away for a moment: look again later
                    log.exception("claiming a run failed")
                    run = None
                if run is not None:
                    self.run_claimed(run)
                    continue
                self._reserved -= 1
            try:
                await asyncio.wait_for(self._wake.wait(), POLL)
            except asyncio.TimeoutError:
                self._backlog = True

    async def _work(self, run: dict[str, Any]) -> None:
        try:
            await self._execute(run)
        except Exception:  # a bug of ours must not stop the server
            log.exception("run %s failed in the server", run["run_id"])
            with contextlib.suppress(Exception):
                await self.call(self.db.finish_run, run["run_id"], "error", {"error": "ServerError", "message": "see the server's log"})
        finally:
            self._running.discard(run["run_id"])
            self._wake.set()  # the thread's next run may go now

    async def _execute(self, run: dict[str, Any]) -> None:
        run_id, thread_id = run["run_id"], run["thread_id"]
        stream = self.streams.open(run_id)
        try:
            assistant = await find_assistant(self, run["assistant_id"])  # its latest version
        except RequestError as exc:  # a stored assistant of a graph not served here
            await self._fail(run, stream, {"error": "UnknownAssistant", "message": str(exc)})
            return
        if assistant is None:
            await self._fail(run, stream, {"error": "UnknownAssistant", "message": f"assistant {run['assistant_id']!r} was deleted or is no longer served"})
            return
        graph = assistant.graph
        resumed = run["attempts"] > 1 and await self._stored_a_step(graph, thread_id, run_id)
        args = run_arguments(run, assistant, resumed)
        if run["attempts"] > 1:  # the events of the attempts before, for joiners
            for event, data in await self.call(self.db.events_after, run_id, len(stream.events) - 1):
                stream.publish(event, data)
        self._publish(run_id, stream, "metadata", dumps({"run_id": run_id, "attempt": run["attempts"]}))
        stopped: str | None = run["cancel"]  # asked while it waited to be run again
        if stopped is not None:
            await self._end(run, assistant, stream, stopped)
            return
        stop = self._stops[run_id] = asyncio.Event()
        if run_id in self.cancels:  # asked here since the claim
            stop.set()
        watching = asyncio.create_task(self._watch(run_id, stop))
        try:
            config = {**args.config, "observers": self._observers(assistant)}  # never a client's
            chunks: Any = graph.astream(args.input, config, cancel=stop, **args.options)
            try:
                async for chunk in chunks:
                    event, data = _event(chunk, args.subgraphs)
                    self._publish(run_id, stream, event, dumps(data))
            finally:
                await chunks.aclose()
        except RunCancelledError:  # stopped between two steps: every committed step is stored
            stopped = self.cancels.get(run_id, "interrupt")
        except Exception as exc:
            error = {"error": type(exc).__name__, "message": str(exc)}
            self._publish(run_id, stream, "error", dumps(error))
            await self._fail(run, stream, error)
            return
        finally:
            watching.cancel()
            self._stops.pop(run_id, None)
            self.cancels.pop(run_id, None)
        if stopped is None:
            stopped = await self.call(self.db.cancel_asked, run_id)  # asked by another process
        await self._end(run, assistant, stream, stopped)

    @staticmethod
    async def _stored_a_step(graph: Any, thread_id: str, run_id: str) -> bool:
        """Whether an earlier attempt of run ``run_id`` stored a step: the
        thread's head is then the run's, and the run goes on from it."""
        head = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        return bool((head.metadata or {}).get("run_id") == run_id)

    def _observers(self, assistant: Assistant) -> list[Observer]:
        """What watches a run of ``assistant``'s graph: the metrics, and the server's observers."""
        found = [self.metrics.observer(assistant.graph_id)] if self.metrics is not None else []
        return [*found, *self.observers]

    async def _end(
        self, run: dict[str, Any], assistant: Assistant, stream: RunStream, stopped: str | None
    ) -> None:
        run_id, thread_id = run["run_id"], run["thread_id"]
        graph = assistant.graph
        if stopped == "rollback":
            await self._roll_back(assistant, thread_id, run_id)
        state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        interrupts = {t.id: [interrupt_json(i) for i in t.interrupts] for t in state.tasks if t.interrupts}
        result = jsonable(state.values)
        values = outcome = dumps(result)  # the state is serialized once
        if state.interrupts and isinstance(result, dict):
            result["__interrupt__"] = [interrupt_json(i) for i in state.interrupts]
            outcome = dumps(result)
        status = "interrupted" if stopped else "success"
        emptied = stopped == "rollback" and state.metadata is None  # no checkpoint before: values stay unset
        ended = {
            "status": "interrupted" if (interrupts or state.next) else "idle",
            "values": None if emptied else values,
            "interrupts": dumps(interrupts),
        }
        if run["temporary"]:
            await asyncio.to_thread(graph.checkpointer.delete_thread, thread_id)  # type: ignore[union-attr]
        # Every event is stored before the run is seen to be over: in the same transaction.
        await self.call(self.db.end_run, run, status, outcome, ended, await self._stored())
        if stopped == "rollback":
            await self.call(self.db.delete_run, run_id)
        stream.finish(status, result)
        self.streams.close(run_id)

    async def _fail(self, run: dict[str, Any], stream: RunStream, error: dict[str, Any]) -> None:
        # A stored assistant's run: its graph's own assistant has the same checkpointer.
        assistant = self.assistants.find(run["assistant_id"]) or self.assistants.find(run["metadata"].get("graph_id"))
        if run["temporary"] and assistant is not None and assistant.graph.checkpointer is not None:
            await asyncio.to_thread(assistant.graph.checkpointer.delete_thread, run["thread_id"])
        outcome = {"__error__": error}
        ended = {"status": "error", "values": None, "interrupts": None, "error": dumps(error)}
        await self.call(self.db.end_run, run, "error", dumps(outcome), ended, await self._stored())
        stream.finish("error", outcome)
        self.streams.close(run["run_id"])

    async def _roll_back(self, assistant: Assistant, thread_id: str, run_id: str) -> None:
        """Delete the checkpoints the run wrote on the thread (its metadata's
        ``run_id``, in every namespace, of every attempt): the head is then
        the checkpoint the thread had before the run, or none."""
        saver = assistant.graph.checkpointer
        assert saver is not None
        await asyncio.to_thread(partial(saver.delete_runs, [run_id], thread_id=thread_id))


def _event(chunk: Any, subgraphs: bool) -> tuple[str, Any]:
    """The SSE event name and data of one chunk of ``astream`` with a list of
    modes: ``(mode, data)``, or ``(namespace, mode, data)`` with subgraphs."""
    if subgraphs:
        namespace, mode, data = chunk
    else:
        namespace, (mode, data) = (), chunk
    name = "|".join((mode, *namespace)) if namespace else mode
    return name, data
