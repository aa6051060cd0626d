"""``AsyncSqliteSaver``: the SQLite saver for ``async with`` code.

    async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

SQLite work on a local file takes microseconds to a few milliseconds, so its
calls run on the event loop's thread, as the sync saver's do.
"""

from __future__ import annotations

from types import TracebackType

from cairn.checkpoint.sqlite import SqliteSaver

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(SqliteSaver):
    """A SqliteSaver that is also an async context manager."""

    async def __aenter__(self) -> "AsyncSqliteSaver":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
