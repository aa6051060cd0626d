"""The values users pass to and get back from a compiled graph."""

from __future__ import annotations

import random
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import timedelta
from typing import (
    Any,
    Callable,
    Generic,
    Hashable,
    Literal,
    NamedTuple,
    Sequence,
    TypedDict,
    TypeVar,
    Union,
)

from cairn.current import task_context
from cairn.errors import GraphInterrupt
from cairn.warnings import LangGraphDeprecatedSinceV11

__all__ = [
    "All",
    "CachePolicy",
    "CheckpointPayload",
    "CheckpointStreamPart",
    "CheckpointTask",
    "Command",
    "CustomStreamPart",
    "DebugPayload",
    "DebugStreamPart",
    "Durability",
    "GraphOutput",
    "Interrupt",
    "MessagesStreamPart",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "StreamPart",
    "StreamWriter",
    "TaskPayload",
    "TaskResultPayload",
    "TasksStreamPart",
    "TimeoutPolicy",
    "UpdatesStreamPart",
    "ValuesStreamPart",
    "interrupt",
]

Durability = Literal["sync", "async", "exit"]
"""When a run's checkpoints are committed: before the next step starts
("sync"), in the background but in order ("async"), or when the run ends ("exit")."""

StreamMode = Literal["values", "updates", "debug", "checkpoints", "tasks", "custom", "messages"]

StreamWriter = Callable[[Any], None]
"""The type of a node's ``writer`` parameter: each value it is called with is
a ``stream_mode="custom"`` chunk (``def node(state, writer: StreamWriter)``)."""

All = Literal["*"]
"""``interrupt_before="*"`` stops before every node."""


@dataclass(frozen=True)
class Send:
    """Run ``node`` in the next step with ``arg`` as its input (map-reduce fan-out).

    Return a list of these from a conditional edge's path function, or use
    them as ``Command(goto=...)``.
    """

    node: str
    arg: Any

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"


N = TypeVar("N", bound=Hashable)


@dataclass(frozen=True)
class Command(Generic[N]):
    """Returned by a node to update the state and choose where to go next;
    passed to ``invoke`` with ``resume=`` to answer a pending ``interrupt()``."""

    update: Any = None
    goto: Union[str, Send, Sequence[Union[str, Send]]] = ()
    resume: Any = None
    graph: str | None = None

    PARENT = "__parent__"


OVERWRITE: Literal["__overwrite__"] = "__overwrite__"
"""The key of an overwrite's dict form: ``{"__overwrite__": value}``."""


@dataclass(frozen=True)
class Overwrite:
    """Write ``value`` to a key with a reducer as it is, bypassing the reducer
    (``{"messages": Overwrite([])}`` empties the messages). The dict form
    ``{"__overwrite__": value}`` does the same; a key takes one overwrite a step."""

    value: Any
    type: Literal["__overwrite__"] = OVERWRITE


@dataclass(frozen=True)
class Interrupt:
    """A pause requested by ``interrupt(value)``; ``id`` names it for
    resuming; ``response_schema``: the JSON Schema of the answer expected
    (``interrupt(value, response_schema=...)``), or None."""

    value: Any
    id: str = ""
    response_schema: Any = field(default=None, kw_only=True)


# -- stream(version="v2") -----------------------------------------------------------
# LangGraph's typed stream parts, under its names. Plain (not generic) TypedDicts,
# so that they also exist on Python 3.10: ``data`` is typed Any.


class TaskPayload(TypedDict):
    """A task starting ("tasks" and "debug" modes)."""

    id: str
    name: str
    input: Any
    triggers: Sequence[str]


class TaskResultPayload(TypedDict):
    """A task's result ("tasks" and "debug" modes)."""

    id: str
    name: str
    error: Any
    interrupts: list[dict[str, Any]]
    result: dict[str, Any]


class CheckpointTask(TypedDict, total=False):
    """A task of a checkpoint payload: ``id``, ``name`` and ``state`` always."""

    id: str
    name: str
    error: str
    result: Any
    interrupts: Sequence[Any]
    state: Any


