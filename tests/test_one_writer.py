"""One writer per thread (SPEC section 9).

Two runs on one thread at once, in one process or in several processes on
one database: the second is refused with ThreadBusyError naming the thread
(or, with ``wait_for_thread``, waits and runs after the first), and the
thread's checkpoint chain never forks or loses a commit. A holder that died
on this machine is taken over at once; one that cannot be seen to be dead
(stalled, or on another machine) holds the thread until its lease expires,
and then finds it lost at its next write.

Child processes run tests/writer_child.py; they are killed and reaped in
every case, by the ``store`` / ``db`` fixtures' teardown.
"""

from __future__ import annotations

import asyncio
import operator
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Awaitable, Callable, Iterator, TypedDict

from datetime import timedelta

import pytest

from cairn.checkpoint.base import Lease
from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ConfigError, ThreadBusyError
from cairn.graph import END, START, StateGraph
from tests.pg import fresh_schema
from tests.support import cid, thread
from tests.writer_child import NODES, build_graph, run_values

ROOT = Path(__file__).resolve().parents[1]
WAIT = 30.0
"""Upper bound for anything a test waits for (a child's line, a gate, a join);
reached only when something is broken."""

needs_signals = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or not hasattr(signal, "SIGSTOP") or not os.path.isdir("/proc"),
    reason="needs POSIX signals and /proc",
)


# --- history ----------------------------------------------------------------------


def chain(graph: Any, thread_id: str) -> list[Any]:
    """The thread's whole history, oldest first, checked to be one linear
    chain: the first checkpoint has no parent, every other one has the one
    before it as parent, and the step grows by one each time (no fork, no gap)."""
    snapshots = list(graph.get_state_history(thread(thread_id)))[::-1]
    assert snapshots, f"thread {thread_id!r} has no history"
    assert snapshots[0].parent_config is None
    for before, after in zip(snapshots, snapshots[1:]):
        assert cid(after.parent_config) == cid(before.config), (
            f"thread {thread_id!r} forks: checkpoint at step {after.metadata['step']} does not "
            f"follow the one before it; steps: {[s.metadata['step'] for s in snapshots]}"
        )
        assert after.metadata["step"] == before.metadata["step"] + 1
    assert snapshots[0].metadata["step"] == -1
    return snapshots


def logs(snapshots: list[Any]) -> list[list[str]]:
    return [list(s.values.get("log", [])) for s in snapshots]


# --- in-process gates and background runs ------------------------------------------


class Gate:
    """For build_graph: the first run of node ``node`` on thread ``thread_id``
    blocks until ``open()`` (later ones pass, so a run that should have been
    refused shows up in the assertions instead of hanging); records which
    nodes ran on which thread."""

    def __init__(self, thread_id: str, node: str = "n2") -> None:
        self.thread_id = thread_id
        self.node = node
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, name: str, config: dict[str, Any]) -> None:
        thread_id = config["configurable"]["thread_id"]
        self.calls.append((thread_id, name))
        if thread_id == self.thread_id and name == self.node and not self.entered.is_set():
            self.entered.set()
            if not self.opened.wait(WAIT):
                raise RuntimeError("the gate was never opened")

    def wait_entered(self, run: "Background") -> None:
        """Until a run is in the gated node; fails at once if ``run`` ended first."""
        deadline = time.monotonic() + WAIT
        while not self.entered.wait(0.02):
            if not run.running:
                run.join()  # raises the run's error, if any
                raise AssertionError(f"the run ended before reaching {self.node}")
            assert time.monotonic() < deadline, f"no run reached {self.node} of {self.thread_id!r}"

    def open(self) -> None:
        self.opened.set()

    def ran(self, thread_id: str) -> list[str]:
        return [name for tid, name in self.calls if tid == thread_id]


class Background:
    """Runs ``fn`` in a Python thread; ``join`` returns its result or raises its error."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as exc:  # handed to join
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> Any:
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the background run did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def retry_until_free(fn: Callable[[], Any], within: float) -> Any:
    """Call ``fn`` until it stops raising ThreadBusyError; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            return fn()
        except ThreadBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --- child processes ----------------------------------------------------------------


