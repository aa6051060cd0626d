"""What a running task can reach of its run, held in one context variable.

A run builds one ``RunScope``: the config its nodes receive, the ``Runtime``
(context, store, stream writer) and, when it has a checkpointer, where its
subgraphs store (``Binding``). Each task runs with a ``TaskContext`` of its
own in ``current`` (``cairn/current.py``, below every layer, so that
``cairn.types.interrupt`` reads it too): its id, the answers to its
``interrupt()`` calls, and the scope. Nothing of this travels in the user's
config dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, TypeVar

from cairn.current import TaskContext, heartbeat, progressed, task_context as running_task

if TYPE_CHECKING:
    from cairn.checkpoint.base import BaseCheckpointSaver, Lease
    from cairn.runtime.caching import NodeCache
    from cairn.runtime.events import Events
    from cairn.runtime.messages import MessagesMode
    from cairn.runtime.observe import RunObserver

__all__ = ["Runtime", "get_runtime"]

ContextT = TypeVar("ContextT")


_UNSET: Any = object()


def unreported(result: Any) -> None:
    """Where a finished task's result goes when nobody streams the run."""


def unkept(result: Any) -> None:
    """Where a finished task's result goes when the run stores nothing."""


def discard_call(name: str, write: Any, cached: bool = False) -> None:
    """Where a ``@task`` result goes outside a run (nowhere)."""


def discard(chunk: Any) -> None:
    """The stream writer of a run nobody streams "custom" from (the chunk
    still counts as the node's progress)."""
    progressed()


@dataclass(frozen=True, kw_only=True, slots=True)
class Runtime(Generic[ContextT]):
    """What a node taking ``runtime`` receives (LangGraph's ``Runtime``).

    >>> def node(state: State, runtime: Runtime[Context]):
    ...     return {"greeting": f"hello {runtime.context.user}"}
    >>> graph.invoke({}, config, context=Context(user="ada"))
    """

    context: Any = None
    """The run's ``context=`` (``invoke(..., context=...)``): user id, db connection..."""
    store: Any = None
    """The store given to ``compile(store=...)``, or None."""
    stream_writer: Callable[[Any], None] = field(default=discard)
    """Each value it is called with is a ``stream_mode="custom"`` chunk."""
    previous: Any = None
    """The functional API's previous return value; None in a graph."""
    heartbeat: Callable[[], None] = field(default=heartbeat)
    """Call it from long work that writes nothing, to show the node is not idle:
    it holds off the node's ``TimeoutPolicy(idle_timeout=...)``. A no-op when
    the node has none."""

    def merge(self, other: "Runtime[Any]") -> "Runtime[Any]":
        """``other``, with what it leaves unset taken from this runtime."""
        return Runtime(
            context=other.context if other.context is not None else self.context,
            store=other.store if other.store is not None else self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not discard
            else self.stream_writer,
            previous=other.previous if other.previous is not None else self.previous,
        )

    def override(
        self,
        *,
        context: Any = _UNSET,
        store: Any = _UNSET,
        stream_writer: Any = _UNSET,
        previous: Any = _UNSET,
    ) -> "Runtime[Any]":
        """This runtime with the values given replaced (None included)."""
        given = {"context": context, "store": store, "stream_writer": stream_writer, "previous": previous}
        return replace(self, **{k: v for k, v in given.items() if v is not _UNSET})


@dataclass(frozen=True, slots=True)
class Binding:
    """Where a run's subgraphs store: its saver, the lease it holds, its namespace."""

    saver: "BaseCheckpointSaver"
    lease: "Lease | None"
    durability: str
    ns: str
    replaying: bool = False
    """The run is replaying an old checkpoint: its subgraphs start afresh
    instead of resuming what they stored the first time."""
    parents: Mapping[str, str] = field(default_factory=dict)
    """The run's own ``parents`` (metadata of its checkpoints): the checkpoint
    each graph above it runs its step from, by namespace."""
    at: str | None = None
    """The checkpoint the run's current step runs from."""

    def child_ns(self, node: str, task_id: str | None) -> str:
        """The checkpoint namespace of the subgraph run by task ``task_id``
        (None: of the subgraph that keeps one memory per thread)."""
        own = node if task_id is None else f"{node}:{task_id}"
        return f"{self.ns}|{own}" if self.ns else own

    def child_parents(self) -> dict[str, str]:
        """The ``parents`` of the checkpoints of a subgraph the current step runs."""
        return {**self.parents, self.ns: self.at} if self.at is not None else dict(self.parents)


@dataclass(slots=True)
class RunScope:
    """What every task of one run shares."""

    config: dict[str, Any]
    """The config a node (or path function) taking ``config`` receives."""
    runtime: Runtime[Any]
    binding: Binding | None = None
    report: Callable[[Any], None] = unreported
    """Called with each task's result (an executor ``TaskResult``) as the
    task finishes, on the thread that ran it: how streams see each task's
    update in the order tasks finish."""
    keep: Callable[[Any], None] = unkept
    """Stores what a task that finished while others of its step still run
    produced (its ``TaskResult``), as pending writes of the step's checkpoint,
    so that a process killed before the step commits runs only the others again.
    Called after ``report`` (chunks go out in the order tasks finish), on
    the thread that ran the task (the async driver: on one of the saver's
    I/O threads)."""
    events: "Events | None" = None
    """The run's stream, which its subgraphs report into (``Events.child``)."""
    step: int = 0
    """The step the run's tasks run at now."""
    messages: "MessagesMode | None" = None
    """The run's "messages" stream, when it is asked for."""
    calls: dict[str, Any] = field(default_factory=dict)
    """Results of an entrypoint's ``@task`` calls that finished in an earlier
    try of the step, by call id (cairn.func)."""
    record_call: Callable[[str, Any, bool], None] = discard_call
    """Stores a finished ``@task`` call's result (a pending write) and streams it."""
    interrupts_of: TaskContext[Any] | None = None
    """The parent's task whose ``interrupt()`` calls this run's are: set for
    a subgraph compiled with ``checkpointer=False``, which stores nothing and
    so reruns from its start with the parent task's answers."""
    steps_left: int | None = None
    """The steps the run may still take, the running one included: what the
    state's managed keys (``RemainingSteps``, ``IsLastStep``) read."""
    cache: "NodeCache | None" = None
    """The graph's cache (``compile(cache=...)``), where ``@task`` calls with a
    ``cache_policy`` find their results."""
    observer: "RunObserver | None" = None
    """What watches the run's tasks (``runtime/observe.py``), if anything does."""

    def replaying(self, replaying: bool) -> None:
        """Tell the subgraphs of the next step whether it replays an old checkpoint."""
        if self.binding is not None and self.binding.replaying != replaying:
            self.binding = replace(self.binding, replaying=replaying)


def task_context(what: str) -> TaskContext[RunScope]:
    """The running task's context; ``what`` names the caller in the error."""
    scoped: TaskContext[RunScope] = running_task(what)
    return scoped


def get_runtime(context_schema: Any = None) -> Runtime[Any]:
    """The running node's ``Runtime`` (``context_schema`` only helps type checkers)."""
    return task_context("get_runtime()").scope.runtime
