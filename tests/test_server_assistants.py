"""Assistants beyond one per graph, driven by LangGraph's own client
(``langgraph_sdk``, sync and async) against ``cairn serve``: created with
their config, context, metadata and name, found, counted, updated into new
versions, set back to an earlier version, deleted; runs on them start from
their config and context; each graph's own assistant stays as it was; bad
requests are refused naming the value and change nothing. On SQLite, and on
PostgreSQL with the runs executed by a ``cairn worker`` process."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.pg import fresh_schema
from tests.server_support import GRAPHS, ServerProcess, make_project, start_server, start_worker, wait_for

pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
from langgraph_sdk import get_client, get_sync_client  # noqa: E402
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError  # noqa: E402

SERVED = {**GRAPHS, "configured": "./server_app.py:configured"}
"""The test graphs, and "configured", whose one node reports the config and context it was run with."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("assistants")
    make_project(folder, SERVED)
    running = start_server(folder)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_sync_client(url=server.url)


def _seen(client: Any, assistant_id: str, **run: Any) -> dict[str, Any]:
    """What the "configured" graph saw in a run on a new thread."""
    thread = client.threads.create()["thread_id"]
    return client.runs.wait(thread, assistant_id, input={}, **run)["seen"]  # type: ignore[no-any-return]


