"""Time travel: reading the past, replaying from a checkpoint, and forking with update_state."""

import operator
from typing import Annotated, Any, TypedDict

import pytest

from cairn.errors import InvalidUpdateError
from cairn.graph import START, StateGraph
from tests.support import (
    EXPLAIN_PROMPT,
    JOKE_PROMPT,
    assert_canonical,
    at,
    by_step,
    cid,
    history,
    steps,
    thread,
)

T = thread("2")


@pytest.fixture
def pasta(joke_workflow: Any) -> list[Any]:
    """The joke workflow run once on thread "2"; its history, newest first."""
    joke_workflow.invoke({"topic": "pasta"}, T)
    return history(joke_workflow, T)


# --- replay ---------------------------------------------------------------------


def test_replay_reexecutes_only_the_nodes_after_the_checkpoint(
    joke_workflow: Any, pasta: list[Any], llm: Any
) -> None:
    step_1 = by_step(pasta, 1)
    joke_workflow.invoke(None, at("2", cid(step_1.config)))
    assert llm.count(JOKE_PROMPT) == 1
    assert llm.count(EXPLAIN_PROMPT) == 2


def test_replay_runs_the_node_again_instead_of_reusing_its_result(
    joke_workflow: Any, pasta: list[Any]
) -> None:
    step_1 = by_step(pasta, 1)
    result = joke_workflow.invoke(None, at("2", cid(step_1.config)))
    assert result["joke"] == pasta[0].values["joke"]
    assert result["explanation"] != pasta[0].values["explanation"]
    assert result["explanation"].startswith("[3] ")


def test_replay_checkpoints_descend_directly_from_the_replayed_checkpoint(
    joke_workflow: Any, pasta: list[Any]
) -> None:
    step_1 = by_step(pasta, 1)
    joke_workflow.invoke(None, at("2", cid(step_1.config)))
    snapshots = history(joke_workflow, T)
    assert steps(snapshots) == [2, 2, 1, 0, -1]
    new_head = snapshots[0]
    assert new_head.parent_config == step_1.config
    assert new_head.metadata["source"] == "loop"
    assert new_head.next == ()


def test_replay_leaves_the_old_branch_intact(joke_workflow: Any, pasta: list[Any]) -> None:
    old_head = pasta[0]
    joke_workflow.invoke(None, at("2", cid(by_step(pasta, 1).config)))
    assert joke_workflow.get_state(at("2", cid(old_head.config))) == old_head
    assert history(joke_workflow, T)[1:] == pasta


def test_replay_branch_end_becomes_the_head(joke_workflow: Any, pasta: list[Any]) -> None:
    result = joke_workflow.invoke(None, at("2", cid(by_step(pasta, 1).config)))
    head = joke_workflow.get_state(T)
    assert head.values == result
    assert cid(head.config) != cid(pasta[0].config)
    assert head.config == history(joke_workflow, T)[0].config


def test_replay_from_step_0_reruns_both_nodes(
    joke_workflow: Any, pasta: list[Any], llm: Any
) -> None:
    step_0 = by_step(pasta, 0)
    joke_workflow.invoke(None, at("2", cid(step_0.config)))
    assert llm.count(JOKE_PROMPT) == 2
    assert llm.count(EXPLAIN_PROMPT) == 2
    snapshots = history(joke_workflow, T)
    assert steps(snapshots) == [2, 1, 2, 1, 0, -1]
    assert snapshots[1].parent_config == step_0.config


def test_replay_from_the_input_checkpoint_applies_the_input_again(
    joke_workflow: Any, pasta: list[Any], llm: Any
) -> None:
    step_minus_1 = by_step(pasta, -1)
    result = joke_workflow.invoke(None, step_minus_1.config)
    assert result["topic"] == "pasta"
    assert llm.count(JOKE_PROMPT) == 2
    assert llm.count(EXPLAIN_PROMPT) == 2
    snapshots = history(joke_workflow, T)
    assert steps(snapshots) == [2, 1, 0, 2, 1, 0, -1]
    assert snapshots[2].parent_config == step_minus_1.config
    assert snapshots[2].metadata["writes"] == {"__start__": {"topic": "pasta"}}


