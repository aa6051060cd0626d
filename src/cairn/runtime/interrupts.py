"""``interrupt()``: how a node pauses, and how its answers come back.

While a task runs, a context variable holds its scratchpad: the task id and
the answers given so far. The n-th ``interrupt()`` call in the node returns
the n-th answer if there is one, and otherwise raises ``GraphInterrupt``.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable

from cairn.errors import CairnError, GraphInterrupt
from cairn.types import Interrupt


def _discard(chunk: Any) -> None:
    """The stream writer of a run nobody streams "custom" from."""


@dataclass
class Scratchpad:
    task_id: str
    answers: list[Any] = field(default_factory=list)
    used: int = 0
    write: Callable[[Any], None] = _discard


current: ContextVar[Scratchpad | None] = ContextVar("cairn_task", default=None)

_NAMESPACE = uuid.UUID("0c3f7d8e-2b6a-4e1d-8f5a-9b7c6d5e4f3a")


def interrupt_id(task_id: str, index: int) -> str:
    return uuid.uuid5(_NAMESPACE, f"{task_id}|{index}").hex


def interrupt(value: Any) -> Any:
    scratch = current.get()
    if scratch is None:
        raise CairnError(
            "interrupt() was called outside a running node; call it inside a node function "
            "of a graph compiled with a checkpointer"
        )
    index = scratch.used
    scratch.used += 1
    if index < len(scratch.answers):
        return scratch.answers[index]
    raise GraphInterrupt([Interrupt(value=value, id=interrupt_id(scratch.task_id, index))])
