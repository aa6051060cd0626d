"""What a streamed run reports while it goes, in every stream mode:
"values", "updates", "checkpoints", "tasks", "debug", "custom" and
"messages".

The loop records events as they happen, in one queue: a task starting, a
node writing to its stream writer or a chat model's token (runtime/messages.py),
a task's update and result as it finishes, the state after the step, the
checkpoint stored. ``stream`` hands them out in that order (LangGraph's), and
in the modes whose chunks are made while a step runs (``LIVE_MODES``) as they
come: the step then runs on a stepping thread (or as an asyncio task) while
the stream's reader waits on this queue.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from cairn.checkpoint.base import CheckpointRecord, PendingWrite, TaskRecord
from cairn.current import progressed
from cairn.graph.constants import START
from cairn.graph.schema import StateSchema
from cairn.runtime.config import canonical
from cairn.runtime.parts import Parts, Paused
from cairn.runtime.snapshot import pending_outcomes
from cairn.types import Interrupt

STREAM_MODES = ("values", "updates", "checkpoints", "tasks", "debug", "custom", "messages")

LIVE_MODES = frozenset({"custom", "messages", "events"})
"""Modes with chunks made while a node runs: a stream hands them out as they
come (the step runs on a stepping thread, about 70 us a step). Updates, task
results and debug chunks are made as tasks finish, and go out after the step
in the order the tasks finished: no hand-off on the default mode's path."""


