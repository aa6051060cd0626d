"""Checkpoints a run leaves, and reading them back with get_state / get_state_history."""

import copy
import operator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import ConfigError, EmptyInputError
from cairn.graph import START, StateGraph
from cairn.types import PregelTask, Send
from tests.support import (
    EXPLAIN_PROMPT,
    JOKE_PROMPT,
    FakeLLM,
    assert_canonical,
    at,
    build_joke_workflow,
    by_step,
    cid,
    history,
    steps,
    thread,
)

PIZZA = {"configurable": {"thread_id": "1"}}


def core_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: metadata[key] for key in ("source", "step", "parents", "writes")}


@pytest.fixture
def pizza(joke_workflow: Any) -> list[Any]:
    """The joke workflow run once on thread "1"; its history, newest first."""
    joke_workflow.invoke({"topic": "pizza"}, PIZZA)
    return history(joke_workflow, PIZZA)


# --- the checkpoints of a two-node run ------------------------------------------


def test_two_node_run_leaves_four_checkpoints_newest_first(pizza: list[Any]) -> None:
    assert steps(pizza) == [2, 1, 0, -1]


def test_each_checkpoint_knows_what_runs_next(pizza: list[Any]) -> None:
    assert [s.next for s in pizza] == [
        (),
        ("generate_explanation",),
        ("generate_joke",),
        ("__start__",),
    ]


def test_input_checkpoint_has_source_input_and_the_rest_source_loop(pizza: list[Any]) -> None:
    assert [s.metadata["source"] for s in pizza] == ["loop", "loop", "loop", "input"]
    assert all(s.metadata["parents"] == {} for s in pizza)


def test_checkpoint_values_grow_step_by_step(pizza: list[Any]) -> None:
    joke = f"[1] reply to: {JOKE_PROMPT} pizza"
    explanation = f"[2] reply to: {EXPLAIN_PROMPT} - {joke}"
    assert [s.values for s in pizza] == [
        {"topic": "pizza", "joke": joke, "explanation": explanation},
        {"topic": "pizza", "joke": joke},
        {"topic": "pizza"},
        {},
    ]


def test_metadata_writes_name_the_node_and_its_update(pizza: list[Any]) -> None:
    joke = f"[1] reply to: {JOKE_PROMPT} pizza"
    explanation = f"[2] reply to: {EXPLAIN_PROMPT} - {joke}"
    assert [core_metadata(s.metadata) for s in pizza] == [
        {
            "source": "loop",
            "step": 2,
            "parents": {},
            "writes": {"generate_explanation": {"explanation": explanation}},
        },
        {"source": "loop", "step": 1, "parents": {}, "writes": {"generate_joke": {"joke": joke}}},
        {"source": "loop", "step": 0, "parents": {}, "writes": {"__start__": {"topic": "pizza"}}},
        {"source": "input", "step": -1, "parents": {}, "writes": None},
    ]


def test_each_checkpoint_names_the_one_before_as_parent(pizza: list[Any]) -> None:
    for newer, older in zip(pizza, pizza[1:]):
        assert newer.parent_config == older.config
    assert pizza[-1].parent_config is None


def test_snapshot_and_parent_configs_are_canonical(pizza: list[Any]) -> None:
    for snapshot in pizza:
        assert_canonical(snapshot.config, "1")
        if snapshot.parent_config is not None:
            assert_canonical(snapshot.parent_config, "1")


def test_created_at_is_iso_8601_utc_and_increases(pizza: list[Any]) -> None:
    stamps = [datetime.fromisoformat(s.created_at) for s in pizza]
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    assert stamps == sorted(stamps, reverse=True)
    assert abs(datetime.now(tz=stamps[0].tzinfo) - stamps[0]) < timedelta(minutes=5)


