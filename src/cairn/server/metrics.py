"""What ``GET /metrics`` serves, in Prometheus' text format.

Two kinds of figures, in one registry owned by the server (not
prometheus_client's process-wide default, so two servers in one process
never mix):

- from the database, read at each scrape, so they are right whatever
  process ran the runs: ``cairn_runs{status}``, ``cairn_threads``,
  ``cairn_queue_depth``, ``cairn_queue_oldest_pending_seconds``;
- from the work this process did, by observing its runs
  (``cairn.runtime.observe``): ``cairn_run_duration_seconds{graph,status}``,
  ``cairn_step_duration_seconds{graph}``,
  ``cairn_node_duration_seconds{graph,node}``, ``cairn_node_errors_total{graph,node}``,
  ``cairn_checkpoint_write_seconds{graph}``,
  ``cairn_checkpoint_written_bytes_total{graph}``,
  ``cairn_lease_takeovers_total{graph}``, ``cairn_runs_recovered_total``,
  and ``cairn_workers`` / ``cairn_runs_here`` (this process's worker tasks,
  and the runs they execute now).
"""

from __future__ import annotations

from datetime import datetime, timezone
from time import perf_counter
from typing import Any, Iterator, Protocol, Sequence

from cairn.server import _requires  # noqa: F401 - the extra's packages, or a clear error

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cairn.checkpoint.base import CheckpointRecord, TaskRecord
from cairn.runtime.observe import RunInfo, RunObserver
from cairn.server.db import ServerDB


class WorkerGauges(Protocol):
    """What the gauges read of a process's workers (``worker.Workers``)."""

    count: int

    @property
    def busy(self) -> int: ...

