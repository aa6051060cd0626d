"""The ``cairn`` command-line tool: a thin layer over the library.

Each command turns what a user can get wrong (a bad path, a model that is not
running, a library error) into a one-line message and a non-zero exit.
"""

from __future__ import annotations

import click

from cairn.cli.demo import demo
from cairn.cli.history import history
from cairn.cli.inspect import diff, show, threads
from cairn.cli.manage import copy, delete, fork, prune, stats
from cairn.cli.transfer import backup, export, import_
from cairn.cli.serve import serve, worker
from cairn.cli.ui import ui

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cairn", prog_name="cairn")
def cli() -> None:
    """cairn: durable state graphs with LangGraph's API.

    Every step of a workflow is checkpointed, so a run can be resumed after a
    crash, inspected, rewound and forked.

    Example (a workflow that crashes on day 1 and resumes on day 2):

    \b
        cairn demo
        cairn history project-1 --db cairn-demo.db

    Every command but demo takes --db (a SQLite file or a postgresql:// URL,
    or CAIRN_DB) and -o text|json|jsonl. Exit codes: 0 done, 1 refused or
    failed (the reason in one line; nothing changed), 2 a usage error.
    """


for command in (demo, threads, history, show, diff, fork, prune, delete, copy, stats, export,
                import_, backup, serve, worker, ui):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``cairn`` script and of ``python -m cairn.cli``."""
    cli.main(prog_name="cairn")
