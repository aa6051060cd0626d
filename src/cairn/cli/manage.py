"""``cairn delete``, ``copy``, ``prune``, ``stats`` and ``fork``: changing a store."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cairn.cli.common import db_option, emit, graph_option, output_option, reports_errors
from cairn.cli.inspect import config_of, find_checkpoint, opened
from cairn.cli.records import checkpoint_record, strict_json_pairs, thread_records
from cairn.cli.store import open_db
from cairn.errors import ConfigError

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str, option: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` as a timedelta."""
    found = _AGE.match(text.strip())
    if not found:
        raise ConfigError(f"{option} {text!r} is not an age such as 30d, 12h, 90m, 45s or 2w")
    return timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})


def _done(output: str, record: dict[str, Any], line: str) -> None:
    emit(output, [record], lambda console: console.print(line, markup=False), record)


@click.command()
@click.argument("thread_id", metavar="THREAD")
@db_option
@output_option
@reports_errors
def delete(db: str, output: str, thread_id: str) -> None:
    """Delete a thread: every checkpoint and pending write of it.

    Example:

    \b
        cairn delete project-1 --db cairn-demo.db
    """
    with open_db(db, reading=True) as saver:
        if next(iter(saver.list_checkpoints(thread_id, "", limit=1)), None) is None:
            raise ConfigError(f"thread {thread_id!r} has no checkpoints in {saver.location}; nothing deleted")
        saver.delete_thread(thread_id)
    _done(output, {"deleted": thread_id}, f"deleted thread {thread_id}")


@click.command()
@click.argument("source", metavar="THREAD")
@click.argument("target", metavar="NEW")
@db_option
@output_option
@reports_errors
def copy(db: str, output: str, source: str, target: str) -> None:
    """Copy a thread, every checkpoint and pending write, to a new thread id.

    Example:

    \b
        cairn copy project-1 project-1-experiment --db cairn-demo.db
    """
    with open_db(db, reading=True) as saver:
        saver.copy_thread(source, target)
    _done(output, {"copied": source, "to": target}, f"copied thread {source} to {target}")


@click.command()
@db_option
@output_option
@click.option("--keep-last", type=click.IntRange(min=1), default=None, metavar="N",
              help="Keep each thread's newest N checkpoints (and what they need to be read).")
@click.option("--older-than", default=None, metavar="AGE",
              help="Delete threads whose newest checkpoint is older than AGE (30d, 12h, 90m, 2w).")
@click.option("--thread", "thread_id", default=None, metavar="THREAD", help="Prune this thread only.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@reports_errors
def prune(db: str, output: str, keep_last: int | None, older_than: str | None,
          thread_id: str | None, dry_run: bool) -> None:
    """Delete old threads and old checkpoints.

    Example:

    \b
        cairn prune --db cairn-demo.db --older-than 30d --keep-last 20 --dry-run
    """
    age = parse_age(older_than, "--older-than") if older_than is not None else None
    if keep_last is None and age is None:
        raise ConfigError("prune needs --keep-last N, --older-than AGE, or both")
    with open_db(db, reading=True) as saver:
        result = saver.prune(keep_last=keep_last, older_than=age, thread_id=thread_id, dry_run=dry_run)
    record = {"dry_run": dry_run, "threads_deleted": result.threads_deleted,
              "checkpoints_deleted": result.checkpoints_deleted}
    verb = "would delete" if dry_run else "deleted"
    _done(output, record, f"{verb} {result.threads_deleted} thread(s) and "
          f"{result.checkpoints_deleted} checkpoint(s)")


@click.command()
@db_option
@output_option
@click.option("--stale", default="1d", show_default=True, metavar="AGE",
              help="A thread interrupted for longer than AGE counts as stuck.")
@reports_errors
def stats(db: str, output: str, stale: str) -> None:
    """Count threads, checkpoints and bytes; threads by status; stuck runs.

    Stuck: a run whose hold on its thread expired without being let go (its
    process died mid-step), or a thread waiting in interrupt() for longer
    than --stale.

    Example:

    \b
        cairn stats --db cairn-demo.db --stale 12h -o json
    """
    age = parse_age(stale, "--stale")
    with open_db(db, reading=True) as saver:
        counts = saver.stats()
        threads = thread_records(saver, saver.list_threads())
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    by_status: dict[str, int] = {}
    stuck = []
    for t in threads:
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
        waited = now - datetime.fromisoformat(t["updated_at"])
        if t["status"] == "stuck" or (t["status"] == "interrupted" and waited > age):
            stuck.append({"thread_id": t["thread_id"], "status": t["status"],
                          "since": t["updated_at"], "next": t["next"]})
    record = {
        "threads": counts.threads, "checkpoints": counts.checkpoints,
        "pending_writes": counts.pending_writes, "bytes": counts.bytes,
        "log_bytes": counts.log_bytes, "snapshot_bytes": counts.snapshot_bytes,
        "by_status": by_status, "stuck": stuck,
    }

    def text(console: Console) -> None:
        table = Table(show_header=False)
        for key in ("threads", "checkpoints", "pending_writes", "bytes", "log_bytes", "snapshot_bytes"):
            table.add_row(key.replace("_", " "), f"{record[key]:,}")
        for status, count in sorted(by_status.items()):
            table.add_row(f"status {status}", str(count))
        console.print(table)
        for s in stuck:
            console.print(f"stuck: {s['thread_id']} ({s['status']} since {s['since'][:19]})", markup=False)

    emit(output, [record], text, record)


@click.command()
@click.argument("thread_id", metavar="THREAD")
@db_option
@output_option
@click.option("--checkpoint", "checkpoint_id", required=True, metavar="ID",
              help="The checkpoint to fork from.")
@click.option("--set", "sets", multiple=True, required=True, metavar="KEY=JSON",
              help="A state key and its new value, as JSON; repeatable.")
@click.option("--as-node", default=None, metavar="NODE",
              help="Apply the values as if this node wrote them (its reducers, its edges).")
@graph_option
@reports_errors
def fork(db: str, output: str, thread_id: str, checkpoint_id: str, sets: tuple[str, ...],
         as_node: str | None, graph_ref: str | None, config_file: str | None) -> None:
    """Fork a thread at a checkpoint with edited state (update_state); print the new checkpoint.

    The fork is a new branch of the same thread: the next run on the thread
    (or on the printed checkpoint) continues from it.

    Example:

    \b
        cairn fork project-1 --checkpoint 0193... --set plan='["a","b"]' --as-node planning --db cairn-demo.db --graph app.py:graph
    """
    if graph_ref is None:
        raise ConfigError("fork applies values with the graph's reducers: pass --graph FILE.py:ATTR")
    values = strict_json_pairs(sets)
    with opened(db, graph_ref, config_file) as (saver, graph):
        assert graph is not None
        base = find_checkpoint(saver, thread_id, checkpoint_id)
        new = graph.update_state(config_of(thread_id, base.id), values, as_node=as_node)
        new_id = new["configurable"]["checkpoint_id"]
        created = find_checkpoint(saver, thread_id, new_id)
        state = graph.get_state(config_of(thread_id, new_id))
    record = checkpoint_record(created, (), state.values)

    def text(console: Console) -> None:
        console.print(f"forked thread {thread_id} at {checkpoint_id}: new checkpoint {new_id} "
                      f"(step {created.step}), next: {', '.join(state.next) or '-'}", markup=False)

    emit(output, [record], text, record)
