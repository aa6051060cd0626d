"""cairn against LangGraph 1.2.22, side by side, on the same machine in one run.

    python3 benchmarks/run.py [--quick] [--only NAME ...] [--rounds N] [--no-results]

LangGraph lives in its own virtual environment, ``benchmarks/.venv-langgraph``
(created here when missing), never in cairn's dependencies. Each workload of
``workloads.py`` runs in a subprocess, once with this interpreter importing
``cairn`` and once with the virtual environment's importing ``langgraph``,
alternating (cairn, LangGraph, cairn, LangGraph, ...); the best round of each
is kept. Before the workloads, the storage ceilings are measured with no
library involved: single-row commits per second of SQLite (WAL, synchronous
FULL and NORMAL) and of Postgres.

Postgres: the server at ``$CAIRN_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); each run drops and
recreates the databases ``cairn_bench_cairn``, ``cairn_bench_langgraph`` and
``cairn_bench_ceiling`` there. The table is printed and written to
``benchmarks/RESULTS.md``, with a description of the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-langgraph"
RESULTS = BENCH / "RESULTS.md"
LANGGRAPH_VERSION = "1.2.22"
REQUIREMENTS = [
    f"langgraph=={LANGGRAPH_VERSION}",
    "langgraph-checkpoint-sqlite",
    "langgraph-checkpoint-postgres",
    "psycopg[binary]",
    "psycopg-pool",
]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LIBS = ("cairn", "langgraph")
PG_SKIPPED = "skipped (Postgres does not answer)"
GROUPS = ("ceilings", "linear", "fanout", "agent", "history", "chat", "concurrent_pg", "async_pg",
          "history_page", "list_threads")

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


@dataclass(frozen=True)
class Mode:
    """How long to measure: ``--quick`` for a smoke run, the default for figures."""

    name: str
    rounds: int
    seconds: float  # of each throughput measurement
    chat_turns: int
    history_repeats: int
    page_checkpoints: int  # of the history_page thread, and threads of list_threads


FULL = Mode("full", rounds=3, seconds=2.0, chat_turns=400, history_repeats=5, page_checkpoints=10_000)
QUICK = Mode("quick", rounds=2, seconds=0.5, chat_turns=200, history_repeats=3, page_checkpoints=2_000)


@dataclass(frozen=True)
class Job:
    """One workload with its parameters, run by some libraries; ``key`` names it."""

    key: str
    workload: str
    params: dict[str, Any]
    libs: tuple[str, ...] = LIBS
    postgres: bool = False

    @property
    def group(self) -> str:
        return self.key.split("/")[0]


@dataclass(frozen=True)
class Row:
    """A line of the table: one figure of a cairn job against one of a LangGraph job."""

    label: str
    unit: str
    better: str  # "higher" or "lower"
    cairn: tuple[str, str]  # (job key, figure name)
    langgraph: tuple[str, str]


@dataclass
class Outcome:
    """What the rounds of one job with one library gave."""

    figures: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # "n/a (...)", "error: ...", or why it did not run

    def best(self, figure: str, better: str) -> float | None:
        values = [f[figure] for f in self.figures if figure in f]
        if not values:
            return None
        return max(values) if better == "higher" else min(values)


def jobs(mode: Mode) -> list[Job]:
    s = mode.seconds
    linear = [
        Job(f"linear/{kind}", "linear", {"saver_kind": kind, "seconds": s})
        for kind in ("none", "memory", "sqlite")
    ]
    return [
        *linear,
        Job("linear/sqlite-normal", "linear", {"saver_kind": "sqlite-normal", "seconds": s},
            libs=("cairn",)),
        Job("linear/postgres", "linear", {"saver_kind": "postgres", "seconds": s}, postgres=True),
        Job("fanout/memory", "fanout", {"seconds": s}),
        *(Job(f"agent/{kind}", "agent", {"saver_kind": kind, "seconds": s}) for kind in ("memory", "sqlite")),
        Job("history/sqlite", "history", {"checkpoints": 1000, "repeats": mode.history_repeats}),
        Job("chat/sqlite", "chat", {"turns": mode.chat_turns}),
        Job("concurrent_pg/postgres", "concurrent_pg", {"seconds": s * 1.5}, postgres=True),
        Job("concurrent_pg/postgres-pool", "concurrent_pg",
            {"seconds": s * 1.5, "saver_kind": "postgres-pool"}, libs=("langgraph",),
            postgres=True),
        Job("async_pg/postgres-1ms", "async_pg", {"seconds": s * 1.5}, postgres=True),
        *(
            Job(f"{workload}/{kind}", workload,
                {size: mode.page_checkpoints, "repeats": mode.history_repeats, "kind": kind},
                postgres=kind == "postgres")
            for workload, size in (("history_page", "checkpoints"), ("list_threads", "threads"))
            for kind in ("sqlite", "postgres")
        ),
    ]


def rows(mode: Mode) -> list[Row]:
    def same(label: str, unit: str, better: str, key: str, figure: str) -> Row:
        return Row(label, unit, better, (key, figure), (key, figure))

    turns = mode.chat_turns
    pages = mode.page_checkpoints
    return [
        same("linear, no checkpointer", "steps/s", "higher", "linear/none", "steps_per_s"),
        same("linear, memory", "steps/s", "higher", "linear/memory", "steps_per_s"),
        same("linear, sqlite (both synchronous=FULL)", "steps/s", "higher", "linear/sqlite",
             "steps_per_s"),
        Row("linear, sqlite: cairn synchronous=NORMAL vs LangGraph's", "steps/s", "higher",
            ("linear/sqlite-normal", "steps_per_s"), ("linear/sqlite", "steps_per_s")),
        same("linear, postgres", "steps/s", "higher", "linear/postgres", "steps_per_s"),
        same("fanout 1+8+1 nodes, memory", "runs/s", "higher", "fanout/memory", "runs_per_s"),
        same("agent (create_react_agent, 3 tool calls), memory", "runs/s", "higher", "agent/memory",
             "runs_per_s"),
        same("agent (create_react_agent, 3 tool calls), sqlite", "runs/s", "higher", "agent/sqlite",
             "runs_per_s"),
        same("history: read 1,000 checkpoints, sqlite", "ms", "lower", "history/sqlite",
             "history_ms"),
        same("history: first read, new saver", "ms", "lower", "history/sqlite",
             "first_history_ms"),
        same("history: write the 1,000 (250 invokes)", "s", "lower", "history/sqlite",
             "build_s"),
        same(f"chat {turns} turns: database file", "MB", "lower", "chat/sqlite", "file_mb"),
        same(f"chat {turns} turns: file / message bytes", "x", "lower", "chat/sqlite",
             "file_ratio"),
        same("chat: turns 6-15", "ms/turn", "lower", "chat/sqlite", "early_turn_ms"),
        same(f"chat: turns {turns - 9}-{turns}", "ms/turn", "lower", "chat/sqlite",
             "late_turn_ms"),
        same("chat: cold get_state (new saver)", "ms", "lower", "chat/sqlite",
             "cold_get_state_ms"),
        same("concurrent_pg: 16 threads, one saver", "steps/s", "higher",
             "concurrent_pg/postgres", "steps_per_s"),
        Row("concurrent_pg: cairn vs LangGraph on a 16-connection pool", "steps/s", "higher",
            ("concurrent_pg/postgres", "steps_per_s"),
            ("concurrent_pg/postgres-pool", "steps_per_s")),
        same("async_pg, 1 ms away: one run at a time", "steps/s", "higher",
             "async_pg/postgres-1ms", "sequential_steps_per_s"),
        same("async_pg, 1 ms away: 16 concurrent runs", "steps/s", "higher",
             "async_pg/postgres-1ms", "concurrent_steps_per_s"),
        same("async_pg, 1 ms away: 16 concurrent / one at a time", "x", "higher",
             "async_pg/postgres-1ms", "concurrent_over_sequential"),
        *(
            row
            for kind in ("sqlite", "postgres")
            for row in (
                same(f"history page of 10, newest, of {pages:,} checkpoints ({kind})", "ms",
                     "lower", f"history_page/{kind}", "newest_ms"),
                same(f"history page of 10, from the middle ({kind})", "ms", "lower",
                     f"history_page/{kind}", "middle_ms"),
                same(f"history page of 10, middle, first read (new saver, {kind})", "ms",
                     "lower", f"history_page/{kind}", "middle_first_ms"),
                same(f"history page of 10, middle, filter source=input ({kind})", "ms", "lower",
                     f"history_page/{kind}", "filtered_ms"),
                same(f"list_threads over {pages:,} threads ({kind}; LangGraph: list(None))", "ms",
                     "lower", f"list_threads/{kind}", "best_ms"),
            )
        ),
    ]


# --- the LangGraph environment ----------------------------------------------------


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    """The LangGraph interpreter; creates or completes the environment if needed."""
    python = venv_python()
    check = (
        "import importlib.metadata as m, langgraph.checkpoint.sqlite, "
        "langgraph.checkpoint.postgres, psycopg, psycopg_pool; "
        f"assert m.version('langgraph') == {LANGGRAPH_VERSION!r}"
    )
    if python.exists() and subprocess.run([str(python), "-c", check],
                                          capture_output=True).returncode == 0:
        return python
    console.print(f"setting up {VENV.relative_to(ROOT)} with {' '.join(REQUIREMENTS)}")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *REQUIREMENTS], check=True)
    return python


def interpreter(lib: str, langgraph_python: Path) -> tuple[str, dict[str, str]]:
    """The command and environment that import ``lib``: cairn from this work tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if lib == "cairn":
        env["PYTHONPATH"] = str(ROOT / "src")
        return sys.executable, env
    return str(langgraph_python), env


