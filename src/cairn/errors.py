"""Every error cairn raises, under one base class.

    CairnError
    ├── GraphValidationError   the graph as built cannot run (raised by the builder / compile)
    │   └── NotCallableError   a node or a path that is not callable (a TypeError too)
    ├── InvalidUpdateError     a node, an input or update_state wrote something the state cannot take
    ├── GraphRecursionError    a run took more super-steps than its recursion_limit
    ├── ConfigError            a config is missing something or holds a bad value
    │   ├── ArgumentTypeError  an argument of the wrong type (a TypeError too)
    │   ├── CheckpointerModeError  a graph compiled with checkpointer=True run on its own
    │   └── ToolInjectionError  a tool's injected argument (InjectedState/InjectedStore) has no value
    ├── MissingDependencyError an optional extra (cairn[postgres], ...) is not installed
    │   └── UnknownVersionError  stream/invoke(version=...) other than "v1" or "v2"
    ├── EmptyInputError        invoke(None, thread) on a thread with nothing to resume
    ├── InvalidResumeError     Command(resume=...) that matches no pending interrupt
    │   └── UnknownInterruptError  it names interrupts not pending, or is ambiguous (with the ids)
    ├── ThreadBusyError        another run holds the thread
    ├── NodeTimeoutError       a node ran past its timeout (run_timeout or idle_timeout)
    ├── NodeCancelledError     an async node raised asyncio.CancelledError itself
    ├── GraphDrained           a run stopped early between two steps, resumable (LangGraph's name)
    │   └── RunCancelledError  a run's cancel event was set: it stopped between two steps
    ├── SerializationError     a value cannot be stored, or stored bytes cannot be read
    │   └── ClassNotLoadableError  intact bytes name a class the serializer has not registered
    │                              (cairn.checkpoint.serde)
    ├── StorageError           the checkpoint store failed or holds something cairn cannot use
    │   └── CheckpointInUseError  a delete (delete_for_runs) would leave other checkpoints unreadable
    ├── ParentCommand          Command(graph=Command.PARENT) returned by a node of a graph without a parent
    ├── StoreInputError        a namespace, key, value, filter or index given to a Store is unusable
    │   └── InvalidNamespaceError  a namespace that is empty or has a bad label (a ValueError too)
    ├── OutsideNodeError       get_config(), interrupt(), ... called while no node runs
    ├── InvalidChatHistoryError  a ToolNode or agent got messages it cannot use
    ├── ToolInvocationError    a model's tool call with arguments the tool refuses
    │                          (cairn.prebuilt.tool_node; a langchain ToolException too)
    ├── InvalidToolOutputError a tool returned something ToolNode cannot turn into messages
    ├── CacheKeyError          a CachePolicy's key_func could not make a key of a node's input
    ├── RequestError           a request to ``cairn serve`` it cannot serve (answered 4xx; cairn.server)
    ├── NotSupportedError      a LangGraph parameter cairn does not implement yet
    ├── EmptyChannelError      LangGraph's: reading a channel that holds nothing (cairn raises none)
    └── TaskNotFound           LangGraph's: a distributed executor's missing task (cairn raises none)

Each message names the offending value and says what to do about it. The
built-in class each error also derives from (ValueError, RecursionError, ...)
keeps ``except ValueError`` blocks written for LangGraph working.

``GraphInterrupt`` is not an error: it is the signal ``interrupt()`` raises to
pause a node. It derives from ``BaseException`` so that a node's own
``except Exception`` does not swallow it. ``GraphBubbleUp`` is the base of
what goes up through a node to its graph (``GraphInterrupt``, and
``ParentCommand``, which is a ``CairnError`` too): a node that catches
broadly can ``except GraphBubbleUp: raise`` first, as in LangGraph.
``ErrorCode`` and ``create_error_message`` are LangGraph's troubleshooting
codes and the helper that adds the address of their page to a message. ``NodeError`` is no exception either: it is what an
``add_node(..., error_handler=...)`` handler receives about the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Sequence

__all__ = [
    "ArgumentTypeError",
    "CacheKeyError",
    "CairnError",
    "CheckpointInUseError",
    "CheckpointerModeError",
    "ConfigError",
    "EmptyChannelError",
    "EmptyInputError",
    "ErrorCode",
    "GraphBubbleUp",
    "GraphDrained",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidChatHistoryError",
    "InvalidNamespaceError",
    "InvalidResumeError",
    "InvalidToolOutputError",
    "InvalidUpdateError",
    "MissingDependencyError",
    "NodeCancelledError",
    "NodeError",
    "NodeInterrupt",
    "NodeTimeoutError",
    "NotCallableError",
    "NotSupportedError",
    "OutsideNodeError",
    "ParentCommand",
    "RequestError",
    "RunCancelledError",
    "SerializationError",
    "StorageError",
    "StoreInputError",
    "TaskNotFound",
    "ThreadBusyError",
    "ToolInjectionError",
    "UnknownInterruptError",
    "UnknownVersionError",
    "create_error_message",
    "is_invalid_resume",
]


class CairnError(Exception):
    """Base class of every error cairn raises."""


INVALID_RESUME = "_cairn_invalid_resume"
"""The attribute ``interrupt()`` sets on the ``pydantic.ValidationError`` it
raises for an answer its ``response_schema`` refuses: the task's id and the
answers it keeps (those before the refused one), so that the refused answer
is not stored and the interrupt can be answered again."""


def is_invalid_resume(error: BaseException) -> bool:
    """Whether ``error`` was raised because an answer to ``interrupt(...,
    response_schema=...)`` (``Command(resume=...)``) did not match the schema:
    ``interrupt()`` raises a ``pydantic.ValidationError`` then, as LangGraph's."""
    return getattr(error, INVALID_RESUME, None) is not None


