"""``AsyncPostgresStore``: the PostgreSQL store for async code.

    async with AsyncPostgresStore.from_conn_string(url) as store:
        await store.aput(("users", "u1"), "prefs", {"food": "pizza"})

Making one does no I/O: its pool opens and its tables are checked at
``async with`` (on an I/O thread) or at first use. Its async calls run the
statements on its own I/O threads, as many at once as the pool has
connections, so the event loop never waits for the server. It stores
exactly what ``PostgresStore`` stores.
"""

from __future__ import annotations

from typing import Any

from cairn.store.postgres import PostgresStore

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(PostgresStore):
    """A PostgresStore that opens at ``async with`` or first use."""

    lazy = True

    def setup(self) -> Any:  # type: ignore[override]
        """``await store.setup()`` (LangGraph's spelling): open the store and
        create or check its tables, on an I/O thread. Optional: ``async with``
        or the first call does it."""
        return self.asetup()
