"""The seeds' journeys with every step in an OS process of its own, on a real
SQLite file and the real PostgreSQL.

A user's day 1 and day 2 are different processes: the run that pauses, the
operator who looks with the ``cairn`` command, the process that answers, the
one that reads the result. Whatever one process caches, the next one does
not have. Each step here is ``python -c "import journey_app; ..."`` (the
application, tests/journey_app.py, imported under its own top-level name as a
user's module is) or ``python -m cairn.cli ...``; the test only orchestrates
and asserts on what the user sees: returned values (with their classes),
history ids, and the CLI's ``-o json``.

Not repeated here (covered elsewhere): random write sequences over processes
(test_cross_process.py), SIGKILL at random instants (test_crash_torture.py,
test_finished_siblings.py), racing writers on one thread (test_one_writer.py),
classes a reader lacks (test_serde_symmetry.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import cairn
from cairn.checkpoint.serde import EncryptedSerializer
from cairn.checkpoint.sql.rows import export_thread
from tests.pg import fresh_schema
from tests.support import saver_on

TESTS = Path(__file__).resolve().parent
APP = TESTS / "journey_app.py"
GRAPH = f"{APP}:graph"
CAIRN_FILE = str(Path(cairn.__file__).resolve())
SRC = str(Path(CAIRN_FILE).parents[1])
TIMEOUT = 60.0
"""Upper bound for one process; reached only when something is broken."""


# --- processes -----------------------------------------------------------------------


def env(**extra: str | None) -> dict[str, str]:
    """This environment with this process's cairn and the application's
    folder on PYTHONPATH (only those); ``NAME=None`` removes NAME."""
    found = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CAIRN_ENCRYPTION_KEY", "CAIRN_DB")}
    found["PYTHONPATH"] = os.pathsep.join([SRC, str(TESTS)])
    for key, value in extra.items():
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
    return found


def step_argv(command: str, kind: str, target: str, thread_id: str, arg: Any = None) -> list[str]:
    argv = [sys.executable, "-c", "import journey_app; journey_app.main()", command, kind, target, thread_id]
    return argv if arg is None else [*argv, json.dumps(arg)]


def step(
    command: str, kind: str, target: str, thread_id: str, arg: Any = None, *, fails: bool = False,
    **extra: str | None,
) -> Any:
    """One journey step in a new process; what it printed under "out" (or,
    with ``fails``, the error it reported)."""
    done = subprocess.run(
        step_argv(command, kind, target, thread_id, arg),
        env=env(**extra), capture_output=True, text=True, timeout=TIMEOUT, cwd=TESTS.parent,
    )
    assert done.returncode == (3 if fails else 0), f"{command}: exit {done.returncode}\n{done.stderr}"
    printed = json.loads(done.stdout)
    assert str(Path(printed["cairn"]).resolve()) == CAIRN_FILE, "the child ran another cairn"
    return printed if fails else printed["out"]


def cli(*args: str, **extra: str | None) -> subprocess.CompletedProcess[str]:
    """``python -m cairn.cli ARGS`` in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "cairn.cli", *args],
        env=env(**extra), capture_output=True, text=True, timeout=TIMEOUT, cwd=TESTS.parent,
    )


def cli_json(*args: str, **extra: str | None) -> Any:
    done = cli(*args, "-o", "json", **extra)
    assert done.returncode == 0, f"cairn {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return json.loads(done.stdout)


def cli_refused(*args: str, **extra: str | None) -> str:
    """The one line ``cairn ARGS`` fails with (exit code 1, no traceback)."""
    done = cli(*args, **extra)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts in the background: killed and reaped at the end."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def background(procs: list[subprocess.Popen[str]], argv: list[str], **extra: str | None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=TESTS.parent,
    )
    procs.append(proc)
    return proc


# --- where the data lives --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, target): a new SQLite file, or a URL on a fresh PostgreSQL schema."""
    with ExitStack() as stack:
        if request.param == "postgres":
            yield "postgres", stack.enter_context(fresh_schema())
        else:
            yield "sqlite", str(tmp_path / "journey.db")