class ErrorCode(Enum):
    """LangGraph's troubleshooting codes (its docs have a page for each)."""

    GRAPH_RECURSION_LIMIT = "GRAPH_RECURSION_LIMIT"
    INVALID_CONCURRENT_GRAPH_UPDATE = "INVALID_CONCURRENT_GRAPH_UPDATE"
    INVALID_GRAPH_NODE_RETURN_VALUE = "INVALID_GRAPH_NODE_RETURN_VALUE"
    MULTIPLE_SUBGRAPHS = "MULTIPLE_SUBGRAPHS"
    INVALID_CHAT_HISTORY = "INVALID_CHAT_HISTORY"


def create_error_message(*, message: str, error_code: ErrorCode) -> str:
    """``message`` followed by the address of LangGraph's page about ``error_code``."""
    return (
        f"{message}\nFor troubleshooting, visit: "
        f"https://docs.langchain.com/oss/python/langgraph/errors/{error_code.value}"
    )


class GraphValidationError(CairnError, ValueError):
    """The graph as built cannot run: an unknown node, a missing entry point, ..."""


class NotCallableError(GraphValidationError, TypeError):
    """A node's action or a conditional edge's path is not callable (a
    TypeError too, as LangGraph raises)."""


class InvalidUpdateError(CairnError, ValueError):
    """An update the state cannot take: two writes to a plain key in one step,
    a node returning something other than a dict, an unknown ``as_node``."""


class GraphRecursionError(CairnError, RecursionError):
    """A run took more super-steps than ``recursion_limit`` allows."""


class ConfigError(CairnError, ValueError):
    """A config is missing a required key or holds a value of the wrong kind."""


class UnknownVersionError(ConfigError):
    """``stream``/``invoke`` got a ``version`` other than "v1" and "v2"."""


class ArgumentTypeError(ConfigError, TypeError):
    """An argument of the wrong type: a checkpointer that is not a saver, a
    config that is not a dict, a recursion_limit that is not a number (a
    TypeError too, as LangGraph raises)."""


class MissingDependencyError(CairnError, ImportError):
    """A backend needs a package that is not installed; the message says which extra."""


class EmptyInputError(CairnError, ValueError):
    """``invoke(None, thread)`` on a thread that has nothing to resume."""


class InvalidResumeError(CairnError, ValueError, RuntimeError):
    """``Command(resume=...)`` that matches no pending interrupt (a RuntimeError
    too, as LangGraph raises for an answer that fits several interrupts)."""


class UnknownInterruptError(InvalidResumeError):
    """``Command(resume=...)`` names interrupts that are not pending
    (``reason`` "not_pending", the ids in ``interrupt_ids``), or is one answer
    while several interrupts wait (``reason`` "ambiguous"). ``pending_ids``
    lists those still waiting; nothing was written, so they can be answered."""

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["not_pending", "empty_map", "ambiguous"],
        interrupt_ids: Sequence[str] = (),
        pending_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.interrupt_ids = tuple(interrupt_ids)
        self.pending_ids = tuple(pending_ids)

    def __reduce__(self) -> Any:
        named = {"reason": self.reason, "interrupt_ids": self.interrupt_ids, "pending_ids": self.pending_ids}
        return (_rebuilt, (UnknownInterruptError, str(self), named))


