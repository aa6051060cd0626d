"""Rows edited behind a saver's back, as damage or an attacker would leave them:
the helpers of the tests of damaged stores (``test_damaged_rows``).

SQL savers' rows are changed with the database's own driver (sqlite3 on the
file, psycopg on the test's schema); the in-memory saver's through its rows.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from tests.conftest import SAVER_URLS


def run_sql(saver: Any, sql: str, params: tuple[Any, ...] = ()) -> int:
    """Run ``sql`` ("?" placeholders) on the database of a SQL saver; the rows changed."""
    if isinstance(saver, SqliteSaver):
        conn = sqlite3.connect(saver._path)  # type: ignore[arg-type]
        try:
            changed = conn.execute(sql, params).rowcount
            conn.commit()
        finally:
            conn.close()
        return int(changed)
    import psycopg

    with psycopg.connect(SAVER_URLS[id(saver)], autocommit=True) as conn:
        return int(conn.execute(sql.replace("?", "%s"), params).rowcount)


def edit_checkpoint(saver: Any, thread_id: str, checkpoint_id: str, **columns: Any) -> None:
    """Set columns of one stored checkpoint row (``snapshot=None`` drops its snapshot)."""
    if isinstance(saver, InMemorySaver):
        row = saver._threads[thread_id][""].rows[checkpoint_id]
        for name, value in columns.items():
            setattr(row, name, value)
        return
    assignments = ", ".join(f"{name} = ?" for name in columns)
    changed = run_sql(
        saver,
        f"UPDATE cairn_checkpoints SET {assignments} WHERE thread_id = ? AND ns = '' AND id = ?",
        (*columns.values(), thread_id, checkpoint_id),
    )
    assert changed == 1


def add_pending(saver: Any, thread_id: str, checkpoint_id: str, kind: str, blob: bytes) -> None:
    """Store a pending write of task "task-1" against a checkpoint, as raw bytes."""
    if isinstance(saver, InMemorySaver):
        space = saver._threads[thread_id][""]
        space.pending.setdefault(checkpoint_id, {})[("task-1", kind)] = blob
        return
    run_sql(
        saver,
        "INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
        "VALUES (?, '', ?, 'task-1', ?, ?)",
        (thread_id, checkpoint_id, kind, blob),
    )


def rename_checkpoint(saver: Any, thread_id: str, old: str, new: str) -> None:
    """Give a stored checkpoint another id (its children's links follow)."""
    if isinstance(saver, InMemorySaver):
        space = saver._threads[thread_id][""]
        row = space.rows.pop(old)
        row.id = new
        space.rows[new] = row
        space.order = sorted(space.rows)
        for child in space.rows.values():
            if child.parent_id == old:
                child.parent_id = new
        return
    run_sql(saver, "UPDATE cairn_checkpoints SET id = ? WHERE thread_id = ? AND id = ?", (new, thread_id, old))
    run_sql(
        saver,
        "UPDATE cairn_checkpoints SET parent_id = ? WHERE thread_id = ? AND parent_id = ?",
        (new, thread_id, old),
    )
