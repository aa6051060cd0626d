"""Helpers and small graphs shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

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
