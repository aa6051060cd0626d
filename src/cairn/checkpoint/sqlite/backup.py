"""A consistent copy of a cairn SQLite file, taken while writers run.

SQLite's online backup API copies the database as of one read transaction:
in WAL mode (cairn's) readers do not block writers, so runs go on while the
copy is made, and the copy holds every checkpoint committed before it began
and none after. The source is opened read-only and checked first: a file
that is not a SQLite database, not cairn's, or written by a newer cairn is
refused and left as it is. The copy is written beside the target under a
temporary name, checked (``PRAGMA integrity_check``) and only then renamed
into place, so a failed backup leaves no half-written target.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cairn.checkpoint.sql.tables import SCHEMA_VERSION
from cairn.errors import ConfigError, StorageError

__all__ = ["BackupResult", "backup"]


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup wrote: the target, its size, and what it holds."""

    target: str
    bytes: int
    threads: int
    checkpoints: int


def _open_source(path: str) -> sqlite3.Connection:
    if not os.path.isfile(path):
        what = "a directory" if os.path.isdir(path) else "missing"
        raise ConfigError(f"cannot back up {path!r}: it is {what}; give the path of a cairn SQLite file")
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StorageError(
            f"cannot back up {path!r}: the file is not a SQLite database ({exc}); it was left as it is"
        ) from exc
    try:
        if "cairn_meta" not in tables:
            raise StorageError(
                f"cannot back up {path!r}: it holds no cairn checkpoints (no cairn_meta table); "
                "it was left as it is"
            )
        found = conn.execute("SELECT value FROM cairn_meta WHERE key = 'schema_version'").fetchone()
        version = int(found[0]) if found else 0
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"cannot back up {path!r}: it holds tables of a newer cairn (schema version "
                f"{version}; this cairn reads up to {SCHEMA_VERSION}); it was left as it is: "
                "upgrade cairn to back it up"
            )
    except BaseException:
        conn.close()
        raise
    return conn


def backup(source: str, target: str) -> BackupResult:
    """Copy the cairn SQLite file ``source`` to the new file ``target``
    (which must not exist), consistently while other processes write it."""
    if os.path.lexists(target):
        raise ConfigError(
            f"backup target {target!r} exists already; cairn does not overwrite it: remove it "
            "or give a new path"
        )
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ConfigError(f"cannot write backup {target!r}: the folder {folder!r} does not exist")
    conn = _open_source(source)
    partial = f"{target}.partial-{os.getpid()}"
    try:
        copy = sqlite3.connect(partial)
        try:
            conn.backup(copy)  # all pages in one step: one read transaction
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            threads, checkpoints = copy.execute(
                "SELECT COUNT(DISTINCT thread_id), COUNT(*) FROM cairn_checkpoints"
            ).fetchone()
        finally:
            copy.close()
        if verdict != "ok":
            raise StorageError(f"the backup of {source!r} failed its integrity check: {verdict}")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot back up {source!r} to {target!r}: {exc}") from exc
    finally:
        conn.close()
        for leftover in (partial, partial + "-journal"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return BackupResult(target, Path(target).stat().st_size, int(threads), int(checkpoints))