def test_a_database_made_before_assistants_gains_their_tables_when_opened(tmp_path: Path) -> None:
    from cairn.server.assistant_db import AssistantTable
    from cairn.server.db_sqlite import SqliteServerDB

    path = str(tmp_path / "old.db")
    SqliteServerDB(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:  # as a cairn before assistants left it
        conn.execute("DROP TABLE cairn_server_assistants")
        conn.execute("DROP TABLE cairn_server_assistant_versions")
        conn.execute("DELETE FROM cairn_server_meta WHERE key = 'assistants_schema_version'")
    reopened = SqliteServerDB(path)
    try:
        assert AssistantTable(reopened).of_graph(None) == []
    finally:
        reopened.close()


def test_an_assistant_is_created_found_updated_into_versions_set_back_and_deleted(client: Any) -> None:
    mark = uuid.uuid4().hex
    made = client.assistants.create(
        "configured", config={"recursion_limit": 7}, context={"model": "small"},
        metadata={"mark": mark}, name="Alpha bot", description="answers briefly",
    )
    assistant_id = made["assistant_id"]
    assert uuid.UUID(assistant_id) and made["graph_id"] == "configured"
    assert (made["version"], made["name"], made["description"]) == (1, "Alpha bot", "answers briefly")
    assert made["context"] == {"model": "small"}
    assert made["config"] == {"recursion_limit": 7, "configurable": {"model": "small"}}  # mirrored, as LangGraph does
    assert made["metadata"] == {"mark": mark} and made["created_at"] == made["updated_at"]
    assert client.assistants.get(assistant_id) == made

    assert client.assistants.search(metadata={"mark": mark}) == [made]
    assert client.assistants.count(metadata={"mark": mark}) == 1
    assert [a["assistant_id"] for a in client.assistants.search(name="ALPHA B", metadata={"mark": mark})] == [assistant_id]
    assert client.assistants.search(name="no such name") == []
    in_graph = client.assistants.search(graph_id="configured", limit=100)
    assert assistant_id in [a["assistant_id"] for a in in_graph]
    assert {a["metadata"].get("created_by") for a in in_graph if a["assistant_id"] != assistant_id} <= {"system", None}
    assert client.assistants.search(metadata={"mark": mark}, select=["assistant_id", "name"]) == [
        {"assistant_id": assistant_id, "name": "Alpha bot"}
    ]

    second = client.assistants.update(assistant_id, context={"model": "large"}, metadata={"stage": "beta"})
    assert (second["version"], second["name"], second["context"]) == (2, "Alpha bot", {"model": "large"})
    assert second["config"] == {"recursion_limit": 7, "configurable": {"model": "large"}}
    assert second["metadata"] == {"mark": mark, "stage": "beta"}  # merged, as LangGraph does
    assert second["created_at"] == made["created_at"] and second["updated_at"] > made["updated_at"]
    assert client.assistants.get(assistant_id) == second

    versions = client.assistants.get_versions(assistant_id)
    assert [(v["version"], v["context"], v["metadata"]) for v in versions] == [
        (2, {"model": "large"}, {"mark": mark, "stage": "beta"}),
        (1, {"model": "small"}, {"mark": mark}),
    ]
    assert "updated_at" not in versions[0] and versions[1]["name"] == "Alpha bot"
    assert [v["version"] for v in client.assistants.get_versions(assistant_id, metadata={"stage": "beta"})] == [2]
    assert [v["version"] for v in client.assistants.get_versions(assistant_id, limit=1, offset=1)] == [1]

    back = client.assistants.set_latest(assistant_id, 1)
    assert (back["version"], back["context"], back["metadata"]) == (1, {"model": "small"}, {"mark": mark})
    assert client.assistants.get(assistant_id)["version"] == 1
    third = client.assistants.update(assistant_id, name="Alpha bot 3")
    assert (third["version"], third["name"], third["context"]) == (3, "Alpha bot 3", {"model": "small"})

    assert client.assistants.delete(assistant_id) is None
    with pytest.raises(NotFoundError, match=assistant_id):
        client.assistants.get(assistant_id)
    assert client.assistants.count(metadata={"mark": mark}) == 0


def test_each_graphs_own_assistant_is_still_listed_unchanged_beside_created_ones(client: Any) -> None:
    client.assistants.create("agent", metadata={"note": "beside the system one"})
    system = client.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert sorted(a["graph_id"] for a in system) == sorted(SERVED)
    agent = client.assistants.get("agent")
    assert agent["assistant_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "agent"))
    assert (agent["metadata"], agent["config"], agent["context"], agent["version"]) == ({"created_by": "system"}, {}, {}, 1)
    assert [v["version"] for v in client.assistants.get_versions("agent")] == [1]
    assert client.assistants.set_latest("agent", 1)["assistant_id"] == agent["assistant_id"]


def test_search_sorts_pages_and_tells_the_next_page(client: Any) -> None:
    mark = uuid.uuid4().hex
    ids = [client.assistants.create("steps", name=name, metadata={"mark": mark})["assistant_id"] for name in ("b", "c", "a")]
    by_name = client.assistants.search(metadata={"mark": mark}, sort_by="name", sort_order="asc")
    assert [a["name"] for a in by_name] == ["a", "b", "c"]
    newest_first = client.assistants.search(metadata={"mark": mark})
    assert [a["assistant_id"] for a in newest_first] == ids[::-1]
    page = client.assistants.search(metadata={"mark": mark}, limit=2, response_format="object")
    assert len(page["assistants"]) == 2 and page["next"] == "2"
    last = client.assistants.search(metadata={"mark": mark}, limit=2, offset=2, response_format="object")
    assert [a["assistant_id"] for a in last["assistants"]] == [ids[0]] and last["next"] is None


def test_a_run_on_a_created_assistant_starts_from_its_config_and_context_under_the_runs_own(client: Any) -> None:
    made = client.assistants.create("configured", config={"recursion_limit": 9}, context={"model": "small", "tone": "dry"})
    assistant_id = made["assistant_id"]
    seen = _seen(client, assistant_id)
    assert seen["context"] == {"model": "small", "tone": "dry"}
    assert {k: seen["configurable"][k] for k in ("model", "tone", "assistant_id", "graph_id")} == {
        "model": "small", "tone": "dry", "assistant_id": assistant_id, "graph_id": "configured",
    }
    assert seen["recursion_limit"] == 9
    mine = _seen(client, assistant_id, context={"tone": "warm"}, config={"recursion_limit": 12, "configurable": {"user": "ann"}})
    assert mine["context"] == {"model": "small", "tone": "warm"}  # the run's values win, key by key
    assert (mine["configurable"]["model"], mine["configurable"]["user"], mine["recursion_limit"]) == ("small", "ann", 12)

    client.assistants.update(assistant_id, context={"model": "large"})
    assert _seen(client, assistant_id)["context"] == {"model": "large"}  # the latest version
    client.assistants.set_latest(assistant_id, 1)
    assert _seen(client, assistant_id)["context"] == {"model": "small", "tone": "dry"}
    stateless = client.runs.wait(None, assistant_id, input={})
    assert stateless["seen"]["context"] == {"model": "small", "tone": "dry"}

    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, assistant_id, input={})
    assert client.threads.get(thread)["metadata"]["assistant_id"] == assistant_id
    assert client.threads.get_state(thread)["values"]["seen"]["context"]["model"] == "small"
    assert _seen(client, "configured")["context"] is None  # the graph's own assistant: nothing added


def test_a_cron_on_a_created_assistant_runs_with_its_context_and_goes_with_the_assistant(
    server: ServerProcess, client: Any
) -> None:
    pytest.importorskip("croniter", reason="cairn serve's crons need croniter (cairn[server])")
    assistant_id = client.assistants.create("configured", context={"model": "cron"})["assistant_id"]
    thread = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread, assistant_id, schedule="0 0 1 1 *", input={})
    assert cron["assistant_id"] == assistant_id
    assert client.crons.count(assistant_id=assistant_id) == 1
    with contextlib.closing(sqlite3.connect(server.folder / "cairn.db")) as conn, conn:  # its slot comes now
        conn.execute("UPDATE cairn_server_crons SET next_run_at = ? WHERE cron_id = ?", (int(time.time()), cron["cron_id"]))
    run = wait_for(lambda: client.runs.list(thread))[-1]
    assert run["assistant_id"] == assistant_id and run["metadata"]["cron_id"] == cron["cron_id"]
    assert client.runs.join(thread, run["run_id"])["seen"]["context"] == {"model": "cron"}
    client.assistants.delete(assistant_id)
    assert client.crons.count(assistant_id=assistant_id) == 0


