"""``cairn history``: a thread's checkpoints, newest first, from any database.

It needs none of the application's code: it shows each checkpoint's
metadata and the write log (what each task wrote), and a value of a class
this process does not have as an opaque record naming the class
(``OpaqueValue``), never importing or running it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Mapping

import click

from cairn.checkpoint.base import CheckpointRecord
from cairn.cli.store import StoreError, open_for_reading
from cairn.errors import CairnError

_SHOWN_APART = ("step", "source")
"""Metadata keys that head each checkpoint instead of being listed."""


@click.command()
@click.argument("thread_id", metavar="THREAD")
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=True, path_type=Path),
    required=True,
    help="The SQLite file holding the checkpoints.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N checkpoints.")
def history(thread_id: str, db: Path, limit: int | None) -> None:
    """Show a thread's checkpoints, newest first: metadata and writes.

    Works on any cairn database without the application's code: a stored
    value of a class this process does not have is shown as
    <opaque KIND module:Class {fields}>.

    Example:

    \b
        cairn history project-1 --db cairn-demo.db --limit 5
    """
    try:
        with open_for_reading(db) as saver:
            shown = 0
            for checkpoint in saver.list_checkpoints(thread_id, "", limit=limit):
                click.echo(describe(checkpoint))
                shown += 1
    except (StoreError, CairnError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"database error in {str(db)!r}: {exc}") from None
    if not shown:
        raise click.ClickException(f"thread {thread_id!r} has no checkpoints in {str(db)!r}")


def describe(checkpoint: CheckpointRecord) -> str:
    """One checkpoint as lines of text: its heading, metadata, writes and next tasks."""
    lines = [f"step {checkpoint.step}  {checkpoint.source}  {checkpoint.id}  {checkpoint.created_at}"]
    lines += [f"  {key}: {value!r}" for key, value in _listed(checkpoint.metadata).items()]
    lines += [f"  write {write.name}: {write.update!r}" for write in checkpoint.writes]
    if checkpoint.tasks:
        lines.append("  next: " + ", ".join(task.name for task in checkpoint.tasks))
    return "\n".join(lines)


def _listed(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    return {k: v for k, v in metadata.items() if k not in _SHOWN_APART}