def test_checkpoint_ids_sort_by_creation_time(joke_workflow: Any) -> None:
    joke_workflow.invoke({"topic": "pizza"}, PIZZA)
    joke_workflow.invoke({"topic": "pasta"}, PIZZA)
    ids = [cid(s.config) for s in history(joke_workflow, PIZZA)]
    assert len(ids) == 8
    assert all(isinstance(i, str) for i in ids)
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)


def test_tasks_list_next_nodes_with_results_of_later_steps(pizza: list[Any]) -> None:
    head, after_joke, after_start, input_checkpoint = pizza
    assert head.tasks == ()
    (task,) = after_joke.tasks
    assert isinstance(task, PregelTask)
    assert task.name == "generate_explanation"
    assert task.error is None
    assert task.interrupts == ()
    assert task.result == {"explanation": head.values["explanation"]}
    assert isinstance(task.id, str) and task.id
    assert [t.name for t in after_start.tasks] == ["generate_joke"]
    assert after_start.tasks[0].result == {"joke": after_joke.values["joke"]}
    assert [t.name for t in input_checkpoint.tasks] == ["__start__"]
    assert input_checkpoint.tasks[0].result == {"topic": "pizza"}


def test_snapshot_interrupts_are_empty_without_interrupts(pizza: list[Any]) -> None:
    assert all(s.interrupts == () for s in pizza)


# --- get_state ------------------------------------------------------------------


def test_get_state_returns_the_head(joke_workflow: Any, pizza: list[Any]) -> None:
    assert joke_workflow.get_state(PIZZA) == pizza[0]


def test_get_state_with_checkpoint_id_returns_that_checkpoint(
    joke_workflow: Any, pizza: list[Any]
) -> None:
    step_1 = by_step(pizza, 1)
    snapshot = joke_workflow.get_state(at("1", cid(step_1.config)))
    assert snapshot == step_1
    assert snapshot.next == ("generate_explanation",)


def test_get_state_accepts_a_config_with_checkpoint_ns(
    joke_workflow: Any, pizza: list[Any]
) -> None:
    step_0 = by_step(pizza, 0)
    config = {
        "configurable": {"thread_id": "1", "checkpoint_ns": "", "checkpoint_id": cid(step_0.config)}
    }
    assert joke_workflow.get_state(config) == step_0


def assert_empty(snapshot: Any) -> None:
    assert snapshot.values == {}
    assert snapshot.next == ()
    assert snapshot.metadata is None
    assert snapshot.created_at is None
    assert snapshot.parent_config is None
    assert snapshot.tasks == ()


def test_unknown_checkpoint_id_gives_an_empty_snapshot(
    joke_workflow: Any, pizza: list[Any]
) -> None:
    snapshot = joke_workflow.get_state(at("1", "1f06cc6e-7232-6cb1-8000-f71609e6cec5"))
    assert_empty(snapshot)
    assert snapshot.config["configurable"]["thread_id"] == "1"


def test_thread_without_checkpoints_gives_an_empty_snapshot_and_history(
    joke_workflow: Any,
) -> None:
    assert_empty(joke_workflow.get_state(thread("never-used")))
    assert history(joke_workflow, thread("never-used")) == []


def test_threads_are_independent(joke_workflow: Any) -> None:
    joke_workflow.invoke({"topic": "pizza"}, thread("1"))
    joke_workflow.invoke({"topic": "pasta"}, thread("2"))
    assert joke_workflow.get_state(thread("1")).values["topic"] == "pizza"
    assert joke_workflow.get_state(thread("2")).values["topic"] == "pasta"
    assert steps(history(joke_workflow, thread("1"))) == [2, 1, 0, -1]
    assert steps(history(joke_workflow, thread("2"))) == [2, 1, 0, -1]


def test_many_threads_run_at_once_on_one_saver(saver: Any) -> None:
    workflow = build_joke_workflow(FakeLLM(), saver)
    topics = [f"topic-{i}" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: workflow.invoke({"topic": t}, thread(t)), topics))
    assert [r["topic"] for r in results] == topics
    for topic in topics:
        snapshots = history(workflow, thread(topic))
        assert steps(snapshots) == [2, 1, 0, -1]
        assert snapshots[0].values["topic"] == topic
        assert topic in snapshots[0].values["joke"]


