"""Crons of ``cairn serve`` driven by ``langgraph_sdk``'s ``client.crons``:
create (on a thread, stateless), search, count, update, delete, bad input,
and firing: a slot fires once however many servers share the database, and
missed slots give one run.

A test makes a slot come without waiting for it by moving the cron's next
slot (``next_run_at`` in the database) into the past, as the clock would.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from tests.pg import fresh_schema
from tests.server_support import ServerProcess, make_project, start_server, start_worker, wait_for

pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
pytest.importorskip("croniter", reason="cairn serve's crons need croniter (cairn[server])")
from langgraph_sdk import get_client, get_sync_client  # noqa: E402
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError  # noqa: E402

from cairn.server.schedule import next_slot  # noqa: E402

YEARLY = "0 0 1 1 *"
"""A schedule whose own next slot is far: only the tests' moves make it fire."""


def _move_slot(database: str | Path, cron_ids: Sequence[str], at: int) -> None:
    """Set the crons' next slot to ``at`` (seconds since the epoch) in ``database``."""
    if str(database).startswith("postgresql"):
        import psycopg

        with psycopg.connect(str(database), autocommit=True) as conn:
            for cron_id in cron_ids:
                conn.execute("UPDATE cairn_server_crons SET next_run_at = %s WHERE cron_id = %s", (at, cron_id))
        return
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.executemany("UPDATE cairn_server_crons SET next_run_at = ? WHERE cron_id = ?", [(at, c) for c in cron_ids])


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _fired(client: Any, cron_ids: Sequence[str]) -> bool:
    """Whether each cron's next slot is in the future again (its due slot fired)."""
    found = {c["cron_id"]: c for c in client.crons.search(limit=1000)}
    return all(_epoch(found[c]["next_run_date"]) > time.time() for c in cron_ids)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("crons")
    make_project(folder)
    running = start_server(folder)
    yield running
    running.stop()


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_sync_client(url=server.url)


def test_next_slot_reads_the_schedule_in_its_time_zone_across_daylight_saving() -> None:
    winter = datetime(2026, 3, 27, 12, tzinfo=timezone.utc).timestamp()  # Paris is UTC+1 until the 29th
    first = next_slot("0 9 * * *", "Europe/Paris", winter)
    assert datetime.fromtimestamp(first, timezone.utc) == datetime(2026, 3, 28, 8, tzinfo=timezone.utc)
    after = next_slot("0 9 * * *", "Europe/Paris", first + 86400)  # then UTC+2
    assert datetime.fromtimestamp(after, timezone.utc) == datetime(2026, 3, 30, 7, tzinfo=timezone.utc)
    assert next_slot("* * * * *", None, 120) == 180 and next_slot("* * * * *", None, 119.5) == 120


