"""``cairn history``: a thread's checkpoints, newest first, from any database.

It needs none of the application's code: it shows each checkpoint's
metadata and the write log (what each task wrote), and a value of a class
this process does not have as an opaque record naming the class
(``OpaqueValue``), never importing or running it.
"""

from __future__ import annotations

from typing import Any, Mapping

import click

from cairn.checkpoint.base import CheckpointRecord
from cairn.cli.common import db_option, emit, graph_option, output_option, reports_errors
from cairn.cli.records import checkpoint_record
from cairn.errors import ConfigError

_SHOWN_APART = ("step", "source")
"""Metadata keys that head each checkpoint instead of being listed."""


@click.command()
@click.argument("thread_id", metavar="THREAD")
@db_option
@output_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N checkpoints.")
@click.option("--before", default=None, metavar="ID", help="Only checkpoints older than this one.")
@graph_option
@reports_errors
def history(thread_id: str, db: str, output: str, limit: int | None, before: str | None,
            graph_ref: str | None, config_file: str | None) -> None:
    """Show a thread's checkpoints, newest first: metadata and writes.

    Works on any cairn database without the application's code: a stored
    value of a class this process does not have is shown as
    <opaque KIND module:Class {fields}>. With --graph, each checkpoint's
    state (folded with the graph's reducers) is shown too.

    Examples:

    \b
        cairn history project-1 --db cairn-demo.db --limit 5
        cairn history project-1 --db app.db --graph app.py:graph -o jsonl
    """
    from cairn.cli.inspect import config_of, opened

    with opened(db, graph_ref, config_file) as (saver, graph):
        found = list(saver.list_checkpoints(thread_id, "", before=before, limit=limit))
        if not found:
            raise ConfigError(f"thread {thread_id!r} has no checkpoints in {saver.location}")
        pending = saver.get_pending_many(thread_id, "", [c.id for c in found])
        values: dict[str, Any] = {}
        if graph is not None:
            for snapshot in graph.get_state_history(
                config_of(thread_id), limit=limit, before=config_of(thread_id, before) if before else None
            ):
                values[snapshot.config["configurable"]["checkpoint_id"]] = snapshot.values
    records = [checkpoint_record(c, pending.get(c.id, ()), values.get(c.id)) for c in found]

    def text(_: object) -> None:
        for checkpoint, record in zip(found, records):
            click.echo(describe(checkpoint))
            for key, value in (record.get("values") or {}).items():
                click.echo(f"  value {key}: {value!r}")

    emit(output, records, text)


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
