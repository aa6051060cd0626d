"""The graph, the writing operations and the child-process entry point of
tests/test_cross_process.py.

The tests import ``build_graph`` and ``run_job`` from here, so a child and the
in-process reference run exactly the same code. A child is started from the
repository root as

    python -m tests.cross_child KIND TARGET

with KIND "memory" (TARGET ignored), "sqlite" (TARGET: the file) or
"postgres" (TARGET: the URL). It reads a job from stdin as JSON::

    {"thread": "t", "batches": [[op, ...], ...], "read": true}

runs every operation of every batch on one saver and one compiled graph, and
prints one JSON line: ``{"cairn": <the cairn package file it imported>,
"batches": [[record, ...], ...], "dump": <every checkpoint of the thread> or
null}``. An operation is a dict (``OPS`` lists the kinds); its record holds
the operation, what the call returned (or the error it raised, as
``{"error": class, "message": text}``) and ``get_state`` of the thread read
right after it. Values are made JSON-plain by ``plain``: tuples become lists,
an ``Interrupt`` becomes ``{"interrupt": value, "id": id}``.
"""

from __future__ import annotations

import json
import operator
import sys
from typing import Annotated, Any, Callable, TypedDict

import cairn
from cairn.graph import END, START, StateGraph
from cairn.types import Command, Interrupt, interrupt

NODES = ("a", "ask", "b", "c")
STREAM_MODES = ["values", "updates", "checkpoints"]


class CrossState(TypedDict):
    log: Annotated[list, operator.add]
    count: int
    answer: str


def build_graph(checkpointer: Any) -> Any:
    """START -> a; a routes to "ask" and "c" in parallel when ``count`` is odd
    after it, else to "b"; ask -> b; b and c end. ``a`` counts, ``ask``
    pauses on ``interrupt()`` and logs the answer, ``b`` logs the log's length
    (so what it writes depends on everything before it), ``c`` logs "c"."""

    def a(state: CrossState) -> dict[str, Any]:
        return {"log": ["a"], "count": state.get("count", 0) + 1}

    def route(state: CrossState) -> list[str]:
        return ["ask", "c"] if state.get("count", 0) % 2 else ["b"]

    def ask(state: CrossState) -> dict[str, Any]:
        answer = interrupt({"question": "ok?", "count": state.get("count", 0)})
        return {"log": [f"ask:{answer}"], "answer": answer}

    def b(state: CrossState) -> dict[str, Any]:
        return {"log": [f"b{len(state.get('log', []))}"]}

    def c(state: CrossState) -> dict[str, Any]:
        return {"log": ["c"]}

    builder = StateGraph(CrossState)
    for name, node in (("a", a), ("ask", ask), ("b", b), ("c", c)):
        builder.add_node(name, node)
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", route, ["ask", "c", "b"])
    builder.add_edge("ask", "b")
    builder.add_edge("b", END)
    builder.add_edge("c", END)
    return builder.compile(checkpointer=checkpointer, name="cross")


# --- JSON-plain values -------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON data: snapshots and tasks as dicts of their fields,
    an Interrupt as ``{"interrupt": value, "id": id}``, tuples as lists."""
    if isinstance(value, Interrupt):
        return {"interrupt": plain(value.value), "id": value.id}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # StateSnapshot, PregelTask
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"unexpected": repr(value)}


def failure(exc: Exception) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc)}


# --- operations ----------------------------------------------------------------------


def thread(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def checkpoint_configs(graph: Any, thread_id: str) -> list[dict[str, Any]]:
    """The configs of the thread's checkpoints, oldest first (the order they were made)."""
    return [s.config for s in graph.get_state_history(thread(thread_id))][::-1]


def pick(graph: Any, thread_id: str, index: int) -> dict[str, Any] | None:
    """The config of checkpoint ``index`` (modulo their number), oldest first."""
    configs = checkpoint_configs(graph, thread_id)
    return configs[index % len(configs)] if configs else None


def _run(graph: Any, value: Any, config: dict[str, Any], stream: bool) -> Any:
    if stream:
        return _in_a_fixed_order(list(graph.stream(value, config, stream_mode=STREAM_MODES)))
    return graph.invoke(value, config)


def _task_of(chunk: Any) -> str:
    """What an "updates" chunk is about, without ids: its node, or its interrupts' values."""
    update = chunk[1]
    return repr((list(update), [i.value for i in update.get("__interrupt__", ())]))


