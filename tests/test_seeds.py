"""The user's documents (shared/seeds/000, 001, 002, 004) with `langgraph` replaced by `cairn`.

Each test runs a seed's code as written, with the in-memory saver and a
deterministic stand-in for the chat model, and checks what the seed shows
(or, where the seed's printed output is wrong about LangGraph itself, what
LangGraph really does; those places say so).
"""

import copy
import operator
import time
from typing import Annotated, Any, Optional, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver, MemorySaver
from cairn.errors import InvalidUpdateError
from cairn.graph import END, START, MessagesState, StateGraph
from tests.support import EXPLAIN_PROMPT, JOKE_PROMPT, FakeLLM, build_joke_workflow, by_step

# =============================================================================
# Seed 000: persistence, time travel and fault tolerance of a joke workflow
# =============================================================================

config1 = {"configurable": {"thread_id": "1"}}
config2 = {"configurable": {"thread_id": "2"}}


@pytest.fixture
def workflow(llm: FakeLLM) -> Any:
    return build_joke_workflow(llm, InMemorySaver())


def test_seed000_invoke_returns_topic_joke_and_explanation(workflow: Any) -> None:
    result = workflow.invoke({"topic": "pizza"}, config=config1)
    assert result == {
        "topic": "pizza",
        "joke": f"[1] reply to: {JOKE_PROMPT} pizza",
        "explanation": f"[2] reply to: {EXPLAIN_PROMPT} - [1] reply to: {JOKE_PROMPT} pizza",
    }


def test_seed000_get_state_shows_the_finished_run(workflow: Any) -> None:
    result = workflow.invoke({"topic": "pizza"}, config=config1)
    snapshot = workflow.get_state(config1)
    assert snapshot.values == result
    assert snapshot.next == ()
    assert snapshot.metadata["source"] == "loop"
    assert snapshot.metadata["step"] == 2
    assert snapshot.metadata["parents"] == {}
    assert snapshot.tasks == ()
    assert snapshot.interrupts == ()
    assert snapshot.config["configurable"]["checkpoint_ns"] == ""


def test_seed000_history_has_four_checkpoints_with_their_next_nodes(workflow: Any) -> None:
    workflow.invoke({"topic": "pizza"}, config=config1)
    snapshots = list(workflow.get_state_history(config1))
    assert [(s.metadata["step"], s.next) for s in snapshots] == [
        (2, ()),
        (1, ("generate_explanation",)),
        (0, ("generate_joke",)),
        (-1, ("__start__",)),
    ]


def test_seed000_second_thread_is_separate(workflow: Any) -> None:
    workflow.invoke({"topic": "pizza"}, config=config1)
    workflow.invoke({"topic": "pasta"}, config=config2)
    assert workflow.get_state(config1).values["topic"] == "pizza"
    assert workflow.get_state(config2).values["topic"] == "pasta"
    assert len(list(workflow.get_state_history(config2))) == 4


def test_seed000_get_state_of_a_past_checkpoint(workflow: Any) -> None:
    workflow.invoke({"topic": "pasta"}, config=config2)
    step_1_id = by_step(list(workflow.get_state_history(config2)), 1).config["configurable"][
        "checkpoint_id"
    ]
    snapshot = workflow.get_state(
        {"configurable": {"thread_id": "2", "checkpoint_id": step_1_id}}
    )
    assert set(snapshot.values) == {"topic", "joke"}
    assert snapshot.next == ("generate_explanation",)
    assert snapshot.metadata["step"] == 1
    (task,) = snapshot.tasks
    assert task.name == "generate_explanation"
    assert task.result == {"explanation": workflow.get_state(config2).values["explanation"]}


