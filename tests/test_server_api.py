"""``cairn serve`` driven by LangGraph's own client, ``langgraph_sdk``: the
assistants, threads, state and runs endpoints answer as LangGraph's server
does, over cairn's storage."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server_support import ServerProcess, serving

langgraph_sdk = pytest.importorskip("langgraph_sdk", reason="the server tests drive it with langgraph_sdk (cairn[dev])")
from langgraph_sdk import get_client, get_sync_client  # noqa: E402
from langgraph_sdk.errors import ConflictError, NotFoundError  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_sync_client(url=server.url)


def test_ok_answers_and_info_names_the_server(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/ok").json() == {"ok": True}
    info = httpx.get(f"{server.url}/info").json()
    assert info["flags"]["assistants"] is True


def test_metrics_count_runs_by_status_in_prometheus_text(server: ServerProcess, client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "steps", input={"items": ["x"]})
    text = httpx.get(f"{server.url}/metrics").text
    samples = {(s.name, s.labels.get("status")): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("cairn_runs", "success")] >= 1
    assert samples[("cairn_threads", None)] >= 1 and samples[("cairn_workers", None)] == 10


def test_each_graph_is_an_assistant_found_by_its_id_or_its_name(client: Any) -> None:
    found = client.assistants.search()
    assert sorted(a["graph_id"] for a in found) == ["agent", "boom", "chat", "nested", "steps"]
    agent = client.assistants.get("agent")
    assert agent["assistant_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, "agent"))
    assert client.assistants.get(agent["assistant_id"])["graph_id"] == "agent"
    assert client.assistants.count(graph_id="steps") == 1
    assert [a["graph_id"] for a in client.assistants.search(graph_id="boom")] == ["boom"]


def test_an_assistant_shows_its_graph_and_schemas(client: Any) -> None:
    drawing = client.assistants.get_graph("agent")
    assert {node["id"] for node in drawing["nodes"]} >= {"__start__", "first", "ask", "last", "__end__"}
    schemas = client.assistants.get_schemas("agent")
    assert "items" in schemas["input_schema"]["properties"]
    assert client.assistants.get_subgraphs("agent") == {}


def test_an_unknown_assistant_is_404_naming_the_graphs(client: Any) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.assistants.get("nope")
    assert "nope" in str(caught.value.response.json()["detail"])


def test_threads_are_created_read_patched_searched_counted_copied_and_deleted(client: Any) -> None:
    mark = uuid.uuid4().hex
    made = client.threads.create(metadata={"mark": mark, "user": "ann"})
    assert made["status"] == "idle" and made["values"] is None
    assert client.threads.get(made["thread_id"])["metadata"] == {"mark": mark, "user": "ann"}
    client.threads.update(made["thread_id"], metadata={"user": "bob"})
    assert client.threads.get(made["thread_id"])["metadata"] == {"mark": mark, "user": "bob"}
    other = client.threads.create(metadata={"mark": mark, "user": "cat"})
    assert {t["thread_id"] for t in client.threads.search(metadata={"mark": mark})} == {made["thread_id"], other["thread_id"]}
    assert [t["thread_id"] for t in client.threads.search(metadata={"mark": mark, "user": "cat"})] == [other["thread_id"]]
    assert client.threads.count(metadata={"mark": mark}) == 2
    assert len(client.threads.search(metadata={"mark": mark}, limit=1, offset=1)) == 1
    copy = client.threads.copy(made["thread_id"])
    assert copy["thread_id"] != made["thread_id"] and copy["metadata"]["user"] == "bob"
    client.threads.delete(made["thread_id"])
    with pytest.raises(NotFoundError):
        client.threads.get(made["thread_id"])


def test_creating_a_thread_twice_is_a_conflict_unless_asked_to_do_nothing(client: Any) -> None:
    thread_id = str(uuid.uuid4())
    client.threads.create(thread_id=thread_id, metadata={"n": 1})
    with pytest.raises(ConflictError):
        client.threads.create(thread_id=thread_id)
    assert client.threads.create(thread_id=thread_id, if_exists="do_nothing")["metadata"] == {"n": 1}


def test_a_stream_sends_metadata_first_then_each_modes_events(client: Any) -> None:
    thread = client.threads.create()
    parts = list(
        client.runs.stream(thread["thread_id"], "steps", input={"items": ["x"]}, stream_mode=["values", "updates"])
    )
    assert parts[0].event == "metadata"
    assert set(parts[0].data) == {"run_id", "attempt"} and parts[0].data["attempt"] == 1
    assert [p.event for p in parts[1:]] == ["values"] + ["updates", "values"] * 4
    assert parts[2].data == {"s1": {"items": ["s1"]}}
    assert parts[-1].data == {"items": ["x", "s1", "s2", "s3", "s4"]}
    run = client.runs.get(thread["thread_id"], parts[0].data["run_id"])
    assert run["status"] == "success"
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


def test_an_interrupted_run_is_resumed_with_command_resume(client: Any) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread["thread_id"], "agent", input={"items": ["x"]})
    assert result["items"] == ["x", "a"]
    assert result["__interrupt__"][0]["value"] == {"question": "ok?"}
    assert result["__interrupt__"][0]["response_schema"] == {"type": "string"}  # the graph's, for the UI
    paused = client.threads.get(thread["thread_id"])
    assert paused["status"] == "interrupted"
    [(task_id, interrupts)] = paused["interrupts"].items()
    assert interrupts[0]["value"] == {"question": "ok?"}
    assert interrupts[0]["response_schema"] == {"type": "string"}
    state = client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["ask"] and state["tasks"][0]["id"] == task_id
    done = client.runs.wait(thread["thread_id"], "agent", command={"resume": "yes"})
    assert done == {"items": ["x", "a", "b", "c"], "answer": "yes"}
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


def test_a_run_forks_from_an_earlier_checkpoint_with_edited_state(client: Any) -> None:
    thread = client.threads.create()
    client.runs.wait(thread["thread_id"], "steps", input={"items": ["x"]})
    history = client.threads.get_history(thread["thread_id"], limit=10)
    assert [h["next"] for h in history][:2] == [[], ["s4"]]
    after_s1 = next(h for h in history if h["next"] == ["s2"])
    edited = client.threads.update_state(
        thread["thread_id"], {"items": ["edited"]}, as_node="s1", checkpoint_id=after_s1["checkpoint_id"]
    )
    forked = client.runs.wait(thread["thread_id"], "steps", input=None, checkpoint_id=edited["checkpoint"]["checkpoint_id"])
    assert forked["items"] == ["x", "s1", "edited", "s2", "s3", "s4"]
    at = client.threads.get_state(thread["thread_id"], checkpoint_id=after_s1["checkpoint_id"])
    assert at["values"]["items"] == ["x", "s1"]
    first_page = client.threads.get_history(thread["thread_id"], limit=2)
    older = client.threads.get_history(thread["thread_id"], limit=2, before=first_page[-1]["checkpoint_id"])
    assert older[0]["checkpoint_id"] not in {h["checkpoint_id"] for h in first_page}


def test_a_failing_run_streams_an_error_event_and_the_thread_shows_the_error(client: Any) -> None:
    thread = client.threads.create()
    parts = list(client.runs.stream(thread["thread_id"], "boom", input={"items": ["x"]}))
    assert parts[-1].event == "error"
    assert parts[-1].data == {"error": "ValueError", "message": "kaput"}
    failed = client.threads.get(thread["thread_id"])
    assert failed["status"] == "error" and failed["error"]["message"] == "kaput"
    assert client.runs.list(thread["thread_id"])[0]["status"] == "error"
    waited = client.runs.wait(thread["thread_id"], "boom", input={"items": ["y"]}, raise_error=False)
    assert waited == {"__error__": {"error": "ValueError", "message": "kaput"}}


def test_stateless_runs_wait_and_stream_without_a_thread(client: Any) -> None:
    assert client.runs.wait(None, "steps", input={"items": ["x"]})["items"] == ["x", "s1", "s2", "s3", "s4"]
    events = [p.event for p in client.runs.stream(None, "steps", input={"items": ["y"]}, stream_mode="updates")]
    assert events == ["metadata"] + ["updates"] * 4


def test_a_background_run_is_listed_read_and_joined(client: Any) -> None:
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], "steps", input={"items": ["x"]}, metadata={"tag": "bg"})
    assert run["status"] in ("pending", "running") and run["metadata"]["tag"] == "bg"
    assert run["metadata"]["graph_id"] == "steps"
    assert client.runs.join(thread["thread_id"], run["run_id"])["items"][-1] == "s4"
    assert client.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"
    assert [r["run_id"] for r in client.runs.list(thread["thread_id"])] == [run["run_id"]]
    assert client.threads.get(thread["thread_id"])["values"]["items"][-1] == "s4"


def test_the_async_client_streams_and_joins_a_runs_stream(server: ServerProcess) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        client = get_client(url=server.url)
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "steps", input={"items": ["x"], "delay": 0.05}, stream_mode="updates", stream_resumable=True)
        joined = [p.event async for p in client.runs.join_stream(thread["thread_id"], run["run_id"])]
        streamed = [p.event async for p in client.runs.stream(thread["thread_id"], "agent", input={"items": ["y"]}, stream_mode="updates")]
        return joined, streamed

    joined, streamed = asyncio.run(scenario())
    assert joined == ["metadata"] + ["updates"] * 4
    assert streamed == ["metadata", "updates", "updates"]  # "first", then the interrupt


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "named"),
    [
        ("POST", "/threads", b"{bad", 422, "JSON"),
        ("GET", "/threads/not-a-uuid", None, 422, "not-a-uuid"),
        ("GET", f"/threads/{uuid.UUID(int=0)}", None, 404, str(uuid.UUID(int=0))),
        ("POST", "/threads", b'{"metadata": [1]}', 422, "metadata"),
        ("POST", "/threads/search", b'{"limit": "many"}', 422, "limit"),
        ("POST", "/runs/wait", b'{"assistant_id": "nope"}', 422, "nope"),
        ("POST", "/runs/wait", b'{"assistant_id": "steps", "stream_mode": "loud"}', 422, "loud"),
        ("POST", "/runs/wait", b'{"assistant_id": "steps", "interrupt_before": ["zz"]}', 422, "zz"),
        ("POST", "/runs/wait", b'{"assistant_id": "steps", "multitask_strategy": "maybe"}', 422, "maybe"),
        ("GET", "/no/such/path", None, 404, "/no/such/path"),
    ],
)
def test_bad_input_is_a_4xx_json_error_naming_the_problem(
    server: ServerProcess, method: str, path: str, body: bytes | None, status: int, named: str
) -> None:
    before = httpx.post(f"{server.url}/threads/count", json={}).json()
    response = httpx.request(method, f"{server.url}{path}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert named in response.json()["detail"]
    assert httpx.post(f"{server.url}/threads/count", json={}).json() == before


def test_a_run_on_an_unknown_thread_is_404_and_creates_nothing(client: Any) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.wait(missing, "steps", input={"items": ["x"]})
    assert caught.value.response.status_code == 404
    with pytest.raises(NotFoundError):
        client.threads.get(missing)
    assert client.runs.wait(missing, "steps", input={"items": ["x"]}, if_not_exists="create")["items"][-1] == "s4"


def test_a_thread_without_a_graph_refuses_a_state_update_and_a_run_with_input_and_command(client: Any) -> None:
    thread = client.threads.create()
    with pytest.raises(ConflictError):
        client.threads.update_state(thread["thread_id"], {"items": ["x"]})
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.wait(thread["thread_id"], "steps", input={"items": ["x"]}, command={"resume": 1})
    assert caught.value.response.status_code == 422
    assert client.runs.list(thread["thread_id"]) == []


def test_messages_go_on_the_wire_as_langchain_dicts(client: Any) -> None:
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"], "chat", input={"messages": [{"role": "user", "content": "hi"}]},
            stream_mode=["messages-tuple", "values"],
        )
    )
    [(message, metadata)] = [p.data for p in parts if p.event == "messages"]
    assert {k: message[k] for k in ("type", "content", "id", "tool_calls")} == {
        "type": "ai", "content": "hello hi", "id": "ai-1", "tool_calls": [],
    }
    assert metadata["langgraph_node"] == "reply"
    last = [p.data for p in parts if p.event == "values"][-1]
    assert [(m["type"], m["content"]) for m in last["messages"]] == [("human", "hi"), ("ai", "hello hi")]


def test_subgraph_events_are_named_mode_and_namespace(client: Any) -> None:
    thread = client.threads.create()
    parts = list(
        client.runs.stream(thread["thread_id"], "nested", input={"items": ["x"]}, stream_mode="updates", stream_subgraphs=True)
    )
    names = [p.event for p in parts]
    assert names[:2] == ["metadata", "updates"]
    [inner] = [p for p in parts if p.event.startswith("updates|sub:")]
    assert inner.data == {"inner_step": {"items": ["inner"]}}
    assert parts[-1].data == {"sub": {"items": ["x", "a", "inner"]}}
    assert list(client.assistants.get_subgraphs("nested")) == ["sub"]


def test_interrupt_before_pauses_the_run_before_the_node(client: Any) -> None:
    thread = client.threads.create()
    paused = client.runs.wait(thread["thread_id"], "steps", input={"items": ["x"]}, interrupt_before=["s3"])
    assert paused["items"] == ["x", "s1", "s2"]
    assert client.threads.get_state(thread["thread_id"])["next"] == ["s3"]
    assert client.threads.get(thread["thread_id"])["status"] == "interrupted"
    assert client.runs.wait(thread["thread_id"], "steps", input=None)["items"][-1] == "s4"


def _events(response: httpx.Response) -> list[tuple[str | None, str]]:
    found, event_id = [], None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            found.append((event_id, line[7:]))
    return found


def test_a_resumable_stream_is_joined_again_from_last_event_id(server: ServerProcess, client: Any) -> None:
    thread = client.threads.create()["thread_id"]
    body = {"assistant_id": "steps", "input": {"items": ["x"]}, "stream_mode": "updates", "stream_resumable": True}
    with httpx.stream("POST", f"{server.url}/threads/{thread}/runs/stream", json=body) as response:
        first = _events(response)
        location = response.headers["location"]
    assert [e for _, e in first] == ["metadata"] + ["updates"] * 4
    assert [i for i, _ in first] == ["0", "1", "2", "3", "4"]
    with httpx.stream("GET", f"{server.url}{location}", headers={"Last-Event-ID": "2"}) as again:
        assert _events(again) == first[3:]
    refused = httpx.get(f"{server.url}{location}", headers={"Last-Event-ID": "soon"})
    assert refused.status_code == 422 and "soon" in refused.json()["detail"]


def test_serve_with_a_missing_config_says_so_without_a_traceback(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.server_support import SRC

    done = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "serve", "--config", str(tmp_path / "nope.json")],
        capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert done.returncode != 0
    assert "nope.json" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_store_keeps_items_across_threads_for_clients(client: Any) -> None:
    user = uuid.uuid4().hex
    client.store.put_item(["memories", user], "food", {"likes": "pizza"})
    client.store.put_item(["memories", user], "pet", {"likes": "cats"})
    assert client.store.get_item(["memories", user], "food")["value"] == {"likes": "pizza"}
    found = client.store.search_items(["memories", user], filter={"likes": "cats"})
    assert [item["key"] for item in found["items"]] == ["pet"]
    assert ["memories", user] in client.store.list_namespaces(prefix=["memories"])["namespaces"]
    client.store.delete_item(["memories", user], "food")
    with pytest.raises(NotFoundError):
        client.store.get_item(["memories", user], "food")
    bad = httpx.put(f"{client.http.client.base_url}/store/items", json={"namespace": ["m"], "key": "k", "value": [1]})
    assert bad.status_code == 422 and "value" in bad.json()["detail"]
