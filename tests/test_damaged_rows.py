"""Stored rows that loop or lie, on every saver: reads end with a clear
``StorageError`` naming the thread and the row, never hang, and never hand a
raw driver or decoding error to the user. The rows are edited behind the
saver's back (``tests/damage.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import StorageError
from tests.damage import edit_checkpoint
from tests.support import cid, history, linear, thread


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
        assert_names_the_row(error, root)
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


def test_a_child_made_after_a_parent_from_a_clock_ahead_still_sorts_after_it() -> None:
    """A parent written by a machine whose clock is an hour ahead: its child's
    id still sorts after it, so the chain's links all go to older ids."""
    now = new_checkpoint_id()
    stamp = int(now[:8] + now[9:13] + now[15:18], 16) + (3_600_000 << 12)
    h = f"{stamp:015x}"
    ahead = f"{h[:8]}-{h[8:12]}-7{h[12:15]}{now[18:]}"
    assert ahead > now
    assert new_checkpoint_id(ahead) > ahead
    assert new_checkpoint_id() > ahead  # and ids made after it in this process too
