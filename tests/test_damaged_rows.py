"""Stored rows that loop or lie, on every saver: reads end with a clear
``StorageError`` naming the thread and the row, never hang, and never hand a
raw driver or decoding error to the user. The rows are edited behind the
saver's back (``tests/damage.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli import cli
from cairn.errors import StorageError
from tests.conftest import SAVER_URLS
from tests.damage import add_pending, edit_checkpoint, rename_checkpoint, run_sql
from tests.pg import fresh_schema
from tests.support import at, cid, history, linear, thread


def three_steps(saver: Any) -> list[str]:
    """Threads t1 and t2 of a three-node run each; t1's checkpoint ids, newest first."""
    graph = linear(saver)
    graph.invoke({"log": []}, thread("t1"))
    graph.invoke({"log": []}, thread("t2"))
    return [cid(s.config) for s in history(graph, thread("t1"))]


def assert_names_the_row(error: pytest.ExceptionInfo[StorageError], checkpoint_id: str) -> None:
    message = str(error.value)
    assert "'t1'" in message and checkpoint_id in message
    assert "delete_thread('t1')" in message


def assert_t2_reads(saver: Any) -> None:
    graph = linear(saver)
    assert graph.get_state(thread("t2")).values == {"log": ["a", "b", "c"]}
    assert len(history(graph, thread("t2"))) == 5


# --- parent links that loop -------------------------------------------------------------


def test_a_parent_link_looping_back_to_the_head_is_refused_not_followed_forever(saver: Any) -> None:
    ids = three_steps(saver)
    head, root = ids[0], ids[-1]
    for checkpoint_id in ids:  # no snapshot ends a walk up the links
        edit_checkpoint(saver, "t1", checkpoint_id, snapshot=None)
    edit_checkpoint(saver, "t1", root, parent_id=head)
    graph = linear(saver)  # no state of t1 kept in memory
    for read in (
        lambda: graph.get_state(thread("t1")),
        lambda: history(graph, thread("t1")),
        lambda: graph.get_state({"configurable": {"thread_id": "t1", "checkpoint_id": ids[2]}}),
        lambda: graph.invoke(None, thread("t1")),
    ):
        with pytest.raises(StorageError, match="loop") as error:
            read()
        # The row whose link closes the loop, seen from where the read starts.
        assert any(checkpoint_id in str(error.value) for checkpoint_id in ids)
        assert_names_the_row(error, "")
    assert_t2_reads(saver)


def test_a_checkpoint_that_is_its_own_parent_is_refused(saver: Any) -> None:
    ids = three_steps(saver)
    edit_checkpoint(saver, "t1", ids[0], snapshot=None, parent_id=ids[0])
    graph = linear(saver)
    with pytest.raises(StorageError, match="loop") as error:
        graph.get_state(thread("t1"))
    assert_names_the_row(error, ids[0])
    with pytest.raises(StorageError, match="loop") as error:
        history(graph, thread("t1"))
    assert_names_the_row(error, ids[0])
    assert_t2_reads(saver)


def test_a_parent_newer_than_its_child_that_does_not_loop_still_reads(saver: Any) -> None:
    """Rows written by an older cairn on machines whose clocks differed: a
    parent whose id sorts after its child's. The chain is followed in link
    order, checked for loops, and the state is right."""
    ids = three_steps(saver)  # head (c), b, a, start, input
    for checkpoint_id in ids[:-1]:
        edit_checkpoint(saver, "t1", checkpoint_id, snapshot=None)
    # The checkpoint after node "a" gets an id between those of "b" and "c".
    later = ids[1][:-1] + chr(ord(ids[1][-1]) + 1) if ids[1][-1] != "f" else ids[1] + "0"
    assert ids[1] < later < ids[0]
    rename_checkpoint(saver, "t1", ids[2], later)
    graph = linear(saver)
    assert graph.get_state(thread("t1")).values == {"log": ["a", "b", "c"]}
    assert [s.values["log"] for s in history(graph, thread("t1"))] == [
        ["a", "b", "c"],
        ["a"],
        ["a", "b"],
        [],
        [],
    ]
    assert graph.get_state(at("t1", ids[1])).values == {"log": ["a", "b"]}


def test_a_child_made_after_a_parent_from_a_clock_ahead_still_sorts_after_it() -> None:
    """A parent written by a machine whose clock is an hour ahead: its child's
    id still sorts after it, so the chain's links all go to older ids."""
    now = new_checkpoint_id()
    stamp = int(now[:8] + now[9:13] + now[15:18], 16) + (3_600_000 << 12)
    h = f"{stamp:015x}"
    ahead = f"{h[:8]}-{h[8:12]}-7{h[12:15]}{now[18:]}"
    assert ahead > now
    assert new_checkpoint_id(ahead) > ahead
    assert new_checkpoint_id() < ahead  # the ids of other threads keep this machine's time


# --- rows that lie: raw errors and blobs of the wrong shape ---------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def sql_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh SQL saver: a real SQLite file, or a schema of the real Postgres server."""
    if request.param == "sqlite":
        with SqliteSaver(tmp_path / "checkpoints.db") as saver:
            yield saver
        return
    from cairn.checkpoint.postgres import PostgresSaver

    with fresh_schema() as url, PostgresSaver(url, pool_size=2) as saver:
        SAVER_URLS[id(saver)] = url
        yield saver
        del SAVER_URLS[id(saver)]


