"""The tables the SQL savers share, and the little they need of a database cursor."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from cairn.checkpoint import codec
from cairn.errors import StorageError

SCHEMA_VERSION = 2
"""1: checkpoints and pending writes; 2: leases (one writer per thread)."""

# created_at is not stored: checkpoint ids are UUIDv7 and carry their time.
COLUMNS = (
    "thread_id, ns, id, parent_id, step, source, metadata, writes, plan, "
    "snapshot, snapshot_bytes, log_bytes"
)
NO_SNAPSHOT = (
    "thread_id, ns, id, parent_id, step, source, metadata, writes, plan, "
    "NULL, snapshot_bytes, log_bytes"
)

INSERT = (
    f"INSERT INTO cairn_checkpoints ({COLUMNS}) VALUES ({', '.join('?' * 12)}) "
    "ON CONFLICT (thread_id, ns, id) DO NOTHING"
)
INSERT_LINKED = (
    f"INSERT INTO cairn_checkpoints ({COLUMNS}) SELECT {', '.join('?' * 12)} "
    "WHERE EXISTS (SELECT 1 FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?) "
    "ON CONFLICT (thread_id, ns, id) DO NOTHING"
)
"""A checkpoint stored only if its parent (the last three parameters) is."""
CLEAR_PENDING = "DELETE FROM cairn_pending WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
INSERT_PENDING = (
    "INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id, ns, checkpoint_id, task_id, kind) "
    "DO UPDATE SET value = excluded.value"
)

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


def params(row: codec.Row) -> tuple[Any, ...]:
    """A row's values in the order of ``COLUMNS``."""
    return (
        row.thread_id, row.ns, row.id, row.parent_id, row.step, row.source,
        row.metadata, row.writes, row.plan, row.snapshot, row.snapshot_bytes, row.log_bytes,
    )


class Cursor(Protocol):
    """The little of a DB-API cursor the shared logic uses."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...
