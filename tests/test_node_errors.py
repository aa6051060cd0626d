"""Node error handling as in LangGraph 1.x: an ``error_handler`` that runs in
a failed node's place, ``set_node_defaults``, retry policies given as a
list, ``TimeoutPolicy`` (run and idle timeouts), ``NodeCancelledError``,
and a failing async node cancelling the siblings still running in its step.
Where a saver is involved, on every saver, and under invoke and ainvoke."""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from datetime import timedelta
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.errors import (
    ConfigError,
    GraphValidationError,
    NodeCancelledError,
    NodeError,
    NodeTimeoutError,
    NotCallableError,
)
from cairn.graph import END, START, StateGraph
from cairn.runtime.context import Runtime
from cairn.types import Command, RetryPolicy, TimeoutPolicy
from tests.support import thread

T = thread("t")


class Log(TypedDict):
    log: Annotated[list, operator.add]


def run(graph: Any, input: Any, config: Any, mode: str) -> Any:
    """``graph.invoke`` or ``graph.ainvoke``, as ``mode`` says."""
    if mode == "sync":
        return graph.invoke(input, config)
    return asyncio.run(graph.ainvoke(input, config))


def stream(graph: Any, input: Any, config: Any, mode: str, stream_mode: Any) -> list[Any]:
    if mode == "sync":
        return list(graph.stream(input, config, stream_mode=stream_mode))

    async def collect() -> list[Any]:
        return [chunk async for chunk in graph.astream(input, config, stream_mode=stream_mode)]

    return asyncio.run(collect())


def fast(**options: Any) -> RetryPolicy:
    return RetryPolicy(initial_interval=0.001, jitter=False, **options)


def failing(calls: list[str], error: BaseException, name: str = "bad") -> Callable[[Log], Any]:
    def node(state: Log) -> dict[str, Any]:
        calls.append(name)
        raise error

    return node


def write(name: str) -> Callable[[Log], dict[str, Any]]:
    return lambda state: {"log": [name]}


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


# --- error handlers ----------------------------------------------------------------------


@MODES
def test_an_error_handler_writes_in_the_failed_nodes_place_and_routes_instead_of_it(
    saver: Any, mode: str
) -> None:
    seen: list[Any] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        seen.append((state, error.node, error.error))
        return {"log": ["handled"]}

    calls: list[str] = []
    builder = StateGraph(Log)
    builder.add_node("bad", failing(calls, ValueError("boom")), error_handler=handler)
    builder.add_node("after", write("after"))
    builder.add_edge(START, "bad").add_edge("bad", "after")
    graph = builder.compile(checkpointer=saver)

    assert run(graph, {"log": ["in"]}, T, mode) == {"log": ["in", "handled"]}
    [(state, node, error)] = seen
    assert state == {"log": ["in"]} and node == "bad"
    assert isinstance(error, ValueError) and str(error) == "boom"
    # The node's own edge to "after" is not taken: the handler routes instead.
    snapshot = graph.get_state(T)
    assert snapshot.next == () and snapshot.metadata["writes"] == {"__error_handler__bad": {"log": ["handled"]}}
    assert graph.builder.compile(checkpointer=saver).get_state(T).values == {"log": ["in", "handled"]}


@MODES
def test_the_handlers_update_streams_under_its_own_name(mode: str) -> None:
    builder = StateGraph(Log)
    builder.add_node("bad", failing([], KeyError("k")), error_handler=write("handled"))
    builder.add_node("sib", write("sib"))
    builder.add_edge(START, "bad").add_edge(START, "sib")
    chunks = stream(builder.compile(), {"log": []}, None, mode, "updates")
    assert sorted(chunks, key=str) == [
        {"__error_handler__bad": {"log": ["handled"]}},
        {"sib": {"log": ["sib"]}},
    ]


@MODES
def test_a_handler_returning_a_command_goes_where_it_says(saver: Any, mode: str) -> None:
    def handler(state: Log, error: NodeError) -> Command:
        return Command(update={"log": [f"recovered from {error.node}"]}, goto="fallback")

    builder = StateGraph(Log)
    builder.add_node("bad", failing([], ConnectionError("down")), error_handler=handler)
    builder.add_node("fallback", write("fallback"))
    builder.add_edge(START, "bad").add_edge("fallback", END)
    graph = builder.compile(checkpointer=saver)
    assert run(graph, {"log": []}, T, mode) == {"log": ["recovered from bad", "fallback"]}