QUOTE_1500 = {"Quote": {"vendor": "acme", "amount": 1500, "priority": {"Priority": "HIGH"}}}
APPROVER = {"Approver": {"name": "ada", "level": 2}}
DUE = {"datetime": "2026-12-24T09:30:00+00:00"}


def ids(history: list[dict[str, Any]]) -> list[str]:
    return [h["checkpoint_id"] for h in history]


# --- the multi-day approval ---------------------------------------------------------------


def test_an_approval_paused_on_day_one_is_found_answered_and_read_by_other_processes(
    db: tuple[str, str], tmp_path: Path
) -> None:
    """A runs to interrupt(); B lists interrupted threads and reads the
    question with the CLI; C answers with Command(resume=...); D reads the
    final state (its pydantic model, enum, dataclass and datetime intact) and
    the full history, which ``cairn history`` lists with the same ids."""
    kind, target = db
    effects = tmp_path / "effects"
    paused = step("start", kind, target, "po-1", 1500, JOURNEY_EFFECTS=str(effects))
    (asked,) = paused["__interrupt__"]
    assert asked["interrupt"] == {"question": "approve?", "amount": 1500}
    assert paused["quote"] == QUOTE_1500

    listed = cli_json("threads", "--db", target, "--status", "interrupted")
    assert [t["thread_id"] for t in listed] == ["po-1"]
    assert listed[0]["next"] == ["approve"]
    shown = cli_json("show", "po-1", "--db", target)
    assert json.dumps(asked["id"]) in json.dumps(shown), shown
    assert "approve?" in json.dumps(shown), shown

    answered = step("resume", kind, target, "po-1", "approved", JOURNEY_EFFECTS=str(effects))
    assert "__interrupt__" not in answered
    assert answered["log"] == ["draft", "approve:approved", "paid:1500:approved"]

    read = step("read", kind, target, "po-1")
    assert read["state"]["values"] == {
        "log": ["draft", "approve:approved", "paid:1500:approved"],
        "amount": 1500, "quote": QUOTE_1500, "approver": APPROVER, "due": DUE,
        "decision": "approved",
    }
    assert read["state"]["next"] == [] and read["state"]["interrupts"] == []
    history = read["history"]
    assert [(h["step"], h["source"]) for h in history] == [
        (3, "loop"), (2, "loop"), (1, "loop"), (0, "loop"), (-1, "input")
    ]
    assert [h["parent_id"] for h in history] == [*ids(history)[1:], None]
    listed_history = cli_json("history", "po-1", "--db", target)
    assert [r["checkpoint_id"] for r in listed_history] == ids(history)
    with_values = cli_json("history", "po-1", "--db", target, "--graph", GRAPH)
    assert with_values[0]["values"]["log"] == read["state"]["values"]["log"]
    assert lines_of(effects) == ["draft", "approve", "approve", "pay:entered", "pay"]


# --- time travel ---------------------------------------------------------------------------


def test_a_fork_made_with_the_cli_is_continued_by_another_process_and_both_branches_stay(
    db: tuple[str, str]
) -> None:
    """A runs an approval to the end; B forks it with ``cairn fork`` at the
    checkpoint after "draft" with another amount; C continues the fork with
    invoke(None, fork_config) (it asks again); E answers; D sees both branches
    in the history, and ``cairn diff`` shows what differs between them."""
    kind, target = db
    through = step("run-through", kind, target, "po", 1500)
    first, before = through["result"], through["history"]
    drafted = next(h for h in before if h["next"] == ["approve"] and h["source"] == "loop")

    forked = cli_json(
        "fork", "po", "--checkpoint", drafted["checkpoint_id"], "--set", "amount=20",
        "--as-node", "draft", "--db", target, "--graph", GRAPH,
    )
    assert forked["next"] == ["approve"] and forked["source"] == "update"
    fork_id = forked["checkpoint_id"]

    asked = step("continue", kind, target, "po", fork_id)
    assert [i["interrupt"] for i in asked["__interrupt__"]] == [{"question": "approve?", "amount": 20}]
    second = step("resume", kind, target, "po", "no")
    assert second["log"] == ["draft", "approve:no", "paid:20:no"]
    assert first["log"] == ["draft", "approve:yes", "paid:1500:yes"]

    after = step("read", kind, target, "po")
    assert after["state"]["values"]["log"] == second["log"]
    history = after["history"]
    assert set(ids(before)) < set(ids(history)), "the first branch is intact"
    for old in before:
        assert next(h for h in history if h["checkpoint_id"] == old["checkpoint_id"]) == old
    by_id = {h["checkpoint_id"]: h for h in history}
    assert by_id[fork_id]["parent_id"] == drafted["checkpoint_id"]
    old_head, new_head = ids(before)[0], ids(history)[0]
    chain, at = [], new_head
    while at is not None:
        chain.append(at)
        at = by_id[at]["parent_id"]
    assert fork_id in chain and old_head not in chain and drafted["checkpoint_id"] in chain
    assert [r["checkpoint_id"] for r in cli_json("history", "po", "--db", target)] == ids(history)

    diff = cli_json("diff", "po", old_head, new_head, "--db", target, "--graph", GRAPH)
    assert (diff["from"], diff["to"]) == (old_head, new_head)
    assert diff["added"] == {} and diff["removed"] == {}
    assert diff["changed"] == {
        "amount": {"from": 1500, "to": 20},
        "decision": {"from": "yes", "to": "no"},
        "log": {"from": first["log"], "to": second["log"]},
    }


