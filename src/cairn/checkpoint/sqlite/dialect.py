"""SQLite's SQL: "?" placeholders, its clock from ``julianday``, the
checkpoints in a ``WITHOUT ROWID`` table, and a step's usual put as one INSERT."""

from __future__ import annotations

from typing import Mapping, Sequence

from cairn.checkpoint.base import Lease
from cairn.checkpoint.sql.dialect import Dialect, Statement
from cairn.checkpoint.sql.layout import Kind, Table
from cairn.checkpoint.sql.tables import CHECKPOINTS, TAKE_LEASE, Link, leased_insert


class SqliteDialect(Dialect):
    name = "sqlite"
    placeholder = "?"
    now = "((julianday('now') - 2440587.5) * 86400.0)"
    empty_blob = "X''"
    types: Mapping[Kind, str] = {
        Kind.KEY: "TEXT",
        Kind.TEXT: "TEXT",
        Kind.INT: "INTEGER",
        Kind.BIGINT: "INTEGER",
        Kind.REAL: "REAL",
        Kind.BLOB: "BLOB",
    }

    def options(self, table: Table) -> str:
        # The key is stored once, and rows are small next to the 4 KiB page.
        return " WITHOUT ROWID" if table is CHECKPOINTS else ""

    def put(self, links: Sequence[Link], lease: Lease) -> Statement | None:
        # A step's usual put: one row, no pending writes to clear or add.
        # Writers take turns on the file, so checking the lease inside the
        # INSERT fences as surely as renewing it would (the heartbeat renews
        # it); a step's commit then writes only its own pages.
        if len(links) != 1 or links[0].clear or links[0].pending:
            return None
        return leased_insert(links[0].row, lease)

    def take_lease(self, lease: Lease, replacing: str) -> Statement:
        return Statement(
            self.sql(TAKE_LEASE) + " RETURNING owner",
            (lease.thread_id, lease.owner, lease.ttl, replacing),
        )


SQLITE = SqliteDialect()
