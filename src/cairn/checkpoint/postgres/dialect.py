"""PostgreSQL's SQL: "%s" placeholders, ``clock_timestamp()`` for the clock,
text keys in the "C" collation (ids compare by their bytes, as in SQLite),
and every put under a lease as one statement."""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import Lease
from cairn.checkpoint.sql.dialect import Dialect, Statement
from cairn.checkpoint.sql.layout import Kind, Role
from cairn.checkpoint.sql.tables import (
    CHECKPOINTS,
    COLUMNS,
    NOT_KEPT,
    PARENT_STORED,
    PENDING,
    RENEW_LEASE,
    TAKE_LEASE,
    Link,
    checkpoint_values,
)


class PostgresDialect(Dialect):
    name = "postgres"
    placeholder = "%s"
    now = "extract(epoch from clock_timestamp())"
    empty_blob = "'\\x'::bytea"
    types: Mapping[Kind, str] = {
        Kind.KEY: 'TEXT COLLATE "C"',
        Kind.TEXT: "TEXT",
        Kind.INT: "INTEGER",
        Kind.BIGINT: "BIGINT",
        Kind.REAL: "DOUBLE PRECISION",
        Kind.BLOB: "BYTEA",
    }

    def put(self, links: Sequence[Link], lease: Lease) -> Statement:
        # One statement, one round trip, one transaction: renew the lease,
        # store the rows if it held and the first row's parent is there (each
        # further row after the one before it), clear the first parent's
        # pending writes, add the last row's.
        first = links[0].row
        params: list[Any] = [lease.ttl, lease.thread_id, lease.owner]
        for index, link in enumerate(links):
            params += checkpoint_values(link.row)
            if index == 0 and first.parent_id is not None:
                params += (first.thread_id, first.ns, first.parent_id)
        if links[0].clear:
            params += (first.thread_id, first.ns, first.parent_id)
        for pending in links[-1].pending:
            params += pending
        sql = _put_sql(
            len(links), first.parent_id is not None, links[0].clear, len(links[-1].pending)
        )
        return Statement(sql, params)

    def take_lease(self, lease: Lease, replacing: str) -> Statement:
        # The owner after the statement: this lease's if taken, else the holder's.
        return Statement(
            f"WITH taken AS ({self.sql(TAKE_LEASE)} RETURNING owner) "
            "SELECT owner FROM taken UNION ALL SELECT owner FROM cairn_leases "
            "WHERE thread_id = %s AND NOT EXISTS (SELECT 1 FROM taken)",
            (lease.thread_id, lease.owner, lease.ttl, replacing, lease.thread_id),
        )


POSTGRES = PostgresDialect()


@functools.lru_cache(maxsize=64)
def _put_sql(count: int, linked: bool, clear: bool, pending: int) -> str:
    """The statement of ``PostgresDialect.put``: ``count`` rows, the first
    after a stored parent when ``linked``; it returns (the lease held, the
    rows were stored)."""
    parts = [f"WITH lease AS ({RENEW_LEASE} RETURNING 1)"]
    for index in range(count):
        if index == 0:
            condition = "EXISTS (SELECT 1 FROM lease)" + (f" AND {PARENT_STORED}" if linked else "")
        else:
            condition = f"EXISTS (SELECT 1 FROM saved{index - 1})"
        parts.append(
            f", saved{index} AS (INSERT INTO {CHECKPOINTS.name} ({COLUMNS}) "
            f"SELECT {CHECKPOINTS.marks} WHERE {condition} "
            f"ON CONFLICT ({', '.join(CHECKPOINTS.key)}) DO NOTHING RETURNING 1)"
        )
    done = f"EXISTS (SELECT 1 FROM saved{count - 1})"
    if clear:
        parts.append(
            f", cleared AS (DELETE FROM {PENDING.name} WHERE thread_id = ? AND ns = ? "
            f"AND checkpoint_id = ? AND {NOT_KEPT} AND {done})"
        )
    if pending:
        marks = ", ".join(
            f"?::{POSTGRES.types[c.kind]}" if c.role is Role.BLOB else "?" for c in PENDING.columns
        )
        rows = ", ".join([f"({marks})"] * pending)
        parts.append(
            f", added AS (INSERT INTO {PENDING.name} ({', '.join(PENDING.names)}) "
            f"SELECT * FROM (VALUES {rows}) AS v WHERE {done} "
            f"ON CONFLICT ({', '.join(PENDING.key)}) DO UPDATE SET value = excluded.value)"
        )
    parts.append(f" SELECT EXISTS (SELECT 1 FROM lease), {done}")
    return POSTGRES.sql("".join(parts))
