"""One run of a compiled graph: the super-step loop.

A run starts from a checkpoint (the thread's head, or the one named in the
config), or from nothing when there is no checkpointer. Each step runs the
tasks due, applies their updates together, plans the next tasks and commits
a checkpoint. A failed or interrupted step commits nothing: what its tasks
produced is saved as pending writes of the step's checkpoint, so that a
resume runs only what did not finish.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from concurrent.futures import wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, AsyncGenerator, Generator, Mapping

from cairn.checkpoint.base import Checkpoint, Lease, PendingWrite, TaskRecord, TaskWrite
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
)
from cairn.graph.constants import START
from cairn.graph.spec import GraphSpec
from cairn.runtime import interrupts, offload
from cairn.runtime.config import RunConfig, require_thread
from cairn.runtime.context import Binding, Runtime, RunScope, discard, unreported
from cairn.runtime.events import Events
from cairn.runtime.executor import TaskResult, arun_step, run_step, stepping_pool
from cairn.runtime.leases import ThreadHold
from cairn.runtime.messages import MessagesMode
from cairn.runtime.persist import Persister, check_durability
from cairn.runtime.plan import plan_next, start_task
from cairn.runtime.state import apply_updates, ordered_writes
from cairn.types import Command, Interrupt

if TYPE_CHECKING:
    from cairn.runtime.protocols import RunGraph


@dataclass
class Step:
    """What one completed super-step did (handed to stream consumers)."""

    checkpoint: Checkpoint
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
    parent: Checkpoint | None,
    source: str,
    writes: tuple[TaskWrite, ...],
    carry: Mapping[str, Any],
    metadata: Mapping[str, Any],
    graph: str,
    plan: bool = True,
    step: int | None = None,
    parents: Mapping[str, str] | None = None,
) -> Checkpoint:
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
    return Checkpoint(
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


@dataclass
class _Cursor:
    """Where a run stands: its checkpoint and state, and for the step about to
    run, the results it may reuse and the answers to its interrupts."""

    checkpoint: Checkpoint
    values: dict[str, Any]
    reuse: dict[str, TaskWrite] = field(default_factory=dict)
    answers: dict[str, list[Any]] = field(default_factory=dict)
    failed: dict[str, NodeError] = field(default_factory=dict)
    """Tasks whose node failed in an earlier run and whose error handler is
    to run instead (its failure, the stored repr of the node's error)."""
    resuming: bool = False
    taken: int = 0
    prelude: list[TaskWrite] = field(default_factory=list)
    """``Command(resume=..., update=...)``'s updates, applied to ``values``
    before the step's tasks run and committed as the step's first writes."""


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
    ) -> None:
        """``lease``: the thread is already held by a parent run (this run is
        a subgraph's), so this run takes no hold of its own. ``fresh``: start
        from nothing, ignoring what the namespace holds (a replayed subgraph).
        ``context``: the run's ``Runtime.context``; ``parent_runtime``: the
        runtime of the run whose node runs this one, whose context and store
        this run keeps unless it has its own; ``parents``: the checkpoint each
        graph above it runs from, by namespace (its checkpoints' metadata);
        ``interrupts_of``: the parent task its ``interrupt()`` calls belong to
        (a subgraph that stores nothing)."""
        self.fresh = fresh
        self.graph = graph
        self.events = events
        self.spec = graph.spec
        self.config = config
        self.saver = graph.checkpointer
        self.before = frozenset(interrupt_before)
        self.after = frozenset(interrupt_after)
        self.run_id = str(config.extra.get("run_id") or uuid.uuid4())
        self.thread_id = require_thread(config, "invoke") if self.saver else (config.thread_id or "")
        self.nested = lease is not None
        """A subgraph's run, under its parent's lease."""
        self.hold = ThreadHold(self.saver, self.thread_id) if self.saver and not lease else None
        if self.hold is not None:
            lease = self.hold.lease
        self.durability = durability or "sync"
        check_durability(self.durability)
        self.persist = (
            Persister(self.saver, self.durability, lease, self.spec.schema.transient)
            if self.saver
            else None
        )
        self.ns = config.checkpoint_ns
        self.parents: Mapping[str, str] = parents or {}
        self.interrupts: list[Interrupt] = []
        self._replay_of: Checkpoint | None = None
        """The old checkpoint a replay started from, until its first step commits."""
        self._paused_values: dict[str, Any] | None = None
        self._at_breakpoint = False
        self.cursor: _Cursor | None = None
        writer = events.custom if events is not None and "custom" in events.modes else discard
        own: Runtime[Any] = Runtime(context=context, store=graph.store, stream_writer=writer)
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
        )
        self.scope.record_call = self._record_call
        self._recording = threading.Lock()
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
        parent: Checkpoint | None,
        source: str,
        writes: tuple[TaskWrite, ...],
        carry: Mapping[str, Any],
        plan: bool = True,
    ) -> Checkpoint:
        return make_checkpoint(
            self.spec,
            thread_id=self.thread_id,
            ns=self.ns,
            parent=parent,
            source=source,
            writes=writes,
            carry=carry,
            metadata={**self.config.stored_metadata, "run_id": self.run_id},
            graph=self.graph.name,
            plan=plan,
            parents=self.parents,
        )

    def _input_checkpoint(self, parent: Checkpoint | None, input: Any) -> Checkpoint:
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

    def _start(self, input: Any) -> _Cursor:
        resume = input if isinstance(input, Command) else None
        if self.saver is None:
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
            return _Cursor(self._input_checkpoint(None, input), values)
        config = self.config
        base = None if self.fresh else self.saver.get(self.thread_id, self.ns, config.checkpoint_id)
        if base is None and config.checkpoint_id is not None:
            raise ConfigError(
                f"checkpoint {config.checkpoint_id!r} does not exist in thread "
                f"{self.thread_id!r}; list the thread's checkpoints with get_state_history"
            )
        if input is not None and resume is None:
            values = self.graph.values_at(base) if base else self.spec.schema.initial()
            checkpoint = self._input_checkpoint(base, input)
            # The input is stored once: as a pending write of the input
            # checkpoint until the step that applies it commits it as a write.
            # The two are held and committed together, when they can be.
            task = checkpoint.tasks[0]
            self.persist.put(  # type: ignore[union-attr]
                replace(checkpoint, tasks=(replace(task, arg=None),)),
                values,
                [PendingWrite(task.id, "input", task.arg)],
                hold=True,
            )
            if self.events is not None:
                self.events.checkpoint(checkpoint, values)
            return _Cursor(checkpoint, values)
        if base is None:
            raise EmptyInputError(
                f"thread {self.thread_id!r} has no checkpoints to resume from; start it "
                "with an input: invoke({...}, config)"
            )
        values = self.graph.values_at(base)
        pending: dict[str, list[PendingWrite]] = {}
        for write in self.saver.get_pending(self.thread_id, self.ns, base.id):
            pending.setdefault(write.kind, []).append(write)
        start = _Cursor(self._with_input(base, pending.get("input", [])), values, resuming=True)
        if self.events is not None:
            self.events.values(values)  # where the run goes on from
        waiting: dict[str, list[Any]] = {}
        # What a failed or paused step left is reused only when resuming the
        # head; replaying an older checkpoint runs its tasks afresh.
        if config.checkpoint_id is None or self._is_head(base):
            start.reuse = {w.task_id: w.value for w in pending.get("result", ())}
            start.answers = {w.task_id: list(w.value) for w in pending.get("resume", ())}
            start.prelude = [w.value for w in pending.get("update", ())]
            self.scope.calls = {w.task_id: w.value for w in pending.get("call", ())}
            start.failed = {
                w.task_id: NodeError(*w.value)
                for w in pending.get("handled", ())
                if w.task_id not in start.reuse
            }
            waiting = {
                w.task_id: w.value for w in pending.get("interrupt", ()) if w.task_id not in start.reuse
            }
        else:
            self.scope.replaying(True)
            self._replay_of = base
        if resume is not None and resume.update is not None:
            self._apply_update(start, resume.update)
        elif start.prelude:
            start.values = self._with_prelude(start)
        # At a static breakpoint nothing waits for an answer: the run goes on, as LangGraph's.
        if resume is not None and resume.resume is not None and (waiting or not base.tasks):
            self._apply_resume(start, waiting, resume.resume)
        return start

    def _apply_update(self, start: _Cursor, update: Any) -> None:
        """Apply ``Command(update=...)`` given with a resume before the step
        runs; kept as a pending write until the step commits it."""
        values = self.graph.runner.filter_update(START, update, by_caller=True)
        write = TaskWrite(task_id(start.checkpoint.id, START, -1 - len(start.prelude)), START, values, ())
        start.prelude.append(write)
        self.persist.put_pending(start.checkpoint, [PendingWrite(write.task_id, "update", write)])  # type: ignore[union-attr]
        start.values = self._with_prelude(start)

    def _with_prelude(self, start: _Cursor) -> dict[str, Any]:
        return apply_updates(
            self.spec.schema, dict(start.values), [(w.name, w.update) for w in start.prelude]
        )

    def _with_input(self, checkpoint: Checkpoint, inputs: list[PendingWrite]) -> Checkpoint:
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

    def _is_head(self, checkpoint: Checkpoint) -> bool:
        head = self.saver.get(self.thread_id, self.ns)  # type: ignore[union-attr]
        return head is not None and head.id == checkpoint.id

    def _apply_resume(self, start: _Cursor, waiting: Mapping[str, list[Any]], answer: Any) -> None:
        """Record ``answer`` for the pending interrupt(s) it answers."""
        writes = []
        for answered, value in interrupts.answered(self.thread_id, waiting, answer):
            start.answers.setdefault(answered, []).append(value)
            writes.append(PendingWrite(answered, "resume", list(start.answers[answered])))
        self.persist.put_pending(start.checkpoint, writes)  # type: ignore[union-attr]

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
        try:
            if self.hold is not None:
                self.hold.take()
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
        finally:
            self._finish()

    async def _asteps(self, input: Any) -> AsyncGenerator[Step | None, None]:
        try:
            if self.hold is not None:
                await self.hold.atake()
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
        finally:
            await offload.call(self.saver, self._finish)

    def _live_step(
        self, cursor: _Cursor, todo: list[TaskRecord]
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

    def _record_call(self, name: str, write: PendingWrite) -> None:
        """Store a finished ``@task`` call's result against the step running
        now, so a rerun of the step reuses it; stream it as an update."""
        with self._recording:
            if self.persist is not None and self.cursor is not None:
                self.persist.put_pending(self.cursor.checkpoint, [write])
            if self.events is not None:
                self.events.call_result(name, write.value)

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

    def _fork(self, replayed: Checkpoint, values: dict[str, Any]) -> Checkpoint:
        """A copy of the replayed checkpoint as the thread's new head (source
        "fork"), so that what the replay's first step left (an interrupt, an
        error) belongs to the head and can be resumed."""
        fork = self._new_checkpoint(replayed, "fork", (), replayed.carry, plan=False)
        fork = replace(fork, tasks=replayed.tasks)
        if self.persist is not None:
            self.persist.put(fork, values)
        self._replay_of = None
        return fork

    def _finish(self) -> None:
        """Store what is still held, remember the head's state, let go of the thread."""
        cursor = self.cursor
        if self.persist is None:
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
            if self.hold is not None:
                self.hold.release()

    def _next_batch(self, cursor: _Cursor) -> list[TaskRecord] | None:
        """The tasks to run in the next step, or None when the run stops here."""
        tasks = cursor.checkpoint.tasks
        if not tasks:
            return None
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
        if self._binds and self.scope.binding is not None:
            self.scope.binding = replace(self.scope.binding, at=cursor.checkpoint.id)
        todo = [t for t in tasks if t.id not in cursor.reuse]
        if self.events is not None:
            self.events.started(todo, cursor.values, cursor.checkpoint.step + 1)
        return todo

    def _commit(
        self,
        cursor: _Cursor,
        todo: list[TaskRecord],
        results: list[TaskResult],
        stopped: BaseException | None,
    ) -> Step | None:
        """Apply a finished step and checkpoint it; on failure keep what
        finished as pending writes and raise (or pause, on an interrupt)."""
        checkpoint = cursor.checkpoint
        done = {r.task.id: r.outcome for r in results if r.outcome is not None}
        if stopped is not None or len(done) < len(todo):
            if self._replay_of is not None:
                cursor.checkpoint = checkpoint = self._fork(checkpoint, cursor.values)
            self._record_failure(checkpoint, results)
            if stopped is not None:
                raise stopped
            failures = [r.error for r in results if r.error is not None and r.failed]
            if failures:
                # A task cancelled because another failed is not the cause.
                raise next(
                    (e for e in failures if not isinstance(e, asyncio.CancelledError)), failures[0]
                )
            # The result shows what the finished tasks wrote, as get_state does.
            finished = ordered_writes(
                checkpoint.tasks, {**cursor.reuse, **{tid: o.write for tid, o in done.items()}}
            )
            self._paused_values = apply_updates(
                self.spec.schema, dict(cursor.values), [(w.name, w.update) for w in finished]
            )
            if self.events is not None:
                self.events.paused(self._paused_values, self.interrupts)
            return None  # interrupted: the run pauses here
        only = results[0].outcome if len(results) == 1 and not cursor.reuse else None
        if only is not None and len(checkpoint.tasks) == 1:
            writes = [only.write]
        else:
            writes = ordered_writes(
                checkpoint.tasks, {**cursor.reuse, **{tid: o.write for tid, o in done.items()}}
            )
        if only is not None and only.fresh is not None:
            values = only.fresh
        else:
            values = apply_updates(
                self.spec.schema, dict(cursor.values), [(w.name, w.update) for w in writes]
            )
        if cursor.prelude:  # already in cursor.values
            writes = [*cursor.prelude, *writes]
            cursor.prelude = []
        checkpoint = self._new_checkpoint(checkpoint, "loop", tuple(writes), checkpoint.carry)
        if self.events is not None and any(w.update for w in writes):
            self.events.values(values)  # as LangGraph: only when a key was written
        if self.persist is not None:
            self.persist.put(checkpoint, values)
            if self.events is not None:
                self.events.checkpoint(checkpoint, values)
        cursor.checkpoint, cursor.values = checkpoint, values
        cursor.reuse, cursor.answers, cursor.failed = {}, {}, {}
        if self._replay_of is not None:  # the replay's first step is stored
            self.scope.replaying(False)
            self._replay_of = None
        return Step(checkpoint, writes, values)

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
        self.events.finished(
            result.task,
            outcome.write.update if outcome is not None else None,
            None if paused else error,
            [i for i in error.interrupts if isinstance(i, Interrupt)] if paused else [],  # type: ignore[union-attr]
            step,
            paused,
            name=outcome.write.name if outcome is not None else None,
        )
        if self.scope.messages is not None and outcome is not None:
            self.scope.messages.returned(result.task, outcome.write.update, step)

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

    def _record_failure(self, checkpoint: Checkpoint, results: list[TaskResult]) -> None:
        """Keep what the finished tasks of a failed step produced."""
        writes: list[PendingWrite] = []
        for result in results:
            handled = result.handled or (result.outcome.handled if result.outcome else None)
            if handled is not None:
                writes.extend(_handled(result.task.id, handled))
            if result.outcome is not None:
                writes.append(PendingWrite(result.task.id, "result", result.outcome.write))
            elif isinstance(result.error, GraphInterrupt):
                found = [i for i in result.error.interrupts if isinstance(i, Interrupt)]
                self.interrupts.extend(found)
                writes.append(
                    PendingWrite(result.task.id, "interrupt", [[i.id, i.value] for i in found])
                )
            elif result.error is not None and handled is None:
                writes.append(PendingWrite(result.task.id, "error", repr(result.error)))
        if self.persist is not None:
            self.persist.put_pending(checkpoint, writes)



def _handled(task_id: str, handled: NodeError) -> list[PendingWrite]:
    """What is kept of a node's failure its error handler took: the error
    (shown as the task's, as any failure is) and, for a resume to run the
    handler instead of the node, which node failed and how."""
    error = handled.error if isinstance(handled.error, str) else repr(handled.error)
    return [
        PendingWrite(task_id, "error", error),
        PendingWrite(task_id, "handled", [handled.node, error]),
    ]
