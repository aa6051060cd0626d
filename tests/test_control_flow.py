"""Control flow and running (SPEC sections 3 and 6): Send fan-out, Command,
routing errors, retries, node timeouts, durability modes, and the async API
(ainvoke, astream, aget_state, aget_state_history, aupdate_state) with nodes
that really run concurrently.

Where LangGraph 1.2.22 decides a detail (the order of a fan-out's results, a
history's shape), the test asserts what LangGraph does; where cairn raises on
purpose (a route to an unknown node, which LangGraph ignores with a warning),
the test asserts cairn's error and that its message names the offending value.
"""

from __future__ import annotations

import asyncio
import operator
import random
import threading
import time
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.errors import (
    CairnError,
    ConfigError,
    GraphValidationError,
    InvalidUpdateError,
    NodeTimeoutError,
)
from cairn.graph import END, START, MessagesState, StateGraph
from cairn.types import Command, RetryPolicy, Send
from tests.support import (
    EXPLAIN_PROMPT,
    JOKE_PROMPT,
    FakeLLM,
    JokeState,
    by_step,
    history,
    steps,
    thread,
)

T = thread("flow")


class Log(TypedDict):
    log: Annotated[list, operator.add]
    x: int


def logger(name: str, calls: list[str] | None = None) -> Callable[[Log], dict[str, Any]]:
    def run(state: Log) -> dict[str, Any]:
        if calls is not None:
            calls.append(name)
        return {"log": [name]}

    return run


def shape(snapshots: list[Any]) -> list[tuple[Any, ...]]:
    """What a history shows, without ids and times."""
    return [(s.metadata["step"], s.metadata["source"], s.next, s.values) for s in snapshots]


# --- Send fan-out ------------------------------------------------------------------


class FanOut(TypedDict):
    items: list
    results: Annotated[list, operator.add]


def fan_out_graph(saver: Any) -> Any:
    def prep(state: FanOut) -> dict[str, Any]:
        return {}

    def fan(state: FanOut) -> list[Send]:
        return [Send("work", {"i": i}) for i in state["items"]]

    def work(arg: dict[str, Any]) -> dict[str, Any]:
        time.sleep(random.random() * 0.003)  # finish in a random order
        return {"results": [arg["i"] * 10]}

    builder = StateGraph(FanOut).add_node("prep", prep).add_node("work", work)
    builder.add_edge(START, "prep").add_conditional_edges("prep", fan, ["work"])
    builder.add_edge("work", END)
    return builder.compile(checkpointer=saver)


def test_send_fan_out_collects_every_result_in_the_order_of_the_sends(saver: Any) -> None:
    graph = fan_out_graph(saver)
    items = list(range(100))
    random.Random(7).shuffle(items)

    result = graph.invoke({"items": items, "results": []}, T)

    # As LangGraph: the reducer gets the writes in the order the Sends were made.
    assert result["results"] == [i * 10 for i in items]
    snapshots = history(graph, T)
    assert steps(snapshots) == [2, 1, 0, -1]  # the whole fan-out is one step
    fan_step = by_step(snapshots, 1)
    assert fan_step.next == ("work",) * 100
    assert [t.path[:2] for t in fan_step.tasks] == [("__pregel_push", n) for n in range(100)]
    assert [t.result for t in fan_step.tasks] == [{"results": [i * 10]} for i in items]
    assert snapshots[0].values == result


def test_send_fan_out_order_holds_under_ainvoke(saver: Any) -> None:
    graph = fan_out_graph(saver)
    items = list(range(30))
    random.Random(11).shuffle(items)
    result = asyncio.run(graph.ainvoke({"items": items, "results": []}, T))
    assert result["results"] == [i * 10 for i in items]
    assert steps(history(graph, T)) == [2, 1, 0, -1]


# --- Command and routing errors -------------------------------------------------------