def _rebuilt(cls: type, message: str, named: dict[str, Any]) -> Any:
    return cls(message, **named)


class ThreadBusyError(CairnError):
    """Another run is writing to the thread right now."""


class NodeTimeoutError(CairnError, TimeoutError):
    """A node attempt ran past its ``timeout``: longer than ``run_timeout`` in
    all (``kind="run"``), or longer than ``idle_timeout`` without progress
    (``kind="idle"``). ``timeout`` is the limit that fired; a retry policy
    retries it by default, as LangGraph's does."""

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: Literal["idle", "run"],
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        limit = idle_timeout if kind == "idle" else run_timeout
        if limit is None:
            raise ConfigError(
                f"NodeTimeoutError(kind={kind!r}) needs {kind}_timeout, the limit that fired"
            )
        what = "without making progress" if kind == "idle" else "in all"
        super().__init__(
            f"node {node!r} ran past its {kind} timeout of {limit:g} s {what} (elapsed "
            f"{elapsed:.3f} s) and counts as failed; resume with invoke(None, config) to run "
            f"it again, or give it more time with add_node({node!r}, ..., timeout=...)"
        )
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.timeout = limit
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout

    def __reduce__(self) -> Any:
        return (_timeout_error, (self.node, self.elapsed, self.kind, self.idle_timeout, self.run_timeout))


def _timeout_error(
    node: str, elapsed: float, kind: Any, idle: float | None, run: float | None
) -> NodeTimeoutError:
    return NodeTimeoutError(node, elapsed, kind=kind, idle_timeout=idle, run_timeout=run)


class NodeCancelledError(CairnError):
    """An async node raised ``asyncio.CancelledError`` from its own body.

    cairn cancels a task itself only to stop it (a sibling failed, a timeout
    fired, the caller was cancelled); a cancellation the node raised is a
    failure of that node, reported as this error instead of passing for a
    shutdown."""

    def __init__(self, node: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"node {node!r} raised asyncio.CancelledError itself; raise an ordinary "
            "exception to fail the node, or return normally"
        )
        self.node = node

    def __reduce__(self) -> Any:
        return (NodeCancelledError, (self.node, str(self)))


class GraphDrained(CairnError):
    """A run stopped early, between two steps, with every step before stored:
    ``invoke(None, config)`` goes on from there (LangGraph's name for a run
    drained by its RunControl; cairn's is ``RunCancelledError``)."""

    def __init__(self, reason: str = "shutdown", message: str | None = None) -> None:
        super().__init__(message or f"Graph drained: {reason}")
        self.reason = reason

    def __reduce__(self) -> Any:
        return (type(self), (self.reason, str(self)))


class RunCancelledError(GraphDrained):
    """The ``cancel`` event given to a run was set: the run stopped after the
    step that was running then committed. The thread keeps every committed
    step; ``invoke(None, config)`` goes on from there."""

    def __init__(self, message: str, reason: str = "cancelled") -> None:
        super().__init__(reason, message)

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.reason))


class SerializationError(CairnError, TypeError):
    """A value cannot be stored, or stored bytes cannot be turned back into values."""


class StorageError(CairnError):
    """The checkpoint store failed, or holds data cairn cannot use."""


class CheckpointInUseError(StorageError):
    """``delete_for_runs`` refused: a checkpoint that stays is stored as the
    writes of its step on top of one it would delete, so it could no longer
    be read. Nothing was deleted."""


class CheckpointerModeError(ConfigError, RuntimeError):
    """A graph compiled with ``checkpointer=True`` (a subgraph's memory) was run on its own."""


class GraphBubbleUp(BaseException):
    """What goes up through a node to its graph instead of failing it: an
    interrupt (``GraphInterrupt``) or a command for the parent graph
    (``ParentCommand``). A node that catches broadly re-raises it first::

        try:
            ...
        except GraphBubbleUp:
            raise
        except Exception as exc:
            ...
    """


