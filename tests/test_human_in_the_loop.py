"""Human in the loop (SPEC section 7): interrupt(), Command(resume=...),
interrupt_before / interrupt_after, and editing the state while paused.

Where LangGraph 1.2.22 decides a detail (a result's shape, what get_state
shows), the test asserts what LangGraph does; where cairn raises on purpose
(resuming a thread with nothing pending, an unknown interrupt id), the test
asserts cairn's error and that its message names the offending value.
"""

from __future__ import annotations

import asyncio
import operator
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import (
    CairnError,
    ConfigError,
    EmptyInputError,
    GraphValidationError,
    InvalidResumeError,
)
from cairn.graph import START, StateGraph
from cairn.types import Command, Interrupt, Send, interrupt
from tests.conftest import SAVER_URLS
from tests.support import history, steps, thread

T = thread("hitl")


class Log(TypedDict):
    log: Annotated[list, operator.add]
    answer: str
    x: int


class Calls:
    """Counts how often each point in the nodes was reached."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, name: str) -> None:
        self.seen.append(name)

    def count(self, name: str) -> int:
        return self.seen.count(name)


# --- graphs -----------------------------------------------------------------------


def ask_graph(saver: Any, calls: Calls) -> Any:
    """START -> prep -> ask (interrupts) -> after."""

    def prep(state: Log) -> dict[str, Any]:
        calls("prep")
        return {"log": ["prep"]}

    def ask(state: Log) -> dict[str, Any]:
        calls("ask:before")
        answer = interrupt({"question": "name?"})
        calls("ask:after")
        return {"answer": answer, "log": [f"ask:{answer}"]}

    def after(state: Log) -> dict[str, Any]:
        calls("after")
        return {"log": [f"after:{state['answer']}"]}

    builder = StateGraph(Log).add_node("prep", prep).add_node("ask", ask).add_node("after", after)
    builder.add_edge(START, "prep").add_edge("prep", "ask").add_edge("ask", "after")
    return builder.compile(checkpointer=saver)


def twice_graph(saver: Any, calls: Calls) -> Any:
    """START -> twice, a node with two interrupt() calls."""

    def twice(state: Log) -> dict[str, Any]:
        calls("start")
        first = interrupt("first?")
        calls("between")
        second = interrupt("second?")
        calls("end")
        return {"answer": f"{first},{second}", "log": ["twice"]}

    builder = StateGraph(Log).add_node("twice", twice).add_edge(START, "twice")
    return builder.compile(checkpointer=saver)


def parallel_graph(saver: Any, calls: Calls) -> Any:
    """START -> a and START -> b (one step), each interrupting; [a, b] -> c."""

    def asker(name: str) -> Callable[[Log], dict[str, Any]]:
        def run(state: Log) -> dict[str, Any]:
            calls(name)
            answer = interrupt(f"{name}?")
            return {"log": [f"{name}={answer}"]}

        return run

    def c(state: Log) -> dict[str, Any]:
        calls("c")
        return {"log": ["c"]}

    builder = StateGraph(Log).add_node("a", asker("a")).add_node("b", asker("b")).add_node("c", c)
    builder.add_edge(START, "a").add_edge(START, "b").add_edge(["a", "b"], "c")
    return builder.compile(checkpointer=saver)


def abc_graph(saver: Any, calls: Calls, **compile_options: Any) -> Any:
    """START -> a -> b -> c; each node logs its name and the x it saw."""

    def node(name: str) -> Callable[[Log], dict[str, Any]]:
        def run(state: Log) -> dict[str, Any]:
            calls(f"{name}:{state.get('x')}")
            return {"log": [name]}

        return run

    builder = StateGraph(Log).add_node("a", node("a")).add_node("b", node("b"))
    builder.add_node("c", node("c"))
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c")
    return builder.compile(checkpointer=saver, **compile_options)


def ids_by_value(result: dict[str, Any]) -> dict[Any, str]:
    return {i.value: i.id for i in result["__interrupt__"]}


@contextmanager
def reopened(saver: Any, tmp_path: Path) -> Iterator[Any]:
    """A second saver on the same store, as another process would open it
    (the in-memory saver itself: its checkpoints live in this process only)."""
    if isinstance(saver, SqliteSaver):
        with SqliteSaver(tmp_path / "checkpoints.db") as again:
            yield again
    elif id(saver) in SAVER_URLS:
        from cairn.checkpoint.postgres import PostgresSaver

        with PostgresSaver(SAVER_URLS[id(saver)], pool_size=2) as again:
            yield again
    else:
        yield saver


# --- one interrupt -------------------------------------------------------------------


def test_interrupt_returns_the_state_with_the_pending_interrupt(saver: Any) -> None:
    graph = ask_graph(saver, Calls())
    result = graph.invoke({"log": []}, T)
    (pending,) = result["__interrupt__"]
    assert isinstance(pending, Interrupt)
    assert pending.value == {"question": "name?"}
    assert isinstance(pending.id, str) and pending.id
    assert result == {
        "log": ["prep"],
        "__interrupt__": [Interrupt({"question": "name?"}, pending.id)],
    }


def test_get_state_shows_the_pending_interrupt_and_the_node_that_is_next(saver: Any) -> None:
    graph = ask_graph(saver, Calls())
    result = graph.invoke({"log": []}, T)
    (pending,) = result["__interrupt__"]

    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["prep"]}
    assert snapshot.next == ("ask",)
    assert snapshot.interrupts == (pending,)
    (task,) = snapshot.tasks
    assert task.name == "ask"
    assert task.interrupts == (pending,)
    assert task.error is None
    assert task.result is None
    # The interrupted step made no checkpoint: the head is the one after prep.
    assert snapshot.metadata["step"] == 1
    assert steps(history(graph, T)) == [1, 0, -1]


def test_resume_continues_and_interrupt_returns_the_answer(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    graph.invoke({"log": []}, T)

    result = graph.invoke(Command(resume="Ada"), T)

    assert result == {"log": ["prep", "ask:Ada", "after:Ada"], "answer": "Ada"}
    snapshot = graph.get_state(T)
    assert snapshot.values == result
    assert snapshot.next == ()
    assert snapshot.interrupts == ()
    assert steps(history(graph, T)) == [3, 2, 1, 0, -1]
    assert history(graph, T)[1].metadata["writes"] == {
        "ask": {"answer": "Ada", "log": ["ask:Ada"]}
    }


def test_a_dict_answer_is_passed_through_and_may_also_be_given_by_id(saver: Any) -> None:
    graph = ask_graph(saver, Calls())
    graph.invoke({"log": []}, T)
    done = graph.invoke(Command(resume={"name": "Ada", "approved": True}), T)
    assert done["answer"] == {"name": "Ada", "approved": True}

    other = thread("by-id")
    (pending,) = graph.invoke({"log": []}, other)["__interrupt__"]
    done = graph.invoke(Command(resume={pending.id: {"name": "Grace"}}), other)
    assert done["answer"] == {"name": "Grace"}


def test_code_before_the_interrupt_runs_again_on_resume(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    graph.invoke({"log": []}, T)
    assert calls.seen == ["prep", "ask:before"]

    graph.invoke(Command(resume="Ada"), T)

    assert calls.seen == ["prep", "ask:before", "ask:before", "ask:after", "after"]


def test_a_node_with_two_interrupts_needs_two_resumes_answered_in_order(saver: Any) -> None:
    calls = Calls()
    graph = twice_graph(saver, calls)

    first = graph.invoke({"log": []}, T)
    assert [i.value for i in first["__interrupt__"]] == ["first?"]

    second = graph.invoke(Command(resume="one"), T)
    assert [i.value for i in second["__interrupt__"]] == ["second?"]
    assert second["__interrupt__"][0].id != first["__interrupt__"][0].id
    snapshot = graph.get_state(T)
    assert snapshot.next == ("twice",)
    assert snapshot.interrupts == tuple(second["__interrupt__"])
    assert snapshot.tasks[0].interrupts == tuple(second["__interrupt__"])

    done = graph.invoke(Command(resume="two"), T)
    assert done == {"log": ["twice"], "answer": "one,two"}
    assert "__interrupt__" not in done
    assert calls.seen == ["start", "start", "between", "start", "between", "end"]
    assert steps(history(graph, T)) == [1, 0, -1]


def test_invoke_none_on_a_paused_thread_asks_the_same_question_again(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    (first,) = graph.invoke({"log": []}, T)["__interrupt__"]

    again = graph.invoke(None, T)

    assert again == {"log": ["prep"], "__interrupt__": [first]}
    assert calls.seen == ["prep", "ask:before", "ask:before"]
    assert steps(history(graph, T)) == [1, 0, -1]
    assert graph.invoke(Command(resume="Ada"), T)["answer"] == "Ada"


def test_a_new_input_on_a_paused_thread_drops_the_pending_interrupt(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    (old,) = graph.invoke({"log": []}, T)["__interrupt__"]

    restarted = graph.invoke({"log": ["new"]}, T)

    (new,) = restarted["__interrupt__"]
    assert new.id != old.id
    assert restarted["log"] == ["prep", "new", "prep"]
    assert graph.get_state(T).interrupts == (new,)
    assert [(s.metadata["step"], s.metadata["source"]) for s in history(graph, T)] == [
        (4, "loop"),
        (3, "loop"),
        (2, "input"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]
    with pytest.raises(InvalidResumeError, match=old.id):
        graph.invoke(Command(resume={old.id: "stale"}), T)
    done = graph.invoke(Command(resume={new.id: "Ada"}), T)
    assert done == {"log": ["prep", "new", "prep", "ask:Ada", "after:Ada"], "answer": "Ada"}


def test_update_state_while_paused_at_an_interrupt_then_ask_again(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    graph.invoke({"log": []}, T)

    graph.update_state(T, {"log": ["edited"]})

    # As LangGraph: the edit is a new checkpoint with ask next and no pending interrupt.
    snapshot = graph.get_state(T)
    assert snapshot.values == {"log": ["prep", "edited"]}
    assert snapshot.next == ("ask",)
    assert snapshot.interrupts == ()
    assert snapshot.metadata["source"] == "update"

    (asked,) = graph.invoke(None, T)["__interrupt__"]
    assert graph.get_state(T).interrupts == (asked,)
    done = graph.invoke(Command(resume="Ada"), T)
    assert done == {"log": ["prep", "edited", "ask:Ada", "after:Ada"], "answer": "Ada"}


# --- several interrupts pending at once -------------------------------------------


def test_parallel_interrupts_are_both_pending_with_distinct_ids(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())
    result = graph.invoke({"log": []}, T)

    pending = result["__interrupt__"]
    assert sorted(i.value for i in pending) == ["a?", "b?"]
    assert len({i.id for i in pending}) == 2
    snapshot = graph.get_state(T)
    assert snapshot.next == ("a", "b")
    by_value = lambda i: i.value  # noqa: E731
    assert sorted(snapshot.interrupts, key=by_value) == sorted(pending, key=by_value)
    by_name = {t.name: t.interrupts for t in snapshot.tasks}
    assert [i.value for i in by_name["a"]] == ["a?"]
    assert [i.value for i in by_name["b"]] == ["b?"]


def test_resuming_with_a_map_of_ids_resumes_both_with_their_own_answers(saver: Any) -> None:
    calls = Calls()
    graph = parallel_graph(saver, calls)
    ids = ids_by_value(graph.invoke({"log": []}, T))

    result = graph.invoke(Command(resume={ids["a?"]: "x", ids["b?"]: "y"}), T)

    assert result == {"log": ["a=x", "b=y", "c"]}
    assert calls.count("a") == 2 and calls.count("b") == 2 and calls.count("c") == 1
    assert graph.get_state(T).interrupts == ()
    # Both answers complete the one step that was interrupted: no extra checkpoint.
    assert steps(history(graph, T)) == [2, 1, 0, -1]


def test_a_plain_resume_with_two_interrupts_pending_raises_naming_the_ids(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())
    ids = ids_by_value(graph.invoke({"log": []}, T))

    with pytest.raises(InvalidResumeError) as caught:
        graph.invoke(Command(resume="plain"), T)

    assert isinstance(caught.value, ValueError)
    assert ids["a?"] in str(caught.value) and ids["b?"] in str(caught.value)
    # Nothing was answered: both are still pending and can be resumed by id.
    assert len(graph.get_state(T).interrupts) == 2
    result = graph.invoke(Command(resume={ids["a?"]: "x", ids["b?"]: "y"}), T)
    assert result == {"log": ["a=x", "b=y", "c"]}


def test_resuming_one_id_leaves_the_other_pending(saver: Any) -> None:
    calls = Calls()
    graph = parallel_graph(saver, calls)
    ids = ids_by_value(graph.invoke({"log": []}, T))

    partial = graph.invoke(Command(resume={ids["a?"]: "x"}), T)

    assert partial["__interrupt__"] == [Interrupt("b?", ids["b?"])]
    snapshot = graph.get_state(T)
    assert snapshot.next == ("b",)
    assert snapshot.values == {"log": ["a=x"]}
    assert {t.name: t.result for t in snapshot.tasks} == {"a": {"log": ["a=x"]}, "b": None}
    assert [i.id for t in snapshot.tasks if t.name == "b" for i in t.interrupts] == [ids["b?"]]

    done = graph.invoke(Command(resume={ids["b?"]: "y"}), T)

    assert done == {"log": ["a=x", "b=y", "c"]}
    assert calls.count("a") == 2  # a's answered run is kept, not run a third time
    assert calls.count("b") == 3
    assert steps(history(graph, T)) == [2, 1, 0, -1]


def test_interrupts_in_send_tasks_are_answered_each_by_its_id(saver: Any) -> None:
    class Fan(TypedDict):
        log: Annotated[list, operator.add]
        items: list

    def worker(arg: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt(f"item {arg['i']}?")
        return {"log": [f"{arg['i']}={answer}"]}

    builder = StateGraph(Fan).add_node("prep", lambda s: {}).add_node("worker", worker)
    builder.add_edge(START, "prep")
    builder.add_conditional_edges("prep", lambda s: [Send("worker", {"i": i}) for i in s["items"]])
    graph = builder.compile(checkpointer=saver)

    paused = graph.invoke({"log": [], "items": [3, 1, 2]}, T)

    assert [i.value for i in paused["__interrupt__"]] == ["item 3?", "item 1?", "item 2?"]
    assert graph.get_state(T).next == ("worker", "worker", "worker")
    ids = ids_by_value(paused)
    answers = {ids["item 1?"]: "one", ids["item 2?"]: "two", ids["item 3?"]: "three"}
    done = graph.invoke(Command(resume=answers), T)
    assert done == {"log": ["3=three", "1=one", "2=two"], "items": [3, 1, 2]}


def test_an_answered_interrupt_is_no_longer_listed_after_a_partial_resume(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())
    ids = ids_by_value(graph.invoke({"log": []}, T))

    graph.invoke(Command(resume={ids["a?"]: "x"}), T)

    snapshot = graph.get_state(T)
    assert snapshot.interrupts == (Interrupt("b?", ids["b?"]),)
    assert {t.name: t.interrupts for t in snapshot.tasks} == {
        "a": (),
        "b": (Interrupt("b?", ids["b?"]),),
    }


def test_a_plain_resume_answers_the_one_interrupt_left_after_a_partial_resume(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())
    ids = ids_by_value(graph.invoke({"log": []}, T))
    graph.invoke(Command(resume={ids["a?"]: "x"}), T)

    assert graph.invoke(Command(resume="y"), T) == {"log": ["a=x", "b=y", "c"]}


def test_the_interrupted_result_holds_what_finished_siblings_wrote(saver: Any) -> None:
    def done(state: Log) -> dict[str, Any]:
        return {"log": ["done"]}

    def ask(state: Log) -> dict[str, Any]:
        return {"answer": interrupt("ask?")}

    builder = StateGraph(Log).add_node("done", done).add_node("ask", ask)
    graph = builder.add_edge(START, "done").add_edge(START, "ask").compile(checkpointer=saver)

    result = graph.invoke({"log": []}, T)

    # As LangGraph: the result is the state get_state shows, plus the interrupts.
    assert graph.get_state(T).values == {"log": ["done"]}
    assert result == {"log": ["done"], "__interrupt__": result["__interrupt__"]}


def test_a_plain_resume_with_two_pending_is_caught_as_langgraph_code_catches_it(
    saver: Any,
) -> None:
    graph = parallel_graph(saver, Calls())
    graph.invoke({"log": []}, T)
    with pytest.raises(RuntimeError):
        graph.invoke(Command(resume="plain"), T)


def test_an_unknown_interrupt_id_raises_naming_it(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())
    ids = ids_by_value(graph.invoke({"log": []}, T))
    unknown = "0123456789abcdef0123456789abcdef"

    with pytest.raises(InvalidResumeError, match=unknown):
        graph.invoke(Command(resume={ids["a?"]: "x", unknown: "z"}), T)

    # The call answered nothing: a is not resumed on its own.
    assert len(graph.get_state(T).interrupts) == 2
    assert graph.get_state(T).values == {"log": []}


# --- resuming what cannot be resumed -------------------------------------------------


def test_resuming_a_finished_thread_raises_invalid_resume(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    graph.invoke({"log": []}, T)
    graph.invoke(Command(resume="Ada"), T)
    head = graph.get_state(T)

    with pytest.raises(InvalidResumeError, match="no pending interrupt") as caught:
        graph.invoke(Command(resume="again"), T)

    assert "'hitl'" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert graph.get_state(T) == head
    assert calls.count("ask:before") == 2


def test_an_answer_to_a_thread_that_finished_raises_and_says_use_none(saver: Any) -> None:
    # (At a static breakpoint, Command(resume=...) goes on as None does, as in
    # LangGraph: tests/test_nested_pauses.py.)
    graph = abc_graph(saver, Calls())
    graph.invoke({"log": [], "x": 1}, T)

    with pytest.raises(InvalidResumeError, match=r"invoke\(None, config\)"):
        graph.invoke(Command(resume="yes"), T)

    assert graph.get_state(T).values == {"log": ["a", "b", "c"], "x": 1}


def test_resuming_a_thread_with_no_checkpoints_raises_a_clear_error(saver: Any) -> None:
    graph = ask_graph(saver, Calls())

    with pytest.raises(EmptyInputError, match="no checkpoints") as caught:
        graph.invoke(Command(resume="Ada"), thread("never-used"))

    assert "'never-used'" in str(caught.value)
    assert isinstance(caught.value, (CairnError, ValueError))
    assert history(graph, thread("never-used")) == []


# --- interrupts are stored ----------------------------------------------------------


def test_a_pending_interrupt_is_resumed_by_a_new_saver_and_graph(
    saver: Any, tmp_path: Path
) -> None:
    first = ask_graph(saver, Calls())
    (pending,) = first.invoke({"log": []}, T)["__interrupt__"]

    calls = Calls()
    with reopened(saver, tmp_path) as again:
        second = ask_graph(again, calls)
        snapshot = second.get_state(T)
        assert snapshot.next == ("ask",)
        assert snapshot.interrupts == (pending,)

        result = second.invoke(Command(resume={pending.id: "Grace"}), T)

        assert result == {"log": ["prep", "ask:Grace", "after:Grace"], "answer": "Grace"}
        assert calls.seen == ["ask:before", "ask:after", "after"]
        assert steps(history(second, T)) == [3, 2, 1, 0, -1]


CHILD = """
import operator, sys
from typing import Annotated, TypedDict
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.graph import START, StateGraph
from cairn.types import interrupt

