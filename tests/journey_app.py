"""The application of tests/test_journeys.py: a user's own module, imported
by its top-level name ``journey_app`` in every process (the test's children
and ``cairn --graph .../journey_app.py:graph`` alike), so its classes are
stored as ``journey_app:Class`` whoever writes them. It imports only cairn,
the standard library and pydantic.

A child runs one step of a journey and prints one line of JSON::

    python -c "import journey_app; journey_app.main()" COMMAND KIND TARGET THREAD [JSON]

KIND is "sqlite" (TARGET: the file) or "postgres" (TARGET: the URL); a saver
made there encrypts when ``CAIRN_ENCRYPTION_KEY`` is set. Commands (see
``COMMANDS``) print ``{"cairn": <the cairn package file>, ...}`` with what
the call returned, or ``{"error": class, "message": text}`` (exit code 3)
when it raised a CairnError. ``... main()" session KIND TARGET`` stays up
and answers requests read from stdin (see ``session``).

The graph: draft -> approve -> pay. ``draft`` makes a Quote (a pydantic
model) with a Priority (an enum), an Approver (a dataclass) and a due date
(a datetime); ``approve`` pauses in ``interrupt()`` for the decision;
``pay`` logs the payment and, while the file ``<EFFECTS>.hold`` exists,
waits (a test SIGKILLs it there). Every node run appends the node's name to
the file ``EFFECTS`` (``JOURNEY_EFFECTS``), one ``os.write`` per line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import json
import operator
import os
import sys
import time
from typing import Annotated, Any, Callable, TypedDict

import pydantic

import cairn
from cairn.errors import CairnError
from cairn.graph import END, START, StateGraph
from cairn.types import Command, Interrupt, interrupt


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass
class Approver:
    name: str
    level: int


class Quote(pydantic.BaseModel):
    vendor: str
    amount: int
    priority: Priority


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    amount: int
    quote: Quote
    approver: Approver
    due: dt.datetime
    decision: str


DUE = dt.datetime(2026, 12, 24, 9, 30, tzinfo=dt.timezone.utc)


def effects_file() -> str:
    return os.environ.get("JOURNEY_EFFECTS", os.devnull)


def record(name: str) -> None:
    fd = os.open(effects_file(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (name + "\n").encode())
    finally:
        os.close(fd)


def draft(state: State) -> dict[str, Any]:
    record("draft")
    amount = state.get("amount", 0)
    priority = Priority.HIGH if amount >= 1000 else Priority.LOW
    return {
        "log": ["draft"],
        "quote": Quote(vendor="acme", amount=amount, priority=priority),
        "approver": Approver("ada", 2),
        "due": DUE,
    }


def approve(state: State) -> dict[str, Any]:
    record("approve")
    decision = interrupt({"question": "approve?", "amount": state.get("amount", 0)})
    return {"log": [f"approve:{decision}"], "decision": decision}


def pay(state: State) -> dict[str, Any]:
    record("pay:entered")
    hold = effects_file() + ".hold"
    deadline = time.monotonic() + 60
    while os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.01)
    record("pay")
    return {"log": [f"paid:{state.get('amount', 0)}:{state.get('decision', '')}"]}


builder = StateGraph(State)
builder.add_node("draft", draft).add_node("approve", approve).add_node("pay", pay)
builder.add_edge(START, "draft").add_edge("draft", "approve").add_edge("approve", "pay")
builder.add_edge("pay", END)
graph = builder.compile(name="journey")
"""What ``cairn --graph journey_app.py:graph`` loads."""


# --- the child's steps -------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON, each typed value tagged with its class, so a test
    sees which class came back: ``{"Quote": {...}}``, ``{"Priority": "HIGH"}``."""
    if isinstance(value, Interrupt):
        return {"interrupt": plain(value.value), "id": value.id}
    if isinstance(value, enum.Enum):
        return {type(value).__name__: value.name}
    if isinstance(value, pydantic.BaseModel):
        return {type(value).__name__: plain(dict(value))}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {type(value).__name__: plain(dataclasses.asdict(value))}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # StateSnapshot, PregelTask
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"unexpected": repr(value)}


