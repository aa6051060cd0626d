"""What a node does about failure: its retry policies, its timeout and its
error handler (and how its results are cached), as given to ``add_node``
and, for every node at once, to ``StateGraph.set_node_defaults``.

Defaults are applied when the graph is compiled: a node's own values win;
retry and timeout defaults apply to error handlers too, an error-handler
default only to ordinary nodes (a handler never handles its own failure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Callable, Sequence, Union

from cairn.errors import ArgumentTypeError, ConfigError, NotCallableError
from cairn.graph.spec import NodeSpec
from cairn.types import CachePolicy, RetryPolicy, TimeoutPolicy

__all__ = [
    "DEFAULT_HANDLER",
    "HANDLER_PREFIX",
    "NodeDefaults",
    "cache_policy",
    "handler_spec",
    "retry_policies",
    "timeout_policy",
]

HANDLER_PREFIX = "__error_handler__"
"""An error handler runs as the node ``__error_handler__<node>``: its updates
stream and are stored under that name, as in LangGraph."""

DEFAULT_HANDLER = "__default_error_handler__"
"""The name the handler given to ``set_node_defaults`` runs as."""

RetryArg = Union[RetryPolicy, Sequence[RetryPolicy], None]
TimeoutArg = Union[float, timedelta, TimeoutPolicy, None]


def retry_policies(value: RetryArg, where: str) -> tuple[RetryPolicy, ...]:
    """``retry_policy=`` as a tuple (one policy, several, or none); ``where``
    names the node in the error for anything else."""
    if value is None:
        return ()
    policies = (value,) if isinstance(value, RetryPolicy) else value
    if not isinstance(policies, (list, tuple)) or not all(isinstance(p, RetryPolicy) for p in policies):
        raise ArgumentTypeError(
            f"{where}: retry_policy={value!r} is not a RetryPolicy; pass a RetryPolicy(...) "
            "or a list of them (the first whose retry_on matches the error applies)"
        )
    return tuple(policies)


def timeout_policy(value: TimeoutArg, where: str) -> TimeoutPolicy | None:
    """``timeout=`` as a policy in seconds: a number or timedelta is
    ``TimeoutPolicy(run_timeout=...)``; ``where`` names the node in the error."""
    if value is not None and not isinstance(value, (int, float, timedelta, TimeoutPolicy)):
        raise ArgumentTypeError(
            f"{where}: timeout={value!r} is not a number of seconds, a timedelta or a "
            "TimeoutPolicy"
        )
    try:
        return TimeoutPolicy.coerce(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def handler_spec(
    name: str, where: str, handler: Callable[..., Any], destinations: tuple[str, ...] | None
) -> NodeSpec:
    """The node ``name`` an ``error_handler`` runs as; ``where`` names its
    owner in the error."""
    if not callable(handler):
        raise NotCallableError(
            f"{where}: error_handler={handler!r} is not callable; pass a function "
            "(state, error: NodeError) returning an update or a Command"
        )
    return NodeSpec(name=name, fn=handler, destinations=destinations)


def cache_policy(value: Any, where: str) -> CachePolicy | None:
    """``cache_policy=`` checked; ``where`` names the node in the error."""
    if value is None or isinstance(value, CachePolicy):
        return value
    raise ArgumentTypeError(
        f"{where}: cache_policy={value!r} is not a CachePolicy; pass "
        "CachePolicy(ttl=...) from cairn.types"
    )


@dataclass(slots=True)
class NodeDefaults:
    """What ``set_node_defaults`` set: applied to every node at compile time."""

    retry_policy: tuple[RetryPolicy, ...] = ()
    timeout: TimeoutPolicy | None = None
    error_handler: NodeSpec | None = None
    """The default handler, named as a handler of no node yet."""
    cache_policy: CachePolicy | None = None

    def apply(self, node: NodeSpec) -> NodeSpec:
        """``node`` with what it leaves unset taken from these defaults."""
        changes: dict[str, Any] = {}
        if not node.retry_policy and self.retry_policy:
            changes["retry_policy"] = self.retry_policy
        if node.timeout is None and self.timeout is not None:
            changes["timeout"] = self.timeout
        if node.cache_policy is None and self.cache_policy is not None:
            changes["cache_policy"] = self.cache_policy
        handler = node.error_handler
        if handler is None and self.error_handler is not None:
            handler = self.error_handler
        if handler is not None:
            changes["error_handler"] = self._handler(handler)
        return replace(node, **changes) if changes else node

    def _handler(self, handler: NodeSpec) -> NodeSpec:
        changes: dict[str, Any] = {}
        if not handler.retry_policy and self.retry_policy:
            changes["retry_policy"] = self.retry_policy
        if handler.timeout is None and self.timeout is not None:
            changes["timeout"] = self.timeout
        return replace(handler, **changes) if changes else handler