def test_command_updates_the_state_and_goes_to_the_named_node(saver: Any) -> None:
    calls: list[str] = []

    def router(state: Log) -> Command:
        calls.append("router")
        return Command(update={"x": 7, "log": ["router"]}, goto="x_node")

    builder = StateGraph(Log).add_node("router", router)
    builder.add_node("x_node", logger("x_node", calls)).add_node("y_node", logger("y_node", calls))
    graph = builder.add_edge(START, "router").compile(checkpointer=saver)

    assert graph.invoke({"log": [], "x": 0}, T) == {"log": ["router", "x_node"], "x": 7}
    assert calls == ["router", "x_node"]
    after_router = by_step(history(graph, T), 1)
    assert after_router.next == ("x_node",)
    assert after_router.metadata["writes"] == {"router": {"x": 7, "log": ["router"]}}


def test_command_goto_an_unknown_node_raises_naming_it(saver: Any) -> None:
    def router(state: Log) -> Command:
        return Command(update={"x": 1}, goto="nowhere")

    builder = StateGraph(Log).add_node("router", router).add_node("b", logger("b"))
    graph = builder.add_edge(START, "router").compile(checkpointer=saver)

    with pytest.raises(InvalidUpdateError, match="'nowhere'") as caught:
        graph.invoke({"log": [], "x": 0}, T)

    assert isinstance(caught.value, ValueError)
    assert "'router'" in str(caught.value)
    # The bad update is not applied; the failed task is recorded.
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": [], "x": 0}
    assert snapshot.next == ("router",)
    assert "nowhere" in snapshot.tasks[0].error


@pytest.mark.parametrize("path_map", [None, {"go": "b"}])
def test_a_conditional_edge_to_an_unknown_node_raises_naming_it(
    saver: Any, path_map: Any
) -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("b", logger("b"))
    builder.add_edge(START, "a").add_conditional_edges("a", lambda s: "nope", path_map)
    graph = builder.compile(checkpointer=saver)

    with pytest.raises(InvalidUpdateError, match="'nope'") as caught:
        graph.invoke({"log": [], "x": 0}, T)

    assert isinstance(caught.value, ValueError)
    assert graph.get_state(T).next == ("a",)
    assert graph.get_state(T).values == {"log": [], "x": 0}


def test_a_send_to_an_unknown_node_raises_naming_it(saver: Any) -> None:
    builder = StateGraph(Log).add_node("a", logger("a")).add_node("b", logger("b"))
    builder.add_edge(START, "a").add_conditional_edges("a", lambda s: [Send("ghost", {"x": 1})])
    graph = builder.compile(checkpointer=saver)

    with pytest.raises(InvalidUpdateError, match="'ghost'") as caught:
        graph.invoke({"log": [], "x": 0}, T)

    assert isinstance(caught.value, ValueError)
    assert graph.get_state(T).next == ("a",)


@pytest.mark.parametrize("attempts", [0, -1])
def test_retry_policy_with_fewer_than_one_attempt_raises_config_error(attempts: int) -> None:
    with pytest.raises(ConfigError, match=f"max_attempts={attempts}") as caught:
        RetryPolicy(max_attempts=attempts)
    assert isinstance(caught.value, ValueError)


# --- retries ---------------------------------------------------------------------------


def fast(**options: Any) -> RetryPolicy:
    return RetryPolicy(initial_interval=0.001, jitter=False, **options)


