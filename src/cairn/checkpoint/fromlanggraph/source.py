"""Reading LangGraph's checkpointer tables: a SqliteSaver's file
(``checkpoints`` and ``writes``) or a PostgresSaver's schema
(``checkpoints``, ``checkpoint_blobs``, ``checkpoint_writes``,
``checkpoint_migrations``), into ``LangGraphCheckpoint`` records with their
values decoded (``cairn.checkpoint.fromlanggraph.decode``).

Both are only read: the SQLite file is opened read-only.

How LangGraph 1.x stores a checkpoint: SqliteSaver keeps the whole
checkpoint dict, state values included, as one ``(type, blob)`` in
``checkpoints`` and its metadata as JSON; PostgresSaver keeps the checkpoint
dict as JSONB with only the values that are None, strings, numbers or
booleans inline in ``channel_values``, every other value in
``checkpoint_blobs`` under ``(channel, version)`` (the checkpoint's
``channel_versions`` say which); both keep each task's writes as
``(task_id, task_path, idx, channel, type, blob)`` rows against the
checkpoint the task ran from.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from cairn.checkpoint.fromlanggraph.decode import Allowed, loads_typed
from cairn.errors import ConfigError, MissingDependencyError, SerializationError

__all__ = ["LangGraphCheckpoint", "LangGraphWrite", "read_postgres", "read_sqlite"]


@dataclass
class LangGraphWrite:
    """One value a task wrote to a channel, against a checkpoint."""

    task_id: str
    task_path: str
    idx: int
    channel: str
    value: Any


@dataclass
class LangGraphCheckpoint:
    """A LangGraph checkpoint as stored: its dict (values decoded), metadata,
    parent and the writes of the tasks that ran from it."""

    thread_id: str
    ns: str
    id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    writes: list[LangGraphWrite] = field(default_factory=list)


def _where(thread_id: str, ns: str, checkpoint_id: str) -> str:
    return f"thread {thread_id!r}" + (f" (namespace {ns!r})" if ns else "") + f", checkpoint {checkpoint_id!r}"


def _decoded(type_: Any, blob: Any, allowed: Allowed, where: str) -> Any:
    try:
        return loads_typed(str(type_), None if blob is None else bytes(blob), allowed)
    except SerializationError as exc:
        raise type(exc)(f"{where}: {exc}; nothing was imported") from exc


def _metadata(raw: Any, where: str) -> dict[str, Any]:
    try:  # SqliteSaver keeps JSON text (or bytes); PostgresSaver's JSONB reads as a dict
        found = json.loads(bytes(raw) if isinstance(raw, memoryview) else raw) if isinstance(
            raw, (bytes, memoryview, str)) else raw
    except ValueError as exc:
        raise ConfigError(f"{where}: its metadata is not JSON ({exc}); nothing was imported") from exc
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ConfigError(f"{where}: its metadata is {found!r:.80}, not an object; nothing was imported")
    return found


def _checkpoint_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise ConfigError(f"{where}: the checkpoint holds {value!r:.80}, not a LangGraph checkpoint; "
                          "nothing was imported")
    value.setdefault("channel_values", {})
    return value


# -- SQLite ---------------------------------------------------------------------


def _sqlite_columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def read_sqlite(path: str, allowed: Allowed) -> list[LangGraphCheckpoint]:
    """Every checkpoint of a LangGraph SqliteSaver file, decoded; refuses a
    file that is not one."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--from-langgraph {path!r} is {'a directory' if file.is_dir() else 'missing'}; "
                          "give a LangGraph SqliteSaver file or a postgresql:// URL")
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"--from-langgraph {path!r} cannot be opened: {exc}") from exc
    try:
        return list(_sqlite_rows(conn, path, allowed))
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"--from-langgraph {path!r} is not a LangGraph SqliteSaver database ({exc}); "
                          "nothing was imported") from exc
    finally:
        conn.close()


