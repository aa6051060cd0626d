"""The application of tests/test_serde_symmetry.py, run in child processes
(tests/symmetry_child.py) so that one process stores and a fresh one, running
this same application, loads.

The builder of its graph is made when the module is imported, as an
application's usually is; a second graph (``build_other``) is built only on
demand. ``run`` is the children's command line:

    store KIND TARGET THREAD CASE
    load KIND TARGET THREAD [register-late]

where KIND is "sqlite" (TARGET: the file) or "postgres" (TARGET: the URL).
``store`` runs the graph on THREAD with input ``{"case": CASE}``: its node
``write`` returns ``CASES[CASE]()``. ``load`` reads the thread's state and
history; ``register-late`` first registers ``Late``. Each prints one line of JSON: ``{"ok": ..., "steps":
[...]}`` or ``{"error": class name, "message": ...}``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from typing import Any, Callable, Literal, Optional, TypedDict

from cairn.checkpoint.serde import register_type
from cairn.errors import CairnError
from cairn.graph import END, START, StateGraph


@dataclasses.dataclass
class Detail:
    """Reachable from the schema through a field of ``Card``."""

    text: Any


@dataclasses.dataclass
class Card:
    """Named by the schema."""

    title: str
    detail: Optional[Detail] = None


@dataclasses.dataclass
class Inside:
    """Reachable from the schema only through the TypedDict ``Boxed``."""

    text: str


class Boxed(TypedDict):
    inside: Inside


class Mood(enum.Enum):
    """Reachable from the schema only through a ``Literal`` of its members."""

    CALM = "calm"
    ANGRY = "angry"


@dataclasses.dataclass
class Tag:
    """Named by no schema; registered when the application is imported."""

    name: str


register_type(Tag)


@dataclasses.dataclass
class Loose:
    """Named by no schema, registered by nobody."""

    text: str


@dataclasses.dataclass
class Late:
    """Registered only while the application runs (by the node that stores one)."""

    text: str


@dataclasses.dataclass
class OtherOnly:
    """Named only by the schema of the other graph, compiled on demand with a
    saver of its own."""

    text: str


class State(TypedDict, total=False):
    case: str
    card: Optional[Card]
    box: Optional[Boxed]
    mood: Optional[Literal[Mood.CALM, Mood.ANGRY]]
    extra: Any


class OtherState(TypedDict):
    other: OtherOnly


def build_other() -> Any:
    from cairn.checkpoint.memory import InMemorySaver

    other = StateGraph(OtherState)
    other.add_node("keep", lambda state: {})
    other.add_edge(START, "keep")
    return other.compile(checkpointer=InMemorySaver())


def _late() -> dict[str, Any]:
    register_type(Late)
    return {"extra": Late("late")}


def _other() -> dict[str, Any]:
    build_other()
    return {"extra": OtherOnly("other")}


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "card": lambda: {"card": Card("c", Detail("d"))},
    "box": lambda: {"box": {"inside": Inside("i")}},
    "mood": lambda: {"mood": Mood.ANGRY},
    "tag": lambda: {"extra": Tag("t")},
    "loose": lambda: {"extra": Loose("loose")},
    "nested-loose": lambda: {"card": Card("c", Detail(Loose("deep")))},
    "late": _late,
    "other": _other,
}


def write(state: State) -> dict[str, Any]:
    return CASES[state["case"]]()


builder = StateGraph(State)
builder.add_node("write", write)
builder.add_edge(START, "write")
builder.add_edge("write", END)


def open_saver(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from cairn.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    if kind == "postgres":
        from cairn.checkpoint.postgres import PostgresSaver

        return PostgresSaver(target, pool_size=2)
    raise SystemExit(f"unknown saver kind {kind!r}")


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def run(command: str, kind: str, target: str, thread_id: str, *args: str) -> None:
    saver = open_saver(kind, target)
    config = {"configurable": {"thread_id": thread_id}}
    try:
        graph = builder.compile(checkpointer=saver)
        if command == "store":
            say(ok=repr(graph.invoke({"case": args[0]}, config)))
        else:
            if "register-late" in args:
                register_type(Late)
            values = graph.get_state(config).values
            steps = [s.metadata["step"] for s in graph.get_state_history(config)]
            say(ok=repr(values), steps=steps)
    except CairnError as exc:
        say(error=type(exc).__name__, message=str(exc))
    finally:
        saver.close()
