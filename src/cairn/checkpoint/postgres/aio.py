"""``AsyncPostgresSaver``: the PostgreSQL saver for ``async`` code.

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()              # optional: the saver sets up when made
        graph = builder.compile(checkpointer=saver)
        await graph.ainvoke(...)

It stores exactly what ``PostgresSaver`` stores, through the same pool; the
two can share a database. A step's storage calls take a few hundred
microseconds on a local network, and run on the event loop's thread.
"""

from __future__ import annotations

from typing import Any, Generator

from cairn.checkpoint.postgres import PostgresSaver

__all__ = ["AsyncPostgresSaver"]


class _Done:
    """An awaitable of work already done, so ``await saver.setup()`` and
    ``saver.setup()`` both work."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


class AsyncPostgresSaver(PostgresSaver):
    """A PostgresSaver whose ``setup()`` can be awaited (every saver is an async
    context manager)."""

    def setup(self) -> _Done:  # type: ignore[override]
        """Create or migrate the tables (see ``PostgresSaver.setup``); awaitable."""
        super().setup()
        return _Done()