def config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def open_saver(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from cairn.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    from cairn.checkpoint.postgres import PostgresSaver

    return PostgresSaver(target, pool_size=2)


def history(app: Any, thread_id: str) -> list[dict[str, Any]]:
    return [
        {
            "checkpoint_id": s.config["configurable"]["checkpoint_id"],
            "parent_id": s.parent_config and s.parent_config["configurable"]["checkpoint_id"],
            "step": s.metadata["step"],
            "source": s.metadata["source"],
            "next": list(s.next),
            "values": plain(s.values),
        }
        for s in app.get_state_history(config(thread_id))
    ]


def start(app: Any, thread_id: str, arg: Any) -> Any:
    return app.invoke({"log": [], "amount": arg}, config(thread_id))


def resume(app: Any, thread_id: str, arg: Any) -> Any:
    return app.invoke(Command(resume=arg), config(thread_id))


def run_through(app: Any, thread_id: str, arg: Any) -> Any:
    """Start with amount ``arg``, answer "yes": the result and the history."""
    start(app, thread_id, arg)
    return {"result": resume(app, thread_id, "yes"), "history": history(app, thread_id)}


def go_on(app: Any, thread_id: str, arg: Any) -> Any:
    """invoke(None, ...) on the thread, or on the checkpoint ``arg`` names."""
    return app.invoke(None, config(thread_id, arg))


def read(app: Any, thread_id: str, arg: Any) -> Any:
    return {"state": app.get_state(config(thread_id)), "history": history(app, thread_id)}


def write_many(app: Any, thread_id: str, arg: Any) -> Any:
    """Threads THREAD-0, THREAD-1, ... each to the interrupt and resumed,
    until the file ``arg`` exists; how many were finished."""
    done = 0
    while not os.path.exists(arg):
        name = f"{thread_id}-{done}"
        app.invoke({"log": [], "amount": done}, config(name))
        app.invoke(Command(resume="yes"), config(name))
        done += 1
        record(f"finished {name}")
        time.sleep(0.02)  # a few dozen threads while a test looks, not thousands
    return {"finished": done}


def write_loop(app: Any, thread_id: str, arg: Any) -> Any:
    """Runs on THREAD, each to the interrupt and resumed, until the file
    ``arg`` exists; how many were finished."""
    done = 0
    while not os.path.exists(arg):
        app.invoke({"log": [], "amount": done}, config(thread_id))
        app.invoke(Command(resume="yes"), config(thread_id))
        done += 1
        record(f"finished {thread_id} {done}")
    return {"finished": done}


def read_many(app: Any, thread_id: str, arg: Any) -> Any:
    """The history of each thread ``arg`` names (THREAD is ignored)."""
    return {name: history(app, name) for name in arg}


async def _async_steps(kind: str, target: str, thread_id: str, arg: Any) -> Any:
    """With the async saver: start the thread, resume it with ``arg``, read it."""
    if kind == "sqlite":
        from cairn.checkpoint.sqlite.aio import AsyncSqliteSaver

        opened: Any = AsyncSqliteSaver.from_conn_string(target)
    else:
        from cairn.checkpoint.postgres.aio import AsyncPostgresSaver

        opened = AsyncPostgresSaver.from_conn_string(target)
    async with opened as saver:
        app = builder.compile(checkpointer=saver)
        first = await app.ainvoke({"log": [], "amount": 7}, config(thread_id))
        if arg is not None:
            await app.ainvoke(Command(resume=arg), config(thread_id))
        state = await app.aget_state(config(thread_id))
        steps = [s.metadata["step"] async for s in app.aget_state_history(config(thread_id))]
        return {"first": first, "state": state, "steps": steps}


def store_put(kind: str, target: str, _: str, arg: Any) -> Any:
    with _store(kind, target) as store:
        for namespace, key, value in arg:
            store.put(tuple(namespace.split("/")), key, value)
        return {"put": len(arg)}


def store_search(kind: str, target: str, namespace: str, arg: Any) -> Any:
    with _store(kind, target) as store:
        found = store.search(tuple(namespace.split("/")), filter=arg, limit=50)
        return [{"key": item.key, "value": item.value, "namespace": list(item.namespace)} for item in found]


def _store(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from cairn.store.sqlite import SqliteStore

        return SqliteStore.from_conn_string(target)
    from cairn.store.postgres import PostgresStore

    return PostgresStore.from_conn_string(target)


GRAPH_COMMANDS: dict[str, Callable[[Any, str, Any], Any]] = {
    "start": start,  # arg: the amount; runs to the interrupt
    "resume": resume,  # arg: the answer
    "run-through": run_through,  # arg: the amount; starts and answers "yes"
    "continue": go_on,  # arg: a checkpoint id or null
    "read": read,
    "write-many": write_many,  # arg: the stop file
    "read-many": read_many,  # arg: the thread ids
    "write-loop": write_loop,  # arg: the stop file
}
OTHER_COMMANDS: dict[str, Callable[[str, str, str, Any], Any]] = {
    "async": lambda kind, target, thread_id, arg: asyncio.run(_async_steps(kind, target, thread_id, arg)),
    "store-put": store_put,  # THREAD ignored; arg: [["a/b", key, value], ...]
    "store-search": store_search,  # THREAD: the namespace prefix; arg: the filter
}


def session(kind: str, target: str) -> None:
    """A long-lived process (a server's, a notebook's): one saver and one
    compiled graph for every request. Reads ``[COMMAND, THREAD, ARG]`` lines
    from stdin and answers each with one line as ``main`` prints it."""
    saver = open_saver(kind, target)
    app = builder.compile(checkpointer=saver)
    print(json.dumps({"cairn": cairn.__file__, "out": "ready"}), flush=True)
    for line in sys.stdin:
        command, thread_id, arg = json.loads(line)
        try:
            answer = {"out": plain(GRAPH_COMMANDS[command](app, thread_id, arg))}
        except CairnError as exc:
            answer = {"error": type(exc).__name__, "message": str(exc)}
        print(json.dumps({"cairn": cairn.__file__, **answer}), flush=True)
    saver.close()


def main() -> None:
    if sys.argv[1] == "session":
        return session(*sys.argv[2:4])
    command, kind, target, thread_id, *rest = sys.argv[1:]
    arg = json.loads(rest[0]) if rest else None
    try:
        if command in OTHER_COMMANDS:
            out = OTHER_COMMANDS[command](kind, target, thread_id, arg)
        else:
            saver = open_saver(kind, target)
            try:
                out = GRAPH_COMMANDS[command](builder.compile(checkpointer=saver), thread_id, arg)
            finally:
                saver.close()
    except CairnError as exc:
        print(json.dumps({"cairn": cairn.__file__, "error": type(exc).__name__, "message": str(exc)}))
        raise SystemExit(3)
    print(json.dumps({"cairn": cairn.__file__, "out": plain(out)}), flush=True)