def test_replay_of_a_checkpoint_with_no_next_does_nothing(
    joke_workflow: Any, pasta: list[Any], llm: Any
) -> None:
    calls = len(llm.prompts)
    result = joke_workflow.invoke(None, pasta[0].config)
    assert result == pasta[0].values
    assert len(llm.prompts) == calls
    assert history(joke_workflow, T) == pasta


def test_get_state_reads_any_past_checkpoint(joke_workflow: Any, pasta: list[Any]) -> None:
    for snapshot in pasta:
        assert joke_workflow.get_state(snapshot.config) == snapshot


# --- update_state on the joke workflow ------------------------------------------


def test_update_state_returns_a_canonical_config(joke_workflow: Any, pasta: list[Any]) -> None:
    config = joke_workflow.update_state(by_step(pasta, 0).config, {"topic": "samosa"})
    assert_canonical(config, "2")


def test_update_before_first_node_behaves_as_input(joke_workflow: Any, pasta: list[Any]) -> None:
    step_0 = by_step(pasta, 0)
    config = joke_workflow.update_state(step_0.config, {"topic": "samosa"})
    snapshot = joke_workflow.get_state(config)
    assert snapshot.values == {"topic": "samosa"}
    assert snapshot.next == ("generate_joke",)
    assert snapshot.metadata["source"] == "update"
    assert snapshot.metadata["step"] == 1
    assert snapshot.metadata["writes"] == {"__start__": {"topic": "samosa"}}
    assert snapshot.parent_config == step_0.config
    assert [t.name for t in snapshot.tasks] == ["generate_joke"]
    assert snapshot.tasks[0].result is None


def test_update_makes_the_new_checkpoint_the_head(joke_workflow: Any, pasta: list[Any]) -> None:
    config = joke_workflow.update_state(by_step(pasta, 0).config, {"topic": "samosa"})
    assert joke_workflow.get_state(T).config == config
    assert steps(history(joke_workflow, T)) == [1, 2, 1, 0, -1]


def test_invoke_continues_a_fork_from_the_update(
    joke_workflow: Any, pasta: list[Any], llm: Any
) -> None:
    config = joke_workflow.update_state(by_step(pasta, 0).config, {"topic": "samosa"})
    result = joke_workflow.invoke(None, config)
    assert result["topic"] == "samosa"
    assert "samosa" in result["joke"]
    assert "samosa" in result["explanation"]
    snapshots = history(joke_workflow, T)
    assert steps(snapshots) == [3, 2, 1, 2, 1, 0, -1]
    assert snapshots[1].parent_config == config
    assert history(joke_workflow, T)[3:] == pasta


def test_invoke_none_on_the_thread_continues_from_an_update_on_the_head(
    joke_workflow: Any, pasta: list[Any]
) -> None:
    joke_workflow.update_state(by_step(pasta, 0).config, {"topic": "samosa"})
    result = joke_workflow.invoke(None, T)
    assert result["topic"] == "samosa"
    assert "samosa" in result["explanation"]


def test_update_without_checkpoint_id_applies_on_the_head(
    joke_workflow: Any, pasta: list[Any]
) -> None:
    config = joke_workflow.update_state(T, {"explanation": "edited"})
    snapshot = joke_workflow.get_state(config)
    assert snapshot.parent_config == pasta[0].config
    assert snapshot.values == {**pasta[0].values, "explanation": "edited"}
    assert snapshot.metadata["step"] == 3
    assert snapshot.metadata["writes"] == {"generate_explanation": {"explanation": "edited"}}
    assert snapshot.next == ()


def test_update_on_a_thread_without_checkpoints_behaves_as_input(joke_workflow: Any) -> None:
    config = joke_workflow.update_state(thread("fresh"), {"topic": "samosa"})
    snapshot = joke_workflow.get_state(thread("fresh"))
    assert snapshot.config == config
    assert snapshot.values == {"topic": "samosa"}
    assert snapshot.next == ("generate_joke",)
    assert snapshot.metadata["source"] == "update"
    assert snapshot.metadata["step"] == 0
    assert snapshot.parent_config is None
    assert joke_workflow.invoke(None, thread("fresh"))["topic"] == "samosa"