def test_seed000_replay_from_step_1_reruns_only_generate_explanation(
    workflow: Any, llm: FakeLLM
) -> None:
    workflow.invoke({"topic": "pasta"}, config=config2)
    step_1 = by_step(list(workflow.get_state_history(config2)), 1)
    step_1_id = step_1.config["configurable"]["checkpoint_id"]

    result = workflow.invoke(None, {"configurable": {"thread_id": "2", "checkpoint_id": step_1_id}})

    assert llm.count(JOKE_PROMPT) == 1
    assert llm.count(EXPLAIN_PROMPT) == 2
    assert result["joke"] == step_1.values["joke"]
    history = list(workflow.get_state_history(config={"configurable": {"thread_id": "2"}}))
    # cairn: the replayed step descends directly from the step-1 checkpoint
    # (LangGraph 1.x would first write a copy of it).
    assert [s.metadata["step"] for s in history] == [2, 2, 1, 0, -1]
    assert history[0].parent_config["configurable"]["checkpoint_id"] == step_1_id
    assert history[0].values == result


def test_seed000_update_state_on_step_0_then_invoke_continues_the_fork(
    workflow: Any, llm: FakeLLM
) -> None:
    workflow.invoke({"topic": "pasta"}, config=config2)
    step_0_id = by_step(list(workflow.get_state_history(config2)), 0).config["configurable"][
        "checkpoint_id"
    ]

    new_config = workflow.update_state(
        {"configurable": {"thread_id": "2", "checkpoint_id": step_0_id, "checkpoint_ns": ""}},
        {"topic": "samosa"},
    )

    assert set(new_config["configurable"]) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
    history = list(workflow.get_state_history(config={"configurable": {"thread_id": "2"}}))
    head = history[0]
    assert head.config == new_config
    assert head.values == {"topic": "samosa"}
    assert head.next == ("generate_joke",)
    assert head.metadata["source"] == "update"
    assert head.metadata["step"] == 1
    assert head.parent_config["configurable"]["checkpoint_id"] == step_0_id
    assert [t.name for t in head.tasks] == ["generate_joke"]
    assert head.tasks[0].result is None

    new_id = new_config["configurable"]["checkpoint_id"]
    result = workflow.invoke(None, {"configurable": {"thread_id": "2", "checkpoint_id": new_id}})

    assert result["topic"] == "samosa"
    assert result["joke"] == f"[3] reply to: {JOKE_PROMPT} samosa"
    assert result["explanation"].startswith(f"[4] reply to: {EXPLAIN_PROMPT}")
    history = list(workflow.get_state_history(config={"configurable": {"thread_id": "2"}}))
    assert [(s.metadata["step"], s.metadata["source"]) for s in history] == [
        (3, "loop"),
        (2, "loop"),
        (1, "update"),
        (2, "loop"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]
    assert history[0].values == result
    assert history[3].values["topic"] == "pasta"  # the old branch is intact


def test_seed000_unknown_checkpoint_id_gives_an_empty_snapshot(workflow: Any) -> None:
    workflow.invoke({"topic": "pizza"}, config=config1)
    snapshot = workflow.get_state(
        {
            "configurable": {
                "thread_id": "1",
                "checkpoint_id": "1f06cc6e-7232-6cb1-8000-f71609e6cec5",
            }
        }
    )
    assert snapshot.values == {}
    assert snapshot.next == ()
    assert snapshot.metadata is None
    assert snapshot.created_at is None
    assert snapshot.parent_config is None
    assert snapshot.tasks == ()
    assert snapshot.interrupts == ()


# --- seed 000, "Fault Tolerance": the kernel is interrupted during step 2 ------


class CrashState(TypedDict):
    input: str
    step1: str
    step2: str


def crash_graph(hang: list[bool], calls: list[str]) -> Any:
    def step_1(state: CrashState) -> CrashState:
        calls.append("step_1")
        return {"step1": "done", "input": state["input"]}

    def step_2(state: CrashState) -> CrashState:
        calls.append("step_2")
        if hang[0]:
            # stands in for time.sleep(1000) stopped with the notebook's STOP button
            raise KeyboardInterrupt
        return {"step2": "done"}

    def step_3(state: CrashState) -> CrashState:
        calls.append("step_3")
        return {"done": True}  # "done" is not a CrashState key

    builder = StateGraph(CrashState)
    builder.add_node("step_1", step_1)
    builder.add_node("step_2", step_2)
    builder.add_node("step_3", step_3)
    builder.set_entry_point("step_1")
    builder.add_edge("step_1", "step_2")
    builder.add_edge("step_2", "step_3")
    builder.add_edge("step_3", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_seed000_crash_during_step_2_then_rerun_resumes() -> None:
    hang, calls = [True], []
    graph = crash_graph(hang, calls)
    interrupted = False
    try:
        graph.invoke({"input": "start"}, config={"configurable": {"thread_id": "thread-1"}})
    except KeyboardInterrupt:
        interrupted = True
    assert interrupted
    snapshot = graph.get_state({"configurable": {"thread_id": "thread-1"}})
    assert snapshot.values == {"input": "start", "step1": "done"}
    assert snapshot.next == ("step_2",)

    hang[0] = False
    with pytest.warns(UserWarning, match="done"):
        final_state = graph.invoke(None, config={"configurable": {"thread_id": "thread-1"}})

    assert final_state == {"input": "start", "step1": "done", "step2": "done"}
    assert calls == ["step_1", "step_2", "step_2", "step_3"]
    history = list(graph.get_state_history({"configurable": {"thread_id": "thread-1"}}))
    assert [(s.metadata["step"], s.next) for s in history] == [
        (3, ()),
        (2, ("step_3",)),
        (1, ("step_2",)),
        (0, ("step_1",)),
        (-1, ("__start__",)),
    ]


def test_seed000_history_of_an_unused_thread_is_empty() -> None:
    graph = crash_graph([False], [])
    assert list(graph.get_state_history({"configurable": {"thread_id": "thread-1"}})) == []


# =============================================================================
# Seed 001: persistence and checkpoints tutorial (MemorySaver parts)
# =============================================================================


class PersistentState(TypedDict):
    messages: list
    current_step: str
    user_data: dict
    thread_id: str


def persistent_graph_001() -> Any:
    memory_checkpoint = MemorySaver()

    def process_step(state: PersistentState) -> PersistentState:
        """A node that processes data."""
        return {
            **state,
            "current_step": "processed",
            "user_data": {**state.get("user_data", {}), "processed_at": "now"},
        }

    graph = StateGraph(PersistentState)
    graph.add_node("process", process_step)
    graph.set_entry_point("process")
    graph.add_edge("process", END)
    return graph.compile(checkpointer=memory_checkpoint)


def test_seed001_second_invoke_continues_the_thread() -> None:
    persistent_graph = persistent_graph_001()
    config = {"configurable": {"thread_id": "user_123"}}
    initial_state = {
        "messages": [{"role": "user", "content": "Hello!"}],
        "current_step": "start",
        "user_data": {},
        "thread_id": "user_123",
    }
    result1 = persistent_graph.invoke(initial_state, config=config)
    assert result1["current_step"] == "processed"

    additional_state = {
        "messages": result1["messages"] + [{"role": "user", "content": "Continue processing"}]
    }
    result2 = persistent_graph.invoke(additional_state, config=config)

    assert result2 == {
        "messages": [
            {"role": "user", "content": "Hello!"},
            {"role": "user", "content": "Continue processing"},
        ],
        "current_step": "processed",
        "user_data": {"processed_at": "now"},
        "thread_id": "user_123",
    }
    history = list(persistent_graph.get_state_history(config))
    assert [(s.metadata["step"], s.metadata["source"]) for s in history] == [
        (4, "loop"),
        (3, "loop"),
        (2, "input"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]


def test_seed001_get_thread_history_helper() -> None:
    def get_thread_history(graph: Any, thread_config: dict) -> list:
        """Get execution history for a thread."""
        history = []
        for state in graph.get_state_history(thread_config):
            history.append(
                {
                    "step": state.values.get("current_step"),
                    "timestamp": state.metadata.get("timestamp"),
                    "messages": state.values.get("messages", []),
                }
            )
        return history

    persistent_graph = persistent_graph_001()
    config = {"configurable": {"thread_id": "user_123"}}
    hello = {"role": "user", "content": "Hello!"}
    persistent_graph.invoke(
        {"messages": [hello], "current_step": "start", "user_data": {}, "thread_id": "user_123"},
        config,
    )
    assert get_thread_history(persistent_graph, config) == [
        {"step": "processed", "timestamp": None, "messages": [hello]},
        {"step": "start", "timestamp": None, "messages": [hello]},
        {"step": None, "timestamp": None, "messages": []},
    ]
    john_doe = {"configurable": {"thread_id": "user_john_doe"}}
    assert get_thread_history(persistent_graph, john_doe) == []


class ProductionState(TypedDict):
    messages: list
    current_step: str
    user_id: str
    session_data: dict
    error_count: int
    last_checkpoint: Optional[str]


def production_graph_001(process_data: Any) -> Any:
    checkpoint_saver = MemorySaver()

    def validate_state(state: ProductionState) -> bool:
        required_fields = ["messages", "user_id"]
        return all(field in state for field in required_fields)

    def process_with_persistence(state: ProductionState) -> ProductionState:
        if not validate_state(state):
            raise ValueError("Invalid state structure")
        try:
            processed_data = process_data(state["session_data"])
            return {
                **state,
                "current_step": "processed",
                "session_data": processed_data,
                "last_checkpoint": "process_completed",
            }
        except Exception as e:
            return {
                **state,
                "error_count": state.get("error_count", 0) + 1,
                "last_error": str(e),  # not a ProductionState key
                "last_checkpoint": "error_occurred",
            }

    production_graph = StateGraph(ProductionState)
    production_graph.add_node("process", process_with_persistence)
    production_graph.set_entry_point("process")
    production_graph.add_edge("process", END)
    return production_graph.compile(checkpointer=checkpoint_saver)


def handle_user_request_001(graph: Any, user_id: str, message: str) -> dict:
    """Seed 001's handle_user_request, verbatim but for the graph argument."""

    def validate_state(state: dict) -> bool:
        return all(field in state for field in ["messages", "user_id"])

    def save_checkpoint_with_validation(graph: Any, config: dict, state: dict) -> None:
        if validate_state(state):
            graph.update_state(config, state)

    config = {"configurable": {"thread_id": f"user_{user_id}"}}
    existing_state = graph.get_state(config)
    # A StateSnapshot is a non-empty tuple, so this is always true, as in
    # LangGraph: a brand-new user would get values == {} and a KeyError below.
    if existing_state:
        state = existing_state.values
        state["messages"].append({"role": "user", "content": message})
    else:
        state = {
            "messages": [{"role": "user", "content": message}],
            "current_step": "start",
            "user_id": user_id,
            "session_data": {},
            "error_count": 0,
            "last_checkpoint": None,
        }
    result = graph.invoke(state, config)
    save_checkpoint_with_validation(graph, config, result)
    return result


FIRST = {"role": "user", "content": "first"}
SECOND = {"role": "user", "content": "second"}


def seeded_production_thread(graph: Any) -> dict:
    config = {"configurable": {"thread_id": "user_42"}}
    graph.invoke(
        {
            "messages": [FIRST],
            "current_step": "start",
            "user_id": "42",
            "session_data": {},
            "error_count": 0,
            "last_checkpoint": None,
        },
        config,
    )
    return config


def test_seed001_handle_user_request_mutating_values_keeps_old_checkpoints() -> None:
    graph = production_graph_001(lambda data: {**data, "processed": True})
    config = seeded_production_thread(graph)
    before = [
        (s.config, copy.deepcopy(s.values)) for s in graph.get_state_history(config)
    ]

    result = handle_user_request_001(graph, "42", "second")

    assert result["messages"] == [FIRST, SECOND]
    assert result["session_data"] == {"processed": True}
    assert result["last_checkpoint"] == "process_completed"
    for old_config, old_values in before:
        assert graph.get_state(old_config).values == old_values
    history = list(graph.get_state_history(config))
    assert [(s.metadata["step"], s.metadata["source"]) for s in history] == [
        (5, "update"),
        (4, "loop"),
        (3, "loop"),
        (2, "input"),
        (1, "loop"),
        (0, "loop"),
        (-1, "input"),
    ]
    assert history[0].next == ()
    assert history[0].values == result
    assert history[3].values["messages"] == [FIRST]


def test_seed001_process_error_path_counts_errors_and_drops_unknown_key() -> None:
    def process_data(data: dict) -> dict:
        raise RuntimeError("backend down")

    graph = production_graph_001(process_data)
    with pytest.warns(UserWarning, match="last_error"):
        config = seeded_production_thread(graph)  # the first run takes the error path too
    assert graph.get_state(config).values["error_count"] == 1
    with pytest.warns(UserWarning, match="last_error"):
        result = handle_user_request_001(graph, "42", "second")
    assert result["error_count"] == 2
    assert result["last_checkpoint"] == "error_occurred"
    assert "last_error" not in result


# =============================================================================
# Seed 002: state recovery
# =============================================================================


class State(TypedDict):
    count: int


def recovery_graph(calls: list[str], crashes: list[int]) -> Any:
    def step1(state: State) -> dict:
        calls.append("step1")
        time.sleep(0.001)
        return {"count": state["count"] + 1}

    def step2(state: State) -> dict:
        calls.append("step2")
        time.sleep(0.001)
        return {"count": state["count"] + 1}

    def step3(state: State) -> dict:
        calls.append("step3")
        time.sleep(0.001)
        if crashes[0] > 0:
            crashes[0] -= 1
            raise RuntimeError("Simulated crash")
        return {"count": state["count"] + 1}

    builder = StateGraph(State)
    builder.add_node("step1", step1)
    builder.add_node("step2", step2)
    builder.add_node("step3", step3)
    builder.set_entry_point("step1")
    builder.add_edge("step1", "step2")
    builder.add_edge("step2", "step3")
    builder.add_edge("step3", END)
    checkpointer = InMemorySaver()
    return builder.compile(checkpointer=checkpointer)


def test_seed002_crash_in_step3_keeps_steps_1_and_2() -> None:
    calls: list[str] = []
    graph = recovery_graph(calls, [1])
    with pytest.raises(RuntimeError, match="Simulated crash"):
        graph.invoke({"count": 0}, config={"thread_id": "job-1"})
    snapshot = graph.get_state("job-1")
    assert snapshot.values == {"count": 2}
    assert snapshot.next == ("step3",)
    assert [(t.name, t.error) for t in snapshot.tasks] == [
        ("step3", "RuntimeError('Simulated crash')")
    ]


def test_seed002_invoke_none_after_restart_continues_from_step3() -> None:
    calls: list[str] = []
    graph = recovery_graph(calls, [1])
    with pytest.raises(RuntimeError):
        graph.invoke({"count": 0}, config={"thread_id": "job-1"})

    result = graph.invoke(None, config={"thread_id": "job-1"})

    assert result == {"count": 3}
    assert calls == ["step1", "step2", "step3", "step3"]


def test_seed002_crash_that_persists_fails_again_on_resume() -> None:
    calls: list[str] = []
    graph = recovery_graph(calls, [2])
    with pytest.raises(RuntimeError):
        graph.invoke({"count": 0}, config={"thread_id": "job-1"})
    with pytest.raises(RuntimeError, match="Simulated crash"):
        graph.invoke(None, config={"thread_id": "job-1"})
    assert calls == ["step1", "step2", "step3", "step3"]
    assert graph.get_state("job-1").values == {"count": 2}


def test_seed002_human_in_the_loop_recovery_with_bare_thread_id() -> None:
    class ApprovalState(TypedDict):
        count: int
        approved: bool

    calls: list[str] = []

    def step1(state: ApprovalState) -> dict:
        calls.append("step1")
        return {"count": state["count"] + 1}

    def step2(state: ApprovalState) -> dict:
        calls.append("step2")
        if not state.get("approved"):
            raise RuntimeError("needs approval")
        return {"count": state["count"] + 1}

    builder = StateGraph(ApprovalState)
    builder.add_node("step1", step1).add_node("step2", step2)
    builder.set_entry_point("step1").add_edge("step1", "step2")
    graph = builder.compile(checkpointer=InMemorySaver())
    with pytest.raises(RuntimeError):
        graph.invoke({"count": 0}, config={"thread_id": "user-42"})

    assert graph.get_state("user-42").next == ("step2",)
    graph.update_state("user-42", {"approved": True})
    snapshot = graph.get_state("user-42")
    assert snapshot.values == {"count": 1, "approved": True}
    assert snapshot.next == ("step2",)
    assert snapshot.metadata["source"] == "update"

    result = graph.invoke(None, config={"thread_id": "user-42"})

    assert result == {"count": 2, "approved": True}
    assert calls == ["step1", "step2", "step2"]


# =============================================================================
# Seed 004: checkpointing for recovery
# =============================================================================


class ResearchState(MessagesState):
    query: str
    sources: list[str]
    summary: str


def research_graph() -> Any:
    def search_node(state: ResearchState) -> dict:
        return {"sources": ["source_1.pdf", "source_2.pdf"]}

    def analyze_node(state: ResearchState) -> dict:
        return {"summary": f"Found {len(state['sources'])} sources"}

    builder = StateGraph(ResearchState)
    builder.add_node("search", search_node)
    builder.add_node("analyze", analyze_node)
    builder.add_edge(START, "search")
    builder.add_edge("search", "analyze")
    builder.add_edge("analyze", END)
    return builder.compile(checkpointer=InMemorySaver())


RESEARCH = {"configurable": {"thread_id": "research_001"}}
RESEARCH_INPUT = {"messages": [], "query": "state management", "sources": [], "summary": ""}


def test_seed004_two_node_graph_leaves_four_checkpoints() -> None:
    graph = research_graph()
    result = graph.invoke(RESEARCH_INPUT, RESEARCH)
    assert result == {
        "messages": [],
        "query": "state management",
        "sources": ["source_1.pdf", "source_2.pdf"],
        "summary": "Found 2 sources",
    }
    # The seed numbers them 0..3; the real steps are -1..2.
    assert [s.metadata["step"] for s in graph.get_state_history(RESEARCH)] == [2, 1, 0, -1]


def test_seed004_state_snapshot_shows_values_next_and_writes() -> None:
    graph = research_graph()
    graph.invoke(RESEARCH_INPUT, RESEARCH)
    snapshot = graph.get_state(RESEARCH)
    assert snapshot.values["summary"] == "Found 2 sources"
    assert snapshot.next == ()
    assert snapshot.config["configurable"]["thread_id"] == "research_001"
    assert snapshot.metadata["source"] == "loop"
    assert snapshot.metadata["writes"] == {"analyze": {"summary": "Found 2 sources"}}
    assert snapshot.metadata["step"] == 2
    assert snapshot.tasks == ()


def test_seed004_browsing_history_names_the_node_of_each_step() -> None:
    graph = research_graph()
    graph.invoke(RESEARCH_INPUT, RESEARCH)
    lines = []
    for snapshot in graph.get_state_history(RESEARCH):
        step = snapshot.metadata.get("step", "?")
        source = snapshot.metadata.get("source", "?")
        writes = snapshot.metadata.get("writes", {})
        node_name = list(writes.keys())[0] if writes else "—"
        lines.append(f"Step {step} | Source: {source} | Node: {node_name}")
    # The seed shows steps 3..0; the real steps are 2..-1.
    assert lines == [
        "Step 2 | Source: loop | Node: analyze",
        "Step 1 | Source: loop | Node: search",
        "Step 0 | Source: loop | Node: __start__",
        "Step -1 | Source: input | Node: —",
    ]


class FailableState(MessagesState):
    data: list[str]
    processed: list[str]


def test_seed004_resume_after_a_failure_reruns_only_process() -> None:
    calls: list[str] = []

    def fetch_node(state: FailableState) -> dict:
        calls.append("fetch")
        return {"data": ["item_1", "item_2", "item_3"]}

    def process_node(state: FailableState) -> dict:
        calls.append("process")
        if calls.count("process") == 1:  # stands in for random.random() < 0.5
            raise ConnectionError("API timeout during processing")
        return {"processed": [f"processed_{d}" for d in state["data"]]}

    builder = StateGraph(FailableState)
    builder.add_node("fetch", fetch_node)
    builder.add_node("process", process_node)
    builder.add_edge(START, "fetch")
    builder.add_edge("fetch", "process")
    builder.add_edge("process", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "resilient_001"}}

    with pytest.raises(ConnectionError):
        graph.invoke({"messages": [], "data": [], "processed": []}, config)
    snapshot = graph.get_state(config)
    assert snapshot.values.get("data", []) == ["item_1", "item_2", "item_3"]
    assert snapshot.next == ("process",)

    result = graph.invoke(None, config)

    assert result["processed"] == ["processed_item_1", "processed_item_2", "processed_item_3"]
    assert calls == ["fetch", "process", "process"]


def test_seed004_replay_of_step_2_does_nothing_because_it_is_the_end() -> None:
    # The seed means "the checkpoint after search_node", but the code picks
    # step 2, which is the final checkpoint: nothing is next, so nothing runs.
    graph = research_graph()
    graph.invoke(RESEARCH_INPUT, RESEARCH)
    history = list(graph.get_state_history(RESEARCH))
    search_checkpoint = None
    for snapshot in history:
        if snapshot.metadata.get("step") == 2:
            search_checkpoint = snapshot.config
            break

    replay_result = graph.invoke(None, search_checkpoint)

    assert replay_result["summary"] == "Found 2 sources"
    assert list(graph.get_state_history(RESEARCH)) == history


def test_seed004_fork_then_invoke_the_original_config_gives_the_original_result() -> None:
    # The seed prints "Forked result: Found 4 sources". LangGraph really gives
    # "Found 2 sources": the code invokes the ORIGINAL checkpoint config again
    # (the fork is only in update_state's return value), and `sources` has no
    # reducer, so the update would replace the two sources, not add to them.
    graph = research_graph()
    graph.invoke(RESEARCH_INPUT, RESEARCH)
    history = list(graph.get_state_history(RESEARCH))
    search_checkpoint = next(s.config for s in history if s.metadata.get("step") == 2)
    search_checkpoint_config = search_checkpoint

    fork_config = graph.update_state(
        search_checkpoint_config,
        values={"sources": ["extra_source_3.pdf", "extra_source_4.pdf"]},
        as_node="search",
    )
    forked_result = graph.invoke(None, search_checkpoint_config)

    assert forked_result["summary"] == "Found 2 sources"
    assert forked_result["sources"] == ["source_1.pdf", "source_2.pdf"]

    fork = graph.get_state(fork_config)
    assert fork.values["sources"] == ["extra_source_3.pdf", "extra_source_4.pdf"]
    assert fork.next == ("analyze",)
    continued = graph.invoke(None, fork_config)
    assert continued["sources"] == ["extra_source_3.pdf", "extra_source_4.pdf"]
    assert continued["summary"] == "Found 2 sources"


def test_seed004_fork_after_search_reruns_analyze_on_the_edited_sources() -> None:
    graph = research_graph()
    graph.invoke(RESEARCH_INPUT, RESEARCH)
    after_search = by_step(list(graph.get_state_history(RESEARCH)), 1)
    fork_config = graph.update_state(
        after_search.config, values={"sources": ["only_one.pdf"]}, as_node="search"
    )
    assert graph.invoke(None, fork_config)["summary"] == "Found 1 sources"


class AccumulatingState(TypedDict):
    items: Annotated[list[str], operator.add]
    status: str


def accumulating_graph() -> Any:
    builder = StateGraph(AccumulatingState)
    builder.add_node("collect", lambda state: {"items": ["collected"], "status": "collected"})
    builder.add_edge(START, "collect")
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"items": [], "status": "new"}, {"configurable": {"thread_id": "acc"}})
    return graph