class CheckpointPayload(TypedDict):
    """A checkpoint as "checkpoints" streams it (the shape of ``get_state``)."""

    config: dict[str, Any] | None
    metadata: dict[str, Any]
    values: Any
    next: list[str]
    parent_config: dict[str, Any] | None
    tasks: list[CheckpointTask]


class DebugPayload(TypedDict):
    """A "debug" chunk: ``type`` "checkpoint", "task" or "task_result", and its payload."""

    step: int
    timestamp: str
    type: Literal["checkpoint", "task", "task_result"]
    payload: Any


class ValuesStreamPart(TypedDict):
    """The state after a step; ``interrupts`` holds those the run paused on."""

    type: Literal["values"]
    ns: tuple[str, ...]
    data: Any
    interrupts: tuple["Interrupt", ...]


class UpdatesStreamPart(TypedDict):
    """``{node: update}`` as a node finishes (or ``{"__interrupt__": ...}``)."""

    type: Literal["updates"]
    ns: tuple[str, ...]
    data: dict[str, Any]


class MessagesStreamPart(TypedDict):
    """A chat model's ``(message chunk, metadata)``."""

    type: Literal["messages"]
    ns: tuple[str, ...]
    data: tuple[Any, dict[str, Any]]


class CustomStreamPart(TypedDict):
    """What a node sent to its stream writer."""

    type: Literal["custom"]
    ns: tuple[str, ...]
    data: Any


class CheckpointStreamPart(TypedDict):
    """A checkpoint stored."""

    type: Literal["checkpoints"]
    ns: tuple[str, ...]
    data: CheckpointPayload


class TasksStreamPart(TypedDict):
    """A task starting or finishing."""

    type: Literal["tasks"]
    ns: tuple[str, ...]
    data: Union[TaskPayload, TaskResultPayload]


class DebugStreamPart(TypedDict):
    """A checkpoint, task start or task result, with its step and time."""

    type: Literal["debug"]
    ns: tuple[str, ...]
    data: DebugPayload


StreamPart = Union[
    ValuesStreamPart,
    UpdatesStreamPart,
    MessagesStreamPart,
    CustomStreamPart,
    CheckpointStreamPart,
    TasksStreamPart,
    DebugStreamPart,
]
"""What ``stream(..., version="v2")`` yields: tell them apart by ``part["type"]``."""

OutputT = TypeVar("OutputT")


