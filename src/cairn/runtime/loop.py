"""One run of a compiled graph: the super-step loop.

A run starts from a checkpoint (the thread's head, or the one named in the
config), or from nothing when there is no checkpointer. Each step runs the
tasks due, applies their updates together, plans the next tasks and commits
a checkpoint. A failed or interrupted step commits nothing: what its tasks
produced is saved as pending writes of the step's checkpoint, so that a
resume runs only what did not finish.

What a step comes to is worked out by ``settle.py`` (a record: committed or
halted); ``Run`` is the driver that does the I/O around it: storage through
its ``Persister`` (a ``NoPersister`` without a checkpointer), the thread's
lease through its hold (``NoHold`` for a subgraph's run), the stream through
its ``Events``. A run given a ``cancel`` event checks it between steps and
stops there with ``RunCancelledError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from concurrent.futures import wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, AsyncGenerator, Generator, Mapping, Protocol

from cairn.checkpoint.base import CheckpointRecord, Lease, PendingWrite, TaskRecord, TaskWrite
from cairn.checkpoint.ids import created_at_of, new_checkpoint_id, task_id
from cairn.current import TaskContext
from cairn.errors import (
    ConfigError,
    EmptyInputError,
    GraphInterrupt,
    GraphRecursionError,
    InvalidResumeError,
    InvalidUpdateError,
    NodeError,
    RunCancelledError,
)
from cairn.graph.constants import START
from cairn.graph.spec import GraphSpec
from cairn.runtime import interrupts, offload
from cairn.runtime.config import RunConfig, require_thread
from cairn.runtime.context import Binding, Runtime, RunScope, discard, server_info, unreported
from cairn.runtime.events import Events
from cairn.runtime.executor import TaskResult, arun_step, run_step, stepping_pool
from cairn.runtime.leases import NoHold, ThreadHold
from cairn.runtime.messages import MessagesMode
from cairn.runtime.observe import RunInfo, RunObserver, start_observing
from cairn.runtime.persist import NoPersister, Persister, check_durability
from cairn.runtime.plan import plan_next, start_task
from cairn.runtime.settle import Committed, Halted, Position, kept_writes, settle
from cairn.runtime.state import apply_updates
from cairn.runtime.subgraphs import subgraph_configs
from cairn.types import Command, Interrupt

if TYPE_CHECKING:
    from cairn.runtime.protocols import RunGraph


class Cancel(Protocol):
    """What ``invoke(..., cancel=...)`` takes: a ``threading.Event`` or an
    ``asyncio.Event`` (anything with ``is_set``)."""

    def is_set(self) -> bool: ...


@dataclass
class Step:
    """What one completed super-step did (handed to stream consumers)."""

    checkpoint: CheckpointRecord
    writes: list[TaskWrite]
    values: dict[str, Any]


def node_config(config: RunConfig, thread_id: str, run_id: str | None = None) -> dict[str, Any]:
    """The config dict a node (or path function) taking ``config`` receives."""
    configurable = dict(config.configurable)
    configurable.setdefault("thread_id", thread_id)
    configurable.setdefault("checkpoint_ns", config.checkpoint_ns)
    return {
        **config.extra,
        "configurable": configurable,
        "metadata": dict(config.metadata),
        "recursion_limit": config.recursion_limit,
        "run_id": run_id,
    }


def make_checkpoint(
    spec: GraphSpec,
    *,
    thread_id: str,
    ns: str,
    parent: CheckpointRecord | None,
    source: str,
    writes: tuple[TaskWrite, ...],
    carry: Mapping[str, Any],
    metadata: Mapping[str, Any],
    graph: str,
    plan: bool = True,
    step: int | None = None,
    parents: Mapping[str, str] | None = None,
) -> CheckpointRecord:
    """A new checkpoint after ``parent`` holding ``writes``; with ``plan`` its
    next tasks are planned from those writes. Its metadata names the graph
    that wrote it (``graph_id``, unless the config's metadata already does), so
    that a process which did not start the run can find the graph to resume it."""
    cid = new_checkpoint_id(parent.id if parent else None)
    tasks: tuple[TaskRecord, ...] = ()
    if plan:
        tasks, carry = plan_next(spec, writes, carry, cid)
    if step is None:
        step = parent.step + 1 if parent else -1
    return CheckpointRecord(
        thread_id=thread_id,
        ns=ns,
        id=cid,
        parent_id=parent.id if parent else None,
        step=step,
        source=source,
        created_at=created_at_of(cid),
        metadata={
            "graph_id": graph,
            **metadata,
            "source": source,
            "step": step,
            "parents": dict(parents) if parents else {},
        },
        writes=writes,
        tasks=tasks,
        carry=carry,
    )


class Run:
    """A single invoke/stream call."""

    def __init__(
        self,
        graph: "RunGraph",
        config: RunConfig,
        *,
        durability: str | None,
        interrupt_before: tuple[str, ...],
        interrupt_after: tuple[str, ...],
        events: Events | None = None,
        lease: Lease | None = None,
        fresh: bool = False,
        context: Any = None,
        parent_runtime: Runtime[Any] | None = None,
        parents: Mapping[str, str] | None = None,
        interrupts_of: TaskContext[Any] | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        """``lease``: the thread is already held by a parent run (this run is
        a subgraph's), so this run takes no hold of its own. ``fresh``: start
        from nothing, ignoring what the namespace holds (a replayed subgraph).
        ``context``: the run's ``Runtime.context``; ``parent_runtime``: the
        runtime of the run whose node runs this one, whose context and store
        this run keeps unless it has its own; ``parents``: the checkpoint each
        graph above it runs from, by namespace (its checkpoints' metadata);
        ``interrupts_of``: the parent task its ``interrupt()`` calls belong to
        (a subgraph that stores nothing); ``cancel``: once set, the run stops
        after the step running then commits."""
        self.fresh = fresh
        self.graph = graph
        self.events = events
        self.spec = graph.spec
        self.config = config
        self.saver = graph.checkpointer
        self.before = frozenset(interrupt_before)
        self.after = frozenset(interrupt_after)
        self.run_id = str(config.extra.get("run_id") or uuid.uuid4())
        self._metadata = {**config.stored_metadata, "run_id": self.run_id}
        """What each checkpoint of the run adds to its metadata (the same for all)."""
        self.thread_id = require_thread(config, "invoke") if self.saver else (config.thread_id or "")
        self.nested = lease is not None
        """A subgraph's run, under its parent's lease."""
        self.hold: ThreadHold | NoHold = (
            ThreadHold(self.saver, self.thread_id) if self.saver and not lease else NoHold()
        )
        lease = lease or self.hold.lease
        self.durability = durability or "sync"
        check_durability(self.durability)
        self.persist: Persister | NoPersister = (
            Persister(self.saver, self.durability, lease, self.spec.schema.transient)
            if self.saver
            else NoPersister()
        )
        self.cancel = cancel
        self._observers = (*graph.observers, *config.observers) if parent_runtime is None else ()
        """What watches the run (a subgraph's steps are its parent node's)."""
        self.observer: RunObserver | None = None
        """The run's observer, once it started, when something watches it."""
        self.ns = config.checkpoint_ns
        self.parents: Mapping[str, str] = parents or {}
        self.interrupts: list[Interrupt] = []
        self._replay_of: CheckpointRecord | None = None
        """The old checkpoint a replay started from, until its first step commits."""
        self._paused_values: dict[str, Any] | None = None
        self._at_breakpoint = False
        self.cursor: Position | None = None
        writer = events.custom if events is not None and "custom" in events.modes else discard
        own: Runtime[Any] = Runtime(
            context=context, store=graph.store, stream_writer=writer, server_info=server_info(config.configurable)
        )
        if parent_runtime is not None:  # a subgraph's custom chunks go to its own stream, if any
            own = parent_runtime.merge(own).override(stream_writer=writer)
        self.scope = RunScope(
            node_config(config, self.thread_id, self.run_id),
            own,
            Binding(self.saver, lease, self.durability, self.ns, parents=self.parents)
            if self.saver is not None
            else None,
            report=self._report if events is not None else unreported,
            events=events,
            interrupts_of=interrupts_of,
            cache=graph.runner.cache,
        )
        self.scope.record_call = self._record_call
        if self.persist.stores:
            self.scope.answered = self._answered
        if events is not None and events.modes & {"tasks", "debug"}:
            self.scope.call_started = self._call_started
            self.scope.call_failed = self._call_failed
        if self.persist.stores and self.durability != "exit":
            self.scope.keep = self._keep
        self._recording = threading.Lock()
        self._kept: set[str] = set()
        """Tasks of the running step whose writes are already pending writes."""
        if events is not None and events.modes & {"messages", "events"}:
            metadata = {**self.scope.config.get("metadata", {}), "thread_id": self.thread_id}
            self.scope.messages = MessagesMode(events, metadata if self.thread_id else {}, self.ns)
        self._live = events is not None and events.live and not self.nested
        """Chunks go out while a step runs (a subgraph's go through its parent's stream)."""
        self._binds = self.scope.binding is not None and any(n.subgraph for n in self.spec.nodes.values())
        """Whether each step tells its subgraphs the checkpoint it runs from."""

    # -- starting ------------------------------------------------------------

    def _new_checkpoint(
        self,
        parent: CheckpointRecord | None,
        source: str,
        writes: tuple[TaskWrite, ...],
        carry: Mapping[str, Any],
        plan: bool = True,
    ) -> CheckpointRecord:
        return make_checkpoint(
            self.spec,
            thread_id=self.thread_id,
            ns=self.ns,
            parent=parent,
            source=source,
            writes=writes,
            carry=carry,
            metadata=self._metadata,
            graph=self.graph.name,
            plan=plan,
            parents=self.parents,
        )

    def _input_checkpoint(self, parent: CheckpointRecord | None, input: Any) -> CheckpointRecord:
        update = self.spec.schema.as_update(input)
        if update is None:
            raise InvalidUpdateError(
                f"the input must be a dict of state values (or an instance of the state "
                f"schema), got {type(input).__name__} {input!r}"
            )
        schema = self.spec.schema
        if schema.input_keys is not None:  # input_schema=: its keys only (others are dropped)
            update = {k: v for k, v in update.items() if k in schema.input_keys or k not in schema.channels}
        update = self.graph.runner.filter_mapping(START, update)
        checkpoint = self._new_checkpoint(parent, "input", (), {}, plan=False)
        return replace(checkpoint, tasks=(start_task(checkpoint.id, update or {}),))

    def _start(self, input: Any) -> Position:
        """Where the run begins: from its input (after the checkpoint the
        config names, or the thread's head), or resuming a stored checkpoint."""
        resume = input if isinstance(input, Command) else None
        if self.saver is None:
            return self._start_unsaved(input, resume)
        config = self.config
        base = None if self.fresh else self.saver.load(self.thread_id, self.ns, config.checkpoint_id)
        if base is None and config.checkpoint_id is not None:
            raise ConfigError(
                f"checkpoint {config.checkpoint_id!r} does not exist in thread "
                f"{self.thread_id!r}; list the thread's checkpoints with get_state_history"
            )
        if input is not None and resume is None:
            return self._start_with_input(base, input)
        if base is None:
            raise EmptyInputError(
                f"thread {self.thread_id!r} has no checkpoints to resume from; start it "
                "with an input: invoke({...}, config)"
            )
        return self._resume(base, resume)

    def _start_unsaved(self, input: Any, resume: Command | None) -> Position:
        """A run without a checkpointer: from its input only."""
        if resume is not None:
            raise InvalidResumeError(
                "Command(resume=...) needs a checkpointer: the answer goes to an interrupt "
                "stored with the thread; compile the graph with checkpointer=InMemorySaver() "
                "(or another saver) and pass a thread_id"
            )
        if input is None:
            raise EmptyInputError(
                "invoke(None) needs a checkpointer to resume from; pass an input, or "
                "compile the graph with a checkpointer"
            )
        values = self.spec.schema.initial()
        return Position(self._input_checkpoint(None, input), values)

    def _start_with_input(self, base: CheckpointRecord | None, input: Any) -> Position:
        """A run of a new input after ``base`` (None: on an empty thread)."""
        values = self.graph.values_at(base) if base else self.spec.schema.initial()
        checkpoint = self._input_checkpoint(base, input)
        # The input is stored once: as a pending write of the input
        # checkpoint until the step that applies it commits it as a write.
        # The two are held and committed together, when they can be.
        task = checkpoint.tasks[0]
        self.persist.save(
            replace(checkpoint, tasks=(replace(task, arg=None),)),
            values,
            [PendingWrite(task.id, "input", task.arg)],
            hold=True,
        )
        if self.events is not None:
            self.events.checkpoint(checkpoint, values, states=self._task_states)
        return Position(checkpoint, values)

    def _resume(self, base: CheckpointRecord, resume: Command | None) -> Position:
        """A run that goes on from ``base``: the thread's head, with what its
        failed or paused step left, or an older checkpoint, replayed afresh."""
        assert self.saver is not None
        values = self.graph.values_at(base)
        pending: dict[str, list[PendingWrite]] = {}
        for write in self.saver.get_pending(self.thread_id, self.ns, base.id):
            pending.setdefault(write.kind, []).append(write)
        start = Position(self._with_input(base, pending.get("input", [])), values, resuming=True)
        if self.events is not None:
            self.events.values(values)  # where the run goes on from
        waiting: dict[str, list[Any]] = {}
        # What a failed or paused step left is reused only when resuming the
        # head; replaying an older checkpoint runs its tasks afresh.
        if self.config.checkpoint_id is None or self._is_head(base):
            if self.events is not None:  # as LangGraph: the checkpoint it goes on from, with what its step left
                self.events.checkpoint(start.checkpoint, values, pending, self._task_states)
            waiting = self._take_over(start, pending)
        else:
            self.scope.replaying(True)
            self._replay_of = base
        if resume is not None and resume.update is not None:
            self._apply_update(start, resume.update)
        elif start.prelude:
            start.values = self._with_prelude(start)
        # At a static breakpoint (or after update_state) nothing waits for an answer: the run
        # goes on, as LangGraph's, and the first interrupt() its next step reaches takes it.
        if resume is not None and resume.resume is not None:
            if waiting or not base.tasks:
                self._apply_resume(start, waiting, resume.resume)
            else:
                self._answer_ahead(start, resume.resume)
        return start

    def _answer_ahead(self, start: Position, answer: Any) -> None:
        """``Command(resume=answer)`` where no interrupt waits: as LangGraph,
        the answer goes to the first ``interrupt()`` the next step reaches
        (a task that takes it stores it as its answer: ``_answered``)."""
        if isinstance(answer, Mapping) and answer and all(interrupts.looks_like_id(k) for k in answer):
            return  # answers by id: they name interrupts that are not pending
        self.scope.ahead[:] = [answer]

    def _answered(self, task_id: str, answers: list[Any]) -> None:
        """Store the answers task ``task_id`` took, so a rerun of its step reuses them."""
        with self._recording:
            if self.cursor is not None:
                self.persist.save_pending(self.cursor.checkpoint, [PendingWrite(task_id, "resume", answers)])

    def _take_over(self, start: Position, pending: Mapping[str, list[PendingWrite]]) -> dict[str, list[Any]]:
        """Reuse what the head's failed or paused step left (``pending``, by
        kind); returns the interrupts still waiting for an answer, by task."""
        start.reuse = {w.task_id: w.value for w in pending.get("result", ())}
        start.answers = {w.task_id: list(w.value) for w in pending.get("resume", ())}
        start.prelude = [w.value for w in pending.get("update", ())]
        self.scope.calls = {w.task_id: w.value for w in pending.get("call", ())}
        start.failed = {
            w.task_id: NodeError(*w.value) for w in pending.get("handled", ()) if w.task_id not in start.reuse
        }
        return {w.task_id: w.value for w in pending.get("interrupt", ()) if w.task_id not in start.reuse}

    def _apply_update(self, start: Position, update: Any) -> None:
        """Apply ``Command(update=...)`` given with a resume before the step
        runs; kept as a pending write until the step commits it."""
        values = self.graph.runner.filter_update(START, update, by_caller=True)
        write = TaskWrite(task_id(start.checkpoint.id, START, -1 - len(start.prelude)), START, values, ())
        start.prelude.append(write)
        self.persist.save_pending(start.checkpoint, [PendingWrite(write.task_id, "update", write)])
        start.values = self._with_prelude(start)

    def _with_prelude(self, start: Position) -> dict[str, Any]:
        return apply_updates(
            self.spec.schema, dict(start.values), [(w.name, w.update) for w in start.prelude], step=False
        )

    def _with_input(self, checkpoint: CheckpointRecord, inputs: list[PendingWrite]) -> CheckpointRecord:
        """``checkpoint`` with the run input its ``__start__`` task applies, found
        among its pending writes or, once applied, in its first child's writes."""
        tasks = checkpoint.tasks
        if not tasks or tasks[0].name != START or tasks[0].arg is not None:
            return checkpoint
        found = [w.value for w in inputs if w.task_id == tasks[0].id]
        if not found:
            child = self.saver.first_child(self.thread_id, self.ns, checkpoint.id)  # type: ignore[union-attr]
            found = [w.update for w in (child.writes if child else ()) if w.task_id == tasks[0].id]
        arg = found[0] if found else {}
        return replace(checkpoint, tasks=(replace(tasks[0], arg=arg), *tasks[1:]))

    def _is_head(self, checkpoint: CheckpointRecord) -> bool:
        head = self.saver.load(self.thread_id, self.ns)  # type: ignore[union-attr]
        return head is not None and head.id == checkpoint.id

    def _apply_resume(self, start: Position, waiting: Mapping[str, list[Any]], answer: Any) -> None:
        """Record ``answer`` for the pending interrupt(s) it answers."""
        writes = []
        for answered, value in interrupts.answered(self.thread_id, waiting, answer):
            start.answers.setdefault(answered, []).append(value)
            writes.append(PendingWrite(answered, "resume", list(start.answers[answered])))
        self.persist.save_pending(start.checkpoint, writes)

    # -- the loop ------------------------------------------------------------
    # The sync and async drivers differ only in how a batch of tasks is run;
    # everything before and after that is in _next_batch and _commit.

    def steps(self, input: Any) -> Generator[Step | None, None, None]:
        """Run to the end (or an interrupt), yielding after each committed step,
        and None whenever stream events wait to go out before a step runs."""
        yield from self._steps(input)
        self._ask_parent()

    async def asteps(self, input: Any) -> AsyncGenerator[Step | None, None]:
        """The async twin of ``steps``: async nodes run on the event loop, and
        what reads or writes storage on the saver's I/O threads (offload)."""
        inner = self._asteps(input)
        try:
            async for step in inner:
                yield step
        finally:
            await inner.aclose()  # closed with this one (yield from would, for a sync generator)
        self._ask_parent()

    def _steps(self, input: Any) -> Generator[Step | None, None, None]:
        ended: BaseException | None = None
        try:
            self._observe()
            self.hold.take()
            self._taken_over()
            self.cursor = cursor = self._start(input)
            while (todo := self._next_batch(cursor)) is not None:
                if self.events is not None and self.events.waiting():
                    yield None
                if self._live:
                    results, stopped = yield from self._live_step(cursor, todo)
                else:
                    results, stopped = run_step(
                        self.graph.runner, todo, cursor.values, self.scope, cursor.answers, cursor.failed
                    )
                step = self._commit(cursor, todo, results, stopped)
                if step is None:
                    return
                yield step
                if self._stops_after(step):
                    self._stop()
                    return
        except BaseException as exc:
            ended = exc
            raise
        finally:
            try:
                self._finish()
            finally:
                self._observed_end(ended)

    async def _asteps(self, input: Any) -> AsyncGenerator[Step | None, None]:
        ended: BaseException | None = None
        try:
            self._observe()
            await self.hold.atake()
            self._taken_over()
            self.cursor = cursor = await offload.call(self.saver, self._start, input)
            while (todo := self._next_batch(cursor)) is not None:
                if self.events is not None and self.events.waiting():
                    yield None
                running = arun_step(
                    self.graph.runner, todo, cursor.values, self.scope, cursor.answers, cursor.failed
                )
                if not self._live:
                    results, stopped = await running
                else:  # the step runs as a task while its chunks are handed out as they come
                    stepping = asyncio.ensure_future(running)
                    try:
                        while not stepping.done():
                            await self.events.await_chunk(stepping)  # type: ignore[union-attr]
                            if self.events.waiting():  # type: ignore[union-attr]
                                yield None
                    except GeneratorExit:  # the stream was closed: the step finishes and is committed
                        try:
                            await offload.call(self.saver, self._commit, cursor, todo, *(await stepping))
                        except Exception:  # noqa: BLE001 - recorded by _commit; the reader is gone
                            pass
                        raise
                    except BaseException:  # the run is cancelled: so is its step
                        stepping.cancel()
                        raise
                    results, stopped = await stepping
                step = await offload.call(self.saver, self._commit, cursor, todo, results, stopped)
                if step is None:
                    return
                yield step
                if self._stops_after(step):
                    self._stop()
                    return
        except BaseException as exc:
            ended = exc
            raise
        finally:
            try:
                await offload.call(self.saver, self._finish)
            finally:
                self._observed_end(ended)

    def _observe(self) -> None:
        """Start the run's observers, when it has some."""
        if self._observers:
            info = RunInfo(self.graph.name, self.thread_id, self.run_id)
            self.observer = self.scope.observer = self.persist.observer = start_observing(self._observers, info)

    def _taken_over(self) -> None:
        if self.observer is not None and self.hold.took_over is not None:
            self.observer.lease_taken_over(self.hold.took_over)

    def _observed_end(self, error: BaseException | None) -> None:
        """Tell the run's observer how the run ended (``error``: what it raised)."""
        if self.observer is None:
            return
        if isinstance(error, GeneratorExit):  # the reader stopped reading the stream
            self.observer.run_ended("cancelled", None)
        elif isinstance(error, (RunCancelledError, asyncio.CancelledError, KeyboardInterrupt)):
            self.observer.run_ended("cancelled", error)
        elif error is not None:
            self.observer.run_ended("error", error)
        else:
            paused = bool(self.interrupts) or self._at_breakpoint
            self.observer.run_ended("interrupted" if paused else "success", None)

    def _live_step(
        self, cursor: Position, todo: list[TaskRecord]
    ) -> Generator[None, None, tuple[list[TaskResult], BaseException | None]]:
        """Run a step on a stepping thread, yielding whenever chunks wait to
        be handed out, so they go out as they come, not when the step ends."""
        events = self.events
        assert events is not None
        step = contextvars.copy_context().run
        future = stepping_pool().submit(
            step, run_step, self.graph.runner, todo, cursor.values, self.scope, cursor.answers, cursor.failed
        )
        future.add_done_callback(lambda _: events.nudge())
        try:
            while not future.done():
                try:
                    events.wait(future.done)
                except BaseException as exc:  # noqa: BLE001 - e.g. KeyboardInterrupt: the step stops here
                    return [], exc
                if events.waiting():
                    yield None
        except GeneratorExit:  # the stream was closed: the step finishes and is committed
            wait([future])  # (or kept for a rerun, if it failed) before the thread is let go
            try:
                self._commit(cursor, todo, *future.result())
            except Exception:  # noqa: BLE001 - recorded by _commit; the reader is gone
                pass
            raise
        return future.result()

    def _record_call(self, name: str, write: PendingWrite, cached: bool = False) -> None:
        """Store a finished ``@task`` call's result against the step running
        now, so a rerun of the step reuses it; stream it as an update
        (``cached``: it came from the cache)."""
        with self._recording:
            if self.cursor is not None:
                self.persist.save_pending(self.cursor.checkpoint, [write])
            if self.events is not None:
                self.events.call_result(name, write.task_id, write.value, cached, self.scope.step)

    def _call_started(self, name: str, call_id: str, input: Any) -> None:
        """Stream a ``@task`` call starting, as LangGraph's "tasks" stream shows it."""
        assert self.events is not None
        self.events.call_started(name, call_id, input, self.scope.step)

    def _call_failed(self, name: str, call_id: str, error: Any) -> None:
        """Stream a ``@task`` call's failure, as LangGraph's "tasks" stream shows it."""
        assert self.events is not None
        self.events.call_failed(name, call_id, error, self.scope.step)

    def _keep(self, result: TaskResult) -> None:
        """Store what a task produced as it finishes, while its siblings
        still run (scope.keep): a kill before the step commits then runs
        only the unfinished ones again."""
        if self._replay_of is not None:  # kept by the fork the step's end makes, if it fails
            return
        with self._recording:
            assert self.cursor is not None
            self.persist.save_pending(self.cursor.checkpoint, kept_writes(result))
            self._kept.add(result.task.id)

    def _stop(self) -> None:
        """The run stops at an interrupt_before/interrupt_after breakpoint."""
        self._at_breakpoint = True
        if self.events is not None:
            self.events.stopped()

    def _ask_parent(self) -> None:
        """Pause the parent's task this run runs in, when there is one to
        pause: a subgraph's run stopped at a breakpoint (the whole run stops
        there, and resumes into it), or a run that stores nothing (a graph
        invoked in a node, a subgraph compiled with checkpointer=False) whose
        interrupts are then the task's."""
        if self._at_breakpoint and self.nested:
            raise GraphInterrupt([])
        if self.interrupts and self.saver is None and self.scope.interrupts_of is not None:
            raise GraphInterrupt(list(self.interrupts))

    @property
    def values(self) -> dict[str, Any]:
        """The state where the run stands: after its last committed step, plus
        what the finished tasks of a step that paused on an interrupt wrote."""
        if self._paused_values is not None:
            return self._paused_values
        return self.cursor.values if self.cursor is not None else {}

    def _fork(self, replayed: CheckpointRecord, values: dict[str, Any]) -> CheckpointRecord:
        """A copy of the replayed checkpoint as the thread's new head (source
        "fork"), so that what the replay's first step left (an interrupt, an
        error) belongs to the head and can be resumed."""
        fork = self._new_checkpoint(replayed, "fork", (), replayed.carry, plan=False)
        fork = replace(fork, tasks=replayed.tasks)
        self.persist.save(fork, values)
        self._replay_of = None
        return fork

    def _finish(self) -> None:
        """Store what is still held, remember the head's state, let go of the thread."""
        cursor = self.cursor
        if not self.persist.stores:
            return
        try:
            self.persist.flush()
            if cursor is not None:
                transient = self.spec.schema.transient
                stored = (
                    {k: v for k, v in cursor.values.items() if k not in transient}
                    if transient
                    else cursor.values
                )
                self.graph.heads.put(self.thread_id, self.ns, cursor.checkpoint.id, stored)
        finally:
            self.hold.release()

    def _next_batch(self, cursor: Position) -> list[TaskRecord] | None:
        """The tasks to run in the next step, or None when the run stops here."""
        tasks = cursor.checkpoint.tasks
        if not tasks:
            return None
        if self.cancel is not None and self.cancel.is_set():
            raise RunCancelledError(
                f"the run of thread {self.thread_id!r} was cancelled before step "
                f"{cursor.checkpoint.step + 1}; every step before it is stored: "
                "invoke(None, config) goes on from there"
            )
        if not (cursor.taken == 0 and cursor.resuming) and self._stops_before(tasks):
            self._stop()
            return None
        limit = self.config.recursion_limit
        if cursor.taken >= limit:
            raise GraphRecursionError(
                f"recursion limit of {limit} reached without hitting a stop condition; "
                "raise it with config={'recursion_limit': N} if the graph really needs "
                "more steps, or check its loop's exit condition"
            )
        cursor.taken += 1
        self.scope.steps_left = limit - cursor.taken + 1
        self.scope.step = cursor.checkpoint.step + 1
        self.scope.checkpoint_id = cursor.checkpoint.id
        if self._binds and self.scope.binding is not None:
            self.scope.binding = replace(self.scope.binding, at=cursor.checkpoint.id)
        todo = [t for t in tasks if t.id not in cursor.reuse]
        if self.events is not None:
            step = cursor.checkpoint.step + 1
            self.events.started(tasks, cursor.values, self._task_input, step)
            for task in tasks if cursor.reuse else ():  # as LangGraph: what finished before the resume, as cached updates
                if (reused := cursor.reuse.get(task.id)) is not None:
                    self.events.finished(task, reused.update, None, [], step, name=reused.name, cached=True)
        if self.observer is not None:
            self.observer.step_started(self.scope.step, todo)
        return todo

    def _commit(
        self,
        cursor: Position,
        todo: list[TaskRecord],
        results: list[TaskResult],
        stopped: BaseException | None,
    ) -> Step | None:
        """Store what the step came to (``settle``): its checkpoint, or what
        its finished tasks produced as pending writes, then raise (or pause,
        on an interrupt)."""
        outcome = settle(self.spec.schema, cursor, todo, results, stopped, self._kept)
        self._kept.clear()
        if isinstance(outcome, Halted):
            if self.observer is not None:
                self.observer.step_ended(cursor.checkpoint.step + 1, outcome.error)
            self._halt(cursor, outcome)
            return None
        step = self._advance(cursor, outcome)
        if self.observer is not None:
            self.observer.step_ended(step.checkpoint.step, None)
        return step

    def _halt(self, cursor: Position, halted: Halted) -> None:
        """Keep what a step that did not finish left; raise its error, or pause."""
        checkpoint = cursor.checkpoint
        if self._replay_of is not None:
            cursor.checkpoint = checkpoint = self._fork(checkpoint, cursor.values)
        self.interrupts.extend(halted.interrupts)
        self.persist.save_pending(checkpoint, halted.pending)
        if halted.error is not None:
            raise halted.error
        # The result shows what the finished tasks wrote, as get_state does.
        self._paused_values = halted.values
        if self.events is not None:
            # As LangGraph: a subgraph's pause goes up to its parent's task, without its values.
            under_a_task = self.nested or self.scope.interrupts_of is not None
            self.events.paused(halted.values or {}, halted.wrote and not under_a_task)

    def _advance(self, cursor: Position, committed: Committed) -> Step:
        """CheckpointRecord a step whose tasks all finished and move the run to it."""
        writes, values = committed.writes, committed.values
        checkpoint = self._new_checkpoint(cursor.checkpoint, "loop", tuple(writes), cursor.checkpoint.carry)
        if self.events is not None and any(self.spec.schema.shows(w.update) for w in writes):
            self.events.values(values)  # as LangGraph: only when a key it shows was written
        self.persist.save(checkpoint, values)
        if self.events is not None and self.persist.stores:
            self.events.checkpoint(checkpoint, values, states=self._task_states)
        cursor.checkpoint, cursor.values = checkpoint, values
        cursor.reuse, cursor.answers, cursor.failed, cursor.prelude = {}, {}, {}, []
        if not self.nested:  # an answer given ahead is for the first step only (the parent's)
            self.scope.ahead.clear()
        if self._replay_of is not None:  # the replay's first step is stored
            self.scope.replaying(False)
            self._replay_of = None
        return Step(checkpoint, writes, values)

    def _task_states(self, checkpoint: CheckpointRecord) -> Mapping[str, Any]:
        """The ``state`` "checkpoints" streams show of ``checkpoint``'s tasks:
        the config of each subgraph task's checkpoints, by task id."""
        if not self.graph.runner.has_subgraphs:
            return {}
        return subgraph_configs(self.spec, self.thread_id, self.ns, checkpoint.tasks)

    def _task_input(self, task: TaskRecord, values: Mapping[str, Any]) -> Any:
        """What ``task`` of the step starting on ``values`` gives its node."""
        return self.graph.runner.task_input(task, values, self.scope.steps_left)

    def _report(self, result: TaskResult) -> None:
        """Stream what became of a task as it finishes (scope.report)."""
        assert self.events is not None and self.cursor is not None
        step = self.cursor.checkpoint.step + 1
        error = result.error
        paused = isinstance(error, GraphInterrupt)
        outcome = result.outcome
        handled = result.handled or (outcome.handled if outcome is not None else None)
        if handled is not None:  # the node's failure, then its handler's task
            self.events.finished(result.task, None, handled.error, [], step)
            if outcome is None and not paused:
                return  # the handler failed too; the run fails with its error
        shown = None if outcome is None else outcome.write.update if outcome.shown is None else outcome.shown
        self.events.finished(
            result.task,
            shown,
            None if paused else error,
            [i for i in error.interrupts if isinstance(i, Interrupt)] if paused else [],  # type: ignore[union-attr]
            step,
            paused,
            name=outcome.write.name if outcome is not None else None,
            cached=outcome is not None and outcome.cached,
        )
        if self.scope.messages is not None and outcome is not None and not outcome.cached:
            self.scope.messages.returned(result.task, shown, step)

    def _stops_before(self, tasks: tuple[TaskRecord, ...]) -> bool:
        if not self.before:
            return False
        return any(
            t.name in self.before or ("*" in self.before and t.name != START) for t in tasks
        )

    def _stops_after(self, step: Step) -> bool:
        if not self.after or not step.checkpoint.tasks:
            return False
        return any(
            w.name != START and ("*" in self.after or w.name in self.after) for w in step.writes
        )
