"""``get_state_history`` reads a page, not the thread: the saver lists the
``limit`` checkpoints below ``before`` that match ``filter`` (in SQL where the
keys are columns), and states fold from the page or one chain back to a
stored snapshot. The snapshots it gives are those of the whole history, cut
where the arguments say."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.support import cid, history, linear, thread


def _branched(saver: Any) -> Any:
    """A thread of three runs, a fork of an older checkpoint, and its replay."""
    graph = linear(saver)
    for _ in range(3):
        graph.invoke({"log": []}, thread("t"))
    old = history(graph, thread("t"))[7]
    fork = graph.update_state(old.config, {"log": ["edit"]}, as_node="a")
    graph.invoke(None, fork)
    return graph


def _shown(snapshot: Any) -> tuple[Any, ...]:
    return (
        snapshot.config,
        snapshot.values,
        snapshot.next,
        snapshot.metadata,
        snapshot.parent_config,
        [(t.id, t.name) for t in snapshot.tasks],
    )


def test_every_page_is_the_whole_history_cut_where_the_arguments_say(saver: Any) -> None:
    graph = _branched(saver)
    whole = history(graph, thread("t"))
    assert len(whole) > 12
    befores = [None, whole[3].config, whole[9].config]
    filters = [None, {"source": "loop"}, {"step": 2}, {"source": "update"}]
    for before, wanted, limit in itertools.product(befores, filters, [None, 0, 1, 3, 7]):
        expected = [
            s
            for s in whole
            if (before is None or cid(s.config) < cid(before))
            and all(s.metadata.get(k) == v for k, v in (wanted or {}).items())
        ][:limit]
        got = list(graph.get_state_history(thread("t"), before=before, filter=wanted, limit=limit))
        assert [_shown(s) for s in got] == [_shown(s) for s in expected], (before, wanted, limit)


def _counting(saver: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the checkpoints the saver hands out (rows read and decoded)."""
    read = [0]
    for name in ("list_checkpoints", "get_chain"):
        method = getattr(saver, name)

        def counted(*args: Any, _method: Any = method, **kwargs: Any) -> list[Any]:
            rows = list(_method(*args, **kwargs))
            read[0] += len(rows)
            return rows

        monkeypatch.setattr(saver, name, counted)
    return read


