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
from cairn.cli.common import db_option, emit, output_option, reports_errors
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
@click.argument("dump", type=click.File("r"), metavar="DUMP")
@db_option
@output_option
@reports_errors
def import_(db: str, output: str, dump: IO[str]) -> None:
    """Rebuild the threads of a dump (from `cairn export`) with the same ids
    and the same history; '-' reads stdin.

    The whole dump is checked before anything is written, and written in one
    transaction: a damaged dump, or a thread that exists already, imports
    nothing. The database is created if it is a new SQLite file.

    Example:

    \b
        cairn import dump.jsonl --db restored.db
    """
    threads = read_dump(dump, name=repr(getattr(dump, "name", "the dump")))
    with open_db(db, reading=True, create=True) as saver:
        import_threads(saver, threads)
    record = {
        "threads": [t.thread_id for t in threads],
        "checkpoints": sum(len(t.checkpoints) for t in threads),
        "pending": sum(len(t.pending) for t in threads),
    }
    line = (f"imported {len(threads)} thread(s), {record['checkpoints']} checkpoint(s), "
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
