"""Runs of ``cairn serve`` that meet each other or a crash: the multitask
strategies (reject, enqueue, interrupt, rollback), cancel, a server SIGKILLed
mid-run and restarted, the Bearer token and the body size limit."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from tests.server_support import ServerProcess, make_project, start_server, wait_for

pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
from langgraph_sdk import get_sync_client  # noqa: E402

SLOW = {"items": ["x"], "delay": 0.3}


@pytest.fixture
def server(tmp_path: Any) -> Iterator[ServerProcess]:
    make_project(tmp_path)
    running = start_server(tmp_path)
    yield running
    running.stop()


def _started(server: ServerProcess, node: str, times: int = 1) -> Any:
    return wait_for(lambda: server.counts().count(node) >= times)


def _history(client: Any, thread: str) -> list[dict[str, Any]]:
    """Every checkpoint of the thread, newest first, as ``get_history`` shows them."""
    return client.threads.get_history(thread, limit=1000)


def _without(history: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The history but the checkpoints run ``run_id`` wrote."""
    return [h for h in history if h["metadata"].get("run_id") != run_id]


def test_reject_refuses_a_second_run_while_the_first_runs(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    first = client.runs.create(thread, "steps", input=SLOW)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.create(thread, "steps", input={"items": ["y"]}, multitask_strategy="reject")
    assert caught.value.response.status_code == 409
    assert client.runs.join(thread, first["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4"]
    assert [r["run_id"] for r in client.runs.list(thread)] == [first["run_id"]]


def test_enqueue_runs_the_second_run_after_the_first(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    first = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.1})
    second = client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0}, multitask_strategy="enqueue")
    assert client.threads.get(thread)["status"] == "busy"
    result = client.runs.join(thread, second["run_id"])
    assert result["items"] == ["x", "s1", "s2", "s3", "s4", "y", "s1", "s2", "s3", "s4"]
    assert client.runs.get(thread, first["run_id"])["status"] == "success"
    assert server.counts() == ["s1", "s2", "s3", "s4"] * 2


def test_runs_beyond_the_workers_wait_for_one_and_all_finish(tmp_path: Any) -> None:
    make_project(tmp_path)
    running = start_server(tmp_path, "--workers", "2")
    try:
        client = get_sync_client(url=running.url)
        threads = [client.threads.create()["thread_id"] for _ in range(5)]
        runs = [client.runs.create(t, "steps", input={"items": [str(i)], "delay": 0.05}) for i, t in enumerate(threads)]
        for i, (thread, run) in enumerate(zip(threads, runs)):
            assert client.runs.join(thread, run["run_id"])["items"] == [str(i), "s1", "s2", "s3", "s4"]
            assert client.runs.get(thread, run["run_id"])["status"] == "success"
        assert running.counts().count("s4") == 5
    finally:
        running.stop()


def test_interrupt_stops_the_running_run_between_steps_and_runs_the_new_one(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    first = client.runs.create(thread, "steps", input=SLOW)
    _started(server, "s1")
    second = client.runs.create(thread, "steps", input={"items": ["y"]}, multitask_strategy="interrupt")
    result = client.runs.join(thread, second["run_id"])
    assert client.runs.get(thread, first["run_id"])["status"] == "interrupted"
    assert result["items"][-5:] == ["y", "s1", "s2", "s3", "s4"]
    assert server.counts().count("s4") == 1  # the first run never got there


def test_rollback_removes_the_running_run_and_what_it_wrote(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    first = client.runs.create(thread, "steps", input=SLOW)
    _started(server, "s1")
    second = client.runs.create(thread, "steps", input={"items": ["y"]}, multitask_strategy="rollback")
    assert client.runs.join(thread, second["run_id"])["items"] == ["y", "s1", "s2", "s3", "s4"]
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.get(thread, first["run_id"])
    assert caught.value.response.status_code == 404
    assert [r["run_id"] for r in client.runs.list(thread)] == [second["run_id"]]
    history = _history(client, thread)  # the thread had none before the first run: only the second's
    assert history and _without(history, second["run_id"]) == []


def test_rollback_puts_back_the_state_the_thread_had_before_the_run(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "steps", input={"items": ["x"]})
    before = _history(client, thread)
    client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0.3})
    _started(server, "s1", times=2)
    last = client.runs.create(thread, "steps", input={"items": ["z"]}, multitask_strategy="rollback")
    assert client.runs.join(thread, last["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4", "z", "s1", "s2", "s3", "s4"]
    # the history is the one before the rolled-back run, and the last run's on top: no copy, no trace
    history = _history(client, thread)
    assert _without(history, last["run_id"]) == before
    assert history[len(history) - len(before) - 1]["parent_checkpoint"] == before[0]["checkpoint"]


def test_cancel_with_rollback_leaves_the_thread_as_it_was_before_the_run(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "steps", input={"items": ["x"]})
    before, state, record = _history(client, thread), client.threads.get_state(thread), client.threads.get(thread)
    run = client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0.3})
    _started(server, "s2", times=2)  # the run has stored checkpoints
    assert len(_history(client, thread)) > len(before)
    client.runs.cancel(thread, run["run_id"], wait=True, action="rollback")
    assert _history(client, thread) == before
    assert client.threads.get_state(thread) == state
    after = client.threads.get(thread)
    assert (after["status"], after["values"], after["interrupts"]) == ("idle", record["values"], record["interrupts"])
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.get(thread, run["run_id"])
    assert caught.value.response.status_code == 404
    assert client.runs.wait(thread, "steps", input={"items": ["z"]})["items"][-5:] == ["z", "s1", "s2", "s3", "s4"]


