"""How the answers of ``Command(resume=...)`` reach the interrupted tasks.

While a task runs, its ``TaskContext`` (``cairn/current.py``) holds the task
id and the answers given so far; ``interrupt()`` (``cairn.types``, which
imports nothing of runtime/) returns the n-th answer to its n-th call and
otherwise raises ``GraphInterrupt``. This module routes each answer to its task.
"""

from __future__ import annotations

from typing import Any, Mapping

from cairn.errors import InvalidResumeError, UnknownInterruptError


def looks_like_id(key: Any) -> bool:
    return isinstance(key, str) and len(key) == 32 and all(c in "0123456789abcdef" for c in key)


def answered(
    thread_id: str, waiting: Mapping[str, list[Any]], answer: Any
) -> list[tuple[str, Any]]:
    """Which task each part of ``Command(resume=answer)`` goes to: ``answer``
    is a map of interrupt id to answer, or the answer to the one interrupt
    pending. ``waiting`` maps task ids to their stored interrupt entries
    (``[id, value]``, a response schema third when there is one)."""
    by_id = {entry[0]: task_id for task_id, entries in waiting.items() for entry in entries}
    if not by_id:
        raise InvalidResumeError(
            f"thread {thread_id!r} has no pending interrupt to resume; "
            "use invoke(None, config) to continue a stopped run"
        )
    if isinstance(answer, Mapping) and answer and all(looks_like_id(k) for k in answer):
        unknown = [k for k in answer if k not in by_id]
        if unknown:
            raise UnknownInterruptError(
                f"no pending interrupt has id {unknown[0]!r}; pending interrupt ids are "
                f"{sorted(by_id)}",
                reason="not_pending",
                interrupt_ids=unknown,
                pending_ids=sorted(by_id),
            )
        return [(by_id[iid], value) for iid, value in answer.items()]
    if len(by_id) == 1:
        return [(next(iter(by_id.values())), answer)]
    raise UnknownInterruptError(
        f"{len(by_id)} interrupts are pending in thread {thread_id!r}; answer each "
        f"by id: Command(resume={{interrupt_id: answer, ...}}) with ids {sorted(by_id)}",
        reason="ambiguous",
        pending_ids=sorted(by_id),
    )
