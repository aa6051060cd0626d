"""The attempts of one task: each within the node's timeout, retried under
its retry policies.

A timeout (``TimeoutPolicy``) limits one attempt: ``run_timeout`` in all,
``idle_timeout`` since the attempt last made progress (``runtime.heartbeat()``,
and under ``refresh_on="auto"`` a custom stream chunk; see ``cairn.current``).
An async attempt past its limit is cancelled; a sync one runs in a thread of
its own that is abandoned (Python cannot stop a thread; what it does
afterwards is ignored). A retry policy decides whether the resulting
``NodeTimeoutError``, like any other error, is retried.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from datetime import timedelta
from typing import Any, Awaitable, Callable, Literal, Union

from cairn.current import TaskContext, current
from cairn.runtime.context import attempt_started
from cairn.errors import NodeCancelledError, NodeTimeoutError, ParentCommand
from cairn.graph.spec import NodeSpec
from cairn.types import TimeoutPolicy

__all__ = ["aretrying", "retrying"]


def retrying(node: NodeSpec, once: Callable[[], Any]) -> Any:
    """What ``once()`` returns, after as many attempts as ``node``'s retry
    policies allow; raises the last attempt's error."""
    attempt = 1
    while True:
        try:
            return once() if node.timeout is None else _within(node, node.timeout, once)
        except Exception as exc:
            time.sleep(_retry_delay(node, attempt, exc))
            attempt += 1
            attempt_started(attempt)


async def aretrying(node: NodeSpec, once: Callable[[], Awaitable[Any]]) -> Any:
    """The async twin of ``retrying``. An ``asyncio.CancelledError`` the node
    raised itself (not a cancellation of the run) fails the attempt as
    ``NodeCancelledError``."""
    attempt = 1
    while True:
        try:
            if node.timeout is None:
                return await _own_cancellation(node, once())
            return await _awithin(node, node.timeout, once())
        except Exception as exc:
            await asyncio.sleep(_retry_delay(node, attempt, exc))
            attempt += 1
            attempt_started(attempt)


def _retry_delay(node: NodeSpec, attempt: int, exc: Exception) -> float:
    """Seconds to wait before attempt ``attempt + 1``; re-raises ``exc`` when
    no policy of ``node`` retries it or its attempts are used up."""
    policy = None if isinstance(exc, ParentCommand) else node.retry_for(exc)  # a hand-off, not a failure
    if policy is None or attempt >= policy.max_attempts:
        raise exc
    return policy.interval(attempt)


async def _own_cancellation(node: NodeSpec, pending: Awaitable[Any]) -> Any:
    try:
        return await pending
    except asyncio.CancelledError:
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        if cancelling is not None and cancelling() == 0:
            raise NodeCancelledError(node.name) from None
        raise  # the run is being cancelled (or, before 3.11, cannot tell)


# -- timeouts ---------------------------------------------------------------------


def _seconds(value: Union[float, timedelta, None]) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


class _Clock:
    """The limits of one attempt, from its start and its task's last progress."""

    def __init__(self, node: NodeSpec, policy: TimeoutPolicy) -> None:
        self.node = node.name
        self.run = _seconds(policy.run_timeout)
        self.idle = _seconds(policy.idle_timeout)
        self.start = time.monotonic()
        self.task: TaskContext[Any] | None = current.get()
        if self.task is not None:
            self.task.beat = self.start
            self.task.auto = policy.refresh_on == "auto"

    def due(self) -> tuple[float, Literal["idle", "run"]]:
        """Seconds left before the nearest limit, and which limit it is."""
        now = time.monotonic()
        left: list[tuple[float, Literal["idle", "run"]]] = []
        if self.run is not None:
            left.append((self.start + self.run - now, "run"))
        if self.idle is not None:
            beat = self.task.beat if self.task is not None else self.start
            left.append((beat + self.idle - now, "idle"))
        return min(left)

    def expired(self, kind: Literal["idle", "run"]) -> NodeTimeoutError:
        return NodeTimeoutError(
            self.node,
            time.monotonic() - self.start,
            kind=kind,
            idle_timeout=self.idle,
            run_timeout=self.run,
        )


def _within(node: NodeSpec, policy: TimeoutPolicy, once: Callable[[], Any]) -> Any:
    """``once()`` in a thread of its own, waited for until a limit passes."""
    done = threading.Event()
    box: list[tuple[bool, Any]] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            box.append((True, context.run(once)))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting task
            box.append((False, exc))
        finally:
            done.set()

    clock = _Clock(node, policy)
    threading.Thread(target=target, name=f"cairn-node-{node.name}", daemon=True).start()
    while True:
        left, kind = clock.due()
        if left <= 0:
            raise clock.expired(kind)
        if done.wait(left):
            break
    ok, value = box[0]
    if not ok:
        raise value
    return value


async def _awithin(node: NodeSpec, policy: TimeoutPolicy, pending: Awaitable[Any]) -> Any:
    """``pending`` as a task of its own, cancelled when a limit passes."""
    clock = _Clock(node, policy)
    inner = asyncio.ensure_future(pending)
    try:
        while True:
            left, kind = clock.due()
            if left <= 0:
                inner.cancel()
                await asyncio.wait({inner})
                raise clock.expired(kind)
            done, _ = await asyncio.wait({inner}, timeout=left)
            if done:
                break
    except asyncio.CancelledError:  # the run is cancelled: so is the node
        inner.cancel()
        raise
    try:
        return inner.result()
    except asyncio.CancelledError:  # nobody cancelled it: the node raised it
        raise NodeCancelledError(node.name) from None