def _sqlite_rows(conn: sqlite3.Connection, path: str, allowed: Allowed) -> Iterator[LangGraphCheckpoint]:
    needed = {"checkpoints": {"thread_id", "checkpoint_ns", "checkpoint_id", "parent_checkpoint_id",
                              "type", "checkpoint", "metadata"},
              "writes": {"thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx", "channel",
                         "type", "value"}}
    for table, columns in needed.items():
        missing = columns - _sqlite_columns(conn, table)
        if missing:
            raise ConfigError(
                f"--from-langgraph {path!r} is not a LangGraph SqliteSaver database: its table "
                f"{table!r} is missing or lacks {', '.join(sorted(missing))}; nothing was imported"
            )
    path_column = "task_path" if "task_path" in _sqlite_columns(conn, "writes") else "''"
    writes: dict[tuple[str, str, str], list[LangGraphWrite]] = {}
    for thread_id, ns, cid, task_id, task_path, idx, channel, type_, blob in conn.execute(
        f"SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, {path_column}, idx, channel, type, value "
        "FROM writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx"
    ):
        value = _decoded(type_, blob, allowed, _where(thread_id, ns, cid) + f", task {task_id!r}")
        writes.setdefault((thread_id, ns, cid), []).append(
            LangGraphWrite(task_id, task_path or "", int(idx), channel, value))
    for thread_id, ns, cid, parent_id, type_, blob, meta in conn.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
        "FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id"
    ):
        where = _where(thread_id, ns, cid)
        checkpoint = _checkpoint_dict(_decoded(type_, blob, allowed, where), where)
        yield LangGraphCheckpoint(thread_id, ns or "", cid, parent_id or None, checkpoint,
                                  _metadata(meta, where), writes.get((thread_id, ns, cid), []))


# -- PostgreSQL -------------------------------------------------------------------


def read_postgres(url: str, allowed: Allowed) -> list[LangGraphCheckpoint]:
    """Every checkpoint of a LangGraph PostgresSaver's tables (in the URL's
    search_path), decoded; refuses a database that has none."""
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependencyError(
            "reading a LangGraph PostgresSaver needs psycopg: pip install 'cairn[postgres]'"
        ) from exc
    try:
        with psycopg.connect(url, autocommit=False) as conn:
            conn.read_only = True
            return list(_postgres_rows(conn, allowed))
    except psycopg.Error as exc:
        raise ConfigError(f"--from-langgraph: the PostgreSQL database cannot be read: {exc}".strip()) from exc


def _postgres_rows(conn: Any, allowed: Allowed) -> Iterator[LangGraphCheckpoint]:
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            raise ConfigError(
                f"--from-langgraph: the PostgreSQL database holds no LangGraph PostgresSaver tables "
                f"(no table {table!r} in its search_path); give the URL of the database (and "
                "?options=-csearch_path=SCHEMA) LangGraph wrote to; nothing was imported"
            )
    blobs: dict[tuple[str, str, str, str], tuple[str, Any]] = {}
    for thread_id, ns, channel, version, type_, blob in conn.execute(
        "SELECT thread_id, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs"
    ):
        blobs[(thread_id, ns, channel, version)] = (type_, blob)
    writes: dict[tuple[str, str, str], list[LangGraphWrite]] = {}
    for thread_id, ns, cid, task_id, task_path, idx, channel, type_, blob in conn.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob "
        "FROM checkpoint_writes ORDER BY thread_id, checkpoint_ns, checkpoint_id, task_id, idx"
    ):
        value = _decoded(type_, blob, allowed, _where(thread_id, ns, cid) + f", task {task_id!r}")
        writes.setdefault((thread_id, ns, cid), []).append(
            LangGraphWrite(task_id, task_path or "", int(idx), channel, value))
    for thread_id, ns, cid, parent_id, raw, meta in conn.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata "
        "FROM checkpoints ORDER BY thread_id, checkpoint_ns, checkpoint_id"
    ):
        where = _where(thread_id, ns, cid)
        checkpoint = _checkpoint_dict(dict(raw) if isinstance(raw, dict) else raw, where)
        values = dict(checkpoint.get("channel_values") or {})
        for channel, version in (checkpoint.get("channel_versions") or {}).items():
            stored = blobs.get((thread_id, ns, channel, str(version)))
            if stored is not None and stored[0] != "empty":
                values[channel] = _decoded(stored[0], stored[1], allowed, where + f", channel {channel!r}")
        checkpoint["channel_values"] = values
        yield LangGraphCheckpoint(thread_id, ns or "", cid, parent_id or None, checkpoint,
                                  _metadata(meta, where), writes.get((thread_id, ns, cid), []))
