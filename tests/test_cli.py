"""The ``cairn`` command line: the demo crashes, resumes and forks for real,
its database can be read back through the library, and what a user can get
wrong ends in one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli import cli
from cairn.cli.models import StandInModel
from cairn.cli.project import build_project_graph
from tests.other_user import as_other_user, reachable_tmp, snapshot  # noqa: F401


@dataclass
class DemoRuns:
    folder: Path
    first: Result
    second: Result


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRuns]:
    """`cairn demo` run twice in a row in a fresh folder (once for the module:
    each run spawns and kills a child process)."""
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        first = run_cli("demo")
        second = run_cli("demo")
    yield DemoRuns(folder, first, second)


def history(db: Path, thread_id: str) -> list[Any]:
    with SqliteSaver.from_conn_string(str(db)) as saver:
        graph = build_project_graph(StandInModel(), saver)
        return list(graph.get_state_history({"configurable": {"thread_id": thread_id}}))


# --- the demo ---------------------------------------------------------------------


def test_demo_kills_day_one_and_resumes_on_day_two(demo_runs: DemoRuns) -> None:
    out = demo_runs.first.output
    assert demo_runs.first.exit_code == 0, out
    day1 = out[out.index("Day 1") : out.index("Day 2")]
    assert "step  1  planning" in day1
    assert "step  2  execution" in day1
    assert "SIGKILL -> pid" in day1 and "while step 3 (execution) was running" in day1
    day2 = out[out.index("Day 2") : out.index("History")]
    assert "the file holds step 2: 3/8 tasks done, next: execution" in day2
    assert "step  3  execution" in day2 and "step  5  review" in day2


def test_demo_resume_does_not_rerun_committed_steps(demo_runs: DemoRuns) -> None:
    out = demo_runs.first.output
    day2 = out[out.index("Day 2") : out.index("History")]
    assert "step  1" not in day2 and "step  2" not in day2
    assert "this process ran: execution x2, review x1" in day2
    assert "not re-run: step 1 planning, step 2 execution" in day2


def test_demo_shows_history_and_both_branches(demo_runs: DemoRuns) -> None:
    out = demo_runs.first.output
    assert "graph.get_state_history(config), newest first" in out
    fork = out[out.index("Time travel") :]
    assert "edited as planning: plan cut to 4 tasks" in fork
    assert "original branch" in fork and "fork: MVP of 4 tasks" in fork
    assert "8 of 8 planned tasks" in fork and "4 of 8 planned tasks" in fork
    both = out[out.index("History with both branches") :]
    for label in ("main", "fork", "both"):
        assert f" {label} " in both


def test_demo_output_fits_80_columns(demo_runs: DemoRuns) -> None:
    widest = max(demo_runs.first.output.splitlines(), key=len)
    assert len(widest) <= 80, widest


def test_demo_database_holds_the_thread_and_its_branches(demo_runs: DemoRuns) -> None:
    db = demo_runs.folder / "cairn-demo.db"
    assert db.is_file()
    snapshots = history(db, "project-1")
    # main: steps -1..5; fork: an update at step 2, then steps 3..5
    assert sorted(s.metadata["step"] for s in snapshots) == [-1, 0, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    days = {(s.metadata["step"], s.metadata["source"]): s.metadata["day"] for s in snapshots}
    assert days[(1, "loop")] == 1 and days[(2, "update")] == 2
    ends = [s for s in snapshots if s.metadata["step"] == 5]
    reports = sorted(s.values["final_report"].split("\n")[0] for s in ends)
    assert reports == [
        "AI Platform: 4 of 8 planned tasks done in 2 rounds.",
        "AI Platform: 8 of 8 planned tasks done in 3 rounds.",
    ]
    for end in ends:
        tasks = end.values["completed_tasks"]
        assert len(tasks) == len(set(tasks)), "a task was carried out twice"


def test_demo_runs_twice_in_a_row_on_a_new_thread(demo_runs: DemoRuns) -> None:
    assert demo_runs.second.exit_code == 0, demo_runs.second.output
    assert "project-2" in demo_runs.second.output
    with SqliteSaver.from_conn_string(str(demo_runs.folder / "cairn-demo.db")) as saver:
        threads = sorted(t.thread_id for t in saver.list_threads())
    assert threads == ["project-1", "project-2"]
    assert len(history(demo_runs.folder / "cairn-demo.db", "project-2")) == 11


# --- errors a user can cause --------------------------------------------------------


def assert_clean_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_demo_with_ollama_unreachable_says_how_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    result = run_cli("demo", "--model", "ollama:foo")
    assert_clean_failure(result, "http://127.0.0.1:11434", "ollama serve")
    assert not (tmp_path / "cairn-demo.db").exists()


def test_demo_with_unknown_model_kind_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_clean_failure(run_cli("demo", "--model", "gpt-9"), "'gpt-9'", "ollama:NAME")


def test_demo_db_in_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "demo.db"
    assert_clean_failure(run_cli("demo", "--db", str(db)), "does not exist", "nowhere")


def test_demo_db_that_is_a_directory_fails_cleanly(tmp_path: Path) -> None:
    assert_clean_failure(run_cli("demo", "--db", str(tmp_path)), "is a directory")


def test_demo_db_that_is_not_a_database_fails_cleanly_and_leaves_it_alone(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_text("these are my notes, not a database\n" * 100)
    assert_clean_failure(run_cli("demo", "--db", str(db)), str(db), "not a SQLite database")
    assert db.read_text().startswith("these are my notes")


def test_demo_db_in_memory_is_refused_at_once_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day 1 runs in a child process, which cannot see this process's memory:
    refused before the model is checked, a child started or a file made."""
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    result = run_cli("demo", "--db", ":memory:", "--model", "ollama:not-checked")
    assert time.monotonic() - started < 5
    assert_clean_failure(result, "':memory:'", "child process", "file path")
    assert "ollama" not in result.output.lower()
    assert list(tmp_path.iterdir()) == []


