"""Writes made by one process read back in another, on every saver (issue 12).

A process's first write used to decide what got stored: a process-global
cache in the codec stored an empty metadata blob when that write was an
``update_state`` (empty metadata), and the thread could no longer be read.
These tests write from fresh interpreters (tests/cross_child.py) and read
from others:

- the focused tests replay the reported cases: ``update_state`` (with and
  without ``as_node``, on a new thread, on a thread another process started,
  and on an older checkpoint) as a fresh process's first write, then another
  process reads the thread and continues the run;
- the random test drives seeded random sequences of the public writing calls
  (invoke, stream, update_state with and without as_node, Command(resume=...),
  replay, fork) split over several processes, reads every checkpoint of the
  thread in yet another process, and compares everything a user sees with
  the same sequence run in this process on an InMemorySaver; it also checks,
  on the real ids, that every checkpoint a call returned or streamed reads
  back as it was returned. On "memory" (which cannot cross processes) each
  sequence runs whole in one fresh child process.

A child imports the same cairn as this process (its package directory goes
first on the child's PYTHONPATH, and each transcript says which file it
imported), so running the tests with an older checkout on PYTHONPATH tests
that checkout in every process.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

import cairn
from cairn.checkpoint.memory import InMemorySaver
from tests.cross_child import NODES, run_job
from tests.pg import fresh_schema

ROOT = Path(__file__).resolve().parents[1]
CAIRN_FILE = str(Path(cairn.__file__).resolve())
CHILD_TIMEOUT = 60.0
"""Upper bound for one child; reached only when something is broken."""

KINDS = ["memory", "sqlite", "postgres"]

Op = dict[str, Any]
"""One operation for tests/cross_child.py's run_op, e.g. ``{"op": "invoke", "input": None}``."""
Batch = list[Op]
"""The operations one process runs, in order."""

# --- child processes ------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """This environment, with this process's cairn and the repository first
    on PYTHONPATH (children run the code the parent imported)."""
    env = dict(os.environ)
    paths = [str(Path(CAIRN_FILE).parents[1]), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_child(kind: str, target: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` in a fresh ``python -m tests.cross_child`` process; its transcript."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.cross_child", kind, target],
        cwd=ROOT,
        env=child_env(),
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    assert proc.returncode == 0, f"child exited with {proc.returncode}; stderr:\n{proc.stderr}"
    transcript: dict[str, Any] = json.loads(proc.stdout)
    assert str(Path(transcript["cairn"]).resolve()) == CAIRN_FILE, "the child ran another cairn"
    return transcript


def run_children(kind: str, target: str, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each job in its own child, all at once (they touch different threads)."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: run_child(kind, target, job), jobs))


@contextmanager
def store(kind: str, tmp_path: Path) -> Iterator[str]:
    """Where the children's saver keeps its data (nothing for "memory")."""
    if kind == "postgres":
        with fresh_schema() as url:
            yield url
    elif kind == "sqlite":
        yield str(tmp_path / "cross.db")
    else:
        yield "-"


def run_steps(kind: str, target: str, thread_id: str, steps: list[Batch]) -> dict[str, Any]:
    """Run each step (a list of operations) in a new process, then read every
    checkpoint of the thread in another one; the records of all steps and the
    read. On "memory" everything runs in one fresh process."""
    if kind == "memory":
        return run_child(kind, target, {"thread": thread_id, "batches": steps, "read": True})
    batches = [
        run_child(kind, target, {"thread": thread_id, "batches": [step]})["batches"][0]
        for step in steps
    ]
    read = run_child(kind, target, {"thread": thread_id, "batches": [], "read": True})
    return {"batches": batches, "dump": read["dump"]}


