"""``get_state_history`` reads a page, not the thread: ``limit`` rows from
``before`` plus one chain back to a stored snapshot; ``filter`` reads pages
until ``limit`` checkpoints match. The snapshots it gives are those of the
whole history, cut where the arguments say."""

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
