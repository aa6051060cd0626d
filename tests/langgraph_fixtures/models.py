"""The application both LangGraph (make.py) and cairn (the tests) run: its
value classes, and the graph built from whichever library is passed in, so
that the two build the very same graph from the same code."""


import dataclasses
import datetime as dt
import decimal
import enum
import operator
import uuid
from typing import Annotated, Any, Callable, TypedDict

from pydantic import BaseModel


class Mood(enum.Enum):
    CALM = "calm"
    BUSY = "busy"


@dataclasses.dataclass
class Note:
    text: str
    at: dt.datetime
    ref: uuid.UUID
    mood: Mood


class Profile(BaseModel):
    name: str
    tags: list[str]


def build(StateGraph: Any, START: str, END: str, add_messages: Callable[..., Any],
          interrupt: Callable[[Any], Any], AIMessage: type) -> Any:
    """The graph: first -> ask (pauses when ``ask`` is set) -> END, with a
    reducer list, messages, and values of the classes above."""

    class State(TypedDict, total=False):
        items: Annotated[list[str], operator.add]
        messages: Annotated[list[Any], add_messages]
        note: Note
        profile: Profile
        extras: dict[str, Any]
        ask: bool
        answer: str

    def first(state: State) -> dict[str, Any]:
        return {
            "items": ["first"],
            "messages": [AIMessage(content="hello from first", id="ai-1")],
            "note": Note("n", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                         uuid.UUID("12345678-1234-5678-1234-567812345678"), Mood.BUSY),
            "profile": Profile(name="ada", tags=["x", "y"]),
            "extras": {"when": dt.date(2026, 1, 2), "price": decimal.Decimal("1.50"),
                       "tags": {"b", "a"}, "wait": dt.timedelta(seconds=90)},
        }

    def ask(state: State) -> dict[str, Any]:
        if state.get("ask"):
            answer = interrupt("what next?")
            return {"items": ["asked"], "answer": str(answer)}
        return {"items": ["ask"]}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("ask", ask)
    builder.add_edge(START, "first")
    builder.add_edge("first", "ask")
    builder.add_edge("ask", END)
    return builder


def plain(value: Any) -> Any:
    """A value as JSON data that LangGraph's and cairn's states compare by."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"enum": type(value).__name__, "value": value.value}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(plain(v) for v in value)}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return {type(value).__name__: value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"timedelta": value.total_seconds()}
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return {type(value).__name__: str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"class": type(value).__name__,
                **{f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if hasattr(value, "type") and hasattr(value, "content"):  # a LangChain message
        return {"message": value.type, "content": value.content, "id": value.id}
    if hasattr(value, "model_dump"):
        return {"class": type(value).__name__, **plain(value.model_dump())}
    return {"repr": repr(value)}


def history(graph: Any, thread_id: str) -> list[dict[str, Any]]:
    """What ``get_state_history`` shows of a thread, newest first, as data."""
    shown = []
    for snap in graph.get_state_history({"configurable": {"thread_id": thread_id}}):
        parent = snap.parent_config["configurable"]["checkpoint_id"] if snap.parent_config else None
        shown.append({
            "checkpoint_id": snap.config["configurable"]["checkpoint_id"],
            "parent_id": parent,
            "step": snap.metadata.get("step"),
            "source": snap.metadata.get("source"),
            "values": plain(snap.values),
            "next": list(snap.next),
            "interrupts": [plain(i.value) for i in snap.interrupts],
            "tasks": [[t.name, plain(t.result)] for t in snap.tasks],
        })
    return shown


def build_nested(StateGraph: Any, START: str, END: str, interrupt: Callable[[Any], Any]) -> Any:
    """A graph whose node ``inner`` is a subgraph that pauses in ``sub_ask``."""

    class Inner(TypedDict, total=False):
        items: Annotated[list[str], operator.add]
        answer: str

    def sub_a(state: Inner) -> dict[str, Any]:
        return {"items": ["sub_a"]}

    def sub_ask(state: Inner) -> dict[str, Any]:
        return {"items": ["sub_ask"], "answer": str(interrupt("inner question"))}

    sub = StateGraph(Inner)
    sub.add_node("sub_a", sub_a)
    sub.add_node("sub_ask", sub_ask)
    sub.add_edge(START, "sub_a")
    sub.add_edge("sub_a", "sub_ask")
    sub.add_edge("sub_ask", END)

    builder = StateGraph(Inner)
    builder.add_node("inner", sub.compile())
    builder.add_edge(START, "inner")
    builder.add_edge("inner", END)
    return builder


def nested_view(graph: Any, thread_id: str) -> dict[str, Any]:
    """The parent's history and the paused subgraph's state, as data."""
    config = {"configurable": {"thread_id": thread_id}}
    head = graph.get_state(config, subgraphs=True)
    inner = head.tasks[0].state if head.tasks else None
    return {
        "history": history(graph, thread_id),
        "inner_values": plain(inner.values) if inner is not None else None,
        "inner_next": list(inner.next) if inner is not None else None,
        "interrupts": [plain(i.value) for i in head.interrupts],
    }


def build_fanout(StateGraph: Any, START: str, END: str, Send: Any) -> Any:
    """A graph whose start fans out to ``work`` with a Send per letter."""

    class Fan(TypedDict, total=False):
        items: Annotated[list[str], operator.add]
        letters: list[str]

    def work(arg: dict[str, Any]) -> dict[str, Any]:
        return {"items": [f"worked {arg['letter']}"]}

    def fan(state: Fan) -> list[Any]:
        return [Send("work", {"letter": letter}) for letter in state["letters"]]

    builder = StateGraph(Fan)
    builder.add_node("work", work)
    builder.add_conditional_edges(START, fan, ["work"])
    builder.add_edge("work", END)
    return builder