class Child:
    """A ``python -m tests.writer_child ...`` process, read line by line."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT / "src"), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.writer_child", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.pid = self.proc.pid
        self._buffer = b""
        self.lines: list[str] = []

    def _fail(self, why: str) -> None:
        self.stop()
        raise AssertionError(
            f"child {self.pid}: {why}; it printed {self.lines!r}; stderr:\n"
            + self.stderr_path.read_text(errors="replace")
        )

    def line(self, timeout: float = WAIT) -> str:
        """The next line the child prints."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            readable = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            if not readable:
                self._fail(f"printed no line within {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self._fail("exited before printing a line")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\n", 1)
        text = raw.decode()
        self.lines.append(text)
        return text

    def expect(self, prefix: str, timeout: float = WAIT) -> str:
        text = self.line(timeout)
        if not text.startswith(prefix):
            self._fail(f"expected a line starting with {prefix!r}, got {text!r}")
        return text

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()

    def finish(self, timeout: float = WAIT) -> tuple[int, list[str]]:
        """Wait for the child to exit; its exit code and the lines not read yet."""
        assert self.proc.stdout is not None
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"did not exit within {timeout:g} s")
            raise  # unreachable: _fail raises
        rest = (self._buffer + out).decode().splitlines()
        self._buffer = b""
        self.lines.extend(rest)
        return self.proc.returncode, rest

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        """Kill (if still running) and reap; safe to call more than once."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()  # SIGKILL ends a stopped process too
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=WAIT)
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            self._stderr.close()


# --- savers on one store --------------------------------------------------------------


class Store:
    """One database (or, for "memory", none) that savers and children open."""

    def __init__(self, kind: str, target: str, tmp_path: Path) -> None:
        self.kind = kind
        self.target = target
        self.tmp_path = tmp_path
        self.savers: list[Any] = []
        self.children: list[Child] = []

    def open(self, **options: Any) -> Any:
        """A new saver on this store (for "memory": a new, separate InMemorySaver)."""
        if self.kind == "memory":
            saver: Any = InMemorySaver(**options)
        elif self.kind == "sqlite":
            saver = SqliteSaver(self.target, **options)
        else:
            from cairn.checkpoint.postgres import PostgresSaver

            saver = PostgresSaver(self.target, pool_size=4, **options)
        self.savers.append(saver)
        return saver

    def spawn(self, command: str, *args: str) -> Child:
        assert self.kind != "memory", "child processes need a shared database"
        name = f"child-{len(self.children)}-{command}.stderr"
        child = Child([command, self.kind, self.target, *args], self.tmp_path / name)
        self.children.append(child)
        return child

    def write_locked(self, thread_id: str) -> bool:
        """Whether another connection is inside a write transaction that
        locks ``thread_id``'s lease (SQLite: the database's write lock)."""
        if self.kind == "sqlite":
            lite = sqlite3.connect(self.target, timeout=0, isolation_level=None)
            try:
                lite.execute("BEGIN IMMEDIATE")
                lite.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                lite.close()
        import psycopg

        with psycopg.connect(self.target) as conn:
            try:
                conn.execute(
                    "SELECT 1 FROM cairn_leases WHERE thread_id = %s FOR UPDATE NOWAIT", (thread_id,)
                )
                return False
            except psycopg.errors.LockNotAvailable:
                return True
            finally:
                conn.rollback()

    def close(self) -> None:
        try:
            for child in self.children:
                child.stop()
        finally:
            for saver in self.savers:
                close = getattr(saver, "close", None)
                if close is not None:
                    close()


@contextmanager
def open_store(kind: str, tmp_path: Path) -> Iterator[Store]:
    if kind == "postgres":
        with fresh_schema() as url:
            store = Store(kind, url, tmp_path)
            try:
                yield store
            finally:
                store.close()
    else:
        store = Store(kind, str(tmp_path / "one-writer.db"), tmp_path)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each saver kind, for tests that pass lease options to the saver."""
    with open_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A database shared by this process and child processes."""
    with open_store(request.param, tmp_path) as opened:
        yield opened


# --- 1. in one process: the second run is refused ---------------------------------------


def test_second_run_on_a_busy_thread_is_refused_and_the_first_stays_intact(saver: Any) -> None:
    gate = Gate("busy")
    graph = build_graph(saver, gate)
    first = Background(lambda: graph.invoke({"log": ["A"]}, thread("busy")))
    try:
        gate.wait_entered(first)
        with pytest.raises(ThreadBusyError) as refused:
            graph.invoke({"log": ["B"]}, thread("busy"))
        assert "thread 'busy' is busy" in str(refused.value)
        # Resuming is refused as well, and the refusals did not free the thread.
        with pytest.raises(ThreadBusyError, match="'busy'"):
            graph.invoke(None, thread("busy"))
        with pytest.raises(ThreadBusyError, match="'busy'"):
            graph.invoke({"log": ["B"]}, thread("busy"))
        # Another thread runs meanwhile, with the same compiled graph.
        assert graph.invoke({"log": ["C"]}, thread("other")) == {"log": run_values("C")}
        assert logs(chain(graph, "other"))[-1] == run_values("C")
        assert first.running
    finally:
        gate.open()
    assert first.join() == {"log": run_values("A")}
    # The refused runs ran no node and stored nothing.
    assert gate.ran("busy") == NODES
    history = chain(graph, "busy")
    assert logs(history) == [[], ["A"], ["A", "n1"], ["A", "n1", "n2"], run_values("A")]
    assert graph.get_state(thread("busy")).next == ()
    # The thread is free again.
    assert graph.invoke({"log": ["D"]}, thread("busy")) == {"log": run_values("A") + run_values("D")}
    history = chain(graph, "busy")
    assert len(history) == 10
    assert history[-1].values == {"log": run_values("A") + run_values("D")}


@pytest.mark.parametrize("how", ["exception", "keyboard-interrupt", "interrupt"])
def test_a_run_lets_go_of_its_thread_when_it_stops(saver: Any, how: str) -> None:
    """A run that raises, is interrupted by Ctrl-C or pauses at an interrupt
    frees its thread at once (the lease is 30 s: an unreleased hold would
    refuse the resume below)."""
    failures = {"n2": 1}

    def gate(name: str, _config: dict[str, Any]) -> None:
        if failures.get(name):
            failures[name] -= 1
            if how == "exception":
                raise RuntimeError("n2 failed once")
            if how == "keyboard-interrupt":
                raise KeyboardInterrupt

    options = {"interrupt_before": ["n2"]} if how == "interrupt" else {}
    graph = build_graph(saver, gate if how != "interrupt" else None, **options)
    if how == "exception":
        with pytest.raises(RuntimeError, match="n2 failed once"):
            graph.invoke({"log": ["A"]}, thread("t"))
    elif how == "keyboard-interrupt":
        with pytest.raises(KeyboardInterrupt):
            graph.invoke({"log": ["A"]}, thread("t"))
    else:
        assert graph.invoke({"log": ["A"]}, thread("t")) == {"log": ["A", "n1"]}
    assert graph.get_state(thread("t")).next == ("n2",)
    assert graph.invoke(None, thread("t")) == {"log": run_values("A")}
    assert logs(chain(graph, "t"))[-1] == run_values("A")


# --- 2. wait_for_thread: the second run waits and runs after the first -------------------


def test_with_wait_for_thread_the_second_run_waits_and_continues_the_chain(store: Store) -> None:
    saver = store.open(wait_for_thread=5)
    gate = Gate("queue")
    graph = build_graph(saver, gate)
    first = Background(lambda: graph.invoke({"log": ["A"]}, thread("queue")))
    second: Background | None = None
    try:
        gate.wait_entered(first)
        second = Background(lambda: graph.invoke({"log": ["B"]}, thread("queue")))
        time.sleep(0.3)
        # B neither failed nor started: it is waiting for A.
        assert second.running
        assert gate.ran("queue") == ["n1", "n2"]
    finally:
        gate.open()
    assert first.join() == {"log": run_values("A")}
    assert second is not None
    assert second.join() == {"log": run_values("A") + run_values("B")}
    history = chain(graph, "queue")
    assert [s.metadata["step"] for s in history] == list(range(-1, 9))
    assert logs(history) == (
        [[]]
        + [run_values("A")[: i + 1] for i in range(4)]
        + [run_values("A")]  # B's input checkpoint, on top of A's last one
        + [run_values("A") + run_values("B")[: i + 1] for i in range(4)]
    )
    assert [s.metadata["source"] for s in history].count("input") == 2
    assert gate.ran("queue") == NODES + NODES


def test_wait_for_thread_gives_up_after_its_time(store: Store) -> None:
    saver = store.open(wait_for_thread=0.5)
    gate = Gate("slow")
    graph = build_graph(saver, gate)
    first = Background(lambda: graph.invoke({"log": ["A"]}, thread("slow")))
    try:
        gate.wait_entered(first)
        with pytest.raises(ThreadBusyError, match="thread 'slow' is busy"):
            graph.invoke({"log": ["B"]}, thread("slow"))
        assert first.running
    finally:
        gate.open()
    assert first.join() == {"log": run_values("A")}
    assert logs(chain(graph, "slow"))[-1] == run_values("A")
    assert len(chain(graph, "slow")) == 5


# --- 3. update_state takes the thread too -----------------------------------------------


def test_update_state_is_refused_on_a_busy_thread_and_works_on_an_idle_one(saver: Any) -> None:
    graph = build_graph(saver)
    graph.invoke({"log": ["old"]}, thread("edited"))
    old = chain(graph, "edited")
    gate = Gate("edited")
    gated = build_graph(saver, gate)
    first = Background(lambda: gated.invoke({"log": ["A"]}, thread("edited")))
    try:
        gate.wait_entered(first)
        with pytest.raises(ThreadBusyError, match="thread 'edited' is busy"):
            graph.update_state(thread("edited"), {"log": ["u"]})
        # Forking from an older checkpoint writes to the thread as well.
        with pytest.raises(ThreadBusyError, match="thread 'edited' is busy"):
            graph.update_state(old[2].config, {"log": ["fork"]})
        # An idle thread can be edited meanwhile.
        graph.invoke({"log": ["C"]}, thread("idle"))
        config = graph.update_state(thread("idle"), {"log": ["u"]}, as_node="n3")
        assert graph.get_state(config).values == {"log": run_values("C") + ["u"]}
        assert first.running
    finally:
        gate.open()
    assert first.join() == {"log": run_values("old") + run_values("A")}
    assert len(chain(graph, "edited")) == 10  # the refused edits stored nothing
    config = graph.update_state(thread("edited"), {"log": ["u"]}, as_node="n3")
    history = chain(graph, "edited")
    assert len(history) == 11
    assert cid(history[-1].config) == cid(config)
    assert history[-1].metadata["source"] == "update"
    assert history[-1].values == {"log": run_values("old") + run_values("A") + ["u"]}
    assert logs(chain(graph, "idle"))[-1] == run_values("C") + ["u"]


def test_a_thread_deleted_while_a_run_writes_it_stays_deleted(saver: Any) -> None:
    """delete_thread takes the thread from the run holding it: the run's next
    step is refused (ThreadBusyError saying so) and stores nothing, instead of
    bringing the thread back as a step whose parent is gone."""
    gate = Gate("doomed")
    gated = build_graph(saver, gate)
    run = Background(lambda: gated.invoke({"log": ["A"]}, thread("doomed")))
    gate.wait_entered(run)
    saver.delete_thread("doomed")
    gate.open()
    with pytest.raises(ThreadBusyError, match="lost thread 'doomed'.*or the thread was deleted"):
        run.join()
    graph = build_graph(saver)
    assert list(graph.get_state_history(thread("doomed"))) == []
    assert graph.get_state(thread("doomed")).values == {}
    graph.invoke({"log": ["B"]}, thread("doomed"))  # the id is free for a new run at once
    assert logs(chain(graph, "doomed"))[-1] == run_values("B")


def test_prune_of_idle_threads_leaves_a_thread_a_run_holds(saver: Any) -> None:
    """A run in a long node is not idle, however old its last step: prune
    older_than skips its thread (which the run would bring back as a step
    whose parent is gone), and the run ends as if nothing happened."""
    gate = Gate("long")
    gated = build_graph(saver, gate)
    build_graph(saver).invoke({"log": ["old"]}, thread("idle"))
    idle = len(chain(build_graph(saver), "idle"))
    run = Background(lambda: gated.invoke({"log": ["A"]}, thread("long")))
    gate.wait_entered(run)
    time.sleep(0.002)  # both threads' last steps are older than the cutoff
    pruned = saver.prune(older_than=timedelta(milliseconds=1))
    gate.open()
    assert run.join() == {"log": run_values("A")}
    assert (pruned.threads_deleted, pruned.checkpoints_deleted) == (1, idle)
    graph = build_graph(saver)
    assert logs(chain(graph, "long"))[-1] == run_values("A")
    assert list(graph.get_state_history(thread("idle"))) == []


# --- 4. two processes on one database ----------------------------------------------------


def test_a_run_in_another_process_holds_the_thread_until_it_ends(db: Store) -> None:
    child = db.spawn("hold", "cross", "30")
    child.expect("entered")
    graph = build_graph(db.open())
    with pytest.raises(ThreadBusyError) as refused:
        graph.invoke({"log": ["P"]}, thread("cross"))
    message = str(refused.value)
    assert "thread 'cross' is busy" in message
    assert f"pid {child.pid}" in message  # it says which process holds the thread
    with pytest.raises(ThreadBusyError, match="thread 'cross' is busy"):
        graph.invoke(None, thread("cross"))
    with pytest.raises(ThreadBusyError, match="thread 'cross' is busy"):
        graph.update_state(thread("cross"), {"log": ["u"]})
    # Other threads are not held.
    assert graph.invoke({"log": ["Q"]}, thread("free")) == {"log": run_values("Q")}

    child.send("go")
    code, rest = child.finish()
    assert code == 0, child.stderr()
    assert rest[-1] == 'done {"log": ["held", "n1", "n2", "n3"]}'
    assert logs(chain(graph, "cross")) == [
        [], ["held"], ["held", "n1"], ["held", "n1", "n2"], run_values("held")
    ]
    assert graph.invoke({"log": ["P"]}, thread("cross")) == {
        "log": run_values("held") + run_values("P")
    }
    history = chain(graph, "cross")
    assert len(history) == 10
    assert history[-1].values == {"log": run_values("held") + run_values("P")}


# --- 5. a holder killed on this machine is taken over at once -----------------------------


def _process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


@needs_signals
@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_a_killed_holder_frees_the_thread_at_once(db: Store, reaped: bool) -> None:
    child = db.spawn("hold", "crashed", "30")
    child.expect("entered")
    os.kill(child.pid, signal.SIGKILL)
    if reaped:
        child.proc.wait(WAIT)
    else:  # killed but not waited for yet: the pid still exists, as a zombie
        deadline = time.monotonic() + WAIT
        while _process_state(child.pid) != "Z":
            assert time.monotonic() < deadline, "the killed child never became a zombie"
            time.sleep(0.01)
    graph = build_graph(db.open())  # lease_ttl 30: only the dead-holder check frees it
    assert graph.invoke(None, thread("crashed")) == {"log": run_values("held")}
    assert logs(chain(graph, "crashed")) == [
        [], ["held"], ["held", "n1"], ["held", "n1", "n2"], run_values("held")
    ]
    assert graph.get_state(thread("crashed")).next == ()


# --- 6. a holder that cannot be seen to be dead holds the thread until its lease expires ---


def _all_threads_stopped(pid: int) -> bool:
    states = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                states.append(stat.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            pass
    return bool(states) and all(state in ("T", "t") for state in states)


def freeze(db: Store, child: Child, thread_id: str) -> None:
    """SIGSTOP ``child``, at a moment when it is not inside a write transaction
    (its lease heartbeat writes every ttl/3): a process stopped holding SQLite's
    write lock or a PostgreSQL row lock would block everyone else, which is
    another matter than the one these tests are about."""
    for _ in range(100):
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + WAIT
        while not _all_threads_stopped(child.pid):
            assert time.monotonic() < deadline, "the child did not stop"
            time.sleep(0.002)
        if not db.write_locked(thread_id):
            return
        os.kill(child.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the child was inside a write transaction every time it was stopped")


def _stall(db: Store, thread_id: str) -> tuple[Child, Any]:
    """A child holding ``thread_id`` with lease_ttl=1, stopped in node n2 (after
    the checkpoints of steps -1, 0 and 1 committed), and a graph on a saver of
    this process with lease_ttl=1 that is refused the thread at first."""
    graph = build_graph(db.open(lease_ttl=1))
    child = db.spawn("hold", thread_id, "1")
    child.expect("entered")
    freeze(db, child, thread_id)
    with pytest.raises(ThreadBusyError, match=f"thread '{thread_id}' is busy"):
        graph.invoke(None, thread(thread_id))
    return child, graph


def _assert_lost(child: Child, thread_id: str) -> None:
    code, rest = child.finish()
    assert code == 3, f"the stalled run was not refused: {rest!r}\n{child.stderr()}"
    assert rest and rest[-1].startswith(f"error ThreadBusyError this run lost thread '{thread_id}'")


@needs_signals
def test_a_stalled_holder_resumed_while_another_run_holds_the_thread_stores_nothing(
    db: Store,
) -> None:
    child, _ = _stall(db, "stalled")
    gate = Gate("stalled", node="n3")
    graph = build_graph(db.open(lease_ttl=1), gate)
    taker = Background(lambda: retry_until_free(lambda: graph.invoke(None, thread("stalled")), 4))
    try:
        gate.wait_entered(taker)  # the new run took over after the lease expired and runs n3
        os.kill(child.pid, signal.SIGCONT)
        child.send("go")  # the stalled run's n2 returns; storing its step must fail
        _assert_lost(child, "stalled")
    finally:
        gate.open()
    assert taker.join() == {"log": run_values("held")}
    assert logs(chain(graph, "stalled")) == [
        [], ["held"], ["held", "n1"], ["held", "n1", "n2"], run_values("held")
    ]


@needs_signals
def test_a_stalled_holder_resumed_after_another_run_finished_stores_nothing(db: Store) -> None:
    child, graph = _stall(db, "stalled")
    result = retry_until_free(lambda: graph.invoke(None, thread("stalled")), 1 + 3)
    assert result == {"log": run_values("held")}
    os.kill(child.pid, signal.SIGCONT)
    time.sleep(0.2)  # the stalled node goes on for a moment before it returns
    child.send("go")
    _assert_lost(child, "stalled")
    assert logs(chain(graph, "stalled")) == [
        [], ["held"], ["held", "n1"], ["held", "n1", "n2"], run_values("held")
    ]


def _missing_pid() -> int:
    """A pid no process on this machine has."""
    for pid in range(4_000_000, 3_000_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("every pid is taken")


def test_a_holder_on_another_machine_holds_the_thread_until_its_lease_expires(
    store: Store,
) -> None:
    saver = store.open()
    graph = build_graph(saver)
    graph.invoke({"log": ["A"]}, thread("remote"))
    # Its pid does not exist here, but it is another machine's pid: no takeover.
    owner = f"abcdef123456 (pid {_missing_pid()} on elsewhere, 00000000)"
    assert saver.acquire(Lease("remote", owner, 1.0)) is None
    with pytest.raises(ThreadBusyError) as refused:
        graph.invoke({"log": ["B"]}, thread("remote"))
    assert "thread 'remote' is busy" in str(refused.value)
    assert "on elsewhere" in str(refused.value)
    with pytest.raises(ThreadBusyError, match="thread 'remote' is busy"):
        graph.update_state(thread("remote"), {"log": ["u"]})
    # Other threads are free.
    assert graph.invoke({"log": ["C"]}, thread("near")) == {"log": run_values("C")}
    result = retry_until_free(lambda: graph.invoke({"log": ["B"]}, thread("remote")), 1 + 3)
    assert result == {"log": run_values("A") + run_values("B")}
    history = chain(graph, "remote")
    assert len(history) == 10
    assert history[-1].values == result
    # Its late write is refused and stores nothing.
    with pytest.raises(ThreadBusyError, match="this run lost thread 'remote'"):
        saver.save_pending(
            "remote", "", cid(history[-1].config), [], lease=Lease("remote", owner, 1.0)
        )


# --- 7. the heartbeat keeps a slow node's hold -----------------------------------------


def test_a_slow_node_keeps_its_thread_past_the_lease_ttl(store: Store) -> None:
    saver = store.open(lease_ttl=0.6)
    gate = Gate("slow")
    graph = build_graph(saver, gate)
    first = Background(lambda: graph.invoke({"log": ["A"]}, thread("slow")))
    try:
        gate.wait_entered(first)
        time.sleep(1.5)  # well past the ttl: only the background renewal holds the thread
        with pytest.raises(ThreadBusyError, match="thread 'slow' is busy"):
            graph.invoke({"log": ["B"]}, thread("slow"))
        with pytest.raises(ThreadBusyError, match="thread 'slow' is busy"):
            graph.update_state(thread("slow"), {"log": ["u"]})
    finally:
        gate.open()
    # The slow run did not lose its thread: all its steps were stored.
    assert first.join() == {"log": run_values("A")}
    assert logs(chain(graph, "slow")) == [
        [], ["A"], ["A", "n1"], ["A", "n1", "n2"], run_values("A")
    ]


def test_a_short_lease_taken_while_a_long_one_is_held_is_still_renewed_in_time(
    store: Store,
) -> None:
    # The heartbeat sleeps until the earliest renewal it knows of; a run whose
    # lease is due sooner must wake it, or its hold would lapse.
    long_gate = Gate("long")
    long_graph = build_graph(store.open(lease_ttl=30), long_gate)
    short_gate = Gate("short")
    short_graph = build_graph(store.open(lease_ttl=0.6), short_gate)
    long_run = Background(lambda: long_graph.invoke({"log": ["L"]}, thread("long")))
    try:
        long_gate.wait_entered(long_run)  # the heartbeat now sleeps ~10 s
        short_run = Background(lambda: short_graph.invoke({"log": ["S"]}, thread("short")))
        try:
            short_gate.wait_entered(short_run)
            time.sleep(1.5)  # past the short ttl
            with pytest.raises(ThreadBusyError, match="thread 'short' is busy"):
                short_graph.invoke({"log": ["B"]}, thread("short"))
        finally:
            short_gate.open()
        assert short_run.join() == {"log": run_values("S")}
    finally:
        long_gate.open()
    assert long_run.join() == {"log": run_values("L")}


# --- 8. async runs ------------------------------------------------------------------------


async def _entered(entered: asyncio.Event, runs: list["asyncio.Future[Any]"]) -> None:
    """Until a run is in a2, or every run ended (then the caller's checks fail)."""
    deadline = time.monotonic() + WAIT
    while not entered.is_set() and not all(run.done() for run in runs):
        assert time.monotonic() < deadline, "no run reached a2"
        await asyncio.sleep(0.01)


class AsyncState(TypedDict):
    log: Annotated[list, operator.add]


def build_async_graph(saver: Any, gate: asyncio.Event, entered: asyncio.Event) -> Any:
    """a1 -> a2, async nodes; a2 waits for ``gate``."""

    async def a1(state: AsyncState) -> dict[str, Any]:
        return {"log": ["a1"]}

    async def a2(state: AsyncState) -> dict[str, Any]:
        entered.set()
        await gate.wait()
        return {"log": ["a2"]}

    builder = StateGraph(AsyncState)
    builder.add_node("a1", a1)
    builder.add_node("a2", a2)
    builder.add_edge(START, "a1")
    builder.add_edge("a1", "a2")
    builder.add_edge("a2", END)
    return builder.compile(checkpointer=saver)


async def _two_ainvokes(
    saver: Any, while_held: Callable[[list["asyncio.Future[Any]"]], Awaitable[int]]
) -> tuple[int, list[Any]]:
    """Two ainvokes of thread "aio" at once; ``while_held(runs)`` runs while
    one of them holds the thread in a2. Its answer, and what each run gave."""
    gate, entered = asyncio.Event(), asyncio.Event()
    graph = build_async_graph(saver, gate, entered)
    runs = [asyncio.ensure_future(graph.ainvoke({"log": [tag]}, thread("aio"))) for tag in ("A", "B")]
    try:
        await _entered(entered, runs)
        seen = await while_held(runs)
    finally:
        gate.set()
    return seen, await asyncio.gather(*runs, return_exceptions=True)


def test_two_concurrent_ainvokes_on_one_thread_one_is_refused(store: Store) -> None:
    saver = store.open()

    async def while_held(runs: list["asyncio.Future[Any]"]) -> int:
        # One run holds the thread in a2; the other ends without waiting for it.
        done, _ = await asyncio.wait(runs, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        return len(done)

    ended_first, results = asyncio.run(_two_ainvokes(saver, while_held))
    assert ended_first == 1
    refused = [r for r in results if isinstance(r, ThreadBusyError)]
    finished = [r for r in results if not isinstance(r, BaseException)]
    assert len(refused) == 1 and len(finished) == 1, results
    assert "thread 'aio' is busy" in str(refused[0])
    tag = finished[0]["log"][0]
    assert finished[0] == {"log": [tag, "a1", "a2"]}
    graph = build_async_graph(saver, asyncio.Event(), asyncio.Event())
    assert logs(chain(graph, "aio")) == [[], [tag], [tag, "a1"], [tag, "a1", "a2"]]


def test_two_concurrent_ainvokes_with_wait_for_thread_run_one_after_the_other(
    store: Store,
) -> None:
    saver = store.open(wait_for_thread=5)

    async def while_held(runs: list["asyncio.Future[Any]"]) -> int:
        # The waiting run must neither give up nor block the event loop
        # (which would keep the holder from going on).
        await asyncio.sleep(0.2)
        return sum(run.done() for run in runs)

    ended_early, results = asyncio.run(_two_ainvokes(saver, while_held))
    assert ended_early == 0, results
    assert not any(isinstance(r, BaseException) for r in results), results
    first, second = sorted(results, key=lambda r: len(r["log"]))
    tag1, tag2 = first["log"][0], second["log"][3]
    assert {tag1, tag2} == {"A", "B"}
    assert first == {"log": [tag1, "a1", "a2"]}
    assert second == {"log": [tag1, "a1", "a2", tag2, "a1", "a2"]}
    graph = build_async_graph(saver, asyncio.Event(), asyncio.Event())
    history = chain(graph, "aio")
    assert [s.metadata["step"] for s in history] == list(range(-1, 7))
    assert history[-1].values == second


# --- 9. bad options ----------------------------------------------------------------------

BAD_TTLS = [0, 0.0, -1, -0.5, "30", None, True, float("nan"), [30]]
BAD_WAITS = [-1, -0.01, "5", None, True, float("nan")]


def test_bad_lease_options_raise_config_error_naming_the_value(store: Store) -> None:
    for value in BAD_TTLS:
        with pytest.raises(ConfigError) as caught:
            store.open(lease_ttl=value)
        assert "lease_ttl" in str(caught.value) and repr(value) in str(caught.value), value
    for value in BAD_WAITS:
        with pytest.raises(ConfigError) as caught:
            store.open(wait_for_thread=value)
        assert "wait_for_thread" in str(caught.value) and repr(value) in str(caught.value), value
    # Good values are taken as given, ints and floats alike.
    saver = store.open(lease_ttl=2, wait_for_thread=0)
    assert (saver.lease_ttl, saver.wait_for_thread) == (2.0, 0.0)
    saver = store.open(lease_ttl=0.25, wait_for_thread=1.5)
    assert (saver.lease_ttl, saver.wait_for_thread) == (0.25, 1.5)
    assert build_graph(saver).invoke({"log": ["ok"]}, thread("ok")) == {"log": run_values("ok")}
    default = store.open()
    assert (default.lease_ttl, default.wait_for_thread) == (30.0, 0.0)


# --- 10. many threads, many processes ---------------------------------------------------

BULK_LOG = ["a", *NODES, "u", "b", *NODES]
BULK_CHECKPOINTS = 11  # run a: 5, update_state: 1, run b: 5


def _start_together(store: Store, children: list[Child]) -> None:
    for child in children:
        child.expect("ready", timeout=60)
    (store.tmp_path / "go").touch()


def _all_done(children: list[Child], timeout: float) -> None:
    for child in children:
        code, rest = child.finish(timeout)
        assert code == 0 and rest == ["done"], f"{rest!r}\n{child.stderr()}"


@pytest.mark.parametrize(
    ("kind", "processes", "threads"), [("postgres", 8, 50), ("sqlite", 4, 20)]
)
def test_many_processes_on_many_threads_keep_every_history_intact(
    tmp_path: Path, kind: str, processes: int, threads: int
) -> None:
    with open_store(kind, tmp_path) as store:
        go = str(tmp_path / "go")
        children = [
            store.spawn("bulk", f"p{p}", str(threads), go) for p in range(processes)
        ]
        _start_together(store, children)
        _all_done(children, timeout=120)
        saver = store.open()
        graph = build_graph(saver)
        expected = {f"p{p}-{i}" for p in range(processes) for i in range(threads)}
        assert {info.thread_id for info in saver.list_threads()} == expected
        for thread_id in sorted(expected):
            history = chain(graph, thread_id)
            assert len(history) == BULK_CHECKPOINTS, thread_id
            assert history[-1].values == {"log": BULK_LOG}, thread_id
            assert [s.metadata["source"] for s in history].count("update") == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_processes_taking_turns_on_shared_threads_never_fork_or_lose_a_run(
    tmp_path: Path, kind: str
) -> None:
    """Several processes run on the same few threads at once, waiting for each
    other (wait_for_thread): every run lands exactly once, whole, in one chain."""
    processes, shared, runs = 4, 2, 4
    with open_store(kind, tmp_path) as store:
        go = str(tmp_path / "go")
        children = [
            store.spawn("contend", f"P{p}", str(shared), str(runs), go) for p in range(processes)
        ]
        _start_together(store, children)
        _all_done(children, timeout=120)
        graph = build_graph(store.open())
        for i in range(shared):
            history = chain(graph, f"shared-{i}")
            assert len(history) == processes * runs * 5
            log = history[-1].values["log"]
            blocks = [log[k : k + 4] for k in range(0, len(log), 4)]
            assert all(block[1:] == NODES for block in blocks), log  # no run interleaved
            tags = [block[0] for block in blocks]
            assert sorted(tags) == sorted(f"P{p}.{r}" for p in range(processes) for r in range(runs))
            for p in range(processes):  # each process's runs in its order
                assert [t for t in tags if t.startswith(f"P{p}.")] == [
                    f"P{p}.{r}" for r in range(runs)
                ]