def test_a_retried_node_succeeds_on_its_third_attempt_beside_a_sibling_that_runs_once(
    saver: Any,
) -> None:
    attempts: list[int] = []
    sibling: list[int] = []

    def flaky(state: Log) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return {"log": ["flaky"], "x": len(attempts)}

    def steady(state: Log) -> dict[str, Any]:
        sibling.append(1)
        return {"log": ["steady"]}

    builder = StateGraph(Log).add_node("flaky", flaky, retry_policy=fast(max_attempts=3))
    builder.add_node("steady", steady).add_edge(START, "flaky").add_edge(START, "steady")
    graph = builder.compile(checkpointer=saver)

    result = graph.invoke({"log": [], "x": 0}, T)

    assert len(attempts) == 3
    assert len(sibling) == 1
    assert sorted(result["log"]) == ["flaky", "steady"] and result["x"] == 3
    snapshots = history(graph, T)
    assert steps(snapshots) == [1, 0, -1]  # retries happen in place: no extra checkpoints
    assert snapshots[0].values == result
    assert snapshots[0].metadata["writes"] == {
        "flaky": {"log": ["flaky"], "x": 3},
        "steady": {"log": ["steady"]},
    }
    assert all(t.error is None for s in snapshots for t in s.tasks)


def retrying_graph(
    saver: Any, errors: list[BaseException], policy: RetryPolicy, attempts: list[str]
) -> Any:
    """One node that raises ``errors`` one by one, then succeeds."""

    def node(state: Log) -> dict[str, Any]:
        attempts.append("try")
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return {"log": ["ok"]}

    builder = StateGraph(Log).add_node("node", node, retry_policy=policy)
    return builder.add_edge(START, "node").compile(checkpointer=saver)


def test_retry_on_a_predicate_retries_only_what_it_accepts(saver: Any) -> None:
    def transient(exc: BaseException) -> bool:
        return isinstance(exc, KeyError) and "transient" in str(exc)

    policy = fast(max_attempts=5, retry_on=transient)
    attempts: list[str] = []
    graph = retrying_graph(saver, [KeyError("transient"), KeyError("transient")], policy, attempts)
    assert graph.invoke({"log": []}, T) == {"log": ["ok"]}
    assert len(attempts) == 3
    assert steps(history(graph, T)) == [1, 0, -1]

    attempts = []
    other = thread("other")
    graph = retrying_graph(saver, [KeyError("transient"), KeyError("permanent")], policy, attempts)
    with pytest.raises(KeyError, match="permanent"):
        graph.invoke({"log": []}, other)
    assert len(attempts) == 2
    assert graph.get_state(other).tasks[0].error == "KeyError('permanent')"


def test_retry_on_an_exception_tuple_retries_those_classes_only(saver: Any) -> None:
    policy = fast(max_attempts=4, retry_on=(KeyError, TimeoutError))
    attempts: list[str] = []
    graph = retrying_graph(saver, [KeyError("k"), TimeoutError("t")], policy, attempts)
    assert graph.invoke({"log": []}, T) == {"log": ["ok"]}
    assert len(attempts) == 3

    attempts = []
    graph = retrying_graph(saver, [KeyError("k"), ValueError("bug")], policy, attempts)
    with pytest.raises(ValueError, match="bug"):
        graph.invoke({"log": []}, thread("other"))
    assert len(attempts) == 2


def test_a_retried_node_that_never_succeeds_stops_at_max_attempts_under_ainvoke(
    saver: Any,
) -> None:
    attempts: list[int] = []

    async def down(state: Log) -> dict[str, Any]:
        attempts.append(1)
        raise ConnectionError("down")

    builder = StateGraph(Log).add_node("down", down, retry_policy=fast(max_attempts=3))
    graph = builder.add_edge(START, "down").compile(checkpointer=saver)
    with pytest.raises(ConnectionError):
        asyncio.run(graph.ainvoke({"log": []}, T))
    assert len(attempts) == 3
    assert graph.get_state(T).tasks[0].error == "ConnectionError('down')"


# --- node timeouts ---------------------------------------------------------------------


class Slow:
    """A node that takes 2 s while ``slow`` is set (or until ``release``)."""

    def __init__(self) -> None:
        self.slow = True
        self.release = threading.Event()
        self.calls: list[str] = []
        self.cancelled = 0

    def sync_node(self, state: Log) -> dict[str, Any]:
        self.calls.append("slow")
        if self.slow:
            self.release.wait(2)
        return {"log": ["slow"]}

    async def async_node(self, state: Log) -> dict[str, Any]:
        self.calls.append("slow")
        if self.slow:
            try:
                await asyncio.sleep(2)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return {"log": ["slow"]}