@MODES
def test_a_node_retries_before_its_handler_runs(mode: str) -> None:
    calls: list[str] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        calls.append("handler")
        return {"log": ["handled"]}

    builder = StateGraph(Log)
    builder.add_node(
        "bad", failing(calls, ConnectionError("down")), retry_policy=fast(max_attempts=3), error_handler=handler
    )
    builder.add_edge(START, "bad")
    assert run(builder.compile(), {"log": []}, None, mode) == {"log": ["handled"]}
    assert calls == ["bad", "bad", "bad", "handler"]


@MODES
def test_a_failing_handler_fails_the_run_and_a_resume_runs_only_the_handler(
    saver: Any, mode: str
) -> None:
    calls: list[str] = []
    broken = [True]
    errors: list[Any] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        calls.append("handler")
        errors.append(error)
        if broken[0]:
            raise KeyError("handler broke")
        return {"log": ["handled"]}

    builder = StateGraph(Log)
    builder.add_node("bad", failing(calls, ValueError("boom")), error_handler=handler)
    builder.add_node("sib", write("sib"))
    builder.add_edge(START, "bad").add_edge(START, "sib")
    graph = builder.compile(checkpointer=saver)

    with pytest.raises(KeyError, match="handler broke"):
        run(graph, {"log": []}, T, mode)
    snapshot = graph.get_state(T)
    assert snapshot.next == ("bad",)
    tasks = {t.name: t for t in snapshot.tasks}
    assert tasks["bad"].error == "ValueError('boom')"  # the node's failure, as LangGraph shows
    assert tasks["sib"].result == {"log": ["sib"]}

    broken[0] = False
    calls.clear()
    cold = graph.builder.compile(checkpointer=saver)  # the failure is read back from storage
    assert run(cold, None, T, mode) == {"log": ["handled", "sib"]}
    assert calls == ["handler"]  # neither the node nor its finished sibling runs again
    assert errors[-1] == NodeError("bad", "ValueError('boom')")


def test_update_state_after_a_handled_failure_writes_as_the_node_or_as_its_handler(saver: Any) -> None:
    builder = StateGraph(Log)
    builder.add_node("bad", failing([], ValueError("boom")), error_handler=write("handled"))
    builder.add_node("after", write("after"))
    graph = builder.add_edge(START, "bad").add_edge("bad", "after").compile(checkpointer=saver)
    graph.invoke({"log": []}, T)

    # Inferred: the step's writer is the node the handler stood in for, so its edge is taken.
    assert graph.get_state(graph.update_state(T, {"log": ["u1"]})).next == ("after",)
    # As the handler: it has no edges.
    config = graph.update_state(T, {"log": ["u2"]}, as_node="__error_handler__bad")
    snapshot = graph.get_state(config)
    assert snapshot.next == () and snapshot.values == {"log": ["handled", "u1", "u2"]}


@MODES
def test_a_handler_may_ask_with_interrupt_and_the_resume_runs_only_the_handler(
    saver: Any, mode: str
) -> None:
    from cairn.types import interrupt

    calls: list[str] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        calls.append("handler")
        return {"log": [interrupt(f"{error.node} failed; what now?")]}

    builder = StateGraph(Log).add_node("bad", failing(calls, ValueError("b")), error_handler=handler)
    graph = builder.add_edge(START, "bad").compile(checkpointer=saver)
    paused = run(graph, {"log": []}, T, mode)
    assert [i.value for i in paused["__interrupt__"]] == ["bad failed; what now?"]
    assert graph.get_state(T).next == ("bad",)

    assert run(graph, Command(resume="carry on"), T, mode) == {"log": ["carry on"]}
    assert calls == ["bad", "handler", "handler"]  # the node itself ran once


def test_a_send_tasks_handler_gets_the_sends_argument() -> None:
    def work(state: Log) -> dict[str, Any]:
        if state["log"] == [2]:
            raise ValueError("two")
        return {"log": [f"w{state['log'][0]}"]}

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        return {"log": [f"handled {state['log']}"]}

    from cairn.types import Send

    builder = StateGraph(Log).add_node("w", work, error_handler=handler)
    builder.add_conditional_edges(START, lambda s: [Send("w", {"log": [1]}), Send("w", {"log": [2]})])
    assert builder.compile().invoke({"log": []}) == {"log": ["w1", "handled [2]"]}


def test_a_nodes_retry_policy_does_not_retry_its_handler() -> None:
    calls: list[str] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        calls.append("handler")
        raise ConnectionError("handler down")

    builder = StateGraph(Log).add_node(
        "bad", failing(calls, ConnectionError()), retry_policy=fast(max_attempts=2), error_handler=handler
    )
    with pytest.raises(ConnectionError, match="handler down"):
        builder.add_edge(START, "bad").compile().invoke({"log": []})
    assert calls == ["bad", "bad", "handler"]


