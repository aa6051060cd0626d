"""``AsyncSqliteStore``: the SQLite store for async code.

    async with AsyncSqliteStore.from_conn_string("memory.db") as store:
        await store.aput(("users", "u1"), "prefs", {"food": "pizza"})

Making one does no I/O: the file opens at ``async with`` (on an I/O thread)
or at first use. It stores exactly what ``SqliteStore`` stores.
"""

from __future__ import annotations

from typing import Any

from cairn.store.sqlite import SqliteStore

__all__ = ["AsyncSqliteStore"]


class AsyncSqliteStore(SqliteStore):
    """A SqliteStore that opens its file at ``async with`` or first use."""

    lazy = True

    def setup(self) -> Any:  # type: ignore[override]
        """``await store.setup()`` (LangGraph's spelling): open the store and
        create or check its tables, on an I/O thread. Optional: ``async with``
        or the first call does it."""
        return self.asetup()
