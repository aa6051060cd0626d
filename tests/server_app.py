"""The graphs the server tests serve (copied into each test server's folder
and named by its langgraph.json). Nodes of the "steps" graph log each
execution to the file $CAIRN_TEST_COUNTS, which langgraph.json's "env" sets."""

import operator
import os
import time
from typing import Annotated, TypedDict

from cairn.graph import END, START, StateGraph
from cairn.types import interrupt


class State(TypedDict, total=False):
    items: Annotated[list, operator.add]
    answer: str
    delay: float


def _log(name: str) -> None:
    with open(os.environ["CAIRN_TEST_COUNTS"], "a") as file:
        file.write(name + "\n")


def first(state: State) -> dict:
    return {"items": ["a"]}


def ask(state: State) -> dict:
    return {"items": ["b"], "answer": interrupt({"question": "ok?"}, response_schema={"type": "string"})}


def last(state: State) -> dict:
    return {"items": ["c"]}


agent_builder = StateGraph(State)
agent_builder.add_node("first", first)
agent_builder.add_node("ask", ask)
agent_builder.add_node("last", last)
agent_builder.add_edge(START, "first")
agent_builder.add_edge("first", "ask")
agent_builder.add_edge("ask", "last")
agent_builder.add_edge("last", END)
agent = agent_builder.compile()


def _step(name: str):
    def node(state: State) -> dict:
        _log(name)
        time.sleep(state.get("delay", 0))
        return {"items": [name]}

    return node


steps = StateGraph(State)  # a builder, not compiled: the server compiles it
previous = START
for name in ("s1", "s2", "s3", "s4"):
    steps.add_node(name, _step(name))
    steps.add_edge(previous, name)
    previous = name
steps.add_edge(previous, END)


def explode(state: State) -> dict:
    raise ValueError("kaput")


boom_builder = StateGraph(State)
boom_builder.add_node("explode", explode)
boom_builder.add_edge(START, "explode")
boom = boom_builder.compile()

not_a_graph = 42


def reply(state: dict) -> dict:
    from langchain_core.messages import AIMessage

    return {"messages": [AIMessage(content="hello " + state["messages"][-1].content, id="ai-1")]}


from cairn.graph import MessagesState  # noqa: E402

chat_builder = StateGraph(MessagesState)
chat_builder.add_node("reply", reply)
chat_builder.add_edge(START, "reply")
chat = chat_builder.compile()


def inner_step(state: State) -> dict:
    return {"items": ["inner"]}


inner_builder = StateGraph(State)
inner_builder.add_node("inner_step", inner_step)
inner_builder.add_edge(START, "inner_step")

nested_builder = StateGraph(State)
nested_builder.add_node("outer", first)
nested_builder.add_node("sub", inner_builder.compile())
nested_builder.add_edge(START, "outer")
nested_builder.add_edge("outer", "sub")
nested = nested_builder.compile()


class Seen(TypedDict, total=False):
    seen: dict


def report(state: Seen, config: dict) -> dict:
    """What the run was given: its configurable's plain values, its context, its recursion limit."""
    from cairn.runtime import get_runtime

    configurable = config.get("configurable") or {}
    plain = {k: v for k, v in configurable.items() if not k.startswith("__") and isinstance(v, (str, int, float))}
    context = get_runtime().context
    return {"seen": {
        "configurable": plain,
        "context": dict(context) if isinstance(context, dict) else context,
        "recursion_limit": config.get("recursion_limit"),
    }}


configured_builder = StateGraph(Seen)
configured_builder.add_node("report", report)
configured_builder.add_edge(START, "report")
configured = configured_builder.compile()