def test_a_handlers_error_parameter_is_injected_by_its_annotation() -> None:
    got: list[Any] = []

    def handler(state: Log, config: dict[str, Any], *, error: NodeError) -> dict[str, Any]:
        got.append((sorted(config), error.node))
        return {}

    builder = StateGraph(Log).add_node("bad", failing([], ValueError()), error_handler=handler)
    builder.add_edge(START, "bad").compile().invoke({"log": []})
    assert got == [(["configurable", "metadata", "recursion_limit", "run_id"], "bad")]


def test_an_error_handler_that_is_not_callable_is_refused() -> None:
    with pytest.raises(NotCallableError, match=r"node 'bad': error_handler='oops' is not callable"):
        StateGraph(Log).add_node("bad", write("x"), error_handler="oops")  # type: ignore[arg-type]


def test_error_handler_node_names_are_reserved() -> None:
    with pytest.raises(GraphValidationError, match="reserved for error handlers"):
        StateGraph(Log).add_node("__error_handler__a", write("x"))


def test_an_interrupt_is_not_an_error_for_the_handler(saver: Any) -> None:
    from cairn.types import interrupt

    def asks(state: Log) -> dict[str, Any]:
        return {"log": [interrupt("ok?")]}

    builder = StateGraph(Log).add_node("asks", asks, error_handler=write("handled"))
    graph = builder.add_edge(START, "asks").compile(checkpointer=saver)
    graph.invoke({"log": []}, T)
    assert graph.get_state(T).next == ("asks",)
    assert graph.invoke(Command(resume="yes"), T) == {"log": ["yes"]}


# --- set_node_defaults ---------------------------------------------------------------------


@MODES
def test_a_default_error_handler_covers_every_node_without_its_own(mode: str) -> None:
    builder = StateGraph(Log).set_node_defaults(error_handler=write("default"))
    builder.add_node("a", failing([], ValueError("a")))
    builder.add_node("b", failing([], ValueError("b")), error_handler=write("own"))
    builder.add_edge(START, "a").add_edge(START, "b")
    graph = builder.compile()
    assert sorted(run(graph, {"log": []}, None, mode)["log"]) == ["default", "own"]
    chunks = stream(graph, {"log": []}, None, mode, "updates")
    assert sorted(name for chunk in chunks for name in chunk) == [
        "__default_error_handler__",
        "__error_handler__b",
    ]


@MODES
def test_a_default_retry_policy_applies_to_nodes_and_handlers_unless_they_have_one(mode: str) -> None:
    calls: list[str] = []

    def handler(state: Log, error: NodeError) -> dict[str, Any]:
        calls.append("handler")
        if calls.count("handler") < 2:
            raise ConnectionError("handler flaked")
        return {"log": ["handled"]}

    builder = StateGraph(Log).set_node_defaults(retry_policy=fast(max_attempts=2))
    builder.add_node("a", failing(calls, ConnectionError(), "a"), error_handler=handler)
    builder.add_node("b", failing(calls, ConnectionError(), "b"), retry_policy=fast(max_attempts=4))
    builder.add_edge(START, "a")
    builder.add_node("c", write("c")).add_edge(START, "c").add_edge("c", "b")
    with pytest.raises(ConnectionError):
        run(builder.compile(), {"log": []}, None, mode)
    assert calls == ["a", "a", "handler", "handler", "b", "b", "b", "b"]


@MODES
def test_a_default_timeout_applies_to_every_node_without_its_own(mode: str) -> None:
    release = threading.Event()

    async def slow(state: Log) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"log": ["slow"]}

    def stuck(state: Log) -> dict[str, Any]:
        release.wait(5)
        return {"log": ["stuck"]}

    async def patient(state: Log) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        return {"log": ["patient"]}

    node, name = (stuck, "stuck") if mode == "sync" else (slow, "slow")
    builder = StateGraph(Log).set_node_defaults(timeout=timedelta(seconds=0.1))
    builder.add_node(name, node).add_edge(START, name)
    try:
        with pytest.raises(NodeTimeoutError) as caught:
            run(builder.compile(), {"log": []}, None, mode)
    finally:
        release.set()
    assert caught.value.node == name and caught.value.kind == "run" and caught.value.timeout == 0.1

    builder = StateGraph(Log).set_node_defaults(timeout=0.1)
    builder.add_node("patient", patient, timeout=TimeoutPolicy(run_timeout=10)).add_edge(START, "patient")
    assert run(builder.compile(), {"log": []}, None, mode) == {"log": ["patient"]}


