"""``GET /metrics`` of a real ``cairn serve``, read with prometheus_client's
own parser: what an operator's Prometheus would see after runs succeed,
fail, pause, wait in the queue and survive a killed server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.pg import fresh_schema
from tests.server_support import make_project, start_server, start_worker, wait_for

pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
from langgraph_sdk import get_sync_client  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, by name and labels."""
    answer = httpx.get(f"{url}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_show_runs_by_status_steps_nodes_and_bytes_written(tmp_path: Any) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path)
    try:
        client = get_sync_client(url=server.url)
        threads = [client.threads.create()["thread_id"] for _ in range(2)]
        for thread in threads:
            client.runs.wait(thread, "steps", input={"items": ["x"]})
        failed = client.threads.create()["thread_id"]
        client.runs.wait(failed, "boom", input={"items": ["x"]}, raise_error=False)
        paused = client.threads.create()["thread_id"]
        client.runs.wait(paused, "agent", input={"items": ["x"]})
        samples = scrape(server.url)
        # Each step a run took is one checkpoint of source "loop" in its thread's history.
        stepped = sum(
            1 for thread in threads for state in client.threads.get_history(thread, limit=100)
            if state["metadata"]["source"] == "loop"
        )
    finally:
        server.stop()
    # A run that paused on interrupt() is a success for the server's runs table
    # (as LangGraph's server says; its thread is "interrupted"), an
    # interrupted run for the engine's durations.
    assert value(samples, "cairn_runs", status="success") == 3
    assert value(samples, "cairn_runs", status="error") == 1
    assert value(samples, "cairn_runs", status="pending") == 0
    assert value(samples, "cairn_threads") == 4
    assert value(samples, "cairn_run_duration_seconds_count", graph="steps", status="success") == 2
    assert value(samples, "cairn_run_duration_seconds_count", graph="boom", status="error") == 1
    assert value(samples, "cairn_run_duration_seconds_count", graph="agent", status="interrupted") == 1
    assert stepped == 10  # the input step and s1..s4, twice
    assert value(samples, "cairn_step_duration_seconds_count", graph="steps") == stepped
    assert value(samples, "cairn_node_duration_seconds_count", graph="steps", node="s3") == 2
    assert value(samples, "cairn_node_errors_total", graph="boom", node="explode") == 1
    assert value(samples, "cairn_checkpoint_write_seconds_count", graph="steps") == stepped  # a commit a step
    assert value(samples, "cairn_checkpoint_written_bytes_total", graph="steps") > 0
    assert samples.get(("cairn_lease_takeovers_total", frozenset({("graph", "steps")})), 0) == 0
    assert value(samples, "cairn_runs_recovered_total") == 0


def test_a_run_nobody_runs_yet_shows_in_the_queue(tmp_path: Any) -> None:
    make_project(tmp_path)
    server = start_server(tmp_path, "--workers", "0")  # the API only: runs stay queued
    try:
        client = get_sync_client(url=server.url)
        before = scrape(server.url)
        thread = client.threads.create()["thread_id"]
        client.runs.create(thread, "steps", input={"items": ["x"]})
        after = scrape(server.url)
    finally:
        server.stop()
    assert value(before, "cairn_queue_depth") == 0 and value(before, "cairn_queue_oldest_pending_seconds") == 0
    assert value(after, "cairn_queue_depth") == 1 and value(after, "cairn_runs", status="pending") == 1
    assert value(after, "cairn_queue_oldest_pending_seconds") > 0
    assert value(after, "cairn_workers") == 0


def test_a_run_of_a_killed_server_counts_as_recovered_and_its_thread_as_taken_over(tmp_path: Any) -> None:
    make_project(tmp_path)
    first = start_server(tmp_path)
    try:
        client = get_sync_client(url=first.url)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "steps", input={"items": ["x"], "delay": 0.4})
        wait_for(lambda: "s2" in first.counts())
        first.kill()
    finally:
        first.stop()
    second = start_server(tmp_path)
    try:
        client = get_sync_client(url=second.url)
        client.runs.join(thread, run["run_id"])
        samples = scrape(second.url)
    finally:
        second.stop()
    assert value(samples, "cairn_runs_recovered_total") == 1
    assert value(samples, "cairn_lease_takeovers_total", graph="steps") == 1
    assert value(samples, "cairn_runs", status="success") == 1
    assert value(samples, "cairn_run_duration_seconds_count", graph="steps", status="success") == 1


def test_on_postgres_an_api_only_server_counts_the_runs_a_worker_process_ran(tmp_path: Any) -> None:
    make_project(tmp_path)
    with fresh_schema() as url:
        api = start_server(tmp_path, "--workers", "0", env={"DATABASE_URI": url}, db=None)
        worker = start_worker(tmp_path, "--db", url)
        try:
            client = get_sync_client(url=api.url)
            for _ in range(3):
                client.runs.wait(client.threads.create()["thread_id"], "steps", input={"items": ["x"]})
            samples = scrape(api.url)
        finally:
            worker.terminate()
            worker.wait(10)
            api.stop()
    assert value(samples, "cairn_runs", status="success") == 3  # from the database
    assert value(samples, "cairn_queue_depth") == 0
    # Durations are those of the runs this process executed: none.
    assert not any(name == "cairn_step_duration_seconds_count" for name, _ in samples)
