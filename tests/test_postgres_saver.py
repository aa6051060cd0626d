"""PostgresSaver / AsyncPostgresSaver against a real PostgreSQL server: the
seeds' ways of opening it, a user's own connections and pools, setup and
migration (also raced by several processes), refused schemas, bad URLs and
unreachable servers, prepared statements, connections the server drops, and
awkward thread ids. The saver contract and graph behaviour run on PostgreSQL
through the ``saver`` fixture (and the storage figures in test_storage.py).

Every test goes through tests/pg.py, so without a server the tests are skipped
with the reason (and fail under CI=true)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

if os.environ.get("CI", "").lower() != "true":  # under CI a missing driver fails the run
    for _module in ("psycopg", "psycopg_pool"):
        pytest.importorskip(_module, reason="pip install -e '.[dev]' to run the PostgreSQL tests")
import psycopg  # noqa: E402
import psycopg_pool  # noqa: E402
from psycopg import conninfo  # noqa: E402

from cairn.checkpoint.base import PendingWrite  # noqa: E402
from cairn.checkpoint.postgres import PostgresSaver  # noqa: E402
from cairn.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: E402
from cairn.checkpoint.sql import SCHEMA_VERSION  # noqa: E402
from cairn.errors import CairnError, ConfigError, StorageError  # noqa: E402
from cairn.graph import START, StateGraph  # noqa: E402
from tests.fake_postgres import TOO_MANY_CLIENTS, FakePostgres  # noqa: E402
from tests.pg import fresh_schema, require_postgres, server_url  # noqa: E402
from tests.saver_records import Recorder, fold  # noqa: E402
from tests.support import Log, async_pair, cid, history, linear, run_async, steps, thread  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAIRN_TABLES = ["cairn_checkpoints", "cairn_leases", "cairn_meta", "cairn_pending"]
ABC = {"log": ["a", "b", "c"]}


# --- helpers -------------------------------------------------------------------------


def with_param(url: str, key: str, value: str) -> str:
    """``url`` with one more query parameter (joined as tests.pg joins search_path)."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{key}={quote(value)}"


def app_name(purpose: str) -> str:
    """An application_name of this test alone, to find its saver's backends."""
    return f"cairn_{purpose}_{uuid.uuid4().hex[:8]}"


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a connection of its own (outside any saver)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description is not None else []


def tables(url: str) -> list[str]:
    """The tables of the schema ``url`` puts first on the search_path."""
    return [
        name
        for (name,) in query(
            url,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name",
        )
    ]


def meta(url: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in query(url, "SELECT key, value FROM cairn_meta ORDER BY key")]


def backends(name: str) -> int:
    """How many server processes serve connections named ``name``."""
    return query(
        server_url(),
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        (name,),
    )[0][0]


def wait_for_backends(name: str, expected: int, timeout: float = 10.0) -> int:
    """The number of backends named ``name`` once it is ``expected`` (or at the timeout);
    a closed connection's backend leaves pg_stat_activity a moment later."""
    deadline = time.monotonic() + timeout
    count = backends(name)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        count = backends(name)
    return count


def terminate(**where: Any) -> int:
    """Have the server drop the connections named by application_name or pid;
    returns how many it dropped, once they are gone."""
    ((column, value),) = where.items()
    with psycopg.connect(server_url(), autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            f"AND datname = current_database() AND {column} = %s",
            (value,),
        ).fetchall()
        deadline = time.monotonic() + 10
        while admin.execute(
            f"SELECT count(*) FROM pg_stat_activity WHERE {column} = %s", (value,)
        ).fetchall()[0][0] and time.monotonic() < deadline:
            time.sleep(0.01)
    return sum(1 for (ok,) in dropped if ok)


