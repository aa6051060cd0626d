"""Opening the checkpoint database the CLI works on: a SQLite file, or a
PostgreSQL server named by a ``postgresql://`` URL."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.checkpoint.serde import default_serializer
from cairn.checkpoint.sql import SqlSaver
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ConfigError


class StoreError(ConfigError):
    """The database path cannot be used; the message says why, for the user."""


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def is_postgres(db: str) -> bool:
    """Whether ``--db`` names a PostgreSQL server rather than a SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def shown(db: str) -> str:
    """``--db`` as it may be printed: a URL's password masked."""
    return _PASSWORD.sub(r"\1***@", db)


@contextmanager
def open_db(db: str, *, reading: bool, create: bool = False) -> Iterator[SqlSaver]:
    """The saver on ``--db``, closed on exit. ``reading``: for looking only,
    so a value of a class this process does not have reads as an
    OpaqueValue; else values load as the application stores them (a graph
    runs on the saver). ``create``: a SQLite file may be made."""
    serde = default_serializer(unknown="opaque" if reading else "error")
    if is_postgres(db):
        from cairn.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(db, serde=serde, pool_size=2) as pg:
            yield pg
        return
    url = _URL.match(db)
    if url:
        raise StoreError(
            f"--db {shown(db)!r}: cairn stores checkpoints in SQLite (a file path) or PostgreSQL "
            f"(a postgresql:// URL), not {url.group(1)}://"
        )
    path = Path(db)
    if not create and not path.is_file():
        what = "a directory" if path.is_dir() else "missing"
        raise StoreError(f"--db {db!r} is {what}; give the path of a cairn SQLite file")
    if path.is_dir():
        raise StoreError(f"--db {db!r} is a directory; give a file path such as {str(path / 'cairn.db')!r}")
    with SqliteSaver.from_conn_string(db, serde=serde) as saver:
        yield saver


@contextmanager
def open_saver(path: Path) -> Iterator[BaseCheckpointSaver]:
    """The SQLite saver on ``path`` (created if missing), closed on exit.

    A missing directory, a file that is not a database or one that holds
    another application's tables raise the saver's StorageError here, with
    its message, rather than halfway through a run.
    """
    if path.is_dir():
        # SQLite's own word for this is "unable to open database file".
        raise StoreError(
            f"--db {str(path)!r} is a directory; give a file path such as "
            f"{str(path / 'cairn.db')!r}"
        )
    with SqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


@contextmanager
def open_for_reading(path: Path) -> Iterator[BaseCheckpointSaver]:
    """The SQLite saver on ``path``, which must exist, for looking only: a
    value of a class this process does not have reads as an OpaqueValue
    (naming the class, its fields as plain data) instead of failing, so that
    any database can be shown without its application's code."""
    if not path.is_file():
        what = "a directory" if path.is_dir() else "missing"
        raise StoreError(f"--db {str(path)!r} is {what}; give the path of a cairn SQLite file")
    serde = default_serializer(unknown="opaque")
    with SqliteSaver.from_conn_string(str(path), serde=serde) as saver:
        yield saver
