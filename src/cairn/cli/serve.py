"""``cairn serve`` (LangGraph's server API over cairn's storage) and ``cairn
worker`` (its queue's runs, without HTTP): cairn.server."""

from __future__ import annotations

import os
from typing import Any

import click

from cairn.errors import CairnError

TOKEN_VARIABLE = "CAIRN_AUTH_TOKEN"


def tracing() -> tuple[Any, ...]:
    """cairn.otel's observer when the environment asks for traces
    (``OTEL_TRACES_EXPORTER`` or ``OTEL_EXPORTER_OTLP_*ENDPOINT``); a warning
    and none when the ``otel`` extra is not installed."""
    try:
        from cairn.otel import from_environment
    except CairnError as exc:
        if any(name.startswith("OTEL_EXPORTER") or name == "OTEL_TRACES_EXPORTER" for name in os.environ):
            click.echo(f"warning: not tracing runs: {exc}", err=True)
        return ()
    found = from_environment()
    return (found,) if found is not None else ()


@click.command()
@click.option("--config", "config", default="langgraph.json", show_default=True,
              type=click.Path(dir_okay=False), help="LangGraph's langgraph.json: the graphs to serve.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to be reached from other machines).")
@click.option("--port", default=2024, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", "db", default=None,
              help="SQLite file for checkpoints, threads and runs [default: ./.cairn/cairn.db].")
@click.option("--workers", default=10, show_default=True, type=click.IntRange(min=0),
              help="Runs executed at once by this process (0: serve the API only; LangGraph's server runs 10).")
@click.option("--auth-token", default=None, envvar=TOKEN_VARIABLE,
              help=f"Require 'Authorization: Bearer TOKEN' on every endpoint but /ok (or set {TOKEN_VARIABLE}).")
@click.option("--max-body", default=16 * 1024 * 1024, show_default=True, type=click.IntRange(min=1),
              help="Largest request body accepted, in bytes.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="A web origin (https://host:port) whose pages may call the server from a browser, "
                   "besides this machine's; repeat for several, or '*' for any.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log a line for each request (off by default: a busy server spends much of its time on it).")
def serve(config: str, host: str, port: int, db: str | None, workers: int,
          auth_token: str | None, max_body: int, cors_origins: tuple[str, ...], access_log: bool) -> None:
    """Serve the graphs of a langgraph.json with LangGraph's server API.

    The langgraph_sdk client (get_client(url="http://127.0.0.1:2024")) and
    UIs built on it work unchanged. Threads, runs and checkpoints live in
    one SQLite file, so a run whose server was killed finishes after a
    restart, from its last committed step. GET /metrics answers in
    Prometheus' format; with OTEL_TRACES_EXPORTER set (and cairn[otel]
    installed) each run is traced.

    Example:

    \b
        cairn serve --config langgraph.json --port 2024
    """
    try:
        from cairn.server import serve as run_server
    except CairnError as exc:  # the extra is not installed
        raise click.ClickException(str(exc)) from None
    try:
        run_server(config, host=host, port=port, db=db, workers=workers,
                   auth_token=auth_token or os.environ.get(TOKEN_VARIABLE) or None, max_body=max_body,
                   cors_origins=cors_origins, access_log=access_log, observers=tracing())
    except CairnError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--config", "config", default="langgraph.json", show_default=True,
              type=click.Path(dir_okay=False), help="LangGraph's langgraph.json: the graphs to run.")
@click.option("--db", "db", default=None,
              help="The database the servers queue runs in: a SQLite file or postgresql:// URL "
                   "[default: $DATABASE_URI, else ./.cairn/cairn.db].")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(min=1),
              help="Runs executed at once by this process.")
def worker(config: str, db: str | None, concurrency: int) -> None:
    """Run the runs queued by `cairn serve` (without serving HTTP).

    Any number of workers, on any number of hosts sharing one PostgreSQL
    database, take runs from the queue; a run whose worker died is resumed
    by another from its last committed step.

    Example:

    \b
        cairn serve --db postgresql://db/cairn --workers 0 &
        cairn worker --db postgresql://db/cairn --concurrency 8
    """
    try:
        from cairn.server import work
    except CairnError as exc:  # the extra is not installed
        raise click.ClickException(str(exc)) from None
    try:
        work(config, db=db, concurrency=concurrency, observers=tracing())
    except CairnError as exc:
        raise click.ClickException(str(exc)) from None