def messages(exc: BaseException | None) -> str:
    """The messages of an exception and of every exception chained to it."""
    parts = []
    while exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def run_child(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.pg_child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"child {args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def snapshots(graph: Any, thread_id: str) -> list[tuple[Any, ...]]:
    """A thread's history as comparable tuples."""
    return [
        (cid(s.config), s.values, s.next, s.metadata, cid(s.parent_config))
        for s in history(graph, thread(thread_id))
    ]


def assert_abc_history(graph: Any, thread_id: str) -> None:
    """The complete history of one run of ``linear`` on a new thread."""
    assert graph.get_state(thread(thread_id)).values == ABC
    past = history(graph, thread(thread_id))
    assert steps(past) == [3, 2, 1, 0, -1]
    assert [s.values for s in past] == [ABC, {"log": ["a", "b"]}, {"log": ["a"]}, {"log": []}, {"log": []}]
    assert [s.next for s in past] == [(), ("c",), ("b",), ("a",), ("__start__",)]


@pytest.fixture
def url() -> Iterator[str]:
    """A URL whose tables land in a new, empty schema (dropped afterwards)."""
    with fresh_schema() as fresh:
        yield fresh


# --- 1. ways of opening it ---------------------------------------------------------


def test_from_conn_string_used_directly_as_the_seeds_do_and_history_survives(url: str) -> None:
    saver = PostgresSaver.from_conn_string(url)
    graph = linear(saver)
    assert graph.invoke({"log": []}, thread("user_123")) == ABC
    saver.close()

    # A restarted application: a new saver on the same URL finds everything.
    restarted = PostgresSaver.from_conn_string(url)
    graph = linear(restarted)
    assert_abc_history(graph, "user_123")
    assert graph.invoke({"log": ["more"]}, thread("user_123")) == {
        "log": ["a", "b", "c", "more", "a", "b", "c"]
    }
    restarted.close()

    # And another process reads it too.
    seen = json.loads(run_child("history", url, "user_123").stdout)
    assert seen["values"] == {"log": ["a", "b", "c", "more", "a", "b", "c"]}
    assert seen["steps"] == [8, 7, 6, 5, 4, 3, 2, 1, 0, -1]  # input at 4, then step 5 on
    assert seen["values_by_step"][5] == ABC  # step 3


def test_from_conn_string_in_a_with_block_closes_its_own_pool(url: str) -> None:
    name = app_name("own_pool")
    with PostgresSaver.from_conn_string(with_param(url, "application_name", name)) as saver:
        graph = linear(saver)
        assert graph.invoke({"log": []}, thread("t")) == ABC
        assert backends(name) >= 1  # its pool is connected
    # Closed at the end of `with`: the saver's connections are gone from the server.
    assert wait_for_backends(name, 0) == 0
    with PostgresSaver.from_conn_string(url) as reopened:
        assert_abc_history(linear(reopened), "t")


def test_using_a_closed_saver_says_it_was_closed(url: str) -> None:
    with PostgresSaver.from_conn_string(url) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
    with pytest.raises(CairnError, match="closed"):
        graph.get_state(thread("t"))


@pytest.mark.parametrize("kind", ["autocommit connection", "connection without autocommit", "pool"])
def test_a_users_connection_or_pool_works_and_stays_open_after_close(url: str, kind: str) -> None:
    if kind == "autocommit connection":
        given: Any = psycopg.connect(url, autocommit=True)
    elif kind == "connection without autocommit":
        given = psycopg.connect(url)  # autocommit=False
    else:
        given = psycopg_pool.ConnectionPool(url, min_size=1, max_size=2, open=True)
    try:
        saver = PostgresSaver(given)
        graph = linear(saver)
        assert graph.invoke({"log": []}, thread("t")) == ABC
        graph.update_state(thread("t"), {"log": ["edited"]})
        before = snapshots(graph, "t")
        assert steps(history(graph, thread("t"))) == [4, 3, 2, 1, 0, -1]
        if kind == "connection without autocommit":
            # Each write was committed; no transaction was left open on it.
            assert given.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        saver.close()

        # Closing the saver left the user's connection or pool open and usable...
        assert not given.closed
        if kind == "pool":
            with given.connection() as conn:
                assert conn.execute("SELECT count(*) FROM cairn_checkpoints").fetchone()[0] == 6
        else:
            assert given.execute("SELECT count(*) FROM cairn_checkpoints").fetchone()[0] == 6
            given.commit()
    finally:
        given.close()

    # ... and everything was committed: another saver on the URL sees it.
    with PostgresSaver(url) as reopened:
        assert snapshots(linear(reopened), "t") == before


# --- 2. setup and migration -------------------------------------------------------


def test_setup_is_idempotent(url: str) -> None:
    with PostgresSaver(url) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
        for _ in range(3):
            saver.setup()
        assert tables(url) == CAIRN_TABLES
        assert meta(url) == [("schema_version", str(SCHEMA_VERSION))]
        assert_abc_history(graph, "t")
        graph.invoke({"log": []}, thread("t2"))
    for _ in range(3):
        with PostgresSaver(url) as again:  # setup when made, then again
            again.setup()
            assert_abc_history(linear(again), "t2")
    assert tables(url) == CAIRN_TABLES


# The schema of a cairn from before leases (schema version 1), written out by hand.
V1_SCHEMA = (
    "CREATE TABLE cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE cairn_checkpoints ("
    ' thread_id TEXT COLLATE "C" NOT NULL, ns TEXT COLLATE "C" NOT NULL,'
    ' id TEXT COLLATE "C" NOT NULL, parent_id TEXT COLLATE "C",'
    " step INTEGER NOT NULL, source TEXT NOT NULL,"
    " metadata BYTEA NOT NULL, writes BYTEA NOT NULL, plan BYTEA NOT NULL, snapshot BYTEA,"
    " snapshot_bytes BIGINT NOT NULL, log_bytes BIGINT NOT NULL,"
    " PRIMARY KEY (thread_id, ns, id))",
    "CREATE TABLE cairn_pending ("
    ' thread_id TEXT COLLATE "C" NOT NULL, ns TEXT COLLATE "C" NOT NULL,'
    ' checkpoint_id TEXT COLLATE "C" NOT NULL, task_id TEXT COLLATE "C" NOT NULL,'
    " kind TEXT NOT NULL, value BYTEA NOT NULL,"
    " PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, kind))",
    "INSERT INTO cairn_meta (key, value) VALUES ('schema_version', '1')",
)
CHECKPOINT_COLUMNS = (
    "thread_id, ns, id, parent_id, step, source, metadata, writes, plan, snapshot, "
    "snapshot_bytes, log_bytes"
)
PENDING_COLUMNS = "thread_id, ns, checkpoint_id, task_id, kind, value"


def broken_at_b(saver: Any, broken: bool) -> Any:
    """a -> b -> c where b raises while ``broken``."""

    def node(name: str) -> Any:
        def run(state: Log) -> dict[str, Any]:
            if name == "b" and broken:
                raise RuntimeError("b is broken")
            return {"log": [name]}

        return run

    builder = StateGraph(Log)
    for name in "abc":
        builder.add_node(name, node(name))
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    return builder.compile(checkpointer=saver)


def make_v1_schema(url: str, data_from: str) -> None:
    """Version-1 tables in ``url``'s schema, holding the rows cairn wrote to ``data_from``'s."""
    source = query(data_from, "SELECT current_schema()")[0][0]
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        for statement in V1_SCHEMA:
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO cairn_checkpoints ({CHECKPOINT_COLUMNS}) "
            f'SELECT {CHECKPOINT_COLUMNS} FROM "{source}".cairn_checkpoints'
        )
        conn.execute(
            f"INSERT INTO cairn_pending ({PENDING_COLUMNS}) "
            f'SELECT {PENDING_COLUMNS} FROM "{source}".cairn_pending'
        )