def timeout_graph(saver: Any, node: Callable[..., Any], calls: list[str]) -> Any:
    """START -> slow (timeout=0.2) and START -> sibling, in one step."""
    builder = StateGraph(Log).add_node("slow", node, timeout=0.2)
    builder.add_node("sibling", logger("sibling", calls))
    builder.add_edge(START, "slow").add_edge(START, "sibling")
    return builder.compile(checkpointer=saver)


def assert_timed_out(graph: Any, error: BaseException, elapsed: float) -> None:
    assert isinstance(error, NodeTimeoutError)
    assert isinstance(error, TimeoutError) and isinstance(error, CairnError)
    assert "'slow'" in str(error) and "0.2" in str(error)
    assert elapsed < 1.5, f"the run waited {elapsed:.2f} s for a node with a 0.2 s timeout"
    snapshot = graph.get_state(T)
    assert snapshot.next == ("slow",)
    assert snapshot.values == {"log": ["sibling"]}
    tasks = {t.name: t for t in snapshot.tasks}
    assert "NodeTimeoutError" in tasks["slow"].error and "'slow'" in tasks["slow"].error
    assert tasks["sibling"].error is None
    assert tasks["sibling"].result == {"log": ["sibling"]}


def test_a_sync_node_past_its_timeout_fails_and_resumes(saver: Any) -> None:
    slow = Slow()
    graph = timeout_graph(saver, slow.sync_node, slow.calls)
    try:
        started = time.monotonic()
        with pytest.raises(NodeTimeoutError) as caught:
            graph.invoke({"log": []}, T)
        assert_timed_out(graph, caught.value, time.monotonic() - started)

        slow.slow = False
        result = graph.invoke(None, T)

        assert sorted(result["log"]) == ["sibling", "slow"]
        assert sorted(slow.calls) == ["sibling", "slow", "slow"]  # the sibling is not re-run
        assert steps(history(graph, T)) == [1, 0, -1]
        assert graph.get_state(T).values == result
    finally:
        slow.release.set()


def test_an_async_node_past_its_timeout_is_cancelled_and_resumes(saver: Any) -> None:
    slow = Slow()
    graph = timeout_graph(saver, slow.async_node, slow.calls)

    started = time.monotonic()
    with pytest.raises(NodeTimeoutError) as caught:
        asyncio.run(graph.ainvoke({"log": []}, T))
    assert_timed_out(graph, caught.value, time.monotonic() - started)
    assert slow.cancelled == 1

    slow.slow = False
    result = asyncio.run(graph.ainvoke(None, T))

    assert sorted(result["log"]) == ["sibling", "slow"]
    assert sorted(slow.calls) == ["sibling", "slow", "slow"]
    assert steps(history(graph, T)) == [1, 0, -1]


def test_a_sync_node_past_its_timeout_under_ainvoke_fails_and_resumes(saver: Any) -> None:
    slow = Slow()
    graph = timeout_graph(saver, slow.sync_node, slow.calls)

    async def main() -> tuple[BaseException, float]:
        started = time.monotonic()
        try:
            with pytest.raises(NodeTimeoutError) as caught:
                await graph.ainvoke({"log": []}, T)
            return caught.value, time.monotonic() - started
        finally:
            # The abandoned worker thread would otherwise hold asyncio.run's exit for 2 s.
            slow.release.set()

    error, elapsed = asyncio.run(main())
    assert_timed_out(graph, error, elapsed)

    slow.slow = False
    result = asyncio.run(graph.ainvoke(None, T))
    assert sorted(result["log"]) == ["sibling", "slow"]
    assert sorted(slow.calls) == ["sibling", "slow", "slow"]