@dataclass(frozen=True)
class GraphOutput(Generic[OutputT]):
    """What ``invoke(..., version="v2")`` returns: the final state (as the
    output schema's class when it is a pydantic model or a dataclass) and the
    interrupts the run paused on."""

    value: OutputT
    interrupts: tuple["Interrupt", ...] = ()

    def __getitem__(self, key: str) -> Any:
        """The v1 way to read a result (``result["__interrupt__"]``, ``result[key]``),
        kept for ported code with LangGraph's deprecation warning."""
        _warn_item_access("result[key]")
        if key == "__interrupt__":
            return self.interrupts
        if isinstance(self.value, dict):
            return self.value[key]
        try:
            return getattr(self.value, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        _warn_item_access("key in result")
        if key == "__interrupt__":
            return bool(self.interrupts)
        if isinstance(self.value, dict):
            return key in self.value
        return isinstance(key, str) and hasattr(self.value, key)


def _warn_item_access(how: str) -> None:
    warnings.warn(
        f"Accessing GraphOutput via `{how}` is deprecated. Use `result.value` to access the "
        "output value directly, or `result.interrupts` for interrupts.",
        LangGraphDeprecatedSinceV11,
        stacklevel=3,
    )


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state``: ``values`` written as if node
    ``as_node`` had returned them (``"__input__"``: as a run's input;
    ``"__copy__"`` with values None: a copy of the checkpoint)."""

    values: dict[str, Any] | None
    as_node: str | None = None
    task_id: str | None = None


class PregelTask(NamedTuple):
    """A task due at a checkpoint, as shown in ``StateSnapshot.tasks``."""

    id: str
    name: str
    path: tuple[Any, ...] = ()
    error: str | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """The state of a thread at one checkpoint."""

    values: dict[str, Any]
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()


def _default_retry_on(exc: BaseException) -> bool:
    """Retry what looks transient; never retry what is a bug in the node's code."""
    from cairn.errors import NodeTimeoutError

    if isinstance(exc, (ConnectionError, NodeTimeoutError)):
        return True
    return not isinstance(
        exc,
        (
            ValueError,
            TypeError,
            ArithmeticError,
            ImportError,
            LookupError,
            NameError,
            SyntaxError,
            RuntimeError,
            ReferenceError,
            StopIteration,
            StopAsyncIteration,
            OSError,
        ),
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How a node retries in place before its error counts as a failure.

    ``retry_on`` is an exception class, a sequence of them, or a predicate
    ``(exception) -> bool``. A node given several policies
    (``retry_policy=[p1, p2]``) retries under the first whose ``retry_on``
    accepts the exception; ``max_attempts`` counts every attempt of the task.
    The fields are in LangGraph's order, for policies made positionally.
    """

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: Union[
        type[BaseException], Sequence[type[BaseException]], Callable[[BaseException], bool]
    ] = field(default=_default_retry_on)

    def __post_init__(self) -> None:
        from cairn.errors import ConfigError

        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigError(
                f"RetryPolicy(max_attempts={self.max_attempts!r}) must be a whole number >= 1; "
                "use max_attempts=1 for no retries."
            )
        if self.initial_interval < 0 or self.max_interval < 0 or self.backoff_factor < 1:
            raise ConfigError(
                f"RetryPolicy intervals must be >= 0 and backoff_factor >= 1, got "
                f"initial_interval={self.initial_interval!r}, max_interval={self.max_interval!r}, "
                f"backoff_factor={self.backoff_factor!r}."
            )

    def should_retry(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one this policy retries."""
        if not isinstance(exc, Exception):
            return False
        check = self.retry_on
        if isinstance(check, type):
            return isinstance(exc, check)
        if isinstance(check, (tuple, list)):
            return isinstance(exc, tuple(check))
        return bool(check(exc))  # type: ignore[operator]

    def interval(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_interval, self.initial_interval * self.backoff_factor ** (attempt - 1))
        return base + random.uniform(0, 1) if self.jitter else base


def _seconds(value: Union[float, timedelta, None], name: str) -> float | None:
    from cairn.errors import ConfigError

    if value is None:
        return None
    try:
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0:
        raise ConfigError(
            f"{name}={value!r} must be a number of seconds > 0 (or a timedelta); "
            "leave it out for no limit"
        )
    return seconds


@dataclass(frozen=True)
class CachePolicy:
    """How a node's (or a task's) results are cached, in the cache given to
    ``compile(cache=...)`` (``@entrypoint(cache=...)``): a node called with an
    input whose key is in the cache is not run; what it returned then is its
    write. ``key_func`` makes the key of the node's input (by default, of all
    of it); ``ttl``: seconds an entry is used, None for ever."""

    key_func: Callable[..., Union[str, bytes]] | None = None
    """Makes the key of an input (a task's: of its arguments); None: the
    whole input, as LangGraph's default (equal inputs, equal keys)."""
    ttl: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeoutPolicy:
    """How long one attempt of a node may take before it fails with
    ``NodeTimeoutError`` (which its retry policy may retry).

    ``run_timeout``: seconds (or a timedelta) for the whole attempt.
    ``idle_timeout``: seconds the attempt may go without progress; progress
    is a call of ``runtime.heartbeat()`` and, under ``refresh_on="auto"``,
    also a chunk written to the custom stream. ``add_node(..., timeout=5)``
    is ``TimeoutPolicy(run_timeout=5)``.
    """

    run_timeout: Union[float, timedelta, None] = None
    idle_timeout: Union[float, timedelta, None] = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"

    @classmethod
    def coerce(cls, value: Union[float, timedelta, "TimeoutPolicy", None]) -> "TimeoutPolicy | None":
        """``value`` as a policy in float seconds, checked; None for no limit."""
        from cairn.errors import ConfigError

        if value is None:
            return None
        policy = value if isinstance(value, TimeoutPolicy) else cls(run_timeout=value)
        if policy.refresh_on not in ("auto", "heartbeat"):
            raise ConfigError(
                f"TimeoutPolicy(refresh_on={policy.refresh_on!r}) must be 'auto' or 'heartbeat'"
            )
        run = _seconds(policy.run_timeout, "run_timeout" if value is policy else "timeout")
        idle = _seconds(policy.idle_timeout, "idle_timeout")
        if run is None and idle is None:
            return None
        return cls(run_timeout=run, idle_timeout=idle, refresh_on=policy.refresh_on)


def interrupt(value: Any, *, response_schema: Any = None) -> Any:
    """Pause the running node and hand ``value`` to the caller.

    The run stops after the current step; ``invoke(Command(resume=answer), thread)``
    runs the node again from its start, and this call then returns ``answer``.
    The n-th call in a node returns the n-th answer the task was given, if
    there is one, and otherwise raises ``GraphInterrupt``, which the engine
    catches.

    ``response_schema``: what the answer should be, shown to the caller as
    the interrupt's ``response_schema`` (JSON Schema): a JSON Schema dict
    (shown as it is; answers are not checked), or a pydantic model, a
    TypedDict or a dataclass (shown as its JSON Schema; the answer is
    validated into it and this call returns the validated object). An answer
    it refuses raises ``pydantic.ValidationError`` (as LangGraph's;
    ``cairn.errors.is_invalid_resume`` tells it apart) and is not kept: the
    interrupt waits for another answer.
    """
    adapter = None if response_schema is None or isinstance(response_schema, dict) else _adapter(response_schema)
    task = task_context("interrupt()")
    while task.parent is not None:
        task = task.parent
    index = task.used
    task.used += 1
    if index < len(task.answers):
        answer = task.answers[index]
        return answer if adapter is None else _validated(adapter, answer, task.task_id, task.answers[:index])
    taken, answer = task.scope.take_ahead()
    if taken:  # Command(resume=...) given while no interrupt waited: the first one asking takes it
        validated = answer if adapter is None else _validated(adapter, answer, task.task_id, task.answers[:index])
        task.answers.append(answer)
        task.scope.answered(task.task_id, list(task.answers))
        return validated
    shown = adapter.json_schema() if adapter is not None else response_schema
    raise GraphInterrupt([Interrupt(value=value, id=interrupt_id(task.task_id, index), response_schema=shown)])


def _adapter(schema: Any) -> Any:
    """A pydantic ``TypeAdapter`` of an ``interrupt()``'s ``response_schema``."""
    try:
        from pydantic import TypeAdapter
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from cairn.errors import MissingDependencyError

        raise MissingDependencyError(
            f"interrupt(response_schema={schema!r}) validates answers with pydantic: pip "
            "install pydantic, or give the schema as a JSON Schema dict"
        ) from exc
    try:
        return TypeAdapter(schema)
    except Exception as exc:  # noqa: BLE001 - pydantic's errors for a type it cannot read vary
        from cairn.errors import ArgumentTypeError

        raise ArgumentTypeError(
            f"interrupt(response_schema={schema!r}) is not a schema pydantic can read ({exc}); "
            "give a pydantic model, a TypedDict, a dataclass or a JSON Schema dict"
        ) from exc


def _validated(adapter: Any, answer: Any, task_id: str, kept: list[Any]) -> Any:
    """``answer`` validated by ``adapter``; refused, the ``ValidationError``
    names the task and the answers it keeps (``cairn.errors.INVALID_RESUME``)."""
    from pydantic import ValidationError

    from cairn.errors import INVALID_RESUME

    try:
        return adapter.validate_python(answer)
    except ValidationError as exc:
        setattr(exc, INVALID_RESUME, (task_id, list(kept)))
        raise


_INTERRUPT_IDS = uuid.UUID("0c3f7d8e-2b6a-4e1d-8f5a-9b7c6d5e4f3a")


def interrupt_id(task_id: str, index: int) -> str:
    """The id of the ``index``-th interrupt of task ``task_id``: the same on every
    rerun of the task, so an answer given by id finds it again."""
    return uuid.uuid5(_INTERRUPT_IDS, f"{task_id}|{index}").hex
