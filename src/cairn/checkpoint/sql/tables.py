"""cairn's tables, declared once, the statements the SQL savers share, and
the little they need of a database cursor.

A checkpoint row's columns are ``CHECKPOINTS``'s, in that order, and they are
the fields of ``codec.Row``, in the same order: a row read with
``CHECKPOINTS.select()`` is a ``codec.Row`` (``checkpoint_row``), and a
``codec.Row``'s values are bound to the statements by name
(``checkpoint_values``). ``tests/test_sql_layout.py`` holds the two to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, Mapping, Protocol, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import Lease
from cairn.checkpoint.sql.layout import Column, Kind, Role, Statement, Table
from cairn.errors import StorageError

SCHEMA_VERSION = 2
"""1: checkpoints and pending writes; 2: leases (one writer per thread)."""

META = Table("cairn_meta", (Column("key", Kind.TEXT, Role.KEY), Column("value", Kind.TEXT)))

# created_at is not stored: checkpoint ids are UUIDv7 and carry their time.
CHECKPOINTS = Table(
    "cairn_checkpoints",
    (
        Column("thread_id", Kind.KEY, Role.KEY),
        Column("ns", Kind.KEY, Role.KEY),
        Column("id", Kind.KEY, Role.KEY),
        Column("parent_id", Kind.KEY, null=True),
        Column("step", Kind.INT),
        Column("source", Kind.TEXT),
        Column("metadata", Kind.BLOB, Role.BLOB),
        Column("writes", Kind.BLOB, Role.BLOB),
        Column("plan", Kind.BLOB, Role.BLOB),
        Column("snapshot", Kind.BLOB, Role.BLOB, null=True),
        Column("snapshot_bytes", Kind.BIGINT),
        Column("log_bytes", Kind.BIGINT),
    ),
)

PENDING = Table(
    "cairn_pending",
    (
        Column("thread_id", Kind.KEY, Role.KEY),
        Column("ns", Kind.KEY, Role.KEY),
        Column("checkpoint_id", Kind.KEY, Role.KEY),
        Column("task_id", Kind.KEY, Role.KEY),
        Column("kind", Kind.TEXT, Role.KEY),
        Column("value", Kind.BLOB, Role.BLOB),
    ),
)

LEASES = Table(
    "cairn_leases",
    (
        Column("thread_id", Kind.KEY, Role.KEY),
        Column("owner", Kind.TEXT),
        Column("expires_at", Kind.REAL),
    ),
)

TABLES = (META, CHECKPOINTS, PENDING, LEASES)
"""Every table, in the order they are created."""

# -- statements ------------------------------------------------------------------

COLUMNS = CHECKPOINTS.select()
"""The columns of a whole checkpoint row, read or written."""
NO_SNAPSHOT = CHECKPOINTS.select({"snapshot": "CASE WHEN snapshot IS NULL THEN NULL ELSE {empty_blob} END"})
"""A checkpoint row without its snapshot (a read that folds no state): b""
where one is stored (the row's blobs are bound to whether it is), NULL where
not; ``{empty_blob}`` is the dialect's (``Dialect.sql``). Not substr(snapshot,
1, 0): SQLite reads the whole blob for it (777 us instead of 11 for 2 MB)."""

INSERT = CHECKPOINTS.insert()
LEASE_HELD = "EXISTS (SELECT 1 FROM cairn_leases WHERE thread_id = ? AND owner = ?)"
PARENT_STORED = f"EXISTS (SELECT 1 FROM cairn_checkpoints WHERE {CHECKPOINTS.where_key()})"
INSERT_LEASED = CHECKPOINTS.insert(LEASE_HELD)
INSERT_LEASED_LINKED = CHECKPOINTS.insert(f"{LEASE_HELD} AND {PARENT_STORED}")
"""A checkpoint stored only while the lease (and the parent, when linked) is:
parameters the row's, then the lease's thread and owner, then the parent's key."""

NOT_KEPT = "kind NOT IN ('error', 'interrupt')"
"""The pending writes a stored child clears: all but records.KEPT's kinds, which past snapshots show."""
CLEAR_PENDING = f"DELETE FROM cairn_pending WHERE thread_id = ? AND ns = ? AND checkpoint_id = ? AND {NOT_KEPT}"
INSERT_PENDING = PENDING.upsert("value")

TAKE_LEASE = (
    "INSERT INTO cairn_leases (thread_id, owner, expires_at) "
    "VALUES (?, ?, {now} + ?) ON CONFLICT (thread_id) DO UPDATE "
    "SET owner = excluded.owner, expires_at = excluded.expires_at "
    "WHERE cairn_leases.owner = excluded.owner OR cairn_leases.owner = ? "
    "OR cairn_leases.expires_at < {now}"
)
"""Take a thread when free, expired, already ours or held by a dead owner
(parameters: thread, owner, ttl, the dead owner replaced); ``{now}``: the
database's clock."""
RENEW_LEASE = "UPDATE cairn_leases SET expires_at = {now} + ? WHERE thread_id = ? AND owner = ?"
RELEASE_LEASE = "DELETE FROM cairn_leases WHERE thread_id = ? AND owner = ?"

# -- rows --------------------------------------------------------------------------

checkpoint_values: Callable[[codec.Row], tuple[Any, ...]] = attrgetter(*CHECKPOINTS.names)
"""A row's values in the order of ``CHECKPOINTS``'s columns, read by name."""


def checkpoint_row(values: Sequence[Any]) -> codec.Row:
    """The row whose columns were read with ``CHECKPOINTS.select(...)``
    (sqlite3 and psycopg hand blobs back as bytes)."""
    return codec.Row(*values)


def pending_values(at: tuple[str, str, str], task_id: str, kind: str, blob: bytes) -> tuple[Any, ...]:
    """A pending write of checkpoint ``at`` (thread, namespace, id), in ``PENDING``'s order."""
    thread_id, ns, checkpoint_id = at
    named = {
        "thread_id": thread_id,
        "ns": ns,
        "checkpoint_id": checkpoint_id,
        "task_id": task_id,
        "kind": kind,
        "value": blob,
    }
    return tuple(named[name] for name in PENDING.names)


def leased_insert(row: codec.Row, lease: Lease) -> Statement:
    """The INSERT of ``row`` that stores it only while ``lease`` holds and its
    parent is stored (a root: while the lease holds); "?" placeholders."""
    if row.parent_id is None:
        return Statement(INSERT_LEASED, (*checkpoint_values(row), lease.thread_id, lease.owner))
    return Statement(
        INSERT_LEASED_LINKED,
        (*checkpoint_values(row), lease.thread_id, lease.owner, row.thread_id, row.ns, row.parent_id),
    )


@dataclass(frozen=True, slots=True)
class Link:
    """A row to store after its parent, with its pending writes (values of
    ``PENDING`` rows), and whether the parent's pending writes are cleared."""

    row: codec.Row
    pending: Sequence[tuple[Any, ...]]
    clear: bool


def upgrade(
    cur: "Cursor", version: int, migrations: Mapping[int, Sequence[str]], location: str
) -> None:
    """Refuse tables of a newer cairn; bring older ones up to SCHEMA_VERSION."""
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{location} holds cairn tables of a newer cairn (schema version {version}; this "
            f"cairn reads up to {SCHEMA_VERSION}): upgrade cairn to use them"
        )
    for older in range(version, SCHEMA_VERSION):
        for statement in migrations[older]:
            cur.execute(statement)
    if version < SCHEMA_VERSION:
        cur.execute(
            f"UPDATE cairn_meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'"
        )


class Cursor(Protocol):
    """The little of a DB-API cursor the shared logic uses."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...
