"""``cairn ui``: the web viewer over a database, read-only (cairn.server.ui.viewer)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import click

from cairn.checkpoint.sql import SqlSaver
from cairn.cli.common import db_option, graph_option, reports_errors
from cairn.cli.records import thread_records
from cairn.cli.store import shown

def thread_lister(saver: SqlSaver) -> Callable[[Mapping[str, Any] | None, str | None], list[dict[str, Any]]]:
    """The viewer's threads: those of ``saver`` with their status, as ``cairn threads`` shows them."""

    def threads(metadata: Mapping[str, Any] | None, thread_id: str | None) -> list[dict[str, Any]]:
        found = saver.list_threads(filter=metadata)
        return thread_records(saver, [t for t in found if thread_id in (None, t.thread_id)])

    return threads


DEFAULT_PORT = 2025
"""Next to ``cairn serve``'s 2024, so both can run on one machine."""


@click.command()
@db_option
@graph_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to be reached from other machines).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@reports_errors
def ui(db: str, graph_ref: str | None, config_file: str | None, host: str, port: int) -> None:
    """Browse a database's threads in a web browser, read-only.

    Shows each thread's status, its checkpoint tree (forks as branches),
    what each node wrote, the state at a checkpoint, the diff of two and
    pending interrupts. It changes nothing: writes are refused (forking,
    replaying and answering interrupts are in the viewer of `cairn serve`,
    at its /ui). Without --graph, values are shown where a full snapshot
    of the state is stored; with it, at every checkpoint.

    Examples:

    \b
        cairn ui --db cairn-demo.db            # then open http://127.0.0.1:2025/ui
        cairn ui --db app.db --graph app.py:graph --port 8080
    """
    from cairn.server.ui.viewer import create_viewer  # CairnError naming the extra if it is missing

    import uvicorn

    from cairn.cli.inspect import opened

    with opened(db, graph_ref, config_file) as (saver, graph):
        app = create_viewer(saver, graph, thread_lister(saver))
        click.echo(f"cairn ui: {shown(db)}, read-only, at http://{host}:{port}/ui/", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
