"""psycopg's async connections and pools, used by the saver's sync code.

An ``AsyncConnection`` or ``AsyncConnectionPool`` belongs to the event loop
it was opened in. The saver's code is sync, and the async API runs it on the
saver's I/O threads; from there, each statement is handed to the owning
loop (``run_coroutine_threadsafe``) and the thread waits for its result,
while the loop stays free. Called on the loop's own thread (the sync API
inside async code), it would wait for itself: that is refused with a clear
error instead.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Coroutine, Iterator, TypeGuard, TypeVar

from cairn.checkpoint.postgres.connect import readable
from cairn.errors import ConfigError

T = TypeVar("T")


class Loop:
    """Runs coroutines on the loop that owns the async connection."""

    def __init__(self, owner: str) -> None:
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigError(
                f"{owner} was given an async psycopg connection or pool outside an event "
                "loop; make the saver inside the async code that opened the connection "
                "(async with AsyncConnectionPool(...) as pool: AsyncPostgresSaver(pool))"
            ) from None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            coroutine.close()
            raise ConfigError(
                "a saver on an async psycopg connection was called with its sync API "
                "(invoke, get_state, ...) on the event loop's thread; use the async API "
                "(await graph.ainvoke, aget_state, ...), or give the saver a URL"
            )
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


class Cursor:
    """An AsyncCursor with the sync cursor's methods the saver uses."""

    def __init__(self, cursor: Any, loop: Loop) -> None:
        self._cursor = cursor
        self._loop = loop

    def execute(self, sql: Any, params: Any = None, *, prepare: bool | None = None) -> "Cursor":
        self._loop.run(self._cursor.execute(sql, params, prepare=prepare))
        return self

    def fetchone(self) -> Any:
        return self._loop.run(self._cursor.fetchone())

    def fetchall(self) -> list[Any]:
        return self._loop.run(self._cursor.fetchall())

    def nextset(self) -> bool | None:
        return self._cursor.nextset()  # type: ignore[no-any-return]

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount  # type: ignore[no-any-return]

    @property
    def description(self) -> Any:
        return self._cursor.description


class Connection:
    """An AsyncConnection with the sync connection's surface the saver uses."""

    def __init__(self, conn: Any, loop: Loop) -> None:
        self._conn = conn
        self._loop = loop

    @property
    def autocommit(self) -> bool:
        return self._conn.autocommit  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        return self._conn.closed  # type: ignore[no-any-return]

    @property
    def broken(self) -> bool:
        return self._conn.broken  # type: ignore[no-any-return]

    @property
    def info(self) -> Any:
        return self._conn.info

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with entered(self._conn.transaction(), self._loop):
            yield

    @contextmanager
    def cursor(self, *, row_factory: Any) -> Iterator[Cursor]:
        with entered(self._conn.cursor(row_factory=row_factory), self._loop) as cursor:
            yield Cursor(cursor, self._loop)

    @contextmanager
    def client_cursor(self) -> Iterator[Cursor]:
        """A cursor binding parameters on the client (several statements in one)."""
        import psycopg
        from psycopg.rows import tuple_row

        client = psycopg.AsyncClientCursor(self._conn, row_factory=tuple_row)
        with entered(client, self._loop) as cursor:
            yield Cursor(cursor, self._loop)


class Pool:
    """An AsyncConnectionPool handing out bridged connections."""

    def __init__(self, pool: Any, loop: Loop) -> None:
        self._pool = pool
        self._loop = loop
        self.name = pool.name
        self.max_size = pool.max_size

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with entered(_live(self._pool), self._loop) as conn:
            yield Connection(conn, self._loop)

    def close(self) -> None:
        """Never closes the pool: it is the application's."""


@asynccontextmanager
async def _live(pool: Any) -> AsyncIterator[Any]:
    """A live connection of async ``pool``, returned to it afterwards: as
    ``postgres._pooled`` does for a sync pool, connections the server dropped
    while idle are handed back at once (the pool replaces them), without the
    pause between them that the pool's own check takes."""
    conn = await pool.getconn()
    try:
        for _ in range(2 * pool.max_size):
            if not await _dropped(conn):
                break
            await conn.close()
            await pool.putconn(conn)
            conn = None  # not the pool's to take back if the next getconn fails
            conn = await pool.getconn()
        async with conn:
            yield conn
    finally:
        if conn is not None:
            await pool.putconn(conn)


async def _dropped(conn: Any) -> bool:
    """Whether the server dropped idle ``conn``: its socket has something to
    read (polled, no round trip), and a round trip then fails."""
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    if conn.closed:
        return True
    if not readable(conn.fileno()):
        return False
    try:
        await AsyncConnectionPool.check_connection(conn)
    except (psycopg.Error, OSError):
        return True
    return False


def bridged(conn: Any) -> TypeGuard[Connection]:
    """Whether ``conn`` is an async connection seen through the bridge."""
    return isinstance(conn, Connection)


@contextmanager
def entered(manager: Any, loop: Loop) -> Iterator[Any]:
    """An async context manager, entered and exited on ``loop``."""
    value = loop.run(manager.__aenter__())
    try:
        yield value
    except BaseException as exc:
        if not loop.run(manager.__aexit__(type(exc), exc, exc.__traceback__)):
            raise
    else:
        loop.run(manager.__aexit__(None, None, None))
