"""SqliteSaver / AsyncSqliteSaver on real files: the seeds' ways of opening it,
resuming in another process, many Python threads and processes on one file,
bad files and damaged rows, and thread management with its effect on the file."""

from __future__ import annotations

import asyncio
import json
import operator
import os
import random
import sqlite3
import string
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from cairn.checkpoint.sqlite import SqliteSaver
from cairn.checkpoint.sqlite.aio import AsyncSqliteSaver
from cairn.errors import CairnError, ConfigError, StorageError
from cairn.graph import END, START, StateGraph
from tests.crash_child import (
    PROJECT_TASKS,
    WRITER_STEPS,
    build_project_workflow,
    build_writer_graph,
    read_lines,
    writer_expected,
)
from tests.other_user import RUNS_AS_ROOT, as_other_user, reachable_tmp, snapshot  # noqa: F401
from tests.support import async_pair, at, cid, history, linear, run_async, steps, thread

ROOT = Path(__file__).resolve().parents[1]


def run_child(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tests.crash_child ARGS`` to completion; fail on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"child {args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def file_bytes(path: Path) -> bytes:
    return path.read_bytes()


def siblings(path: Path) -> list[str]:
    """Files next to ``path`` that share its name (the -wal and -shm files)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


# --- small graphs ------------------------------------------------------------------


class Growing(TypedDict):
    items: Annotated[list, operator.add]
    n: int


def growing(saver: Any, steps_: int, width: int = 200) -> Any:
    """One node that loops ``steps_`` times, appending a ``width``-character string
    each time (random letters, so that compression does not hide the growth)."""

    def grow(state: Growing) -> dict[str, Any]:
        n = state["n"] + 1
        noise = random.Random(n).choices(string.ascii_letters + string.digits, k=width - 4)
        return {"items": [f"{n:04d}" + "".join(noise)], "n": n}

    def again(state: Growing) -> str:
        return END if state["n"] >= steps_ else "grow"

    builder = StateGraph(Growing).add_node("grow", grow)
    builder.add_edge(START, "grow").add_conditional_edges("grow", again, ["grow", END])
    return builder.compile(checkpointer=saver)


def grow_thread(graph: Any, thread_id: str, steps_: int) -> dict[str, Any]:
    return graph.invoke(
        {"items": [], "n": 0}, {"configurable": {"thread_id": thread_id}, "recursion_limit": steps_ + 5}
    )


# --- seed 003: the project resumed the next day, in another process --------------


def test_project_workflow_resumes_next_day_in_another_process_without_rerunning_nodes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "project_checkpoints.db"
    runs = tmp_path / "runs.txt"
    config = {"configurable": {"thread_id": "project-1"}}

    # Day 1, in this process: start the project; it pauses after planning.
    checkpointer = SqliteSaver.from_conn_string(str(db))
    graph = build_project_workflow(checkpointer, str(runs))
    day1 = graph.invoke(
        {
            "project_name": "AI Platform",
            "project_description": "an internal platform",
            "planning_complete": False,
            "execution_complete": False,
            "review_complete": False,
            "current_stage": "planning",
            "pending_tasks": [],
            "completed_tasks": [],
        },
        config,
    )
    checkpointer.close()
    assert day1["planning_complete"] is True
    assert day1["pending_tasks"] == PROJECT_TASKS
    assert read_lines(str(runs)) == ["planning"]

    # Days 2, 3 and 4: each a new Python process that builds the graph again.
    day2 = json.loads(run_child("project", str(db), "project-1", str(runs)).stdout)
    assert day2["completed_tasks"] == PROJECT_TASKS[:3]
    assert day2["pending_tasks"] == PROJECT_TASKS[3:]
    assert day2["current_stage"] == "execution"
    assert read_lines(str(runs)) == ["planning", "execution"]

    day3 = json.loads(run_child("project", str(db), "project-1", str(runs)).stdout)
    assert day3["completed_tasks"] == PROJECT_TASKS
    assert day3["execution_complete"] is True
    assert read_lines(str(runs)) == ["planning", "execution", "execution"]

    day4 = json.loads(run_child("project", str(db), "project-1", str(runs)).stdout)
    assert day4["review_complete"] is True
    assert day4["current_stage"] == "complete"
    assert day4["final_report"] == "AI Platform: 6 tasks done"
    assert day4["execution_results"] == [f"{t}: done" for t in PROJECT_TASKS]
    assert read_lines(str(runs)) == ["planning", "execution", "execution", "review"]

    # The whole multi-day history is in the file, one checkpoint per step.
    with SqliteSaver(db) as saver:
        graph = build_project_workflow(saver, str(runs))
        snapshot = graph.get_state(config)
        assert snapshot.next == ()
        assert snapshot.values == day4
        past = history(graph, config)
        assert steps(past) == [4, 3, 2, 1, 0, -1]
        assert [list((s.metadata.get("writes") or {}).keys()) for s in past] == [
            ["review"], ["execution"], ["execution"], ["planning"], ["__start__"], [],
        ]


# --- seed 001: from_conn_string with and without `with` --------------------------


def test_from_conn_string_without_with_can_be_compiled_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sqlite_saver = SqliteSaver.from_conn_string("checkpoints.db")
    graph = linear(sqlite_saver)
    assert graph.invoke({"log": []}, thread("user_123")) == {"log": ["a", "b", "c"]}
    sqlite_saver.close()

    # "Checkpoints survive application restarts": a new saver on the same file.
    restarted = SqliteSaver.from_conn_string("checkpoints.db")
    graph = linear(restarted)
    assert graph.get_state(thread("user_123")).values == {"log": ["a", "b", "c"]}
    assert steps(history(graph, thread("user_123"))) == [3, 2, 1, 0, -1]
    restarted.close()


def test_from_conn_string_with_block_works_and_closes_the_file_at_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SqliteSaver.from_conn_string("checkpoints.db") as checkpointer:
        graph = linear(checkpointer)
        assert graph.invoke({"log": []}, thread("t")) == {"log": ["a", "b", "c"]}
        assert (tmp_path / "checkpoints.db-wal").exists()  # open, in WAL mode
    # Closing the last connection checkpoints the WAL into the file and removes it.
    assert siblings(tmp_path / "checkpoints.db") == ["checkpoints.db"]
    with pytest.raises(CairnError):
        graph.get_state(thread("t"))
    with SqliteSaver.from_conn_string("checkpoints.db") as reopened:
        assert linear(reopened).get_state(thread("t")).values == {"log": ["a", "b", "c"]}


def test_using_a_closed_saver_says_it_was_closed_without_unrelated_advice(tmp_path: Path) -> None:
    """Not the check_same_thread advice meant for a connection shared between threads."""
    with SqliteSaver(tmp_path / "c.db") as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t"))
    with pytest.raises(CairnError) as excinfo:
        graph.get_state(thread("t"))
    message = str(excinfo.value)
    assert "closed" in message
    assert "check_same_thread" not in message


# --- seed 002: SqliteSaver("state.db") and the crash example -----------------------


class Count(TypedDict):
    count: int


def seed002_graph(checkpointer: Any, runs: list[str], step3_broken: bool) -> Any:
    def step1(state: Count) -> dict[str, Any]:
        runs.append("step1")
        return {"count": state["count"] + 1}

    def step2(state: Count) -> dict[str, Any]:
        runs.append("step2")
        return {"count": state["count"] + 1}

    def step3(state: Count) -> dict[str, Any]:
        runs.append("step3")
        if step3_broken:
            raise RuntimeError("Simulated crash")
        return {"count": state["count"] + 1}

    builder = StateGraph(Count)
    builder.add_node("step1", step1)
    builder.add_node("step2", step2)
    builder.add_node("step3", step3)
    builder.set_entry_point("step1")
    builder.add_edge("step1", "step2")
    builder.add_edge("step2", "step3")
    builder.add_edge("step3", END)
    return builder.compile(checkpointer=checkpointer)


def test_seed002_crash_in_step3_resumes_from_the_file_without_rerunning_step1_and_step2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runs: list[str] = []
    checkpointer = SqliteSaver("state.db")
    graph = seed002_graph(checkpointer, runs, step3_broken=True)
    with pytest.raises(RuntimeError, match="Simulated crash"):
        graph.invoke({"count": 0}, config={"thread_id": "job-1"})
    checkpointer.close()
    assert runs == ["step1", "step2", "step3"]

    # The process restarts with step3 fixed; the saver reopens the same file.
    checkpointer = SqliteSaver("state.db")
    graph = seed002_graph(checkpointer, runs, step3_broken=False)
    stopped = graph.get_state({"thread_id": "job-1"})
    assert stopped.values == {"count": 2}
    assert stopped.next == ("step3",)
    assert "Simulated crash" in (stopped.tasks[0].error or "")

    result = graph.invoke(None, config={"thread_id": "job-1"})
    assert result == {"count": 3}
    assert runs == ["step1", "step2", "step3", "step3"]
    assert steps(history(graph, {"thread_id": "job-1"})) == [3, 2, 1, 0, -1]
    checkpointer.close()


# --- a user's own sqlite3 connection ---------------------------------------------


def test_saver_on_a_users_connection_works_and_the_history_survives_reopening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mine.db"
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    graph = linear(saver)
    graph.invoke({"log": []}, thread("t"))
    graph.invoke({"log": ["more"]}, thread("t"))
    before = [(cid(s.config), s.values, s.next, s.metadata) for s in history(graph, thread("t"))]
    saver.close()  # not the saver's connection: it stays open for its owner
    assert conn.execute("SELECT COUNT(*) FROM cairn_checkpoints").fetchone()[0] == len(before)
    conn.close()

    with SqliteSaver(path) as reopened:
        graph = linear(reopened)
        after = [(cid(s.config), s.values, s.next, s.metadata) for s in history(graph, thread("t"))]
        assert after == before
        assert graph.get_state(thread("t")).values == {
            "log": ["a", "b", "c", "more", "a", "b", "c"]
        }


def test_a_connection_bound_to_its_thread_gives_advice_when_used_from_another(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / "bound.db")  # check_same_thread=True
    graph = linear(SqliteSaver(conn))
    with ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(CairnError, match="check_same_thread=False"):
            pool.submit(graph.invoke, {"log": []}, thread("t")).result()
    conn.close()


# --- many Python threads, many processes ------------------------------------------


class Trail(TypedDict):
    trail: Annotated[list, operator.add]


def test_forty_python_threads_share_one_saver_and_keep_every_thread_history_intact(
    tmp_path: Path,
) -> None:
    nodes = [f"s{i}" for i in range(1, 6)]

    def make(name: str) -> Any:
        def node(state: Trail, config: Any) -> dict[str, Any]:
            time.sleep(0.001)  # let the threads interleave
            return {"trail": [f"{config['configurable']['thread_id']}/{name}"]}

        return node

    builder = StateGraph(Trail)
    previous = START
    for name in nodes:
        builder.add_node(name, make(name))
        builder.add_edge(previous, name)
        previous = name

    with SqliteSaver(tmp_path / "shared.db") as saver:
        graph = builder.compile(checkpointer=saver)
        ids = [f"thread-{i:02d}" for i in range(40)]
        start = threading.Barrier(40)

        def job(tid: str) -> dict[str, Any]:
            start.wait(timeout=30)
            return graph.invoke({"trail": [f"{tid}/in"]}, thread(tid))

        with ThreadPoolExecutor(max_workers=40) as pool:
            results = dict(zip(ids, pool.map(job, ids)))

        for tid in ids:
            expected = [f"{tid}/in"] + [f"{tid}/{n}" for n in nodes]
            assert results[tid] == {"trail": expected}
            assert graph.get_state(thread(tid)).values == {"trail": expected}
            past = history(graph, thread(tid))
            assert steps(past) == [5, 4, 3, 2, 1, 0, -1]
            for snapshot in past:
                step = snapshot.metadata["step"]
                assert snapshot.values == {"trail": expected[: step + 1]}  # step -1: the empty list
                assert snapshot.config["configurable"]["thread_id"] == tid
        assert saver.stats().threads == 40
        assert saver.stats().checkpoints == 40 * 7


def test_two_processes_writing_different_threads_to_one_file_both_complete(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    go = tmp_path / "go"
    per_process = 8
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.crash_child", "writer", str(db), prefix, str(per_process), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("left", "right")
    ]
    time.sleep(0.5)  # both are importing cairn and waiting for the go file
    go.touch()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, f"a writer process failed:\n{out}\n{err}"
        assert out.strip() == "done"

    with SqliteSaver(db) as saver:
        graph = build_writer_graph(saver)
        assert saver.stats().threads == 2 * per_process
        for prefix in ("left", "right"):
            for i in range(per_process):
                tid = f"{prefix}-{i}"
                assert graph.get_state(thread(tid)).values == {"items": writer_expected(tid)}
                past = history(graph, thread(tid))
                assert steps(past) == list(range(WRITER_STEPS, -2, -1))
                for snapshot in past:
                    step = snapshot.metadata["step"]
                    assert snapshot.values == {"items": writer_expected(tid, max(step, 0))}
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


# --- async ---------------------------------------------------------------------


def test_async_saver_as_async_context_manager_with_ainvoke_and_aget_state(tmp_path: Path) -> None:
    path = str(tmp_path / "async.db")
    builder = async_pair()

    async def main() -> tuple[Any, Any, list[Any]]:
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            return await run_async(builder, saver, "a")

    result, snapshot, past = asyncio.run(main())
    assert result == {"log": ["first", "second"]}
    assert snapshot.values == {"log": ["first", "second"]}
    assert snapshot.next == ()
    assert steps(past) == [2, 1, 0, -1]
    # Closed at the end of `async with`; the data is in the file.
    assert siblings(Path(path)) == ["async.db"]
    with SqliteSaver(path) as saver:
        assert builder.compile(checkpointer=saver).get_state(thread("a")).values == result


# --- bad files and bad options -----------------------------------------------------


def test_a_path_in_a_missing_directory_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "state.db"
    with pytest.raises(CairnError) as excinfo:
        SqliteSaver(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "create" in message  # what to do
    assert not (tmp_path / "no").exists()


def test_a_file_that_is_not_sqlite_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"These are my notes, not a database.\n" * 20)
    before = file_bytes(path)
    with pytest.raises(CairnError) as excinfo:
        SqliteSaver(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "not a SQLite database" in message
    assert "new file" in message
    assert file_bytes(path) == before
    assert siblings(path) == ["notes.db"]


def other_application_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO customers (name) VALUES (?)", [("ada",), ("alan",)])
    conn.commit()
    conn.close()


def test_another_applications_database_is_refused_and_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    other_application_db(path)
    with pytest.raises(CairnError) as excinfo:
        SqliteSaver(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "customers" in message
    assert "new file" in message
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"customers"}
    assert conn.execute("SELECT name FROM customers ORDER BY id").fetchall() == [("ada",), ("alan",)]
    conn.close()


def test_another_applications_database_is_left_byte_for_byte_unchanged(tmp_path: Path) -> None:
    """In particular not switched to WAL mode before its tables were looked at."""
    path = tmp_path / "crm.db"
    other_application_db(path)
    before = file_bytes(path)
    with pytest.raises(CairnError):
        SqliteSaver(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()
    assert file_bytes(path) == before


def test_a_database_from_a_newer_cairn_is_refused_asking_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with SqliteSaver(path) as saver:
        linear(saver).invoke({"log": []}, thread("t"))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE cairn_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = file_bytes(path)
    with pytest.raises(CairnError) as excinfo:
        SqliteSaver(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert "upgrade" in message
    assert "99" in message
    assert file_bytes(path) == before
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM cairn_meta WHERE key = 'schema_version'").fetchone() == ("99",)
    assert conn.execute("SELECT COUNT(*) FROM cairn_checkpoints").fetchone() == (5,)
    conn.close()


def test_an_unknown_synchronous_mode_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(ConfigError) as excinfo:
        SqliteSaver(path, synchronous="bogus")
    assert "bogus" in str(excinfo.value)
    assert "full" in str(excinfo.value)
    assert not path.exists()


# --- files this process may not write --------------------------------------------
# A refused open names the cause (the user, the file or directory, its owner and
# mode) and what to do, and leaves the disk as it was: no file created, no byte
# changed, no -wal or -shm left behind. The opens run as a user the permission
# bits apply to (tests/other_user.py: user nobody when the tests run as root).


def open_as_other_user(path: Path) -> str:
    def attempt() -> str:
        SqliteSaver(path).close()
        return "opened"

    return str(as_other_user(attempt))


def cairn_file(path: Path) -> None:
    """A cairn database holding one finished thread, closed (no -wal or -shm left)."""
    with SqliteSaver(path) as saver:
        linear(saver).invoke({"log": []}, thread("t"))
    assert siblings(path) == [path.name]


def test_a_new_file_in_a_directory_the_user_may_not_write_names_the_directory(
    reachable_tmp: Path,
) -> None:
    folder = reachable_tmp / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o555)
    outcome = open_as_other_user(folder / "state.db")
    assert outcome.startswith("StorageError: "), outcome
    assert repr(str(folder)) in outcome
    assert "may not create files in the directory" in outcome
    assert "unable to open database file" not in outcome
    assert "writable" in outcome  # what to do
    assert list(folder.iterdir()) == []


def test_a_file_the_user_may_not_write_is_refused_at_open_and_nothing_is_left_next_to_it(
    reachable_tmp: Path,
) -> None:
    """SQLite would open it read-only without a word: the saver would fail at
    its first write, and leave -wal and -shm files of the user behind."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    path = folder / "state.db"
    cairn_file(path)
    path.chmod(0o444)
    folder.chmod(0o777)
    before = snapshot(reachable_tmp)
    outcome = open_as_other_user(path)
    assert outcome.startswith("StorageError: "), outcome
    assert repr(str(path)) in outcome
    assert "may not write to the file" in outcome
    assert "-r--r--r--" in outcome  # the mode that says why
    assert "not a SQLite database" not in outcome and "new file" not in outcome
    assert snapshot(reachable_tmp) == before


def test_a_wal_file_in_a_directory_the_user_may_not_write_names_the_wal_and_the_directory(
    reachable_tmp: Path,
) -> None:
    """The file is writable, but SQLite must create state.db-wal and -shm next to it."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    path = folder / "state.db"
    cairn_file(path)
    path.chmod(0o666)
    folder.chmod(0o555)
    before = snapshot(reachable_tmp)
    outcome = open_as_other_user(path)
    assert outcome.startswith("StorageError: "), outcome
    assert repr(str(folder)) in outcome
    assert "state.db-wal" in outcome
    assert "may not create files in the directory" in outcome
    assert "not a SQLite database" not in outcome
    assert snapshot(reachable_tmp) == before


def test_a_new_cairn_file_switching_to_wal_in_a_read_only_directory_is_left_unchanged(
    reachable_tmp: Path,
) -> None:
    """An empty file someone made for cairn, in rollback-journal mode."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    path = folder / "state.db"
    path.touch(mode=0o666)
    path.chmod(0o666)
    folder.chmod(0o555)
    before = snapshot(reachable_tmp)
    outcome = open_as_other_user(path)
    assert outcome.startswith("StorageError: "), outcome
    assert "may not create files in the directory" in outcome
    assert "not a SQLite database" not in outcome
    assert snapshot(reachable_tmp) == before


def test_wal_and_shm_files_of_another_user_are_named(reachable_tmp: Path) -> None:
    """What a crashed process of another user leaves next to the database."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    path = folder / "state.db"
    cairn_file(path)
    path.chmod(0o666)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").touch()
        Path(f"{path}{suffix}").chmod(0o444)
    folder.chmod(0o777)
    before = snapshot(reachable_tmp)
    outcome = open_as_other_user(path)
    assert outcome.startswith("StorageError: "), outcome
    assert "state.db-wal" in outcome or "state.db-shm" in outcome
    assert "may not write to" in outcome
    assert "attempt to write a readonly database" not in outcome.split(":", 1)[1][:60]
    assert snapshot(reachable_tmp) == before


def test_a_users_read_only_connection_reads_and_names_the_permissions_at_the_first_write(
    reachable_tmp: Path,
) -> None:
    """A connection the user opened is theirs: it can read a file it may not
    write, and a run through it says why nothing can be stored."""
    folder = reachable_tmp / "shared"
    folder.mkdir()
    path = folder / "state.db"
    cairn_file(path)
    path.chmod(0o444)
    folder.chmod(0o777)
    before = path.read_bytes()

    def attempt() -> list[str]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            graph = linear(SqliteSaver(conn))
            values = graph.get_state(thread("t")).values
            try:
                graph.invoke({"log": []}, thread("u"))
            except CairnError as exc:
                return [str(values), f"{type(exc).__name__}: {exc}"]
            return [str(values), "stored"]
        finally:
            conn.close()

    found = as_other_user(attempt)
    assert isinstance(found, list), found
    values, outcome = found
    assert values == str({"log": ["a", "b", "c"]})
    assert outcome.startswith("StorageError: "), outcome
    assert "may not write to the file" in outcome
    assert path.read_bytes() == before


def test_a_users_connection_opened_read_only_says_so_at_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    cairn_file(path)
    before = path.read_bytes()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        graph = linear(SqliteSaver(conn))
        assert graph.get_state(thread("t")).values == {"log": ["a", "b", "c"]}
        with pytest.raises(StorageError) as excinfo:
            graph.invoke({"log": []}, thread("u"))
    finally:
        conn.close()
    assert "opened with mode=ro" in str(excinfo.value)
    assert path.read_bytes() == before


@pytest.mark.skipif(not RUNS_AS_ROOT, reason="root is refused only by an immutable file")
def test_an_immutable_file_is_refused_even_for_root(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    cairn_file(path)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        before = snapshot(tmp_path)
        with pytest.raises(StorageError) as excinfo:
            SqliteSaver(path)
        assert snapshot(tmp_path) == before
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    message = str(excinfo.value)
    assert "user 'root'" in message and "may not write to the file" in message
    assert "immutable" in message


def test_a_path_through_a_file_says_which_part_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my notes")
    with pytest.raises(StorageError) as excinfo:
        SqliteSaver(tmp_path / "notes.txt" / "sub" / "state.db")
    message = str(excinfo.value)
    assert f"{str(tmp_path / 'notes.txt')!r} is a file, not a directory" in message
    assert "does not exist" not in message
    assert snapshot(tmp_path) == {"notes.txt": b"my notes"}


def test_a_directory_the_user_may_not_enter_is_named_not_called_missing(
    reachable_tmp: Path,
) -> None:
    private = reachable_tmp / "private"
    (private / "data").mkdir(parents=True)
    private.chmod(0o700 if RUNS_AS_ROOT else 0o000)
    outcome = open_as_other_user(private / "data" / "state.db")
    assert outcome.startswith("StorageError: "), outcome
    assert f"may not enter the directory {str(private)!r}" in outcome
    assert "does not exist" not in outcome
    private.chmod(0o755)
    assert list((private / "data").iterdir()) == []


@pytest.mark.parametrize(
    "url",
    ["postgresql://user:s3cret@localhost:5432/db", "sqlite:///checkpoints.db"],
    ids=["postgres", "sqlalchemy-sqlite"],
)
def test_a_url_instead_of_a_path_is_a_config_error_saying_what_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as excinfo:
        SqliteSaver(url)
    message = str(excinfo.value)
    assert "a URL" in message and "path" in message
    assert "does not exist" not in message
    assert "s3cret" not in message
    if url.startswith("postgresql"):
        assert "PostgresSaver" in message
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_sqlite_file_is_called_damaged_not_foreign(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    cairn_file(path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[100:page] = bytes([0xA5]) * (page - 100)  # the schema page, after the file header
    path.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as excinfo:
        with SqliteSaver(path) as saver:
            linear(saver).get_state(thread("t"))
    message = str(excinfo.value)
    assert str(path) in message
    assert "damaged" in message
    assert snapshot(tmp_path) == before


# --- damaged rows --------------------------------------------------------------------


def two_threads(path: Path) -> list[str]:
    """Threads t1 and t2 of a three-node run each; returns t1's checkpoint ids, newest first."""
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("t1"))
        graph.invoke({"log": []}, thread("t2"))
        return [cid(s.config) for s in history(graph, thread("t1"))]


