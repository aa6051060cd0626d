"""The web viewer's server side, without a browser: ``cairn ui``'s read-only
API over a database the library wrote (no server tables in it), and the
page served by ``cairn serve`` at /ui beside its Bearer token."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli.ui import thread_lister
from cairn.server.ui.viewer import create_viewer
from tests.server_support import serving
from tests.pg import fresh_schema
from tests.server_app import agent_builder, steps
from tests.support import saver_on


def _tables(db: str) -> list[str]:
    """The tables of the database (of its schema, on PostgreSQL)."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
    else:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(r[0] for r in rows)


def _viewer(saver: Any) -> TestClient:
    return TestClient(create_viewer(saver, None, thread_lister(saver)))


@pytest.fixture(params=["sqlite", "postgres"])
def library_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding one thread paused in an interrupt, written by the library."""
    with ExitStack() as stack:
        db = stack.enter_context(fresh_schema()) if request.param == "postgres" else str(tmp_path / "app.db")
        with saver_on(db) as saver:
            graph = agent_builder.compile(checkpointer=saver)
            graph.invoke({"items": ["x"]}, {"configurable": {"thread_id": "order-7"}, "metadata": {"owner": "dan"}})
        yield db


@pytest.fixture
def viewer(library_db: str) -> Iterator[TestClient]:
    with saver_on(library_db) as saver, _viewer(saver) as client:
        yield client


def test_the_viewer_lists_a_library_database_and_reads_its_history(viewer: TestClient, library_db: str) -> None:
    before = _tables(library_db)
    found = viewer.post("/threads/search", json={"metadata": {"owner": "dan"}}).json()
    assert [(t["thread_id"], t["status"]) for t in found] == [("order-7", "interrupted")]
    assert viewer.post("/threads/search", json={"metadata": {"owner": "eve"}}).json() == []

    history = viewer.post("/threads/order-7/history", json={"limit": 10}).json()
    assert [s["metadata"]["step"] for s in history] == [1, 0, -1]
    head = history[0]
    assert head["metadata"]["writes"] == {"first": {"items": ["a"]}}
    assert head["next"] == ["ask"]
    assert [i["value"] for i in head["interrupts"]] == [{"question": "ok?"}]
    assert head["parent_checkpoint_id"] == history[1]["checkpoint_id"]

    at = viewer.get(f"/threads/order-7/state/{history[1]['checkpoint_id']}").json()
    assert at["checkpoint_id"] == history[1]["checkpoint_id"]
    assert (at["values_folded"], at["values"]) == (True, {"items": ["x"]})  # a small state: snapshots stored
    assert _tables(library_db) == before  # no server tables made: nothing written


def test_without_the_graph_a_state_not_stored_is_marked_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAIRN_TEST_COUNTS", str(tmp_path / "counts.log"))
    db = tmp_path / "steps.db"
    with SqliteSaver.from_conn_string(str(db)) as saver:
        steps.compile(checkpointer=saver).invoke({"items": ["x" * 200]}, {"configurable": {"thread_id": "long"}})
        with _viewer(saver) as client:
            history = client.get("/threads/long/history", params={"limit": 10}).json()
    # The first step's state is stored whole; the later ones are writes to fold with the reducers.
    assert [(s["metadata"]["step"], s["values_folded"]) for s in history] == [
        (4, False), (3, False), (2, False), (1, False), (0, True), (-1, True)
    ]
    assert history[0]["values"] == {}
    assert history[0]["metadata"]["writes"] == {"s4": {"items": ["s4"]}}


def test_the_viewer_refuses_writes_and_names_what_is_missing(viewer: TestClient) -> None:
    for method, path in [("POST", "/threads/order-7/state"), ("POST", "/threads/order-7/runs"),
                         ("DELETE", "/threads/order-7"), ("PATCH", "/threads/order-7"), ("POST", "/threads")]:
        response = viewer.request(method, path, json={})
        assert response.status_code == 405, (method, path)
        assert "cairn ui is read-only" in response.json()["detail"]
    missing = viewer.get("/threads/nope/state")
    assert missing.status_code == 404
    assert "'nope' not found" in missing.json()["detail"]
    assert viewer.get("/info").json()["flags"]["read_only"] is True
    page = viewer.get("/ui/")
    assert page.status_code == 200 and "<title>cairn</title>" in page.text


def test_cairn_serve_serves_the_page_without_its_token_and_the_api_with_it(tmp_path: Path) -> None:
    with serving(tmp_path, "--auth-token", "s3cret") as server:
        assert httpx.get(f"{server.url}/ui", follow_redirects=True).status_code == 200
        assert httpx.get(f"{server.url}/ui/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
        assert httpx.post(f"{server.url}/threads/search", json={}).status_code == 401
        searched = httpx.post(f"{server.url}/threads/search", json={}, headers={"Authorization": "Bearer s3cret"})
        assert searched.status_code == 200


def test_cairn_ui_on_a_missing_file_says_so_and_makes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cairn.cli import cli

    missing = tmp_path / "nope.db"
    result = CliRunner().invoke(cli, ["ui", "--db", str(missing)])
    assert result.exit_code == 1
    assert f"--db {str(missing)!r} is missing" in result.output
    assert not missing.exists()
