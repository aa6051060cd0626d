"""The SQL savers' tables are declared once (cairn/checkpoint/sql/tables.py):
what the databases hold is that declaration, files made before it still
read and resume, and a snapshot's chain is read by its key even where the
planner has no statistics."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from cairn.checkpoint import codec
from cairn.checkpoint.sql.layout import Kind, Role, Table
from cairn.checkpoint.sql.tables import CHECKPOINTS, TABLES
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.checkpoint.sqlite.dialect import SQLITE
from tests.pg import fresh_schema
from tests.support import history, linear, thread


def test_a_checkpoint_row_is_the_declared_columns_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(codec.Row)) == CHECKPOINTS.names


def test_a_new_sqlite_file_holds_the_declared_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    SqliteSaver(path).close()
    conn = sqlite3.connect(path)
    try:
        for table in TABLES:
            found = conn.execute(f"PRAGMA table_info({table.name})").fetchall()
            # (cid, name, type, notnull, default, pk position)
            assert [(r[1], r[2], bool(r[3]), r[5] > 0) for r in found] == [
                (c.name, SQLITE.types[c.kind], not c.null, c.role is Role.KEY)
                for c in table.columns
            ]
        (ddl,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'cairn_checkpoints'"
        ).fetchone()
        assert ddl.endswith("WITHOUT ROWID")
    finally:
        conn.close()


def test_a_new_postgres_schema_holds_the_declared_tables() -> None:
    import psycopg

    from cairn.checkpoint.postgres import PostgresSaver

    with fresh_schema() as url:
        PostgresSaver(url).close()
        with psycopg.connect(url) as conn:
            for table in TABLES:
                found = conn.execute(
                    "SELECT column_name, data_type, is_nullable, collation_name "
                    "FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s ORDER BY ordinal_position",
                    (table.name,),
                ).fetchall()
                assert found == [(c.name, *_postgres_type(c.kind, c.null)) for c in table.columns]


def _postgres_type(kind: Kind, null: bool) -> tuple[str, str, str | None]:
    names = {
        Kind.KEY: "text",
        Kind.TEXT: "text",
        Kind.INT: "integer",
        Kind.BIGINT: "bigint",
        Kind.REAL: "double precision",
        Kind.BLOB: "bytea",
    }
    return names[kind], "YES" if null else "NO", "C" if kind is Kind.KEY else None


# The tables of a SQLite file as cairn made them before they were declared in
# one place (schema version 2), written out by hand.
SQLITE_V2 = (
    "CREATE TABLE cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE cairn_checkpoints ("
    " thread_id TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT,"
    " step INTEGER NOT NULL, source TEXT NOT NULL,"
    " metadata BLOB NOT NULL, writes BLOB NOT NULL, plan BLOB NOT NULL, snapshot BLOB,"
    " snapshot_bytes INTEGER NOT NULL, log_bytes INTEGER NOT NULL,"
    " PRIMARY KEY (thread_id, ns, id)) WITHOUT ROWID",
    "CREATE TABLE cairn_pending ("
    " thread_id TEXT NOT NULL, ns TEXT NOT NULL, checkpoint_id TEXT NOT NULL,"
    " task_id TEXT NOT NULL, kind TEXT NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, kind))",
    "CREATE TABLE cairn_leases ("
    " thread_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL)",
    "INSERT INTO cairn_meta (key, value) VALUES ('schema_version', '2')",
)


def test_a_file_made_before_the_declaration_is_written_read_copied_and_pruned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in SQLITE_V2:
        conn.execute(statement)
    conn.commit()
    conn.close()
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
        graph.invoke({"log": []}, thread("t"))
        saver.copy_thread("t", "u")
        assert saver.prune(keep_last=2).checkpoints_deleted > 0
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        assert graph.get_state(thread("t")).values == graph.get_state(thread("u")).values
        assert graph.get_state(thread("u")).values == {"log": ["a", "b", "c"] * 2}
        assert len(history(graph, "u")) == 2


# -- the chain of a snapshot on PostgreSQL ---------------------------------------------


def _scans(plan: dict[str, Any], table: Table) -> Iterator[dict[str, Any]]:
    """The nodes of an EXPLAIN (FORMAT JSON) plan that read ``table``."""
    if plan.get("Relation Name") == table.name:
        yield plan
    for child in plan.get("Plans", ()):
        yield from _scans(child, table)


def test_a_chain_is_read_by_its_key_on_a_table_the_planner_has_no_statistics_of() -> None:
    import psycopg

    from cairn.checkpoint.postgres import PostgresSaver
    from cairn.checkpoint.postgres.dialect import POSTGRES
    from cairn.checkpoint.sql import _CHAIN

    with fresh_schema() as url:
        with PostgresSaver(url) as saver:
            with psycopg.connect(url, autocommit=True) as conn:
                # As after a burst of writes, before autovacuum analyzes them.
                conn.execute("ALTER TABLE cairn_checkpoints SET (autovacuum_enabled = false)")
            graph = linear(saver)
            for _ in range(400):  # 2,000 checkpoints, chains of dozens
                graph.invoke({"log": []}, thread("t"))
            newest = [s.config["configurable"]["checkpoint_id"] for s in history(graph, "t")][:20]
            chain = max((saver.get_chain("t", "", cid) for cid in newest), key=len)
            head = chain[-1].id
            assert 10 < len(chain) < 2000 and chain[0].snapshot is not None
        with psycopg.connect(url) as conn:
            (explained,) = conn.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {POSTGRES.sql(_CHAIN)}", ("t", "", head)
            ).fetchone()
    scans = list(_scans(explained[0]["Plan"], CHECKPOINTS))
    assert scans
    # A scan run once per link finds that link alone, by its key: the thread's
    # rows are read at most once, never once per link. (On a table of a few
    # hundred rows the planner may rightly read the table for each link.)
    for scan in scans:
        if scan["Actual Loops"] > 1:
            assert scan["Actual Rows"] <= 1 and "id =" in scan["Index Cond"], scan
    read = sum(scan["Actual Rows"] * scan["Actual Loops"] for scan in scans)
    assert read <= 2 * len(chain) + 2000