# --- a busy thread, a killed writer, recovery --------------------------------------------


def test_a_thread_held_by_a_running_process_is_busy_then_killed_and_resumed_elsewhere(
    db: tuple[str, str], tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """A resumes an approval and is stuck in "pay"; B sees the thread busy and
    its ``cairn fork`` is refused; A is SIGKILLed and the thread shows as
    stuck; C resumes with invoke(None, ...): only "pay" runs again; D sees
    the thread idle and whole."""
    kind, target = db
    effects = tmp_path / "effects"
    step("start", kind, target, "po", 1500, JOURNEY_EFFECTS=str(effects))
    Path(f"{effects}.hold").touch()
    holder = background(started, step_argv("resume", kind, target, "po", "yes"), JOURNEY_EFFECTS=str(effects))
    wait_for("the run to enter pay", lambda: "pay:entered" in lines_of(effects))

    busy = cli_json("threads", "--db", target, "--status", "busy")
    assert [t["thread_id"] for t in busy] == ["po"]
    line = cli_refused(
        "fork", "po", "--checkpoint", busy[0]["head"], "--set", "amount=1", "--db", target, "--graph", GRAPH
    )
    assert "'po'" in line and "busy" in line.lower(), line
    refused = step("continue", kind, target, "po", None, fails=True)
    assert refused["error"] == "ThreadBusyError" and "'po'" in refused["message"], refused

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=TIMEOUT)
    Path(f"{effects}.hold").unlink()
    # The operator sees the dead run's thread as stuck at once (its hold has
    # not expired, but its process is gone and the next run takes it over).
    (stuck,) = cli_json("threads", "--db", target, "--status", "stuck")
    assert stuck["thread_id"] == "po" and stuck["next"] == ["pay"] and stuck["lease_seconds_left"] > 0
    assert cli_json("threads", "--db", target, "--status", "busy") == []
    stats = cli_json("stats", "--db", target)
    assert stats["by_status"] == {"stuck": 1} and [s["thread_id"] for s in stats["stuck"]] == ["po"]
    done = step("continue", kind, target, "po", None, JOURNEY_EFFECTS=str(effects))
    assert done["log"] == ["draft", "approve:yes", "paid:1500:yes"]
    assert lines_of(effects) == ["draft", "approve", "approve", "pay:entered", "pay:entered", "pay"]
    (record,) = cli_json("threads", "--db", target)
    assert record["status"] == "idle" and record["checkpoints"] == 5
    read = step("read", kind, target, "po")
    assert [h["step"] for h in read["history"]] == [3, 2, 1, 0, -1]


