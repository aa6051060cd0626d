"""Opening the checkpoint database the CLI works on."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.checkpoint.serde import default_serializer
from cairn.checkpoint.sqlite import SqliteSaver


class StoreError(Exception):
    """The database path cannot be used; the message says why, for the user."""


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