def test_a_version_1_schema_is_migrated_with_its_data_readable(url: str) -> None:
    with fresh_schema() as written:
        with PostgresSaver(written) as saver:
            linear(saver).invoke({"log": []}, thread("done"))
            with pytest.raises(RuntimeError, match="b is broken"):
                broken_at_b(saver, broken=True).invoke({"log": []}, thread("failed"))
            expected_done = snapshots(linear(saver), "done")
            expected_failed = snapshots(broken_at_b(saver, broken=False), "failed")
            assert saver.stats().pending_writes >= 1  # b's error is among the rows
        make_v1_schema(url, data_from=written)
    assert tables(url) == ["cairn_checkpoints", "cairn_meta", "cairn_pending"]
    assert meta(url) == [("schema_version", "1")]

    with PostgresSaver(url) as saver:
        assert tables(url) == CAIRN_TABLES
        assert meta(url) == [("schema_version", str(SCHEMA_VERSION))]
        assert snapshots(linear(saver), "done") == expected_done
        graph = broken_at_b(saver, broken=False)
        assert snapshots(graph, "failed") == expected_failed
        stopped = graph.get_state(thread("failed"))
        assert stopped.next == ("b",)
        assert "b is broken" in (stopped.tasks[0].error or "")
        # The migrated thread runs on (which takes a lease, in the new table).
        assert graph.invoke(None, thread("failed")) == ABC
        assert steps(history(graph, thread("failed"))) == [3, 2, 1, 0, -1]


@pytest.mark.parametrize("start", ["empty schema", "version 1 schema"])
def test_setup_raced_by_four_processes_makes_one_set_of_tables(
    url: str, start: str, tmp_path: Path
) -> None:
    if start == "version 1 schema":
        with fresh_schema() as written:
            with PostgresSaver(written) as saver:
                linear(saver).invoke({"log": []}, thread("old"))
            make_v1_schema(url, data_from=written)
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.pg_child", "setup", url, str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for child in children:  # each has imported cairn and waits for the go file
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            if line != "ready":
                out, err = child.communicate(timeout=60)
                pytest.fail(f"a setup process did not start:\n{line}{out}\n{err}")
        go.touch()
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, f"a setup process failed:\n{out}\n{err}"
            assert out.strip() == "ok"
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert tables(url) == CAIRN_TABLES
    assert meta(url) == [("schema_version", str(SCHEMA_VERSION))]
    with PostgresSaver(url) as saver:
        graph = linear(saver)
        if start == "version 1 schema":
            assert_abc_history(graph, "old")
        graph.invoke({"log": []}, thread("new"))
        assert_abc_history(graph, "new")


def test_setup_inside_a_users_open_transaction_commits_with_it(url: str) -> None:
    conn = psycopg.connect(url)  # autocommit=False
    try:
        conn.execute("SELECT 1")  # the user's transaction is open
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        saver = PostgresSaver(conn)
        # The saver neither committed nor broke the user's transaction...
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SELECT to_regclass('cairn_meta') IS NOT NULL").fetchone() == (True,)
        assert tables(url) == []  # ... so nobody else sees the tables yet
        conn.commit()
        assert tables(url) == CAIRN_TABLES
        assert meta(url) == [("schema_version", str(SCHEMA_VERSION))]
        graph = linear(saver)
        assert graph.invoke({"log": []}, thread("t")) == ABC
        assert_abc_history(graph, "t")
        saver.close()
    finally:
        conn.close()
    with PostgresSaver(url) as reopened:
        assert_abc_history(linear(reopened), "t")


