"""Node and task caching (``CachePolicy``, ``compile(cache=...)``), as
LangGraph documents it: a cached node is not run again for the same input
while its entry lives; its write still goes into the checkpoint and into
"updates" (marked ``"__metadata__": {"cached": True}``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from typing_extensions import TypedDict

from cairn.cache.memory import InMemoryCache
from cairn.cache.sqlite import SqliteCache
from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import ArgumentTypeError, CacheKeyError, ConfigError
from cairn.func import entrypoint, task
from cairn.graph import END, START, StateGraph
from cairn.types import CachePolicy, RetryPolicy, interrupt
from tests.support import thread


class S(TypedDict, total=False):
    x: int
    y: int


class Clock:
    """A clock the test moves by hand (entries expire against it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _graph(calls: list[Any], policy: CachePolicy | None = None, **compile_args: Any) -> Any:
    def double(state: S) -> dict[str, Any]:
        calls.append(state["x"])
        return {"y": state["x"] * 2}

    builder = StateGraph(S).add_node("double", double, cache_policy=policy or CachePolicy())
    return builder.add_edge(START, "double").compile(**compile_args)


def test_a_cached_node_runs_once_per_input() -> None:
    calls: list[int] = []
    graph = _graph(calls, cache=InMemoryCache())
    assert graph.invoke({"x": 1}) == {"x": 1, "y": 2}
    assert graph.invoke({"x": 1}) == {"x": 1, "y": 2}
    assert graph.invoke({"x": 2}) == {"x": 2, "y": 4}
    assert calls == [1, 2]


def test_the_cached_write_goes_into_the_checkpoint(saver: Any) -> None:
    calls: list[int] = []
    graph = _graph(calls, cache=InMemoryCache(), checkpointer=saver)
    graph.invoke({"x": 3}, thread("a"))
    graph.invoke({"x": 3}, thread("b"))  # another thread, the same input: from the cache
    assert calls == [3]
    state = graph.get_state(thread("b"))
    assert state.values == {"x": 3, "y": 6}
    assert state.metadata["writes"] == {"double": {"y": 6}}


def test_updates_mark_a_cached_write_sync_and_async() -> None:
    graph = _graph([], cache=InMemoryCache())
    assert list(graph.stream({"x": 1}, stream_mode="updates")) == [{"double": {"y": 2}}]
    assert list(graph.stream({"x": 1}, stream_mode="updates")) == [
        {"double": {"y": 2}, "__metadata__": {"cached": True}}
    ]

    async def run() -> list[Any]:
        return [c async for c in graph.astream({"x": 1}, stream_mode="updates")]

    assert asyncio.run(run()) == [{"double": {"y": 2}, "__metadata__": {"cached": True}}]


def test_a_cached_task_streams_its_start_but_no_result_as_langgraph() -> None:
    graph = _graph([], cache=InMemoryCache())
    graph.invoke({"x": 1})
    chunks = list(graph.stream({"x": 1}, stream_mode="tasks"))
    assert [sorted(c) for c in chunks] == [["id", "input", "name", "triggers"]]


def test_an_entry_lives_ttl_seconds() -> None:
    calls: list[int] = []
    clock = Clock()
    graph = _graph(calls, CachePolicy(ttl=60), cache=InMemoryCache(clock=clock))
    graph.invoke({"x": 1})
    clock.now += 59
    graph.invoke({"x": 1})
    assert calls == [1]
    clock.now += 1
    graph.invoke({"x": 1})
    assert calls == [1, 1]


def test_key_func_decides_which_inputs_share_an_entry() -> None:
    calls: list[int] = []
    graph = _graph(calls, CachePolicy(key_func=lambda state: str(state["x"] % 2)), cache=InMemoryCache())
    graph.invoke({"x": 1})
    assert graph.invoke({"x": 3}) == {"x": 3, "y": 2}  # what x=1 wrote, as LangGraph gives
    assert calls == [1]


def test_clear_cache_drops_the_nodes_entries() -> None:
    calls: list[int] = []
    graph = _graph(calls, cache=InMemoryCache())
    graph.invoke({"x": 1})
    graph.clear_cache(["double"])
    graph.invoke({"x": 1})
    asyncio.run(graph.aclear_cache())
    graph.invoke({"x": 1})
    assert calls == [1, 1, 1]
    with pytest.raises(ConfigError, match=r"\['nope'\] are not nodes"):
        graph.clear_cache(["nope"])
    with pytest.raises(ConfigError, match=r"compile\(cache=InMemoryCache\(\)\)"):
        _graph([]).clear_cache()


def test_without_a_cache_nothing_is_cached_and_caches_are_not_shared() -> None:
    calls: list[int] = []
    _graph(calls).invoke({"x": 1})
    _graph(calls).invoke({"x": 1})
    _graph(calls, cache=InMemoryCache()).invoke({"x": 1})
    _graph(calls, cache=InMemoryCache()).invoke({"x": 1})
    assert calls == [1, 1, 1, 1]


def test_a_failure_or_an_interrupt_is_not_cached() -> None:
    runs: list[str] = []

    def flaky(state: S) -> dict[str, Any]:
        runs.append("flaky")
        if len(runs) == 1:
            raise ValueError("first run fails")
        return {"y": len(runs)}

    graph = StateGraph(S).add_node("flaky", flaky, cache_policy=CachePolicy()).add_edge(START, "flaky")
    app = graph.compile(cache=InMemoryCache())
    with pytest.raises(ValueError, match="first run fails"):
        app.invoke({"x": 1})
    assert app.invoke({"x": 1}) == {"x": 1, "y": 2}
    assert app.invoke({"x": 1}) == {"x": 1, "y": 2}

    def ask(state: S) -> dict[str, Any]:
        runs.append("ask")
        return {"y": interrupt("y?")}

    asking = StateGraph(S).add_node("ask", ask, cache_policy=CachePolicy()).add_edge(START, "ask")
    app = asking.compile(cache=InMemoryCache(), checkpointer=InMemorySaver())
    app.invoke({"x": 1}, thread("t"))
    app.invoke({"x": 1}, thread("u"))
    assert runs.count("ask") == 2


def test_a_hit_routes_where_the_node_routed() -> None:
    calls: list[int] = []

    def pick(state: S) -> str:
        return "big" if state["y"] > 2 else END

    builder = StateGraph(S)
    builder.add_node("double", lambda s: calls.append(s["x"]) or {"y": s["x"] * 2}, cache_policy=CachePolicy())
    builder.add_node("big", lambda s: {"x": 0})
    builder.add_edge(START, "double").add_conditional_edges("double", pick, ["big", END])
    graph = builder.compile(cache=InMemoryCache())
    assert graph.invoke({"x": 5}) == {"x": 0, "y": 10}
    assert graph.invoke({"x": 5}) == {"x": 0, "y": 10}
    assert calls == [5]


def test_set_node_defaults_caches_every_node() -> None:
    calls: list[int] = []

    def double(state: S) -> dict[str, Any]:
        calls.append(state["x"])
        return {"y": state["x"] * 2}

    builder = StateGraph(S).set_node_defaults(cache_policy=CachePolicy()).add_node("double", double)
    graph = builder.add_edge(START, "double").compile(cache=InMemoryCache())
    graph.invoke({"x": 1})
    graph.invoke({"x": 1})
    assert calls == [1]


def test_wrong_arguments_say_what_to_pass() -> None:
    with pytest.raises(ArgumentTypeError, match="cache_policy=.*is not a CachePolicy"):
        StateGraph(S).add_node("n", lambda s: {}, cache_policy=60)
    with pytest.raises(ArgumentTypeError, match=r"compile\(cache=.*InMemoryCache\(\)"):
        _graph([], cache={})
    graph = _graph([], CachePolicy(key_func=lambda state: state["missing"]), cache=InMemoryCache())
    with pytest.raises(CacheKeyError, match="node 'double'.*KeyError"):
        graph.invoke({"x": 1})
    graph = _graph([], CachePolicy(key_func=lambda state: 42), cache=InMemoryCache())
    with pytest.raises(CacheKeyError, match="returned 42; it must return a str or bytes"):
        graph.invoke({"x": 1})


@dataclass
class Point:
    x: int
    y: int


class P(TypedDict, total=False):
    n: int
    point: Point


def test_sqlite_cache_is_shared_through_its_file(tmp_path: Any) -> None:
    calls: list[int] = []

    def place(state: P) -> dict[str, Any]:
        calls.append(state["n"])
        return {"point": Point(state["n"], 2 * state["n"])}

    def build(cache: SqliteCache) -> Any:
        builder = StateGraph(P).add_node("place", place, cache_policy=CachePolicy())
        return builder.add_edge(START, "place").compile(cache=cache)

    path = tmp_path / "cache.db"
    with SqliteCache(path=path) as first:
        assert build(first).invoke({"n": 4}) == {"n": 4, "point": Point(4, 8)}
    with SqliteCache(path=path) as second:  # as another process opening the file
        graph = build(second)
        assert graph.invoke({"n": 4}) == {"n": 4, "point": Point(4, 8)}
        assert calls == [4]
        graph.clear_cache()
        graph.invoke({"n": 4})
        assert calls == [4, 4]


def test_sqlite_cache_entries_expire(tmp_path: Any) -> None:
    clock = Clock()
    calls: list[int] = []
    with SqliteCache(path=tmp_path / "c.db", clock=clock) as cache:
        graph = _graph(calls, CachePolicy(ttl=10), cache=cache)
        graph.invoke({"x": 1})
        graph.invoke({"x": 1})
        clock.now += 10
        graph.invoke({"x": 1})
    assert calls == [1, 1]


# -- the functional API -----------------------------------------------------------


def test_a_cached_task_runs_once_per_arguments() -> None:
    calls: list[int] = []

    @task(cache_policy=CachePolicy())
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    @entrypoint(checkpointer=InMemorySaver(), cache=InMemoryCache())
    def flow(xs: list[int]) -> list[int]:
        return [double(x).result() for x in xs]

    assert flow.invoke([1, 2, 1], thread("a")) == [2, 4, 2]
    assert calls == [1, 2]
    assert list(flow.stream([1], thread("b"), stream_mode="updates")) == [
        {"double": 2, "__metadata__": {"cached": True}},
        {"flow": [2]},
    ]


def test_a_cached_async_task_streams_through_astream() -> None:
    calls: list[int] = []

    @task(cache_policy=CachePolicy())
    async def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    @entrypoint(cache=InMemoryCache())
    async def flow(x: int) -> int:
        return await double(x)

    async def run() -> list[Any]:
        await flow.ainvoke(3)
        return [c async for c in flow.astream(3, stream_mode="updates")]

    assert asyncio.run(run()) == [{"double": 6, "__metadata__": {"cached": True}}, {"flow": 6}]
    assert calls == [3]


def test_an_entrypoint_is_cached_by_its_input() -> None:
    calls: list[int] = []

    @entrypoint(cache=InMemoryCache(), cache_policy=CachePolicy())
    def flow(x: int) -> int:
        calls.append(x)
        return x

    flow.invoke(5)
    assert list(flow.stream(5, stream_mode="updates")) == [{"flow": 5, "__metadata__": {"cached": True}}]
    assert calls == [5]


def test_task_retry_policy_retries_in_place() -> None:
    attempts: list[int] = []

    @task(retry_policy=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False, retry_on=ValueError))
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ValueError("not yet")
        return x + 100

    @entrypoint(checkpointer=InMemorySaver())
    def flow(x: int) -> int:
        return flaky(x).result()

    assert flow.invoke(1, thread("t")) == 101
    assert attempts == [1, 1, 1]