def test_set_node_defaults_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ConfigError, match=r"set_node_defaults: retry_policy=3 is not a RetryPolicy"):
        StateGraph(Log).set_node_defaults(retry_policy=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"set_node_defaults: timeout=-1 must be a number of seconds > 0"):
        StateGraph(Log).set_node_defaults(timeout=-1)
    with pytest.raises(ConfigError, match=r"set_node_defaults: cache_policy=5 is not a CachePolicy"):
        StateGraph(Log).set_node_defaults(cache_policy=5)


# --- retry policies as a list ----------------------------------------------------------------


@MODES
def test_the_first_policy_whose_retry_on_matches_applies(mode: str) -> None:
    policies = [fast(max_attempts=2, retry_on=KeyError), fast(max_attempts=4, retry_on=ConnectionError)]

    def graph_failing_with(error: BaseException, calls: list[str]) -> Any:
        builder = StateGraph(Log).add_node("n", failing(calls, error, "n"), retry_policy=policies)
        return builder.add_edge(START, "n").compile()

    for error, attempts in [(KeyError("k"), 2), (ConnectionError("c"), 4), (ValueError("v"), 1)]:
        calls: list[str] = []
        with pytest.raises(type(error)):
            run(graph_failing_with(error, calls), {"log": []}, None, mode)
        assert len(calls) == attempts, error


def test_a_retry_policy_list_counts_every_attempt_of_the_task() -> None:
    errors = iter([KeyError("k"), ConnectionError("c"), KeyError("k")])
    calls: list[str] = []

    def node(state: Log) -> dict[str, Any]:
        calls.append("n")
        error = next(errors, None)
        if error is not None:
            raise error
        return {"log": ["done"]}

    policies = [fast(max_attempts=3, retry_on=KeyError), fast(max_attempts=3, retry_on=ConnectionError)]
    graph = StateGraph(Log).add_node("n", node, retry_policy=policies).add_edge(START, "n").compile()
    with pytest.raises(KeyError):  # the third attempt fails: max_attempts=3 counts all three
        graph.invoke({"log": []})
    assert calls == ["n", "n", "n"]


def test_retry_on_may_be_a_list_of_exception_classes() -> None:
    assert fast(retry_on=[KeyError, ConnectionError]).should_retry(ConnectionError())
    assert not fast(retry_on=[KeyError]).should_retry(ValueError())


# --- timeouts -----------------------------------------------------------------------------


def test_timeout_policy_coerces_numbers_and_timedeltas_and_refuses_nonsense() -> None:
    assert TimeoutPolicy.coerce(2) == TimeoutPolicy(run_timeout=2.0)
    assert TimeoutPolicy.coerce(timedelta(milliseconds=1500)) == TimeoutPolicy(run_timeout=1.5)
    assert TimeoutPolicy.coerce(TimeoutPolicy()) is None
    with pytest.raises(ConfigError, match="idle_timeout=0"):
        TimeoutPolicy.coerce(TimeoutPolicy(idle_timeout=0))
    with pytest.raises(ConfigError, match="refresh_on='sometimes'"):
        TimeoutPolicy.coerce(TimeoutPolicy(run_timeout=1, refresh_on="sometimes"))  # type: ignore[arg-type]
    with pytest.raises(GraphValidationError, match=r"node 'n': timeout=0"):
        StateGraph(Log).add_node("n", write("n"), timeout=0)


@MODES
def test_an_idle_timeout_is_held_off_by_heartbeats(mode: str) -> None:
    def beating(state: Log, runtime: Runtime) -> dict[str, Any]:
        for _ in range(12):  # 0.6 s in all, twice the idle timeout
            time.sleep(0.05)
            runtime.heartbeat()
        return {"log": ["alive"]}

    builder = StateGraph(Log).add_node("n", beating, timeout=TimeoutPolicy(idle_timeout=0.3))
    assert run(builder.add_edge(START, "n").compile(), {"log": []}, None, mode) == {"log": ["alive"]}


@MODES
def test_an_idle_node_times_out_as_idle(mode: str) -> None:
    async def idle(state: Log) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"log": ["never"]}

    policy = TimeoutPolicy(idle_timeout=0.1, run_timeout=30)
    builder = StateGraph(Log).add_node("n", idle, timeout=policy).add_edge(START, "n")
    with pytest.raises(NodeTimeoutError) as caught:
        run(builder.compile(), {"log": []}, None, mode)
    error = caught.value
    assert (error.node, error.kind, error.timeout, error.idle_timeout, error.run_timeout) == (
        "n", "idle", 0.1, 0.1, 30.0,
    )
    assert "idle timeout of 0.1 s" in str(error)