def test_setup_on_a_connection_without_autocommit_outside_a_transaction_commits(url: str) -> None:
    conn = psycopg.connect(url)  # autocommit=False, no transaction open yet
    try:
        saver = PostgresSaver(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert tables(url) == CAIRN_TABLES  # committed: visible to others at once
        saver.setup()
        assert tables(url) == CAIRN_TABLES
        assert linear(saver).invoke({"log": []}, thread("t")) == ABC
    finally:
        conn.close()
    with PostgresSaver(url) as reopened:
        assert_abc_history(linear(reopened), "t")


# --- 3. schemas cairn must not touch --------------------------------------------


def everything(url: str) -> tuple[Any, ...]:
    """What a schema holds, to compare before and after."""
    return (
        tables(url),
        meta(url),
        query(url, "SELECT thread_id, id, step FROM cairn_checkpoints ORDER BY id"),
        query(url, "SELECT count(*) FROM cairn_pending"),
    )


def test_a_schema_of_a_newer_cairn_is_refused_and_left_unchanged(url: str) -> None:
    with PostgresSaver(url) as saver:
        linear(saver).invoke({"log": []}, thread("t"))
    query(url, "UPDATE cairn_meta SET value = '99' WHERE key = 'schema_version'")
    before = everything(url)

    name = app_name("newer")
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(with_param(url, "application_name", name))
    message = str(excinfo.value)
    assert "newer" in message and "upgrade" in message
    assert "99" in message
    assert wait_for_backends(name, 0) == 0  # the refused saver closed its pool

    conn = psycopg.connect(url, autocommit=True)
    try:
        with pytest.raises(StorageError, match="newer"):
            PostgresSaver(conn)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # still usable
    finally:
        conn.close()
    assert everything(url) == before


def test_a_foreign_cairn_checkpoints_table_is_refused_and_left_unchanged(url: str) -> None:
    query(url, "CREATE TABLE cairn_checkpoints (id INTEGER PRIMARY KEY, note TEXT)")
    query(url, "INSERT INTO cairn_checkpoints VALUES (1, 'mine')")
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(url)
    assert "cairn_checkpoints" in str(excinfo.value)
    assert tables(url) == ["cairn_checkpoints"]
    assert query(url, "SELECT id, note FROM cairn_checkpoints") == [(1, "mine")]


def test_a_cairn_meta_table_without_a_schema_version_is_refused(url: str) -> None:
    query(url, "CREATE TABLE cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with pytest.raises(StorageError, match="schema version"):
        PostgresSaver(url)
    assert tables(url) == ["cairn_meta"]
    assert meta(url) == []


# --- 4. bad input ----------------------------------------------------------------


def server_params() -> dict[str, Any]:
    return conninfo.conninfo_to_dict(server_url())


def test_an_unreachable_server_gives_up_after_a_few_tries_naming_host_and_port() -> None:
    require_postgres()
    started = time.monotonic()
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver.from_conn_string("postgresql://postgres:s3cret@127.0.0.1:1/postgres")
    assert time.monotonic() - started < 60  # it returned: the retry is bounded
    message = str(excinfo.value)
    assert "127.0.0.1:1" in message
    assert "tries" in message
    assert "s3cret" not in messages(excinfo.value)


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql://postgres@127.0.0.1:5432",
        "postgresql://postgres:s3cret@127.0.0.1:5432",
        "postgresql://postgres:s3cret@127.0.0.1:5432/",
    ],
)
def test_a_url_without_a_database_says_to_add_it(bad: str) -> None:
    require_postgres()
    with pytest.raises(ConfigError) as excinfo:
        PostgresSaver(bad)
    message = str(excinfo.value)
    assert "names no database" in message and "add it" in message
    assert "s3cret" not in messages(excinfo.value)


def test_a_role_that_does_not_exist_is_named_without_retrying() -> None:
    require_postgres()
    url = conninfo.make_conninfo(server_url(), user="no_such_user_cairn", password="s3cret")
    started = time.monotonic()
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(url)
    elapsed = time.monotonic() - started
    message = str(excinfo.value)
    assert "no_such_user_cairn" in message
    assert "does not exist" in message or "authentication" in message
    assert "tries" not in message
    assert elapsed < 0.9, f"took {elapsed:.1f} s: it waited to retry a refusal"
    assert "s3cret" not in messages(excinfo.value)


def test_a_database_that_does_not_exist_is_named_without_retrying() -> None:
    require_postgres()
    url = conninfo.make_conninfo(server_url(), dbname="no_such_db_cairn")
    started = time.monotonic()
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(url)
    elapsed = time.monotonic() - started
    message = str(excinfo.value)
    assert "no_such_db_cairn" in message and "does not exist" in message
    assert "tries" not in message
    assert elapsed < 0.9, f"took {elapsed:.1f} s: it waited to retry a refusal"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "not a url",
        "http://example.com/db",
        "postgresql://[::1",
        "postgresql://postgres:s3cret@127.0.0.1:5432/postgres?no_such_option=1",
    ],
)
def test_garbage_urls_are_config_errors(garbage: str) -> None:
    require_postgres()
    with pytest.raises(ConfigError) as excinfo:
        PostgresSaver(garbage)
    assert "postgresql://user" in str(excinfo.value)  # shows the form a URL takes
    assert "s3cret" not in messages(excinfo.value)


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql://postgres@127.0.0.1:5432?password=s3cret",
        "host=127.0.0.1 password=s3cret dbname",
    ],
    ids=["password-query-parameter", "key-value-conninfo"],
)
def test_a_password_outside_the_user_part_is_not_shown_either(bad: str) -> None:
    require_postgres()
    with pytest.raises(ConfigError) as excinfo:
        PostgresSaver(bad)
    assert "s3cret" not in str(excinfo.value)


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql://postgres@127.0.0.1:99999/postgres",
        "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=bogus",
    ],
    ids=["port-99999", "sslmode-bogus"],
)
def test_invalid_values_in_a_url_are_config_errors(bad: str) -> None:
    require_postgres()
    with pytest.raises(ConfigError):
        PostgresSaver(bad)


# --- connection failures name their cause, and only a passing one is retried ------
# tests/fake_postgres.py answers as a server with SSL off, or on, or asking for a
# password: the test server trusts every user and has no SSL.


