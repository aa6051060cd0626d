"""get_state_history's fast paths show exactly what the plain paths show.

A history decodes a thread's rows together, folds each state once and hands
it over, and reads each checkpoint's time from its id with cached text: what
a user sees must be the same as ``get_state`` of each checkpoint, the same
as decoding row by row, and the same as ``datetime.isoformat()``.
"""

from __future__ import annotations

import operator
import random
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint import codec
from cairn.checkpoint.ids import created_at_of, new_checkpoint_id
from cairn.checkpoint.sql.tables import COLUMNS
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import CairnError, StorageError
from cairn.graph import END, START, StateGraph
from tests.support import at, cid, history, thread


class Counter(TypedDict):
    count: int
    log: Annotated[list[str], operator.add]


def counter_graph(saver: Any, *, big: bool = False) -> Any:
    """START -> a -> b -> END; each node adds one to ``count`` and appends its
    name to ``log`` (with ``big``, b also appends 400 bytes, which are stored
    compressed)."""

    def a(state: Counter) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": ["a"]}

    def b(state: Counter) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": ["b" + ("x" * 400 if big else "")]}

    builder = StateGraph(Counter)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder.compile(checkpointer=saver)


def busy_thread(graph: Any, thread_id: str, runs: int) -> None:
    """``runs`` runs on one thread, and a fork: an update of an old checkpoint
    continued to the end (so the history has two branches)."""
    for i in range(runs):
        graph.invoke({"count": i, "log": []}, thread(thread_id))
    old = [s for s in history(graph, thread(thread_id)) if s.next == ("b",)][-2]
    fork = graph.update_state(old.config, {"log": ["forked"]}, as_node="a")
    graph.invoke(None, fork)


