"""Starting ``cairn serve`` as a subprocess on a free port of 127.0.0.1, in a
folder of its own holding a langgraph.json and the graphs of server_app.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

GRAPHS = {
    "agent": "./server_app.py:agent",
    "steps": "./server_app.py:steps",
    "boom": "./server_app.py:boom",
    "chat": "./server_app.py:chat",
    "nested": "./server_app.py:nested",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(folder: Path, graphs: dict[str, str] | None = None) -> Path:
    """``folder`` with server_app.py and a langgraph.json serving ``graphs``; the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "server_app.py", folder / "server_app.py")
    config = {
        "dependencies": ["."],
        "graphs": graphs or GRAPHS,
        "env": {"CAIRN_TEST_COUNTS": str(folder / "counts.log")},
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@dataclass
class ServerProcess:
    """A running ``cairn serve``."""

    process: subprocess.Popen[bytes]
    url: str
    folder: Path
    log: Path

    def counts(self) -> list[str]:
        """The node executions logged by the "steps" graph, in order."""
        file = self.folder / "counts.log"
        return file.read_text().split() if file.exists() else []

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    folder: Path, *extra: str, port: int | None = None, env: dict[str, str] | None = None,
    db: str | None = "cairn.db",
) -> ServerProcess:
    """``cairn serve`` on ``folder``'s langgraph.json and its database ``db``
    (None: none given, so $DATABASE_URI); returns once /ok answers."""
    port = port or free_port()
    log = folder / f"server-{port}-{time.monotonic_ns()}.log"
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    command = [
        sys.executable, "-m", "cairn.cli", "serve", "--config", str(folder / "langgraph.json"),
        "--port", str(port), *(["--db", str(folder / db)] if db else []), *extra,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=environment)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", folder, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cairn serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/ok", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"cairn serve did not answer /ok within 30 s:\n{log.read_text()}")


@contextmanager
def serving(folder: Path, *extra: str) -> Iterator[ServerProcess]:
    """``cairn serve`` on a new project in ``folder`` (``make_project``), stopped on exit."""
    make_project(folder)
    running = start_server(folder, *extra)
    try:
        yield running
    finally:
        running.stop()


def wait_for(predicate: Any, timeout: float = 10.0, every: float = 0.02) -> Any:
    """The first true value of ``predicate()``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still false after {timeout} s: {predicate}")


def start_worker(folder: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``cairn worker`` on ``folder``'s langgraph.json (its database from ``env``'s DATABASE_URI)."""
    log = folder / f"worker-{time.monotonic_ns()}.log"
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    command = [sys.executable, "-m", "cairn.cli", "worker", "--config", str(folder / "langgraph.json"), *extra]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=environment)