# --- values are copies ----------------------------------------------------------


class Chat(TypedDict):
    messages: list
    profile: dict


def chat_graph(saver: Any) -> Any:
    def reply(state: Chat) -> dict[str, Any]:
        return {"messages": state["messages"] + ["bot: hi"]}

    return StateGraph(Chat).add_node("reply", reply).add_edge(START, "reply").compile(
        checkpointer=saver
    )


def test_mutating_get_state_values_does_not_change_stored_checkpoints(saver: Any) -> None:
    graph = chat_graph(saver)
    graph.invoke({"messages": ["user: hello"], "profile": {"name": "ada"}}, thread("c"))
    before = [copy.deepcopy(s.values) for s in history(graph, thread("c"))]

    values = graph.get_state(thread("c")).values
    values["messages"].append("user: sneaky")
    values["profile"]["name"] = "eve"
    values["extra"] = 1

    assert [s.values for s in history(graph, thread("c"))] == before


def test_mutating_invoke_input_or_result_does_not_change_stored_checkpoints(saver: Any) -> None:
    graph = chat_graph(saver)
    given = {"messages": ["user: hello"], "profile": {"name": "ada"}}
    result = graph.invoke(given, thread("c"))
    before = [copy.deepcopy(s.values) for s in history(graph, thread("c"))]

    given["messages"].append("user: changed my mind")
    given["profile"]["name"] = "eve"
    result["messages"].clear()

    assert [s.values for s in history(graph, thread("c"))] == before


# --- get_state_history ----------------------------------------------------------


@pytest.fixture
def two_runs(joke_workflow: Any) -> Any:
    """Thread "1" with two runs and an update on the head: 9 checkpoints, steps 7..-1."""
    joke_workflow.invoke({"topic": "pizza"}, PIZZA)
    joke_workflow.invoke({"topic": "pasta"}, PIZZA)
    joke_workflow.update_state(PIZZA, {"explanation": "edited"})
    return joke_workflow


def test_history_lists_every_checkpoint_newest_first(two_runs: Any) -> None:
    snapshots = history(two_runs, PIZZA)
    assert steps(snapshots) == [7, 6, 5, 4, 3, 2, 1, 0, -1]
    assert [s.metadata["source"] for s in snapshots] == [
        "update",
        "loop",
        "loop",
        "loop",
        "input",
        "loop",
        "loop",
        "loop",
        "input",
    ]


def test_history_filter_matches_metadata(two_runs: Any) -> None:
    assert steps(history(two_runs, PIZZA, filter={"source": "input"})) == [3, -1]
    assert steps(history(two_runs, PIZZA, filter={"source": "update"})) == [7]
    assert steps(history(two_runs, PIZZA, filter={"step": 1})) == [1]
    assert history(two_runs, PIZZA, filter={"source": "loop", "step": 3}) == []
    assert len(history(two_runs, PIZZA, filter={})) == 9


def test_history_limit_caps_the_count(two_runs: Any) -> None:
    assert steps(history(two_runs, PIZZA, limit=2)) == [7, 6]
    assert steps(history(two_runs, PIZZA, filter={"source": "loop"}, limit=2)) == [6, 5]


def test_history_before_starts_below_a_checkpoint(two_runs: Any) -> None:
    step_1 = by_step(history(two_runs, PIZZA), 1)
    assert steps(history(two_runs, PIZZA, before=step_1.config)) == [0, -1]
    assert steps(history(two_runs, PIZZA, before=step_1.config, limit=1)) == [0]