def test_deleting_with_delete_threads_takes_the_assistants_threads_and_no_other(client: Any) -> None:
    assistant_id = client.assistants.create("configured")["assistant_id"]
    mine = client.threads.create()["thread_id"]
    client.runs.wait(mine, assistant_id, input={})
    other = client.threads.create()["thread_id"]
    client.runs.wait(other, "configured", input={})
    client.assistants.delete(assistant_id, delete_threads=True)
    with pytest.raises(NotFoundError):
        client.threads.get(mine)
    assert client.threads.get_state(other)["values"]["seen"]["context"] is None


def test_a_queued_run_whose_assistant_is_deleted_before_it_starts_ends_as_an_error_saying_so(client: Any) -> None:
    assistant_id = client.assistants.create("steps")["assistant_id"]
    thread = client.threads.create()["thread_id"]
    client.runs.create(thread, "steps", input={"items": ["first"], "delay": 0.3})  # the thread is busy meanwhile
    queued = client.runs.create(thread, assistant_id, input={"items": ["second"]})
    client.assistants.delete(assistant_id)
    outcome = client.runs.join(thread, queued["run_id"])
    assert outcome["__error__"]["error"] == "UnknownAssistant" and assistant_id in outcome["__error__"]["message"]
    assert client.runs.get(thread, queued["run_id"])["status"] == "error"