def test_a_database_made_before_crons_gains_their_table_when_opened(tmp_path: Path) -> None:
    from cairn.server.db_sqlite import SqliteServerDB

    path = str(tmp_path / "old.db")
    SqliteServerDB(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:  # as a cairn before crons left it
        conn.execute("DROP TABLE cairn_server_crons")
        conn.execute("DELETE FROM cairn_server_meta WHERE key = 'crons_schema_version'")
    reopened = SqliteServerDB(path)
    try:
        assert reopened._rows("SELECT COUNT(*) AS n FROM cairn_server_crons") == [{"n": 0}]
    finally:
        reopened.close()


def test_a_cron_is_created_searched_counted_updated_and_deleted(client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    before = time.time()
    cron = client.crons.create_for_thread(
        thread, "steps", schedule="*/5 * * * *", input={"items": ["x"]}, metadata={"team": "a"},
        multitask_strategy="enqueue",
    )
    assert cron["thread_id"] == thread and cron["schedule"] == "*/5 * * * *" and cron["enabled"] is True
    assert cron["payload"]["input"] == {"items": ["x"]} and cron["metadata"] == {"team": "a"}
    slot = _epoch(cron["next_run_date"])
    assert before < slot <= before + 300 and slot % 300 == 0
    other = client.crons.create("agent", schedule="0 9 * * *", timezone="America/New_York", metadata={"team": "b"})
    assert other["thread_id"] is None and other["on_run_completed"] == "delete"
    assert datetime.fromisoformat(other["next_run_date"]).astimezone(timezone.utc).hour in (13, 14)

    assert [c["cron_id"] for c in client.crons.search(thread_id=thread)] == [cron["cron_id"]]
    assert [c["cron_id"] for c in client.crons.search(assistant_id="agent", metadata={"team": "b"})] == [other["cron_id"]]
    assert client.crons.count(assistant_id="steps", metadata={"team": "a"}) == 1
    picked = client.crons.search(thread_id=thread, select=["cron_id", "schedule"])
    assert picked == [{"cron_id": cron["cron_id"], "schedule": "*/5 * * * *"}]

    changed = client.crons.update(cron["cron_id"], schedule="0 0 1 1 *", input={"items": ["y"]}, enabled=False)
    assert changed["schedule"] == YEARLY and changed["payload"]["input"] == {"items": ["y"]}
    assert changed["enabled"] is False and changed["next_run_date"] is None
    again = client.crons.update(cron["cron_id"], enabled=True, end_time=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert again["end_time"].startswith("2000-01-01") and again["next_run_date"] is None  # over: no slot left
    assert client.crons.update(cron["cron_id"], end_time=None)["next_run_date"] is not None
    assert client.crons.search(enabled=True, thread_id=thread)[0]["payload"]["multitask_strategy"] == "enqueue"

    assert client.http.get(f"/runs/crons/{other['cron_id']}") == other
    client.crons.delete(cron["cron_id"])
    client.crons.delete(other["cron_id"])
    assert client.crons.count(thread_id=thread) == 0
    with pytest.raises(NotFoundError):
        client.crons.delete(cron["cron_id"])


def test_bad_cron_requests_are_refused_naming_the_field_and_store_nothing(client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    count = client.crons.count()
    refused = [
        ({"schedule": "* * * *"}, "schedule"),
        ({"schedule": "0 0 * * * *"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 0 30 2 *"}, "schedule"),  # February 30th never comes
        ({"schedule": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"schedule": "* * * * *", "multitask_strategy": "sometimes"}, "multitask_strategy"),
        ({"schedule": "* * * * *", "interrupt_before": ["nowhere"]}, "interrupt_before"),
        ({"schedule": "* * * * *", "webhook": "https://example.com/hook"}, "webhook"),
    ]
    for fields, named in refused:
        with pytest.raises(UnprocessableEntityError) as caught:
            client.crons.create_for_thread(thread, "steps", **fields)
        assert named in caught.value.response.json()["detail"]
    with pytest.raises(UnprocessableEntityError, match="no assistant 'nobody'"):
        client.crons.create("nobody", schedule="* * * * *")
    with pytest.raises(NotFoundError, match="not found"):
        client.crons.create_for_thread("00000000-0000-0000-0000-000000000000", "steps", schedule="* * * * *")
    with pytest.raises(UnprocessableEntityError, match="end_time"):
        client.http.post("/runs/crons", json={"assistant_id": "steps", "schedule": "* * * * *", "end_time": "soon"})
    assert client.crons.count() == count
    cron = client.crons.create_for_thread(thread, "steps", schedule=YEARLY)
    with pytest.raises(UnprocessableEntityError, match="schedule"):
        client.crons.update(cron["cron_id"], schedule="every day")
    with pytest.raises(UnprocessableEntityError, match="on_run_completed"):
        client.crons.update(cron["cron_id"], on_run_completed="keep")
    assert client.crons.search(thread_id=thread)[0]["schedule"] == YEARLY  # unchanged
    with pytest.raises(NotFoundError):
        client.crons.update("00000000-0000-0000-0000-000000000000", schedule=YEARLY)
    client.crons.delete(cron["cron_id"])


def test_a_per_minute_cron_fires_a_run_on_its_thread_with_its_input(server: ServerProcess, client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread, "steps", schedule="* * * * *", input={"items": ["cron"]}, metadata={"by": "cron"})
    assert _epoch(cron["next_run_date"]) % 60 == 0 and _epoch(cron["next_run_date"]) - time.time() <= 60
    _move_slot(server.folder / "cairn.db", [cron["cron_id"]], int(time.time()) // 60 * 60)  # this minute's slot came
    run = wait_for(lambda: client.runs.list(thread))[-1]
    assert run["metadata"]["cron_id"] == cron["cron_id"] and run["metadata"]["by"] == "cron"
    assert client.runs.join(thread, run["run_id"])["items"] == ["cron", "s1", "s2", "s3", "s4"]
    assert client.runs.get(thread, run["run_id"])["status"] == "success"
    next_date = _epoch(client.crons.search(thread_id=thread)[0]["next_run_date"])
    assert time.time() < next_date <= time.time() + 60
    client.crons.delete(cron["cron_id"])


def test_a_stateless_cron_runs_each_firing_on_a_new_thread_with_the_async_client(server: ServerProcess) -> None:
    async def until(predicate: Any) -> Any:
        for _ in range(400):
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"still false after 20 s: {predicate}")

    async def scenario() -> tuple[list[Any], list[Any]]:
        client = get_client(url=server.url)
        kept = await client.crons.create("steps", schedule=YEARLY, input={"items": ["k"]}, on_run_completed="keep")
        gone = await client.crons.create("steps", schedule=YEARLY, input={"items": ["g"]})
        newest = await client.crons.search(sort_by="created_at", sort_order="desc", limit=2)
        assert [c["cron_id"] for c in newest] == [gone["cron_id"], kept["cron_id"]]
        ids = [kept["cron_id"], gone["cron_id"]]

        async def fired() -> bool:
            found = [c for c in await client.crons.search(limit=1000) if c["cron_id"] in ids]
            return all(_epoch(c["next_run_date"]) > time.time() for c in found)

        async def kept_threads() -> list[Any]:
            found = await client.threads.search(metadata={"cron_id": kept["cron_id"]}, status="idle")
            return found if len(found) == 2 else []

        async def gone_threads_left() -> bool:
            return not await client.threads.search(metadata={"cron_id": gone["cron_id"]})

        for _ in range(2):
            _move_slot(server.folder / "cairn.db", ids, int(time.time()) - 5)
            await until(fired)
        threads = await until(kept_threads)
        await until(gone_threads_left)  # a stateless run's thread goes when the run ends
        values = [(await client.threads.get_state(t["thread_id"]))["values"] for t in threads]
        for cron_id in ids:
            await client.crons.delete(cron_id)
        return threads, values

    threads, values = asyncio.run(scenario())
    assert len({t["thread_id"] for t in threads}) == 2  # a new thread each firing
    assert values == [{"items": ["k", "s1", "s2", "s3", "s4"]}] * 2


def test_a_busy_thread_gets_the_cron_run_after_its_run_or_no_run_with_reject(server: ServerProcess, client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    first = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.3})
    queued = client.crons.create_for_thread(thread, "steps", schedule=YEARLY, input={"items": ["cron"], "delay": 0})
    rejected = client.crons.create_for_thread(thread, "steps", schedule=YEARLY, input={"items": ["no"]}, multitask_strategy="reject")
    ids = [queued["cron_id"], rejected["cron_id"]]
    _move_slot(server.folder / "cairn.db", ids, int(time.time()) - 5)
    wait_for(lambda: _fired(client, ids))
    runs = client.runs.list(thread)
    assert [r["metadata"].get("cron_id") for r in runs] == [queued["cron_id"], None]  # newest first; none of reject
    assert client.runs.join(thread, runs[0]["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4", "cron", "s1", "s2", "s3", "s4"]
    assert client.runs.get(thread, first["run_id"])["status"] == "success"
    for cron_id in ids:
        client.crons.delete(cron_id)


def test_a_cron_whose_thread_was_deleted_goes_at_its_next_slot(server: ServerProcess, client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    cron = client.crons.create_for_thread(thread, "steps", schedule=YEARLY)
    client.threads.delete(thread)
    assert client.crons.count(thread_id=thread) == 1
    _move_slot(server.folder / "cairn.db", [cron["cron_id"]], int(time.time()) - 5)
    wait_for(lambda: client.crons.count(thread_id=thread) == 0)
    with pytest.raises(NotFoundError):
        client.runs.list(thread)  # and no run (nor thread) was made for it


def test_missed_slots_while_no_server_ran_give_one_run_then_the_schedule_goes_on(tmp_path: Path) -> None:
    make_project(tmp_path)
    first = start_server(tmp_path)
    try:
        client = get_sync_client(url=first.url)
        thread = client.threads.create()["thread_id"]
        cron = client.crons.create_for_thread(thread, "steps", schedule="0 0 * * *", input={"items": ["daily"]})
    finally:
        first.stop()
    coming = int(_epoch(cron["next_run_date"]))
    _move_slot(tmp_path / "cairn.db", [cron["cron_id"]], coming - 5 * 86400)  # down for five midnights
    second = start_server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        wait_for(lambda: _fired(client, [cron["cron_id"]]))
        runs = client.runs.list(thread)
        assert len(runs) == 1
        assert client.runs.join(thread, runs[0]["run_id"])["items"] == ["daily", "s1", "s2", "s3", "s4"]
        assert _epoch(client.crons.search(thread_id=thread)[0]["next_run_date"]) == coming
        time.sleep(2 * 1.0)  # two more looks of the scheduler: still one run
        assert len(client.runs.list(thread)) == 1
    finally:
        second.stop()


FAST = {"CAIRN_CRON_TICK": "0.01"}
"""Servers that look for due crons every 10 ms: both look at each slot, and race."""


def _fire_rounds(servers: Sequence[ServerProcess], database: str | Path, rounds: int = 3, crons: int = 12) -> None:
    """Several servers on one database; each round makes every cron's slot
    come at once: each thread gets one run more per round."""
    clients = [get_sync_client(url=s.url) for s in servers]
    threads = [clients[0].threads.create()["thread_id"] for _ in range(crons)]
    ids = [
        clients[i % len(clients)].crons.create_for_thread(t, "steps", schedule=YEARLY, input={"items": [str(i)]})["cron_id"]
        for i, t in enumerate(threads)
    ]
    for round in range(1, rounds + 1):
        _move_slot(database, ids, int(time.time()) - round)
        wait_for(lambda: _fired(clients[0], ids))
        for thread in threads:
            runs = clients[1].runs.list(thread, limit=100)
            assert len(runs) == round, f"round {round}: thread {thread} has {len(runs)} runs"


def test_two_servers_on_one_sqlite_file_fire_each_slot_once(tmp_path: Path) -> None:
    make_project(tmp_path)
    servers = [start_server(tmp_path, env=FAST), start_server(tmp_path, env=FAST)]
    try:
        _fire_rounds(servers, tmp_path / "cairn.db")
    finally:
        for each in servers:
            each.stop()


def test_two_servers_and_a_worker_on_one_postgres_fire_each_slot_once(tmp_path: Path) -> None:
    with fresh_schema() as url:
        make_project(tmp_path)
        env = {**FAST, "DATABASE_URI": url}
        servers = [start_server(tmp_path, env=env, db=None) for _ in range(2)]
        worker = start_worker(tmp_path, env=env)  # cairn worker fires crons too
        try:
            _fire_rounds(servers, url)
            assert worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(10)
            for each in servers:
                each.stop()
