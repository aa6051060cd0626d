"""Seed 000 in cairn: a two-node joke workflow, its history, replay and a fork.

Run it: ``python examples/joke_time_travel.py``. A deterministic stand-in
plays the language model, so the output is the same on every machine.
"""

from __future__ import annotations

from typing import TypedDict

from cairn.checkpoint.memory import InMemorySaver
from cairn.graph import END, START, StateGraph


class StandInModel:
    """Answers like a chat model would, from the prompt alone."""

    class Reply:
        def __init__(self, content: str) -> None:
            self.content = content

    def invoke(self, prompt: str) -> "StandInModel.Reply":
        if prompt.startswith("generate a joke on the topic "):
            topic = prompt.rsplit(" ", 1)[-1]
            return self.Reply(f"Why did the {topic} break up with the fork? It felt too picked on.")
        return self.Reply(f"The joke '{prompt.split(' - ', 1)[-1]}' plays on being 'picked on'.")


llm = StandInModel()


class JokeState(TypedDict):
    topic: str
    joke: str
    explanation: str


def generate_joke(state: JokeState):
    prompt = f'generate a joke on the topic {state["topic"]}'
    return {"joke": llm.invoke(prompt).content}


def generate_explanation(state: JokeState):
    prompt = f'write an explanation for the joke - {state["joke"]}'
    return {"explanation": llm.invoke(prompt).content}


graph = StateGraph(JokeState)
graph.add_node("generate_joke", generate_joke)
graph.add_node("generate_explanation", generate_explanation)
graph.add_edge(START, "generate_joke")
graph.add_edge("generate_joke", "generate_explanation")
graph.add_edge("generate_explanation", END)

workflow = graph.compile(checkpointer=InMemorySaver())


def show_history(config: dict) -> None:
    for snapshot in workflow.get_state_history(config):
        meta = snapshot.metadata or {}
        print(f"  step {meta['step']:>2}  {meta['source']:<6}  next={snapshot.next}  "
              f"topic={snapshot.values.get('topic')!r}")


def main() -> None:
    config = {"configurable": {"thread_id": "2"}}
    print("Run:", workflow.invoke({"topic": "pasta"}, config)["joke"])
    print("History (newest first):")
    show_history(config)

    history = list(workflow.get_state_history(config))
    after_joke = next(s for s in history if s.metadata["step"] == 1)
    print("\nReplay from step 1 (re-runs only generate_explanation):")
    print(" ", workflow.invoke(None, after_joke.config)["explanation"])

    before_joke = next(s for s in history if s.metadata["step"] == 0)
    fork = workflow.update_state(before_joke.config, {"topic": "samosa"})
    print("\nFork at step 0 with topic 'samosa':")
    print(" ", workflow.invoke(None, fork)["joke"])
    print("History now (both branches):")
    show_history(config)


if __name__ == "__main__":
    main()
