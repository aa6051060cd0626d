"""The saver contract (``cairn.checkpoint.base.BaseCheckpointSaver``), checked
on every saver the ``saver`` fixture yields (conftest.py: in memory, and a real
SQLite file; a new backend joins by adding a param there).

The tests call the contract directly with hand-built records
(``tests/saver_records.py``), never through a graph, so a backend that passes
them stores and reads checkpoints the way the runtime relies on. Byte counts
come from ``stats()``; the data the snapshot tests write is random, so that a
saver that compresses its blobs stores them at about their own size.
"""

from __future__ import annotations

import math
import os
import random
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import pytest

from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointRecord,
    PendingWrite,
    PruneResult,
    SnapshotPolicy,
    StoreStats,
    TaskRecord,
    TaskWrite,
)
from cairn.checkpoint.ids import new_checkpoint_id
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ConfigError, StorageError
from tests.conftest import SAVER_URLS
from tests.saver_records import (
    EXOTIC,
    Recorder,
    Sizes,
    apply,
    assert_exactly_equal,
    assert_reads_back,
    assert_same_records,
    assert_whole,
    blob_sizes,
    fold,
    make_checkpoint,
    same_time,
    write,
)

# --- helpers --------------------------------------------------------------------------


def ids(records: Iterable[CheckpointRecord]) -> list[str]:
    return [record.id for record in records]


def thread_ids(saver: Any, **options: Any) -> list[str]:
    return [info.thread_id for info in saver.list_threads(**options)]


def error(task_id: str, value: str) -> PendingWrite:
    return PendingWrite(task_id, "error", value)


def answer(task_id: str, value: str) -> PendingWrite:
    """A pending write of a kind a stored child clears (unlike errors and
    interrupts, which past snapshots show): a task's answers, a list as the
    runtime writes them (the codec refuses another shape)."""
    return PendingWrite(task_id, "resume", [value])


def by_task_and_kind(writes: list[PendingWrite]) -> list[PendingWrite]:
    return sorted(writes, key=lambda w: (w.task_id, w.kind))


def reopen(saver: BaseCheckpointSaver) -> BaseCheckpointSaver:
    """A second saver on the same store, as another process would open it."""
    if isinstance(saver, SqliteSaver):
        path = saver._conn.execute("PRAGMA database_list").fetchone()[2]
        return SqliteSaver(path)
    if id(saver) in SAVER_URLS:
        from cairn.checkpoint.postgres import PostgresSaver

        return PostgresSaver(SAVER_URLS[id(saver)], pool_size=2)
    pytest.skip(f"{type(saver).__name__} keeps its checkpoints in one process only")


def leased(saver: Any, thread_id: str, owner: str = "run") -> Recorder:
    """A recorder putting under a lease it holds, as a run does."""
    from cairn.checkpoint.base import Lease

    lease = Lease(thread_id, owner, 30.0)
    assert saver.acquire(lease) is None
    return Recorder(saver, thread_id, lease=lease)


# --- put and get ----------------------------------------------------------------------


def test_load_of_an_unknown_thread_or_checkpoint_is_none(saver: Any) -> None:
    assert saver.load("nobody", "") is None
    assert saver.load("nobody", "", new_checkpoint_id()) is None
    Recorder(saver, "t").run(2)
    assert saver.load("t", "", new_checkpoint_id()) is None
    assert saver.load("t", "other-ns") is None


def test_load_by_id_returns_the_record_as_saved(saver: Any) -> None:
    root = make_checkpoint("t", step=-1, source="input", writes=[write("__start__", {"q": "hi"})])
    saver.save(root, {"q": "hi"})
    child = make_checkpoint(
        "t",
        parent_id=root.id,
        step=0,
        writes=[
            write("a", {"q": "a"}, goto=("b", ("c", {"arg": 1}))),
            write("b", None),
        ],
        tasks=[TaskRecord("t1", "b"), TaskRecord("t2", "c", arg={"arg": 1}, push=True)],
        carry={"waiting": {"join": ["a"]}, "deferred": ["late"]},
        metadata={"source": "loop", "step": 0, "parents": {}, "user": "ann", "tags": ["x"]},
    )
    saver.save(child, {"q": "a"})
    assert_same_records([saver.load("t", "", root.id), saver.load("t", "", child.id)], [root, child])