def test_demo_db_the_user_may_not_write_names_the_permissions(reachable_tmp: Path) -> None:
    folder = reachable_tmp / "shared"
    folder.mkdir()
    db = folder / "demo.db"
    with SqliteSaver.from_conn_string(str(db)):
        pass
    db.chmod(0o444)
    folder.chmod(0o777)
    before = snapshot(reachable_tmp)

    def attempt() -> list[Any]:
        result = run_cli("demo", "--db", str(db))
        return [result.exit_code, result.output]

    found = as_other_user(attempt)
    assert isinstance(found, list), found
    exit_code, output = found
    assert exit_code != 0 and "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert str(db) in lines[0] and "may not write to the file" in lines[0]
    assert "not a SQLite database" not in lines[0]
    assert snapshot(reachable_tmp) == before


def test_demo_db_given_a_url_says_it_takes_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("demo", "--db", "postgresql://user:s3cret@localhost:5432/db")
    assert_clean_failure(result, "not a URL", "postgresql://", "give a path")
    assert "s3cret" not in result.output
    assert list(tmp_path.iterdir()) == []


# --- a model served by Ollama ---------------------------------------------------------


class FakeOllama(BaseHTTPRequestHandler):
    """Ollama's two endpoints the demo uses, answering with the stand-in model."""

    models = ["tiny:latest"]

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            self._reply({"models": [{"name": name} for name in self.models]})
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/generate" and body["model"] in ("tiny", "tiny:latest"):
            self._reply({"response": StandInModel().complete(body["prompt"])})
        else:
            self.send_error(404, "model not found")

    def _reply(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fake Ollama on a free port, named by OLLAMA_HOST (the child process inherits it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.server_address[1]}")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_demo_runs_on_an_ollama_model_in_both_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ollama: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("demo", "--model", "ollama:tiny")
    assert result.exit_code == 0, result.output
    assert "ollama:tiny" in result.output
    assert "this process ran: execution x2, review x1" in result.output
    assert "8 of 8 planned tasks" in result.output


def test_demo_with_a_model_ollama_lacks_says_how_to_pull_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ollama: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_clean_failure(run_cli("demo", "--model", "ollama:huge"), ollama, "ollama pull huge")


# --- help -------------------------------------------------------------------------


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("path", list(commands(cli)), ids=lambda p: " ".join(("cairn", *p)))
def test_every_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    invocation = " ".join(("cairn", *path))
    lines = [line.strip() for line in result.output.splitlines()]
    example_lines = [line for line in lines if line.startswith("cairn ")]
    assert any(line.startswith(invocation) for line in example_lines), result.output


def test_python_m_cairn_cli_is_the_cairn_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cairn.cli", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: cairn ")


# --- cairn history ------------------------------------------------------------------


def cairn_elsewhere(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m cairn.cli ARGS`` in a process that cannot import the tests'
    applications (only cairn is on its path)."""
    src = Path(__file__).resolve().parents[1] / "src"
    return subprocess.run(
        [sys.executable, "-m", "cairn.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_history_shows_any_database_without_its_applications_code(tmp_path: Path) -> None:
    from tests.test_serde_symmetry import app

    db = tmp_path / "app.db"
    assert "ok" in app("store", "sqlite", str(db), "t", "card")
    done = cairn_elsewhere("history", "t", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    headings = [line.split()[:3] for line in lines if line.startswith("step ")]
    assert headings == [["step", "1", "loop"], ["step", "0", "loop"], ["step", "-1", "input"]]
    card = (
        "<opaque dataclass tests.symmetry_app:Card {'title': 'c', 'detail': "
        "<opaque dataclass tests.symmetry_app:Detail {'text': 'd'}>}>"
    )
    assert f"  write write: {{'card': {card}}}" in lines
    assert "  write __start__: {'case': 'card'}" in lines
    assert "  next: write" in lines
    assert sum(line.startswith("  run_id: ") for line in lines) == 3


def test_history_of_a_missing_database_or_thread_fails_in_one_line(tmp_path: Path) -> None:
    missing = run_cli("history", "t", "--db", str(tmp_path / "none.db"))
    assert missing.exit_code == 1 and "none.db" in missing.output and "missing" in missing.output
    assert not (tmp_path / "none.db").exists()
    with SqliteSaver.from_conn_string(str(tmp_path / "empty.db")):
        pass
    empty = run_cli("history", "nobody", "--db", str(tmp_path / "empty.db"))
    assert empty.exit_code == 1 and "'nobody' has no checkpoints" in empty.output