def test_cancel_with_rollback_of_a_threads_first_run_leaves_it_without_checkpoints(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    fresh = client.threads.get(thread)
    run = client.runs.create(thread, "steps", input={"items": ["y"], "delay": 0.3})
    _started(server, "s2")
    client.runs.cancel(thread, run["run_id"], wait=True, action="rollback")
    assert _history(client, thread) == []
    state = client.threads.get_state(thread)
    assert (state["values"], state["next"], state["checkpoint"]["checkpoint_id"]) in (({}, [], None), ([], [], None))
    after = client.threads.get(thread)
    assert (after["status"], after["values"], after["interrupts"]) == ("idle", fresh["values"], fresh["interrupts"])


def test_cancel_stops_a_run_between_steps(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    run = client.runs.create(thread, "steps", input=SLOW)
    _started(server, "s1")
    client.runs.cancel(thread, run["run_id"], wait=True)
    assert client.runs.get(thread, run["run_id"])["status"] == "interrupted"
    assert "s4" not in server.counts()
    state = client.threads.get_state(thread)
    assert state["next"] and state["values"]["items"][0] == "x"
    assert client.threads.get(thread)["status"] != "busy"


def test_a_killed_server_finishes_the_run_after_a_restart_without_rerunning_committed_steps(tmp_path: Any) -> None:
    make_project(tmp_path)
    first = start_server(tmp_path)
    try:
        client = get_sync_client(url=first.url)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.4})
        wait_for(lambda: "s3" in first.counts())  # s1 and s2 are stored
        first.kill()
    finally:
        first.stop()
    assert "s4" not in first.counts()
    second = start_server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        assert client.runs.join(thread, run["run_id"])["items"] == ["x", "s1", "s2", "s3", "s4"]
        assert client.runs.get(thread, run["run_id"])["status"] == "success"
        counts = second.counts()
        assert (counts.count("s1"), counts.count("s2"), counts.count("s4")) == (1, 1, 1)
        assert counts.count("s3") in (1, 2)  # the step the kill cut short runs again
        assert client.threads.get(thread)["status"] == "idle"
    finally:
        second.stop()


def test_a_server_with_a_token_refuses_requests_without_it(tmp_path: Any) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path, "--auth-token", "s3cret", "--max-body", "2000")
    try:
        assert httpx.get(f"{server.url}/ok").status_code == 200
        refused = httpx.post(f"{server.url}/threads/search", json={})
        assert refused.status_code == 401 and "Bearer" in refused.json()["detail"]
        wrong = httpx.post(f"{server.url}/threads/search", json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        client = get_sync_client(url=server.url, headers={"Authorization": "Bearer s3cret"})
        thread = client.threads.create(metadata={"ok": True})
        assert client.threads.get(thread["thread_id"])["metadata"] == {"ok": True}
        big = httpx.post(
            f"{server.url}/threads", json={"metadata": {"blob": "x" * 5000}},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert big.status_code == 413 and "2000" in big.json()["detail"]
        assert client.threads.count() == 1
    finally:
        server.stop()


def test_serve_names_a_bad_graph_in_langgraph_json(tmp_path: Any) -> None:
    make_project(tmp_path, {"bad": "./server_app.py:not_a_graph"})
    with pytest.raises(AssertionError) as caught:
        start_server(tmp_path)
    assert "'bad'" in str(caught.value) and "compiled graph" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_browser_pages_of_this_machine_or_a_named_origin_may_call_the_server(tmp_path: Any) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path, "--cors-origin", "https://ui.example.com", "--auth-token", "t")
    try:
        def preflight(origin: str) -> httpx.Response:
            return httpx.options(
                f"{server.url}/threads/search",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type"},
            )

        assert preflight("http://localhost:3000").headers["access-control-allow-origin"] == "http://localhost:3000"
        assert preflight("https://ui.example.com").status_code == 200
        assert "access-control-allow-origin" not in preflight("https://evil.example.com").headers
    finally:
        server.stop()


def test_rollback_of_a_run_resumed_after_a_crash_removes_what_both_attempts_wrote(tmp_path: Any) -> None:
    make_project(tmp_path)
    first = start_server(tmp_path)
    try:
        client = get_sync_client(url=first.url)
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "steps", input={"items": ["before"]})
        killed = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.4})
        wait_for(lambda: first.counts().count("s3") == 2)
        first.kill()
    finally:
        first.stop()
    second = start_server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        last = client.runs.create(thread, "steps", input={"items": ["y"]}, multitask_strategy="rollback")
        result = client.runs.join(thread, last["run_id"])
        assert result["items"] == ["before", "s1", "s2", "s3", "s4", "y", "s1", "s2", "s3", "s4"]
        with pytest.raises(httpx.HTTPStatusError):
            client.runs.get(thread, killed["run_id"])
        assert [h for h in _history(client, thread) if h["metadata"].get("run_id") == killed["run_id"]] == []
    finally:
        second.stop()


