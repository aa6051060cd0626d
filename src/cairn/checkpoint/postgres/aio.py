"""``AsyncPostgresSaver``: the PostgreSQL saver for ``async`` code.

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()              # optional: the saver sets up when made
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

    async with AsyncConnectionPool(url, kwargs={"autocommit": True}) as pool:
        saver = AsyncPostgresSaver(pool)  # or an AsyncConnection
        await saver.setup()              # optional: done on first use otherwise

It stores exactly what ``PostgresSaver`` stores; the two can share a
database. Making one does no I/O: given a URL, its pool opens (and the tables
are checked) at ``async with``, ``await saver.setup()`` or its first use, on
one of its I/O threads, so the event loop never waits for the server. The async API (``ainvoke``, ``aget_state``...) runs the saver's
calls on its own I/O threads, as many at once as the pool has connections,
so the event loop never waits for the database. Given psycopg's
``AsyncConnection`` or ``AsyncConnectionPool``, the saver sends its
statements through them, on the event loop that opened them
(``cairn.checkpoint.postgres.bridge``).
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Generator, Iterator

from cairn.checkpoint.postgres import PostgresSaver, _where, open_pool
from cairn.checkpoint.postgres import bridge
from cairn.checkpoint.postgres.connect import check_preparable
from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = ["AsyncPostgresSaver"]


class _Done:
    """An awaitable of work already done, so ``await saver.setup()`` and
    ``saver.setup()`` both work."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


class AsyncPostgresSaver(PostgresSaver):
    """A PostgresSaver for async code: makes no connection while it is made
    (on a URL, the pool opens at ``async with``, ``await setup()`` or first
    use, on an I/O thread), takes psycopg's async connections and pools too,
    and its ``setup()`` can be awaited."""

    _unset = False
    """The pool is not opened, or the tables not checked, yet."""
    _opening: "Callable[[], None] | None" = None
    """What opens the saver's own pool, until it is open."""

    def _open_pool(
        self, url: str, size: int, max_idle: float, max_lifetime: float
    ) -> "ConnectionPool[Any]":
        pool = self._new_pool(url, size, max_idle, max_lifetime)
        self._opening = partial(open_pool, pool, url)
        self._defer_setup()
        return pool

    def _adopt_async(self, conn: Any) -> None:
        check_preparable(conn, bool(self._prepare), type(self).__name__)
        loop = bridge.Loop(type(self).__name__)
        if isinstance(conn, AsyncConnectionPool):
            self._pool = bridge.Pool(conn, loop)
            self.location = f"PostgreSQL pool {conn.name!r}"
        else:
            self._conn = bridge.Connection(conn, loop)
            self.location = _where(conn)
        self._defer_setup()

    def _defer_setup(self) -> None:
        self._unset = True
        self._in_setup = False
        self._setting_up = threading.RLock()

    def _set_up_when_made(self) -> None:
        if not self._unset:
            super()._set_up_when_made()

    def setup(self) -> Any:  # type: ignore[override]
        """Create or migrate the tables (see ``PostgresSaver.setup``); awaitable.
        Deferred work (opening the pool, checking the tables) is done when
        awaited, on an I/O thread."""
        if not self._unset:
            super().setup()
            return _Done()
        return self._asetup()

    async def _asetup(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.io_executor(), self._set_up_once)

    def _set_up_once(self) -> None:
        """Open the pool and set up, once; other threads wait for it, and the
        setup's own statements (on this thread) pass."""
        with self._setting_up:
            if self._unset and not self._in_setup:
                self._in_setup = True
                try:
                    if self._opening is not None:
                        self._opening()
                        self._opening = None
                    PostgresSaver.setup(self)
                    self._unset = False
                finally:
                    self._in_setup = False

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._unset:
            self._set_up_once()
        with super()._connection() as conn:
            yield conn

    # -- lifetime ----------------------------------------------------------------

    def __enter__(self) -> "AsyncPostgresSaver":
        if self._unset:
            self._set_up_once()
        return self

    async def __aenter__(self) -> "AsyncPostgresSaver":
        """Opens the pool and checks the tables on an I/O thread: a server
        that cannot be reached or refuses the user is reported here."""
        if self._unset:
            await self._asetup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Closes the pool (waiting for its connections) off the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.close)
