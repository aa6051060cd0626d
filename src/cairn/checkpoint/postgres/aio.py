"""``AsyncPostgresSaver``: the PostgreSQL saver for ``async`` code.

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()              # optional: the saver sets up when made
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

    async with AsyncConnectionPool(url, kwargs={"autocommit": True}) as pool:
        saver = AsyncPostgresSaver(pool)  # or an AsyncConnection
        await saver.setup()              # optional: done on first use otherwise

It stores exactly what ``PostgresSaver`` stores; the two can share a
database. The async API (``ainvoke``, ``aget_state``...) runs the saver's
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
from typing import Any, Generator, Iterator

from cairn.checkpoint.postgres import PostgresSaver, _where
from cairn.checkpoint.postgres import bridge
from psycopg_pool import AsyncConnectionPool

__all__ = ["AsyncPostgresSaver"]


class _Done:
    """An awaitable of work already done, so ``await saver.setup()`` and
    ``saver.setup()`` both work."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


class AsyncPostgresSaver(PostgresSaver):
    """A PostgresSaver for async code: takes psycopg's async connections and
    pools too, and its ``setup()`` can be awaited."""

    _unset = False
    """Given an async connection: the tables are not checked yet."""

    def _adopt_async(self, conn: Any) -> None:
        loop = bridge.Loop(type(self).__name__)
        if isinstance(conn, AsyncConnectionPool):
            self._pool = bridge.Pool(conn, loop)
            self.location = f"PostgreSQL pool {conn.name!r}"
        else:
            self._conn = bridge.Connection(conn, loop)
            self.location = _where(conn)
        self._unset = True
        self._in_setup = False
        self._setting_up = threading.RLock()

    def setup(self) -> Any:  # type: ignore[override]
        """Create or migrate the tables (see ``PostgresSaver.setup``); awaitable.
        On an async connection, the work is done when awaited (on an I/O thread)."""
        if not self._unset:
            super().setup()
            return _Done()
        return self._asetup()

    async def _asetup(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.io_executor(), self._set_up_once)

    def _set_up_once(self) -> None:
        """Set up, once; other threads wait for it, and the setup's own
        statements (on this thread) pass."""
        with self._setting_up:
            if self._unset and not self._in_setup:
                self._in_setup = True
                try:
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
