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

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, TypeVar

from cairn.current import TaskContext, current, heartbeat, progressed, task_context as running_task
from cairn.errors import OutsideNodeError

if TYPE_CHECKING:
    from cairn.checkpoint.base import BaseCheckpointSaver, Lease
    from cairn.runtime.caching import NodeCache
    from cairn.runtime.events import Events
    from cairn.runtime.messages import MessagesMode
    from cairn.runtime.observe import RunObserver

__all__ = ["ExecutionInfo", "Runtime", "ServerInfo", "get_runtime"]

ContextT = TypeVar("ContextT")


_UNSET: Any = object()


def _given(arguments: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments a caller gave, from a method's ``locals()``
    taken first thing (its ``self`` and the ones left ``_UNSET`` dropped)."""
    return {k: v for k, v in arguments.items() if k != "self" and v is not _UNSET}


def unreported(result: Any) -> None:
    """Where a finished task's result goes when nobody streams the run."""


def unkept(result: Any) -> None:
    """Where a finished task's result goes when the run stores nothing."""


def discard_call(name: str, write: Any, cached: bool = False) -> None:
    """Where a ``@task`` result goes outside a run (nowhere)."""


def discard_answers(task_id: str, answers: list[Any]) -> None:
    """Where a task's answers go when the run stores nothing."""


def discard_start(name: str, call_id: str, input: Any) -> None:
    """Where a ``@task`` call's start (or failure) goes when nobody streams the run's tasks."""


def discard(chunk: Any) -> None:
    """The stream writer of a run nobody streams "custom" from (the chunk
    still counts as the node's progress)."""
    progressed()


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Where the running node's attempt is (``runtime.execution_info``), as LangGraph fills it."""

    checkpoint_id: str
    """The checkpoint the node's step runs from (the one whose ``next`` lists it)."""
    checkpoint_ns: str
    """The task's own namespace: ``"node:<task id>"``, under its graph's
    (``"parent:<id>|node:<id>"`` in a subgraph)."""
    task_id: str
    thread_id: str | None = None
    """None when the run has no thread (no checkpointer, no ``thread_id``)."""
    run_id: str | None = None
    """The run's id: ``config["run_id"]`` when given (as in LangGraph), else the
    id cairn gave the run (the ``run_id`` of its checkpoints' metadata), where
    LangGraph has None."""
    node_attempt: int = 1
    """Which attempt this is, from 1 (a retry policy's retries count up)."""
    node_first_attempt_time: float | None = None
    """When the first attempt started (``time.time()``; for a node that takes
    no ``runtime`` but calls ``get_runtime()``, when it first called it)."""

    def patch(
        self,
        *,
        checkpoint_id: Any = _UNSET,
        checkpoint_ns: Any = _UNSET,
        task_id: Any = _UNSET,
        thread_id: Any = _UNSET,
        run_id: Any = _UNSET,
        node_attempt: Any = _UNSET,
        node_first_attempt_time: Any = _UNSET,
    ) -> "ExecutionInfo":
        """This record with the fields given replaced."""
        return replace(self, **_given(locals()))


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who runs the graph when a server does (``runtime.server_info``):
    ``cairn serve`` (or LangGraph's server) puts the assistant and graph ids
    in the run's ``configurable``; None when the graph runs in your code."""

    assistant_id: str
    graph_id: str
    user: Any = None
    """The authenticated user (``configurable["langgraph_auth_user"]``), if any."""


def server_info(configurable: Mapping[str, Any]) -> ServerInfo | None:
    """What a run's ``configurable`` says of the server running it (LangGraph's keys)."""
    assistant_id = configurable.get("assistant_id")
    graph_id = configurable.get("graph_id")
    user = configurable.get("langgraph_auth_user")
    if user is not None and not hasattr(user, "identity"):
        user = None
    if assistant_id is None and graph_id is None and user is None:
        return None
    return ServerInfo(str(assistant_id) if assistant_id else "", str(graph_id) if graph_id else "", user)


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
    execution_info: ExecutionInfo | None = None
    """Where the running node's attempt is: its checkpoint, namespace, task,
    thread, run and attempt; None outside a node."""
    server_info: ServerInfo | None = None
    """The assistant and graph a server runs this run for; None outside a server."""

    def merge(self, other: "Runtime[Any]") -> "Runtime[Any]":
        """``other``, with what it leaves unset taken from this runtime."""
        return Runtime(
            context=other.context if other.context is not None else self.context,
            store=other.store if other.store is not None else self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not discard
            else self.stream_writer,
            previous=other.previous if other.previous is not None else self.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
        )

    def override(
        self,
        *,
        context: Any = _UNSET,
        store: Any = _UNSET,
        stream_writer: Any = _UNSET,
        previous: Any = _UNSET,
        execution_info: Any = _UNSET,
        server_info: Any = _UNSET,
    ) -> "Runtime[Any]":
        """This runtime with the values given replaced (None included)."""
        return replace(self, **_given(locals()))

    def patch_execution_info(
        self,
        *,
        checkpoint_id: Any = _UNSET,
        checkpoint_ns: Any = _UNSET,
        task_id: Any = _UNSET,
        thread_id: Any = _UNSET,
        run_id: Any = _UNSET,
        node_attempt: Any = _UNSET,
        node_first_attempt_time: Any = _UNSET,
    ) -> "Runtime[Any]":
        """This runtime with fields of its ``execution_info`` replaced."""
        if self.execution_info is None:
            raise OutsideNodeError(
                "this runtime has no execution_info to patch: it is set for a running "
                "node's runtime only; patch the runtime the node received"
            )
        return replace(self, execution_info=replace(self.execution_info, **_given(locals())))


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
    call_started: Callable[[str, str, Any], None] = discard_start
    """Streams a ``@task`` call starting (its name, id and ``(args, kwargs)``)."""
    call_failed: Callable[[str, str, Any], None] = discard_start
    """Streams a ``@task`` call failing (its name, id and error)."""
    ahead: list[Any] = field(default_factory=list)
    """An answer given while no interrupt waited (at most one), for the
    first ``interrupt()`` of the run's next step (``take_ahead``)."""
    answered: Callable[[str, list[Any]], None] = discard_answers
    """Stores the answers a task took (its id, all its answers so far)."""
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
    checkpoint_id: str = ""
    """The checkpoint the run's current step runs from."""

    def take_ahead(self) -> tuple[bool, Any]:
        """The answer ``Command(resume=...)`` gave while no interrupt waited,
        for the first ``interrupt()`` of the step that asks for one: (True,
        answer) once, then (False, None)."""
        try:
            return True, self.ahead.pop()  # atomic: one task takes it
        except IndexError:
            return False, None

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
    return task_runtime(task_context("get_runtime()"))


def task_runtime(task: TaskContext[RunScope]) -> Runtime[Any]:
    """The ``Runtime`` the running task's node receives: its run's, with the
    task's ``execution_info`` (made when asked for: most nodes never are)."""
    scope = task.scope
    if task.started is None:
        task.started = time.time()
    configurable = scope.config["configurable"]
    ns = configurable.get("checkpoint_ns") or ""
    own = f"{task.name}:{task.task_id}"
    info = ExecutionInfo(
        checkpoint_id=scope.checkpoint_id,
        checkpoint_ns=f"{ns}|{own}" if ns else own,
        task_id=task.task_id,
        thread_id=configurable.get("thread_id") or None,
        run_id=scope.config.get("run_id"),
        node_attempt=task.attempt,
        node_first_attempt_time=task.started,
    )
    return replace(scope.runtime, execution_info=info)


def attempt_started(attempt: int) -> None:
    """Tell the running task that its attempt ``attempt`` (from 1) starts (a retry)."""
    found = current.get()
    if found is not None:
        found.attempt = attempt