def test_nodes_that_finish_within_their_timeout_just_work(saver: Any) -> None:
    def quick(state: Log) -> dict[str, Any]:
        time.sleep(0.01)
        return {"log": ["quick"]}

    async def aquick(state: Log) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"log": ["aquick"]}

    builder = StateGraph(Log).add_node("quick", quick, timeout=2)
    builder.add_node("aquick", aquick, timeout=2)
    builder.add_edge(START, "quick").add_edge("quick", "aquick")
    graph = builder.compile(checkpointer=saver)
    assert graph.invoke({"log": []}, T) == {"log": ["quick", "aquick"]}
    assert asyncio.run(graph.ainvoke({"log": []}, thread("a"))) == {"log": ["quick", "aquick"]}
    assert steps(history(graph, T)) == [2, 1, 0, -1]


def test_a_retry_policy_retries_a_timed_out_node(saver: Any) -> None:
    release = threading.Event()
    attempts: list[int] = []

    def slow_once(state: Log) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            release.wait(2)
        return {"log": ["done"]}

    policy = fast(max_attempts=2, retry_on=TimeoutError)
    builder = StateGraph(Log).add_node("slow", slow_once, timeout=0.2, retry_policy=policy)
    graph = builder.add_edge(START, "slow").compile(checkpointer=saver)
    try:
        assert graph.invoke({"log": []}, T) == {"log": ["done"]}
    finally:
        release.set()
    assert len(attempts) == 2
    assert steps(history(graph, T)) == [1, 0, -1]


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_timeout_that_is_not_positive_is_refused_by_add_node(timeout: float) -> None:
    with pytest.raises(GraphValidationError, match="'n'") as caught:
        StateGraph(Log).add_node("n", logger("n"), timeout=timeout)
    assert str(timeout) in str(caught.value)


# --- durability ------------------------------------------------------------------------


def four_steps(
    calls: list[str], failing: set[str], seen: dict[str, Any] | None = None
) -> tuple[Any, list[Any]]:
    """first -> second -> third -> fourth; a node named in ``failing`` raises.
    ``seen[durability]`` records what get_state shows from inside "third"."""
    graphs: list[Any] = []

    def node(name: str) -> Callable[..., dict[str, Any]]:
        def run(state: Log, config: dict[str, Any]) -> dict[str, Any]:
            calls.append(name)
            if name == "third" and seen is not None:
                snapshot = graphs[0].get_state(config)
                seen[config["configurable"]["thread_id"]] = snapshot.metadata
            if name in failing:
                raise RuntimeError(f"{name} failed")
            return {"log": [name]}

        return run

    builder = StateGraph(Log)
    for name in ("first", "second", "third", "fourth"):
        builder.add_node(name, node(name))
    builder.add_edge(START, "first").add_edge("first", "second")
    builder.add_edge("second", "third").add_edge("third", "fourth")
    return builder, graphs


def compile_four(
    saver: Any, calls: list[str], failing: set[str], seen: dict[str, Any] | None = None
) -> Any:
    builder, graphs = four_steps(calls, failing, seen)
    graph = builder.compile(checkpointer=saver)
    graphs.append(graph)
    return graph


@pytest.mark.parametrize("durability", ["async", "exit"])
def test_async_and_exit_durability_leave_the_same_history_as_sync(
    saver: Any, durability: str
) -> None:
    graph = compile_four(saver, [], set())
    expected = graph.invoke({"log": []}, thread("sync"), durability="sync")

    result = graph.invoke({"log": []}, thread(durability), durability=durability)

    assert result == expected
    assert shape(history(graph, thread(durability))) == shape(history(graph, thread("sync")))
    assert steps(history(graph, thread(durability))) == [4, 3, 2, 1, 0, -1]