@pytest.mark.parametrize("filtered", [False, True], ids=["limit", "filter"])
def test_a_page_of_a_long_thread_reads_a_page_not_the_thread(
    saver: Any, filtered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = linear(saver, "abcde")
    for _ in range(100):  # 700 checkpoints: input, start and 5 nodes per run
        graph.invoke({"log": []}, thread("t"))
    whole = history(graph, thread("t"))
    assert len(whole) == 700
    read = _counting(saver, monkeypatch)
    wanted = {"source": "input"} if filtered else None
    before = whole[200].config
    page = list(graph.get_state_history(thread("t"), before=before, filter=wanted, limit=5))
    expected = [s for s in whole[201:] if not wanted or s.metadata["source"] == "input"][:5]
    assert [_shown(s) for s in page] == [_shown(s) for s in expected]
    # About a page (filtered: 256 rows hold 5 inputs) and one snapshot's chain;
    # the whole thread is 700 rows, or 499 below ``before``.
    assert read[0] < (320 if filtered else 100), read[0]


def test_list_threads_is_one_query_whatever_the_number_of_threads(tmp_path: Any) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver

    with SqliteSaver(tmp_path / "t.db") as saver:
        graph = linear(saver, "a")
        for i in range(40):
            graph.invoke({"log": []}, {"configurable": {"thread_id": f"t{i}"}, "metadata": {"n": i % 3}})
        statements: list[str] = []
        saver._conn.set_trace_callback(statements.append)
        every = saver.list_threads()
        picked = saver.list_threads(filter={"n": 1}, limit=5)
        newest = saver.list_threads(limit=2)
        saver._conn.set_trace_callback(None)
    assert [t.thread_id for t in every] == [f"t{i}" for i in reversed(range(40))]
    assert [t.thread_id for t in picked] == ["t37", "t34", "t31", "t28", "t25"]
    assert [t.thread_id for t in newest] == ["t39", "t38"]
    assert all(t.checkpoints == 3 for t in every)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3


# --- the saver is asked for the page: before=, filter= and limit= where the rows are ---


def _users(saver: Any) -> Any:
    """A branched thread whose runs carry metadata of their own ({"user": ...})."""
    graph = linear(saver)
    for i in range(4):
        graph.invoke({"log": []}, {"configurable": {"thread_id": "t"}, "metadata": {"user": f"u{i % 2}"}})
    old = history(graph, thread("t"))[9]
    fork = graph.update_state(old.config, {"log": ["edit"]}, as_node="a")
    graph.invoke(None, fork)
    return graph


FILTERS: list[Any] = [
    {"user": "u1"},
    {"user": "u0", "source": "loop"},
    {"user": "u1", "step": 2},
    {"step": True},  # == 1 in Python, as LangGraph compares
    {"source": 1},  # never equal to a str
    {"user": None},  # a key must be there: none has user None
    {"writes": None},  # made from the writes, not stored
    {"writes": {"a": {"log": ["a"]}}, "user": "u0"},
    {"parents": {}},
    {"nobody": "x"},
]


def test_pages_filtered_on_metadata_of_the_run_are_the_whole_history_cut(saver: Any) -> None:
    graph = _users(saver)
    whole = history(graph, thread("t"))
    befores = [None, whole[4].config, whole[13].config]
    for before, wanted, limit in itertools.product(befores, FILTERS, [None, 1, 2, 5]):
        expected = [
            s
            for s in whole
            if (before is None or cid(s.config) < cid(before))
            and all(k in s.metadata and s.metadata[k] == v for k, v in wanted.items())
        ][:limit]
        got = list(graph.get_state_history(thread("t"), before=before, filter=wanted, limit=limit))
        assert [_shown(s) for s in got] == [_shown(s) for s in expected], (before, wanted, limit)


def test_list_checkpoints_applies_filter_before_and_limit(saver: Any) -> None:
    _users(saver)
    every = list(saver.list_checkpoints("t", ""))
    ids = [c.id for c in every]
    for before, wanted, limit in itertools.product(
        [None, ids[3], ids[11]], [f for f in FILTERS if "writes" not in f], [None, 0, 1, 3]
    ):
        expected = [
            c.id
            for c in every
            if (before is None or c.id < before)
            and all(k in c.metadata and c.metadata[k] == v for k, v in wanted.items())
        ][:limit]
        got = saver.list_checkpoints("t", "", before=before, filter=wanted, limit=limit)
        assert [c.id for c in got] == expected, (before, wanted, limit)


def test_list_threads_filtered_and_limited_is_the_whole_list_cut(saver: Any) -> None:
    graph = linear(saver, "a")
    for i in range(9):
        graph.invoke({"log": []}, {"configurable": {"thread_id": f"t{i}"}, "metadata": {"n": i % 3}})
    graph.update_state(thread("t4"), {"log": ["edit"]}, as_node="a")
    every = saver.list_threads()
    assert [t.thread_id for t in every][:2] == ["t4", "t8"]
    for wanted, limit in itertools.product(
        [None, {"source": "loop"}, {"source": "update"}, {"step": 1}, {"n": 1, "source": "loop"},
         {"step": 2, "n": 1}, {"n": 7}],
        [None, 1, 2, 50],
    ):
        expected = [t for t in every if all(t.metadata.get(k) == v for k, v in (wanted or {}).items())]
        got = saver.list_threads(filter=wanted, limit=limit)
        assert got == expected[:limit], (wanted, limit)


class _CountingCursor:
    """A cursor that counts the statements it runs and the rows they hand back."""

    def __init__(self, cursor: Any, counts: dict[str, int]) -> None:
        self._cursor, self._counts = cursor, counts

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._counts["statements"] += 1
        self._cursor.execute(sql, params)
        return self

    def fetchall(self) -> list[Any]:
        rows = self._cursor.fetchall()
        self._counts["rows"] += len(rows)
        return rows

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        self._counts["rows"] += row is not None
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _CountingConnection:
    def __init__(self, conn: Any, counts: dict[str, int]) -> None:
        self._conn, self._counts = conn, counts

    def cursor(self) -> _CountingCursor:
        return _CountingCursor(self._conn.cursor(), self._counts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _counter(saver: Any) -> Any:
    """START -> a..e, each adding 1 to ``n``; the state keeps one fixed text,
    so snapshots come every few steps whatever the thread's length."""
    from typing_extensions import TypedDict

    from cairn.graph import START, StateGraph

    class Counter(TypedDict):
        n: int
        text: str

    builder = StateGraph(Counter)
    previous = START
    for name in "abcde":
        builder.add_node(name, lambda state: {"n": state["n"] + 1})
        builder.add_edge(previous, name)
        previous = name
    return builder.compile(checkpointer=saver)


def _reads(saver: Any, read: Any) -> tuple[int, int, list[Any]]:
    """(statements, rows) a call makes through the saver's SQLite connection:
    statements seen by the connection's trace callback, rows counted as the
    cursors hand them out."""
    counts = {"statements": 0, "rows": 0}
    traced: list[str] = []
    real = saver._conn
    real.set_trace_callback(traced.append)
    saver._conn = _CountingConnection(real, counts)
    try:
        result = read()
    finally:
        saver._conn = real
        real.set_trace_callback(None)
    assert len(traced) == counts["statements"]
    return counts["statements"], counts["rows"], result


PAGES: dict[str, dict[str, Any]] = {
    "newest": {},
    "middle": {"before": "middle"},
    "source": {"before": "middle", "filter": {"source": "input"}},
    "step": {"filter": {"step": 3}},
    "user": {"filter": {"user": "u1"}},
    "user+source": {"before": "middle", "filter": {"user": "u0", "source": "loop"}},
}


@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_reads_rows_bounded_whatever_the_thread_length(tmp_path: Any, page: str) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver

    measured = []
    for runs in (30, 150):  # 210 and 1,050 checkpoints: input, start and 5 nodes a run
        with SqliteSaver(tmp_path / f"{runs}.db", synchronous="normal") as saver:
            graph = _counter(saver)
            for i in range(runs):
                config = {"configurable": {"thread_id": "t"}, "metadata": {"user": f"u{i % 2}"}}
                graph.invoke({"n": 0, "text": "x" * 200}, config)
            whole = history(graph, thread("t"))
            args = dict(PAGES[page])
            if args.get("before") == "middle":
                args["before"] = whole[len(whole) // 2].config
            wanted = args.get("filter") or {}
            below = [s for s in whole if "before" not in args or cid(s.config) < cid(args["before"])]
            expected = [s for s in below if all(s.metadata.get(k) == v for k, v in wanted.items())]
            statements, rows, got = _reads(
                saver, lambda: list(graph.get_state_history(thread("t"), limit=10, **args))
            )
            assert [_shown(s) for s in got] == [_shown(s) for s in expected[:10]]
            measured.append((statements, rows))
    (short_statements, short_rows), (long_statements, long_rows) = measured
    # A page of 10: its rows (a filter on metadata keys also reads narrow rows
    # of ids and metadata, four times the limit to start), one chain back to a
    # snapshot per checkpoint whose parent the page lacks, and a first child
    # per checkpoint of a filtered page (measured: 3 statements and 13 rows
    # unfiltered, at most 21 and 80 filtered). None of it grows with the
    # thread; reading the whole thread below ``before`` would be 525 rows.
    assert long_statements <= 3 * 10 + 3, measured
    assert long_rows <= 100, measured
    assert long_statements <= short_statements + 2, measured
    assert long_rows <= short_rows + 20, measured


def test_list_threads_limit_and_column_filter_are_applied_in_sql(tmp_path: Any) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver

    with SqliteSaver(tmp_path / "t.db", synchronous="normal") as saver:
        graph = linear(saver, "a")
        for i in range(60):
            graph.invoke({"log": []}, {"configurable": {"thread_id": f"t{i}"}, "metadata": {"n": i % 3}})
        graph.update_state(thread("t7"), {"log": ["edit"]}, as_node="a")
        statements, rows, picked = _reads(
            saver, lambda: saver.list_threads(filter={"source": "loop", "step": 1}, limit=3)
        )
        _, _, updated = _reads(saver, lambda: saver.list_threads(filter={"source": "update"}, limit=3))
    assert [t.thread_id for t in picked] == ["t59", "t58", "t57"]
    assert [t.thread_id for t in updated] == ["t7"]
    assert (statements, rows) == (1, 3)


def test_the_memory_saver_decodes_only_the_checkpoints_it_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.checkpoint import codec
    from cairn.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    graph = linear(saver, "abcde")
    for _ in range(50):  # 350 checkpoints
        graph.invoke({"log": []}, thread("t"))
    decoded = [0]
    decode = codec.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoded[0] += 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(codec, "decode", counted)
    listed = list(saver.list_checkpoints("t", "", limit=5, filter={"source": "input"}))
    assert [c.metadata["source"] for c in listed] == ["input"] * 5
    assert decoded[0] == 5
