"""A run given a ``cancel`` event stops between two steps once it is set
(cairn's own: the server's cancel uses it): the step running then commits,
``RunCancelledError`` is raised, and ``invoke(None, config)`` goes on."""

from __future__ import annotations

import asyncio
import operator
import threading
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import CairnError, RunCancelledError
from cairn.graph import END, START, StateGraph
from tests.support import thread

NAMES = ["a", "b", "c", "d"]


class S(TypedDict):
    log: Annotated[list, operator.add]


def chain(saver: Any, runs: list[str], on_b: Any) -> Any:
    """a -> b -> c -> d; b calls ``on_b`` (which sets the cancel event)."""

    def make(name: str) -> Any:
        def node(state: S) -> dict[str, Any]:
            runs.append(name)
            if name == "b":
                on_b()
            return {"log": [name]}

        return node

    builder = StateGraph(S)
    previous = START
    for name in NAMES:
        builder.add_node(name, make(name)).add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=saver)


def test_a_set_event_stops_the_run_after_the_running_step_and_invoke_none_goes_on(saver: Any) -> None:
    cancel = threading.Event()
    runs: list[str] = []
    graph = chain(saver, runs, cancel.set)

    with pytest.raises(RunCancelledError, match="'t'") as caught:
        graph.invoke({"log": []}, thread("t"), cancel=cancel)

    assert isinstance(caught.value, CairnError)
    snapshot = graph.get_state(thread("t"))
    assert snapshot.values == {"log": ["a", "b"]}
    assert snapshot.next == ("c",)
    assert graph.invoke(None, thread("t")) == {"log": NAMES}
    assert runs == NAMES  # nothing ran twice


def test_an_event_set_from_another_thread_while_a_node_runs(saver: Any) -> None:
    cancel = threading.Event()
    running = threading.Event()
    graph = chain(saver, [], lambda: (running.set(), cancel.wait(10)))
    setter = threading.Thread(target=lambda: (running.wait(10), cancel.set()))
    setter.start()
    with pytest.raises(RunCancelledError):
        graph.invoke({"log": []}, thread("t"), cancel=cancel)
    setter.join()
    assert graph.get_state(thread("t")).values == {"log": ["a", "b"]}


def test_a_stream_yields_the_steps_before_the_cancel_then_raises(saver: Any) -> None:
    cancel = threading.Event()
    graph = chain(saver, [], cancel.set)
    seen = []
    with pytest.raises(RunCancelledError):
        for chunk in graph.stream({"log": []}, thread("t"), cancel=cancel):
            seen.append(chunk)
    assert seen == [{"a": {"log": ["a"]}}, {"b": {"log": ["b"]}}]


def test_ainvoke_and_astream_stop_on_an_asyncio_event(saver: Any) -> None:
    async def main() -> None:
        cancel = asyncio.Event()
        graph = chain(saver, [], cancel.set)
        with pytest.raises(RunCancelledError):
            await graph.ainvoke({"log": []}, thread("t"), cancel=cancel)
        assert (await graph.aget_state(thread("t"))).values == {"log": ["a", "b"]}
        chunks = []
        with pytest.raises(RunCancelledError):
            async for chunk in graph.astream({"log": []}, thread("u"), cancel=cancel):
                chunks.append(chunk)
        assert chunks == []  # already set: not one step runs
        assert await graph.ainvoke(None, thread("t")) == {"log": NAMES}

    asyncio.run(main())


def test_a_run_without_a_checkpointer_stops_too() -> None:
    cancel = threading.Event()
    graph = chain(None, [], cancel.set)
    with pytest.raises(RunCancelledError):
        graph.invoke({"log": []}, cancel=cancel)
    assert graph.invoke({"log": []}) == {"log": NAMES}