# --- Postgres ---------------------------------------------------------------------


def database_url(base: str, name: str) -> str:
    return urllib.parse.urlsplit(base)._replace(path=f"/{name}").geturl()


def fresh_databases(base: str, names: list[str]) -> tuple[dict[str, str], str]:
    """Drops and creates each database; their URLs, or ({}, why the server is unusable)."""
    try:
        import psycopg
    except ImportError:
        return {}, "psycopg is not installed here: pip install -e '.[postgres]' (or '.[dev]')"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return {}, f"Postgres at {base} does not answer: {reason}"
    return {name: database_url(base, name) for name in names}, ""


def postgres_settings(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        values = [conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                  for name in ("server_version", "fsync", "synchronous_commit")]
    return f"{values[0]} (fsync={values[1]}, synchronous_commit={values[2]})"


# --- storage ceilings -------------------------------------------------------------


def commits_per_s(commit: Callable[[], None], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while True:
        commit()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed


def sqlite_ceiling(folder: str, synchronous: str, seconds: float) -> float:
    """Single-row INSERT transactions per second, WAL, ``synchronous`` as given."""
    path = os.path.join(folder, f"ceiling-{synchronous}-{time.monotonic_ns()}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, value BLOB NOT NULL)")
    payload = bytes(100)

    def commit() -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (value) VALUES (?)", (payload,))
        conn.execute("COMMIT")

    try:
        return commits_per_s(commit, seconds)
    finally:
        conn.close()


def postgres_ceiling(url: str, seconds: float) -> float:
    """Single-row INSERTs per second from one connection, each its own transaction."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, value bytea)")
        payload = bytes(100)

        def commit() -> None:
            conn.execute("INSERT INTO t (value) VALUES (%s)", (payload,))

        return commits_per_s(commit, seconds)


def ceilings(mode: Mode, pg_url: str, pg_skip: str) -> list[tuple[str, str]]:
    """(label, commits/s or why not) for each storage ceiling, best of the rounds."""
    seconds = max(mode.seconds, 1.0)
    found: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        for synchronous in ("FULL", "NORMAL"):
            best = max(sqlite_ceiling(folder, synchronous, seconds) for _ in range(mode.rounds))
            found.append((f"SQLite, WAL, synchronous={synchronous}", f"{best:,.0f}"))
    if pg_skip:
        found.append(("Postgres, one psycopg connection", PG_SKIPPED))
    else:
        best = max(postgres_ceiling(pg_url, seconds) for _ in range(mode.rounds))
        found.append(("Postgres, one psycopg connection", f"{best:,.0f}"))
    for label, value in found:
        unit = " commits/s" if value[:1].isdigit() else ""
        console.print(f"  ceiling  {label}: {value}{unit}")
    return found


# --- running the workloads ----------------------------------------------------------


def run_once(lib: str, job: Job, params: dict[str, Any], langgraph_python: Path) -> dict[str, Any]:
    python, env = interpreter(lib, langgraph_python)
    command = [python, str(BENCH / "workloads.py"), lib, job.workload, json.dumps(params)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=BENCH, env=env,
                              timeout=900)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 900 s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        console.print(f"[red]{job.key} {lib} failed[/red]:\n{done.stderr.strip()[-2000:]}")
        return {"error": last}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_job(job: Job, mode: Mode, pg: dict[str, str], pg_skip: str,
            langgraph_python: Path) -> dict[str, Outcome]:
    """Alternates the libraries round by round: cairn, LangGraph, cairn, LangGraph, ..."""
    outcomes = {lib: Outcome() for lib in job.libs}
    if job.postgres and pg_skip:
        for outcome in outcomes.values():
            outcome.skipped = PG_SKIPPED
        return outcomes
    for round_ in range(1, mode.rounds + 1):
        for lib in job.libs:
            outcome = outcomes[lib]
            if outcome.skipped:
                continue
            params = dict(job.params)
            if job.postgres:
                params["url"] = pg[f"cairn_bench_{lib}"]
            result = run_once(lib, job, params, langgraph_python)
            if "na" in result:
                outcome.skipped = f"n/a ({result['na']})"
            elif "error" in result:
                outcome.skipped = f"error: {result['error']}"
            else:
                outcome.figures.append(result["figures"])
                outcome.info.update(result.get("info", {}))
            shown = outcome.skipped or ", ".join(
                f"{k} {v:,.2f}" for k, v in result["figures"].items())
            console.print(f"  {job.key:28} round {round_}  {lib:9}  {shown}")
    return outcomes


# --- the table ------------------------------------------------------------------------


def number(value: float, unit: str) -> str:
    if unit in ("steps/s", "runs/s"):
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:,.1f}x"
    if unit == "MB":
        return f"{value:,.2f}"
    return f"{value:,.2f}"


def cell(outcome: Outcome | None, figure: str, better: str, unit: str) -> tuple[str, float | None]:
    if outcome is None:
        return "not run", None
    value = outcome.best(figure, better)
    if value is None:
        return outcome.skipped or "no figure", None
    return number(value, unit), value


def ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def table_rows(mode: Mode, results: dict[tuple[str, str], Outcome]) -> list[list[str]]:
    """[label, unit, better, cairn, LangGraph, cairn/LangGraph] for each row that ran."""
    lines = []
    for row in rows(mode):
        ours = results.get((row.cairn[0], "cairn"))
        theirs = results.get((row.langgraph[0], "langgraph"))
        if ours is None and theirs is None:
            continue
        ours_text, ours_value = cell(ours, row.cairn[1], row.better, row.unit)
        theirs_text, theirs_value = cell(theirs, row.langgraph[1], row.better, row.unit)
        ratio = ratio_text(ours_value / theirs_value) if ours_value and theirs_value else "-"
        lines.append([row.label, row.unit, row.better, ours_text, theirs_text, ratio])
    return lines


HEADERS = ["workload", "unit", "better", "cairn", f"LangGraph {LANGGRAPH_VERSION}",
           "cairn / LangGraph"]


def print_table(lines: list[list[str]], found_ceilings: list[tuple[str, str]]) -> None:
    table = Table(title="cairn vs LangGraph (best of the rounds)")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i < 3 else "right")
    for line in lines:
        table.add_row(*line)
    console.print(table)
    if found_ceilings:
        ceiling = Table(title="Storage ceilings (no library involved)")
        ceiling.add_column("single-row INSERT, one transaction each")
        ceiling.add_column("commits/s", justify="right")
        for label, value in found_ceilings:
            ceiling.add_row(label, value)
        console.print(ceiling)


def markdown_table(headers: list[str], lines: list[list[str]], right_from: int) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(headers))]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(x.replace("|", "\\|") for x in line) + " |" for line in lines]
    return "\n".join(out)


# --- the machine ----------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def langgraph_versions(langgraph_python: Path) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json, sqlite3, sys; print(json.dumps({"
        "'python': sys.version.split()[0], 'sqlite': sqlite3.sqlite_version, **{p: m.version(p) "
        "for p in ('langgraph', 'langgraph-checkpoint', 'langgraph-checkpoint-sqlite', "
        "'langgraph-checkpoint-postgres', 'psycopg')}}))"
    )
    done = subprocess.run([str(langgraph_python), "-c", script], capture_output=True, text=True,
                          check=True)
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def cairn_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--", "src").strip()
    return f"commit {commit}" + (" with uncommitted changes in src/" if dirty else "")


def machine(langgraph_python: Path, pg_url: str, pg_skip: str) -> list[tuple[str, str]]:
    lg = langgraph_versions(langgraph_python)
    postgres = PG_SKIPPED if pg_skip else postgres_settings(pg_url)
    python = sys.version.split()[0]
    sqlite_versions = {sqlite3.sqlite_version, lg["sqlite"]}
    return [
        ("date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("CPU", cpu_model()),
        ("cores", str(os.cpu_count())),
        ("RAM", memory_gib()),
        ("OS", platform.platform()),
        ("Python", python if lg["python"] == python else f"{python} (LangGraph: {lg['python']})"),
        ("SQLite", " / ".join(sorted(sqlite_versions))),
        ("SQLite files in", tempfile.gettempdir()),
        ("PostgreSQL server", postgres),
        ("LangGraph", f"langgraph {lg['langgraph']}, langgraph-checkpoint "
                      f"{lg['langgraph-checkpoint']}, -sqlite {lg['langgraph-checkpoint-sqlite']}, "
                      f"-postgres {lg['langgraph-checkpoint-postgres']}, psycopg {lg['psycopg']}"),
        ("cairn", cairn_revision()),
        ("load average at start", load_average()),
    ]


def load_average() -> str:
    """1, 5 and 15 minutes: other work on the machine makes every figure noisier."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# --- the notes and RESULTS.md -----------------------------------------------------------


def notes(mode: Mode, results: dict[tuple[str, str], Outcome], pg_skip: str) -> list[str]:
    said = [pg_skip + "; the postgres rows were skipped."] if pg_skip else []
    said += [
        f"Each figure is the best of {mode.rounds} rounds; the rounds alternate cairn, "
        "LangGraph, cairn, LangGraph, each in a fresh subprocess. The ratio is cairn's figure "
        "over LangGraph's: above 1 is better for cairn where higher is better, below 1 where "
        "lower is better.",
        "linear: a 10-node linear graph, a fresh thread per run, durability=\"sync\"; "
        "steps/s counts node steps (10 a run). fanout: START -> split -> 8 parallel -> join.",
    ]
    lg_sqlite = results.get(("linear/sqlite", "langgraph"))
    if lg_sqlite and lg_sqlite.info:
        said.append(
            "LangGraph's SqliteSaver on `sqlite3.connect(path, check_same_thread=False)` sets "
            f"journal_mode={lg_sqlite.info.get('journal_mode')} and leaves synchronous at "
            f"SQLite's default, read back as {lg_sqlite.info.get('synchronous')}; cairn's "
            "default is WAL with synchronous=FULL, so the sqlite row compares like with like."
        )
    said.append(
        "postgres rows: LangGraph's `PostgresSaver.from_conn_string` holds one connection "
        "behind a lock; cairn's keeps a pool of its own. The pooled concurrent_pg row gives "
        "LangGraph a psycopg_pool.ConnectionPool of 16 connections instead. concurrent_pg: 16 "
        "Python threads, each running the linear graph on fresh threads of its own."
    )
    said.append(
        f"chat: {mode.chat_turns} turns of about 500-character messages "
        "(benchmarks/chat_text.py, language-like words), one node appending a reply through "
        "add_messages, SQLite synchronous=FULL; the file is measured after the saver is closed."
    )
    return said


def write_results(mode: Mode, argv: list[str], described: list[tuple[str, str]],
                  lines: list[list[str]], found_ceilings: list[tuple[str, str]],
                  said: list[str]) -> None:
    command = " ".join(["python3 benchmarks/run.py", *argv]).strip()
    parts = [
        "<!-- Generated by benchmarks/run.py; do not edit by hand: run it again. -->",
        "# Benchmark results: cairn vs LangGraph",
        "",
        f"Generated by `{command}` ({mode.name} mode: {mode.rounds} rounds, "
        f"{mode.seconds:g} s per throughput figure).",
        "",
        "## Machine",
        "",
        markdown_table(["item", "value"], [[k, v] for k, v in described], right_from=2),
        "",
        "## Results",
        "",
        markdown_table(HEADERS, lines, right_from=3),
        "",
    ]
    if found_ceilings:
        parts += [
            "## Storage ceilings",
            "",
            "Single-row INSERT, one transaction each, no library involved: one durable "
            "commit per step is the budget a checkpointer works within.",
            "",
            markdown_table(["storage", "commits/s"], [list(c) for c in found_ceilings],
                           right_from=1),
            "",
        ]
    parts += ["## Notes", "", *[f"- {n}" for n in said], ""]
    RESULTS.write_text("\n".join(parts))


# --- main -----------------------------------------------------------------------------------


def selected(job_key: str, only: list[str]) -> bool:
    return not only or any(job_key == name or job_key.split("/")[0] == name for name in only)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, shorter measurements: a smoke run")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only these (repeat or comma-separate): {', '.join(GROUPS)}, "
                             "or a job such as linear/sqlite")
    parser.add_argument("--rounds", type=int, help="rounds per library (at least 2)")
    parser.add_argument("--no-results", action="store_true",
                        help=f"print the table only; leave {RESULTS.name} as it is")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    mode = QUICK if args.quick else FULL
    if args.rounds:
        mode = replace(mode, rounds=max(2, args.rounds))
    only = [name for arg in args.only for name in arg.split(",") if name]
    known = {job.key for job in jobs(mode)} | set(GROUPS)
    if unknown := [name for name in only if name not in known]:
        raise SystemExit(f"unknown --only {', '.join(unknown)}; choose from "
                         f"{', '.join(sorted(known))}")
    started = time.perf_counter()
    langgraph_python = ensure_venv()
    base = os.environ.get("CAIRN_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    pg, pg_skip = fresh_databases(
        base, ["cairn_bench_cairn", "cairn_bench_langgraph", "cairn_bench_ceiling"])
    if pg_skip:
        console.print(f"[yellow]Postgres {pg_skip}[/yellow]")
    described = machine(langgraph_python, base, pg_skip)
    console.print(f"{mode.name} run, {mode.rounds} rounds: " +
                  "; ".join(f"{k} {v}" for k, v in described))

    found_ceilings = (ceilings(mode, pg.get("cairn_bench_ceiling", ""), pg_skip)
                      if selected("ceilings", only) else [])
    results: dict[tuple[str, str], Outcome] = {}
    for job in jobs(mode):
        if selected(job.key, only):
            for lib, outcome in run_job(job, mode, pg, pg_skip, langgraph_python).items():
                results[(job.key, lib)] = outcome

    described.append(("load average at end", load_average()))
    lines = table_rows(mode, results)
    print_table(lines, found_ceilings)
    said = notes(mode, results, pg_skip)
    if not args.no_results:
        write_results(mode, argv, described, lines, found_ceilings, said)
        console.print(f"written to {RESULTS.relative_to(ROOT)}")
    console.print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