class State(TypedDict):
    log: Annotated[list, operator.add]
    answer: str

def ask(state):
    return {"answer": interrupt("approve?"), "log": ["ask"]}

def after(state):
    return {"log": ["after:" + state["answer"]]}

builder = StateGraph(State).add_node("ask", ask).add_node("after", after)
builder.add_edge(START, "ask").add_edge("ask", "after")
graph = builder.compile(checkpointer=SqliteSaver(sys.argv[1]))
result = graph.invoke({"log": []}, {"configurable": {"thread_id": "proc"}})
print(result["__interrupt__"][0].id)
"""


def test_an_interrupt_from_another_process_is_resumed_from_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "hitl.db"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    done = subprocess.run(
        [sys.executable, str(script), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    interrupt_id = done.stdout.strip()

    class State(TypedDict):
        log: Annotated[list, operator.add]
        answer: str

    def ask(state: State) -> dict[str, Any]:
        return {"answer": interrupt("approve?"), "log": ["ask"]}

    def after(state: State) -> dict[str, Any]:
        return {"log": ["after:" + state["answer"]]}

    builder = StateGraph(State).add_node("ask", ask).add_node("after", after)
    builder.add_edge(START, "ask").add_edge("ask", "after")
    with SqliteSaver(path) as sqlite_saver:
        graph = builder.compile(checkpointer=sqlite_saver)
        config = thread("proc")
        assert graph.get_state(config).interrupts == (Interrupt("approve?", interrupt_id),)
        result = graph.invoke(Command(resume="yes"), config)
        assert result == {"log": ["ask", "after:yes"], "answer": "yes"}


# --- replay ----------------------------------------------------------------------------


def test_replaying_from_before_the_interrupt_fires_it_again(saver: Any) -> None:
    calls = Calls()
    graph = ask_graph(saver, calls)
    graph.invoke({"log": []}, T)
    graph.invoke(Command(resume="Ada"), T)
    before_ask = next(s for s in history(graph, T) if s.next == ("ask",))

    replayed = graph.invoke(None, before_ask.config)

    (again,) = replayed["__interrupt__"]
    assert again.value == {"question": "name?"}
    assert replayed == {"log": ["prep"], "__interrupt__": [again]}
    assert calls.count("ask:before") == 3
    assert calls.count("prep") == 1


def test_an_interrupt_fired_by_a_replay_can_be_resumed(saver: Any) -> None:
    graph = ask_graph(saver, Calls())
    graph.invoke({"log": []}, T)
    graph.invoke(Command(resume="Ada"), T)
    before_ask = next(s for s in history(graph, T) if s.next == ("ask",))
    (again,) = graph.invoke(None, before_ask.config)["__interrupt__"]

    # As LangGraph: the replayed branch is where the thread now stands.
    snapshot = graph.get_state(T)
    assert snapshot.next == ("ask",)
    assert snapshot.interrupts == (again,)
    result = graph.invoke(Command(resume="Grace"), T)
    assert result == {"log": ["prep", "ask:Grace", "after:Grace"], "answer": "Grace"}


# --- interrupt_before / interrupt_after ----------------------------------------------


def test_interrupt_before_at_compile_stops_before_the_node(saver: Any) -> None:
    calls = Calls()
    graph = abc_graph(saver, calls, interrupt_before=["b"])

    result = graph.invoke({"log": [], "x": 1}, T)

    assert result == {"log": ["a"], "x": 1}
    snapshot = graph.get_state(T)
    assert snapshot.next == ("b",)
    assert snapshot.interrupts == ()
    assert [t.name for t in snapshot.tasks] == ["b"]
    assert steps(history(graph, T)) == [1, 0, -1]
    assert calls.seen == ["a:1"]

    assert graph.invoke(None, T) == {"log": ["a", "b", "c"], "x": 1}
    assert calls.seen == ["a:1", "b:1", "c:1"]
    assert steps(history(graph, T)) == [3, 2, 1, 0, -1]


def test_interrupt_after_at_compile_stops_after_the_node(saver: Any) -> None:
    calls = Calls()
    graph = abc_graph(saver, calls, interrupt_after=["a"])

    assert graph.invoke({"log": [], "x": 1}, T) == {"log": ["a"], "x": 1}
    snapshot = graph.get_state(T)
    assert snapshot.next == ("b",)
    assert snapshot.metadata["step"] == 1
    assert snapshot.interrupts == ()

    assert graph.invoke(None, T) == {"log": ["a", "b", "c"], "x": 1}
    assert calls.seen == ["a:1", "b:1", "c:1"]


def test_interrupt_before_and_after_per_call(saver: Any) -> None:
    calls = Calls()
    graph = abc_graph(saver, calls)

    assert graph.invoke({"log": [], "x": 1}, T, interrupt_before=["b"]) == {"log": ["a"], "x": 1}
    assert graph.get_state(T).next == ("b",)
    assert graph.invoke(None, T, interrupt_after=["b"]) == {"log": ["a", "b"], "x": 1}
    assert graph.get_state(T).next == ("c",)
    assert graph.invoke(None, T) == {"log": ["a", "b", "c"], "x": 1}
    assert calls.seen == ["a:1", "b:1", "c:1"]
    # Without the per-call options the same graph runs straight through.
    assert graph.invoke({"log": [], "x": 2}, thread("other")) == {"log": ["a", "b", "c"], "x": 2}


def test_per_call_interrupt_before_replaces_the_compiled_one(saver: Any) -> None:
    graph = abc_graph(saver, Calls(), interrupt_before=["b"])
    assert graph.invoke({"log": [], "x": 1}, T, interrupt_before=["c"]) == {
        "log": ["a", "b"],
        "x": 1,
    }
    assert graph.get_state(T).next == ("c",)


def test_interrupt_before_a_send_target_keeps_the_sends_for_the_resume(saver: Any) -> None:
    class Fan(TypedDict):
        items: list
        results: Annotated[list, operator.add]

    def fan(state: Fan) -> list[Send]:
        return [Send("work", {"i": i}) for i in state["items"]]

    builder = StateGraph(Fan).add_node("prep", lambda s: {})
    builder.add_node("work", lambda arg: {"results": [arg["i"]]})
    builder.add_edge(START, "prep").add_conditional_edges("prep", fan, ["work"])
    graph = builder.compile(checkpointer=saver, interrupt_before=["work"])

    assert graph.invoke({"items": [2, 1], "results": []}, T) == {"items": [2, 1], "results": []}
    assert graph.get_state(T).next == ("work", "work")
    assert graph.invoke(None, T) == {"items": [2, 1], "results": [2, 1]}


def test_interrupt_after_star_stops_after_every_node(saver: Any) -> None:
    graph = abc_graph(saver, Calls())
    seen = []
    result = graph.invoke({"log": [], "x": 1}, T, interrupt_after="*")
    while graph.get_state(T).next:
        seen.append((result["log"], graph.get_state(T).next))
        result = graph.invoke(None, T, interrupt_after="*")
    assert seen == [(["a"], ("b",)), (["a", "b"], ("c",))]
    assert result == {"log": ["a", "b", "c"], "x": 1}


@pytest.mark.parametrize("where", ["compile", "call"])
def test_interrupt_before_star_stops_before_every_node(saver: Any, where: str) -> None:
    graph = abc_graph(saver, Calls(), **({"interrupt_before": "*"} if where == "compile" else {}))
    options = {"interrupt_before": "*"} if where == "call" else {}

    # As LangGraph: the input is applied, and the run stops before the first node.
    assert graph.invoke({"log": [], "x": 1}, T, **options) == {"log": [], "x": 1}
    assert graph.get_state(T).next == ("a",)
    assert graph.invoke(None, T, **options) == {"log": ["a"], "x": 1}
    assert graph.get_state(T).next == ("b",)


def test_unknown_node_in_interrupt_before_at_compile_raises_naming_it() -> None:
    with pytest.raises(GraphValidationError, match="'nowhere'") as caught:
        abc_graph(InMemorySaver(), Calls(), interrupt_before=["b", "nowhere"])
    assert isinstance(caught.value, ValueError)
    with pytest.raises(GraphValidationError, match="'later'"):
        abc_graph(InMemorySaver(), Calls(), interrupt_after=["later"])


@pytest.mark.parametrize("option", ["interrupt_before", "interrupt_after"])
def test_unknown_node_in_a_per_call_interrupt_option_raises_config_error(
    saver: Any, option: str
) -> None:
    calls = Calls()
    graph = abc_graph(saver, calls)
    with pytest.raises(ConfigError, match="'nowhere'"):
        graph.invoke({"log": [], "x": 1}, T, **{option: ["nowhere"]})
    assert calls.seen == []
    assert history(graph, T) == []


def test_update_state_while_paused_before_a_node_is_what_the_node_sees(saver: Any) -> None:
    calls = Calls()
    graph = abc_graph(saver, calls, interrupt_before=["b"])
    graph.invoke({"log": [], "x": 1}, T)

    edited = graph.update_state(T, {"x": 42})

    snapshot = graph.get_state(T)
    assert snapshot.config == edited
    assert snapshot.values == {"log": ["a"], "x": 42}
    assert snapshot.next == ("b",)
    assert snapshot.metadata["source"] == "update"

    assert graph.invoke(None, T) == {"log": ["a", "b", "c"], "x": 42}
    assert calls.seen == ["a:1", "b:42", "c:42"]
    assert [(s.metadata["step"], s.metadata["source"]) for s in history(graph, T)] == [
        (4, "loop"),
        (3, "loop"),
        (2, "update"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]


# --- streaming a paused run ----------------------------------------------------------


def test_stream_shows_the_interrupt_as_langgraph_does(saver: Any) -> None:
    graph = ask_graph(saver, Calls())

    updates = list(graph.stream({"log": []}, T, stream_mode="updates"))
    (pending,) = graph.get_state(T).interrupts
    assert updates == [{"prep": {"log": ["prep"]}}, {"__interrupt__": (pending,)}]
    resumed = list(graph.stream(Command(resume="Ada"), T, stream_mode="updates"))
    assert resumed == [
        {"ask": {"answer": "Ada", "log": ["ask:Ada"]}},
        {"after": {"log": ["after:Ada"]}},
    ]

    values = list(graph.stream({"log": []}, thread("values"), stream_mode="values"))
    (pending,) = graph.get_state(thread("values")).interrupts
    assert values == [
        {"log": []},
        {"log": ["prep"]},
        {"log": ["prep"], "__interrupt__": (pending,)},
    ]


@pytest.mark.parametrize("how", ["command", "none"])
def test_a_resumed_stream_of_values_starts_with_the_state_it_resumes_from(
    saver: Any, how: str
) -> None:
    if how == "command":
        graph = ask_graph(saver, Calls())
        graph.invoke({"log": []}, T)
        chunks = list(graph.stream(Command(resume="Ada"), T, stream_mode="values"))
        assert chunks == [
            {"log": ["prep"]},
            {"log": ["prep", "ask:Ada"], "answer": "Ada"},
            {"log": ["prep", "ask:Ada", "after:Ada"], "answer": "Ada"},
        ]
    else:
        graph = abc_graph(saver, Calls(), interrupt_before=["b"])
        graph.invoke({"log": [], "x": 1}, T)
        chunks = list(graph.stream(None, T, stream_mode="values"))
        assert chunks == [
            {"log": ["a"], "x": 1},
            {"log": ["a", "b"], "x": 1},
            {"log": ["a", "b", "c"], "x": 1},
        ]


@pytest.mark.parametrize("option", ["interrupt_before", "interrupt_after"])
def test_a_static_interrupt_streams_an_empty_interrupt_chunk(saver: Any, option: str) -> None:
    graph = abc_graph(saver, Calls(), **{option: ["b"]})
    chunks = list(graph.stream({"log": [], "x": 1}, T, stream_mode="updates"))
    expected_a = [{"a": {"log": ["a"]}}]
    if option == "interrupt_after":
        expected_a.append({"b": {"log": ["b"]}})
    assert chunks == [*expected_a, {"__interrupt__": ()}]


# --- async twins ----------------------------------------------------------------------


def test_async_interrupt_and_resume(saver: Any) -> None:
    calls = Calls()

    async def ask(state: Log) -> dict[str, Any]:
        calls("ask")
        await asyncio.sleep(0)
        answer = interrupt("name?")
        return {"answer": answer, "log": [f"ask:{answer}"]}

    builder = StateGraph(Log).add_node("ask", ask).add_edge(START, "ask")
    graph = builder.compile(checkpointer=saver)

    async def main() -> tuple[Any, Any, Any, Any]:
        paused = await graph.ainvoke({"log": []}, T)
        snapshot = await graph.aget_state(T)
        done = await graph.ainvoke(Command(resume="Ada"), T)
        final = await graph.aget_state(T)
        return paused, snapshot, done, final

    paused, snapshot, done, final = asyncio.run(main())

    (pending,) = paused["__interrupt__"]
    assert paused == {"log": [], "__interrupt__": [Interrupt("name?", pending.id)]}
    assert snapshot.next == ("ask",)
    assert snapshot.interrupts == (pending,)
    assert snapshot.tasks[0].interrupts == (pending,)
    assert done == {"log": ["ask:Ada"], "answer": "Ada"}
    assert final.values == done and final.next == () and final.interrupts == ()
    assert calls.seen == ["ask", "ask"]


def test_async_parallel_interrupts_resumed_by_id(saver: Any) -> None:
    graph = parallel_graph(saver, Calls())

    async def main() -> tuple[Any, Any]:
        ids = ids_by_value(await graph.ainvoke({"log": []}, T))
        with pytest.raises(InvalidResumeError):
            await graph.ainvoke(Command(resume="plain"), T)
        done = await graph.ainvoke(Command(resume={ids["a?"]: "x", ids["b?"]: "y"}), T)
        return done, await graph.aget_state(T)

    done, snapshot = asyncio.run(main())
    assert done == {"log": ["a=x", "b=y", "c"]}
    assert snapshot.values == done and snapshot.interrupts == ()