def test_load_without_an_id_returns_the_newest_checkpoint_of_any_branch(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root, a, b = rec.run(3)
    assert saver.load("t", "").id == b.id
    fork = rec.step({"log": [b"fork"]}, parent=a.id)
    assert saver.load("t", "").id == fork.id


def test_save_stores_values_as_the_snapshot_and_ignores_the_records_snapshot_field(
    saver: Any,
) -> None:
    root = make_checkpoint("t", writes=[write("__start__", {"real": 1})])
    saver.save(replace(root, snapshot={"bogus": True}), {"real": 1})
    [stored] = saver.get_chain("t", "", root.id)
    assert stored.snapshot == {"real": 1}


def test_changing_what_was_saved_or_read_does_not_change_what_is_stored(saver: Any) -> None:
    update: dict[str, Any] = {"log": ["a"], "profile": {"name": "ann"}}
    values: dict[str, Any] = {"log": ["a"], "profile": {"name": "ann"}}
    root = make_checkpoint("t", writes=[write("n", update)], carry={"deferred": ["x"]})
    saver.save(root, values)
    update["log"].append("changed")
    values["profile"]["name"] = "changed"
    root.carry["deferred"].append("changed")  # type: ignore[attr-defined]
    got = saver.load("t", "", root.id)
    got.metadata["source"] = "changed"  # type: ignore[index]
    got.writes[0].update["log"].append("changed")  # type: ignore[index]
    [stored] = saver.get_chain("t", "", root.id)
    assert stored.snapshot == {"log": ["a"], "profile": {"name": "ann"}}
    assert stored.writes[0].update == {"log": ["a"], "profile": {"name": "ann"}}
    assert stored.carry == {"deferred": ["x"]}
    assert stored.metadata["source"] == "loop"


def test_values_of_every_kind_round_trip_exactly_in_every_field(saver: Any) -> None:
    root = make_checkpoint(
        "t",
        writes=[write("n", {"all": EXOTIC, 7: EXOTIC["tuple"]}, goto=("m", ("m", EXOTIC)))],
        tasks=[TaskRecord("t1", "m", arg=EXOTIC, push=True)],
        carry={"exotic": EXOTIC},
        metadata={"source": "loop", "step": 0, "parents": {}, "exotic": EXOTIC},
    )
    values: dict[Any, Any] = {"all": EXOTIC, 7: EXOTIC["tuple"]}
    saver.save(root, values)
    [stored] = saver.get_chain("t", "", root.id)
    assert_exactly_equal(stored.snapshot, values, "snapshot")
    assert_exactly_equal(stored.writes[0].update, values, "writes[0].update")
    assert_exactly_equal(stored.writes[0].goto, ("m", ("m", EXOTIC)), "goto")
    assert_exactly_equal(stored.tasks[0].arg, EXOTIC, "task arg")
    assert_exactly_equal(dict(stored.carry), {"exotic": EXOTIC}, "carry")
    assert_exactly_equal(stored.metadata["exotic"], EXOTIC, "metadata")
    [listed] = saver.list_checkpoints("t", "")
    assert_exactly_equal(listed.snapshot, values, "listed snapshot")


def test_saving_a_stored_id_again_raises_and_leaves_the_record(saver: Any) -> None:
    """Children's chains are folded from a checkpoint's writes and counted
    from its snapshot, so a stored checkpoint must not change under them."""
    root = make_checkpoint("t", writes=[write("n", {"x": 1})])
    saver.save(root, {"x": 1})
    with pytest.raises(StorageError, match="already stored"):
        saver.save(replace(root, writes=(write("n", {"x": 2}),)), {"x": 2})
    [stored] = saver.get_chain("t", "", root.id)
    assert fold([stored]) == {"x": 1}
    assert_same_records([stored], [root])


def test_a_checkpoint_whose_parent_is_not_stored_starts_a_readable_chain(saver: Any) -> None:
    orphan = make_checkpoint("t", parent_id=new_checkpoint_id(), writes=[write("n", {"x": 1})])
    saver.save(orphan, {"x": 1, "y": 2})
    chain = saver.get_chain("t", "", orphan.id)
    assert_whole(chain, orphan.id)
    assert fold(chain) == {"x": 1, "y": 2}


# --- get_chain and the snapshot rule --------------------------------------------------


def test_get_chain_of_an_unknown_checkpoint_or_thread_is_empty(saver: Any) -> None:
    Recorder(saver, "t").run(2)
    assert saver.get_chain("t", "", new_checkpoint_id()) == []
    assert saver.get_chain("nobody", "", new_checkpoint_id()) == []


def test_get_chain_of_the_root_is_the_root_with_its_snapshot(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root = rec.step({"log": ["first"]}, parent=None)
    chain = saver.get_chain("t", "", root.id)
    assert_same_records(chain, [root])
    assert fold(chain) == {"log": ["first"]}


def test_get_chain_runs_oldest_first_from_a_snapshot_to_the_checkpoint(saver: Any) -> None:
    rec = Recorder(saver, "t")
    rec.step({"log": [os.urandom(2000)]}, parent=None)  # a big state: small steps stay in the log
    steps = rec.run(5, size=16)
    chain = saver.get_chain("t", "", steps[-1].id)
    assert_whole(chain, steps[-1].id)
    assert_same_records(chain, [rec.records[i] for i in ids(chain)])
    assert len(chain) == 6, "five small steps after a big snapshot are read from the log"
    assert fold(chain) == rec.values[steps[-1].id]


def test_get_chain_follows_parents_not_newer_siblings(saver: Any) -> None:
    rec = Recorder(saver, "t")
    rec.step({"log": [os.urandom(2000)]}, parent=None)
    a, b, c = rec.run(3, size=16)
    fork = rec.step({"log": [b"fork"]}, parent=a.id)
    after_fork = rec.step({"log": [b"after fork"]})
    chain = saver.get_chain("t", "", after_fork.id)
    assert b.id not in ids(chain) and c.id not in ids(chain)
    assert ids(chain)[-3:] == [a.id, fork.id, after_fork.id]
    assert fold(chain) == rec.values[after_fork.id]


def test_every_checkpoint_of_a_branching_thread_folds_to_the_values_it_was_saved_with(
    saver: Any,
) -> None:
    rng = random.Random(1)
    rec = Recorder(saver, "t")
    rec.step({"log": [b"start"], "count": 0}, parent=None)
    for n in range(40):
        parent = rng.choice(list(rec.records)) if n % 7 == 6 else rec.last
        update: dict[str, Any] = {"log": [os.urandom(rng.randint(8, 120))], "count": n}
        rec.step(update, parent=parent)
    for checkpoint_id in rec.records:
        assert_reads_back(rec, checkpoint_id)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.0])
def test_snapshots_follow_the_policy_so_get_chain_replays_a_bounded_log(
    saver: Any, ratio: float
) -> None:
    """The rule: a snapshot is stored once the writes logged since the last one
    reach ``ratio`` times its size. So the writes get_chain returns after its
    snapshot stay below ``ratio`` times that snapshot (give or take one step,
    for how a saver counts bytes), and a snapshot is never stored while they
    are well below it."""
    saver.snapshot_policy = SnapshotPolicy(ratio=ratio)
    rng = random.Random(int(ratio * 10))
    rec, sizes = Recorder(saver, "t"), Sizes()
    sizes.step(rec, {"log": [os.urandom(32)]}, parent=None)
    for n in range(60):
        parent = rec.records[rec.last].parent_id if n == 30 else rec.last  # one fork
        sizes.step(rec, {"log": [os.urandom(rng.randint(16, 96))]}, parent=parent)
    one_step = max(sizes.writes.values())

    listed = {c.id: c for c in saver.list_checkpoints("t", "")}
    for checkpoint_id in rec.records:
        assert (listed[checkpoint_id].snapshot is not None) == (sizes.snapshot[checkpoint_id] > 0)
        chain = saver.get_chain("t", "", checkpoint_id)
        assert_whole(chain, checkpoint_id)
        assert fold(chain) == rec.values[checkpoint_id]
        replayed = sum(sizes.writes[c.id] for c in chain[1:])
        assert replayed < ratio * sizes.snapshot[chain[0].id] + one_step, (
            f"get_chain({checkpoint_id}) replays {replayed} bytes of writes after a "
            f"snapshot of {sizes.snapshot[chain[0].id]} bytes"
        )
        record = rec.records[checkpoint_id]
        if sizes.snapshot[checkpoint_id] and record.parent_id is not None:
            before = saver.get_chain("t", "", record.parent_id)
            logged = sum(sizes.writes[c.id] for c in before[1:]) + sizes.writes[checkpoint_id]
            assert logged + one_step >= ratio * sizes.snapshot[before[0].id], (
                f"snapshot at {checkpoint_id} after only {logged} bytes of writes "
                f"since a snapshot of {sizes.snapshot[before[0].id]} bytes"
            )


