"""Under encryption a checkpoint's blobs are bound to the row's structure
(parent id, step, source, whether a snapshot is stored) as well as to its
place: a row edited in the database is refused, naming the thread and the
checkpoint. A row that a state is read from and that was deleted is found
missing, encrypted or not. Rows sealed before the structure was bound
(first byte 0x10) are still read. On real SQLite files and the real
PostgreSQL server; the tests edit the rows with sqlite3 and psycopg."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cairn.checkpoint import codec
from cairn.checkpoint.serde import EncryptedSerializer, Serializer
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import StorageError
from tests.support import history, linear, steps, thread

BIG = "x" * 300
"""An input large enough that the steps after it store no snapshot of their own."""
START_LOG = {"log": [BIG]}
DONE = {"log": [BIG, "a", "b", "c", "d"]}


class Store:
    """A database of one backend: savers on it, and raw SQL ("?" placeholders)
    run straight on it, as someone with access to the database would."""

    def __init__(self, open_saver: Callable[[Any], Any], run: Callable[[str, tuple[Any, ...]], list[Any]]):
        self.open = open_saver
        self.sql = run


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "sealed.db"

        def run_sqlite(statement: str, args: tuple[Any, ...] = ()) -> list[Any]:
            conn = sqlite3.connect(path)
            try:
                with conn:
                    return conn.execute(statement, args).fetchall()
            finally:
                conn.close()

        yield Store(lambda serde: SqliteSaver(path, serde=serde), run_sqlite)
        return
    import psycopg

    from cairn.checkpoint.postgres import PostgresSaver
    from tests.pg import fresh_schema

    with fresh_schema() as url:

        def run_postgres(statement: str, args: tuple[Any, ...] = ()) -> list[Any]:
            with psycopg.connect(url, autocommit=True) as conn:
                cur = conn.execute(statement.replace("?", "%s"), args)
                return cur.fetchall() if cur.description else []

        yield Store(lambda serde: PostgresSaver(url, serde=serde), run_postgres)


@pytest.fixture
def serde() -> EncryptedSerializer:
    return EncryptedSerializer.from_key(EncryptedSerializer.generate_key())


def written(store: Store, serde: Any) -> dict[int, str]:
    """One run of a -> b -> c -> d on thread "t"; the checkpoint id of each step."""
    with store.open(serde) as saver:
        assert linear(saver, "abcd").invoke(START_LOG, thread("t")) == DONE
    rows = store.sql("SELECT step, id, snapshot IS NOT NULL FROM cairn_checkpoints WHERE thread_id = 't'", ())
    # The steps read here are the ones the tests edit: 1 to 4 hold no snapshot.
    assert sorted((step, bool(has)) for step, _, has in rows) == [
        (-1, True), (0, True), (1, False), (2, False), (3, False), (4, False)
    ]
    return {step: cid for step, cid, _ in rows}


def refused(store: Store, serde: Any, checkpoint_id: str, reason: str) -> None:
    """Reading the thread's state, its history and its list entry each fail
    naming the thread and the checkpoint."""
    with store.open(serde) as saver:
        graph = linear(saver, "abcd")
        for read in (lambda: graph.get_state(thread("t")), lambda: history(graph, thread("t"))):
            with pytest.raises(StorageError, match=reason) as excinfo:
                read()
            assert f"checkpoint {checkpoint_id!r} of thread 't'" in str(excinfo.value)


# --- edited columns ------------------------------------------------------------------


def test_a_re_pointed_parent_is_refused(store: Store, serde: Any) -> None:
    ids = written(store, serde)
    # The newest checkpoint now follows step 2: c's write (step 3) would be dropped.
    store.sql("UPDATE cairn_checkpoints SET parent_id = ? WHERE id = ?", (ids[2], ids[4]))
    refused(store, serde, ids[4], "integrity check")


@pytest.mark.parametrize(
    "edit", ["step = step + 1", "source = 'update'"], ids=["step", "source"]
)
def test_an_edited_step_or_source_is_refused(store: Store, serde: Any, edit: str) -> None:
    ids = written(store, serde)
    store.sql(f"UPDATE cairn_checkpoints SET {edit} WHERE id = ?", (ids[4],))
    refused(store, serde, ids[4], "integrity check")
    with store.open(serde) as saver:
        with pytest.raises(StorageError, match=f"checkpoint {ids[4]!r} of thread 't'"):
            saver.list_threads()


def test_a_removed_snapshot_is_refused(store: Store, serde: Any) -> None:
    ids = written(store, serde)
    # Without step 0's snapshot the state would be folded from the root.
    store.sql("UPDATE cairn_checkpoints SET snapshot = NULL WHERE id = ?", (ids[0],))
    refused(store, serde, ids[0], "snapshot removed")


# --- deleted rows ----------------------------------------------------------------------


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
def test_a_deleted_row_that_a_state_is_read_from_is_found_missing(
    store: Store, serde: Any, encrypted: bool
) -> None:
    used = serde if encrypted else Serializer()
    ids = written(store, used)
    store.sql("DELETE FROM cairn_checkpoints WHERE id = ?", (ids[2],))
    refused(store, used, ids[3], f"its parent {ids[2]!r} is not stored")


def test_pruned_rows_are_not_missing(store: Store, serde: Any) -> None:
    written(store, serde)
    with store.open(serde) as saver:
        # Steps 4 and 3 are read from step 0's snapshot on: only the root goes.
        assert saver.prune(keep_last=2).checkpoints_deleted == 1
        graph = linear(saver, "abcd")
        assert graph.get_state(thread("t")).values == DONE
        assert steps(history(graph, thread("t"))) == [4, 3, 2, 1, 0]


# --- rows sealed before the structure was bound -------------------------------------------


def as_sealed_before(serde: Any, blob: bytes, sealed_with: bytes, place: bytes) -> bytes:
    """``blob`` as cairn sealed it before binding the structure: with
    associated data naming its place only, first byte 0x10."""
    resealed = serde.seal(serde.open(blob, sealed_with), place)
    return b"\x10" + resealed[1:]


def test_rows_sealed_before_the_structure_was_bound_are_still_read(store: Store, serde: Any) -> None:
    ids = written(store, serde)
    with store.open(serde) as saver:
        graph = linear(saver, "abcd")
        before = [(s.values, s.metadata, s.next) for s in history(graph, thread("t"))]
    rows = store.sql(
        "SELECT ns, id, parent_id, step, source, metadata, writes, plan, snapshot "
        "FROM cairn_checkpoints WHERE thread_id = 't'",
        (),
    )
    for ns, checkpoint_id, parent_id, step, source, *blobs in rows:
        structure = ("t", ns, checkpoint_id, parent_id, step, source, blobs[3] is not None)
        old = [
            as_sealed_before(
                serde,
                bytes(blob),
                codec.row_aad(structure, field),
                codec.where("t", ns, checkpoint_id, field),
            )
            if blob is not None
            else None
            for field, blob in zip(("metadata", "writes", "plan", "snapshot"), blobs)
        ]
        store.sql(
            "UPDATE cairn_checkpoints SET metadata = ?, writes = ?, plan = ?, snapshot = ? WHERE id = ?",
            (*old, checkpoint_id),
        )
    assert {bytes(blob)[:1] for (blob,) in store.sql("SELECT writes FROM cairn_checkpoints", ())} == {
        b"\x10"
    }
    with store.open(serde) as saver:
        graph = linear(saver, "abcd")
        assert [(s.values, s.metadata, s.next) for s in history(graph, thread("t"))] == before
        assert [t.thread_id for t in saver.list_threads()] == ["t"]
        saver.copy_thread("t", "copy")  # the copy's rows are sealed anew, bound to their structure
        assert [(s.values, s.next) for s in history(graph, thread("copy"))] == [b[::2] for b in before]
        # The thread runs on; its new rows are bound to their structure.
        graph.invoke({"log": ["more"]}, thread("t"))
        assert graph.get_state(thread("t")).values["log"][-5:] == ["more", "a", "b", "c", "d"]
    copied = store.sql("SELECT writes FROM cairn_checkpoints WHERE thread_id = 'copy'", ())
    assert len(copied) == 6 and {bytes(blob)[:1] for (blob,) in copied} == {b"\x11"}
    newer = store.sql("SELECT writes FROM cairn_checkpoints WHERE thread_id = 't' AND id > ?", (ids[4],))
    assert newer and {bytes(blob)[:1] for (blob,) in newer} == {b"\x11"}