def _in_a_fixed_order(chunks: list[Any]) -> list[Any]:
    """The chunks, with each run of "updates" chunks sorted: parallel tasks'
    updates stream in the order the tasks finish, which varies between runs.
    A paused task's "values" chunk (with its ``__interrupt__``) follows its
    "updates" chunk, as LangGraph's, and moves with it."""
    fixed: list[Any] = []
    run: list[list[Any]] = []
    for chunk in [*chunks, None]:
        if chunk is not None and chunk[0] == "updates":
            run.append([chunk])
            continue
        if chunk is not None and run and chunk[0] == "values" and "__interrupt__" in chunk[1]:
            run[-1].append(chunk)
            continue
        fixed.extend(c for group in sorted(run, key=lambda g: _task_of(g[0])) for c in group)
        run = []
        if chunk is not None:
            fixed.append(chunk)
    return fixed


def _invoke(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    return _run(graph, op["input"], thread(thread_id), stream=False)


def _stream(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    return _run(graph, op["input"], thread(thread_id), stream=True)


def _resume(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    return _run(graph, Command(resume=op["answer"]), thread(thread_id), op.get("stream", False))


def _update(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    config = thread(thread_id) if op.get("at") is None else pick(graph, thread_id, op["at"])
    if config is None:
        return {"skipped": "the thread has no checkpoint"}
    return graph.update_state(config, op["values"], as_node=op.get("as_node"))


def _replay(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    config = pick(graph, thread_id, op["at"])
    if config is None:
        return {"skipped": "the thread has no checkpoint"}
    return {"from": config, "result": _run(graph, None, config, op.get("stream", False))}


def _fork(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    config = pick(graph, thread_id, op["at"])
    if config is None:
        return {"skipped": "the thread has no checkpoint"}
    fork = graph.update_state(config, op["values"], as_node=op.get("as_node"))
    return {"fork": fork, "result": graph.invoke(None, fork)}


def _read(graph: Any, thread_id: str, op: dict[str, Any]) -> Any:
    return {"history": len(checkpoint_configs(graph, thread_id))}


OPS: dict[str, Callable[[Any, str, dict[str, Any]], Any]] = {
    "invoke": _invoke,  # {"input": dict or None}
    "stream": _stream,  # {"input": dict or None}
    "resume": _resume,  # {"answer": str, "stream": bool}: Command(resume=answer) on the thread
    "update": _update,  # {"values": dict, "as_node": str or None, "at": index or None (the head)}
    # {"at": index, "stream": bool}: invoke (or stream) None from checkpoint ``at``
    # (oldest first, modulo their number); returns {"from": its config, "result": ...}
    "replay": _replay,
    # {"at": index, "values", "as_node"}: update_state on checkpoint ``at``, then
    # invoke(None, fork); returns {"fork": the new config, "result": ...}
    "fork": _fork,
    "read": _read,  # only get_state (as in every record) and the number of checkpoints
}


def run_op(graph: Any, thread_id: str, op: dict[str, Any]) -> dict[str, Any]:
    """One operation's record: the op, what it returned or raised, and the
    thread's state read right after it."""
    try:
        out = plain(OPS[op["op"]](graph, thread_id, op))
    except Exception as exc:  # recorded: the reference raises the same, or the test fails
        out = failure(exc)
    try:
        head = plain(graph.get_state(thread(thread_id)))
    except Exception as exc:
        head = failure(exc)
    return {"op": op, "out": out, "head": head}


def dump(graph: Any, thread_id: str) -> dict[str, Any]:
    """Every checkpoint of the thread as ``get_state_history`` gives it (newest
    first), each also as ``get_state`` of its config gives it, and the head."""
    try:
        history = list(graph.get_state_history(thread(thread_id)))
        return {
            "history": [plain(s) for s in history],
            "at": [plain(graph.get_state(s.config)) for s in history],
            "head": plain(graph.get_state(thread(thread_id))),
        }
    except Exception as exc:
        return {"error": failure(exc)}


def run_job(checkpointer: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Run a job (see the module docstring) on ``checkpointer``; its transcript."""
    graph = build_graph(checkpointer)
    thread_id = job["thread"]
    batches = [[run_op(graph, thread_id, op) for op in batch] for batch in job["batches"]]
    return {
        "cairn": cairn.__file__,
        "batches": batches,
        "dump": dump(graph, thread_id) if job.get("read") else None,
    }


def open_saver(kind: str, target: str) -> Any:
    if kind == "memory":
        from cairn.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if kind == "sqlite":
        from cairn.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(target)
    if kind == "postgres":
        from cairn.checkpoint.postgres import PostgresSaver

        return PostgresSaver(target, pool_size=2)
    raise SystemExit(f"unknown saver kind {kind!r}")


def main(kind: str, target: str) -> None:
    job = json.loads(sys.stdin.read())
    saver = open_saver(kind, target)
    try:
        transcript = run_job(saver, job)
    finally:
        close = getattr(saver, "close", None)
        if close is not None:
            close()
    sys.stdout.write(json.dumps(transcript) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
