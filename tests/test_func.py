"""The functional API (``cairn.func``), as LangGraph's: an ``@entrypoint``
runs as a graph of one node; ``@task`` calls run side by side and their
results are stored as soon as they finish, so a resumed run (after an
interrupt, an error or a second compile in a fresh graph) does not run them
again; ``previous`` and ``entrypoint.final``; tasks stream as updates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cairn.func import entrypoint, task
from cairn.types import Command, interrupt
from tests.support import thread


def counted(calls: list[Any]) -> tuple[Any, Any]:
    @task
    def double(x: int) -> int:
        calls.append(("double", x))
        return 2 * x

    @task
    def add(a: int, b: int) -> int:
        calls.append(("add", a, b))
        return a + b

    return double, add


def asking(saver: Any, calls: list[Any]) -> Any:
    double, add = counted(calls)

    @entrypoint(checkpointer=saver)
    def flow(n: int, *, previous: int | None = None) -> Any:
        total = add(sum(f.result() for f in [double(i) for i in range(n)]), previous or 0).result()
        answer = interrupt({"total": total})
        return entrypoint.final(value={"total": total, "answer": answer}, save=total)

    return flow


def test_a_resumed_entrypoint_does_not_rerun_its_finished_tasks(saver: Any) -> None:
    calls: list[Any] = []
    paused = asking(saver, calls).invoke(3, thread("t"))
    assert [i.value for i in paused["__interrupt__"]] == [{"total": 6}]
    assert sorted(calls) == [("add", 6, 0), ("double", 0), ("double", 1), ("double", 2)]

    calls.clear()
    again = asking(saver, calls)  # another compile: it knows only what the saver stored
    assert again.invoke(Command(resume="yes"), thread("t")) == {"total": 6, "answer": "yes"}
    assert calls == []
    assert again.get_state(thread("t")).values == {"total": 6, "answer": "yes"}


def test_previous_is_what_the_last_run_saved(saver: Any) -> None:
    calls: list[Any] = []
    flow = asking(saver, calls)
    flow.invoke(3, thread("t"))
    flow.invoke(Command(resume="yes"), thread("t"))

    second = flow.invoke(1, thread("t"))  # total = double(0) + previous (6)
    assert [i.value for i in second["__interrupt__"]] == [{"total": 6}]
    assert flow.invoke(Command(resume="again"), thread("t")) == {"total": 6, "answer": "again"}


def test_an_entrypoint_that_fails_after_its_tasks_reruns_only_itself(saver: Any) -> None:
    calls: list[Any] = []
    double, _ = counted(calls)
    failing = [True]

    @entrypoint(checkpointer=saver)
    def flow(n: int) -> int:
        total = sum(double(i).result() for i in range(n))
        if failing[0]:
            raise RuntimeError("flaky")
        return total

    with pytest.raises(RuntimeError, match="flaky"):
        flow.invoke(2, thread("t"))
    failing[0] = False
    calls.clear()

    assert flow.invoke(None, thread("t")) == 2
    assert calls == []


def test_task_results_stream_as_updates(saver: Any) -> None:
    double, _ = counted([])

    @entrypoint(checkpointer=saver)
    def flow(n: int) -> list[int]:
        return [double(i).result() for i in range(n)]

    assert list(flow.stream(2, thread("t"))) == [{"double": 0}, {"double": 2}, {"flow": [0, 2]}]


def test_an_async_entrypoint_awaits_async_tasks(saver: Any) -> None:
    seen: list[int] = []

    @task
    async def square(x: int) -> int:
        seen.append(x)
        await asyncio.sleep(0)
        return x * x

    @entrypoint(checkpointer=saver)
    async def flow(n: int, *, previous: Any = None) -> int:
        values = await asyncio.gather(*(square(i) for i in range(n)))
        return sum(values) + (previous or 0)

    assert asyncio.run(flow.ainvoke(3, thread("t"))) == 5
    assert asyncio.run(flow.ainvoke(2, thread("t"))) == 6
    assert sorted(seen) == [0, 0, 1, 1, 2]


def test_a_task_called_outside_an_entrypoint_says_where_to_call_it() -> None:
    double, _ = counted([])
    with pytest.raises(Exception, match="task 'double' was called outside a running node"):
        double(1)