def test_a_thread_deleted_with_the_cli_while_another_process_runs_it_stays_deleted(
    db: tuple[str, str], tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """A is in "pay" when B prunes idle threads (A's is left) and runs
    ``cairn delete``: A's step is refused with
    ThreadBusyError and stores nothing, so the thread does not come back as
    an orphan step; C starts the thread anew at once."""
    kind, target = db
    effects = tmp_path / "effects"
    step("start", kind, target, "po", 1500, JOURNEY_EFFECTS=str(effects))
    Path(f"{effects}.hold").touch()
    holder = background(started, step_argv("resume", kind, target, "po", "yes"), JOURNEY_EFFECTS=str(effects))
    wait_for("the run to enter pay", lambda: "pay:entered" in lines_of(effects))
    # A running thread is not idle, however old its last step: prune leaves it.
    idle = cli_json("prune", "--db", target, "--older-than", "0s")
    assert idle == {"dry_run": False, "threads_deleted": 0, "checkpoints_deleted": 0}
    assert cli_json("delete", "po", "--db", target) == {"deleted": "po"}
    Path(f"{effects}.hold").unlink()
    out, err = holder.communicate(timeout=TIMEOUT)
    assert holder.returncode == 3, err
    failed = json.loads(out)
    assert failed["error"] == "ThreadBusyError" and "the thread was deleted" in failed["message"], failed
    assert cli_json("threads", "--db", target) == []
    assert step("read", kind, target, "po")["history"] == []
    again = step("start", kind, target, "po", 5)
    assert again["log"] == ["draft"] and again["__interrupt__"]
    assert [h["step"] for h in step("read", kind, target, "po")["history"]] == [1, 0, -1]


class Session:
    """A long-lived process (a server's, a notebook's) with one saver and one
    compiled graph for all its requests: whatever it keeps in memory between
    them, other processes change the store meanwhile."""

    def __init__(self, procs: list[subprocess.Popen[str]], kind: str, target: str) -> None:
        argv = [sys.executable, "-c", "import journey_app; journey_app.main()", "session", kind, target]
        self.proc = subprocess.Popen(
            argv, env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=TESTS.parent,
        )
        procs.append(self.proc)
        assert self._answer()["out"] == "ready"

    def _answer(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the session process ended (exit {self.proc.poll()})"
        printed = json.loads(line)
        assert str(Path(printed["cairn"]).resolve()) == CAIRN_FILE, "the session ran another cairn"
        return printed

    def __call__(self, command: str, thread_id: str, arg: Any = None) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps([command, thread_id, arg]) + "\n")
        self.proc.stdin.flush()
        return self._answer()


def test_a_long_lived_process_sees_what_other_processes_and_the_cli_did_to_its_thread(
    db: tuple[str, str], started: list[subprocess.Popen[str]]
) -> None:
    """A stays up: it starts an approval; B answers it; A sees the end. The
    CLI forks the thread; A sees the fork as the head and continues it. The
    CLI deletes the thread and C starts it anew; A sees C's thread."""
    kind, target = db
    session = Session(started, kind, target)
    assert session("start", "po", 1500)["out"]["__interrupt__"]
    assert step("resume", kind, target, "po", "yes")["log"] == ["draft", "approve:yes", "paid:1500:yes"]
    seen = session("read", "po")["out"]
    assert seen["state"]["values"]["log"] == ["draft", "approve:yes", "paid:1500:yes"]
    assert [h["step"] for h in seen["history"]] == [3, 2, 1, 0, -1]
    stale = session("resume", "po", "again")
    assert stale["error"] == "InvalidResumeError" and "'po'" in stale["message"], stale

    drafted = next(h for h in seen["history"] if h["next"] == ["approve"] and h["source"] == "loop")
    forked = cli_json(
        "fork", "po", "--checkpoint", drafted["checkpoint_id"], "--set", "amount=3",
        "--as-node", "draft", "--db", target, "--graph", GRAPH,
    )
    head = session("read", "po")["out"]["state"]
    assert head["config"]["configurable"]["checkpoint_id"] == forked["checkpoint_id"]
    assert head["values"]["amount"] == 3 and head["next"] == ["approve"]
    asked = session("continue", "po")["out"]
    assert [i["interrupt"] for i in asked["__interrupt__"]] == [{"question": "approve?", "amount": 3}]
    assert session("resume", "po", "ok")["out"]["log"] == ["draft", "approve:ok", "paid:3:ok"]
    assert step("read", kind, target, "po")["state"]["values"]["log"] == ["draft", "approve:ok", "paid:3:ok"]

    assert cli_json("delete", "po", "--db", target) == {"deleted": "po"}
    gone = session("read", "po")["out"]
    assert gone["state"]["values"] == {} and gone["history"] == []
    step("start", kind, target, "po", 5)
    anew = session("read", "po")["out"]
    assert anew["state"]["values"]["log"] == ["draft"] and anew["state"]["next"] == ["approve"]
    assert session("resume", "po", "fine")["out"]["log"] == ["draft", "approve:fine", "paid:5:fine"]


# --- encryption ------------------------------------------------------------------------------


def test_an_encrypted_thread_is_read_by_another_process_with_the_key_and_refused_without(
    tmp_path: Path,
) -> None:
    """On SQLite only: the blobs are sealed the same way in every saver
    (test_encryption.py runs the savers)."""
    kind, target = "sqlite", str(tmp_path / "sealed.db")
    key = EncryptedSerializer.generate_key()
    step("start", kind, target, "sealed", 1500, CAIRN_ENCRYPTION_KEY=key)

    no_key = step("read", kind, target, "sealed", fails=True)
    assert "encrypt" in no_key["message"].lower() and "CAIRN_ENCRYPTION_KEY" in no_key["message"], no_key
    other = step("resume", kind, target, "sealed", "yes", fails=True,
                 CAIRN_ENCRYPTION_KEY=EncryptedSerializer.generate_key())
    assert "key" in other["message"].lower(), other
    line = cli_refused("show", "sealed", "--db", target)
    assert "CAIRN_ENCRYPTION_KEY" in line, line

    done = step("resume", kind, target, "sealed", "yes", CAIRN_ENCRYPTION_KEY=key)
    assert done["log"] == ["draft", "approve:yes", "paid:1500:yes"]
    read = step("read", kind, target, "sealed", CAIRN_ENCRYPTION_KEY=key)
    assert read["state"]["values"]["quote"] == QUOTE_1500
    shown = cli_json("history", "sealed", "--db", target, "--graph", GRAPH, CAIRN_ENCRYPTION_KEY=key)
    assert [r["checkpoint_id"] for r in shown] == ids(read["history"])


# --- async and sync savers on one database ------------------------------------------------


def test_a_thread_the_async_saver_paused_is_resumed_by_the_sync_saver_of_another_process(
    db: tuple[str, str]
) -> None:
    kind, target = db
    first = step("async", kind, target, "mixed", None)
    assert first["first"]["__interrupt__"][0]["interrupt"] == {"question": "approve?", "amount": 7}
    assert first["steps"] == [1, 0, -1]
    done = step("resume", kind, target, "mixed", "yes")
    assert done["log"] == ["draft", "approve:yes", "paid:7:yes"]
    listed = cli_json("history", "mixed", "--db", target)
    assert [r["step"] for r in listed] == [3, 2, 1, 0, -1]
    again = step("async", kind, target, "other", "later")
    assert again["state"]["values"]["log"] == ["draft", "approve:later", "paid:7:later"]
    assert again["steps"] == [3, 2, 1, 0, -1]


# --- export, import and backup while another process writes ----------------------------


def test_export_and_backup_while_another_process_writes_import_elsewhere(
    db: tuple[str, str], tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    kind, target = db
    effects = tmp_path / "effects"
    stop = tmp_path / "stop"
    writer = background(started, step_argv("write-many", kind, target, "w", str(stop)),
                        JOURNEY_EFFECTS=str(effects))
    finished = lambda: [line for line in lines_of(effects) if line.startswith("finished")]  # noqa: E731
    wait_for("two threads written", lambda: len(finished()) >= 2)
    dump = tmp_path / "dump.jsonl"
    exported = cli("export", "--db", target, "--to", str(dump))
    assert exported.returncode == 0, exported.stderr
    backup = tmp_path / "backup.db"
    if kind == "sqlite":
        cli_json("backup", "--db", target, str(backup))
    stop.touch()
    out, err = writer.communicate(timeout=TIMEOUT)
    assert writer.returncode == 0, err

    restored = str(tmp_path / "restored.db")
    imported = cli_json("import", str(dump), "--db", restored)
    names = sorted(imported["threads"])
    assert len(names) >= 2
    copies = [restored, str(backup)] if kind == "sqlite" else [restored]
    everything = [t["thread_id"] for t in cli_json("threads", "--db", target)]
    assert set(names) <= set(everything) and len(everything) == len(finished())
    source = step("read-many", kind, target, "-", everything)
    for name in (line.split()[1] for line in finished()):
        assert [h["step"] for h in source[name]] == [3, 2, 1, 0, -1], name
    for copy in copies:
        copied = step("read-many", "sqlite", copy, "-", [t["thread_id"] for t in cli_json("threads", "--db", copy)])
        assert len(copied) >= 2
        partial = 0
        for name, here in copied.items():
            there = source[name]
            # As of one moment: each copied history is the oldest part of the source's.
            assert here and here == there[len(there) - len(here):], f"{copy}: {name}"
            partial += len(here) < len(there)
        assert partial <= 1, f"{copy}: {partial} threads stop mid-run; the writer writes one at a time"


def test_an_export_or_copy_of_a_thread_another_process_keeps_writing_is_one_moment_of_it(
    db: tuple[str, str], tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    """While A runs one thread over and over, every export and every copy
    of it (the library's, as ``cairn export`` / ``cairn copy`` make them)
    holds exactly the pending writes of the checkpoints it holds; a dump
    made by ``cairn export`` meanwhile imports, and another process reads
    and resumes it."""
    kind, target = db
    effects = tmp_path / "effects"
    stop = tmp_path / "stop"
    background(started, step_argv("write-loop", kind, target, "po", str(stop)), JOURNEY_EFFECTS=str(effects))
    wait_for("a first run", lambda: bool(lines_of(effects)))
    exports = 0
    with saver_on(target) as saver:
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            copied = f"copy-{exports}"
            saver.copy_thread("po", copied)
            for name in ("po", copied):
                rows = export_thread(saver, name)
                held = {(c.ns, c.id) for c in rows.checkpoints}
                strays = [(p.checkpoint_id, p.kind) for p in rows.pending if (p.ns, p.checkpoint_id) not in held]
                assert strays == [], f"{name}, export {exports}: pending writes of checkpoints it lacks: {strays}"
            saver.delete_thread(copied)
            exports += 1
    dump = tmp_path / "dump.jsonl"
    assert cli("export", "po", "--db", target, "--to", str(dump)).returncode == 0
    assert "copied thread po to po-copy" in cli("copy", "po", "po-copy", "--db", target).stdout
    stop.touch()
    restored = str(tmp_path / "restored.db")
    assert cli_json("import", str(dump), "--db", restored)["threads"] == ["po"]
    copy = step("read", "sqlite", restored, "po")
    assert copy["state"]["next"] in (["approve"], ["pay"], [], ["draft"]), copy["state"]
    if copy["state"]["interrupts"]:
        # The dump may hold A's answer ("yes") of a step not yet stored: as in
        # LangGraph, the interrupt then returns that answer again.
        paid = step("resume", "sqlite", restored, "po", "later")["log"][-1]
        assert paid.startswith("paid:") and paid.rsplit(":", 1)[1] in ("later", "yes"), paid
    twin = step("read", kind, target, "po-copy")
    assert len(twin["history"]) >= 3 and twin["history"][-1]["step"] == -1


# --- the store ----------------------------------------------------------------------------------


def test_the_store_written_by_one_process_is_searched_by_another(db: tuple[str, str]) -> None:
    kind, target = db
    step("store-put", kind, target, "-", [
        ["users/ada/prefs", "theme", {"dark": True, "lang": "en"}],
        ["users/ada-l/prefs", "theme", {"dark": True, "lang": "fr"}],
        ["users/bob/prefs", "theme", {"dark": False, "lang": "en"}],
    ])
    found = step("store-search", kind, target, "users/ada", {"dark": True})
    assert found == [{"key": "theme", "value": {"dark": True, "lang": "en"}, "namespace": ["users", "ada", "prefs"]}]
    english = step("store-search", kind, target, "users", {"lang": "en"})
    assert sorted(f["namespace"][1] for f in english) == ["ada", "bob"]
