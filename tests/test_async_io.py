"""The async API never blocks the event loop on storage: while a storage call
waits on a lock another connection holds, other tasks of the loop run on,
and many runs on one saver wait (and then proceed) side by side.

Each test holds a lock on the store from another connection and lets a
ticker task of the event loop release it after 30 ticks. If the call under
test blocked the loop, the ticker could not tick: the lock would then be
released by a timer thread 10 s later instead, which the tests assert
against (no timing is measured)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest

from cairn.checkpoint.sqlite import SqliteSaver
from tests.pg import fresh_schema
from tests.support import history, linear, thread

TICKS = 30
"""Ticks of 10 ms the ticker waits before it releases the lock."""


class Held:
    """A lock on the store, held by a connection of its own until the ticker
    (or, 10 s later, a timer thread) releases it."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._lock = threading.Lock()
        self.released_by: str | None = None
        self._timer = threading.Timer(10.0, self.release, args=("timer",))
        self._timer.start()

    def release(self, by: str) -> None:
        with self._lock:
            if self.released_by is None:
                self.released_by = by
                self._timer.cancel()
                self._release()


def hold_sqlite(path: Path) -> Held:
    """Another connection's write lock on the file (WAL: readers read on)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        conn.execute("COMMIT")
        conn.close()

    return Held(release)


def hold_postgres(url: str) -> Held:
    """Another connection's ACCESS EXCLUSIVE lock on the checkpoint table."""
    import psycopg

    conn = psycopg.connect(url)
    conn.execute("LOCK TABLE cairn_checkpoints IN ACCESS EXCLUSIVE MODE")

    def release() -> None:
        conn.commit()
        conn.close()

    return Held(release)


async def waits_without_blocking(call: Callable[[], Awaitable[Any]], held: Held) -> Any:
    """Run ``call`` while the ticker ticks; the ticker releases ``held``
    after TICKS ticks. Returns what ``call`` returned."""
    task = asyncio.ensure_future(call())
    ticks = 0
    waiting_at_release = None
    while not task.done():
        await asyncio.sleep(0.01)
        ticks += 1
        if ticks == TICKS:
            waiting_at_release = not task.done()
            held.release("ticker")
    result = await task
    assert held.released_by == "ticker", "the event loop was blocked: the ticker could not tick"
    assert waiting_at_release, "the call did not wait on the lock: the test proves nothing"
    return result


CALLS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "ainvoke": lambda graph: graph.ainvoke({"log": []}, thread("t")),
    "astream": lambda graph: _collect(graph.astream({"log": []}, thread("t"))),
    "aupdate_state": lambda graph: graph.aupdate_state(thread("t"), {"log": ["edit"]}, as_node="c"),
    "aget_state": lambda graph: graph.aget_state(thread("t")),
    "aget_state_history": lambda graph: _collect(graph.aget_state_history(thread("t"))),
}
WRITES = ["ainvoke", "astream", "aupdate_state"]


async def _collect(items: Any) -> list[Any]:
    return [item async for item in items]


def _check(name: str, graph: Any, result: Any) -> None:
    """What each call gives once the lock is gone: what it gives unlocked."""
    if name == "ainvoke":
        assert result == {"log": ["a", "b", "c", "a", "b", "c"]}
    elif name == "astream":
        assert result == [{"a": {"log": ["a"]}}, {"b": {"log": ["b"]}}, {"c": {"log": ["c"]}}]
        assert graph.get_state(thread("t")).values == {"log": ["a", "b", "c", "a", "b", "c"]}
    elif name == "aupdate_state":
        assert graph.get_state(result).values == {"log": ["a", "b", "c", "edit"]}
    elif name == "aget_state":
        assert result.values == {"log": ["a", "b", "c"]}
    else:
        assert [s.metadata["step"] for s in result] == [3, 2, 1, 0, -1]
    assert len(history(graph, thread("t"))) >= 5


@pytest.mark.parametrize("name", WRITES)
def test_an_async_write_waiting_on_a_locked_sqlite_file_leaves_the_loop_running(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.db"
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
        result = asyncio.run(waits_without_blocking(lambda: CALLS[name](graph), hold_sqlite(path)))
        _check(name, graph, result)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


@pytest.mark.parametrize("name", list(CALLS))
def test_an_async_call_waiting_on_a_locked_postgres_table_leaves_the_loop_running(
    name: str, pg_url: str
) -> None:
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

    with AsyncPostgresSaver(pg_url) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
        result = asyncio.run(waits_without_blocking(lambda: CALLS[name](graph), hold_postgres(pg_url)))
        _check(name, graph, result)


def test_many_async_runs_on_one_postgres_saver_wait_side_by_side(pg_url: str) -> None:
    """Six runs on six threads all wait on the locked table at once (a saver
    with one global lock would let one wait and queue the rest), then all
    finish once it is released."""
    import psycopg

    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

    runs = 6

    async def main(graph: Any, held: Held) -> list[Any]:
        tasks = [
            asyncio.ensure_future(graph.ainvoke({"log": [str(i)]}, thread(f"t{i}")))
            for i in range(runs)
        ]
        waiting = 0
        with psycopg.connect(pg_url, autocommit=True) as monitor:
            while waiting < runs and held.released_by is None:
                await asyncio.sleep(0.01)
                waiting = monitor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'cairn_checkpoints'::regclass"
                ).fetchone()[0]
        assert waiting == runs, f"only {waiting} of {runs} runs waited on the lock at once"
        held.release("ticker")
        return await asyncio.gather(*tasks)

    with AsyncPostgresSaver(pg_url) as saver:
        graph = linear(saver)
        held = hold_postgres(pg_url)
        results = asyncio.run(main(graph, held))
    assert held.released_by == "ticker"
    assert results == [{"log": [str(i), "a", "b", "c"]} for i in range(runs)]


