"""Builds the LangGraph databases that tests/test_import_langgraph.py imports.

Run from the repository root with LangGraph's own Python (not cairn's):

    benchmarks/.venv-langgraph/bin/python -m tests.langgraph_fixtures.make

It runs the graph of ``models.py`` with LangGraph 1.2.22 on a SqliteSaver and
on a PostgresSaver (in a schema of its own, dropped afterwards), and writes
beside this file:

- ``langgraph.sqlite``: the SqliteSaver's file;
- ``postgres_rows.json``: every row of the PostgresSaver's tables (columns
  and their types, bytea as base64, jsonb as JSON), to load into a fresh
  schema;
- ``expected.json``: what LangGraph's ``get_state_history`` showed for each
  thread (the same for both savers; checked here).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.types import Command, Send, interrupt

from tests.langgraph_fixtures.models import build, build_fanout, build_nested, history, nested_view

HERE = Path(__file__).parent
URL = os.environ.get("CAIRN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("checkpoint_migrations", "checkpoints", "checkpoint_blobs", "checkpoint_writes")


def run_threads(saver: Any) -> dict[str, Any]:
    """The threads: a finished run, a run paused at an interrupt, a run
    resumed after one, a thread forked by update_state, a run paused in a
    subgraph, and a fan-out by Send (other graphs)."""
    graph = build(StateGraph, START, END, add_messages, interrupt, AIMessage).compile(checkpointer=saver)
    cfg = lambda t: {"configurable": {"thread_id": t}}  # noqa: E731
    graph.invoke({"items": ["start"], "messages": [HumanMessage(content="hi", id="h-1")]}, cfg("done"))
    graph.invoke({"items": ["start"], "ask": True}, cfg("paused"))
    graph.invoke({"items": ["start"], "ask": True}, cfg("resumed"))
    graph.invoke(Command(resume="go on"), cfg("resumed"))
    graph.invoke({"items": ["start"]}, cfg("forked"))
    past = [s for s in graph.get_state_history(cfg("forked")) if s.next == ("ask",)][0]
    graph.update_state(past.config, {"items": ["edited"]}, as_node="first")
    shown: dict[str, Any] = {t: history(graph, t) for t in ("done", "paused", "resumed", "forked")}
    nested = build_nested(StateGraph, START, END, interrupt).compile(checkpointer=saver)
    nested.invoke({"items": ["start"]}, cfg("nested"))
    shown["nested"] = nested_view(nested, "nested")
    fanout = build_fanout(StateGraph, START, END, Send).compile(checkpointer=saver)
    fanout.invoke({"letters": ["a", "b"]}, cfg("fanout"))
    shown["fanout"] = history(fanout, "fanout")
    return shown


def jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def dump_postgres(conn: psycopg.Connection, schema: str) -> dict[str, Any]:
    tables = {}
    for table in TABLES:
        columns = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
        names = [c for c, _ in columns]
        rows = conn.execute(
            f"SELECT {', '.join(names)} FROM {schema}.{table} ORDER BY {', '.join(names[:1])}"
        ).fetchall()
        tables[table] = {"columns": [list(c) for c in columns],
                         "rows": [[jsonable(v) for v in row] for row in rows]}
    return tables


def main() -> None:
    target = HERE / "langgraph.sqlite"
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(target, check_same_thread=False)
    expected = run_threads(SqliteSaver(conn))
    conn.close()
    tidy = sqlite3.connect(target)  # one file, no -wal beside it
    tidy.execute("PRAGMA journal_mode=DELETE")
    tidy.execute("VACUUM")
    tidy.close()
    schema = f"lgfix_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            url = f"{URL}?options={quote(f'-csearch_path={schema}')}"
            with PostgresSaver.from_conn_string(url) as saver:
                saver.setup()
                on_postgres = run_threads(saver)
            rows = dump_postgres(admin, schema)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    (HERE / "postgres_rows.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    (HERE / "expected.json").write_text(json.dumps({"sqlite": expected, "postgres": on_postgres},
                                                   indent=1) + "\n")
    print("wrote", target.name, "postgres_rows.json", "expected.json")


if __name__ == "__main__":
    main()
