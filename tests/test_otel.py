"""``cairn.otel``: a run is a trace of cairn.run > cairn.step > cairn.node
(and cairn.checkpoint.write) spans, with the ids a person looks them up by,
and the error of a failing node recorded where it happened."""

from __future__ import annotations

import asyncio
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel tests need opentelemetry-sdk: pip install 'cairn[dev]'")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from cairn.checkpoint.sqlite import SqliteSaver  # noqa: E402
from cairn.errors import ArgumentTypeError  # noqa: E402
from cairn.graph import END, START, StateGraph  # noqa: E402
from cairn.otel import OtelObserver, instrument  # noqa: E402


class State(TypedDict, total=False):
    items: Annotated[list, operator.add]
    fail: bool


@pytest.fixture
def spans() -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    exporter.provider = provider  # type: ignore[attr-defined]
    return exporter


def graph_of(tmp_path: Path, tracer: Any, sleepy_async: bool = False) -> Any:
    inner = tracer.get_tracer("app")

    def a(state: State) -> dict:
        with inner.start_as_current_span("app.work"):
            return {"items": ["a"]}

    async def b(state: State) -> dict:
        await asyncio.sleep(0)
        if state.get("fail"):
            raise ValueError("b cannot go on")
        return {"items": ["b"]}

    builder = StateGraph(State)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    return builder.compile(SqliteSaver(str(tmp_path / "db.sqlite")), name="pair")


def by_name(finished: Any, name: str) -> list[Any]:
    return [s for s in finished if s.name == name]


def test_an_async_run_on_sqlite_is_a_trace_of_nested_spans(tmp_path: Path, spans: Any) -> None:
    graph = instrument(graph_of(tmp_path, spans.provider), tracer_provider=spans.provider)
    asyncio.run(graph.ainvoke({"items": []}, {"configurable": {"thread_id": "t1"}}))
    finished = spans.get_finished_spans()
    (run,) = by_name(finished, "cairn.run")
    assert run.attributes["cairn.thread_id"] == "t1" and run.attributes["cairn.graph"] == "pair"
    assert run.attributes["cairn.status"] == "success" and run.parent is None
    steps = by_name(finished, "cairn.step")
    assert [s.attributes["cairn.step"] for s in steps] == [0, 1, 2]
    assert all(s.parent.span_id == run.context.span_id for s in steps)
    nodes = {s.attributes["cairn.node"]: s for s in by_name(finished, "cairn.node")}
    assert set(nodes) == {"__start__", "a", "b"}
    step_of = {s.context.span_id: s.attributes["cairn.step"] for s in steps}
    assert {n: step_of[s.parent.span_id] for n, s in nodes.items()} == {"__start__": 0, "a": 1, "b": 2}
    (work,) = by_name(finished, "app.work")  # the node's own span nests under the node's
    assert work.parent.span_id == nodes["a"].context.span_id
    writes = by_name(finished, "cairn.checkpoint.write")
    assert [step_of[w.parent.span_id] for w in writes] == [0, 1, 2]
    assert all(w.attributes["cairn.bytes"] > 0 for w in writes)
    stored = [c.config["configurable"]["checkpoint_id"] for c in graph.get_state_history("t1")]
    assert [w.attributes["cairn.checkpoint_id"] for w in writes] == stored[::-1][1:]
    assert all(s.context.trace_id == run.context.trace_id for s in finished)


def test_a_failing_node_records_its_error_on_node_step_and_run(tmp_path: Path, spans: Any) -> None:
    graph = graph_of(tmp_path, spans.provider)
    config = {"configurable": {"thread_id": "t2"}, "observers": [OtelObserver(spans.provider)]}
    with pytest.raises(ValueError):
        graph.invoke({"fail": True}, config)
    finished = spans.get_finished_spans()
    (failed,) = [s for s in by_name(finished, "cairn.node") if s.attributes["cairn.node"] == "b"]
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.message"] for e in failed.events] == ["b cannot go on"]
    last_step = by_name(finished, "cairn.step")[-1]
    assert last_step.attributes["cairn.step"] == 2 and last_step.status.status_code is StatusCode.ERROR
    (run,) = by_name(finished, "cairn.run")
    assert run.status.status_code is StatusCode.ERROR and run.attributes["cairn.status"] == "error"
    ok = [s for s in by_name(finished, "cairn.node") if s.attributes["cairn.node"] == "a"]
    assert ok[0].status.status_code is StatusCode.UNSET


def test_a_sync_run_in_a_callers_span_is_its_child(tmp_path: Path, spans: Any) -> None:
    graph = instrument(graph_of(tmp_path, spans.provider), tracer_provider=spans.provider)
    with spans.provider.get_tracer("app").start_as_current_span("request") as request:
        graph.invoke({"items": []}, "t3")
    (run,) = by_name(spans.get_finished_spans(), "cairn.run")
    assert run.parent.span_id == request.get_span_context().span_id
    assert len(by_name(spans.get_finished_spans(), "cairn.node")) == 3


def test_instrument_names_what_is_not_a_graph() -> None:
    with pytest.raises(ArgumentTypeError, match="compiled cairn graph"):
        instrument(StateGraph(State))


def test_serve_traces_only_when_the_environment_configures_an_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.otel import ENVIRONMENT, from_environment

    for name in (*ENVIRONMENT, "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert from_environment() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    assert isinstance(from_environment(), OtelObserver)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert from_environment() is None


def test_cairn_runs_graphs_without_importing_opentelemetry() -> None:
    import subprocess
    import sys

    code = (
        "import sys, operator\n"
        "from typing import TypedDict\n"
        "from cairn.graph import StateGraph, START\n"
        "from cairn.checkpoint.memory import InMemorySaver\n"
        "class S(TypedDict):\n    n: int\n"
        "b = StateGraph(S); b.add_node('a', lambda s: {'n': 1}); b.add_edge(START, 'a')\n"
        "b.compile(InMemorySaver()).invoke({'n': 0}, 't')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'prometheus_client'))))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert found.stdout.strip() == "[]"
