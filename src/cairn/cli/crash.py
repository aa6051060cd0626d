"""Day 1 of the demo: run the project in a child process and kill it mid-run.

The crash is real: the child runs the workflow on the database file and
reports each committed step to the parent as a JSON line on its stdout; once
the wanted steps are committed it stalls inside the next model call and says
so, and the parent sends it SIGKILL. Nothing in the child gets a chance to
clean up, exactly as with a power cut.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from cairn.cli.models import Model
from cairn.cli.project import build_project_graph, describe_writes, new_project
from cairn.cli.steps import StepEvent, follow
from cairn.cli.store import open_saver

# The child stalls for at most this long; the parent kills it within
# milliseconds, so the limit only matters if the parent died first.
STALL_SECONDS = 30.0


class CrashError(Exception):
    """Day 1 did not go as planned; the message says what the child did."""


class _StallingModel:
    """Passes prompts to ``inner`` until armed; then tells the parent it is
    mid-step and waits to be killed."""

    def __init__(self, inner: Model, out: TextIO) -> None:
        self.inner = inner
        self.name = inner.name
        self.out = out
        self.armed = False

    def complete(self, prompt: str) -> str:
        if self.armed:
            _send(self.out, json.dumps({"kind": "stalled"}))
            time.sleep(STALL_SECONDS)
            raise CrashError(f"day 1 was not killed within {STALL_SECONDS:.0f}s")
        return self.inner.complete(prompt)


def _send(out: TextIO, line: str) -> None:
    # Flushed at once: the parent acts on each line as it arrives.
    out.write(line + "\n")
    out.flush()


def day1_worker(db: Path, thread_id: str, model: Model, crash_after_step: int, out: TextIO) -> None:
    """The child's side: start the project on ``thread_id`` and stall in the
    step after ``crash_after_step``."""
    stalling = _StallingModel(model, out)
    with open_saver(db) as saver:
        graph = build_project_graph(stalling, saver)
        config = {"configurable": {"thread_id": thread_id}, "metadata": {"day": 1}}
        for event in follow(graph, new_project(), config, describe_writes):
            _send(out, event.to_json())
            stalling.armed = event.step >= crash_after_step
    _send(out, json.dumps({"kind": "finished"}))


def _parse(line: str) -> dict[str, object]:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict) or "kind" not in message:
        raise CrashError(f"day 1 printed something other than progress: {line.strip()!r}")
    return message


@dataclass(frozen=True)
class Day1Result:
    """The killed child's pid and the steps it committed before dying."""

    pid: int
    steps: tuple[StepEvent, ...]


def run_day1(
    db: Path,
    thread_id: str,
    model_option: str,
    crash_after_step: int,
    on_step: Callable[[StepEvent], None],
    timeout: float,
) -> Day1Result:
    """The parent's side: start the child, show its steps as they commit,
    and SIGKILL it once it is in the middle of the step after ``crash_after_step``."""
    command = [
        sys.executable, "-m", "cairn.cli", "demo",
        "--db", str(db), "--model", model_option,
        "--day1-worker", thread_id, "--crash-after-step", str(crash_after_step),
    ]  # fmt: skip
    # stderr goes to a file: a pipe nobody reads could fill and block the child.
    with tempfile.TemporaryFile(mode="w+") as errors:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        watchdog = threading.Timer(timeout, child.kill)
        watchdog.start()
        steps: list[StepEvent] = []
        killed = False
        try:
            assert child.stdout is not None
            for line in child.stdout:
                message = _parse(line)
                if message["kind"] == "step":
                    steps.append(StepEvent.from_json(message))
                    on_step(steps[-1])
                elif message["kind"] == "stalled":
                    child.kill()  # SIGKILL: no handler, no cleanup, no flush
                    killed = True
                    break
        except BaseException:
            # A garbled line, or Ctrl-C here: never leave the child running.
            child.kill()
            raise
        finally:
            watchdog.cancel()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
        if not killed:
            errors.seek(0)
            lines = [line for line in errors.read().splitlines() if line.strip()]
            why = lines[-1].removeprefix("Error: ") if lines else f"exit status {child.returncode}"
            if child.returncode == -getattr(signal, "SIGKILL", 9) and not lines:
                why = f"no progress within {timeout:.0f}s"
            raise CrashError(f"day 1 ended before it could be crashed: {why}")
    return Day1Result(child.pid, tuple(steps))
