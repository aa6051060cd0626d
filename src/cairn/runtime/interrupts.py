"""``interrupt()``: how a node pauses, and how its answers come back.

While a task runs, its ``TaskContext`` (runtime/context.py) holds the task
id and the answers given so far. The n-th ``interrupt()`` call in the node
returns the n-th answer if there is one, and otherwise raises ``GraphInterrupt``.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from cairn.errors import GraphInterrupt, InvalidResumeError
from cairn.runtime.context import task_context
from cairn.types import Interrupt

_NAMESPACE = uuid.UUID("0c3f7d8e-2b6a-4e1d-8f5a-9b7c6d5e4f3a")


def interrupt_id(task_id: str, index: int) -> str:
    return uuid.uuid5(_NAMESPACE, f"{task_id}|{index}").hex


def interrupt(value: Any) -> Any:
    task = task_context("interrupt()")
    index = task.used
    task.used += 1
    if index < len(task.answers):
        return task.answers[index]
    raise GraphInterrupt([Interrupt(value=value, id=interrupt_id(task.task_id, index))])


def _looks_like_id(key: Any) -> bool:
    return isinstance(key, str) and len(key) == 32 and all(c in "0123456789abcdef" for c in key)


def answered(
    thread_id: str, waiting: Mapping[str, list[Any]], answer: Any
) -> list[tuple[str, Any]]:
    """Which task each part of ``Command(resume=answer)`` goes to: ``answer``
    is a map of interrupt id to answer, or the answer to the one interrupt
    pending. ``waiting`` maps task ids to their pending (id, value) pairs."""
    by_id = {iid: task_id for task_id, pairs in waiting.items() for iid, _ in pairs}
    if not by_id:
        raise InvalidResumeError(
            f"thread {thread_id!r} has no pending interrupt to resume; "
            "use invoke(None, config) to continue a stopped run"
        )
    if isinstance(answer, Mapping) and answer and all(_looks_like_id(k) for k in answer):
        unknown = [k for k in answer if k not in by_id]
        if unknown:
            raise InvalidResumeError(
                f"no pending interrupt has id {unknown[0]!r}; pending interrupt ids are "
                f"{sorted(by_id)}"
            )
        return [(by_id[iid], value) for iid, value in answer.items()]
    if len(by_id) == 1:
        return [(next(iter(by_id.values())), answer)]
    raise InvalidResumeError(
        f"{len(by_id)} interrupts are pending in thread {thread_id!r}; answer each "
        f"by id: Command(resume={{interrupt_id: answer, ...}}) with ids {sorted(by_id)}"
    )
