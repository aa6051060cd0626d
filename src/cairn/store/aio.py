"""Async for the SQL stores without writing them twice: ``abatch`` embeds on
the event loop (awaiting the embedder's async methods when it has them), then
runs the same statements as ``batch`` on an I/O thread of the store, so the
loop never waits for the database. The ``Async*`` stores also make no
connection while they are made: they open at ``async with`` (on an I/O
thread) or at their first use."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from cairn.store.base import Op, Result
from cairn.store.plan import Plan


class Offloaded(ABC):
    """``abatch`` and ``async with`` for a store with ``_index``, ``_run(plan)``
    and ``_open()`` (the connection's I/O, done once)."""

    io_threads = 1
    lazy = False
    """Whether making the store opens it (False: at ``async with`` or first use)."""
    _index: Any
    _executor: ThreadPoolExecutor | None = None
    _opened = False
    _opening: threading.Lock

    @abstractmethod
    def _run(self, plan: Plan) -> list[Result]:
        """Run a checked, embedded batch (blocking)."""

    @abstractmethod
    def _open(self) -> None:
        """Connect and create or check the tables (blocking)."""

    def _start(self) -> None:
        """Called at the end of ``__init__``: opens now unless the store is lazy."""
        self._opening = threading.Lock()
        if not self.lazy:
            self._ensure_open()

    def _ensure_open(self) -> None:
        if not self._opened:
            with self._opening:
                if not self._opened:
                    self._open()
                    self._opened = True

    def _io(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.io_threads, thread_name_prefix="cairn-store-io")
        return self._executor

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        plan = Plan(ops, self._index)
        if plan.embeds:
            await plan.aembed(self._index)
        return await asyncio.get_running_loop().run_in_executor(self._io(), self._run, plan)

    async def asetup(self) -> None:
        """Open the store (tables created or checked) on an I/O thread."""
        await asyncio.get_running_loop().run_in_executor(self._io(), self._ensure_open)

    def _close_io(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    @abstractmethod
    def close(self) -> None:
        """Let go of the connection (and the I/O threads)."""

    def __enter__(self) -> Any:
        self._ensure_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Any:
        await self.asetup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