@pytest.mark.parametrize("refresh_on", ["auto", "heartbeat"])
def test_custom_stream_chunks_count_as_progress_only_under_auto(refresh_on: str) -> None:
    def chatty(state: Log, runtime: Runtime) -> dict[str, Any]:
        for i in range(12):
            time.sleep(0.05)
            runtime.stream_writer({"tick": i})
        return {"log": ["done"]}

    policy = TimeoutPolicy(idle_timeout=0.3, refresh_on=refresh_on)  # type: ignore[arg-type]
    graph = StateGraph(Log).add_node("n", chatty, timeout=policy).add_edge(START, "n").compile()
    if refresh_on == "auto":
        assert graph.invoke({"log": []}) == {"log": ["done"]}
    else:
        with pytest.raises(NodeTimeoutError, match="idle timeout"):
            graph.invoke({"log": []})


def test_the_default_retry_policy_retries_a_timeout() -> None:
    calls: list[str] = []

    async def slow_once(state: Log) -> dict[str, Any]:
        calls.append("n")
        if len(calls) == 1:
            await asyncio.sleep(5)
        return {"log": ["second try"]}

    builder = StateGraph(Log).add_node("n", slow_once, timeout=0.1, retry_policy=fast())
    graph = builder.add_edge(START, "n").compile()
    assert asyncio.run(graph.ainvoke({"log": []})) == {"log": ["second try"]}
    assert calls == ["n", "n"]


# --- cancellation ---------------------------------------------------------------------------


def test_a_node_raising_cancelled_error_itself_fails_with_node_cancelled_error(saver: Any) -> None:
    async def gives_up(state: Log) -> dict[str, Any]:
        raise asyncio.CancelledError()

    graph = StateGraph(Log).add_node("n", gives_up).add_edge(START, "n").compile(checkpointer=saver)
    with pytest.raises(NodeCancelledError, match=r"node 'n' raised asyncio.CancelledError") as caught:
        asyncio.run(graph.ainvoke({"log": []}, T))
    assert caught.value.node == "n"
    [task] = graph.get_state(T).tasks
    assert task.error is not None and "NodeCancelledError" in task.error


def test_a_failing_async_node_cancels_its_running_siblings(saver: Any) -> None:
    state = {"fail": True, "slow_cancelled": 0, "calls": []}

    async def fails(s: Log) -> dict[str, Any]:
        state["calls"].append("fails")
        await asyncio.sleep(0.05)
        if state["fail"]:
            raise ValueError("fails")
        return {"log": ["fails"]}

    async def slow(s: Log) -> dict[str, Any]:
        state["calls"].append("slow")
        if state["fail"]:
            try:
                await asyncio.sleep(30)  # only a cancellation ends this in time
            except asyncio.CancelledError:
                state["slow_cancelled"] += 1
                raise
        return {"log": ["slow"]}

    async def quick(s: Log) -> dict[str, Any]:
        state["calls"].append("quick")
        return {"log": ["quick"]}

    builder = StateGraph(Log)
    for name, node in [("fails", fails), ("slow", slow), ("quick", quick)]:
        builder.add_node(name, node).add_edge(START, name)
    graph = builder.compile(checkpointer=saver)

    with pytest.raises(ValueError, match="fails"):  # the original error, not the cancellation
        asyncio.run(graph.ainvoke({"log": ["in"]}, T))
    assert state["slow_cancelled"] == 1
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["in", "quick"]}  # the finished sibling's write is kept
    assert snapshot.next == ("fails", "slow")
    tasks = {t.name: t for t in snapshot.tasks}
    assert tasks["fails"].error == "ValueError('fails')"
    assert tasks["slow"].error == "CancelledError()"
    assert tasks["quick"].result == {"log": ["quick"]}

    state["fail"] = False
    state["calls"] = []
    result = asyncio.run(graph.ainvoke(None, T))
    assert sorted(result["log"]) == ["fails", "in", "quick", "slow"]
    assert sorted(state["calls"]) == ["fails", "slow"]  # the finished sibling is not run again


def test_a_failure_with_an_error_handler_does_not_cancel_siblings() -> None:
    async def fails(s: Log) -> dict[str, Any]:
        raise ValueError("fails")

    async def slow(s: Log) -> dict[str, Any]:
        await asyncio.sleep(0.2)
        return {"log": ["slow"]}

    builder = StateGraph(Log).add_node("fails", fails, error_handler=write("handled"))
    builder.add_node("slow", slow).add_edge(START, "fails").add_edge(START, "slow")
    assert asyncio.run(builder.compile().ainvoke({"log": []})) == {"log": ["handled", "slow"]}