def test_seed004_update_state_as_a_virtual_human_node_is_rejected() -> None:
    graph = accumulating_graph()
    config = {"configurable": {"thread_id": "acc"}}
    with pytest.raises(InvalidUpdateError, match="human"):
        graph.update_state(config, values={"items": ["manually_added"]}, as_node="human")


def test_seed004_manual_updates_accumulate_through_reducers_and_overwrite_plain_keys() -> None:
    graph = accumulating_graph()
    config = {"configurable": {"thread_id": "acc"}}
    graph.update_state(config, values={"items": ["manually_added"]})
    graph.update_state(config, values={"status": "manually_approved"})
    assert graph.get_state(config).values == {
        "items": ["collected", "manually_added"],
        "status": "manually_approved",
    }


def test_seed004_as_node_decides_what_runs_next() -> None:
    class Data(TypedDict):
        data: str

    builder = StateGraph(Data)
    builder.add_node("search", lambda s: {"data": "searched"})
    builder.add_node("analyze", lambda s: {"data": "analyzed"})
    builder.add_node("report", lambda s: {"data": "reported"})
    builder.add_edge(START, "search").add_edge("search", "analyze").add_edge("analyze", "report")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "opt"}}
    graph.invoke({"data": ""}, config)
    at_analyze = by_step(list(graph.get_state_history(config)), 1).config  # next: analyze

    option_1 = graph.update_state(at_analyze, values={"data": "new"}, as_node="analyze")
    option_2 = graph.update_state(at_analyze, values={"data": "new"}, as_node="search")

    assert graph.get_state(option_1).next == ("report",)
    assert graph.get_state(option_2).next == ("analyze",)


