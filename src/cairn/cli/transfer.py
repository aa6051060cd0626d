"""``cairn export``, ``cairn import`` and ``cairn backup``: moving whole
threads between databases, and copying a SQLite file safely.

The dump format is ``cairn.checkpoint.dump``'s (documented there and in the
README): a header line, a line per checkpoint and pending write, an end line.
"""

from __future__ import annotations

import sys
from typing import IO

import click

from cairn.checkpoint.dump import read_dump, write_dump
from cairn.checkpoint.sql.rows import export_thread, import_threads
from cairn.checkpoint.sqlite.backup import backup as backup_file
from cairn.cli.common import db_option, emit, graph_option, output_option, reports_errors
from cairn.cli.fromlanggraph import import_langgraph
from cairn.cli.store import is_postgres, open_db
from cairn.errors import ConfigError


@click.command(name="export")
@click.argument("thread_ids", metavar="[THREAD]...", nargs=-1)
@db_option
@click.option("--to", "out", type=click.File("w"), default="-", metavar="FILE",
              help="Where to write the dump (default: stdout).")
@reports_errors
def export(db: str, thread_ids: tuple[str, ...], out: IO[str]) -> None:
    """Write threads (default: all) as a dump: every checkpoint, pending write
    and metadata, byte for byte, one JSON object a line.

    An encrypted store exports only with its key (CAIRN_ENCRYPTION_KEY), and
    the dump holds its values in clear. Import it with `cairn import`.

    Examples:

    \b
        cairn export --db cairn-demo.db > dump.jsonl
        cairn export project-1 project-2 --db postgresql://localhost/app --to dump.jsonl
    """
    with open_db(db, reading=True) as saver:
        ids = list(thread_ids) or [t.thread_id for t in reversed(saver.list_threads())]
        for thread_id in thread_ids:  # refused before anything is written
            if next(iter(saver.list_checkpoints(thread_id, "", limit=1)), None) is None:
                raise ConfigError(f"thread {thread_id!r} has no checkpoints in {saver.location}")
        # A thread at a time: read, then written. A failure part-way leaves a
        # dump without its end line, which `cairn import` refuses.
        counts = write_dump((export_thread(saver, thread_id) for thread_id in ids), out, ids)
    if out is not sys.stdout and getattr(out, "name", "-") != "<stdout>":
        click.echo(f"exported {counts['threads']} thread(s), {counts['checkpoints']} checkpoint(s), "
                   f"{counts['pending']} pending write(s)", err=True)


@click.command(name="import")
@click.argument("dump", type=click.File("r"), metavar="[DUMP]", required=False)
@click.option("--from-langgraph", "from_langgraph", metavar="FILE|URL", default=None,
              help="Import a LangGraph SqliteSaver file or PostgresSaver (postgresql:// URL) instead of a dump.")
@click.option("--allow", "allow", metavar="MODULE:CLASS", multiple=True,
              help="With --from-langgraph: a class whose values may be loaded (repeatable).")
@graph_option
@db_option
@output_option
@reports_errors
def import_(db: str, output: str, dump: IO[str] | None, from_langgraph: str | None,
            allow: tuple[str, ...], graph_ref: str | None, config_file: str | None) -> None:
    """Rebuild the threads of a dump (from `cairn export`) with the same ids
    and the same history; '-' reads stdin. Or, with --from-langgraph, every
    thread of a LangGraph database: checkpoints, parent links, metadata and
    pending writes, as LangGraph's get_state_history showed them.

    The whole source is checked before anything is written: a damaged one,
    or a thread that exists already, imports nothing. The database is
    created if it is a new SQLite file.

    A LangGraph database names the classes of its values; cairn rebuilds
    only standard types, LangChain's messages and the classes allowed by
    --graph (the graph whose state names them), --allow or register_type,
    and refuses any other, naming it.

    Examples:

    \b
        cairn import dump.jsonl --db restored.db
        cairn import --from-langgraph checkpoints.sqlite --db cairn.db --graph app.py:graph
        cairn import --from-langgraph postgresql://localhost/app --db cairn.db --allow app.models:Order
    """
    if (dump is None) == (from_langgraph is None):
        raise click.UsageError("give a DUMP (from cairn export) or --from-langgraph FILE|URL, not both")
    if from_langgraph is not None:
        record = import_langgraph(db, from_langgraph, allow, graph_ref, config_file)
    else:
        if allow or graph_ref:
            raise click.UsageError("--allow and --graph go with --from-langgraph; a dump needs neither")
        assert dump is not None
        threads = read_dump(dump, name=repr(getattr(dump, "name", "the dump")))
        with open_db(db, reading=True, create=True) as saver:
            import_threads(saver, threads)
        record = {
            "threads": [t.thread_id for t in threads],
            "checkpoints": sum(len(t.checkpoints) for t in threads),
            "pending": sum(len(t.pending) for t in threads),
        }
    line = (f"imported {len(record['threads'])} thread(s), {record['checkpoints']} checkpoint(s), "
            f"{record['pending']} pending write(s)")
    emit(output, [record], lambda console: console.print(line, markup=False), record)


@click.command()
@click.argument("target", type=click.Path(dir_okay=False))
@db_option
@output_option
@reports_errors
def backup(db: str, output: str, target: str) -> None:
    """Copy a cairn SQLite file to TARGET (a new file), consistently while
    runs keep writing it (SQLite's online backup).

    A file that is not a cairn database, or one written by a newer cairn, is
    refused and left as it is. To restore, copy the backup back in place while
    nothing runs, or `cairn export` from it and `cairn import` the dump.
    For PostgreSQL, use pg_dump (or cairn export).

    Example:

    \b
        cairn backup --db cairn-demo.db backups/cairn-2026-12-04.db
    """
    if is_postgres(db):
        raise ConfigError(
            "cairn backup copies a SQLite file; for PostgreSQL use pg_dump, or "
            "cairn export --db URL > dump.jsonl"
        )
    result = backup_file(db, target)
    record = {"target": result.target, "bytes": result.bytes, "threads": result.threads,
              "checkpoints": result.checkpoints}
    line = (f"backed up {db} to {result.target}: {result.threads} thread(s), "
            f"{result.checkpoints} checkpoint(s), {result.bytes:,} bytes")
    emit(output, [record], lambda console: console.print(line, markup=False), record)