def test_a_batch_of_runs_is_checked_whole_then_queued(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.create_batch([
            {"assistant_id": "steps", "input": {"items": ["a"]}, "thread_id": thread},
            {"assistant_id": "nope", "input": {"items": ["b"]}},
        ])
    assert caught.value.response.status_code == 422 and client.runs.list(thread) == []
    made = client.runs.create_batch([
        {"assistant_id": "steps", "input": {"items": ["a"]}, "thread_id": thread},
        {"assistant_id": "steps", "input": {"items": ["b"]}},
    ])
    assert [r["thread_id"] == thread for r in made] == [True, False]
    assert client.runs.join(thread, made[0]["run_id"])["items"][-1] == "s4"


def test_cancel_many_stops_every_run_of_a_thread(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()["thread_id"]
    runs = [client.runs.create(thread, "steps", input=SLOW) for _ in range(3)]
    _started(server, "s1")
    client.runs.cancel_many(thread_id=thread, action="interrupt")
    client.runs.join(thread, runs[0]["run_id"])
    wait_for(lambda: all(client.runs.get(thread, r["run_id"])["status"] == "interrupted" for r in runs))
    assert server.counts().count("s1") == 1 and "s4" not in server.counts()


def test_a_stream_on_an_api_only_server_gets_the_events_of_a_worker_process(tmp_path: Any) -> None:
    from tests.server_support import start_worker

    make_project(tmp_path)
    api = start_server(tmp_path, "--workers", "0")
    worker = start_worker(tmp_path, "--db", str(tmp_path / "cairn.db"))
    try:
        client = get_sync_client(url=api.url)
        thread = client.threads.create()["thread_id"]
        parts = list(client.runs.stream(thread, "steps", input={"items": ["x"], "delay": 0.05}, stream_mode="updates"))
        assert [p.event for p in parts] == ["metadata"] + ["updates"] * 4
        assert parts[-1].data == {"s4": {"items": ["s4"]}}
        paused = client.runs.wait(thread, "agent", input={"items": ["y"]})
        assert paused["__interrupt__"][0]["value"] == {"question": "ok?"}
    finally:
        worker.terminate()
        worker.wait(10)
        api.stop()


def test_a_cancel_asked_through_the_api_stops_a_run_in_a_worker_process_between_steps(tmp_path: Any) -> None:
    from tests.server_support import start_worker

    make_project(tmp_path)
    api = start_server(tmp_path, "--workers", "0")
    worker = start_worker(tmp_path, "--db", str(tmp_path / "cairn.db"))
    try:
        client = get_sync_client(url=api.url)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "steps", input=SLOW)
        wait_for(lambda: "s1" in api.counts())
        client.runs.cancel(thread, run["run_id"])
        wait_for(lambda: client.runs.get(thread, run["run_id"])["status"] == "interrupted")
        assert "s4" not in api.counts()
        state = client.threads.get_state(thread)
        assert state["next"] and state["values"]["items"][0] == "x"
    finally:
        worker.terminate()
        worker.wait(10)
        api.stop()


def test_cancelling_a_queued_run_frees_its_thread(tmp_path: Any) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path, "--workers", "0")  # nothing runs: the run stays queued
    try:
        client = get_sync_client(url=server.url)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "steps", input={"items": ["x"]})
        assert client.threads.get(thread)["status"] == "busy"
        client.runs.cancel(thread, run["run_id"], wait=True)
        assert client.runs.get(thread, run["run_id"])["status"] == "interrupted"
        assert client.threads.get(thread)["status"] == "idle"
        assert server.counts() == []
    finally:
        server.stop()


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
def test_a_run_that_stops_a_queued_run_keeps_the_thread_busy(tmp_path: Any, strategy: str) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path, "--workers", "0")  # nothing runs: runs stay queued
    try:
        client = get_sync_client(url=server.url)
        thread = client.threads.create()["thread_id"]
        first = client.runs.create(thread, "steps", input={"items": ["x"]})
        second = client.runs.create(thread, "steps", input={"items": ["y"]}, multitask_strategy=strategy)
        statuses = {r["run_id"]: r["status"] for r in client.runs.list(thread)}
        assert statuses.get(first["run_id"], "gone") != "pending"  # stopped before it started
        assert statuses[second["run_id"]] == "pending"
        assert client.threads.get(thread)["status"] == "busy"  # a run still waits on it
    finally:
        server.stop()