def test_config_metadata_is_copied_into_checkpoints(joke_workflow: Any) -> None:
    config = {"configurable": {"thread_id": "m"}, "metadata": {"user": "bob"}}
    joke_workflow.invoke({"topic": "pizza"}, config)
    snapshots = history(joke_workflow, thread("m"))
    assert [s.metadata["user"] for s in snapshots] == ["bob"] * 4
    assert steps(history(joke_workflow, thread("m"), filter={"user": "bob", "step": 0})) == [0]


def test_configurable_keys_and_metadata_go_into_checkpoint_metadata_as_langgraph_copies_them(
    joke_workflow: Any,
) -> None:
    """Strings, numbers and booleans of ``metadata`` then ``configurable``
    (seed 004 reads a user id back from metadata); not the checkpoint's
    address, keys starting with ``__``, nor other values."""
    config = {
        "configurable": {
            "thread_id": "c", "user_id": "u1", "n": 5, "ok": True, "f": 1.5, "same": "conf",
            "model": {"name": "x"}, "__secret": "s", "langgraph_step": 3,
        },
        "metadata": {"same": "meta", "tags": ["a"], "__hidden": 1},
    }
    joke_workflow.invoke({"topic": "pizza"}, config)
    joke_workflow.update_state({"configurable": {"thread_id": "c", "user_id": "u2"}}, {"joke": "j"})
    snapshots = history(joke_workflow, thread("c"))
    copied = {"user_id": "u1", "n": 5, "ok": True, "f": 1.5, "same": "meta"}
    looked_at = {*copied, *config["configurable"], "tags", "__hidden"}
    for snapshot in snapshots[1:]:
        assert {k: v for k, v in snapshot.metadata.items() if k in looked_at} == copied
    assert snapshots[0].metadata["user_id"] == "u2"
    assert steps(history(joke_workflow, thread("c"), filter={"user_id": "u1"})) == [2, 1, 0, -1]


def test_every_checkpoint_names_the_graph_that_wrote_it(saver: Any, llm: FakeLLM) -> None:
    """A process that did not start a run finds the graph to resume it by the
    head's ``graph_id``: compile(name=...), LangGraph's "LangGraph" by default."""
    named = build_joke_workflow(llm, saver).builder.compile(checkpointer=saver, name="jokes")
    named.invoke({"topic": "pizza"}, thread("g"), interrupt_after=["generate_joke"])
    named.update_state(thread("g"), {"joke": "edited"})
    named.invoke(None, thread("g"))
    snapshots = history(named, thread("g"))
    assert [s.metadata["source"] for s in snapshots] == ["loop", "update", "loop", "loop", "input"]
    assert {s.metadata["graph_id"] for s in snapshots} == {"jokes"}
    assert steps(history(named, thread("g"), filter={"graph_id": "jokes", "source": "update"})) == [2]

    unnamed = build_joke_workflow(llm, saver)
    unnamed.invoke({"topic": "pizza"}, thread("u"))
    assert unnamed.get_state(thread("u")).metadata["graph_id"] == "LangGraph"
    mine = {"configurable": {"thread_id": "m"}, "metadata": {"graph_id": "assistant-7"}}
    unnamed.invoke({"topic": "pizza"}, mine)
    assert {s.metadata["graph_id"] for s in history(unnamed, thread("m"))} == {"assistant-7"}


# --- inputs on an existing thread -----------------------------------------------


def test_second_input_starts_a_new_run_after_the_head(joke_workflow: Any) -> None:
    joke_workflow.invoke({"topic": "pizza"}, PIZZA)
    joke_workflow.invoke({"topic": "pasta"}, PIZZA)
    snapshots = history(joke_workflow, PIZZA)
    assert steps(snapshots) == [6, 5, 4, 3, 2, 1, 0, -1]
    second_input = by_step(snapshots, 3)
    assert second_input.metadata["source"] == "input"
    assert second_input.next == ("__start__",)
    assert second_input.values["topic"] == "pizza"  # the input is not applied yet
    assert second_input.parent_config == by_step(snapshots, 2).config
    assert by_step(snapshots, 4).values["topic"] == "pasta"
    assert by_step(snapshots, 4).metadata["writes"] == {"__start__": {"topic": "pasta"}}