def test_async_task_retry_policy_gives_up_after_max_attempts() -> None:
    attempts: list[int] = []

    @task(retry_policy=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False))
    async def always(x: int) -> int:
        attempts.append(x)
        raise ConnectionError(f"attempt {len(attempts)}")  # retried by the default retry_on

    @entrypoint(checkpointer=InMemorySaver())
    async def flow(x: int) -> int:
        return await always(x)

    with pytest.raises(ConnectionError, match="attempt 2"):
        asyncio.run(flow.ainvoke(1, thread("t")))
    assert attempts == [1, 1]


def test_task_arguments_are_checked() -> None:
    with pytest.raises(ArgumentTypeError, match="task 'f'.*retry_policy"):
        task(lambda x: x, name="f", retry_policy=3)
    with pytest.raises(ArgumentTypeError, match="task 'f'.*cache_policy"):
        task(lambda x: x, name="f", cache_policy="yes")


def test_task_timeout_fails_the_call_with_node_timeout_error() -> None:
    import threading

    from cairn.errors import NodeTimeoutError

    release = threading.Event()

    @task(timeout=0.05)
    def stuck(x: int) -> int:
        release.wait(30)
        return x

    @entrypoint()
    def flow(x: int) -> int:
        return stuck(x).result()

    try:
        with pytest.raises(NodeTimeoutError, match="stuck"):
            flow.invoke(1)
    finally:
        release.set()


