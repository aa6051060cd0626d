"""``cairn threads``, ``cairn show`` and ``cairn diff``: looking at a store.

Each opens the database for looking only (values of classes this process
does not have read as ``<opaque ...>``); the state folded with the graph's
reducers needs ``--graph``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import click
from rich import box
from rich.console import Console
from rich.table import Table

from cairn.checkpoint.base import CheckpointRecord
from cairn.checkpoint.sql import SqlSaver
from cairn.cli.app import load_graph
from cairn.cli.common import db_option, emit, graph_option, output_option, reports_errors
from cairn.cli.records import (
    STATUSES,
    checkpoint_record,
    metadata_summary,
    parse_pairs,
    thread_records,
)
from cairn.cli.store import open_db
from cairn.errors import ConfigError
from cairn.runtime import CompiledStateGraph


@contextmanager
def opened(db: str, graph_ref: str | None, config_file: str | None) -> Iterator[tuple[SqlSaver, CompiledStateGraph | None]]:
    """The saver (for looking only unless a graph is given, which must run
    on a saver that loads its classes) and the graph."""
    with open_db(db, reading=graph_ref is None) as saver:
        graph = load_graph(graph_ref, config_file, saver) if graph_ref else None
        yield saver, graph


def config_of(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def find_checkpoint(saver: SqlSaver, thread_id: str, checkpoint_id: str | None) -> CheckpointRecord:
    """The checkpoint (the head when None), or ConfigError naming what is missing."""
    if checkpoint_id is None:
        head = next(iter(saver.list_checkpoints(thread_id, "", limit=1)), None)
        if head is None:
            raise ConfigError(f"thread {thread_id!r} has no checkpoints in {saver.location}")
        return head
    chain = saver.get_chain(thread_id, "", checkpoint_id)
    if not chain:
        raise ConfigError(
            f"thread {thread_id!r} has no checkpoint {checkpoint_id!r} in {saver.location}; "
            f"list them with: cairn history {thread_id}"
        )
    return chain[-1]


# -- cairn threads -------------------------------------------------------------------


@click.command()
@db_option
@output_option
@click.option("--metadata", "-m", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Only threads whose head's metadata holds KEY=VALUE (VALUE read as JSON if it is); repeatable.")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only threads in this status.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N threads.")
@reports_errors
def threads(db: str, output: str, pairs: tuple[str, ...], status: str | None, limit: int | None) -> None:
    """List threads, most recently updated first, with their status.

    A status is busy (a run holds the thread), stuck (the run holding it
    died: its hold expired, or its process on this machine is gone), error
    (the step after the head failed), interrupted (it paused in
    interrupt()) or idle.

    Examples:

    \b
        cairn threads --db cairn-demo.db
        cairn threads --db postgresql://localhost/app --status interrupted -o json
        cairn threads --db app.db -m user=alice --limit 10
    """
    with open_db(db, reading=True) as saver:
        found = saver.list_threads(filter=parse_pairs(pairs, "--metadata") or None,
                                   limit=None if status else limit)
        records = thread_records(saver, found)
    if status:
        records = [r for r in records if r["status"] == status][:limit]

    def text(console: Console) -> None:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("thread", overflow="fold", min_width=10)
        table.add_column("status", min_width=11)
        table.add_column("ckpts", justify="right", no_wrap=True)
        table.add_column("step", justify="right", no_wrap=True)
        table.add_column("next", overflow="fold", min_width=6)
        table.add_column("updated (UTC)", no_wrap=True)
        table.add_column("metadata", overflow="ellipsis", no_wrap=True, max_width=22)
        for r in records:
            table.add_row(r["thread_id"], r["status"], str(r["checkpoints"]), str(r["step"]),
                          ", ".join(r["next"]) or "-", r["updated_at"][:16].replace("T", " "),
                          metadata_summary(r["metadata"]))
        console.print(table)
        console.print(f"{len(records)} thread(s)")

    emit(output, records, text)


# -- cairn show ------------------------------------------------------------------------


@click.command()
@click.argument("thread_id", metavar="THREAD")
@db_option
@output_option
@click.option("--checkpoint", "checkpoint_id", default=None, metavar="ID",
              help="The checkpoint to show (default: the thread's head).")
@graph_option
@reports_errors
def show(db: str, output: str, thread_id: str, checkpoint_id: str | None,
         graph_ref: str | None, config_file: str | None) -> None:
    """Show one checkpoint: metadata, writes, next tasks, pending writes and,
    with --graph, the state.

    Without --graph the state is shown only where a full snapshot of it is
    stored at that checkpoint (folding the log needs the graph's reducers).

    Examples:

    \b
        cairn show project-1 --db cairn-demo.db
        cairn show project-1 --db app.db --checkpoint 0193... --graph app.py:graph -o json
    """
    with opened(db, graph_ref, config_file) as (saver, graph):
        checkpoint = find_checkpoint(saver, thread_id, checkpoint_id)
        pending = saver.get_pending(thread_id, "", checkpoint.id)
        values: Mapping[str, Any] | None = None
        if graph is not None:
            values = graph.get_state(config_of(thread_id, checkpoint.id)).values
        else:
            chain = saver.get_chain(thread_id, "", checkpoint.id)
            values = chain[-1].snapshot if len(chain) == 1 else None
    record = checkpoint_record(checkpoint, pending, values)

    def text(console: Console) -> None:
        console.print(f"thread {thread_id}  checkpoint {checkpoint.id}")
        console.print(f"step {checkpoint.step}  {checkpoint.source}  {checkpoint.created_at}  "
                      f"parent {checkpoint.parent_id or '-'}")
        for key, value in record["metadata"].items():
            console.print(f"  {key}: {value!r}", markup=False)
        for write in checkpoint.writes:
            console.print(f"  write {write.name}: {write.update!r}", markup=False)
        console.print("  next: " + (", ".join(record["next"]) or "-"))
        for left in pending:
            console.print(f"  pending {left.kind} ({left.task_id}): {left.value!r}", markup=False)
        if values is None:
            console.print("  values: not stored at this checkpoint; pass --graph FILE.py:ATTR to fold them")
        else:
            console.print("  values:" if graph is not None else "  values (a snapshot stored at this checkpoint):")
            for key, value in values.items():
                console.print(f"    {key}: {value!r}", markup=False)

    emit(output, [record], text, record)


# -- cairn diff ------------------------------------------------------------------------


def diff_states(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Keys added, removed and changed from state ``a`` to state ``b``."""
    return {
        "added": {k: b[k] for k in b if k not in a},
        "removed": {k: a[k] for k in a if k not in b},
        "changed": {k: {"from": a[k], "to": b[k]} for k in a if k in b and a[k] != b[k]},
    }


@click.command()
@click.argument("thread_id", metavar="THREAD")
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@db_option
@output_option
@graph_option
@reports_errors
def diff(db: str, output: str, thread_id: str, first: str, second: str,
         graph_ref: str | None, config_file: str | None) -> None:
    """Show the state keys added, removed and changed from checkpoint A to B.

    States are folded with the graph's reducers, so --graph is needed unless
    both checkpoints hold a stored snapshot of their state.

    Example:

    \b
        cairn diff project-1 0193...a1 0193...b2 --db cairn-demo.db --graph app.py:graph
    """
    with opened(db, graph_ref, config_file) as (saver, graph):
        states = []
        for checkpoint_id in (first, second):
            checkpoint = find_checkpoint(saver, thread_id, checkpoint_id)
            if graph is not None:
                states.append(dict(graph.get_state(config_of(thread_id, checkpoint.id)).values))
                continue
            chain = saver.get_chain(thread_id, "", checkpoint.id)
            if len(chain) != 1 or chain[0].snapshot is None:
                raise ConfigError(
                    f"checkpoint {checkpoint_id!r} holds no stored snapshot of its state; folding "
                    "it needs the graph's reducers: pass --graph FILE.py:ATTR"
                )
            states.append(dict(chain[0].snapshot))
    changes = diff_states(states[0], states[1])
    document = {"thread_id": thread_id, "from": first, "to": second, **changes}

    def text(console: Console) -> None:
        console.print(f"thread {thread_id}: {first} -> {second}")
        for key, value in changes["added"].items():
            console.print(f"+ {key}: {value!r}", markup=False)
        for key, value in changes["removed"].items():
            console.print(f"- {key}: {value!r}", markup=False)
        for key, change in changes["changed"].items():
            console.print(f"~ {key}: {change['from']!r} -> {change['to']!r}", markup=False)
        if not any(changes.values()):
            console.print("no differences")

    items = [{"key": k, "change": "added", "to": v} for k, v in changes["added"].items()]
    items += [{"key": k, "change": "removed", "from": v} for k, v in changes["removed"].items()]
    items += [{"key": k, "change": "changed", **c} for k, c in changes["changed"].items()]
    emit(output, items, text, document)