def test_update_with_unknown_as_node_raises_naming_it(joke_workflow: Any, pasta: list[Any]) -> None:
    with pytest.raises(InvalidUpdateError, match="human"):
        joke_workflow.update_state(T, {"topic": "x"}, as_node="human")
    assert history(joke_workflow, T) == pasta


def test_update_with_unknown_key_is_dropped_with_a_warning(
    joke_workflow: Any, pasta: list[Any]
) -> None:
    with pytest.warns(UserWarning, match="approved"):
        config = joke_workflow.update_state(T, {"approved": True, "topic": "x"})
    assert joke_workflow.get_state(config).values == {**pasta[0].values, "topic": "x"}


# --- update_state and as_node on a three-node pipeline ---------------------------


class Pipeline(TypedDict):
    items: Annotated[list, operator.add]
    status: str
    data: str


def search(state: Pipeline) -> dict[str, Any]:
    return {"items": ["s"], "data": "searched"}


def analyze(state: Pipeline) -> dict[str, Any]:
    return {"items": ["a"], "status": "analyzed"}


def report(state: Pipeline) -> dict[str, Any]:
    return {"items": ["r"], "status": "reported"}


@pytest.fixture
def pipeline(saver: Any) -> Any:
    """search -> analyze -> report, run once on thread "u"."""
    graph = StateGraph(Pipeline).add_sequence([search, analyze, report])
    graph = graph.add_edge(START, "search").compile(checkpointer=saver)
    graph.invoke({"items": ["in"], "status": "new", "data": ""}, thread("u"))
    return graph


def after_search(graph: Any) -> Any:
    return by_step(history(graph, thread("u")), 1)


def test_update_as_node_decides_what_runs_next(pipeline: Any) -> None:
    start = after_search(pipeline).config
    as_analyze = pipeline.get_state(
        pipeline.update_state(start, {"data": "new"}, as_node="analyze")
    )
    as_search = pipeline.get_state(pipeline.update_state(start, {"data": "new"}, as_node="search"))
    assert as_analyze.next == ("report",)
    assert as_search.next == ("analyze",)
    assert as_analyze.metadata["writes"] == {"analyze": {"data": "new"}}
    assert as_search.metadata["writes"] == {"search": {"data": "new"}}


def test_update_without_as_node_acts_as_the_node_that_wrote_last(pipeline: Any) -> None:
    config = pipeline.update_state(after_search(pipeline).config, {"data": "new"})
    snapshot = pipeline.get_state(config)
    assert snapshot.next == ("analyze",)
    assert snapshot.metadata["writes"] == {"search": {"data": "new"}}
    assert snapshot.metadata["step"] == 2


def test_update_goes_through_reducers(pipeline: Any) -> None:
    config = pipeline.update_state(after_search(pipeline).config, {"items": ["manual"]})
    assert pipeline.get_state(config).values["items"] == ["in", "s", "manual"]


def test_update_overwrites_keys_without_reducer(pipeline: Any) -> None:
    config = pipeline.update_state(after_search(pipeline).config, {"status": "manually_approved"})
    assert pipeline.get_state(config).values["status"] == "manually_approved"


def test_invoke_after_update_as_analyze_skips_analyze(pipeline: Any) -> None:
    config = pipeline.update_state(
        after_search(pipeline).config, {"status": "skipped"}, as_node="analyze"
    )
    assert pipeline.invoke(None, config) == {
        "items": ["in", "s", "r"],
        "status": "reported",
        "data": "searched",
    }


def test_update_as_last_node_of_a_finished_run_leaves_nothing_to_run(pipeline: Any) -> None:
    config = pipeline.update_state(thread("u"), {"status": "final"}, as_node="report")
    assert pipeline.get_state(config).next == ()
    assert pipeline.invoke(None, thread("u"))["status"] == "final"
    assert history(pipeline, thread("u"))[0].config == config