def expected_created_at(checkpoint_id: str) -> str:
    """The time a UUIDv7 id holds, written by ``datetime`` (the reference)."""
    value = uuid.UUID(checkpoint_id).int
    stamp = ((value >> 80) << 12) | ((value >> 64) & 0xFFF)
    micros = (stamp >> 12) * 1000 + (stamp & 0xFFF) * 1000 // 4096
    moment = datetime.fromtimestamp(micros // 1_000_000, timezone.utc)
    return moment.replace(microsecond=micros % 1_000_000).isoformat()


def uuid7(millis: int, sub: int, rand: int) -> str:
    return str(uuid.UUID(int=(millis << 80) | (0x7 << 76) | (sub << 64) | (0b10 << 62) | rand))


# --- created_at ----------------------------------------------------------------------


def test_created_at_is_what_datetime_isoformat_writes_for_many_ids() -> None:
    rng = random.Random(5)
    ids = [new_checkpoint_id() for _ in range(2_000)]
    for _ in range(6_000):
        millis = rng.choice(
            [
                rng.randrange(0, 253_402_300_800_000),  # up to the year 9999
                rng.randrange(1_700_000_000_000, 1_800_000_000_000),
                1_750_000_000_000 + rng.randrange(0, 5) * 1000,  # whole seconds
                1_750_000_000_000 + rng.randrange(0, 3),
            ]
        )
        sub = rng.choice([rng.randrange(4096), 0, 1, 4, 5, 6, 4095])  # 0-4: no microseconds
        ids.append(uuid7(millis, sub, rng.getrandbits(62)))
    ids.append(uuid7(0, 0, 0))  # the epoch itself: no fraction at all
    ids.append(uuid7(1_750_000_000_000, 0, 7))
    # In order, backwards, shuffled and repeated: the cached text must never leak.
    shuffled = ids[:]
    rng.shuffle(shuffled)
    for checkpoint_id in [*sorted(ids), *sorted(ids, reverse=True), *shuffled, *ids[:50] * 2]:
        assert created_at_of(checkpoint_id) == expected_created_at(checkpoint_id), checkpoint_id


def test_created_at_reads_other_spellings_of_an_id() -> None:
    checkpoint_id = uuid7(1_750_000_000_123, 2048, 99)
    expected = expected_created_at(checkpoint_id)
    assert expected == "2025-06-15T15:06:40.123500+00:00"
    for spelling in (
        checkpoint_id,
        checkpoint_id.upper(),
        "{" + checkpoint_id + "}",
        "urn:uuid:" + checkpoint_id,
    ):
        assert created_at_of(spelling) == expected
        assert created_at_of(checkpoint_id) == expected  # and back: the cache holds the usual one


def test_created_at_of_a_whole_second_has_no_fraction() -> None:
    for sub in range(5):  # 0-4 of 4096 are under a microsecond
        assert created_at_of(uuid7(1_750_000_000_000, sub, 1)) == "2025-06-15T15:06:40+00:00"
    assert created_at_of(uuid7(1_750_000_000_000, 5, 1)) == "2025-06-15T15:06:40.000001+00:00"
    assert created_at_of(uuid7(1_750_000_000_001, 0, 1)) == "2025-06-15T15:06:40.001000+00:00"


# --- what a history shows ----------------------------------------------------------------


def test_history_of_one_run_shows_each_step(saver: Any) -> None:
    graph = counter_graph(saver)
    graph.invoke({"count": 0, "log": []}, thread("t"))
    snapshots = history(graph, thread("t"))
    assert [s.values for s in snapshots] == [
        {"count": 2, "log": ["a", "b"]},
        {"count": 1, "log": ["a"]},
        {"count": 0, "log": []},
        {"log": []},  # before the input: the list's empty start
    ]
    assert [list(s.values) for s in snapshots[:3]] == [["count", "log"]] * 3  # the schema's order
    assert [s.next for s in snapshots] == [(), ("b",), ("a",), ("__start__",)]
    assert [(s.metadata["source"], s.metadata["step"]) for s in snapshots] == [
        ("loop", 2), ("loop", 1), ("loop", 0), ("input", -1)
    ]
    assert [s.metadata["writes"] for s in snapshots] == [
        {"b": {"count": 2, "log": ["b"]}},
        {"a": {"count": 1, "log": ["a"]}},
        {"__start__": {"count": 0, "log": []}},
        None,
    ]
    assert all(s.metadata["parents"] == {} for s in snapshots)
    for snapshot, parent in zip(snapshots, [*snapshots[1:], None]):
        assert snapshot.config == {
            "configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": cid(snapshot.config)}
        }
        assert snapshot.parent_config == (parent.config if parent else None)
        assert snapshot.created_at == expected_created_at(cid(snapshot.config))
        assert snapshot.interrupts == ()
    # Each task shows the update it went on to write.
    assert [[(t.name, t.path, t.error, t.result) for t in s.tasks] for s in snapshots] == [
        [],
        [("b", ("__pregel_pull", "b"), None, {"count": 2, "log": ["b"]})],
        [("a", ("__pregel_pull", "a"), None, {"count": 1, "log": ["a"]})],
        [("__start__", ("__pregel_pull", "__start__"), None, {"count": 0, "log": []})],
    ]


@pytest.mark.parametrize("big", [False, True], ids=["small", "compressed-writes"])
def test_every_history_snapshot_is_what_get_state_shows_of_its_checkpoint(
    saver: Any, big: bool
) -> None:
    """Over two branches and enough steps for stored snapshots of the state."""
    graph = counter_graph(saver, big=big)
    busy_thread(graph, "t", runs=30)
    snapshots = history(graph, thread("t"))
    assert len(snapshots) == 30 * 4 + 2  # and the fork: the update, then b
    assert len({cid(s.config) for s in snapshots}) == len(snapshots)
    for snapshot in snapshots:
        assert graph.get_state(at("t", cid(snapshot.config))) == snapshot
    assert snapshots[0] == graph.get_state(thread("t"))


def test_filter_before_and_limit_pick_from_the_same_snapshots(saver: Any) -> None:
    graph = counter_graph(saver)
    busy_thread(graph, "t", runs=5)
    everything = history(graph, thread("t"))
    assert history(graph, thread("t"), limit=3) == everything[:3]
    middle = everything[7]
    assert history(graph, thread("t"), before=middle.config) == everything[8:]
    assert history(graph, thread("t"), before=middle.config, limit=2) == everything[8:10]
    inputs = [s for s in everything if s.metadata["source"] == "input"]
    assert history(graph, thread("t"), filter={"source": "input"}) == inputs
    assert history(graph, thread("t"), filter={"source": "input"}, limit=2) == inputs[:2]