def test_bad_assistant_requests_are_refused_naming_the_value_and_change_nothing(client: Any) -> None:
    mark = uuid.uuid4().hex
    made = client.assistants.create("configured", context={"model": "small"}, metadata={"mark": mark})
    assistant_id = made["assistant_id"]
    before = client.assistants.count()

    with pytest.raises(UnprocessableEntityError, match="'nowhere'"):
        client.assistants.create("nowhere")
    with pytest.raises(UnprocessableEntityError, match="assistant_id"):
        client.assistants.create("configured", assistant_id="my-assistant")
    with pytest.raises(UnprocessableEntityError, match="not both"):
        client.assistants.create("configured", config={"configurable": {"a": 1}}, context={"b": 2})
    with pytest.raises(ConflictError, match="already exists"):
        client.assistants.create("configured", assistant_id=assistant_id, context={"model": "other"})
    assert client.assistants.create("configured", assistant_id=assistant_id, if_exists="do_nothing") == made
    with pytest.raises(ConflictError, match="already exists"):
        client.assistants.create("agent", assistant_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "agent")))

    unknown = str(uuid.uuid4())
    for call in (
        lambda: client.assistants.get(unknown),
        lambda: client.assistants.update(unknown, name="x"),
        lambda: client.assistants.delete(unknown),
        lambda: client.assistants.get_versions(unknown),
        lambda: client.assistants.set_latest(unknown, 1),
        lambda: client.assistants.get_graph(unknown),
    ):
        with pytest.raises(NotFoundError) as caught:
            call()
        assert unknown in caught.value.response.json()["detail"]
    with pytest.raises(NotFoundError, match="no version 9"):
        client.assistants.set_latest(assistant_id, 9)
    with pytest.raises(UnprocessableEntityError, match="'nowhere'"):
        client.assistants.update(assistant_id, graph_id="nowhere")
    with pytest.raises(UnprocessableEntityError, match="sort_by"):
        client.assistants.search(sort_by="height")
    with pytest.raises(UnprocessableEntityError, match="colour"):
        client.assistants.search(select=["assistant_id", "colour"])
    thread = client.threads.create()["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as refused_run:  # runs.wait raises httpx's own error
        client.runs.wait(thread, unknown, input={})
    assert refused_run.value.response.status_code == 422 and unknown in refused_run.value.response.json()["detail"]

    for refused in (lambda: client.assistants.update("agent", name="mine"), lambda: client.assistants.delete("agent")):
        with pytest.raises(ConflictError) as caught:
            refused()
        detail = caught.value.response.json()["detail"]
        assert "'agent'" in detail and "own assistant" in detail and "POST /assistants" in detail
    assert client.assistants.get("agent")["metadata"] == {"created_by": "system"}
    assert client.assistants.get(assistant_id) == made  # no new version
    assert client.assistants.count() == before
    assert client.runs.list(thread) == []


def test_assistants_outlive_a_restart_and_one_whose_graph_is_no_longer_served_is_refused_runs(tmp_path: Path) -> None:
    make_project(tmp_path, SERVED)
    first = start_server(tmp_path)
    try:
        made = get_sync_client(url=first.url).assistants.create("configured", context={"model": "kept"})
    finally:
        first.stop()
    make_project(tmp_path, GRAPHS)  # the same database, "configured" no longer served
    second = start_server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        assert client.assistants.get(made["assistant_id"]) == made
        thread = client.threads.create()["thread_id"]
        with pytest.raises(httpx.HTTPStatusError) as refused:
            client.runs.wait(thread, made["assistant_id"], input={})
        detail = refused.value.response.json()["detail"]
        assert refused.value.response.status_code == 422 and "'configured'" in detail and "does not serve" in detail
        assert client.runs.list(thread) == []
    finally:
        second.stop()


def test_the_async_client_manages_assistants_and_runs_on_them(server: ServerProcess) -> None:
    async def scenario() -> None:
        client = get_client(url=server.url)
        made = await client.assistants.create("configured", context={"model": "small"}, name="async one")
        assistant_id = made["assistant_id"]
        assert (await client.assistants.get(assistant_id))["name"] == "async one"
        updated = await client.assistants.update(assistant_id, context={"model": "large"})
        assert updated["version"] == 2
        assert [v["version"] for v in await client.assistants.get_versions(assistant_id)] == [2, 1]
        thread = (await client.threads.create())["thread_id"]
        result = await client.runs.wait(thread, assistant_id, input={})
        assert result["seen"]["context"] == {"model": "large"}
        assert (await client.assistants.set_latest(assistant_id, 1))["context"] == {"model": "small"}
        assert assistant_id in [a["assistant_id"] for a in await client.assistants.search(name="async one")]
        assert await client.assistants.count(name="async one") == 1
        await client.assistants.delete(assistant_id)
        with pytest.raises(NotFoundError):
            await client.assistants.get(assistant_id)

    asyncio.run(scenario())


def test_assistants_on_postgres_are_shared_and_a_worker_process_runs_them_with_their_context(tmp_path: Path) -> None:
    with fresh_schema() as url:
        make_project(tmp_path, SERVED)
        env = {"DATABASE_URI": url}
        api = start_server(tmp_path, "--workers", "0", env=env, db=None)
        other = start_server(tmp_path, "--workers", "0", env=env, db=None)
        worker = start_worker(tmp_path, "--concurrency", "2", env=env)
        try:
            one, two = get_sync_client(url=api.url), get_sync_client(url=other.url)
            made = one.assistants.create("configured", context={"model": "small"}, metadata={"where": "pg"})
            assistant_id = made["assistant_id"]
            assert two.assistants.get(assistant_id) == made
            assert [a["assistant_id"] for a in two.assistants.search(metadata={"where": "pg"})] == [assistant_id]
            assert _seen(one, assistant_id, context={"tone": "warm"})["context"] == {"model": "small", "tone": "warm"}
            two.assistants.update(assistant_id, context={"model": "large"})
            assert [v["version"] for v in one.assistants.get_versions(assistant_id)] == [2, 1]
            assert _seen(one, assistant_id)["context"] == {"model": "large"}
            assert one.assistants.set_latest(assistant_id, 1)["version"] == 1
            assert _seen(two, assistant_id)["context"] == {"model": "small"}
            with pytest.raises(ConflictError, match="own assistant"):
                two.assistants.delete("configured")
            one.assistants.delete(assistant_id, delete_threads=True)
            with pytest.raises(NotFoundError):
                two.assistants.get(assistant_id)
            assert two.assistants.count(graph_id="configured") == 1
        finally:
            worker.terminate()
            worker.wait(10)
            api.stop()
            other.stop()
