"""cairn's tables in PostgreSQL, created and migrated by ``setup``.

The tables live in the first schema of the connection's ``search_path``
(``public`` unless the URL says otherwise, e.g. ``?options=-csearch_path%3Dmine``).
Text keys use the "C" collation, so ids sort by their bytes, as in SQLite.
"""

from __future__ import annotations

from cairn.checkpoint.postgres.dialect import POSTGRES
from cairn.checkpoint.sql import SCHEMA_VERSION, Cursor, upgrade
from cairn.checkpoint.sql.tables import LEASES, TABLES
from cairn.errors import StorageError

# pg_advisory_xact_lock key: setups of several processes run one at a time.
_SETUP_LOCK = 0x6361_6972_6E00_0001

_TABLES = tuple(POSTGRES.create(table) for table in TABLES)

# What turns each older schema version into the next one.
_MIGRATIONS = {1: (POSTGRES.create(LEASES),)}


def setup(cur: Cursor, location: str) -> None:
    """Create the tables, or bring older ones up to ``SCHEMA_VERSION``, inside
    the caller's transaction; refuses a schema from a newer cairn."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
    cur.execute(
        "SELECT to_regclass('cairn_meta') IS NOT NULL, to_regclass('cairn_checkpoints') IS NOT NULL"
    )
    has_meta, has_checkpoints = cur.fetchone()
    if not has_meta:
        if has_checkpoints:
            raise StorageError(
                f"{location} has a table cairn_checkpoints that cairn did not make (no "
                "cairn_meta beside it); rename that table, or point cairn at another "
                "database or schema"
            )
        for statement in _TABLES:
            cur.execute(statement)
        cur.execute(
            "INSERT INTO cairn_meta (key, value) VALUES ('schema_version', %s)",
            (str(SCHEMA_VERSION),),
        )
        return
    cur.execute("SELECT value FROM cairn_meta WHERE key = 'schema_version'")
    found = cur.fetchone()
    version = int(found[0]) if found else 0
    if version < 1:
        raise StorageError(
            f"{location} has a cairn_meta table without a schema version; it was not made by "
            "cairn or was damaged: point cairn at another database or schema"
        )
    upgrade(cur, version, _MIGRATIONS, location)