__all__ = ["CONTENT_TYPE", "RUN_STATUSES", "ServerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

RUN_STATUSES = ("pending", "running", "success", "error", "interrupted")
"""The statuses of the server's runs, each always shown (0 when none)."""

STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a step or a node runs from a millisecond (storage bound) to minutes (a model call)."""
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
WRITE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Seconds: a checkpoint commit is a fraction of a millisecond to some milliseconds."""


class ServerMetrics:
    """The figures of one server (or ``cairn worker``) process; ``observer(graph_id)``
    is what the workers attach to each run of that graph."""

    def __init__(self, db: ServerDB) -> None:
        self.registry = CollectorRegistry()
        self.workers: WorkerGauges | None = None
        """This process's workers, once made (their gauges)."""
        r = self.registry
        self.run_seconds = Histogram(
            "cairn_run_duration_seconds", "Runs executed by this process: seconds from start to end, by graph and how they ended.",
            ["graph", "status"], buckets=RUN_BUCKETS, registry=r,
        )
        self.step_seconds = Histogram(
            "cairn_step_duration_seconds", "Super-steps run by this process: seconds each took, its commit included.",
            ["graph"], buckets=STEP_BUCKETS, registry=r,
        )
        self.node_seconds = Histogram(
            "cairn_node_duration_seconds", "Node executions (tasks) in this process: seconds each took, retries included.",
            ["graph", "node"], buckets=STEP_BUCKETS, registry=r,
        )
        self.node_errors = Counter(
            "cairn_node_errors", "Node executions that raised (after their retries).", ["graph", "node"], registry=r
        )
        self.write_seconds = Histogram(
            "cairn_checkpoint_write_seconds", "Checkpoint commits by this process: seconds each took.",
            ["graph"], buckets=WRITE_BUCKETS, registry=r,
        )
        self.written_bytes = Counter(
            "cairn_checkpoint_written_bytes", "Bytes of checkpoint rows this process stored.", ["graph"], registry=r
        )
        self.takeovers = Counter(
            "cairn_lease_takeovers",
            "Threads this process's runs took over from a writer whose process was gone.", ["graph"], registry=r,
        )
        self.recovered = Counter(
            "cairn_runs_recovered", "Runs of a dead process (or an expired claim) this process put back in the queue.",
            registry=r,
        )
        r.register(_FromDatabase(db, self))
        self._graphs: dict[str, RunMetrics] = {}

    def observer(self, graph_id: str) -> "RunMetrics":
        """What records the runs of graph ``graph_id`` (one per graph, kept)."""
        found = self._graphs.get(graph_id)
        if found is None:
            found = self._graphs[graph_id] = RunMetrics(self, graph_id)
        return found

    def render(self) -> bytes:
        """The text ``/metrics`` answers (reads the database: call it off the event loop)."""
        return generate_latest(self.registry)  # type: ignore[no-any-return]


class RunMetrics:
    """The observer of one graph's runs (``compile(observers=...)``'s kind).
    It holds the graph's labelled series, looked up once, not at each step."""

    def __init__(self, metrics: ServerMetrics, graph: str) -> None:
        self.metrics = metrics
        self.graph = graph
        self.step_seconds = metrics.step_seconds.labels(graph)
        self.write_seconds = metrics.write_seconds.labels(graph)
        self.written_bytes = metrics.written_bytes.labels(graph)
        self.nodes: dict[str, Any] = {}
        """Node name -> its duration series."""

    def node(self, name: str) -> Any:
        series = self.nodes.get(name)
        if series is None:
            series = self.nodes[name] = self.metrics.node_seconds.labels(self.graph, name)
        return series

    def run_started(self, run: RunInfo) -> RunObserver:
        return _RunTimes(self)


class _RunTimes(RunObserver):
    def __init__(self, graph: RunMetrics) -> None:
        self.graph = graph
        self.began = perf_counter()
        self.step_began = self.began

    def lease_taken_over(self, holder: str) -> None:
        self.graph.metrics.takeovers.labels(self.graph.graph).inc()

    def step_started(self, step: int, tasks: Sequence[TaskRecord]) -> None:
        self.step_began = perf_counter()

    def step_ended(self, step: int, error: BaseException | None) -> None:
        self.graph.step_seconds.observe(perf_counter() - self.step_began)

    def task_started(self, step: int, task: TaskRecord) -> Any:
        return perf_counter()

    def task_ended(self, token: Any, task: TaskRecord, error: BaseException | None) -> None:
        self.graph.node(task.name).observe(perf_counter() - token)
        if error is not None:
            self.graph.metrics.node_errors.labels(self.graph.graph, task.name).inc()

    def checkpoint_written(self, checkpoint: CheckpointRecord, seconds: float, size: int | None) -> None:
        self.graph.write_seconds.observe(seconds)
        if size:
            self.graph.written_bytes.inc(size)

    def run_ended(self, status: str, error: BaseException | None) -> None:
        self.graph.metrics.run_seconds.labels(self.graph.graph, status).observe(perf_counter() - self.began)


class _FromDatabase(Collector):
    """The gauges read at each scrape: from the database, and this process's workers."""

    def __init__(self, db: ServerDB, metrics: ServerMetrics) -> None:
        self.db = db
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        counts = self.db.counts()
        runs = GaugeMetricFamily("cairn_runs", "Runs in the database, by status (every process's).", labels=["status"])
        for status in RUN_STATUSES:
            runs.add_metric([status], counts.get(status, 0))
        yield runs
        yield GaugeMetricFamily("cairn_threads", "Threads in the database.", value=counts.get("threads", 0))
        yield GaugeMetricFamily(
            "cairn_queue_depth", "Runs waiting for a worker (pending), in the database.", value=counts.get("pending", 0)
        )
        oldest = self.db.oldest_pending()
        age = 0.0
        if oldest is not None:
            age = max(0.0, (datetime.now(timezone.utc) - datetime.fromisoformat(oldest)).total_seconds())
        yield GaugeMetricFamily(
            "cairn_queue_oldest_pending_seconds", "Age of the oldest pending run (0: none waits).", value=age
        )
        workers = self.metrics.workers
        if workers is not None:
            yield GaugeMetricFamily("cairn_workers", "Worker tasks of this process.", value=workers.count)
            yield GaugeMetricFamily("cairn_runs_here", "Runs this process is executing now.", value=workers.busy)