@pytest.fixture
def no_stored_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """libpq finds no password but the URL's (nor an SSL setting) in the environment."""
    for name in ("PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))


def refusal(url: str) -> tuple[str, float]:
    """The StorageError's message for opening a saver on ``url``, and the seconds taken."""
    started = time.monotonic()
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(url)
    return str(excinfo.value), time.monotonic() - started


def connect_module() -> Any:
    """cairn.checkpoint.postgres.connect (the package's ``connect`` is the function)."""
    import importlib

    return importlib.import_module("cairn.checkpoint.postgres.connect")


def counted_lookups(monkeypatch: pytest.MonkeyPatch, lookup: Any) -> list[str]:
    """Route psycopg's host name look-ups through ``lookup``; returns the hosts asked for."""
    import socket

    asked: list[str] = []

    def counting(host: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    monkeypatch.setattr(connect_module().time, "sleep", lambda seconds: None)
    return asked


def test_sslmode_require_against_a_server_without_ssl_says_so_without_retrying(
    no_stored_password: None,
) -> None:
    with FakePostgres(ssl=b"N") as server:
        message, elapsed = refusal(server.url(query="sslmode=require"))
        assert server.connections == 1
    assert elapsed < 0.9, f"took {elapsed:.1f} s: it waited to retry a refusal"
    assert "does not support SSL" in message
    assert "sslmode='require'" in message  # where the demand for SSL comes from
    assert "sslmode=prefer" in message or "sslmode=disable" in message  # what to do
    assert "tries" not in message and "host and port" not in message


def test_sslmode_verify_full_against_the_test_server_without_ssl_says_so() -> None:
    require_postgres()
    with psycopg.connect(server_url()) as conn:
        ssl = conn.execute("SHOW ssl").fetchone()
    if ssl != ("off",):
        pytest.skip("the test server has SSL on: the fake server's test covers this case")
    message, elapsed = refusal(conninfo.make_conninfo(server_url(), sslmode="verify-full"))
    assert elapsed < 0.9
    assert "does not support SSL" in message and "sslmode='verify-full'" in message
    assert "tries" not in message and "host and port" not in message


def test_verify_full_without_the_root_certificate_names_the_file_and_sslrootcert(
    no_stored_password: None, tmp_path: Path
) -> None:
    missing = tmp_path / "root.crt"
    with FakePostgres(ssl=b"S") as server:
        message, elapsed = refusal(server.url(query=f"sslmode=verify-full&sslrootcert={missing}"))
        assert server.connections == 1
    assert elapsed < 0.9
    assert str(missing) in message
    assert "sslrootcert=" in message and "sslmode=require" in message
    assert "password" not in message  # not the advice for a refused user


def test_a_wrong_password_is_named_without_retrying(no_stored_password: None) -> None:
    with FakePostgres(password=True) as server:
        url = server.url(user="alice:s3cret")
        message, elapsed = refusal(url)
        assert server.connections == 1
    assert elapsed < 0.9
    assert 'password authentication failed for user "alice"' in message
    assert "check the password" in message
    assert "tries" not in message and "host and port" not in message
    assert "s3cret" not in message


def test_a_password_the_server_asks_for_and_the_url_lacks_is_named_without_retrying(
    no_stored_password: None,
) -> None:
    with FakePostgres(password=True) as server:
        message, elapsed = refusal(server.url())
        assert server.connections == 1
    assert elapsed < 0.9, f"took {elapsed:.1f} s: it retried a missing password"
    assert "no password supplied" in message
    assert "postgresql://user:password@" in message and "PGPASSWORD" in message
    assert "tries" not in message and "host and port" not in message


def test_a_server_out_of_connection_slots_is_retried_and_says_so(
    no_stored_password: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connect_module().time, "sleep", lambda seconds: None)
    with FakePostgres(password=False, error=TOO_MANY_CLIENTS) as server:
        message, _ = refusal(server.url())
        assert server.connections == 3
    assert "too many clients" in message and "after 3 tries" in message
    assert "max_connections" in message
    assert "host and port" not in message


def test_a_host_name_no_name_server_knows_is_named_without_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    host = "no-such-host.invalid"  # RFC 6761: never resolves
    try:
        socket.getaddrinfo(host, 5432)
    except socket.gaierror as exc:
        if exc.errno not in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            pytest.skip(f"this machine's name server does not answer ({exc})")
    asked = counted_lookups(monkeypatch, socket.getaddrinfo)
    with pytest.raises(StorageError) as excinfo:  # not a ConfigError: the URL is well formed
        PostgresSaver(f"postgresql://postgres@{host}:5432/postgres")
    message = str(excinfo.value)
    assert asked == [host]  # asked once: no retry
    assert f"{host!r}" in message
    assert "check the host" in message
    assert "tries" not in message and "value libpq refuses" not in message


def test_a_name_server_that_fails_for_now_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def lookup(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    asked = counted_lookups(monkeypatch, lookup)
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver("postgresql://postgres@db.example.com:5432/postgres")
    message = str(excinfo.value)
    assert asked == ["db.example.com"] * 3
    assert "after 3 tries" in message and "Temporary failure in name resolution" in message
    assert "name server" in message


def test_a_missing_database_whose_name_says_invalid_is_not_called_a_bad_url_value() -> None:
    require_postgres()
    url = conninfo.make_conninfo(server_url(), dbname="invalid_things")
    with pytest.raises(StorageError) as excinfo:
        PostgresSaver(url)
    message = str(excinfo.value)
    assert 'database "invalid_things" does not exist' in message
    assert "value libpq refuses" not in message
    assert "createdb" in message


@pytest.mark.parametrize(
    ("url", "scheme", "advice"),
    [
        ("postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/postgres", "postgresql+psycopg", "postgresql://"),
        ("sqlite:///checkpoints.db", "sqlite", "SqliteSaver"),
        ("mysql://root:s3cret@127.0.0.1/db", "mysql", "postgresql://"),
    ],
    ids=["sqlalchemy-driver", "sqlite", "mysql"],
)
def test_a_url_of_another_scheme_names_the_scheme(url: str, scheme: str, advice: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        PostgresSaver(url)
    message = str(excinfo.value)
    assert f"{scheme}://" in message and advice in message
    assert "missing" not in message and "\n" not in message  # not libpq's parser talking
    assert "s3cret" not in messages(excinfo.value)


@pytest.mark.parametrize("size", [0, -1, 2.5, True, None, "10"])
def test_a_bad_pool_size_is_a_config_error_before_connecting(size: Any) -> None:
    require_postgres()
    started = time.monotonic()
    with pytest.raises(ConfigError, match="pool_size"):
        # An unreachable server: the size is checked first, without retrying.
        PostgresSaver("postgresql://postgres@127.0.0.1:1/postgres", pool_size=size)
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    "thing",
    [None, 42, b"postgresql://postgres@127.0.0.1:5432/postgres", {"host": "127.0.0.1"}, Path("db")],
    ids=["None", "int", "bytes", "dict", "path"],
)
def test_something_else_than_a_url_connection_or_pool_is_a_config_error(thing: Any) -> None:
    require_postgres()
    with pytest.raises(ConfigError) as excinfo:
        PostgresSaver(thing)
    assert "psycopg.Connection" in str(excinfo.value)
    assert type(thing).__name__ in str(excinfo.value)


# --- 5. prepared statements --------------------------------------------------------


@pytest.mark.parametrize("prepare", [False, True])
@pytest.mark.parametrize("given", ["url", "connection", "pool"])
def test_no_server_side_prepared_statements_unless_asked(url: str, given: str, prepare: bool) -> None:
    """psycopg prepares a statement on its 5th run by default (prepare_threshold=5):
    the saver must not let it, so that it works behind PgBouncer in transaction
    mode; asked to (prepare=True), it prepares, on the pool it makes from a URL too."""
    conn: Any = None
    if given == "connection":
        conn = psycopg.connect(url, autocommit=True)
        saver = PostgresSaver(conn, prepare=prepare)
        pool = None
    elif given == "pool":  # one connection, so the one the saver used is the one asked afterwards
        pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=1, open=True)
        saver = PostgresSaver(pool, prepare=prepare)
    else:
        saver = PostgresSaver(url, pool_size=1, prepare=prepare)
        pool = saver._pool
    try:
        graph = linear(saver)
        for i in range(12):
            graph.invoke({"log": []}, thread(f"t{i}"))
            graph.get_state(thread(f"t{i}"))
        assert_abc_history(graph, "t11")
        sql = "SELECT count(*) FROM pg_prepared_statements"
        if conn is not None:
            prepared = conn.execute(sql).fetchall()[0][0]
        else:
            with pool.connection() as pooled:
                prepared = pooled.execute(sql).fetchall()[0][0]
        if prepare:
            assert prepared > 0
        else:
            assert prepared == 0
    finally:
        saver.close()
        if given == "connection":
            conn.close()
        elif given == "pool":
            pool.close()


@pytest.mark.parametrize("given", ["connection", "pool"])
def test_prepare_is_refused_on_a_connection_that_never_prepares(url: str, given: str) -> None:
    """prepare=True with prepare_threshold=None would silently prepare nothing."""
    if given == "connection":
        conn: Any = psycopg.connect(url, autocommit=True, prepare_threshold=None)
    else:
        conn = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=1, kwargs={"autocommit": True, "prepare_threshold": None},
            open=True,
        )
    try:
        with pytest.raises(ConfigError, match="prepare_threshold=None"):
            PostgresSaver(conn, prepare=True)
        PostgresSaver(conn, prepare=False).close()  # without asking, it is what the saver wants
    finally:
        conn.close()


# --- 6. connections the server drops ------------------------------------------------


def dropping(saver: Any, drop: Any, at: str = "c") -> Any:
    """a -> b -> c -> d -> e; nodes named in ``at`` call ``drop()`` while running."""

    def node(name: str) -> Any:
        def run(state: Log) -> dict[str, Any]:
            if name in at:
                drop()
            return {"log": [name]}

        return run

    builder = StateGraph(Log)
    previous = START
    for name in "abcde":
        builder.add_node(name, node(name))
        builder.add_edge(previous, name)
        previous = name
    return builder.compile(checkpointer=saver)


def test_connections_the_server_drops_mid_run_are_replaced(url: str) -> None:
    name = app_name("drop_test")
    dropped: list[int] = []
    with PostgresSaver(with_param(url, "application_name", name), pool_size=2) as saver:
        graph = dropping(saver, lambda: dropped.append(terminate(application_name=name)))
        result = graph.invoke({"log": []}, thread("t"))
        assert result == {"log": list("abcde")}
        assert len(dropped) == 1 and dropped[0] >= 1  # the server did drop them
        past = history(graph, thread("t"))
        assert steps(past) == [5, 4, 3, 2, 1, 0, -1]
        assert [s.values["log"] for s in past] == [list("abcde"[:n]) for n in range(5, -1, -1)] + [[]]
        # Dropped again while idle between runs: the next run does not notice either.
        assert terminate(application_name=name) >= 1
        assert graph.invoke({"log": []}, thread("t2")) == {"log": list("abcde")}
        assert saver.stats().threads == 2
    with PostgresSaver(url) as reopened:
        assert steps(history(dropping(reopened, lambda: None), thread("t"))) == [5, 4, 3, 2, 1, 0, -1]


def fill(pool: psycopg_pool.ConnectionPool, size: int) -> None:
    """Bring ``pool`` to ``size`` idle connections, with a pool timeout of 5 s:
    a call that waited for the pool's backoff instead of a new connection
    fails with "no connection free or reachable"."""
    pool.timeout = 5.0
    pool.resize(size, size)
    pool.wait(timeout=10)


def failover(name: str, size: int) -> None:
    """The server drops every connection named ``name`` at once (a restart or
    failover, without restarting the machine's server), all idle."""
    deadline = time.monotonic() + 10
    while backends(name) < size and time.monotonic() < deadline:
        time.sleep(0.02)
    assert terminate(application_name=name) >= size


@pytest.mark.parametrize("kind", ["saver", "users_pool", "async_saver"])
def test_after_a_failover_drops_every_idle_connection_the_next_calls_succeed_at_once(
    url: str, kind: str
) -> None:
    name = app_name("failover")
    named = with_param(url, "application_name", name)
    pool: Any = None
    if kind == "users_pool":
        pool = psycopg_pool.ConnectionPool(named, kwargs={"autocommit": True}, open=True)
        saver = PostgresSaver(pool)
    else:
        saver = (AsyncPostgresSaver if kind == "async_saver" else PostgresSaver)(named, pool_size=10)
    try:
        graph = linear(saver)
        assert graph.invoke({"log": []}, thread("before")) == ABC
        fill(pool if pool is not None else saver._pool, 10)  # the saver's own pool: no public knob
        failover(name, 10)
        if kind == "async_saver":
            assert asyncio.run(graph.ainvoke({"log": []}, thread("after"))) == ABC
            assert asyncio.run(graph.aget_state(thread("before"))).values == ABC
        else:
            assert graph.invoke({"log": []}, thread("after")) == ABC
            assert graph.get_state(thread("before")).values == ABC
        assert [t.thread_id for t in saver.list_threads()] == ["after", "before"]
        failover(name, 1)  # and again, whatever the pool holds now
        assert graph.invoke({"log": []}, thread("again")) == ABC
    finally:
        saver.close()
        if pool is not None:
            pool.close()


def test_after_a_failover_a_saver_on_a_users_async_pool_answers_at_once(url: str) -> None:
    name = app_name("async_failover")
    named = with_param(url, "application_name", name)

    async def main() -> None:
        pool = psycopg_pool.AsyncConnectionPool(
            named, min_size=10, max_size=10, timeout=5.0, kwargs={"autocommit": True}, open=False
        )
        async with pool:
            await pool.wait(timeout=10)
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
            graph = linear(saver)
            assert await graph.ainvoke({"log": []}, thread("before")) == ABC
            await asyncio.get_running_loop().run_in_executor(None, failover, name, 10)
            assert await graph.ainvoke({"log": []}, thread("after")) == ABC
            assert (await graph.aget_state(thread("before"))).values == ABC

    asyncio.run(main())


def test_after_a_failover_the_postgres_store_answers_at_once(url: str) -> None:
    from cairn.store.postgres import PostgresStore

    name = app_name("store_failover")
    with PostgresStore(with_param(url, "application_name", name), pool_size=10) as store:
        store.put(("users", "u1"), "prefs", {"food": "pizza"})
        fill(store._pool, 10)  # the store's own pool: no public knob
        failover(name, 10)
        assert store.get(("users", "u1"), "prefs").value == {"food": "pizza"}
        store.put(("users", "u2"), "prefs", {"food": "soup"})
        assert sorted(item.namespace for item in store.search(("users",))) == [("users", "u1"), ("users", "u2")]


def test_a_users_connection_dropped_by_the_server_gives_a_storage_error_and_advice(url: str) -> None:
    conn = psycopg.connect(url, autocommit=True)
    pid = conn.info.backend_pid
    try:
        saver = PostgresSaver(conn, lease_ttl=1.0)
        graph = dropping(saver, lambda: terminate(pid=pid), at="b")
        with pytest.raises(StorageError), pytest.warns(RuntimeWarning, match="could not release"):
            graph.invoke({"log": []}, thread("t"))
        # From then on every use says what to do instead.
        for _ in range(2):
            with pytest.raises(StorageError) as excinfo:
                graph.get_state(thread("t"))
            message = str(excinfo.value)
            assert "URL" in message and "ConnectionPool" in message
    finally:
        conn.close()

    # What was stored before the drop is intact, and the run resumes on a URL
    # once the dead run's lease ran out.
    with PostgresSaver(url, wait_for_thread=10) as reopened:
        graph = dropping(reopened, lambda: None)
        stopped = graph.get_state(thread("t"))
        assert stopped.values == {"log": ["a"]}
        assert stopped.next == ("b",)
        assert graph.invoke(None, thread("t")) == {"log": list("abcde")}
        assert steps(history(graph, thread("t"))) == [5, 4, 3, 2, 1, 0, -1]


@pytest.mark.filterwarnings("ignore:could not release thread:RuntimeWarning")
def test_the_first_failure_on_a_dropped_users_connection_already_gives_the_advice(url: str) -> None:
    conn = psycopg.connect(url, autocommit=True)
    pid = conn.info.backend_pid
    try:
        saver = PostgresSaver(conn)
        graph = dropping(saver, lambda: terminate(pid=pid), at="b")
        with pytest.raises(StorageError) as excinfo:
            graph.invoke({"log": []}, thread("t"))
        message = str(excinfo.value)
        assert "URL" in message and "ConnectionPool" in message
    finally:
        conn.close()


# --- 7. async ------------------------------------------------------------------------


def test_async_saver_with_ainvoke_aget_state_and_history_read_by_a_sync_saver(url: str) -> None:
    builder = async_pair()

    async def main() -> tuple[Any, Any, list[Any]]:
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            return await run_async(builder, saver, "a")

    result, snapshot, past = asyncio.run(main())
    assert result == {"log": ["first", "second"]}
    assert snapshot.values == result
    assert snapshot.next == ()
    assert steps(past) == [2, 1, 0, -1]
    with PostgresSaver(url) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.get_state(thread("a")).values == result
        assert [cid(s.config) for s in history(graph, thread("a"))] == [cid(s.config) for s in past]


# --- 8. compact storage: covered by tests/test_storage.py through the saver fixture.


# --- 9. awkward thread ids and namespaces ------------------------------------------

AWKWARD = [
    "it's 100% ?",
    "%s %(x)s %% ?? ?",
    'say "hi"; DROP TABLE cairn_checkpoints; --',
    "naïve 日本語 🚀",
    "back\\slash\ttab\nnewline",
]


def test_thread_ids_with_quotes_percents_and_question_marks_round_trip(url: str) -> None:
    with PostgresSaver(url) as saver:
        graph = linear(saver)
        for tid in AWKWARD:
            assert graph.invoke({"log": []}, thread(tid)) == ABC
            snapshot = graph.get_state(thread(tid))
            assert snapshot.values == ABC
            assert snapshot.config["configurable"]["thread_id"] == tid
            past = history(graph, thread(tid))
            assert steps(past) == [3, 2, 1, 0, -1]
            assert {s.config["configurable"]["thread_id"] for s in past} == {tid}
            # Time travel by id within the awkward thread.
            assert graph.get_state(past[2].config).values == {"log": ["a"]}
            assert history(graph, thread(tid), before=past[1].config) == past[2:]
        assert sorted(t.thread_id for t in saver.list_threads()) == sorted(AWKWARD)
        copy = AWKWARD[0] + " (copy)"
        saver.copy_thread(AWKWARD[0], copy)
        saver.delete_thread(AWKWARD[1])
        assert sorted(t.thread_id for t in saver.list_threads()) == sorted(
            [copy] + [t for t in AWKWARD if t != AWKWARD[1]]
        )
        assert saver.prune(keep_last=100, thread_id=AWKWARD[2]).checkpoints_deleted == 0
    assert query(url, "SELECT count(*) FROM cairn_checkpoints")[0][0] == 5 * len(AWKWARD)
    with PostgresSaver(url) as reopened:
        graph = linear(reopened)
        assert_abc_history(graph, copy)
        assert graph.get_state(thread(AWKWARD[1])).values == {}
        for tid in AWKWARD[2:]:
            assert_abc_history(graph, tid)


def test_namespaces_and_task_ids_with_quotes_percents_and_question_marks_round_trip(
    url: str,
) -> None:
    """Namespaces through the saver's own API (a graph's namespaces name its subgraph nodes)."""
    with PostgresSaver(url) as saver:
        recorders = [Recorder(saver, tid, ns=ns) for tid in AWKWARD[:3] for ns in ["", *AWKWARD]]
        for recorder in recorders:
            recorder.run(3)
            saver.save_pending(
                recorder.thread_id,
                recorder.ns,
                recorder.last,
                [PendingWrite(f"task {recorder.ns}", "error", f"RuntimeError({recorder.ns!r})")],
            )
    with PostgresSaver(url) as reopened:
        for recorder in recorders:
            tid, ns, last = recorder.thread_id, recorder.ns, recorder.last
            head = reopened.load(tid, ns)
            assert head is not None and (head.thread_id, head.ns, head.id) == (tid, ns, last)
            listed = list(reopened.list_checkpoints(tid, ns))
            assert [c.id for c in listed] == list(reversed(recorder.records))
            assert {(c.thread_id, c.ns) for c in listed} == {(tid, ns)}
            assert fold(reopened.get_chain(tid, ns, last)) == recorder.values[last]
            first = listed[-1].id
            child = reopened.first_child(tid, ns, first)
            assert child is not None and child.id == listed[-2].id
            assert reopened.get_pending(tid, ns, last) == [
                PendingWrite(f"task {ns}", "error", f"RuntimeError({ns!r})")
            ]
        info = {t.thread_id: t.checkpoints for t in reopened.list_threads()}
        assert info == {tid: 3 * (1 + len(AWKWARD)) for tid in AWKWARD[:3]}


# --- a lease row locked by a stalled transaction ------------------------------------------


def test_a_lease_row_locked_by_a_stalled_transaction_makes_the_thread_busy_not_hang(url: str) -> None:
    from cairn.checkpoint.base import Lease
    from cairn.errors import ThreadBusyError

    with PostgresSaver(url) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
        assert saver.acquire(Lease("t", "a run that ended long ago", 0.01)) is None
        time.sleep(0.05)  # its hold expires: the thread is free, its row still there
        with psycopg.connect(url) as stalled:  # holds the row lock until it ends
            stalled.execute("SELECT * FROM cairn_leases WHERE thread_id = 't' FOR UPDATE")
            started = time.monotonic()
            holder = saver.acquire(Lease("t", "someone", 30.0))
            assert holder is not None and "stalled" in holder
            with pytest.raises(ThreadBusyError, match="'t'.*stalled"):
                graph.invoke(None, thread("t"))
            assert time.monotonic() - started < 20  # refused, not left waiting
        # Once that transaction ends, the thread is free again.
        assert saver.acquire(Lease("t", "someone", 30.0)) is None
