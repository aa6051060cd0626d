"""OpenTelemetry spans for runs: ``pip install 'cairn[otel]'``.

``instrument(graph)`` makes every run of ``graph`` a trace of spans:

- ``cairn.run``: the run (a child of the caller's current span, if any);
- ``cairn.step``: each super-step, a child of its run;
- ``cairn.node``: each task of a step, a child of its step, and the current
  span while the node runs (spans the node's own code starts nest under it);
- ``cairn.checkpoint.write``: each commit of checkpoints, a child of its step
  (of the run, for a commit after the last step).

Attributes: ``cairn.graph``, ``cairn.thread_id``, ``cairn.run_id``,
``cairn.step``, ``cairn.node``, ``cairn.task_id``, ``cairn.checkpoint_id``,
``cairn.bytes`` and, on the run, ``cairn.status`` (success, error,
interrupted, cancelled). A failed node, the step it fails and the run record
the exception and have an error status; an interrupt is no error.

``OtelObserver`` is the observer itself, for ``compile(observers=[...])`` or
one call's ``config={"observers": [...]}``. Spans go to the global tracer
provider unless one is given. ``cairn serve`` adds it to the graphs it serves
when the OpenTelemetry SDK is configured through its environment (see
``from_environment``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

from cairn.checkpoint.base import CheckpointRecord, TaskRecord
from cairn.errors import ArgumentTypeError, MissingDependencyError
from cairn.runtime.observe import RunInfo, RunObserver

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, Status, StatusCode
except ImportError as exc:  # pragma: no cover - the extra is installed for the tests
    raise MissingDependencyError(
        f"cairn.otel needs {exc.name}, which is not installed: pip install 'cairn[otel]'"
    ) from exc

__all__ = ["OtelObserver", "from_environment", "instrument"]

TRACER_NAME = "cairn"

ENVIRONMENT = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
"""Variables any of which, set, tells ``cairn serve`` to trace its runs."""


class OtelObserver:
    """Makes each run a ``cairn.run`` span with its steps, nodes and writes
    nested below (``tracer_provider``: where spans go; the global one if None)."""

    def __init__(self, tracer_provider: Any = None) -> None:
        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)

    def run_started(self, run: RunInfo) -> RunObserver:
        span = self.tracer.start_span(
            "cairn.run",
            attributes={"cairn.graph": run.graph, "cairn.thread_id": run.thread_id, "cairn.run_id": run.run_id},
        )
        return _RunSpans(self.tracer, run, span)

    def __repr__(self) -> str:
        return "OtelObserver()"


def _failed(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


class _RunSpans(RunObserver):
    """The spans of one run: its own, the open step's, one per running task."""

    def __init__(self, tracer: Any, run: RunInfo, span: Span) -> None:
        self.tracer = tracer
        self.run = run
        self.span = span
        self.step: Span | None = None
        """The span of the step running now (steps of a run never overlap)."""

    def _under(self, parent: Span, name: str, attributes: dict[str, Any], start: int | None = None) -> Span:
        attributes["cairn.thread_id"] = self.run.thread_id
        return self.tracer.start_span(  # type: ignore[no-any-return]
            name, context=trace.set_span_in_context(parent), attributes=attributes, start_time=start
        )

    def step_started(self, step: int, tasks: Sequence[TaskRecord]) -> None:
        self.step = self._under(self.span, "cairn.step", {"cairn.step": step})

    def step_ended(self, step: int, error: BaseException | None) -> None:
        span, self.step = self.step, None
        if span is None:
            return
        if error is not None:
            _failed(span, error)
        span.end()

    def task_started(self, step: int, task: TaskRecord) -> Any:
        span = self._under(
            self.step or self.span, "cairn.node", {"cairn.node": task.name, "cairn.step": step, "cairn.task_id": task.id}
        )
        # Current while the node runs (this is its own context): its spans nest under it.
        return span, otel_context.attach(trace.set_span_in_context(span))

    def task_ended(self, token: Any, task: TaskRecord, error: BaseException | None) -> None:
        span, attached = token
        otel_context.detach(attached)
        if error is not None:
            _failed(span, error)
        span.end()

    def checkpoint_written(self, checkpoint: CheckpointRecord, seconds: float, size: int | None) -> None:
        now = time.time_ns()
        attributes: dict[str, Any] = {"cairn.checkpoint_id": checkpoint.id, "cairn.step": checkpoint.step}
        if size is not None:
            attributes["cairn.bytes"] = size
        span = self._under(self.step or self.span, "cairn.checkpoint.write", attributes, now - int(seconds * 1e9))
        span.end(end_time=now)
        if self.step is not None:
            self.step.set_attribute("cairn.checkpoint_id", checkpoint.id)

    def run_ended(self, status: str, error: BaseException | None) -> None:
        if self.step is not None:  # cut short by the run's end
            self.step_ended(-1, error)
        self.span.set_attribute("cairn.status", status)
        if status == "error" and error is not None:
            _failed(self.span, error)
        self.span.end()


def instrument(graph: Any, *, tracer_provider: Any = None) -> Any:
    """Trace every run of the compiled ``graph`` (see the module's doc);
    returns the graph. ``tracer_provider``: where spans go (the global one if None)."""
    if not hasattr(graph, "observers"):
        raise ArgumentTypeError(
            f"instrument() takes a compiled cairn graph (StateGraph(...).compile()), got {graph!r}"
        )
    graph.observers = (*graph.observers, OtelObserver(tracer_provider))
    return graph


def from_environment() -> OtelObserver | None:
    """An observer for ``cairn serve`` when the environment configures
    OpenTelemetry's exporter (any of ``ENVIRONMENT`` set, ``OTEL_SDK_DISABLED``
    not true), else None. Spans go to the global tracer provider, which
    ``opentelemetry-instrument cairn serve ...`` sets up from those variables."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not any(os.environ.get(name) for name in ENVIRONMENT):
        return None
    return OtelObserver()
