"""The operator's commands (``cairn threads``, ``history``, ``show``, ``diff``,
``fork``, ``prune``, ``delete``, ``copy``, ``stats``, ``export``, ``import``,
``backup``) on SQLite and PostgreSQL: what a user reads in text, and what a
program parses from -o json / jsonl."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

import cairn as cairn_package
from cairn.checkpoint.base import Lease, SnapshotPolicy
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli import cli
from tests import cli_app
from tests.pg import fresh_schema
from tests.support import saver_on

APP = str(Path(cli_app.__file__).resolve())
GRAPH = f"{APP}:graph"


def cairn(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    result = cairn(*args)
    assert result.exit_code == 0, result.output
    return result


def parsed(*args: str) -> Any:
    return json.loads(ok(*args, "-o", "json").output)


def refused(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def thread(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def seed(db: str) -> None:
    """Three threads: 'done' (finished; metadata user=alice), 'paused' (in
    interrupt()) and 'failed' (its second step raised)."""
    with saver_on(db) as saver:
        done = cli_app.builder.compile(checkpointer=saver)
        done.invoke({"items": []}, {**thread("done"), "metadata": {"user": "alice"}})
        cli_app.asking.builder.compile(checkpointer=saver).invoke({"items": []}, thread("paused"))
        with pytest.raises(ValueError):
            cli_app.failing.builder.compile(checkpointer=saver).invoke({"items": []}, thread("failed"))


def make_db(kind: str, tmp_path: Path, stack: ExitStack, name: str = "app.db") -> str:
    if kind == "postgres":
        return stack.enter_context(fresh_schema())
    return str(tmp_path / name)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        url = make_db(request.param, tmp_path, stack)
        seed(url)
        yield url


def history_of(db: str, thread_id: str) -> list[tuple[Any, ...]]:
    """What get_state_history shows of a thread, field by field."""
    with saver_on(db) as saver:
        graph = cli_app.builder.compile(checkpointer=saver)
        return [
            (
                s.config["configurable"]["checkpoint_id"],
                s.values,
                s.metadata,
                s.next,
                s.created_at,
                s.parent_config and s.parent_config["configurable"]["checkpoint_id"],
                [(t.name, [i.value for i in t.interrupts], t.error is not None) for t in s.tasks],
            )
            for s in graph.get_state_history(thread(thread_id))
        ]


# --- threads -------------------------------------------------------------------------


def test_threads_lists_each_thread_with_its_status(db: str) -> None:
    out = ok("threads", "--db", db).output
    assert "3 thread(s)" in out
    for name, status in (("done", "idle"), ("paused", "interrupted"), ("failed", "error")):
        row = next(line for line in out.splitlines() if f" {name} " in line)
        assert status in row
    records = {r["thread_id"]: r for r in parsed("threads", "--db", db)}
    assert {k: r["status"] for k, r in records.items()} == {
        "done": "idle", "paused": "interrupted", "failed": "error"
    }
    assert records["done"]["checkpoints"] == 4 and records["done"]["next"] == []
    assert records["paused"]["next"] == ["work"]


def test_threads_filters_by_status_metadata_and_limit(db: str) -> None:
    def ids(*args: str) -> list[str]:
        return [r["thread_id"] for r in parsed("threads", "--db", db, *args)]

    assert ids("--status", "interrupted") == ["paused"]
    assert ids("-m", "user=alice") == ["done"]
    assert ids("-m", "user=bob") == []
    assert len(ids("--limit", "2")) == 2
    lines = ok("threads", "--db", db, "-o", "jsonl").output.splitlines()
    assert sorted(json.loads(line)["thread_id"] for line in lines) == ["done", "failed", "paused"]


def test_a_thread_a_run_holds_is_busy(db: str) -> None:
    with saver_on(db) as saver:
        assert saver.acquire(Lease("done", "a-live-run", 60.0)) is None
    records = parsed("threads", "--db", db, "--status", "busy")
    assert [r["thread_id"] for r in records] == ["done"]
    assert 0 < records[0]["lease_seconds_left"] <= 60


def test_db_from_the_environment(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DB", db)
    assert len(json.loads(ok("threads", "-o", "json").output)) == 3


# --- history, show, diff ------------------------------------------------------------


def test_history_lists_checkpoints_newest_first_with_writes(db: str) -> None:
    records = parsed("history", "done", "--db", db)
    assert [r["step"] for r in records] == [2, 1, 0, -1]
    assert [r["source"] for r in records] == ["loop", "loop", "loop", "input"]
    assert records[0]["writes"] == [
        {"node": "work", "task_id": records[0]["writes"][0]["task_id"],
         "update": {"items": ["worked"], "note": "worked"}}
    ]
    assert records[1]["next"] == ["work"]
    assert "values" not in records[0]
    older = parsed("history", "done", "--db", db, "--before", records[1]["checkpoint_id"], "--limit", "1")
    assert [r["step"] for r in older] == [0]


def test_history_with_the_graph_shows_folded_values(db: str) -> None:
    records = parsed("history", "done", "--db", db, "--graph", GRAPH)
    assert records[0]["values"] == {"items": ["planned", "worked"], "note": "worked"}
    assert records[1]["values"] == {"items": ["planned"], "note": "planned"}
    text = ok("history", "done", "--db", db, "--graph", GRAPH, "--limit", "1").output
    assert "  value items: ['planned', 'worked']" in text


def test_history_graph_named_in_langgraph_json(db: str, tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"agent": f"{APP}:graph"}}))
    records = parsed("history", "done", "--db", db, "--graph", "agent", "--config", str(config))
    assert records[0]["values"]["note"] == "worked"
    refused(cairn("history", "done", "--db", db, "--graph", "nope", "--config", str(config)),
            "names no graph 'nope'", "agent")


def test_show_gives_the_head_its_pending_interrupt_and_values(db: str) -> None:
    record = parsed("show", "paused", "--db", db, "--graph", GRAPH)
    assert record["step"] == 1 and record["next"] == ["work"]
    assert [(p["kind"], p["value"]) for p in record["pending"]][0][0] == "interrupt"
    assert "go on?" in json.dumps(record["pending"])
    assert record["values"] == {"items": ["planned"], "note": "planned"}
    text = ok("show", "paused", "--db", db).output
    assert "next: work" in text and "pending interrupt" in text
    # Without the graph, the values show only where a snapshot is stored.
    assert ("pass --graph FILE.py:ATTR to fold them" in text) != (
        "values (a snapshot stored at this checkpoint):\n    items: ['planned']" in text
    )


def test_show_a_given_checkpoint_and_an_unknown_one(db: str) -> None:
    first = parsed("history", "done", "--db", db)[-1]
    record = parsed("show", "done", "--db", db, "--checkpoint", first["checkpoint_id"])
    assert record["step"] == -1 and record["checkpoint_id"] == first["checkpoint_id"]
    refused(cairn("show", "done", "--db", db, "--checkpoint", "nope"),
            "no checkpoint 'nope'", "cairn history done")
    refused(cairn("show", "nobody", "--db", db), "'nobody' has no checkpoints")


def test_diff_names_keys_added_and_changed(db: str) -> None:
    ids = [r["checkpoint_id"] for r in parsed("history", "done", "--db", db)]
    found = parsed("diff", "done", ids[1], ids[0], "--db", db, "--graph", GRAPH)
    assert found["added"] == {}
    assert found["changed"] == {
        "items": {"from": ["planned"], "to": ["planned", "worked"]},
        "note": {"from": "planned", "to": "worked"},
    }
    start = parsed("diff", "done", ids[2], ids[1], "--db", db, "--graph", GRAPH)
    assert start["added"] == {"note": "planned"}
    assert start["changed"] == {"items": {"from": [], "to": ["planned"]}}
    assert start["removed"] == {}
    text = ok("diff", "done", ids[1], ids[0], "--db", db, "--graph", GRAPH).output
    assert "~ note: 'planned' -> 'worked'" in text


def test_diff_without_the_graph_needs_stored_snapshots(db: str) -> None:
    with saver_on(db) as saver:
        saver.snapshot_policy = SnapshotPolicy(ratio=1e9)  # only the root holds one
        cli_app.builder.compile(checkpointer=saver).invoke({"items": []}, thread("sparse"))
    ids = [r["checkpoint_id"] for r in parsed("history", "sparse", "--db", db)]
    refused(cairn("diff", "sparse", ids[1], ids[0], "--db", db),
            f"checkpoint {ids[1]!r} holds no stored snapshot", "pass --graph")
    found = parsed("diff", "sparse", ids[1], ids[0], "--db", db, "--graph", GRAPH)
    assert found["changed"]["note"] == {"from": "planned", "to": "worked"}


# --- fork -----------------------------------------------------------------------------


def test_fork_stores_an_edited_checkpoint_and_prints_it(db: str) -> None:
    planned = parsed("history", "done", "--db", db)[1]
    record = parsed(
        "fork", "done", "--checkpoint", planned["checkpoint_id"], "--set", 'note="edited"',
        "--set", 'items=["extra"]', "--as-node", "plan", "--db", db, "--graph", GRAPH,
    )
    assert record["parent_id"] == planned["checkpoint_id"] and record["source"] == "update"
    assert record["values"] == {"items": ["planned", "extra"], "note": "edited"}
    assert record["next"] == ["work"]
    history = parsed("history", "done", "--db", db)
    assert history[0]["checkpoint_id"] == record["checkpoint_id"] and len(history) == 5


def test_fork_refuses_bad_json_and_a_missing_graph(db: str) -> None:
    planned = parsed("history", "done", "--db", db)[1]["checkpoint_id"]
    refused(cairn("fork", "done", "--checkpoint", planned, "--set", "note=edited", "--db", db,
                  "--graph", GRAPH), "is not JSON", "note='\"edited\"'")
    refused(cairn("fork", "done", "--checkpoint", planned, "--set", 'note="x"', "--db", db),
            "pass --graph")
    assert len(parsed("history", "done", "--db", db)) == 4


# --- prune, delete, copy, stats ---------------------------------------------------------


def test_prune_dry_run_counts_and_deletes_nothing(db: str) -> None:
    before = history_of(db, "done")
    found = parsed("prune", "--db", db, "--keep-last", "1", "--dry-run")
    assert found == {"dry_run": True, "threads_deleted": 0, "checkpoints_deleted": found["checkpoints_deleted"]}
    assert found["checkpoints_deleted"] > 0
    assert history_of(db, "done") == before
    done = parsed("prune", "--db", db, "--keep-last", "1")
    assert done["checkpoints_deleted"] == found["checkpoints_deleted"]
    assert "deleted 0 thread(s)" in ok("prune", "--db", db, "--older-than", "30d").output
    assert "would delete 3 thread(s)" in ok("prune", "--db", db, "--older-than", "0s", "--dry-run").output
    refused(cairn("prune", "--db", db, "--older-than", "soon"), "'soon' is not an age")
    refused(cairn("prune", "--db", db), "--keep-last N, --older-than AGE")


def test_delete_and_copy_a_thread(db: str) -> None:
    before = history_of(db, "done")
    assert "copied thread done to done-2" in ok("copy", "done", "done-2", "--db", db).output
    assert [h[1:] for h in history_of(db, "done-2")] == [h[1:] for h in before]
    refused(cairn("copy", "done", "done-2", "--db", db), "exists already")
    assert parsed("delete", "done", "--db", db) == {"deleted": "done"}
    assert history_of(db, "done") == []
    refused(cairn("delete", "done", "--db", db), "'done' has no checkpoints", "nothing deleted")


def test_stats_counts_statuses_and_stuck_runs(db: str) -> None:
    with saver_on(db) as saver:
        saver.acquire(Lease("done", "dead-worker", 0.001))
    time.sleep(0.05)  # the hold expires: its holder never lets go
    found = parsed("stats", "--db", db, "--stale", "0s")
    assert found["threads"] == 3 and found["checkpoints"] == 4 + 3 + 3
    assert found["bytes"] > 0 and found["pending_writes"] >= 2
    assert found["by_status"] == {"stuck": 1, "interrupted": 1, "error": 1}
    assert sorted((s["thread_id"], s["status"]) for s in found["stuck"]) == [
        ("done", "stuck"), ("paused", "interrupted")
    ]
    relaxed = parsed("stats", "--db", db, "--stale", "1d")
    assert [s["thread_id"] for s in relaxed["stuck"]] == ["done"]
    text = ok("stats", "--db", db).output
    assert "checkpoints" in text and "stuck: done" in text


# --- export and import ----------------------------------------------------------------


def test_export_then_import_into_the_other_backend_keeps_every_history(
    db: str, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.jsonl"
    ok("export", "--db", db, "--to", str(dump))
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert lines[0]["format"] == "cairn-dump" and lines[0]["version"] == 1
    assert sorted(lines[0]["threads"]) == ["done", "failed", "paused"]
    assert lines[-1] == {"type": "end", "threads": 3, "checkpoints": 10, "pending": lines[-1]["pending"]}
    with ExitStack() as stack:
        kind = "sqlite" if db.startswith("postgresql://") else "postgres"
        other = make_db(kind, tmp_path, stack, "imported.db")
        found = parsed("import", str(dump), "--db", other)
        assert sorted(found["threads"]) == ["done", "failed", "paused"]
        for name in ("done", "paused", "failed"):
            assert history_of(other, name) == history_of(db, name)
        assert parsed("threads", "--db", other) == parsed("threads", "--db", db)
        refused(cairn("import", str(dump), "--db", other), "'done' exists already", "nothing was imported")


def test_export_of_chosen_threads_to_stdout(db: str, tmp_path: Path) -> None:
    out = ok("export", "paused", "--db", db).output
    dump = tmp_path / "paused.jsonl"
    dump.write_text(out)
    target = str(tmp_path / "one.db")
    ok("import", str(dump), "--db", target)
    assert [t["thread_id"] for t in parsed("threads", "--db", target)] == ["paused"]
    assert history_of(target, "paused") == history_of(db, "paused")
    refused(cairn("export", "nobody", "--db", db), "'nobody' has no checkpoints")


def test_import_refuses_a_damaged_dump_and_imports_nothing(tmp_path: Path) -> None:
    source = str(tmp_path / "source.db")
    seed(source)
    dump = tmp_path / "dump.jsonl"
    ok("export", "--db", source, "--to", str(dump))
    lines = dump.read_text().splitlines()
    target = str(tmp_path / "target.db")
    with SqliteSaver.from_conn_string(target):
        pass
    cases = {
        "cut.jsonl": ("\n".join(lines[:-3]) + "\n", "cut short"),
        "garbled.jsonl": ("\n".join([*lines[:2], "{not json", *lines[2:]]) + "\n", "line 3: not JSON"),
        "other.jsonl": ('{"format": "something-else"}\n', "not a cairn dump"),
        "newer.jsonl": ('{"format": "cairn-dump", "version": 99}\n', "format version 99"),
        "empty.jsonl": ("", "is empty"),
        "twice.jsonl": ("\n".join([*lines[:2], lines[1], *lines[2:]]) + "\n", "line 3: checkpoint"),
    }
    for name, (text, why) in cases.items():
        (tmp_path / name).write_text(text)
        refused(cairn("import", str(tmp_path / name), "--db", target), why)
    assert parsed("threads", "--db", target) == []


def test_an_encrypted_store_exports_only_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "ab" * 32
    monkeypatch.setenv("CAIRN_ENCRYPTION_KEY", key)
    source = str(tmp_path / "sealed.db")
    seed(source)
    expected = history_of(source, "done")
    dump = tmp_path / "dump.jsonl"
    ok("export", "--db", source, "--to", str(dump))
    monkeypatch.delenv("CAIRN_ENCRYPTION_KEY")
    refused(cairn("export", "done", "--db", source), "encrypted", "CAIRN_ENCRYPTION_KEY")
    refused(cairn("export", "--db", source), "encrypted", "CAIRN_ENCRYPTION_KEY")
    plain = str(tmp_path / "plain.db")
    ok("import", str(dump), "--db", plain)
    assert history_of(plain, "done") == expected


# --- backup ---------------------------------------------------------------------------


def test_backup_while_a_writer_runs_is_a_consistent_database(tmp_path: Path) -> None:
    source = str(tmp_path / "live.db")
    seed(source)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with SqliteSaver.from_conn_string(source) as saver:
            graph = cli_app.builder.compile(checkpointer=saver)
            while not stop.is_set():
                graph.invoke({"items": []}, thread(f"w{len(written)}"))
                written.append(1)

    running = threading.Thread(target=writer)
    running.start()
    try:
        while len(written) < 3:
            time.sleep(0.01)
        target = tmp_path / "copy.db"
        found = parsed("backup", "--db", source, str(target))
    finally:
        stop.set()
        running.join()
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = parsed("threads", "--db", str(target))
    assert found["threads"] == len(copied) >= 6
    partial = 0
    for record in copied:
        # As of one moment: each thread's history in the copy is the oldest
        # part of the source's (the thread being written stops mid-run).
        copy, full = history_of(str(target), record["thread_id"]), history_of(source, record["thread_id"])
        assert copy and copy == full[len(full) - len(copy):]
        partial += len(copy) < len(full)
    assert partial <= 1


def test_backup_refuses_what_it_cannot_copy_and_leaves_it_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("my notes\n" * 100)
    refused(cairn("backup", "--db", str(notes), str(tmp_path / "a.db")), "not a SQLite database")
    assert notes.read_text() == "my notes\n" * 100 and not (tmp_path / "a.db").exists()

    newer = tmp_path / "newer.db"
    seed(str(newer))
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE cairn_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = newer.read_bytes()
    refused(cairn("backup", "--db", str(newer), str(tmp_path / "b.db")), "newer cairn", "version 99")
    assert newer.read_bytes() == before and not (tmp_path / "b.db").exists()

    source = tmp_path / "fine.db"
    seed(str(source))
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    refused(cairn("backup", "--db", str(source), str(taken)), "exists already")
    assert taken.read_text() == "keep me"
    refused(cairn("backup", "--db", "postgresql://localhost/x", str(tmp_path / "c.db")), "pg_dump")


def test_a_db_that_is_not_a_cairn_database_is_refused(tmp_path: Path) -> None:
    refused(cairn("threads", "--db", str(tmp_path / "none.db")), "missing")
    refused(cairn("threads", "--db", "mysql://host/db"), "not mysql://")


def test_export_piped_into_import_through_stdin(tmp_path: Path) -> None:
    source = str(tmp_path / "source.db")
    seed(source)
    dump = ok("export", "done", "--db", source).output
    target = str(tmp_path / "target.db")
    result = CliRunner().invoke(cli, ["import", "-", "--db", target], input=dump)
    assert result.exit_code == 0, result.output
    assert "imported 1 thread(s), 4 checkpoint(s)" in result.output
    assert history_of(target, "done") == history_of(source, "done")


def test_a_file_that_is_not_a_database_or_is_newer_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("my notes\n" * 100)
    refused(cairn("threads", "--db", str(notes)), "not a SQLite database")
    assert notes.read_text() == "my notes\n" * 100
    newer = tmp_path / "newer.db"
    seed(str(newer))
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE cairn_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = newer.read_bytes()
    for command in (["threads"], ["stats"], ["prune", "--keep-last", "1"], ["delete", "done"]):
        refused(cairn(*command, "--db", str(newer)), "newer cairn", "upgrade cairn")
    assert newer.read_bytes() == before


def test_a_thread_whose_holder_died_on_this_machine_is_stuck_before_its_hold_expires(
    db: str, tmp_path: Path
) -> None:
    src = str(Path(cairn_package.__file__).resolve().parents[1])
    made = subprocess.run(
        [sys.executable, "-c", "from cairn.runtime.leases import new_owner; print(new_owner())"],
        env={**os.environ, "PYTHONPATH": src}, capture_output=True, text=True, timeout=60,
    )
    assert made.returncode == 0, made.stderr
    with saver_on(db) as saver:  # what a run of that (now gone) process left
        assert saver.acquire(Lease("done", made.stdout.strip(), 60.0)) is None
    (record,) = parsed("threads", "--db", db, "--status", "stuck")
    assert record["thread_id"] == "done" and record["lease_seconds_left"] > 50
    assert parsed("threads", "--db", db, "--status", "busy") == []
    assert [s["thread_id"] for s in parsed("stats", "--db", db)["stuck"]] == ["done"]
