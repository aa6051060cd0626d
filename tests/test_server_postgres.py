"""``cairn serve --db postgresql://...``: the same API with checkpoints,
store, threads and runs in PostgreSQL, shared by several server processes."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.pg import fresh_schema
from tests.server_support import ServerProcess, make_project, start_server, start_worker, wait_for

pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
from langgraph_sdk import get_sync_client  # noqa: E402


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def _start(folder: Any, url: str) -> ServerProcess:
    return start_server(folder, env={"DATABASE_URI": url}, db=None)


def test_two_servers_on_one_postgres_share_threads_and_run_one_run_at_a_time_per_thread(tmp_path: Any, database: str) -> None:
    make_project(tmp_path)
    first, second = _start(tmp_path, database), _start(tmp_path, database)
    try:
        one, two = get_sync_client(url=first.url), get_sync_client(url=second.url)
        thread = one.threads.create(metadata={"via": "first"})["thread_id"]
        assert two.threads.get(thread)["metadata"] == {"via": "first"}
        paused = two.runs.wait(thread, "agent", input={"items": ["x"]})
        assert paused["__interrupt__"][0]["value"] == {"question": "ok?"}
        assert one.runs.wait(thread, "agent", command={"resume": "yes"})["answer"] == "yes"
        other = one.threads.create()["thread_id"]
        runs = [
            (one if i % 2 else two).runs.create(other, "steps", input={"items": [str(i)], "delay": 0.02})
            for i in range(4)
        ]
        last = one.runs.join(other, runs[-1]["run_id"])
        assert [item for item in last["items"] if not item.startswith("s")] == ["0", "1", "2", "3"]
        assert first.counts() == ["s1", "s2", "s3", "s4"] * 4  # never two runs of the thread at once
    finally:
        first.stop()
        second.stop()


def test_a_killed_server_on_postgres_finishes_its_run_after_a_restart(tmp_path: Any, database: str) -> None:
    make_project(tmp_path)
    first = _start(tmp_path, database)
    try:
        client = get_sync_client(url=first.url)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.4})
        wait_for(lambda: "s3" in first.counts())
        first.kill()
    finally:
        first.stop()
    second = _start(tmp_path, database)
    try:
        client = get_sync_client(url=second.url)
        assert client.runs.join(thread, run["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4"]
        counts = second.counts()
        assert (counts.count("s1"), counts.count("s2"), counts.count("s4")) == (1, 1, 1)
    finally:
        second.stop()


def test_workers_on_postgres_finish_every_run_when_one_is_killed_mid_run(tmp_path: Any, database: str) -> None:
    import psycopg

    make_project(tmp_path)
    api = start_server(tmp_path, "--workers", "0", env={"DATABASE_URI": database}, db=None)
    workers = [start_worker(tmp_path, "--concurrency", "2", env={"DATABASE_URI": database}) for _ in range(2)]
    try:
        client = get_sync_client(url=api.url)
        threads = [client.threads.create()["thread_id"] for _ in range(4)]
        runs = [client.runs.create(t, "steps", input={"items": ["x"], "delay": 0.3}) for t in threads]

        def owner_pid() -> int | None:
            with psycopg.connect(database) as conn:
                row = conn.execute(
                    "SELECT owner FROM cairn_server_runs WHERE status = 'running' AND owner IS NOT NULL LIMIT 1"
                ).fetchone()
            return int(row[0].split("(pid ")[1].split()[0]) if row else None

        wait_for(lambda: "s2" in api.counts())
        victim = next(w for w in workers if w.pid == wait_for(owner_pid))
        victim.kill()
        victim.wait(10)
        for thread, run in zip(threads, runs):
            assert client.runs.join(thread, run["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4"]
            assert client.runs.get(thread, run["run_id"])["status"] == "success"
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(10)
        api.stop()


def test_rollback_by_an_api_server_undoes_the_run_a_worker_process_runs(tmp_path: Any, database: str) -> None:
    make_project(tmp_path)
    api = start_server(tmp_path, "--workers", "0", env={"DATABASE_URI": database}, db=None)
    worker = start_worker(tmp_path, env={"DATABASE_URI": database})
    try:
        client = get_sync_client(url=api.url)
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "steps", input={"items": ["x"]})
        before, state = client.threads.get_history(thread, limit=1000), client.threads.get_state(thread)

        cancelled = client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0.3})
        wait_for(lambda: api.counts().count("s2") == 2)  # the run has stored checkpoints
        client.runs.cancel(thread, cancelled["run_id"], wait=True, action="rollback")
        assert client.threads.get_history(thread, limit=1000) == before
        assert client.threads.get_state(thread) == state
        assert client.threads.get(thread)["status"] == "idle"

        client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0.3})
        wait_for(lambda: api.counts().count("s2") == 3)
        last = client.runs.create(thread, "steps", input={"items": ["z"]}, multitask_strategy="rollback")
        assert client.runs.join(thread, last["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4", "z", "s1", "s2", "s3", "s4"]
        history = client.threads.get_history(thread, limit=1000)
        assert [h for h in history if h["metadata"].get("run_id") != last["run_id"]] == before
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(10)
        api.stop()
