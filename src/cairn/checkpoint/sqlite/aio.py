"""``AsyncSqliteSaver``: the SQLite saver for ``async with`` code.

    async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

The async API (``ainvoke``, ``aget_state``...) runs the saver's calls on a
thread of its own, one at a time (one SQLite connection), so the event loop
goes on while a write waits for another process's lock.
"""

from __future__ import annotations

from cairn.checkpoint.sqlite import SqliteSaver

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(SqliteSaver):
    """A SqliteSaver for ``async with`` code (every saver is an async context manager)."""