# -- psycopg's async connections and pools -------------------------------------


def _langgraph_style_pool(url: str) -> Any:
    """A pool set up as LangGraph's documentation sets up its own."""
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    return AsyncConnectionPool(url, max_size=4, kwargs=kwargs, open=False)


@pytest.mark.parametrize("given", ["pool", "connection", "connection-in-transactions"])
def test_async_postgres_saver_runs_on_psycopgs_async_pool_or_connection(given: str, pg_url: str) -> None:
    import psycopg

    from cairn.checkpoint.postgres import PostgresSaver
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

    async def main() -> tuple[Any, Any, list[Any], Any]:
        if given == "pool":
            async with _langgraph_style_pool(pg_url) as pool:
                return await use(AsyncPostgresSaver(pool))
        autocommit = given == "connection"
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=autocommit) as conn:
            return await use(AsyncPostgresSaver(conn))

    async def use(saver: Any) -> tuple[Any, Any, list[Any], Any]:
        graph = linear(saver)  # no setup(): the first call sets up
        result = await graph.ainvoke({"log": []}, thread("t"))
        state = await graph.aget_state(thread("t"))
        steps = [s.metadata["step"] async for s in graph.aget_state_history(thread("t"))]
        edited = await graph.aupdate_state(thread("t"), {"log": ["edit"]}, as_node="c")
        return result, state.values, steps, edited

    result, values, steps, edited = asyncio.run(main())
    assert result == values == {"log": ["a", "b", "c"]}
    assert steps == [3, 2, 1, 0, -1]
    # Stored as PostgresSaver stores: a sync saver on a URL reads the same thread.
    with PostgresSaver(pg_url) as saver:
        graph = linear(saver)
        assert graph.get_state(thread("t")).config == edited
        assert graph.get_state(thread("t")).values == {"log": ["a", "b", "c", "edit"]}


def test_an_async_pool_saver_waiting_on_a_locked_table_leaves_the_loop_running(pg_url: str) -> None:
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

    async def main() -> Any:
        async with _langgraph_style_pool(pg_url) as pool:
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
            graph = linear(saver)
            await graph.ainvoke({"log": []}, thread("t"))
            return await waits_without_blocking(lambda: CALLS["ainvoke"](graph), hold_postgres(pg_url))

    assert asyncio.run(main()) == {"log": ["a", "b", "c", "a", "b", "c"]}


def test_the_sync_api_of_an_async_connection_saver_is_refused_on_the_loop_and_works_off_it(
    pg_url: str,
) -> None:
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver
    from cairn.errors import ConfigError

    async def main() -> Any:
        async with _langgraph_style_pool(pg_url) as pool:
            graph = linear(AsyncPostgresSaver(pool))
            with pytest.raises(ConfigError, match="sync API.*event loop's thread.*ainvoke"):
                graph.invoke({"log": []}, thread("t"))
            # From a thread of its own, the sync API waits for the loop, which is free.
            return await asyncio.to_thread(graph.invoke, {"log": []}, thread("t"))

    assert asyncio.run(main()) == {"log": ["a", "b", "c"]}


def test_an_async_pool_is_refused_outside_an_event_loop_and_by_the_sync_saver(pg_url: str) -> None:
    from cairn.checkpoint.postgres import PostgresSaver
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver
    from cairn.errors import ConfigError

    pool = _langgraph_style_pool(pg_url)
    with pytest.raises(ConfigError, match="outside an event loop"):
        AsyncPostgresSaver(pool)
    with pytest.raises(ConfigError, match="AsyncPostgresSaver for async connections"):
        PostgresSaver(pool)


# -- opening a saver on a URL ----------------------------------------------------


def hold_postgres_setup(url: str) -> Held:
    """Another connection holding the lock every saver's setup takes first."""
    import psycopg

    from cairn.checkpoint.postgres.schema import _SETUP_LOCK

    conn = psycopg.connect(url)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))

    def release() -> None:
        conn.commit()
        conn.close()

    return Held(release)


def test_async_with_from_conn_string_opens_the_saver_off_the_event_loop(pg_url: str) -> None:
    """Making the saver does no I/O; ``async with`` opens its pool and checks
    its tables on an I/O thread, while the loop runs on."""
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

    async def open_and_run() -> Any:
        async with AsyncPostgresSaver.from_conn_string(pg_url) as saver:
            return await linear(saver).ainvoke({"log": []}, thread("t"))

    async def main() -> Any:
        return await waits_without_blocking(open_and_run, hold_postgres_setup(pg_url))

    assert asyncio.run(main()) == {"log": ["a", "b", "c"]}


def test_an_async_saver_on_a_url_reports_a_refused_login_at_async_with(pg_url: str) -> None:
    from cairn.checkpoint.postgres.aio import AsyncPostgresSaver
    from cairn.errors import StorageError

    url = pg_url.replace("postgres@", "no_such_user_for_cairn@", 1)
    saver = AsyncPostgresSaver.from_conn_string(url)  # no I/O yet: nothing to refuse

    async def main() -> None:
        async with saver:
            pass

    with pytest.raises(StorageError, match="no_such_user_for_cairn"):
        asyncio.run(main())