def damage(path: Path, column: str, checkpoint_id: str, garbage: bytes) -> None:
    conn = sqlite3.connect(path)
    changed = conn.execute(
        f"UPDATE cairn_checkpoints SET {column} = ? WHERE thread_id = 't1' AND id = ?",
        (garbage, checkpoint_id),
    ).rowcount
    conn.commit()
    conn.close()
    assert changed == 1


def assert_t2_readable(graph: Any) -> None:
    assert graph.get_state(thread("t2")).values == {"log": ["a", "b", "c"]}
    assert steps(history(graph, thread("t2"))) == [3, 2, 1, 0, -1]


@pytest.mark.parametrize("column", ["writes", "metadata", "plan"])
def test_a_damaged_head_row_gives_a_clear_error_naming_the_thread(tmp_path: Path, column: str) -> None:
    path = tmp_path / "damaged.db"
    ids = two_threads(path)
    damage(path, column, ids[0], b"\xde\xad\xbe\xef garbage")
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        for read in (lambda: graph.get_state(thread("t1")), lambda: history(graph, thread("t1"))):
            with pytest.raises(CairnError) as excinfo:
                read()
            message = str(excinfo.value)
            assert "'t1'" in message
            assert ids[0] in message
            assert str(path) in message
            assert "backup" in message or "delete_thread" in message
        assert_t2_readable(graph)


