"""The async API's storage calls, off the event loop.

Every call of the async API that reads or writes storage (and what runs
around it: folding a state, committing a step) runs on one of the saver's
own I/O threads (``BaseCheckpointSaver.io_executor``), in a copy of the
caller's context, while the event loop goes on with other work. A saver
that does no I/O is called in place. Nothing here is shared between
savers: many runs on one saver proceed side by side, up to its
``io_threads`` storage calls at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, TypeVar

if TYPE_CHECKING:
    from cairn.checkpoint.base import BaseCheckpointSaver

T = TypeVar("T")

CAIRN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

caller: contextvars.ContextVar[FrameType | None] = contextvars.ContextVar("cairn_caller", default=None)
"""In an offloaded call: the frame of the user's code that made it (the
line a warning about the caller's input points at)."""

_PAGE = 64
"""How many items of a sync iterator ``iterate`` fetches per trip to a thread."""


async def call(saver: "BaseCheckpointSaver | None", fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, on one of ``saver``'s I/O threads; what it raises
    (a GraphInterrupt or a KeyboardInterrupt too) is raised here."""
    executor = saver.io_executor() if saver is not None else None
    if executor is None:
        return fn(*args)
    context = contextvars.copy_context()
    context.run(caller.set, user_frame())
    loop = asyncio.get_running_loop()
    value, error = await loop.run_in_executor(executor, _capture, context, fn, args)
    if error is not None:
        try:
            raise error
        finally:
            del error  # no cycle through this frame
    return value  # type: ignore[no-any-return]


def user_frame() -> FrameType | None:
    """The innermost frame of the running stack that is not cairn's."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(CAIRN_DIR):
        frame = frame.f_back
    return frame


def _capture(
    context: contextvars.Context, fn: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Any, BaseException | None]:
    # Returned rather than raised: a BaseException raised in an executor's
    # thread would not reach the awaiting task as itself.
    try:
        return context.run(fn, *args), None
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller as is
        return None, exc


async def iterate(saver: "BaseCheckpointSaver | None", items: Iterator[T]) -> AsyncIterator[T]:
    """The items of a sync iterator that reads storage, fetched a page at a
    time on ``saver``'s I/O threads."""
    while True:
        page = await call(saver, _take, items)
        for item in page:
            yield item
        if len(page) < _PAGE:
            return


def _take(items: Iterator[T]) -> list[T]:
    page = []
    for item in items:
        page.append(item)
        if len(page) == _PAGE:
            break
    return page
