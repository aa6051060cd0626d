"""Helpers and small graphs shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import operator
import os
import select
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, TypedDict

from cairn.graph import END, START, StateGraph

# --- configs and history -------------------------------------------------------


def thread(thread_id: str) -> dict[str, Any]:
    """The config naming a thread."""
    return {"configurable": {"thread_id": thread_id}}


def at(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    """The config naming one checkpoint of a thread."""
    return {"configurable": {"thread_id": thread_id, "checkpoint_id": checkpoint_id}}


def cid(config: dict[str, Any] | None) -> str | None:
    """The checkpoint id a config names (None for None)."""
    return None if config is None else config["configurable"]["checkpoint_id"]


def history(graph: Any, config: Any, **kwargs: Any) -> list[Any]:
    return list(graph.get_state_history(config, **kwargs))


def steps(snapshots: list[Any]) -> list[int]:
    return [s.metadata["step"] for s in snapshots]


def by_step(snapshots: list[Any], step: int) -> Any:
    """The only snapshot of ``snapshots`` at ``step``."""
    found = [s for s in snapshots if s.metadata["step"] == step]
    assert len(found) == 1, f"expected one checkpoint at step {step}, got {len(found)}"
    return found[0]


def assert_canonical(config: Any, thread_id: str) -> None:
    """A config returned by cairn: exactly thread_id, checkpoint_ns "" and checkpoint_id."""
    assert set(config) == {"configurable"}
    conf = config["configurable"]
    assert set(conf) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
    assert conf["thread_id"] == thread_id
    assert conf["checkpoint_ns"] == ""
    assert isinstance(conf["checkpoint_id"], str) and conf["checkpoint_id"]


# --- a deterministic stand-in for the seeds' chat model ------------------------


@dataclass
class FakeMessage:
    content: str


class FakeLLM:
    """Answers ``llm.invoke(prompt).content`` like a chat model, deterministically.

    Every answer carries the call number, so a node that runs again gives a
    different answer from its first run and a test can tell them apart.
    ``prompts`` records every prompt received, in order.
    """

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def invoke(self, prompt: str) -> FakeMessage:
        self.prompts.append(prompt)
        return FakeMessage(f"[{len(self.prompts)}] reply to: {prompt}")

    def count(self, prefix: str) -> int:
        """How many prompts so far started with ``prefix``."""
        return sum(p.startswith(prefix) for p in self.prompts)


# --- seed 000's joke workflow, used by several feature modules -----------------


class JokeState(TypedDict):
    topic: str
    joke: str
    explanation: str


JOKE_PROMPT = "generate a joke on the topic"
EXPLAIN_PROMPT = "write an explanation for the joke"


def build_joke_workflow(llm: FakeLLM, checkpointer: Any) -> Any:
    """generate_joke -> generate_explanation, exactly as seed 000 builds it."""

    def generate_joke(state: JokeState) -> dict[str, Any]:
        prompt = f'{JOKE_PROMPT} {state["topic"]}'
        return {"joke": llm.invoke(prompt).content}

    def generate_explanation(state: JokeState) -> dict[str, Any]:
        prompt = f'{EXPLAIN_PROMPT} - {state["joke"]}'
        return {"explanation": llm.invoke(prompt).content}

    graph = StateGraph(JokeState)
    graph.add_node("generate_joke", generate_joke)
    graph.add_node("generate_explanation", generate_explanation)
    graph.add_edge(START, "generate_joke")
    graph.add_edge("generate_joke", "generate_explanation")
    graph.add_edge("generate_explanation", END)
    return graph.compile(checkpointer=checkpointer)


# --- small graphs the saver tests share ------------------------------------------------


class Log(TypedDict):
    log: Annotated[list, operator.add]


def linear(saver: Any, names: str = "abc", runs: list[str] | None = None) -> Any:
    """START -> a -> b -> c, each appending its name to ``log`` (and to ``runs``)."""

    def make(name: str) -> Any:
        def node(state: Log) -> dict[str, Any]:
            if runs is not None:
                runs.append(name)
            return {"log": [name]}

        return node

    builder = StateGraph(Log)
    previous = START
    for name in names:
        builder.add_node(name, make(name))
        builder.add_edge(previous, name)
        previous = name
    return builder.compile(checkpointer=saver)


def async_pair() -> StateGraph:
    """START -> first -> second, two async nodes appending their names to ``log``."""

    def make(name: str) -> Any:
        async def node(state: Log) -> dict[str, Any]:
            await asyncio.sleep(0.001)
            return {"log": [name]}

        return node

    builder = StateGraph(Log).add_node("first", make("first")).add_node("second", make("second"))
    return builder.add_edge(START, "first").add_edge("first", "second")


async def run_async(builder: StateGraph, saver: Any, thread_id: str) -> tuple[Any, Any, list[Any]]:
    """ainvoke on a fresh thread, then aget_state and aget_state_history of it."""
    graph = builder.compile(checkpointer=saver)
    result = await graph.ainvoke({"log": []}, thread(thread_id))
    snapshot = await graph.aget_state(thread(thread_id))
    past = [s async for s in graph.aget_state_history(thread(thread_id))]
    return result, snapshot, past


def wait_ready(child: "subprocess.Popen[str]") -> None:
    """Block until the child process printed "ready" (it has imported, opened
    its database and built its graph, and is about to run)."""
    assert child.stdout is not None
    readable, _, _ = select.select([child.stdout], [], [], 60)
    line = child.stdout.readline() if readable else ""
    if line.strip() != "ready":
        child.kill()
        _, err = child.communicate()
        raise AssertionError(f"the child did not get ready: {line!r}\n{err}")


def kill(child: "subprocess.Popen[str]") -> bool:
    """SIGKILL the child process; True if it was still running (False: it
    had finished, and did so without an error)."""
    os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    if child.returncode == -signal.SIGKILL:
        return True
    assert child.returncode == 0, f"the child failed before the kill:\n{out}\n{err}"
    return False


@contextmanager
def saver_on(db: str) -> Iterator[Any]:
    """A saver on ``db``: a PostgreSQL URL, or a SQLite file."""
    if db.startswith("postgresql://"):
        from cairn.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(db) as pg:
            yield pg
    else:
        from cairn.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(db) as saver:
            yield saver