def test_a_damaged_older_row_breaks_only_that_threads_history(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    ids = two_threads(path)
    damage(path, "writes", ids[2], b"garbage bytes!")
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        with pytest.raises(CairnError) as excinfo:
            history(graph, thread("t1"))
        assert "'t1'" in str(excinfo.value) and ids[2] in str(excinfo.value)
        assert_t2_readable(graph)
        # The user's way out: delete the damaged thread; the rest is untouched.
        saver.delete_thread("t1")
        assert graph.get_state(thread("t1")).values == {}
        assert_t2_readable(graph)


@pytest.mark.parametrize(
    "garbage",
    [b"\x00", b"\xc0", b"\x01\x00", b"\x01\xc0", b"\x01\x91\x05"],
    ids=["zero-byte", "nil", "tagged-zero", "tagged-nil", "tagged-list"],
)
def test_a_metadata_blob_decoding_to_the_wrong_shape_gives_a_clear_error(
    tmp_path: Path, garbage: bytes
) -> None:
    """Damage that still decodes (a lone byte, a valid format byte and a scalar)."""
    path = tmp_path / "damaged.db"
    ids = two_threads(path)
    damage(path, "metadata", ids[0], garbage)
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        with pytest.raises(CairnError, match="'t1'"):
            graph.get_state(thread("t1"))
        with pytest.raises(CairnError, match="'t1'"):
            history(graph, thread("t1"))
        assert_t2_readable(graph)


@pytest.mark.parametrize(
    "garbage", [b"\xde\xad\xbe\xef garbage", b"\x01\x00"], ids=["garbage", "tagged-zero"]
)
def test_list_threads_with_a_damaged_head_names_the_thread_and_file(
    tmp_path: Path, garbage: bytes
) -> None:
    """A damaged head's metadata: a CairnError naming the thread and the file (not a
    bare decoding error, nor an AttributeError when the blob decodes to a scalar)."""
    path = tmp_path / "damaged.db"
    ids = two_threads(path)
    damage(path, "metadata", ids[0], garbage)
    with SqliteSaver(path) as saver:
        with pytest.raises(CairnError) as excinfo:
            saver.list_threads()
        assert "'t1'" in str(excinfo.value)
        assert str(path) in str(excinfo.value)


# --- thread management on the file ----------------------------------------------------


def test_list_threads_newest_first_with_metadata_filter(tmp_path: Path) -> None:
    with SqliteSaver(tmp_path / "threads.db") as saver:
        graph = linear(saver)
        for tid, user in [("a", "alice"), ("b", "bob"), ("c", "alice")]:
            graph.invoke(
                {"log": []}, {"configurable": {"thread_id": tid}, "metadata": {"user": user}}
            )
        assert [t.thread_id for t in saver.list_threads()] == ["c", "b", "a"]
        assert [t.thread_id for t in saver.list_threads(filter={"user": "alice"})] == ["c", "a"]
        assert [t.thread_id for t in saver.list_threads(filter={"user": "nobody"})] == []
        assert [t.thread_id for t in saver.list_threads(limit=2)] == ["c", "b"]

        graph.invoke({"log": []}, {"configurable": {"thread_id": "a"}, "metadata": {"user": "alice"}})
        listed = saver.list_threads()
        assert [t.thread_id for t in listed] == ["a", "c", "b"]
        info = listed[0]
        assert info.checkpoints == 10
        assert info.metadata["user"] == "alice"
        assert info.created_at <= info.updated_at

    with SqliteSaver(tmp_path / "threads.db") as reopened:  # the same from the file
        assert [t.thread_id for t in reopened.list_threads(filter={"user": "alice"})] == ["a", "c"]


def test_delete_thread_removes_it_and_keeps_the_others(tmp_path: Path) -> None:
    with SqliteSaver(tmp_path / "threads.db") as saver:
        graph = linear(saver)
        for tid in ("keep", "drop"):
            graph.invoke({"log": []}, thread(tid))
        saver.delete_thread("drop")
        assert graph.get_state(thread("drop")).values == {}
        assert history(graph, thread("drop")) == []
        assert [t.thread_id for t in saver.list_threads()] == ["keep"]
        assert graph.get_state(thread("keep")).values == {"log": ["a", "b", "c"]}
    with SqliteSaver(tmp_path / "threads.db") as reopened:
        assert [t.thread_id for t in reopened.list_threads()] == ["keep"]


def comparable(snapshot: Any, thread_id: str) -> tuple[Any, ...]:
    """A snapshot with its thread id checked and taken out of its configs."""
    def strip(config: Any) -> Any:
        if config is None:
            return None
        assert config["configurable"]["thread_id"] == thread_id
        return {k: v for k, v in config["configurable"].items() if k != "thread_id"}

    return (
        snapshot.values, snapshot.next, strip(snapshot.config), snapshot.metadata,
        snapshot.created_at, strip(snapshot.parent_config),
        [(t.name, t.error) for t in snapshot.tasks],
    )


def test_copy_thread_copies_the_history_and_writing_to_the_copy_leaves_the_original(
    tmp_path: Path,
) -> None:
    with SqliteSaver(tmp_path / "threads.db") as saver:
        runs: list[str] = []
        graph = linear(saver, runs=runs)
        graph.invoke({"log": []}, thread("orig"))
        graph.update_state(thread("orig"), {"log": ["edited"]})
        original = [comparable(s, "orig") for s in history(graph, thread("orig"))]

        saver.copy_thread("orig", "copy")
        assert [comparable(s, "copy") for s in history(graph, thread("copy"))] == original

        graph.invoke({"log": ["second run"]}, thread("copy"))
        assert graph.get_state(thread("copy")).values == {
            "log": ["a", "b", "c", "edited", "second run", "a", "b", "c"]
        }
        assert [comparable(s, "orig") for s in history(graph, thread("orig"))] == original
        with pytest.raises(ConfigError):
            saver.copy_thread("orig", "copy")  # the target exists
        with pytest.raises(ConfigError):
            saver.copy_thread("missing", "other")

    with SqliteSaver(tmp_path / "threads.db") as reopened:
        graph = linear(reopened)
        assert [comparable(s, "orig") for s in history(graph, thread("orig"))] == original


def test_prune_keep_last_leaves_every_kept_checkpoint_with_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / "prune.db"
    with SqliteSaver(path) as saver:
        graph = growing(saver, 60)
        grow_thread(graph, "long", 60)
        grow_thread(growing(saver, 10), "other", 10)
        before_history = history(graph, thread("long"))
        assert len(before_history) == 62
        before = {cid(s.config): graph.get_state(at("long", cid(s.config))).values for s in before_history}
        other_before = graph.get_state(thread("other")).values

        result = saver.prune(keep_last=5)
        assert result.checkpoints_deleted > 0
        assert result.threads_deleted == 0

    with SqliteSaver(path) as reopened:
        graph = growing(reopened, 60)
        after_history = history(graph, thread("long"))
        kept = [cid(s.config) for s in after_history]
        assert kept[:5] == [cid(s.config) for s in before_history[:5]]  # the newest five
        assert len(kept) < len(before_history)  # and something went
        for snapshot in after_history:
            checkpoint_id = cid(snapshot.config)
            assert snapshot.values == before[checkpoint_id]
            assert graph.get_state(at("long", checkpoint_id)).values == before[checkpoint_id]
        head = graph.get_state(thread("long")).values
        assert head["n"] == 60 and len(head["items"]) == 60
        assert growing(reopened, 10).get_state(thread("other")).values == other_before

        # The pruned thread still runs on from its head.
        graph.invoke({"items": ["more"], "n": 0}, {"configurable": {"thread_id": "long"}, "recursion_limit": 100})
        assert graph.get_state(thread("long")).values["items"][:60] == head["items"]


IDLE = 0.8  # seconds between the "old" and the "fresh" thread
IDLE_CUTOFF = timedelta(seconds=IDLE / 2)


def test_prune_older_than_drops_idle_threads(tmp_path: Path) -> None:
    path = tmp_path / "idle.db"
    with SqliteSaver(path) as saver:
        graph = linear(saver)
        graph.invoke({"log": []}, thread("old"))
        time.sleep(IDLE)
        graph.invoke({"log": []}, thread("fresh"))
        result = saver.prune(older_than=IDLE_CUTOFF)
        assert (result.threads_deleted, result.checkpoints_deleted) == (1, 5)
        assert [t.thread_id for t in saver.list_threads()] == ["fresh"]
        assert graph.get_state(thread("old")).values == {}
        assert graph.get_state(thread("fresh")).values == {"log": ["a", "b", "c"]}

    with SqliteSaver(path) as saver:  # another saver on the file: every thread is idle now
        graph = linear(saver)
        result = saver.prune(older_than=timedelta(0))
        assert (result.threads_deleted, result.checkpoints_deleted) == (1, 5)
        assert saver.list_threads() == []
        assert saver.stats().threads == 0
        assert graph.get_state(thread("fresh")).values == {}


def test_stats_count_threads_checkpoints_and_bytes(tmp_path: Path) -> None:
    with SqliteSaver(tmp_path / "stats.db") as saver:
        empty = saver.stats()
        assert (empty.threads, empty.checkpoints, empty.pending_writes, empty.bytes) == (0, 0, 0, 0)
        grow_thread(growing(saver, 20), "a", 20)
        grow_thread(growing(saver, 5), "b", 5)
        stats = saver.stats()
        assert stats.threads == 2
        assert stats.checkpoints == 22 + 7
        assert stats.log_bytes > 0 and stats.snapshot_bytes > 0
        assert stats.bytes >= stats.log_bytes + stats.snapshot_bytes

        runs: list[str] = []
        failing = seed002_graph(saver, runs, step3_broken=True)
        with pytest.raises(RuntimeError):
            failing.invoke({"count": 0}, thread("job"))
        with_pending = saver.stats()
        assert with_pending.threads == 3
        assert with_pending.pending_writes >= 1

        saver.delete_thread("a")
        smaller = saver.stats()
        assert smaller.threads == 2
        assert smaller.checkpoints == with_pending.checkpoints - 22
        assert smaller.bytes < with_pending.bytes


@pytest.mark.parametrize("how", ["delete_thread", "prune_older_than"])
def test_deleting_most_data_shrinks_the_file(tmp_path: Path, how: str) -> None:
    """The freed pages leave the file (``conn.execute("PRAGMA incremental_vacuum")``
    alone frees a single page in Python's sqlite3)."""
    path = tmp_path / "big.db"
    with SqliteSaver(path) as saver:
        grow_thread(growing(saver, 60, width=4000), "big", 60)
        if how == "prune_older_than":
            time.sleep(IDLE)  # "big" has been idle for a while
        grow_thread(growing(saver, 2), "small", 2)
    big = os.path.getsize(path)  # closed: the WAL is checkpointed into the file
    assert big > 400_000

    with SqliteSaver(path) as saver:
        if how == "delete_thread":
            saver.delete_thread("big")
        else:
            assert saver.prune(older_than=IDLE_CUTOFF).threads_deleted == 1
        assert saver.stats().threads == 1
    shrunk = os.path.getsize(path)
    with SqliteSaver(path) as saver:
        assert growing(saver, 2).get_state(thread("small")).values["n"] == 2
    assert shrunk < big / 4, f"the file stayed at {shrunk} bytes (was {big})"


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_thread_written_with_the_empty_metadata_blob_of_the_old_cache_reads_again(
    tmp_path: Path, encrypted: bool
) -> None:
    """Before eab4a47 a process-wide cache stored empty metadata as a format
    byte with nothing after it, and the thread could not be read; such rows
    read as empty metadata, and the thread runs on."""
    from cairn.checkpoint import codec
    from cairn.checkpoint.serde import EncryptedSerializer, Serializer

    serde = EncryptedSerializer.from_key(EncryptedSerializer.generate_key()) if encrypted else Serializer()
    db = tmp_path / "old.db"
    with SqliteSaver(db, serde=serde) as saver:
        graph = linear(saver, "ab")
        graph.invoke({"log": []}, thread("t"))
        ids = [s.config["configurable"]["checkpoint_id"] for s in history(graph, thread("t"))]
    conn = sqlite3.connect(db)
    with conn:
        for checkpoint_id in ids:  # every row, as the old cache wrote them
            blob = codec._pack_raw(serde, b"", codec.where("t", "", checkpoint_id, "metadata"))
            if encrypted:  # sealed as then: bound to its place only, first byte 0x10
                blob = b"\x10" + blob[1:]
            conn.execute(
                "UPDATE cairn_checkpoints SET metadata = ? WHERE id = ?",
                (blob, checkpoint_id),
            )
    conn.close()
    with SqliteSaver(db, serde=serde) as saver:
        graph = linear(saver, "ab")
        snapshots = history(graph, thread("t"))
        assert [s.metadata["step"] for s in snapshots] == [2, 1, 0, -1]
        assert snapshots[0].values == {"log": ["a", "b"]}
        assert graph.invoke({"log": []}, thread("t")) == {"log": ["a", "b", "a", "b"]}