def records(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    return [record for batch in transcript["batches"] for record in batch]


def readable(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of ``transcript``, checked to hold no failed read: neither
    get_state after any operation nor the final read of the thread raised."""
    for record in records(transcript):
        assert "error" not in record["head"], (
            f"get_state after {record['op']} raised {record['head']}"
        )
    assert "error" not in transcript["dump"], f"reading the thread raised {transcript['dump']['error']}"
    return records(transcript)


def cid(config: dict[str, Any] | None) -> str | None:
    return None if config is None else config["configurable"]["checkpoint_id"]


# --- 1. update_state as a process's first write ---------------------------------------------


def update(values: dict[str, Any], as_node: str | None = None, at: int | None = None) -> Op:
    return {"op": "update", "values": values, "as_node": as_node, "at": at}


READ: Op = {"op": "read"}
CONTINUE: Op = {"op": "invoke", "input": None}


@pytest.mark.parametrize("kind", KINDS)
def test_update_state_as_node_as_a_fresh_processs_first_write_is_readable_and_runs_on(
    kind: str, tmp_path: Path
) -> None:
    with store(kind, tmp_path) as target:
        seen = run_steps(
            kind,
            target,
            "edited",
            [[update({"log": ["draft"], "count": 2}, as_node="a")], [READ], [CONTINUE]],
        )
    edit, read, resumed = readable(seen)
    assert cid(edit["out"]) is not None, edit
    for record in (edit, read):
        assert record["head"]["values"] == {"log": ["draft"], "count": 2}
        assert record["head"]["next"] == ["b"]
        assert record["head"]["metadata"] == {
            "graph_id": "cross", "source": "update", "step": 0, "parents": {},
            "writes": {"a": {"log": ["draft"], "count": 2}},
        }
        assert cid(record["head"]["config"]) == cid(edit["out"])
    assert read["out"] == {"history": 1}
    assert resumed["out"] == {"log": ["draft", "b1"], "count": 2}
    history = seen["dump"]["history"]
    assert [(s["metadata"]["source"], s["metadata"]["step"]) for s in history] == [
        ("loop", 1), ("update", 0)
    ]
    assert cid(history[0]["parent_config"]) == cid(edit["out"])
    assert history[0]["values"] == {"log": ["draft", "b1"], "count": 2}
    assert seen["dump"]["at"] == history


@pytest.mark.parametrize("kind", KINDS)
def test_update_state_without_as_node_in_a_fresh_process_on_another_processs_thread(
    kind: str, tmp_path: Path
) -> None:
    """A reviewer's edit (no as_node) from its own process on a run paused at
    an interrupt by another process; a third process sees it and runs on."""
    with store(kind, tmp_path) as target:
        seen = run_steps(
            kind,
            target,
            "reviewed",
            [
                [{"op": "invoke", "input": {"log": ["x"], "count": 0}}],
                [update({"count": 4})],
                [READ],
                [CONTINUE],
            ],
        )
    paused, edit, read, resumed = readable(seen)
    (pending,) = paused["out"]["__interrupt__"]
    assert pending["interrupt"] == {"question": "ok?", "count": 1}
    assert paused["head"]["next"] == ["ask"]
    # The edit acts as "a" (the last writer), so the route is taken again: count 4 goes to b.
    for record in (edit, read):
        assert record["head"]["values"] == {"log": ["x", "a"], "count": 4}
        assert record["head"]["next"] == ["b"]
        assert record["head"]["interrupts"] == []
        assert record["head"]["metadata"] == {
            "graph_id": "cross", "source": "update", "step": 2, "parents": {}, "writes": {"a": {"count": 4}}
        }
        assert cid(record["head"]["config"]) == cid(edit["out"])
    assert read["out"] == {"history": 4}
    assert resumed["out"] == {"log": ["x", "a", "b2"], "count": 4}
    history = seen["dump"]["history"]
    assert [s["metadata"]["source"] for s in history] == ["loop", "update", "loop", "loop", "input"]
    assert [s["metadata"]["step"] for s in history] == [3, 2, 1, 0, -1]
    assert cid(history[1]["parent_config"]) == cid(history[2]["config"])
    assert seen["dump"]["at"] == history


@pytest.mark.parametrize("kind", KINDS)
def test_a_fork_made_by_a_fresh_processs_first_write_runs_and_keeps_the_old_branch(
    kind: str, tmp_path: Path
) -> None:
    """Time travel (seed 003's step) in a process of its own: update_state on
    an older checkpoint is that process's first write, then invoke(None, fork)."""
    with store(kind, tmp_path) as target:
        seen = run_steps(
            kind,
            target,
            "forked",
            [
                [{"op": "invoke", "input": {"log": ["x"], "count": 1}}],
                [{"op": "fork", "at": 2, "values": {"log": ["edit"]}, "as_node": "a"}],
                [READ],
            ],
        )
    first, fork, read = readable(seen)
    assert first["out"] == {"log": ["x", "a", "b2"], "count": 2}
    assert fork["out"]["result"] == {"log": ["x", "a", "edit", "b3"], "count": 2}
    assert read["head"]["values"] == {"log": ["x", "a", "edit", "b3"], "count": 2}
    history = seen["dump"]["history"]
    by_id = {cid(s["config"]): s for s in history}
    edited = by_id[cid(fork["out"]["fork"])]
    assert edited["metadata"] == {
        "graph_id": "cross", "source": "update", "step": 2, "parents": {}, "writes": {"a": {"log": ["edit"]}}
    }
    assert edited["next"] == ["b"]
    # The fork hangs under step 1 of the first run, whose own step 2 is still there.
    step_1 = by_id[cid(edited["parent_config"])]
    assert (step_1["metadata"]["step"], step_1["values"]) == (1, {"log": ["x", "a"], "count": 2})
    old_head = by_id[cid(first["head"]["config"])]
    assert old_head["values"] == {"log": ["x", "a", "b2"], "count": 2}
    assert cid(old_head["parent_config"]) == cid(step_1["config"])
    assert len(history) == 6
    assert seen["dump"]["at"] == history


# --- 2. random sequences of writes over several processes ------------------------------------

SEQUENCES = int(os.environ.get("CAIRN_CROSS_SEQUENCES", "6"))
"""Random sequences per saver (seeds 0, 1, ...); raise it for a longer soak."""

WEIGHTS = {"invoke": 3, "stream": 2, "update": 3, "resume": 3, "replay": 2, "fork": 2}


def random_values(rng: random.Random, n: int) -> dict[str, Any]:
    """A non-empty update of some of the state's keys."""
    choices = [("log", [f"u{n}"]), ("count", rng.randint(0, 3)), ("answer", f"e{n}")]
    picked = rng.sample(choices, rng.randint(1, len(choices)))
    return dict(picked)


def random_op(rng: random.Random, n: int, first: bool, after: str | None) -> Op:
    """Operation number ``n`` of a sequence, coming after an operation of kind
    ``after``. The first of a batch (a process's first write) is an
    update_state half of the time; a resume often follows a run (which may
    have stopped at the interrupt)."""
    if first and rng.random() < 0.5:
        kind = "update"
    elif after in ("invoke", "stream", "replay", "fork") and rng.random() < 0.4:
        kind = "resume"
    else:
        kind = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
    as_node = rng.choice([None, *NODES]) if rng.random() < 0.5 else None
    if kind in ("invoke", "stream"):
        given: dict[str, Any] = {"log": [f"i{n}"]}
        if rng.random() < 0.5:
            given["count"] = rng.randint(0, 3)
        return {"op": kind, "input": None if rng.random() < 0.25 else given}
    if kind == "update":
        at = None if rng.random() < 0.6 else rng.randrange(64)
        return update(random_values(rng, n), as_node, at)
    if kind == "resume":
        return {"op": kind, "answer": f"r{n}", "stream": rng.random() < 0.5}
    if kind == "replay":
        return {"op": kind, "at": rng.randrange(64), "stream": rng.random() < 0.5}
    return {"op": "fork", "at": rng.randrange(64), "values": random_values(rng, n), "as_node": as_node}


def random_batches(seed: int) -> list[Batch]:
    """3 to 5 batches of 2 to 5 operations, one batch per process. The first
    operation is update_state on the empty thread, without as_node for even
    seeds, as a node for odd ones."""
    rng = random.Random(seed)
    batches: list[Batch] = []
    ops: list[Op] = []
    for _ in range(rng.randint(3, 5)):
        batch: Batch = []
        for i in range(rng.randint(2, 5)):
            if not ops:
                op = update(random_values(rng, 0), None if seed % 2 == 0 else rng.choice(NODES))
            else:
                op = random_op(rng, len(ops), first=i == 0, after=ops[-1]["op"])
            batch.append(op)
            ops.append(op)
        batches.append(batch)
    return batches


def run_sequences(kind: str, target: str, sequences: list[list[Batch]]) -> list[dict[str, Any]]:
    """Every sequence on its own thread; each batch in a new process (batch r
    of all sequences at once), then each thread read in another process. On
    "memory", each sequence whole in one process."""
    threads = [f"seq-{i}" for i in range(len(sequences))]
    if kind == "memory":
        jobs = [{"thread": t, "batches": b, "read": True} for t, b in zip(threads, sequences)]
        return run_children(kind, target, jobs)
    done: list[list[list[dict[str, Any]]]] = [[] for _ in sequences]  # records, by batch
    for r in range(max(len(b) for b in sequences)):
        due = [(i, b[r]) for i, b in enumerate(sequences) if r < len(b)]
        jobs = [{"thread": threads[i], "batches": [batch]} for i, batch in due]
        for (i, _), transcript in zip(due, run_children(kind, target, jobs)):
            done[i].extend(transcript["batches"])
    reads = run_children(kind, target, [{"thread": t, "batches": [], "read": True} for t in threads])
    return [{"batches": b, "dump": read["dump"]} for b, read in zip(done, reads)]


# --- comparing with the reference ---

ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")


def anonymous(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every id (checkpoint, task, run, interrupt) replaced by
    its order of first appearance, and without ``created_at``: two runs of the
    same sequence then give equal transcripts."""
    if isinstance(value, str):
        return ID.sub(lambda m: names.setdefault(m.group(), f"<id {len(names)}>"), value)
    if isinstance(value, dict):
        return {anonymous(k, names): anonymous(v, names) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return [anonymous(item, names) for item in value]
    return value


def assert_same_as_reference(label: str, real: dict[str, Any], reference: dict[str, Any]) -> None:
    """Each operation returned and read back what it did in the reference, and
    the final read of every checkpoint is the reference's, up to ids."""
    real_names: dict[str, str] = {}
    ref_names: dict[str, str] = {}
    for b, (real_batch, ref_batch) in enumerate(zip(real["batches"], reference["batches"], strict=True)):
        for k, (got, want) in enumerate(zip(real_batch, ref_batch, strict=True)):
            assert anonymous(got, real_names) == anonymous(want, ref_names), (
                f"{label}: batch {b} (one process), operation {k} {got['op']} differs from the "
                "in-memory reference"
            )
    got_dump = anonymous(real["dump"], real_names)
    want_dump = anonymous(reference["dump"], ref_names)
    assert "error" not in got_dump, f"{label}: reading the thread failed: {got_dump}"
    assert got_dump["head"] == want_dump["head"], f"{label}: get_state of the thread"
    assert len(got_dump["history"]) == len(want_dump["history"]), f"{label}: number of checkpoints"
    for i, (got, want) in enumerate(zip(got_dump["history"], want_dump["history"])):
        assert got == want, f"{label}: checkpoint {i} of get_state_history (newest first)"
    for i, (got, want) in enumerate(zip(got_dump["at"], want_dump["at"])):
        assert got == want, f"{label}: get_state at checkpoint {i} (newest first)"


# --- checks on the real ids ---

FIXED = ("config", "metadata", "parent_config", "created_at")
"""What a checkpoint shows the same every time it is read (get_state of the
thread also shows, in values and next, what finished tasks left pending)."""

RUNS = ("invoke", "stream", "resume", "replay", "fork")
"""The operations that return a state (or stream its values)."""


def returned_state(record: dict[str, Any]) -> tuple[dict[str, Any], list[Any]] | None:
    """The state an operation's call returned (a stream: its last values
    chunk) without ``__interrupt__``, and the interrupts it returned."""
    out = record["out"]
    if record["op"]["op"] not in RUNS or "error" in out or "skipped" in out:
        return None
    if isinstance(out, dict) and "result" in out:  # a fork or a replay
        out = out["result"]
    if isinstance(out, list):
        chunks = [chunk for mode, chunk in out if mode == "values"]
        if not chunks:
            return None
        # As LangGraph's: each task that paused streams a values chunk of its own
        # interrupts, and the state its finished siblings left comes last.
        asked = [i for chunk in chunks for i in chunk.get("__interrupt__", [])]
        return {k: v for k, v in chunks[-1].items() if k != "__interrupt__"}, asked
    state = {k: v for k, v in out.items() if k != "__interrupt__"}
    return state, out.get("__interrupt__", [])


def streamed_checkpoints(out: Any) -> list[dict[str, Any]]:
    if isinstance(out, dict) and "result" in out:  # a replay
        out = out["result"]
    if not isinstance(out, list):
        return []
    return [chunk for mode, chunk in out if mode == "checkpoints"]


def assert_one_tree(label: str, dump: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    """The thread's checkpoints form one tree from its first one, every parent
    older than its children, the head is the newest, and get_state at each
    checkpoint shows what get_state_history lists; the checkpoints by id."""
    assert "error" not in dump, f"{label}: reading the thread failed: {dump['error']}"
    history = dump["history"]
    by_id = {cid(s["config"]): s for s in history}
    assert len(by_id) == len(history), f"{label}: a checkpoint is listed twice"
    keep = (*FIXED, "tasks", "interrupts")  # values and next: see assert_same_as_reference
    for got, listed in zip(dump["at"], history, strict=True):
        assert {k: got[k] for k in keep} == {k: listed[k] for k in keep}, (
            f"{label}: get_state({cid(listed['config'])}) differs from get_state_history"
        )
    if not history:
        return by_id
    assert cid(dump["head"]["config"]) == cid(history[0]["config"]), f"{label}: head is not newest"
    roots = [s for s in history if s["parent_config"] is None]
    assert roots == [history[-1]], f"{label}: the thread is not one tree from its first checkpoint"
    age = {key: i for i, key in enumerate(by_id)}  # 0 for the newest
    for s in history[:-1]:
        parent = cid(s["parent_config"])
        assert parent in by_id, f"{label}: the parent of {cid(s['config'])} is missing"
        assert age[parent] > age[cid(s["config"])], f"{label}: a parent is newer than its child"
    return by_id


def assert_record_reads_back(
    where: str, record: dict[str, Any], dump: dict[str, Any], by_id: dict[str | None, dict[str, Any]]
) -> None:
    """What one operation returned, streamed and then read as the head is what
    the last process reads of the same checkpoints."""
    head, out = record["head"], record["out"]
    assert "error" not in head, f"{where}: get_state right after it failed: {head}"
    if cid(head["config"]) is None:
        assert head["metadata"] is None, f"{where}: {head}"  # the thread had no checkpoint yet
    else:
        assert cid(head["config"]) in by_id, f"{where}: its head was not stored"
        stored = by_id[cid(head["config"])]
        assert {k: head[k] for k in FIXED} == {k: stored[k] for k in FIXED}, where
    if record["op"]["op"] == "update" and "configurable" in out:
        assert cid(out) == cid(head["config"]), f"{where}: update_state's checkpoint is not the head"
        assert by_id[cid(out)]["metadata"]["source"] == "update", where
    if "fork" in out:
        assert by_id[cid(out["fork"])]["metadata"]["source"] == "update", where
    for chunk in streamed_checkpoints(out):
        stored = by_id[cid(chunk["config"])]
        assert chunk["values"] == stored["values"], where
        assert chunk["parent_config"] == stored["parent_config"], where
        assert chunk["metadata"].items() <= stored["metadata"].items(), where
        tasks = [(t["id"], t["name"]) for t in stored["tasks"]]
        assert [(t["id"], t["name"]) for t in chunk["tasks"]] == tasks, where
        # Read later, a task that finished in a step that then stopped (at an
        # interrupt) is no longer listed as next.
        done = {t["name"] for t in stored["tasks"] if t["result"] is not None}
        due_then, due_now = ([n for n in s["next"] if n not in done] for s in (chunk, stored))
        assert due_then == due_now, where
        assert set(stored["next"]) <= set(chunk["next"]), where
    returned = returned_state(record)
    if returned is not None:
        shown = head
        if "from" in out and not by_id[cid(out["from"])]["next"]:
            # A replay of a checkpoint with nothing to run returns its state and stores nothing.
            shown = dump["at"][list(by_id).index(cid(out["from"]))]
        assert returned[0] == shown["values"], f"{where}: returned a state get_state does not show"
        asked = sorted(returned[1], key=lambda i: i["id"])  # a stream's come in the order tasks paused
        assert asked == sorted(shown["interrupts"], key=lambda i: i["id"]), f"{where}: returned interrupts not shown"


def assert_reads_back_as_returned(label: str, transcript: dict[str, Any]) -> None:
    """On the real checkpoint ids: the thread is one tree, and every checkpoint
    a call returned, streamed or showed as the head reads back in the last
    process as it was then; a call's returned state and interrupts are what
    get_state showed right after it."""
    by_id = assert_one_tree(label, transcript["dump"])
    for b, batch in enumerate(transcript["batches"]):
        for k, record in enumerate(batch):
            where = f"{label}: batch {b}, operation {k} {record['op']}"
            assert_record_reads_back(where, record, transcript["dump"], by_id)


def coverage(kind: str, references: list[dict[str, Any]]) -> set[str]:
    """What the sequences did, as the reference ran them ("first write": the
    first operation of a process, which on "memory" runs a whole sequence)."""
    seen: set[str] = set()
    for reference in references:
        for b, batch in enumerate(reference["batches"]):
            for k, record in enumerate(batch):
                op, out = record["op"], record["out"]
                if isinstance(out, dict) and ("error" in out or "skipped" in out):
                    continue
                name = op["op"]
                if name == "update":
                    name += " as_node" if op["as_node"] else " without as_node"
                    if k == 0 and (b == 0 or kind != "memory"):
                        seen.add(f"first write {name}")
                    if op["at"] is not None:
                        name += " on an older checkpoint"
                returned = returned_state(record)
                if name == "replay" and returned is not None and returned[1]:
                    seen.add("replay that stops at an interrupt")
                if name == "resume" and k == 0 and kind != "memory":
                    seen.add("resume in a new process")
                seen.add(name)
    return seen


REQUIRED = {
    "invoke",
    "stream",
    "resume",
    "replay",
    "replay that stops at an interrupt",
    "fork",
    "update as_node",
    "update without as_node",
    "update as_node on an older checkpoint",
    "update without as_node on an older checkpoint",
    "first write update as_node",
    "first write update without as_node",
}
"""What the random sequences must have done (successfully) in the reference."""
CROSSING = {"resume in a new process"}
"""Also required where the batches of a sequence run in processes of their own."""


@pytest.mark.parametrize("kind", KINDS)
def test_random_writes_from_several_processes_read_back_as_in_one_process(
    kind: str, tmp_path: Path
) -> None:
    """Seeded random sequences of invoke, stream, update_state (with and
    without as_node, on the head or an older checkpoint), Command(resume=...),
    replay and fork, each batch of a sequence written by a new process (on
    "memory": each sequence by one new process), read back in another process
    as each call returned it and as the same sequence gives in this process on
    an InMemorySaver."""
    sequences = [random_batches(seed) for seed in range(SEQUENCES)]
    references = [
        run_job(InMemorySaver(), {"thread": f"seq-{i}", "batches": b, "read": True})
        for i, b in enumerate(sequences)
    ]
    for seed, reference in enumerate(references):  # the checks hold for the reference itself
        assert_reads_back_as_returned(f"seed {seed}, the in-memory reference in this process", reference)
    required = REQUIRED | (CROSSING if kind != "memory" else set())
    missing = required - coverage(kind, references)
    assert not missing, f"the random sequences never did: {sorted(missing)}"
    with store(kind, tmp_path) as target:
        transcripts = run_sequences(kind, target, sequences)
    for seed, (real, reference) in enumerate(zip(transcripts, references)):
        where = "in one new process" if kind == "memory" else "over several processes"
        label = f"seed {seed}, {kind} {where}"
        assert_reads_back_as_returned(label, real)
        assert_same_as_reference(label, real, reference)