def test_changing_a_snapshot_changes_no_other_snapshot(saver: Any) -> None:
    """Each snapshot's dicts are its own: a user may change them while reading on."""
    graph = counter_graph(saver)
    busy_thread(graph, "t", runs=10)
    reference = history(graph, thread("t"))
    seen = []
    for i, snapshot in enumerate(graph.get_state_history(thread("t"))):
        assert snapshot == reference[i]
        seen.append(snapshot)
        snapshot.values.clear()
        snapshot.values["changed"] = i
        snapshot.metadata.clear()
        snapshot.config["configurable"]["checkpoint_id"] = "changed"
        if snapshot.parent_config is not None:
            snapshot.parent_config["configurable"].clear()
        for task in snapshot.tasks:
            if task.result is not None:
                task.result.clear()
    assert len({id(s.values) for s in seen}) == len(seen)
    assert history(graph, thread("t")) == reference
    assert graph.get_state(thread("t")) == reference[0]


# --- decoding rows together ----------------------------------------------------------


def stored_rows(path: Path, thread_id: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE thread_id = ? ORDER BY id DESC",
            (thread_id,),
        ).fetchall()
    finally:
        conn.close()


def test_rows_decoded_together_are_the_rows_decoded_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SqliteSaver(path) as saver:
        busy_thread(counter_graph(saver, big=True), "t", runs=40)  # more rows than one slice
        serde = saver.serde
    rows = stored_rows(path, "t")
    assert len(rows) > 2 * codec._SLICE
    assert any(row[7][:1] != b"\x01" for row in rows) and any(row[7][:1] == b"\x01" for row in rows)
    one_by_one = [codec.decode_columns(serde, *row[:10]) for row in rows]
    assert codec.decode_many(serde, rows) == one_by_one
    assert codec.decode_many(serde, rows[:1]) == one_by_one[:1]
    with SqliteSaver(path) as saver:
        assert list(saver.list_checkpoints("t", "")) == one_by_one


def damage_row(path: Path, column: str, checkpoint_id: str, change: Any) -> None:
    conn = sqlite3.connect(path)
    (blob,) = conn.execute(
        f"SELECT {column} FROM cairn_checkpoints WHERE id = ?", (checkpoint_id,)
    ).fetchone()
    conn.execute(
        f"UPDATE cairn_checkpoints SET {column} = ? WHERE id = ?", (change(blob), checkpoint_id)
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "column, change",
    [
        ("writes", lambda blob: blob + b"\x00"),  # a value too many
        ("plan", lambda blob: blob[:-1]),  # a value cut short
        ("metadata", lambda blob: b"\x01\x91\x05"),  # a list, not a dict
        ("writes", lambda blob: b"\x01\xc1"),  # a byte msgpack never writes
    ],
    ids=["writes-extra-byte", "plan-cut-short", "metadata-not-a-dict", "writes-never-used-byte"],
)
def test_a_damaged_row_among_many_is_named_after_the_rows_before_it(
    tmp_path: Path, column: str, change: Any
) -> None:
    path = tmp_path / "c.db"
    with SqliteSaver(path) as saver:
        busy_thread(counter_graph(saver), "t", runs=30)
        expected = list(saver.list_checkpoints("t", ""))
    damaged = expected[70].id
    damage_row(path, column, damaged, change)
    with SqliteSaver(path) as saver:
        checkpoints = saver.list_checkpoints("t", "")
        assert [next(checkpoints) for _ in range(70)] == expected[:70]
        with pytest.raises(StorageError) as excinfo:
            next(checkpoints)
        assert damaged in str(excinfo.value) and "'t'" in str(excinfo.value)
        with pytest.raises(CairnError, match=damaged):
            history(counter_graph(saver), thread("t"))
