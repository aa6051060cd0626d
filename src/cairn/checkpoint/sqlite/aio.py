"""``AsyncSqliteSaver``: the SQLite saver for ``async with`` code.

    async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

SQLite work on a local file takes microseconds to a few milliseconds, so its
calls run on the event loop's thread, as the sync saver's do.
"""

from __future__ import annotations

from cairn.checkpoint.sqlite import SqliteSaver

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(SqliteSaver):
    """A SqliteSaver for ``async with`` code (every saver is an async context manager)."""