def every_read(saver: Any) -> dict[str, Callable[[], Any]]:
    """Each public read of thread t1 (and a run on it), by name."""
    graph = linear(saver)  # no state of t1 kept in memory
    return {
        "get_state": lambda: graph.get_state(thread("t1")),
        "get_state_history": lambda: history(graph, thread("t1")),
        "invoke": lambda: graph.invoke({"log": []}, thread("t1")),
        "resume": lambda: graph.invoke(None, thread("t1")),
    }


def assert_every_read_names(saver: Any, checkpoint_id: str | None) -> None:
    """Each read of t1 is a StorageError naming the thread (and the row, when given)."""
    for name, read in every_read(saver).items():
        with pytest.raises(StorageError) as error:
            read()
        assert "'t1'" in str(error.value), name
        assert checkpoint_id is None or checkpoint_id in str(error.value), name
    assert_t2_reads(saver)


WRONG_SHAPES = {
    "snapshot": b"\x01\x91\x01",  # a list, not a map of state keys
    "plan": b"\x01\xc0",  # nil
    "writes": b"\x01\x81\xa1a\x01",  # a map, not a list of writes
}


@pytest.mark.parametrize("column", sorted(WRONG_SHAPES))
def test_a_blob_of_the_wrong_shape_is_refused_naming_the_row(saver: Any, column: str) -> None:
    ids = three_steps(saver)
    edit_checkpoint(saver, "t1", ids[0], **{column: WRONG_SHAPES[column]})
    assert_every_read_names(saver, ids[0])


def test_a_write_whose_update_is_not_a_map_is_refused(saver: Any) -> None:
    ids = three_steps(saver)
    # [[task id, node, update, routes]] with the update a list.
    edit_checkpoint(saver, "t1", ids[0], writes=b"\x01\x91\x94\xa1t\xa1c\x91\xa1x\x90")
    assert_every_read_names(saver, ids[0])


@pytest.mark.parametrize(
    "kind, blob",
    [
        ("interrupt", b"\x01\xc0"),  # nil, not a list of (id, value) pairs
        ("interrupt", b"\x01\x91\xc0"),  # [nil]
        ("error", b"\x01\x05"),  # 5, not the error's text
        ("result", b"\x01\x94\xa1t\xa1b\x05\x90"),  # an update that is not a map
    ],
    ids=["interrupt-nil", "interrupt-pair-nil", "error-int", "result-update-int"],
)
def test_a_pending_write_of_the_wrong_shape_is_refused_naming_the_checkpoint(
    saver: Any, kind: str, blob: bytes
) -> None:
    ids = three_steps(saver)
    add_pending(saver, "t1", ids[0], kind, blob)
    graph = linear(saver)
    for read in (lambda: graph.get_state(thread("t1")), lambda: history(graph, thread("t1"))):
        with pytest.raises(StorageError) as error:
            read()
        assert "'t1'" in str(error.value) and "pending" in str(error.value)
    assert_t2_reads(saver)


def test_a_checkpoint_id_that_is_not_a_uuid_is_refused_by_every_read(sql_saver: Any) -> None:
    three_steps(sql_saver)
    ids = [cid(s.config) for s in history(linear(sql_saver), thread("t1"))]
    bad = "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"  # sorts after every real id: the head
    edit_checkpoint(sql_saver, "t1", ids[0], id=bad)
    assert_every_read_names(sql_saver, bad)
    with pytest.raises(StorageError, match="'t1'"):
        sql_saver.list_threads()


# --- a damaged SQLite file ------------------------------------------------------------


def sqlite_file(path: Path) -> list[str]:
    with SqliteSaver(path) as saver:
        return three_steps(saver)


def test_text_that_is_not_utf8_is_a_storage_error_naming_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    ids = sqlite_file(path)
    with SqliteSaver(path) as saver:
        run_sql(saver, "UPDATE cairn_checkpoints SET source = CAST(x'fffe41' AS TEXT) WHERE id = ?", (ids[0],))
        assert_every_read_names(saver, None)  # SQLite fails the fetch: the row is unknown
        with pytest.raises(StorageError, match="damaged"):
            saver.list_threads()


@pytest.mark.parametrize("column", ["step", "snapshot_bytes"])
def test_a_number_column_holding_text_is_a_storage_error(tmp_path: Path, column: str) -> None:
    """SQLite keeps what it is given: text in an INTEGER column."""
    path = tmp_path / "damaged.db"
    ids = sqlite_file(path)
    with SqliteSaver(path) as saver:
        edit_checkpoint(saver, "t1", ids[0], **{column: "abc"})
        graph = linear(saver)
        with pytest.raises(StorageError) as error:
            graph.invoke({"log": []}, thread("t1"))
        assert "'t1'" in str(error.value) and ids[0] in str(error.value)
        if column == "step":
            assert_every_read_names(saver, ids[0])
            with pytest.raises(StorageError, match="'t1'"):
                saver.list_threads()


def damage_pages(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` (which holds a small table's rows) with garbage."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * size
    data[start + 8 : start + size] = bytes([0xA5]) * (size - 8)  # past the page header
    path.write_bytes(bytes(data))


def test_a_damaged_page_is_a_storage_error_from_every_read_and_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    sqlite_file(path)
    damage_pages(path, "cairn_checkpoints")
    with SqliteSaver(path) as saver:
        reads = every_read(saver)
        reads["list_threads"] = saver.list_threads
        reads["stats"] = saver.stats
        for name, read in reads.items():
            with pytest.raises(StorageError) as error:
                read()
            message = str(error.value)
            assert "damaged" in message and str(path) in message and "backup" in message, name
    shown = CliRunner().invoke(cli, ["history", "t1", "--db", str(path)])
    assert shown.exit_code == 1
    assert "damaged" in shown.output and "'t1'" in shown.output
    assert "Traceback" not in shown.output
