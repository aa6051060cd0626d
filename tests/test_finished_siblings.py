"""A task that finished while its siblings still ran is not run again after
a SIGKILL (issue 19, item 4): each finished task's writes are stored as it
finishes, as pending writes of its step's checkpoint, so a process killed
before the step commits leaves only the unfinished tasks to run again.

Children run tests/fanout_child.py on a SQLite file or on PostgreSQL, through
invoke and through ainvoke; the effects file counts every node run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.crash_child import read_lines
from tests.fanout_child import NODES, STAGES, build_fanout_graph, open_saver
from tests.pg import fresh_schema
from tests.support import kill, thread, wait_ready

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("CAIRN_TORTURE_SEED", "20240611"))
NODE_SEED = 11


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "fanout.db")
        return
    with fresh_schema() as url:
        yield url


def start_child(db: str, thread_id: str, effects: Path, mode: str, driver: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fanout_child", db, thread_id, str(effects), str(NODE_SEED), mode, driver],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_ready(child)
    return child


def standing(db: str, thread_id: str, effects: Path) -> tuple[list[str], set[str]]:
    """What the thread holds: the nodes of its committed steps, and those
    whose result is stored as a pending write of the head."""
    with open_saver(db) as saver:
        snapshot = build_fanout_graph(saver, str(effects), NODE_SEED).get_state(thread(thread_id))
    if snapshot.metadata is None:
        return [], set()
    finished = {task.name for task in snapshot.tasks if task.result is not None}
    # The head's values show what its finished tasks wrote, as LangGraph's do.
    committed = [name for name in snapshot.values.get("log", []) if name not in finished]
    return committed, finished


def finish_here(db: str, thread_id: str, effects: Path, started: bool) -> dict[str, Any]:
    with open_saver(db) as saver:
        graph = build_fanout_graph(saver, str(effects), NODE_SEED)
        return graph.invoke(None if started else {"log": []}, thread(thread_id))  # type: ignore[no-any-return]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_sibling_that_finished_before_the_kill_does_not_run_again(
    db: str, driver: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    held = STAGES[1][2]  # s2c: waits while s2a and s2b finish
    Path(f"{effects}.hold").write_text(held)
    child = start_child(db, "t", effects, "start", driver)
    try:
        deadline = time.monotonic() + 60
        while standing(db, "t", effects)[1] != set(STAGES[1][:2]):
            assert time.monotonic() < deadline, f"s2a and s2b never showed as finished: {read_lines(str(effects))}"
            time.sleep(0.02)
    finally:
        assert kill(child), "the child finished although s2c was held"

    assert standing(db, "t", effects) == (STAGES[0], set(STAGES[1][:2]))
    Path(f"{effects}.hold").unlink()
    result = finish_here(db, "t", effects, started=True)

    assert result["log"] == NODES
    assert Counter(read_lines(str(effects))) == Counter(NODES)  # s2a and s2b ran once


def test_kills_at_random_moments_never_rerun_a_finished_task(db: str, tmp_path: Path) -> None:
    """Children killed at random moments: after each kill, every task whose
    step committed or whose result was stored never runs again, and the run
    finishes with each node's update applied once."""
    rng = random.Random(SEED)
    kills = with_finished_siblings = reruns = 0
    for round_no in range(8):
        thread_id = f"round-{round_no}"
        effects = tmp_path / f"effects-{round_no}.txt"
        started = False
        for attempt in range(2):
            child = start_child(db, thread_id, effects, "resume" if started else "start", "sync")
            time.sleep(rng.uniform(0.0, 0.15))
            kills += kill(child)
            committed, finished = standing(db, thread_id, effects)
            started = started or bool(committed or finished) or _has_checkpoint(db, thread_id, effects)
            with_finished_siblings += bool(finished)
            done = set(committed) | finished
            before = Counter(read_lines(str(effects)))
            if attempt == 1:
                result = finish_here(db, thread_id, effects, started)
                after = Counter(read_lines(str(effects)))
                reruns += sum(after[name] - before[name] for name in done)
                assert result["log"] == NODES
                assert all(after[name] >= 1 for name in NODES)
    print(f"\n{kills} kills, {with_finished_siblings} with finished siblings stored, {reruns} reruns")
    assert reruns == 0, f"{reruns} finished tasks ran again after a kill"
    assert with_finished_siblings >= 2, "no kill caught a step with finished siblings stored"
    assert kills >= 8, f"only {kills} of 16 kills landed mid-run"


def _has_checkpoint(db: str, thread_id: str, effects: Path) -> bool:
    with open_saver(db) as saver:
        return build_fanout_graph(saver, str(effects), NODE_SEED).get_state(thread(thread_id)).metadata is not None