def test_exit_durability_stores_nothing_until_the_run_ends(saver: Any) -> None:
    seen: dict[str, Any] = {}
    graph = compile_four(saver, [], set(), seen)
    graph.invoke({"log": []}, thread("sync"), durability="sync")
    graph.invoke({"log": []}, thread("exit"), durability="exit")

    # As LangGraph: while "third" runs, a sync run has stored step 2; an exit run nothing.
    assert seen["sync"]["step"] == 2
    assert seen["exit"] is None
    assert graph.get_state(thread("exit")).metadata["step"] == 4


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_a_failure_in_step_3_keeps_what_ran_and_resumes_with_any_durability(
    saver: Any, durability: str
) -> None:
    calls: list[str] = []
    failing = {"third"}
    graph = compile_four(saver, calls, failing)

    with pytest.raises(RuntimeError, match="third failed"):
        graph.invoke({"log": []}, T, durability=durability)

    # SPEC 6: "exit" commits the run's checkpoints when it returns or raises, so
    # the failed run leaves what a "sync" run would: steps -1..2, and the error
    # of "third" on the head. (LangGraph 1.2.22 keeps only the step-2 checkpoint.)
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["first", "second"]}
    assert snapshot.next == ("third",)
    assert snapshot.metadata["step"] == 2
    assert snapshot.tasks[0].error == "RuntimeError('third failed')"
    assert steps(history(graph, T)) == [2, 1, 0, -1]

    failing.clear()
    result = graph.invoke(None, T, durability=durability)

    assert result == {"log": ["first", "second", "third", "fourth"]}
    assert calls == ["first", "second", "third", "third", "fourth"]
    assert steps(history(graph, T)) == [4, 3, 2, 1, 0, -1]


def test_an_unknown_durability_raises_config_error_naming_it(saver: Any) -> None:
    calls: list[str] = []
    graph = compile_four(saver, calls, set())
    with pytest.raises(ConfigError, match="'sometimes'") as caught:
        graph.invoke({"log": []}, T, durability="sometimes")
    assert isinstance(caught.value, ValueError)
    assert calls == []
    assert history(graph, T) == []


def test_an_unknown_durability_raises_config_error_without_a_checkpointer() -> None:
    graph = StateGraph(Log).add_node("a", logger("a")).add_edge(START, "a").compile()
    with pytest.raises(ConfigError, match="'sometimes'"):
        graph.invoke({"log": []}, durability="sometimes")


# --- async API: seed 000's joke workflow ---------------------------------------------


def async_joke_workflow(llm: FakeLLM, saver: Any) -> Any:
    """Seed 000's workflow with async nodes."""

    async def generate_joke(state: JokeState) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"joke": llm.invoke(f'{JOKE_PROMPT} {state["topic"]}').content}

    async def generate_explanation(state: JokeState) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"explanation": llm.invoke(f'{EXPLAIN_PROMPT} - {state["joke"]}').content}

    builder = StateGraph(JokeState)
    builder.add_node("generate_joke", generate_joke)
    builder.add_node("generate_explanation", generate_explanation)
    builder.add_edge(START, "generate_joke").add_edge("generate_joke", "generate_explanation")
    builder.add_edge("generate_explanation", END)
    return builder.compile(checkpointer=saver)


async def ahistory(graph: Any, config: Any, **kwargs: Any) -> list[Any]:
    return [s async for s in graph.aget_state_history(config, **kwargs)]


def test_async_joke_workflow_runs_and_reads_its_history(saver: Any, llm: FakeLLM) -> None:
    graph = async_joke_workflow(llm, saver)

    async def main() -> tuple[Any, Any, list[Any], list[Any]]:
        result = await graph.ainvoke({"topic": "pizza"}, T)
        return result, await graph.aget_state(T), await ahistory(graph, T), history(graph, T)

    result, snapshot, async_history, sync_history = asyncio.run(main())

    joke = f"[1] reply to: {JOKE_PROMPT} pizza"
    assert result == {
        "topic": "pizza",
        "joke": joke,
        "explanation": f"[2] reply to: {EXPLAIN_PROMPT} - {joke}",
    }
    assert snapshot.values == result and snapshot.next == ()
    assert [(s.metadata["step"], s.next) for s in async_history] == [
        (2, ()),
        (1, ("generate_explanation",)),
        (0, ("generate_joke",)),
        (-1, ("__start__",)),
    ]
    assert async_history == sync_history