def test_invoke_none_on_a_finished_thread_returns_values_and_saves_nothing(
    joke_workflow: Any, pizza: list[Any], llm: Any
) -> None:
    calls = len(llm.prompts)
    assert joke_workflow.invoke(None, PIZZA) == pizza[0].values
    assert len(llm.prompts) == calls
    assert history(joke_workflow, PIZZA) == pizza


def test_invoke_none_on_an_empty_thread_raises_empty_input_error(joke_workflow: Any) -> None:
    with pytest.raises(EmptyInputError, match="nothing-here"):
        joke_workflow.invoke(None, thread("nothing-here"))


# --- config forms ---------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [{"configurable": {"thread_id": "t"}}, {"thread_id": "t"}, "t"],
    ids=["nested", "top-level", "bare-string"],
)
def test_every_config_form_names_the_same_thread(joke_workflow: Any, config: Any) -> None:
    joke_workflow.invoke({"topic": "pizza"}, config)
    for form in ({"configurable": {"thread_id": "t"}}, {"thread_id": "t"}, "t"):
        snapshot = joke_workflow.get_state(form)
        assert snapshot.values["topic"] == "pizza"
        assert_canonical(snapshot.config, "t")
        assert steps(history(joke_workflow, form)) == [2, 1, 0, -1]


def test_update_state_accepts_a_bare_thread_id(joke_workflow: Any) -> None:
    joke_workflow.invoke({"topic": "pizza"}, "t")
    config = joke_workflow.update_state("t", {"explanation": "edited"})
    assert_canonical(config, "t")
    assert joke_workflow.get_state("t").values["explanation"] == "edited"


@pytest.mark.parametrize("config", [None, {}, {"configurable": {}}], ids=["none", "empty", "no-id"])
def test_missing_thread_id_with_a_checkpointer_is_a_config_error(
    joke_workflow: Any, config: Any
) -> None:
    with pytest.raises(ConfigError, match="thread_id"):
        joke_workflow.invoke({"topic": "pizza"}, config)


def test_get_state_without_thread_id_is_a_config_error(joke_workflow: Any) -> None:
    with pytest.raises(ConfigError, match="thread_id"):
        joke_workflow.get_state({"configurable": {}})


# --- metadata writes for steps with several tasks ---------------------------------


class Log(TypedDict):
    log: Annotated[list, operator.add]
    subjects: list


def test_writes_of_a_parallel_step_name_every_node(saver: Any) -> None:
    builder = StateGraph(Log)
    for name in ("zeta", "alpha"):
        builder.add_node(name, lambda s, name=name: {"log": [name]})
        builder.add_edge(START, name)
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"log": []}, thread("p"))
    assert graph.get_state(thread("p")).metadata["writes"] == {
        "alpha": {"log": ["alpha"]},
        "zeta": {"log": ["zeta"]},
    }


def test_writes_of_several_tasks_of_one_node_are_a_list(saver: Any) -> None:
    builder = StateGraph(Log).add_node("gen", lambda arg: {"log": [arg]})
    builder.add_conditional_edges(START, lambda s: [Send("gen", x) for x in s["subjects"]])
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"log": [], "subjects": ["cats", "dogs"]}, thread("s"))
    assert graph.get_state(thread("s")).metadata["writes"] == {
        "gen": [{"log": ["cats"]}, {"log": ["dogs"]}]
    }


def test_writes_leave_out_keys_not_in_the_schema(saver: Any) -> None:
    builder = StateGraph(Log).add_node("n", lambda s: {"log": ["n"], "bogus": 1})
    graph = builder.add_edge(START, "n").compile(checkpointer=saver)
    with pytest.warns(UserWarning, match="bogus"):
        graph.invoke({"log": []}, thread("w"))
    assert graph.get_state(thread("w")).metadata["writes"] == {"n": {"log": ["n"]}}
