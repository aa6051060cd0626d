"""What the operator's commands share: the --db, -o and --graph options,
turning library errors into one-line messages, and printing records as
text, one JSON document, or JSON lines.

Exit codes of every command: 0 done; 1 refused or failed (the reason on
stderr, one line; nothing was changed unless the message says so); 2 a
usage error (an unknown option, a bad value).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import json
import sqlite3
import uuid
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, TypeVar

import click
from rich.console import Console

from cairn.checkpoint.serde import OpaqueValue
from cairn.errors import CairnError

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("text", "json", "jsonl")


def db_option(command: F) -> F:
    """``--db``: a SQLite path or a postgresql:// URL (or $CAIRN_DB)."""
    return click.option(
        "--db",
        "db",
        envvar="CAIRN_DB",
        required=True,
        metavar="PATH|URL",
        help="The SQLite file or postgresql:// URL holding the checkpoints (or set CAIRN_DB).",
    )(command)


def output_option(command: F) -> F:
    """``-o text|json|jsonl``."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(FORMATS),
        default="text",
        show_default=True,
        help="text: tables for people; json: one document; jsonl: one object per line.",
    )(command)


def graph_option(command: F) -> F:
    """``--graph FILE.py:ATTR`` (or a name in ``--config langgraph.json``)."""
    command = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="A langgraph.json whose \"graphs\" section names the graph given to --graph.",
    )(command)
    return click.option(
        "--graph",
        "graph_ref",
        default=None,
        metavar="FILE.py:ATTR|NAME",
        help="The application's graph (a compiled graph or a StateGraph), to fold state "
        "with its reducers; NAME looks it up in --config.",
    )(command)


def reports_errors(command: F) -> F:
    """Library errors (and a database's own) as one line and exit code 1."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CairnError as exc:
            raise click.ClickException(str(exc)) from None
        except sqlite3.Error as exc:
            raise click.ClickException(f"database error: {exc}") from None

    return run  # type: ignore[return-value]


def plain(value: Any) -> Any:
    """``value`` as JSON data: what a stored value of any class looks like
    to a program reading the output."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, OpaqueValue):
        return {"__opaque__": value.type_name, "kind": value.kind, "data": plain(value.data)}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return plain(dump())
    return repr(value)


def emit(output: str, items: Iterable[Any], text: Callable[[Console], None], document: Any = None) -> None:
    """Print ``items`` as ``output`` says: ``text`` draws them for people;
    json prints ``document`` (default: the items as a list); jsonl one item
    a line."""
    if output == "text":
        text(Console(highlight=False, soft_wrap=False))
    elif output == "jsonl":
        for item in items:
            click.echo(json.dumps(plain(item)))
    else:
        found = list(items) if document is None else document
        click.echo(json.dumps(plain(found), indent=2))