def test_aget_state_history_takes_filter_before_and_limit(saver: Any, llm: FakeLLM) -> None:
    graph = async_joke_workflow(llm, saver)

    async def main() -> tuple[list[Any], list[Any], list[Any]]:
        await graph.ainvoke({"topic": "pizza"}, T)
        everything = await ahistory(graph, T)
        return (
            await ahistory(graph, T, limit=2),
            await ahistory(graph, T, before=everything[1].config),
            await ahistory(graph, T, filter={"source": "input"}),
        )

    limited, before, inputs = asyncio.run(main())
    assert steps(limited) == [2, 1]
    assert steps(before) == [0, -1]
    assert steps(inputs) == [-1]


def test_async_joke_workflow_astream_updates(saver: Any, llm: FakeLLM) -> None:
    graph = async_joke_workflow(llm, saver)

    async def main() -> list[Any]:
        return [c async for c in graph.astream({"topic": "pizza"}, T, stream_mode="updates")]

    chunks = asyncio.run(main())
    joke = f"[1] reply to: {JOKE_PROMPT} pizza"
    assert chunks == [
        {"generate_joke": {"joke": joke}},
        {"generate_explanation": {"explanation": f"[2] reply to: {EXPLAIN_PROMPT} - {joke}"}},
    ]


def test_async_replay_from_step_1_reruns_only_the_explanation(saver: Any, llm: FakeLLM) -> None:
    graph = async_joke_workflow(llm, saver)

    async def main() -> tuple[Any, Any, list[Any]]:
        first = await graph.ainvoke({"topic": "pasta"}, T)
        step_1 = by_step(await ahistory(graph, T), 1)
        replayed = await graph.ainvoke(None, step_1.config)
        return first, replayed, await ahistory(graph, T)

    first, replayed, snapshots = asyncio.run(main())

    assert llm.count(JOKE_PROMPT) == 1
    assert llm.count(EXPLAIN_PROMPT) == 2
    assert replayed["joke"] == first["joke"]
    assert replayed["explanation"].startswith("[3] ")
    assert steps(snapshots) == [2, 2, 1, 0, -1]
    assert snapshots[0].values == replayed
    assert snapshots[1].values == first  # the old branch is intact