def test_a_long_chain_of_appends_gets_snapshots_at_geometric_intervals(saver: Any) -> None:
    """Under the rule, each snapshot comes once the writes since the last one
    reach ``ratio`` times its size, so for a state growing by ``growth`` bytes
    a step through writes of ``step`` bytes, snapshots grow by a factor of at
    least q = 1 + ratio * growth / step: there are about log_q(final / first)
    of them, and they add up to at most q / (q - 1) times the final state
    (the docstring's (1 + ratio) / ratio when writes are just the appended data)."""
    rec, sizes = Recorder(saver, "t"), Sizes()
    sizes.step(rec, {"log": [os.urandom(48)]}, parent=None)
    for _ in range(80):
        sizes.step(rec, {"log": [os.urandom(48)]})
    taken = [size for size in sizes.snapshot.values() if size]
    before = saver.stats().snapshot_bytes
    saver.save(make_checkpoint("measure"), rec.values[rec.last])
    final_state = saver.stats().snapshot_bytes - before  # as this saver stores it

    step = sorted(sizes.writes.values())[len(sizes.writes) // 2]
    growth = (final_state - taken[0]) / 80
    q = 1 + saver.snapshot_policy.ratio * growth / step
    assert 3 <= len(taken) <= math.log(final_state / taken[0], q) + 2, taken
    assert sum(taken) <= q / (q - 1) * final_state, taken


# --- list_checkpoints -----------------------------------------------------------------


def test_list_checkpoints_is_every_branch_newest_first_with_snapshots_where_stored(
    saver: Any,
) -> None:
    rec = Recorder(saver, "t")
    root, a, b = rec.run(3)
    rec.step({"log": [b"fork"]}, parent=a.id)
    listed = list(saver.list_checkpoints("t", ""))
    assert ids(listed) == sorted(rec.records, reverse=True)
    assert_same_records(listed, [rec.records[i] for i in ids(listed)])
    assert listed[-1].snapshot == rec.values[root.id]
    for record in listed:
        if record.snapshot is not None:
            assert record.snapshot == rec.values[record.id]


def test_list_checkpoints_before_and_limit_page_through_newest_first(saver: Any) -> None:
    rec = Recorder(saver, "t")
    rec.run(6)
    newest_first = sorted(rec.records, reverse=True)
    assert ids(saver.list_checkpoints("t", "", limit=2)) == newest_first[:2]
    assert ids(saver.list_checkpoints("t", "", before=newest_first[1])) == newest_first[2:]
    page = saver.list_checkpoints("t", "", before=newest_first[1], limit=3)
    assert ids(page) == newest_first[2:5]
    assert ids(saver.list_checkpoints("t", "", before=newest_first[-1])) == []
    between = new_checkpoint_id()  # sorts after every stored id
    assert ids(saver.list_checkpoints("t", "", before=between)) == newest_first


def test_list_checkpoints_of_an_unknown_thread_or_namespace_is_empty(saver: Any) -> None:
    Recorder(saver, "t").run(2)
    assert list(saver.list_checkpoints("nobody", "")) == []
    assert list(saver.list_checkpoints("t", "sub")) == []


# --- pending writes -------------------------------------------------------------------


def test_pending_writes_of_every_kind_round_trip(saver: Any) -> None:
    rec = Recorder(saver, "t")
    head = rec.run(2)[-1]
    writes = [
        PendingWrite("task-a", "result", write("a", {"all": EXOTIC}, goto=("b", ("c", EXOTIC)))),
        PendingWrite("task-b", "error", "ValueError('boom')"),
        PendingWrite("task-c", "interrupt", [("interrupt-1", {"question": "ok?", "n": 2**70})]),
        PendingWrite("task-c", "resume", ["yes", {1: (2, 3)}]),
        PendingWrite("__input__", "input", {"topic": EXOTIC["set"]}),
    ]
    saver.save_pending("t", "", head.id, writes)
    got = by_task_and_kind(saver.get_pending("t", "", head.id))
    want = by_task_and_kind(writes)
    assert [(w.task_id, w.kind) for w in got] == [(w.task_id, w.kind) for w in want]
    for g, w in zip(got, want):
        if isinstance(w.value, TaskWrite):
            assert isinstance(g.value, TaskWrite)
            assert g.value.task_id == w.value.task_id and g.value.name == w.value.name
            assert_exactly_equal(g.value.update, w.value.update, "pending update")
            assert_exactly_equal(g.value.goto, w.value.goto, "pending goto")
        else:
            assert_exactly_equal(g.value, w.value, f"pending {w.kind}")


def test_get_pending_is_empty_when_nothing_is_pending(saver: Any) -> None:
    head = Recorder(saver, "t").run(1)[-1]
    assert saver.get_pending("t", "", head.id) == []
    assert saver.get_pending("nobody", "", new_checkpoint_id()) == []


def test_save_pending_replaces_a_write_of_the_same_task_and_kind_and_keeps_the_rest(
    saver: Any,
) -> None:
    head = Recorder(saver, "t").run(1)[-1]
    saver.save_pending("t", "", head.id, [error("a", "first"), error("b", "b")])
    saver.save_pending("t", "", head.id, [error("a", "second"), PendingWrite("a", "interrupt", [])])
    got = by_task_and_kind(saver.get_pending("t", "", head.id))
    assert got == [error("a", "second"), PendingWrite("a", "interrupt", []), error("b", "b")]
    assert saver.stats().pending_writes == 3


def test_saving_a_child_clears_its_parents_pending_writes_only(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root, a = rec.run(2)
    other = Recorder(saver, "other")
    other_head = other.run(1)[-1]
    sub = Recorder(saver, "t", ns="sub")
    sub_head = sub.run(1)[-1]
    others = [("t", "", root.id), ("other", "", other_head.id), ("t", "sub", sub_head.id)]
    for thread_id, ns, checkpoint_id in [("t", "", a.id), *others]:
        saver.save_pending(thread_id, ns, checkpoint_id, [answer("x", checkpoint_id)])
    rec.step({"log": [b"next"]}, parent=a.id)
    assert saver.get_pending("t", "", a.id) == []
    for thread_id, ns, checkpoint_id in others:
        assert saver.get_pending(thread_id, ns, checkpoint_id) == [answer("x", checkpoint_id)]


def test_save_stores_pending_writes_against_the_new_checkpoint_with_it(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root = rec.run(1)[-1]
    saver.save_pending("t", "", root.id, [answer("old", "x")])
    child = make_checkpoint("t", parent_id=root.id, step=1, writes=[write("n", {"log": ["c"]})])
    saver.save(child, {"log": ["c"]}, [PendingWrite("__input__", "input", {"q": 1})])
    assert saver.get_pending("t", "", root.id) == []
    assert saver.get_pending("t", "", child.id) == [PendingWrite("__input__", "input", {"q": 1})]


# --- first_child ----------------------------------------------------------------------


def test_first_child_is_the_oldest_child_not_a_later_fork(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root, a = rec.run(2)
    rec.step({"log": [b"grandchild"]})
    rec.step({"log": [b"fork"]}, parent=root.id)
    assert_same_records([saver.first_child("t", "", root.id)], [a])


def test_first_child_orders_children_by_id_not_by_when_they_were_saved(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root = rec.run(1)[-1]
    older_id, newer_id = new_checkpoint_id(), new_checkpoint_id()
    for checkpoint_id in (newer_id, older_id):
        child = make_checkpoint("t", parent_id=root.id, step=0, checkpoint_id=checkpoint_id)
        saver.save(child, rec.values[root.id])
    first = saver.first_child("t", "", root.id)
    assert first is not None and first.id == older_id


def test_first_child_of_a_leaf_or_unknown_checkpoint_is_none(saver: Any) -> None:
    rec = Recorder(saver, "t")
    leaf = rec.run(2)[-1]
    assert saver.first_child("t", "", leaf.id) is None
    assert saver.first_child("t", "", new_checkpoint_id()) is None
    assert saver.first_child("nobody", "", leaf.id) is None


def test_first_child_does_not_see_children_in_another_namespace(saver: Any) -> None:
    root = Recorder(saver, "t").run(1)[-1]
    saver.save(make_checkpoint("t", ns="sub", parent_id=root.id), {})
    assert saver.first_child("t", "", root.id) is None
    assert saver.first_child("t", "sub", root.id) is not None


# --- threads and namespaces are kept apart --------------------------------------------


def test_namespaces_of_one_thread_are_kept_apart(saver: Any) -> None:
    top, sub = Recorder(saver, "t"), Recorder(saver, "t", ns="sub")
    top.run(3)
    sub.step({"log": [b"sub root"]}, parent=None)
    sub.run(2)
    saver.save_pending("t", "sub", sub.last, [answer("x", "in sub")])
    assert saver.load("t", "").id == top.last
    assert saver.load("t", "sub").id == sub.last
    assert saver.load("t", "", sub.last) is None
    assert saver.get_chain("t", "", sub.last) == []
    assert ids(saver.list_checkpoints("t", "")) == sorted(top.records, reverse=True)
    assert ids(saver.list_checkpoints("t", "sub")) == sorted(sub.records, reverse=True)
    assert saver.get_pending("t", "", sub.last) == []
    assert fold(saver.get_chain("t", "sub", sub.last)) == sub.values[sub.last]
    assert fold(saver.get_chain("t", "", top.last)) == top.values[top.last]


def test_one_checkpoint_id_in_two_namespaces_is_two_records(saver: Any) -> None:
    shared = new_checkpoint_id()
    for ns, value in (("", "top"), ("sub", "sub")):
        writes = [write("n", {"x": value})]
        saver.save(make_checkpoint("t", ns=ns, checkpoint_id=shared, writes=writes), {"x": value})
    assert fold(saver.get_chain("t", "", shared)) == {"x": "top"}
    assert fold(saver.get_chain("t", "sub", shared)) == {"x": "sub"}
    assert saver.stats().checkpoints == 2


def test_threads_are_kept_apart(saver: Any) -> None:
    a, b = Recorder(saver, "a"), Recorder(saver, "b")
    a.run(3)
    b.run(2)
    saver.save_pending("a", "", a.last, [answer("x", "a")])
    assert saver.load("a", "").id == a.last and saver.load("b", "").id == b.last
    assert saver.load("b", "", a.last) is None
    assert saver.get_chain("b", "", a.last) == []
    assert saver.get_pending("b", "", a.last) == []
    assert saver.first_child("b", "", a.records[a.last].parent_id or "") is None
    assert ids(saver.list_checkpoints("b", "")) == sorted(b.records, reverse=True)


# --- list_threads ---------------------------------------------------------------------


def test_list_threads_is_most_recently_updated_first_and_describes_each_thread(
    saver: Any,
) -> None:
    t0 = datetime.now(timezone.utc) - timedelta(minutes=10)
    a, b, c = Recorder(saver, "a"), Recorder(saver, "b"), Recorder(saver, "c")
    first = a.step({"log": [b"1"]}, parent=None, at=t0, metadata={"user": "ann"})
    b.step({"log": [b"2"]}, parent=None, at=t0 + timedelta(minutes=1))
    c.step({"log": [b"3"]}, parent=None, at=t0 + timedelta(minutes=2))
    head = a.step({"log": [b"4"]}, at=t0 + timedelta(minutes=3), metadata={"user": "bob"})
    threads = saver.list_threads()
    assert [info.thread_id for info in threads] == ["a", "c", "b"]
    info = threads[0]
    assert info.checkpoints == 2
    assert same_time(info.created_at, first.created_at)
    assert same_time(info.updated_at, head.created_at)
    assert info.updated_at == saver.load("a", "").created_at
    assert dict(info.metadata) == dict(head.metadata)


def test_list_threads_filters_on_the_head_metadata_before_the_limit(saver: Any) -> None:
    ann, bob, old_ann = Recorder(saver, "ann"), Recorder(saver, "bob"), Recorder(saver, "was-ann")
    ann.step({"log": [b"1"]}, parent=None, metadata={"user": "ann", "n": 1})
    old_ann.step({"log": [b"2"]}, parent=None, metadata={"user": "ann"})
    old_ann.step({"log": [b"3"]}, metadata={"user": "bob"})
    bob.step({"log": [b"4"]}, parent=None, metadata={"user": "bob", "n": 1})
    assert thread_ids(saver, filter={"user": "ann"}) == ["ann"]
    assert thread_ids(saver, filter={"user": "bob"}) == ["bob", "was-ann"]
    assert thread_ids(saver, filter={"user": "bob", "n": 1}) == ["bob"]
    assert thread_ids(saver, filter={"user": "bob"}, limit=1) == ["bob"]
    assert thread_ids(saver, limit=2) == ["bob", "was-ann"]
    assert saver.list_threads(filter={"user": "carol"}) == []


def test_list_threads_of_an_empty_store_is_empty(saver: Any) -> None:
    assert saver.list_threads() == []


def test_list_threads_with_limit_zero_is_empty(request: pytest.FixtureRequest, saver: Any) -> None:
    Recorder(saver, "a").run(1)
    Recorder(saver, "b").run(1)
    assert saver.list_threads(limit=0) == []


def test_list_threads_counts_every_namespace_and_shows_the_top_level_heads_metadata(
    saver: Any,
) -> None:
    top, sub = Recorder(saver, "t"), Recorder(saver, "t", ns="sub")
    top.step({"log": [b"1"]}, parent=None, metadata={"user": "ann"})
    sub.step({"log": [b"2"]}, parent=None, metadata={"user": "subgraph"})
    [info] = saver.list_threads()
    assert info.checkpoints == 2
    assert info.metadata["user"] == "ann"
    assert thread_ids(saver, filter={"user": "ann"}) == ["t"]


def test_records_and_threads_are_dated_by_their_checkpoint_ids(saver: Any) -> None:
    """The contract: created_at is not stored, savers read the time from the id."""
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    fresh = make_checkpoint("fresh")
    saver.save(replace(fresh, created_at=long_ago.isoformat()), {})
    old = make_checkpoint("old", at=long_ago)
    saver.save(replace(old, created_at=datetime.now(timezone.utc).isoformat()), {})
    assert same_time(saver.load("fresh", "").created_at, fresh.created_at)
    assert same_time(saver.load("old", "").created_at, old.created_at)
    infos = {info.thread_id: info for info in saver.list_threads()}
    for thread_id in ("fresh", "old"):
        head = saver.load(thread_id, "")
        assert infos[thread_id].created_at == infos[thread_id].updated_at == head.created_at
    assert saver.prune(older_than=timedelta(days=1)) == PruneResult(1, 1)
    assert thread_ids(saver) == ["fresh"]


# --- delete_thread --------------------------------------------------------------------


def test_delete_thread_removes_every_checkpoint_and_pending_write_of_that_thread_only(
    saver: Any,
) -> None:
    top, sub = Recorder(saver, "t"), Recorder(saver, "t", ns="sub")
    other = Recorder(saver, "other")
    for rec, count in ((top, 3), (sub, 2), (other, 2)):
        rec.run(count)
        saver.save_pending(rec.thread_id, rec.ns, rec.last, [answer("x", rec.thread_id)])
    saver.delete_thread("t")
    assert saver.load("t", "") is None and saver.load("t", "sub") is None
    assert list(saver.list_checkpoints("t", "")) == []
    assert saver.get_pending("t", "", top.last) == []
    assert thread_ids(saver) == ["other"]
    stats = saver.stats()
    assert (stats.threads, stats.checkpoints, stats.pending_writes) == (1, 2, 1)
    assert saver.get_pending("other", "", other.last) == [answer("x", "other")]
    for checkpoint_id in other.records:
        assert_reads_back(other, checkpoint_id)


def test_a_deleted_thread_can_be_started_again(saver: Any) -> None:
    first = Recorder(saver, "t")
    first.run(3)
    saver.delete_thread("t")
    saver.delete_thread("never-existed")
    again = Recorder(saver, "t")
    again.step({"log": [b"new"]}, parent=None)
    again.run(2)
    assert ids(saver.list_checkpoints("t", "")) == sorted(again.records, reverse=True)
    for checkpoint_id in again.records:
        assert_reads_back(again, checkpoint_id)


# --- copy_thread ----------------------------------------------------------------------


def test_copy_thread_copies_every_checkpoint_namespace_and_pending_write(saver: Any) -> None:
    top, sub = Recorder(saver, "src"), Recorder(saver, "src", ns="sub")
    root, a, b = top.run(3)
    top.step({"log": [b"fork"]}, parent=a.id)
    sub.run(2)
    saver.save_pending("src", "", top.last, [answer("x", "top")])
    saver.save_pending("src", "sub", sub.last, [PendingWrite("y", "interrupt", [("i", 1)])])
    saver.copy_thread("src", "dst")
    for rec in (top, sub):
        source = list(saver.list_checkpoints("src", rec.ns))
        copied = list(saver.list_checkpoints("dst", rec.ns))
        assert copied == [replace(c, thread_id="dst") for c in source]
        for checkpoint_id in rec.records:
            chain = saver.get_chain("dst", rec.ns, checkpoint_id)
            assert_whole(chain, checkpoint_id)
            assert fold(chain) == rec.values[checkpoint_id]
        pending = saver.get_pending("src", rec.ns, rec.last)
        assert pending and saver.get_pending("dst", rec.ns, rec.last) == pending
    assert_same_records([saver.first_child("dst", "", root.id)], [replace(a, thread_id="dst")])
    assert {t.thread_id: t.checkpoints for t in saver.list_threads()} == {"src": 6, "dst": 6}


def test_a_copied_thread_lives_on_its_own(saver: Any) -> None:
    rec = Recorder(saver, "src")
    rec.run(3)
    saver.save_pending("src", "", rec.last, [answer("x", "boom")])
    saver.copy_thread("src", "dst")
    child = make_checkpoint("dst", parent_id=rec.last, writes=[write("n", {"log": [b"dst"]})])
    values = apply(rec.values[rec.last], child.writes)
    saver.save(child, values)
    assert saver.get_pending("dst", "", rec.last) == []
    assert saver.get_pending("src", "", rec.last) == [answer("x", "boom")]
    assert saver.load("src", "").id == rec.last
    saver.delete_thread("src")
    assert fold(saver.get_chain("dst", "", child.id)) == values


def test_copy_thread_refuses_an_empty_source_or_an_existing_target(saver: Any) -> None:
    Recorder(saver, "src").run(2)
    Recorder(saver, "taken").run(1)
    before = saver.stats()
    with pytest.raises(ConfigError):
        saver.copy_thread("nobody", "new")
    with pytest.raises(ConfigError):
        saver.copy_thread("src", "taken")
    with pytest.raises(ConfigError):
        saver.copy_thread("src", "src")
    assert saver.stats() == before
    assert saver.load("new", "") is None
    assert len(list(saver.list_checkpoints("taken", ""))) == 1


# --- prune ----------------------------------------------------------------------------


def chains(saver: Any, rec: Recorder) -> dict[str, list[CheckpointRecord]]:
    return {cid: saver.get_chain(rec.thread_id, rec.ns, cid) for cid in rec.records}


def test_prune_keep_last_keeps_the_newest_and_the_chains_they_need_unchanged(saver: Any) -> None:
    rec = Recorder(saver, "t")
    rec.run(30)
    rec.step({"log": [b"fork"]}, parent=sorted(rec.records)[20])
    rec.run(2)
    before = chains(saver, rec)
    newest = sorted(rec.records, reverse=True)[:3]
    needed = {c.id for cid in newest for c in before[cid]}

    result = saver.prune(keep_last=3)

    kept = ids(saver.list_checkpoints("t", ""))
    assert set(kept) == needed, "keeps the newest 3 and what they need to be read, nothing else"
    assert result == PruneResult(0, checkpoints_deleted=len(rec.records) - len(kept))
    assert result.checkpoints_deleted > 0
    for checkpoint_id in kept:
        chain = saver.get_chain("t", "", checkpoint_id)
        assert chain == before[checkpoint_id]
        assert_whole(chain, checkpoint_id)
        assert fold(chain) == rec.values[checkpoint_id]
    for checkpoint_id in set(rec.records) - set(kept):
        assert saver.load("t", "", checkpoint_id) is None
    assert saver.stats().checkpoints == len(kept)


def test_prune_keep_last_counts_each_thread_and_namespace(saver: Any) -> None:
    recs = [Recorder(saver, "a"), Recorder(saver, "a", ns="sub"), Recorder(saver, "b")]
    for rec in recs:
        rec.step({"log": [os.urandom(4000)]}, parent=None)
        rec.run(12, size=24)
    saver.prune(keep_last=2)
    for rec in recs:
        kept = ids(saver.list_checkpoints(rec.thread_id, rec.ns))
        assert kept[:2] == sorted(rec.records, reverse=True)[:2]
        for checkpoint_id in kept:
            assert_reads_back(rec, checkpoint_id)


def test_prune_keep_last_drops_the_pending_writes_of_pruned_checkpoints(saver: Any) -> None:
    rec = Recorder(saver, "t")
    steps = rec.run(20)
    saver.save_pending("t", "", steps[0].id, [answer("x", "old")])
    saver.save_pending("t", "", rec.last, [answer("x", "head")])
    saver.prune(keep_last=1)
    assert saver.load("t", "", steps[0].id) is None
    assert saver.stats().pending_writes == 1
    assert saver.get_pending("t", "", rec.last) == [answer("x", "head")]


def test_prune_with_a_thread_id_leaves_other_threads_alone(saver: Any) -> None:
    a, b = Recorder(saver, "a"), Recorder(saver, "b")
    a.run(20)
    b.run(20)
    result = saver.prune(keep_last=1, thread_id="a")
    assert result.checkpoints_deleted > 0
    assert len(list(saver.list_checkpoints("a", ""))) < 20
    assert len(list(saver.list_checkpoints("b", ""))) == 20


def test_prune_keeping_more_than_there_is_deletes_nothing(saver: Any) -> None:
    Recorder(saver, "t").run(5)
    before = saver.stats()
    assert saver.prune(keep_last=5) == PruneResult(0, 0)
    assert saver.prune(keep_last=100) == PruneResult(0, 0)
    assert saver.stats() == before


def test_prune_older_than_drops_whole_threads_whose_head_is_older(saver: Any) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    old, old_sub = Recorder(saver, "old"), Recorder(saver, "old", ns="sub")
    old.step({"log": [b"1"]}, parent=None, at=long_ago)
    old.step({"log": [b"2"]}, at=long_ago + timedelta(hours=1))
    old_sub.step({"log": [b"3"]}, parent=None, at=long_ago + timedelta(hours=2))
    saver.save_pending("old", "", old.last, [answer("x", "old")])
    live = Recorder(saver, "live")
    live.step({"log": [b"1"]}, parent=None, at=long_ago)
    live.step({"log": [b"2"]})
    Recorder(saver, "fresh").run(2)

    result = saver.prune(older_than=timedelta(days=1))

    assert result == PruneResult(threads_deleted=1, checkpoints_deleted=3)
    assert saver.load("old", "") is None and saver.load("old", "sub") is None
    assert sorted(thread_ids(saver)) == ["fresh", "live"]
    assert len(list(saver.list_checkpoints("live", ""))) == 2, "a live thread keeps old checkpoints"
    assert saver.stats().pending_writes == 0


def test_prune_older_than_with_a_thread_id_looks_at_that_thread_only(saver: Any) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    for thread_id in ("old-1", "old-2"):
        Recorder(saver, thread_id).step({"log": [b"x"]}, parent=None, at=long_ago)
    assert saver.prune(older_than=timedelta(days=1), thread_id="old-1") == PruneResult(1, 1)
    assert thread_ids(saver) == ["old-2"]


def test_prune_older_than_and_keep_last_together_drop_old_threads_and_trim_the_rest(
    saver: Any,
) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    Recorder(saver, "old").step({"log": [b"x"]}, parent=None, at=long_ago)
    live = Recorder(saver, "live")
    live.run(20)
    result = saver.prune(older_than=timedelta(days=1), keep_last=1)
    assert result.threads_deleted == 1
    kept = ids(saver.list_checkpoints("live", ""))
    assert result.checkpoints_deleted == 1 + 20 - len(kept)
    assert kept[0] == live.last
    assert_reads_back(live, live.last)


def test_a_dry_run_prune_counts_what_would_go_and_deletes_nothing(saver: Any) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    Recorder(saver, "old").step({"log": [b"x"]}, parent=None, at=long_ago)
    Recorder(saver, "live").run(20)
    before = saver.stats()
    counted = saver.prune(older_than=timedelta(days=1), keep_last=1, dry_run=True)
    assert counted.threads_deleted == 1 and counted.checkpoints_deleted > 1
    assert saver.stats() == before
    assert sorted(thread_ids(saver)) == ["live", "old"]
    assert saver.prune(older_than=timedelta(days=1), keep_last=1) == counted


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"thread_id": "t"},
        {"keep_last": 0},
        {"keep_last": -1},
        {"keep_last": 1.5},
        {"keep_last": "2"},
        {"older_than": 3600},
        {"older_than": "1d", "keep_last": 1},
    ],
    ids=repr,
)
def test_prune_with_bad_arguments_is_a_config_error_and_deletes_nothing(
    saver: Any, arguments: dict[str, Any]
) -> None:
    Recorder(saver, "t").run(5)
    before = saver.stats()
    with pytest.raises(ConfigError):
        saver.prune(**arguments)
    assert saver.stats() == before


# --- stats ----------------------------------------------------------------------------


def test_stats_of_an_empty_store_are_zero(saver: Any) -> None:
    assert saver.stats() == StoreStats(0, 0, 0, 0, 0, 0)


def test_stats_count_threads_checkpoints_pending_writes_and_blob_bytes(saver: Any) -> None:
    recs = [Recorder(saver, "a"), Recorder(saver, "a", ns="sub"), Recorder(saver, "b")]
    for n, rec in enumerate(recs):
        rec.run(10 + n, size=40 + n)
    two = [answer("x", "e"), PendingWrite("y", "input", {"q": 1})]
    saver.save_pending("a", "", recs[0].last, two)
    saver.save_pending("b", "", recs[2].last, [answer("x", "e")])

    stats = saver.stats()
    log_bytes = snapshot_bytes = 0
    for rec in recs:
        for stored in saver.list_checkpoints(rec.thread_id, rec.ns):
            writes, snapshot = blob_sizes(saver, rec.records[stored.id], rec.values[stored.id])
            log_bytes += writes
            snapshot_bytes += snapshot if stored.snapshot is not None else 0
    assert (stats.threads, stats.checkpoints, stats.pending_writes) == (2, 10 + 11 + 12, 3)
    assert stats.log_bytes == log_bytes
    assert stats.snapshot_bytes == snapshot_bytes
    assert stats.bytes >= stats.log_bytes + stats.snapshot_bytes

    saver.save_pending("b", "", recs[2].last, [answer("z", "more " * 20)])
    grown = saver.stats()
    assert grown.pending_writes == 4 and grown.bytes > stats.bytes


# --- concurrency ----------------------------------------------------------------------


def run_together(workers: list[Callable[[], None]]) -> None:
    """Start every worker at once in its own thread; re-raise the first failure."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that races show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("apart", ["threads", "namespaces"])
def test_eight_writers_at_once_leave_every_chain_whole(saver: Any, apart: str) -> None:
    recs = [
        Recorder(saver, f"t{n}") if apart == "threads" else Recorder(saver, "t", ns=f"ns{n}")
        for n in range(8)
    ]

    def work(rec: Recorder) -> Callable[[], None]:
        def steps() -> None:
            rng = random.Random(rec.thread_id + rec.ns)
            for n in range(15):
                rec.step({"log": [os.urandom(rng.randint(8, 200))], "n": n})
                saver.save_pending(rec.thread_id, rec.ns, rec.last, [answer("x", str(n))])
                assert_reads_back(rec, rec.last)
                saver.list_threads(limit=3)

        return steps

    run_together([work(rec) for rec in recs])

    for rec in recs:
        listed = saver.list_checkpoints(rec.thread_id, rec.ns)
        assert ids(listed) == sorted(rec.records, reverse=True)
        assert saver.get_pending(rec.thread_id, rec.ns, rec.last) == [answer("x", "14")]
        for checkpoint_id in rec.records:
            assert_reads_back(rec, checkpoint_id)
    stats = saver.stats()
    assert (stats.threads, stats.checkpoints, stats.pending_writes) == (
        8 if apart == "threads" else 1,
        8 * 15,
        8,
    )


# --- several savers on one store ------------------------------------------------------


@pytest.mark.parametrize("under_lease", [False, True], ids=["plain", "leased"])
def test_a_save_after_another_saver_deleted_its_parent_still_reads_back(
    saver: Any, under_lease: bool
) -> None:
    # Under a lease the saver knows the parent it stored last; it must still
    # notice that another process deleted it. Deleting a thread also takes
    # it from the run holding it: that run stores nothing more, and the
    # thread stays deleted.
    from cairn.errors import ThreadBusyError

    other = reopen(saver)
    try:
        rec = leased(saver, "t") if under_lease else Recorder(saver, "t")
        rec.step({"log": [os.urandom(2000)]}, parent=None)
        rec.run(3, size=16)
        other.delete_thread("t")
        if under_lease:
            assert rec.lease is not None
            with pytest.raises(ThreadBusyError, match="lost thread 't'.*or the thread was deleted"):
                rec.step({"log": [b"after delete"]})
            assert list(saver.list_checkpoints("t", "")) == []
            assert saver.acquire(rec.lease) is None  # the same run takes the thread again
        child = rec.step({"log": [b"after delete"]})
        chain = saver.get_chain("t", "", child.id)
        assert_whole(chain, child.id)
        assert fold(chain) == rec.values[child.id]
    finally:
        getattr(other, "close", lambda: None)()


# --- leases (one writer per thread) -----------------------------------------------------


def test_a_lease_is_taken_renewed_fenced_and_released(saver: Any) -> None:
    from cairn.checkpoint.base import Lease
    from cairn.errors import ThreadBusyError

    mine, theirs = Lease("t", "mine", 30.0), Lease("t", "theirs", 30.0)
    assert saver.acquire(mine) is None
    assert saver.acquire(mine) is None  # taking it again is a renewal
    assert saver.acquire(theirs) == "mine"  # a live hold is named, not taken
    assert saver.renew(mine) is True and saver.renew(theirs) is False
    assert saver.acquire(Lease("other-thread", "theirs", 30.0)) is None  # threads are separate
    root = make_checkpoint("t", step=-1, source="input")
    saver.save(root, {}, lease=mine)
    with pytest.raises(ThreadBusyError, match="lost thread 't'"):
        saver.save(make_checkpoint("t", parent_id=root.id, step=0), {}, lease=theirs)
    saver.release(theirs)  # not the holder: nothing happens
    assert saver.acquire(theirs) == "mine"
    saver.release(mine)
    assert saver.renew(mine) is False  # renewing never takes a free thread
    assert saver.acquire(theirs) is None
    with pytest.raises(ThreadBusyError):  # the old holder's writes are refused now
        saver.save_pending("t", "", root.id, [answer("x", "boom")], lease=mine)
    assert [c.id for c in saver.list_checkpoints("t", "")] == [root.id]


def snapshot_steps(saver: Any, thread_id: str) -> list[int]:
    """The steps of a thread whose checkpoints carry a full snapshot."""
    return sorted(c.step for c in saver.list_checkpoints(thread_id, "") if c.snapshot is not None)


def test_metadata_of_consecutive_checkpoints_reads_back_with_its_exact_types(saver: Any) -> None:
    # Equal values of other types (1, True, 1.0) and repeats must each come
    # back as they were put, however the saver packs repeated metadata.
    rec = Recorder(saver, "t")
    given = [{"x": 1}, {"x": True}, {"x": 1.0}, {"x": 1}, {"x": "1"}, {"x": 1}, {"x": None}]
    made = [rec.step({"log": [b"."]}, parent=None if i == 0 else rec.last_id, metadata=m) for i, m in enumerate(given)]
    for checkpoint, metadata in zip(made, given):
        got = saver.load("t", "", checkpoint.id).metadata
        assert_exactly_equal(got["x"], metadata["x"])


def test_saves_under_a_lease_store_what_saves_without_one_store(saver: Any) -> None:
    # A run's puts follow its own last checkpoint; the saver may shortcut them,
    # but what is stored (records, values, snapshot points) is the same.
    rng = random.Random(5)
    sizes = [rng.randrange(10, 3000) for _ in range(60)]
    plain, under = Recorder(saver, "plain"), leased(saver, "leased")
    for rec in (plain, under):
        rec.step({"log": [b"root"]}, parent=None)
        for size in sizes:
            rec.step({"log": [random.Random(size).randbytes(size)]})
    assert snapshot_steps(saver, "leased") == snapshot_steps(saver, "plain")
    assert len(snapshot_steps(saver, "leased")) > 2  # the cadence was exercised
    for checkpoint_id in under.records:
        assert_reads_back(under, checkpoint_id)
    listed = list(saver.list_checkpoints("leased", ""))
    assert_same_records(listed, [under.records[i] for i in ids(listed)])


def test_a_save_under_a_lease_clears_the_pending_writes_of_its_parent(saver: Any) -> None:
    rec = leased(saver, "t")
    first = rec.step({"log": [b"a"]}, parent=None, pending=[PendingWrite("in", "input", {"x": 1})])
    second = rec.step({"log": [b"b"]})
    assert saver.get_pending("t", "", first.id) == []  # applied by the child: gone
    saver.save_pending("t", "", second.id, [answer("x", "boom")], lease=rec.lease)
    third = rec.step({"log": [b"c"]}, pending=[answer("y", "later")])
    assert saver.get_pending("t", "", second.id) == []
    assert saver.get_pending("t", "", third.id) == [answer("y", "later")]
    rec.step({"log": [b"d"]})
    assert saver.get_pending("t", "", third.id) == []
    assert saver.stats().pending_writes == 0


def test_save_many_stores_a_checkpoint_and_its_child_as_saves_would(saver: Any) -> None:
    rec = leased(saver, "t")
    rec.step({"log": [b"root"]}, parent=None)
    first = make_checkpoint("t", parent_id=rec.last, step=1, writes=[write("n", {"log": [b"a"]})])
    second = make_checkpoint("t", parent_id=first.id, step=2, writes=[write("n", {"log": [b"b"]})])
    values_first = apply(rec.values[rec.last], first.writes)
    values_second = apply(values_first, second.writes)
    saver.save_many(
        [
            (first, values_first, [PendingWrite("in", "input", {"x": 1})]),
            (second, values_second, [answer("y", "later")]),
        ],
        lease=rec.lease,
    )
    assert ids(saver.list_checkpoints("t", ""))[:2] == [second.id, first.id]
    assert saver.get_pending("t", "", first.id) == []  # its child is stored: applied
    assert saver.get_pending("t", "", second.id) == [answer("y", "later")]
    assert fold(saver.get_chain("t", "", second.id)) == values_second
    # The next put follows the last of them.
    rec.records[second.id], rec.values[second.id], rec.last_id = second, values_second, second.id
    third = rec.step({"log": [b"c"]})
    assert saver.get_pending("t", "", second.id) == []
    assert_reads_back(rec, third.id)


def test_save_many_after_a_parent_another_saver_deleted_still_reads_back(saver: Any) -> None:
    other = reopen(saver)
    try:
        rec = leased(saver, "t")
        rec.step({"log": [os.urandom(500)]}, parent=None)
        other.delete_thread("t")
        assert rec.lease is not None
        assert saver.acquire(rec.lease) is None  # the delete let go of it: the run takes it again
        first = make_checkpoint("t", parent_id=rec.last, step=1, writes=[write("n", {"log": [b"a"]})])
        second = make_checkpoint("t", parent_id=first.id, step=2, writes=[write("n", {"log": [b"b"]})])
        values = apply(apply(rec.values[rec.last], first.writes), second.writes)
        saver.save_many([(first, values, []), (second, values, [])], lease=rec.lease)
        chain = saver.get_chain("t", "", second.id)
        assert_whole(chain, second.id)
        assert [c.id for c in chain] == [first.id, second.id]
    finally:
        getattr(other, "close", lambda: None)()


def test_a_save_under_a_lease_another_owner_took_over_stores_nothing(saver: Any) -> None:
    from cairn.checkpoint.base import Lease
    from cairn.errors import ThreadBusyError

    rec = leased(saver, "t", owner="stalled")
    rec.step({"log": [b"a"]}, parent=None)
    rec.run(2)
    stored = ids(saver.list_checkpoints("t", ""))
    assert saver.acquire(Lease("t", "next", 30.0), replacing="stalled") is None
    with pytest.raises(ThreadBusyError, match="lost thread 't'"):
        rec.step({"log": [b"too late"]})
    with pytest.raises(ThreadBusyError):
        rec.step({"log": [b"too late"]}, pending=[answer("x", "boom")])
    assert ids(saver.list_checkpoints("t", "")) == stored
    assert saver.get_pending("t", "", rec.last) == []


def test_an_expired_lease_can_be_taken_over_and_a_dead_owner_replaced(saver: Any) -> None:
    import time as clock

    from cairn.checkpoint.base import Lease

    assert saver.acquire(Lease("t", "short", 0.05)) is None
    assert saver.acquire(Lease("t", "next", 30.0)) == "short"
    clock.sleep(0.2)
    assert saver.acquire(Lease("t", "next", 30.0)) is None  # expired: taken over
    assert saver.acquire(Lease("t", "third", 30.0), replacing="next") is None  # known dead
    assert saver.acquire(Lease("t", "next", 30.0)) == "third"



def test_a_stored_child_keeps_its_parents_errors_and_interrupts(saver: Any) -> None:
    rec = Recorder(saver, "t")
    root = rec.run(1)[-1]
    kept = [error("a", "boom"), PendingWrite("b", "interrupt", [["id", "q"]])]
    saver.save_pending("t", "", root.id, [*kept, answer("b", "yes")])
    rec.step({"log": [b"next"]}, parent=root.id)
    assert by_task_and_kind(saver.get_pending("t", "", root.id)) == kept
    assert saver.get_pending_many("t", "", [root.id, rec.last]) == {root.id: kept}