def test_a_subgraph_caches_in_its_own_cache_not_its_parents() -> None:
    """As LangGraph 1.2.22 (checked with a probe): compile(cache=) of the
    parent does not reach a subgraph's nodes; the subgraph's own does."""
    calls: list[int] = []

    def parent_of(sub: Any, **compile_args: Any) -> Any:
        return StateGraph(S).add_node("sub", sub).add_edge(START, "sub").compile(**compile_args)

    graph = parent_of(_graph(calls), cache=InMemoryCache())
    graph.invoke({"x": 1})
    graph.invoke({"x": 1})
    assert calls == [1, 1]
    graph = parent_of(_graph(calls, cache=InMemoryCache()))
    graph.invoke({"x": 2})
    assert graph.invoke({"x": 2}) == {"x": 2, "y": 4}
    assert calls == [1, 1, 2]


def test_a_cache_of_ones_own_implements_get_set_clear() -> None:
    from cairn.cache.base import BaseCache, FullKey, Namespace

    class DictCache(BaseCache[Any]):
        def __init__(self) -> None:
            self.entries: dict[FullKey, Any] = {}

        def get(self, keys: Any) -> dict[FullKey, Any]:
            return {k: self.entries[k] for k in keys if k in self.entries}

        def set(self, pairs: Any) -> None:
            self.entries.update((k, value) for k, (value, _ttl) in pairs.items())

        def clear(self, namespaces: Any = None) -> None:
            wanted: set[Namespace] | None = None if namespaces is None else set(namespaces)
            self.entries = {k: v for k, v in self.entries.items() if wanted is not None and k[0] not in wanted}

    calls: list[int] = []
    cache = DictCache()
    graph = _graph(calls, cache=cache)
    graph.invoke({"x": 1})
    graph.invoke({"x": 1})
    assert calls == [1]
    assert [ns[-1] for ns, _ in cache.entries] == ["double"]

    async def run() -> Any:  # the async API through the base class's a-methods
        return await graph.ainvoke({"x": 1})

    assert asyncio.run(run()) == {"x": 1, "y": 2}
    graph.clear_cache()
    assert cache.entries == {}