def test_async_update_state_forks_and_ainvoke_continues_the_fork(saver: Any, llm: FakeLLM) -> None:
    graph = async_joke_workflow(llm, saver)

    async def main() -> tuple[Any, Any, Any, list[Any]]:
        await graph.ainvoke({"topic": "pasta"}, T)
        step_0 = by_step(await ahistory(graph, T), 0)
        fork = await graph.aupdate_state(step_0.config, {"topic": "samosa"})
        forked = await graph.aget_state(fork)
        result = await graph.ainvoke(None, fork)
        return fork, forked, result, await ahistory(graph, T)

    fork, forked, result, snapshots = asyncio.run(main())

    assert forked.values == {"topic": "samosa"}
    assert forked.next == ("generate_joke",)
    assert forked.metadata["source"] == "update"
    assert result["topic"] == "samosa"
    assert result["joke"] == f"[3] reply to: {JOKE_PROMPT} samosa"
    assert [(s.metadata["step"], s.metadata["source"]) for s in snapshots] == [
        (3, "loop"),
        (2, "loop"),
        (1, "update"),
        (2, "loop"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]
    assert snapshots[2].config == fork
    assert snapshots[3].values["topic"] == "pasta"


# --- async API: seed 004's failure and resume ----------------------------------------


class FailableState(MessagesState):
    data: list[str]
    processed: list[str]


def test_async_failure_then_resume_reruns_only_process(saver: Any) -> None:
    calls: list[str] = []

    async def fetch_node(state: FailableState) -> dict[str, Any]:
        calls.append("fetch")
        return {"data": ["item_1", "item_2", "item_3"]}

    async def process_node(state: FailableState) -> dict[str, Any]:
        calls.append("process")
        if calls.count("process") == 1:
            raise ConnectionError("API timeout during processing")
        return {"processed": [f"processed_{d}" for d in state["data"]]}

    builder = StateGraph(FailableState).add_node("fetch", fetch_node)
    builder.add_node("process", process_node)
    builder.add_edge(START, "fetch").add_edge("fetch", "process").add_edge("process", END)
    graph = builder.compile(checkpointer=saver)
    config = thread("resilient_001")

    async def main() -> tuple[Any, Any, list[Any]]:
        with pytest.raises(ConnectionError, match="API timeout"):
            await graph.ainvoke({"messages": [], "data": [], "processed": []}, config)
        failed = await graph.aget_state(config)
        result = await graph.ainvoke(None, config)
        return failed, result, await ahistory(graph, config)

    failed, result, snapshots = asyncio.run(main())

    assert failed.values["data"] == ["item_1", "item_2", "item_3"]
    assert failed.next == ("process",)
    assert failed.tasks[0].error == "ConnectionError('API timeout during processing')"
    assert result["processed"] == ["processed_item_1", "processed_item_2", "processed_item_3"]
    assert calls == ["fetch", "process", "process"]
    assert steps(snapshots) == [2, 1, 0, -1]


# --- async API: nodes really run concurrently ------------------------------------------


def test_parallel_async_nodes_run_concurrently(saver: Any) -> None:
    events: dict[str, asyncio.Event] = {}

    def meeting(me: str, other: str) -> Callable[[Log], Any]:
        async def run(state: Log) -> dict[str, Any]:
            events[me].set()
            await events[other].wait()  # deadlocks unless the other runs at the same time
            return {"log": [me]}

        return run

    builder = StateGraph(Log).add_node("left", meeting("left", "right"))
    builder.add_node("right", meeting("right", "left"))
    builder.add_edge(START, "left").add_edge(START, "right")
    graph = builder.compile(checkpointer=saver)

    async def main() -> Any:
        events.update(left=asyncio.Event(), right=asyncio.Event())
        return await asyncio.wait_for(graph.ainvoke({"log": []}, T), timeout=5)

    result = asyncio.run(main())
    assert sorted(result["log"]) == ["left", "right"]
    assert steps(history(graph, T)) == [1, 0, -1]


def test_sync_nodes_run_off_the_event_loop_under_ainvoke(saver: Any) -> None:
    ticks = [0]
    advanced: list[int] = []
    sync_done = threading.Event()

    def blocking(state: Log) -> dict[str, Any]:
        before = ticks[0]
        time.sleep(0.3)
        advanced.append(ticks[0] - before)
        sync_done.set()
        return {"log": ["blocking"]}

    async def ticker(state: Log) -> dict[str, Any]:
        for _ in range(500):  # at most 5 s
            if sync_done.is_set():
                break
            ticks[0] += 1
            await asyncio.sleep(0.01)
        return {"log": ["ticker"]}

    builder = StateGraph(Log).add_node("blocking", blocking).add_node("ticker", ticker)
    builder.add_edge(START, "blocking").add_edge(START, "ticker")
    graph = builder.compile(checkpointer=saver)

    result = asyncio.run(asyncio.wait_for(graph.ainvoke({"log": []}, T), timeout=10))

    assert sorted(result["log"]) == ["blocking", "ticker"]
    (during,) = advanced
    assert during >= 5, f"the event loop ticked only {during} times while the sync node slept"