class Events:
    """The chunks of one streamed run, kept until ``stream`` takes them:
    ``(mode, chunk)`` pairs, or bare chunks when one mode was asked for as a
    string. With ``subgraphs``, each is prefixed by the namespace of the
    graph it comes from (``()`` for the top graph; ``("node:<task id>", ...)``
    for a subgraph's), and subgraphs report into the same queue (``child``).
    With ``parts`` (``stream(version="v2")``), each is LangGraph's typed
    stream part instead: ``{"type": mode, "ns": namespace, "data": chunk}``,
    "values" parts with their ``interrupts`` apart and state values as the
    schema's class (``runtime/parts.py``)."""

    def __init__(
        self,
        modes: Iterable[str],
        single: bool,
        schema: StateSchema,
        *,
        subgraphs: bool = False,
        parts: bool = False,
    ) -> None:
        self.modes = frozenset(modes)
        self._single = single
        self._ordered = schema.ordered
        self._shown = schema.shown
        self._update = schema.shown_update
        self._subgraphs = subgraphs
        self._schema = schema
        self._parts: Parts | None = Parts(schema) if parts else None
        self._ns: tuple[str, ...] = ()
        self._before: Mapping[str, Any] = {}
        """The state the running step started from."""
        self._lock = threading.Lock()
        self._queue: list[Any] = []
        self._arrived = threading.Condition(self._lock)
        self._flags: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.live = bool(self.modes & LIVE_MODES)
        """Whether chunks come while a step runs, to be handed out as they come."""

    def child(self, part: str, schema: StateSchema) -> "Events | None":
        """Where a subgraph run by this run reports (``part``: its namespace
        below this one, ``"node:<task id>"``), or None when only this graph's
        chunks are streamed."""
        if not self._subgraphs:
            return None
        child = copy.copy(self)  # the same queue and lock, another namespace
        child._ns = (*self._ns, part)
        child._ordered, child._shown, child._update = schema.ordered, schema.shown, schema.shown_update
        child._schema = schema
        if child._parts is not None:
            child._parts = Parts(schema)
        return child

    def _add(self, mode: str, chunk: Any) -> None:
        item: Any
        if self._parts is not None:
            item = self._parts.part(mode, self._ns, chunk)
        elif self._subgraphs:
            item = (self._ns, chunk) if self._single else (self._ns, mode, chunk)
        else:
            item = chunk if self._single else (mode, chunk)
        with self._lock:
            self._queue.append(item)
            self._arrived.notify_all()
            for loop, flag in self._flags:
                loop.call_soon_threadsafe(flag.set)

    def nudge(self) -> None:
        """Wake whoever waits for a chunk (a step finished)."""
        with self._lock:
            self._arrived.notify_all()

    def wait(self, until: Callable[[], bool]) -> None:
        """Block until a chunk waits to be taken or ``until()`` holds."""
        with self._lock:
            while not self._queue and not until():
                self._arrived.wait(0.5)

    async def await_chunk(self, task: "asyncio.Future[Any]") -> None:
        """Wait until a chunk waits to be taken or ``task`` is done."""
        loop = asyncio.get_running_loop()
        flag = asyncio.Event()
        entry = (loop, flag)
        with self._lock:
            if self._queue:
                return
            self._flags.append(entry)
        waiter = asyncio.ensure_future(flag.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            with self._lock:
                self._flags.remove(entry)

    def message(self, message: Any, metadata: Mapping[str, Any]) -> None:
        if "messages" in self.modes:
            self._add("messages", (message, metadata))

    def call_started(self, name: str, call_id: str, input: Any, step: int) -> None:
        """A ``@task`` call of an entrypoint starts (``input``: its ``(args, kwargs)``)."""
        payload = {"id": call_id, "name": name, "input": input, "triggers": ("__pregel_push",)}
        if "tasks" in self.modes:
            self._add("tasks", payload)
        self._debug("task", step, payload)

    def call_failed(self, name: str, call_id: str, error: BaseException, step: int) -> None:
        """A ``@task`` call of an entrypoint failed: its result, with the error."""
        payload: dict[str, Any] = {"id": call_id, "name": name, "error": error, "result": {}, "interrupts": []}
        if "tasks" in self.modes:
            self._add("tasks", payload)
        self._debug("task_result", step, payload)

    def call_result(self, name: str, call_id: str, result: Any, cached: bool = False, step: int = 0) -> None:
        """A ``@task`` call of an entrypoint finished: its result, as an update
        and (unless it came from the cache) as a task's result."""
        if "updates" in self.modes:
            self._add("updates", {name: result, "__metadata__": {"cached": True}} if cached else {name: result})
        if cached or ("tasks" not in self.modes and "debug" not in self.modes):
            return
        payload: dict[str, Any] = {"id": call_id, "name": name, "error": None, "result": {"__return__": result}, "interrupts": []}
        if "tasks" in self.modes:
            self._add("tasks", payload)
        self._debug("task_result", step, payload)

    def model_event(self, event: dict[str, Any]) -> None:
        """A chat model's event, streamed by ``astream_events`` (mode "events")."""
        if "events" in self.modes:
            self._add("events", event)

    def _debug(self, kind: str, step: int, payload: Any) -> None:
        if "debug" in self.modes:
            stamp = datetime.now(timezone.utc).isoformat()
            self._add("debug", {"step": step, "timestamp": stamp, "type": kind, "payload": payload})

    def waiting(self) -> bool:
        """Whether chunks wait to be taken."""
        return bool(self._queue)

    def take(self) -> list[Any]:
        """Every chunk recorded so far, oldest first."""
        with self._lock:
            taken = self._queue[:]
            self._queue.clear()  # in place: subgraphs' views share the list
        return taken

    # -- what the loop records ---------------------------------------------------

    def custom(self, chunk: Any) -> None:
        progressed()  # a node's custom chunk holds off its idle timeout
        if "custom" in self.modes:
            self._add("custom", chunk)

    def values(self, values: Mapping[str, Any]) -> None:
        if "values" in self.modes:
            self._add("values", self._shown(values))

    def _interrupted(self, interrupts: list[Interrupt]) -> None:
        """A task paused on ``interrupt()``: as LangGraph, a "values" chunk of
        the state the step started from, with that task's interrupts (one
        chunk per task that paused)."""
        shown = self._shown(self._before)
        if self._parts is not None:
            self._add("values", Paused(shown, tuple(interrupts)))
        else:
            # As LangGraph: a state that is not a dict (one value, an entrypoint's) gives way to the interrupts.
            pending = tuple(interrupts)
            self._add("values", {**shown, "__interrupt__": pending} if isinstance(shown, dict) else {"__interrupt__": pending})

    def paused(self, values: Mapping[str, Any], wrote: bool) -> None:
        """The run stopped on ``interrupt()`` (each paused task said so as it
        finished): the state with what the finished tasks wrote, when they
        wrote something (``wrote``), as LangGraph streams it."""
        if wrote:
            self.values(values)

    def stopped(self) -> None:
        """The run stopped at an interrupt_before/interrupt_after node."""
        if "updates" in self.modes:
            self._add("updates", {"__interrupt__": ()})

    def checkpoint(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Mapping[str, list[PendingWrite]] | None = None,
        states: Callable[[CheckpointRecord], Mapping[str, Any]] | None = None,
    ) -> None:
        """``checkpoint`` was stored (or a run resumes it: ``pending``, what
        its step left, by kind, shows in its tasks as LangGraph shows it);
        ``states(checkpoint)``: the ``state`` of its tasks that have one (the
        config of a subgraph task's checkpoints), by task id."""
        if "checkpoints" not in self.modes and "debug" not in self.modes:
            return
        shown = states(checkpoint) if states is not None else {}
        payload = _checkpoint_payload(checkpoint, self._ordered(values), pending or {}, shown)
        if "checkpoints" in self.modes:
            self._add("checkpoints", payload)
        self._debug("checkpoint", checkpoint.step, payload)

    def started(
        self,
        tasks: Iterable[TaskRecord],
        state: Mapping[str, Any],
        input_of: Callable[[TaskRecord, Mapping[str, Any]], Any],
        step: int,
    ) -> None:
        """``tasks`` start from ``state``; ``input_of(task, state)``: what the
        task's node is given (the state as its schema's class, a Send's
        argument), as LangGraph shows it."""
        self._before = state
        if "tasks" not in self.modes and "debug" not in self.modes:
            return
        for task in tasks:
            if task.name == START:
                continue
            payload = {
                "id": task.id,
                "name": task.name,
                "input": self._schema.shown_input(input_of(task, state)),
                "triggers": ("__pregel_push",) if task.push else self._schema.triggers(task.name),
            }
            if "tasks" in self.modes:
                self._add("tasks", payload)
            self._debug("task", step, payload)

    def finished(
        self,
        task: TaskRecord,
        update: Mapping[str, Any] | list[dict[str, Any]] | None,
        error: BaseException | str | None,
        interrupts: list[Interrupt],
        step: int,
        paused: bool = False,
        name: str | None = None,
        cached: bool = False,
    ) -> None:
        """``task`` finished; ``name``: the node that wrote ``update``, when not
        ``task.name`` (its error handler's); ``cached``: the write came from
        the cache, as LangGraph marks it in "updates" (and gives no task result)."""
        if task.name == START:
            return
        name = name or task.name
        if interrupts or paused:
            if "updates" in self.modes:
                self._add("updates", {"__interrupt__": tuple(interrupts)})
            if "values" in self.modes:
                self._interrupted(interrupts)
        elif "updates" in self.modes and error is None:
            chunk = {name: update if isinstance(update, list) else self._update(update)}
            if cached:
                chunk["__metadata__"] = {"cached": True}
            self._add("updates", chunk)
        if cached or ("tasks" not in self.modes and "debug" not in self.modes):
            return
        payload = {
            "id": task.id if name == task.name else f"{task.id}:{name}",
            "name": name,
            "error": error,
            "result": self._schema.task_result(update),
            "interrupts": [{"value": i.value, "id": i.id, "response_schema": i.response_schema} for i in interrupts],
        }
        if "tasks" in self.modes:
            self._add("tasks", payload)
        self._debug("task_result", step, payload)


def _checkpoint_payload(
    checkpoint: CheckpointRecord,
    values: Any,
    pending: Mapping[str, list[PendingWrite]],
    states: Mapping[str, Any],
) -> dict[str, Any]:
    """A checkpoint as the "checkpoints" stream mode shows it (the shape of
    get_state); ``pending``: what its step left (a resumed checkpoint's)."""
    thread, ns = checkpoint.thread_id, checkpoint.ns
    return {
        "config": canonical(thread, ns, checkpoint.id),
        "metadata": dict(checkpoint.metadata),
        "values": dict(values) if isinstance(values, Mapping) else values,
        "next": [task.name for task in checkpoint.tasks],
        "parent_config": canonical(thread, ns, checkpoint.parent_id) if checkpoint.parent_id else None,
        "tasks": _checkpoint_tasks(checkpoint.tasks, pending, states),
    }


def _checkpoint_tasks(
    tasks: Iterable[TaskRecord], pending: Mapping[str, list[PendingWrite]], states: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The tasks of a checkpoint payload: each with its error, or its result
    (when it finished) and its interrupts, and its ``state``, as LangGraph's."""
    if not pending:
        return [
            {"id": task.id, "name": task.name, "interrupts": (), "state": states.get(task.id)} for task in tasks
        ]
    results: dict[str, Any] = {}
    errors, interrupts, _ = pending_outcomes([w for kind in pending.values() for w in kind], results, False)
    asked = {
        task_id: tuple({"value": i.value, "id": i.id, "response_schema": i.response_schema} for i in found)
        for task_id, found in interrupts.items()
    }
    shown = []
    for task in tasks:
        if task.id in errors:
            shown.append({"id": task.id, "name": task.name, "error": errors[task.id], "state": states.get(task.id)})
            continue
        item: dict[str, Any] = {"id": task.id, "name": task.name}
        if results.get(task.id):
            item["result"] = results[task.id]
        shown.append({**item, "interrupts": asked.get(task.id, ()), "state": states.get(task.id)})
    return shown
