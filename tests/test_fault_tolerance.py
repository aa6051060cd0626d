"""A node that fails: what reaches the caller, what is kept, and resuming with invoke(None, ...)."""

import operator
import threading
from typing import Annotated, Any, Callable, TypedDict

import pytest

from cairn.graph import START, StateGraph
from cairn.types import RetryPolicy, Send
from tests.support import history, steps, thread

T = thread("f")


class Log(TypedDict):
    log: Annotated[list, operator.add]
    a: str
    b: str


class Flaky:
    """Node functions that record their calls and fail while told to."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failing: dict[str, BaseException] = {}

    def node(self, name: str, update: dict[str, Any] | None = None) -> Callable[[Any], Any]:
        def run(state: Any) -> Any:
            self.calls.append(name)
            if name in self.failing:
                raise self.failing[name]
            return {"log": [name], **(update or {})}

        return run


def sequence(flaky: Flaky, saver: Any) -> Any:
    """first -> second -> third."""
    builder = StateGraph(Log)
    builder.add_node("first", flaky.node("first", {"a": "A"}))
    builder.add_node("second", flaky.node("second", {"b": "B"}))
    builder.add_node("third", flaky.node("third"))
    builder.add_edge(START, "first").add_edge("first", "second").add_edge("second", "third")
    return builder.compile(checkpointer=saver)


def parallel_then_join(flaky: Flaky, saver: Any, a_done: threading.Event | None = None) -> Any:
    """START -> a, START -> b (in one step); [a, b] -> c."""
    run_a = flaky.node("a", {"a": "A"})

    def a(state: Any) -> Any:
        result = run_a(state)
        if a_done is not None:
            a_done.set()
        return result

    run_b = flaky.node("b", {"b": "B"})

    def b(state: Any) -> Any:
        if a_done is not None:
            a_done.wait(timeout=5)  # fail only once the sibling has finished
        return run_b(state)

    builder = StateGraph(Log).add_node("a", a).add_node("b", b).add_node("c", flaky.node("c"))
    builder.add_edge(START, "a").add_edge(START, "b").add_edge(["a", "b"], "c")
    return builder.compile(checkpointer=saver)


# --- the error reaches the caller -----------------------------------------------


def test_node_exception_reaches_the_caller_unchanged(saver: Any) -> None:
    flaky = Flaky()
    error = ValueError("boom")
    flaky.failing["second"] = error
    with pytest.raises(ValueError) as excinfo:
        sequence(flaky, saver).invoke({"log": []}, T)
    assert excinfo.value is error


def test_keyboard_interrupt_in_a_node_reaches_the_caller_unchanged(saver: Any) -> None:
    flaky = Flaky()
    interrupt = KeyboardInterrupt()
    flaky.failing["second"] = interrupt
    with pytest.raises(KeyboardInterrupt) as excinfo:
        sequence(flaky, saver).invoke({"log": []}, T)
    assert excinfo.value is interrupt


# --- what is kept ---------------------------------------------------------------


def test_failed_step_leaves_the_last_good_checkpoint_as_head(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["second"] = ValueError("boom")
    graph = sequence(flaky, saver)
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["first"], "a": "A"}
    assert snapshot.next == ("second",)
    assert snapshot.metadata["step"] == 1
    assert steps(history(graph, T)) == [1, 0, -1]


def test_failed_task_error_is_recorded_on_its_task(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["second"] = ValueError("boom")
    graph = sequence(flaky, saver)
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    (task,) = graph.get_state(T).tasks
    assert task.name == "second"
    assert task.error == "ValueError('boom')"
    assert task.result is None


def test_succeeded_sibling_is_listed_with_its_result_and_the_failed_one_with_its_error(
    saver: Any,
) -> None:
    flaky = Flaky()
    flaky.failing["b"] = ValueError("boom")
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    tasks = {task.name: task for task in graph.get_state(T).tasks}
    assert set(tasks) == {"a", "b"}
    assert tasks["a"].error is None
    assert tasks["a"].result == {"log": ["a"], "a": "A"}
    assert tasks["b"].error == "ValueError('boom')"
    assert tasks["b"].result is None


def test_snapshot_after_a_failed_step_shows_succeeded_sibling_writes(saver: Any) -> None:
    # As LangGraph: the pending writes of tasks that succeeded are shown in
    # values, and `next` lists only what is left to run.
    flaky = Flaky()
    flaky.failing["b"] = ValueError("boom")
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["a"], "a": "A"}
    assert snapshot.next == ("b",)
    assert snapshot.metadata["step"] == 0


# --- resuming -------------------------------------------------------------------


def test_resume_runs_only_the_failed_node_and_what_follows(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["second"] = ValueError("boom")
    graph = sequence(flaky, saver)
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    del flaky.failing["second"]

    result = graph.invoke(None, T)

    assert result == {"log": ["first", "second", "third"], "a": "A", "b": "B"}
    assert flaky.calls == ["first", "second", "second", "third"]
    assert steps(history(graph, T)) == [3, 2, 1, 0, -1]


def test_resume_runs_only_failed_task(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["b"] = ValueError("boom")
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    del flaky.failing["b"]

    result = graph.invoke(None, T)

    assert flaky.calls.count("a") == 1
    assert flaky.calls.count("b") == 2
    assert flaky.calls.count("c") == 1
    assert result == {"log": ["a", "b", "c"], "a": "A", "b": "B"}


def test_resumed_step_is_saved_as_one_checkpoint_with_both_writes(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["b"] = ValueError("boom")
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    del flaky.failing["b"]
    graph.invoke(None, T)

    snapshots = history(graph, T)
    assert steps(snapshots) == [2, 1, 0, -1]
    step_1 = snapshots[1]
    assert step_1.values == {"log": ["a", "b"], "a": "A", "b": "B"}
    assert step_1.metadata["writes"] == {
        "a": {"log": ["a"], "a": "A"},
        "b": {"log": ["b"], "b": "B"},
    }
    assert step_1.next == ("c",)


def test_resume_after_keyboard_interrupt_runs_only_what_is_left(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["second"] = KeyboardInterrupt()
    graph = sequence(flaky, saver)
    with pytest.raises(KeyboardInterrupt):
        graph.invoke({"log": []}, T)
    assert graph.get_state(T).next == ("second",)
    del flaky.failing["second"]

    result = graph.invoke(None, T)

    assert result == {"log": ["first", "second", "third"], "a": "A", "b": "B"}
    assert flaky.calls == ["first", "second", "second", "third"]


def test_resume_after_failure_of_the_first_node(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["first"] = ConnectionError("down")
    graph = sequence(flaky, saver)
    with pytest.raises(ConnectionError):
        graph.invoke({"log": ["in"]}, T)
    assert graph.get_state(T).values == {"log": ["in"]}
    assert graph.get_state(T).next == ("first",)
    del flaky.failing["first"]

    assert graph.invoke(None, T)["log"] == ["in", "first", "second", "third"]


def test_failing_again_on_resume_keeps_the_thread_resumable(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["second"] = ValueError("boom")
    graph = sequence(flaky, saver)
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    flaky.failing["second"] = ValueError("boom again")
    with pytest.raises(ValueError, match="boom again"):
        graph.invoke(None, T)
    assert graph.get_state(T).tasks[0].error == "ValueError('boom again')"
    del flaky.failing["second"]

    assert graph.invoke(None, T)["log"] == ["first", "second", "third"]
    assert flaky.calls == ["first", "second", "second", "second", "third"]


def test_resume_after_keyboard_interrupt_keeps_the_parallel_siblings_write(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["b"] = KeyboardInterrupt()
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(KeyboardInterrupt):
        graph.invoke({"log": []}, T)
    snapshot = graph.get_state(T)
    assert snapshot.next == ("b",)
    assert {t.name: t.error for t in snapshot.tasks} == {"a": None, "b": "KeyboardInterrupt()"}
    del flaky.failing["b"]

    assert graph.invoke(None, T)["log"] == ["a", "b", "c"]
    assert flaky.calls == ["a", "b", "b", "c"]


def test_resume_reruns_only_the_failed_send_task(saver: Any) -> None:
    calls: list[str] = []

    def gen(subject: str) -> dict[str, Any]:
        calls.append(subject)
        if subject == "bad" and calls.count("bad") == 1:
            raise ValueError("send fail")
        return {"log": [subject]}

    builder = StateGraph(Log).add_node("gen", gen)
    builder.add_conditional_edges(
        START, lambda s: [Send("gen", "ok1"), Send("gen", "bad"), Send("gen", "ok2")]
    )
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    snapshot = graph.get_state(T)
    assert [(t.name, t.error, t.result) for t in snapshot.tasks] == [
        ("gen", None, {"log": ["ok1"]}),
        ("gen", "ValueError('send fail')", None),
        ("gen", None, {"log": ["ok2"]}),
    ]

    assert graph.invoke(None, T) == {"log": ["ok1", "bad", "ok2"]}
    assert sorted(calls) == ["bad", "bad", "ok1", "ok2"]


def test_new_input_on_a_thread_with_a_failed_step_drops_the_pending_tasks(saver: Any) -> None:
    flaky = Flaky()
    flaky.failing["b"] = ValueError("boom")
    graph = parallel_then_join(flaky, saver, threading.Event())
    with pytest.raises(ValueError):
        graph.invoke({"log": []}, T)
    del flaky.failing["b"]

    result = graph.invoke({"log": ["x"]}, T)

    # a's pending write from the failed run is dropped: a runs again in the new run
    assert result == {"log": ["x", "a", "b", "c"], "a": "A", "b": "B"}
    assert flaky.calls == ["a", "b", "a", "b", "c"]
    snapshots = history(graph, T)
    assert steps(snapshots) == [4, 3, 2, 1, 0, -1]
    assert snapshots[3].metadata["source"] == "input"
    assert snapshots[3].values == {"log": []}


# --- retries --------------------------------------------------------------------


def test_retry_policy_retries_in_place_until_success(saver: Any) -> None:
    attempts: list[int] = []

    def flaky(state: Log) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("flaky")
        return {"log": ["ok"]}

    policy = RetryPolicy(
        max_attempts=3, initial_interval=0.001, jitter=False, retry_on=ConnectionError
    )
    builder = StateGraph(Log).add_node("flaky", flaky, retry_policy=policy)
    graph = builder.add_edge(START, "flaky").compile(checkpointer=saver)
    assert graph.invoke({"log": []}, T) == {"log": ["ok"]}
    assert len(attempts) == 3
    assert steps(history(graph, T)) == [1, 0, -1]


@pytest.mark.parametrize(
    "error, tries", [(ConnectionError("down"), 3), (ValueError("bug"), 1)], ids=["retried", "not-retried"]
)
def test_retry_policy_gives_up_after_max_attempts_and_never_retries_other_errors(
    saver: Any, error: Exception, tries: int
) -> None:
    attempts: list[int] = []

    def failing(state: Log) -> dict[str, Any]:
        attempts.append(1)
        raise error

    policy = RetryPolicy(
        max_attempts=3, initial_interval=0.001, jitter=False, retry_on=ConnectionError
    )
    builder = StateGraph(Log).add_node("failing", failing, retry_policy=policy)
    graph = builder.add_edge(START, "failing").compile(checkpointer=saver)
    with pytest.raises(type(error)):
        graph.invoke({"log": []}, T)
    assert len(attempts) == tries
    assert graph.get_state(T).tasks[0].error == repr(error)


def test_default_retry_policy_retries_connection_errors_but_not_value_errors() -> None:
    attempts: list[str] = []

    def node(error: Exception) -> Callable[[Log], dict[str, Any]]:
        def run(state: Log) -> dict[str, Any]:
            attempts.append(type(error).__name__)
            if attempts.count(type(error).__name__) < 2:
                raise error
            return {"log": ["ok"]}

        return run

    policy = RetryPolicy(initial_interval=0.001, jitter=False)
    down = StateGraph(Log).add_node("n", node(ConnectionError("down")), retry_policy=policy)
    assert down.add_edge(START, "n").compile().invoke({"log": []}) == {"log": ["ok"]}
    bug = StateGraph(Log).add_node("n", node(ValueError("bug")), retry_policy=policy)
    with pytest.raises(ValueError):
        bug.add_edge(START, "n").compile().invoke({"log": []})
    assert attempts == ["ConnectionError", "ConnectionError", "ValueError"]


# --- durability -----------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_every_durability_mode_ends_with_the_same_head(saver: Any, durability: str) -> None:
    flaky = Flaky()
    graph = sequence(flaky, saver)
    result = graph.invoke({"log": []}, T, durability=durability)
    assert result == {"log": ["first", "second", "third"], "a": "A", "b": "B"}
    head = graph.get_state(T)
    assert head.values == result
    assert head.next == ()
    assert head.metadata["step"] == 3


def test_a_router_on_start_that_fails_leaves_the_input_stored_and_resumable(saver: Any) -> None:
    # The input checkpoint is committed together with the step that applies
    # the input; when that step fails, the input checkpoint is stored alone.
    broken = [True]

    def route(state: Any) -> str:
        if broken[0]:
            raise RuntimeError("router down")
        return "first"

    flaky = Flaky()
    builder = StateGraph(Log)
    builder.add_node("first", flaky.node("first", {"a": "A"}))
    builder.add_conditional_edges(START, route, ["first"])
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(RuntimeError, match="router down"):
        graph.invoke({"log": ["in"]}, T)
    head = graph.get_state(T)
    assert steps(history(graph, T)) == [-1]
    assert head.next == ("__start__",)
    assert "router down" in (head.tasks[0].error or "")
    broken[0] = False
    assert graph.invoke(None, T) == {"log": ["in", "first"], "a": "A"}
    assert steps(history(graph, T)) == [1, 0, -1]
    assert flaky.calls == ["first"]
