"""Putting a server together from ``langgraph.json`` and a database, and
running it with uvicorn."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any, Sequence

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.errors import ConfigError
from cairn.runtime.observe import Observer
from cairn.server.app import MAX_BODY, create_app
from cairn.server.config import apply_environment, load_config
from cairn.server.db import ServerDB
from cairn.server.graphs import Assistants, load_graphs
from cairn.server.http import Server
from cairn.server.metrics import ServerMetrics
from cairn.server.streams import Streams
from cairn.server.worker import Workers

__all__ = ["DEFAULT_DB", "open_database", "open_server", "serve", "work"]

DEFAULT_DB = Path(".cairn") / "cairn.db"
"""Where the server keeps everything unless told (``--db`` or
``DATABASE_URI``), from the working folder."""


def open_database(db: str | None) -> tuple[BaseCheckpointSaver, Any, ServerDB]:
    """The saver, store and server tables on ``db``: a SQLite file, or a
    ``postgresql://`` URL (``DATABASE_URI`` when ``db`` is None)."""
    db = db or os.environ.get("DATABASE_URI") or None
    if db is not None and db.startswith(("postgres://", "postgresql://")):
        from cairn.checkpoint.postgres import PostgresSaver
        from cairn.server.db_postgres import PostgresServerDB
        from cairn.store.postgres import PostgresStore

        return PostgresSaver(db), PostgresStore(db), PostgresServerDB(db)
    from cairn.checkpoint.sqlite import SqliteSaver
    from cairn.server.db_sqlite import SqliteServerDB
    from cairn.store.sqlite import SqliteStore

    if db is None:
        DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
        db = str(DEFAULT_DB)
    if Path(db).is_dir():
        raise ConfigError(f"--db {db!r} is a directory; give a file path such as {str(Path(db) / 'cairn.db')!r}")
    saver = SqliteSaver(db)
    return saver, SqliteStore(db), SqliteServerDB(db, saver=saver)


def open_server(
    config_path: str, db: str | None = None, workers: int = 10, observers: Sequence[Observer] = ()
) -> Server:
    """The server's parts: its graphs bound to the saver (and store) on
    ``db``, its tables, its workers (``workers`` tasks; 0: the API only),
    its metrics; ``observers`` watch every run besides the metrics (tracing:
    ``cairn.otel``)."""
    config = load_config(config_path)
    apply_environment(config)
    saver, store, tables = open_database(db)
    assistants = Assistants(load_graphs(config, saver, store))
    streams = Streams()
    info = {
        "version": importlib.metadata.version("cairn"),
        "server": "cairn",
        "flags": {"assistants": True, "crons": True, "langsmith": False},
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None},
    }
    metrics = ServerMetrics(tables)
    runner = Workers(tables, assistants, streams, workers, metrics=metrics, observers=observers)
    return Server(tables, saver, store, assistants, streams, runner, info, metrics)


def serve(
    config_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 2024,
    db: str | None = None,
    workers: int = 10,
    auth_token: str | None = None,
    max_body: int = MAX_BODY,
    cors_origins: tuple[str, ...] = (),
    log_level: str = "info",
    access_log: bool = False,
    observers: Sequence[Observer] = (),
) -> None:
    """Serve the graphs of ``config_path`` until interrupted (``observers``:
    as ``open_server``'s); ``access_log``: log each request (a line each, on
    stderr). uvicorn runs on uvloop and httptools when they are installed
    (the ``server`` extra installs them), else on asyncio and h11."""
    import uvicorn

    server = open_server(config_path, db, workers, observers)
    app: Any = create_app(server, auth_token=auth_token, max_body=max_body, cors_origins=cors_origins)
    try:
        uvicorn.run(
            app, host=host, port=port, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=5
        )
    finally:
        _close(server)


def _close(server: Server) -> None:
    server.db.close()
    server.saver.close()
    close_store = getattr(server.store, "close", None)
    if callable(close_store):
        close_store()


def work(
    config_path: str, *, db: str | None = None, concurrency: int = 4, observers: Sequence[Observer] = ()
) -> None:
    """Run the queued runs of ``db`` with the graphs of ``config_path``,
    without serving HTTP, until interrupted (``cairn worker``)."""
    import asyncio

    server = open_server(config_path, db, concurrency, observers)
    try:
        asyncio.run(server.workers.run_forever())
    except KeyboardInterrupt:
        pass
    finally:
        _close(server)