class ParentCommand(CairnError, GraphBubbleUp):
    """A node returned ``Command(graph=Command.PARENT, ...)``: raised out of its
    graph so that the parent graph applies the command as the subgraph
    node's own. Reaching the caller, it means the graph had no parent."""

    def __init__(self, command: Any, node: str) -> None:
        super().__init__(
            f"node {node!r} returned {command!r} with graph=Command.PARENT, but its graph "
            "is not running as a subgraph: add the graph as a node of another graph, or "
            "return the Command without graph="
        )
        self.command = command


class RequestError(CairnError, ValueError):
    """A request to ``cairn serve`` that it cannot serve: an unknown thread,
    run or assistant, malformed JSON, a field of the wrong type, a busy
    thread. ``status`` is the HTTP status it is answered with (4xx); the
    request changed nothing."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> Any:
        return (RequestError, (str(self), self.status))


class StoreInputError(CairnError, ValueError):
    """A Store call with input it cannot take: a value that is not a dict, a
    key that is not a string, an unknown filter operator, a bad index path."""


class InvalidNamespaceError(StoreInputError):
    """A Store namespace that is empty, or has a label that is not a non-empty
    string without '.' (LangGraph's ``InvalidNamespaceError``)."""


class OutsideNodeError(CairnError, RuntimeError):
    """A call that only works inside a running node (``get_config()``,
    ``get_runtime()``, ``get_stream_writer()``, ``interrupt()``) was made outside one."""


class ToolInjectionError(ConfigError):
    """A tool's parameter marked ``InjectedState("key")`` or ``InjectedStore()``
    has nothing to receive: the state lacks the key, or the graph has no store."""


class InvalidChatHistoryError(CairnError, ValueError):
    """``ToolNode`` or ``create_react_agent``'s model node got messages it
    cannot use: none at all, no ``AIMessage``, or tool calls without results."""


class InvalidToolOutputError(CairnError, ValueError):
    """A tool run by ``ToolNode`` returned something it cannot turn into
    messages: a value of another type, or a ``Command`` without the
    ``ToolMessage`` answering its call."""


class CacheKeyError(CairnError, TypeError):
    """A node's (or task's) ``CachePolicy.key_func`` raised, or returned
    something other than ``str`` or ``bytes``, for the node's input."""


class NotSupportedError(CairnError, NotImplementedError):
    """A parameter LangGraph has and cairn does not implement yet; the message names it."""


def not_supported(where: str, **given: object) -> None:
    """Raise ``NotSupportedError`` for the first of ``given`` that was set (not None/False/())."""
    for name, value in given.items():
        if value is not None and value is not False and value != ():
            raise NotSupportedError(
                f"{where}: {name}={value!r} is a LangGraph parameter cairn does not support yet; "
                f"leave it out (cairn would otherwise ignore it silently)"
            )


class EmptyChannelError(CairnError, LookupError):
    """LangGraph's error for reading a channel that holds nothing. cairn's
    channels are declarations in a schema, read by the engine, and a key
    that holds nothing is absent from the state: cairn raises none; the
    class is here so that code catching it runs unchanged."""


class TaskNotFound(CairnError):
    """LangGraph's error of a distributed executor that cannot find a task.
    cairn runs a thread's tasks in the process that runs the thread and
    raises none; the class is here so that code catching it runs unchanged."""


class GraphInterrupt(GraphBubbleUp):
    """Raised by ``interrupt()`` to pause the running node; caught by the engine."""

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = tuple(interrupts)


class NodeInterrupt(GraphInterrupt):
    """Raised by a node to pause the run with ``value`` as its interrupt
    (LangGraph's older form of ``interrupt()``): ``invoke(None, config)`` runs
    the node again from its start."""

    def __init__(self, value: Any = None) -> None:
        super().__init__(())
        self.value = value


@dataclass(frozen=True, slots=True)
class NodeError:
    """What an error handler learns about a failed node: give the handler a
    parameter ``error: NodeError``.

    >>> def fallback(state: State, error: NodeError) -> dict:
    ...     return {"status": f"{error.node} failed: {error.error}"}
    >>> builder.add_node("call_api", call_api, error_handler=fallback)

    ``error`` is the exception the node raised (after its retries); when the
    handler runs on a resume, after a failure of the handler itself, it is
    the stored ``repr`` of that exception, a ``str``.
    """

    node: str
    """The name of the node that failed."""
    error: BaseException | str
    """What it raised."""