class PipelineState(TypedDict):
    query: str
    sources: Annotated[list[str], operator.add]
    analysis: str
    report: str


def test_seed004_exercise_fails_once_resumes_and_shows_history() -> None:
    gather_calls: list[int] = []
    analyze_calls: list[int] = []

    def gather_sources(state: PipelineState) -> dict:
        gather_calls.append(1)
        return {"sources": ["paper_1.pdf", "paper_2.pdf", "paper_3.pdf"]}

    def analyze_sources(state: PipelineState) -> dict:
        analyze_calls.append(1)
        if len(analyze_calls) == 1:
            raise ConnectionError("Simulated API failure!")
        return {"analysis": f"Analyzed {len(state['sources'])} sources successfully"}

    def write_report(state: PipelineState) -> dict:
        return {"report": f"Report: {state['analysis']}. Based on {len(state['sources'])} sources."}

    builder = StateGraph(PipelineState)
    builder.add_node("gather", gather_sources)
    builder.add_node("analyze", analyze_sources)
    builder.add_node("report", write_report)
    builder.add_edge(START, "gather")
    builder.add_edge("gather", "analyze")
    builder.add_edge("analyze", "report")
    builder.add_edge("report", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "pipeline_001"}}

    with pytest.raises(ConnectionError, match="Simulated API failure!"):
        graph.invoke(
            {"query": "state management", "sources": [], "analysis": "", "report": ""}, config
        )
    snapshot = graph.get_state(config)
    assert snapshot.values.get("sources", []) == ["paper_1.pdf", "paper_2.pdf", "paper_3.pdf"]
    assert snapshot.next == ("analyze",)

    result = graph.invoke(None, config)

    assert result["report"] == "Report: Analyzed 3 sources successfully. Based on 3 sources."
    assert len(gather_calls) == 1
    assert len(analyze_calls) == 2
    lines = []
    for snap in graph.get_state_history(config):
        step = snap.metadata.get("step", "?")
        writes = snap.metadata.get("writes", {})
        node = list(writes.keys())[0] if writes else "initial"
        lines.append(f"Step {step}: {node}")
    # The seed shows steps 4..0; the real steps are 3..-1.
    assert lines == [
        "Step 3: report",
        "Step 2: analyze",
        "Step 1: gather",
        "Step 0: __start__",
        "Step -1: initial",
    ]
