"""Building graphs: schema kinds, reducers, builder methods, edges, joins and Send."""

import dataclasses
import operator
from typing import Annotated, Any, Callable, TypedDict

import pydantic

from cairn.graph import END, START, MessagesState, StateGraph
from cairn.types import Send
from tests.support import history, steps, thread


class Log(TypedDict):
    log: Annotated[list, operator.add]
    x: int


def logger(name: str) -> Callable[[Any], dict[str, Any]]:
    """A node that appends its own name to ``log``."""

    def node(state: Any) -> dict[str, Any]:
        return {"log": [name]}

    node.__name__ = name
    return node


# --- schema kinds ---------------------------------------------------------------


def test_typed_dict_schema_gives_node_a_dict_and_returns_a_dict() -> None:
    class S(TypedDict):
        name: str
        count: int

    seen: list[Any] = []

    def inc(state: S) -> dict[str, Any]:
        seen.append(state)
        return {"count": state["count"] + 1}

    graph = StateGraph(S).add_node("inc", inc).add_edge(START, "inc").compile()
    result = graph.invoke({"name": "x", "count": 1})
    assert result == {"name": "x", "count": 2}
    assert type(result) is dict
    assert seen == [{"name": "x", "count": 1}]


@dataclasses.dataclass
class DataclassState:
    name: str
    count: int = 0
    log: Annotated[list, operator.add] = dataclasses.field(default_factory=list)


def test_dataclass_schema_gives_node_an_instance_and_returns_a_dict() -> None:
    seen: list[Any] = []

    def inc(state: DataclassState) -> dict[str, Any]:
        seen.append(state)
        return {"count": state.count + 1, "log": [state.name]}

    graph = StateGraph(DataclassState).add_node("inc", inc).add_edge(START, "inc").compile()
    result = graph.invoke({"name": "x"})
    assert result == {"name": "x", "count": 1, "log": ["x"]}
    assert type(result) is dict
    assert isinstance(seen[0], DataclassState)


def test_dataclass_schema_accepts_an_instance_as_input() -> None:
    graph = (
        StateGraph(DataclassState)
        .add_node("inc", lambda s: {"count": s.count + 1})
        .add_edge(START, "inc")
        .compile()
    )
    assert graph.invoke(DataclassState(name="y", count=4)) == {"name": "y", "count": 5, "log": []}


class PydanticState(pydantic.BaseModel):
    name: str
    count: int = 0
    log: Annotated[list, operator.add] = pydantic.Field(default_factory=list)


def test_pydantic_schema_gives_node_a_model_and_returns_a_dict(saver: Any) -> None:
    seen: list[Any] = []

    def inc(state: PydanticState) -> dict[str, Any]:
        seen.append(state)
        return {"count": state.count + 1, "log": [state.name]}

    graph = (
        StateGraph(PydanticState)
        .add_node("inc", inc)
        .add_edge(START, "inc")
        .compile(checkpointer=saver)
    )
    result = graph.invoke({"name": "x"}, thread("p"))
    assert result == {"name": "x", "count": 1, "log": ["x"]}
    assert type(result) is dict
    assert isinstance(seen[0], PydanticState)
    values = graph.get_state(thread("p")).values
    assert values == {"name": "x", "count": 1, "log": ["x"]}
    assert type(values) is dict


def test_pydantic_schema_accepts_a_model_as_input() -> None:
    graph = (
        StateGraph(PydanticState)
        .add_node("inc", lambda s: {"count": s.count + 1})
        .add_edge(START, "inc")
        .compile()
    )
    assert graph.invoke(PydanticState(name="z")) == {"name": "z", "count": 1, "log": []}


def test_messages_state_subclass_keeps_extra_keys() -> None:
    class Research(MessagesState):
        query: str
        summary: str

    graph = (
        StateGraph(Research)
        .add_node("summarize", lambda s: {"summary": f"about {s['query']}"})
        .add_edge(START, "summarize")
        .compile()
    )
    result = graph.invoke({"messages": [], "query": "state", "summary": ""})
    assert result == {"messages": [], "query": "state", "summary": "about state"}


# --- reducers -------------------------------------------------------------------


class Totals(TypedDict):
    total: Annotated[int, operator.add]
    items: Annotated[list, operator.add]
    last: str


def test_reducer_keys_start_at_the_types_empty_value() -> None:
    graph = StateGraph(Totals).add_node("n", lambda s: {"last": "n"}).add_edge(START, "n").compile()
    assert graph.invoke({}) == {"total": 0, "items": [], "last": "n"}


def test_reducer_combines_input_and_node_updates() -> None:
    graph = (
        StateGraph(Totals)
        .add_node("n", lambda s: {"total": 5, "items": ["n"]})
        .add_edge(START, "n")
        .compile()
    )
    assert graph.invoke({"total": 1, "items": ["in"]}) == {"total": 6, "items": ["in", "n"]}


def test_reducer_applies_to_input_on_an_existing_thread(saver: Any) -> None:
    graph = (
        StateGraph(Totals)
        .add_node("n", lambda s: {"total": 5, "items": ["n"]})
        .add_edge(START, "n")
        .compile(checkpointer=saver)
    )
    assert graph.invoke({"total": 1}, thread("r")) == {"total": 6, "items": ["n"]}
    second = graph.invoke({"total": 10, "items": ["z"]}, thread("r"))
    assert second == {"total": 21, "items": ["n", "z", "n"]}


def test_key_without_reducer_keeps_last_value() -> None:
    graph = (
        StateGraph(Totals)
        .add_node("a", lambda s: {"last": "a"})
        .add_node("b", lambda s: {"last": "b"})
        .add_edge(START, "a")
        .add_edge("a", "b")
        .compile()
    )
    assert graph.invoke({"last": "input"})["last"] == "b"


def test_custom_reducer_function_is_used() -> None:
    def keep_max(old: int, new: int) -> int:
        return max(old, new)

    class S(TypedDict):
        best: Annotated[int, keep_max]

    builder = StateGraph(S)
    builder.add_node("low", lambda s: {"best": 3})
    builder.add_node("high", lambda s: {"best": 9})
    builder.add_node("low_again", lambda s: {"best": 1})
    builder.add_edge(START, "low").add_edge("low", "high").add_edge("high", "low_again")
    assert builder.compile().invoke({"best": 5}) == {"best": 9}


# --- builder methods ------------------------------------------------------------


def test_builder_methods_return_the_builder() -> None:
    builder = StateGraph(Log)
    assert builder.add_node("a", logger("a")) is builder
    assert builder.add_node("b", logger("b")) is builder
    assert builder.add_node("c", logger("c")) is builder
    assert builder.set_entry_point("a") is builder
    assert builder.add_edge("a", "b") is builder
    assert builder.add_conditional_edges("b", lambda s: "c") is builder
    assert builder.set_finish_point("c") is builder
    seq = StateGraph(Log)
    assert seq.add_sequence([logger("p"), logger("q")]) is seq


def test_chained_builder_runs() -> None:
    graph = (
        StateGraph(Log)
        .add_node("a", logger("a"))
        .add_node("b", logger("b"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END)
        .compile()
    )
    assert graph.invoke({"log": []}) == {"log": ["a", "b"]}


def test_add_node_with_only_a_function_uses_its_name() -> None:
    def fetch(state: Log) -> dict[str, Any]:
        return {"log": ["fetched"]}

    graph = StateGraph(Log).add_node(fetch).add_edge(START, "fetch").compile()
    assert graph.invoke({"log": []}) == {"log": ["fetched"]}


def test_set_entry_point_and_finish_point_are_edges_from_start_and_to_end() -> None:
    graph = (
        StateGraph(Log)
        .add_node("only", logger("only"))
        .set_entry_point("only")
        .set_finish_point("only")
        .compile()
    )
    assert graph.invoke({"log": []}) == {"log": ["only"]}


def test_add_sequence_runs_nodes_in_order_and_accepts_named_pairs() -> None:
    builder = StateGraph(Log).add_sequence([logger("p"), logger("q"), ("r", logger("rr"))])
    graph = builder.set_entry_point("p").compile()
    assert graph.invoke({"log": []}) == {"log": ["p", "q", "rr"]}


def test_add_sequence_makes_one_step_per_node(saver: Any) -> None:
    graph = (
        StateGraph(Log)
        .add_sequence([logger("p"), logger("q"), logger("r")])
        .add_edge(START, "p")
        .compile(checkpointer=saver)
    )
    graph.invoke({"log": []}, thread("seq"))
    assert steps(history(graph, thread("seq"))) == [3, 2, 1, 0, -1]


# --- conditional edges ----------------------------------------------------------


def branching(path: Callable[[Any], Any], path_map: Any = None) -> Any:
    builder = StateGraph(Log)
    for name in ("start", "left", "right"):
        builder.add_node(name, logger(name))
    builder.add_edge(START, "start")
    if path_map is None:
        builder.add_conditional_edges("start", path)
    else:
        builder.add_conditional_edges("start", path, path_map)
    return builder.compile()


def test_conditional_edge_routes_to_the_returned_node_name() -> None:
    graph = branching(lambda s: "left" if s["x"] < 0 else "right")
    assert graph.invoke({"log": [], "x": -1})["log"] == ["start", "left"]
    assert graph.invoke({"log": [], "x": 1})["log"] == ["start", "right"]


def test_conditional_edge_with_dict_path_map_translates_labels() -> None:
    graph = branching(lambda s: "L" if s["x"] < 0 else "R", {"L": "left", "R": "right"})
    assert graph.invoke({"log": [], "x": -1})["log"] == ["start", "left"]
    assert graph.invoke({"log": [], "x": 1})["log"] == ["start", "right"]


def test_conditional_edge_with_list_path_map() -> None:
    graph = branching(lambda s: "left" if s["x"] < 0 else "right", ["left", "right"])
    assert graph.invoke({"log": [], "x": -1})["log"] == ["start", "left"]
    assert graph.invoke({"log": [], "x": 1})["log"] == ["start", "right"]


def test_conditional_edge_returning_end_stops_the_run() -> None:
    graph = branching(lambda s: END if s["x"] == 0 else "left")
    assert graph.invoke({"log": [], "x": 0}) == {"log": ["start"], "x": 0}


def test_conditional_edge_returning_a_list_runs_the_nodes_in_one_step(saver: Any) -> None:
    builder = StateGraph(Log)
    for name in ("start", "left", "right"):
        builder.add_node(name, logger(name))
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", lambda s: ["left", "right"])
    graph = builder.compile(checkpointer=saver)
    assert graph.invoke({"log": [], "x": 1}, thread("fan"))["log"] == ["start", "left", "right"]
    snapshots = history(graph, thread("fan"))
    assert steps(snapshots) == [2, 1, 0, -1]
    assert snapshots[1].next == ("left", "right")


def test_conditional_edge_from_start_picks_the_first_node() -> None:
    builder = StateGraph(Log)
    builder.add_node("neg", logger("neg")).add_node("pos", logger("pos"))
    builder.add_conditional_edges(START, lambda s: "neg" if s["x"] < 0 else "pos")
    graph = builder.compile()
    assert graph.invoke({"log": [], "x": -5})["log"] == ["neg"]
    assert graph.invoke({"log": [], "x": 5})["log"] == ["pos"]


def test_conditional_loop_runs_until_the_path_says_end() -> None:
    class Counter(TypedDict):
        n: int

    builder = StateGraph(Counter).add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 5 else END)
    assert builder.compile().invoke({"n": 0}) == {"n": 5}


# --- joins ----------------------------------------------------------------------


def test_join_waits_for_both_sources_finishing_in_different_steps(saver: Any) -> None:
    """START -> a and START -> x -> b; [a, b] -> c: c runs once, after b."""

    class S(TypedDict):
        log: Annotated[list, operator.add]

    def seen_by(name: str) -> Callable[[S], dict[str, Any]]:
        return lambda s: {"log": [f"{name} saw {sorted(s['log'])}"]}

    builder = StateGraph(S)
    for name in ("a", "x", "b", "c"):
        builder.add_node(name, seen_by(name))
    builder.add_edge(START, "a").add_edge(START, "x").add_edge("x", "b")
    builder.add_edge(["a", "b"], "c")
    graph = builder.compile(checkpointer=saver)

    result = graph.invoke({"log": []}, thread("join"))

    c_lines = [line for line in result["log"] if line.startswith("c ")]
    assert len(c_lines) == 1
    assert "b saw" in c_lines[0] and "a saw" in c_lines[0]
    snapshots = history(graph, thread("join"))
    assert steps(snapshots) == [3, 2, 1, 0, -1]
    assert snapshots[1].next == ("c",)
    assert "b" in snapshots[2].next


def test_join_of_parallel_sources_runs_target_once() -> None:
    builder = StateGraph(Log)
    for name in ("a", "b", "c"):
        builder.add_node(name, logger(name))
    builder.add_edge(START, "a").add_edge(START, "b").add_edge(["a", "b"], "c")
    assert builder.compile().invoke({"log": []})["log"] == ["a", "b", "c"]


# --- Send fan-out ---------------------------------------------------------------


class Jokes(TypedDict):
    subjects: list
    jokes: Annotated[list, operator.add]


def fan_out_graph(checkpointer: Any = None) -> Any:
    def generate(arg: dict[str, Any]) -> dict[str, Any]:
        return {"jokes": [f"joke about {arg['subject']}"]}

    builder = StateGraph(Jokes).add_node("generate", generate)
    builder.add_conditional_edges(
        START, lambda s: [Send("generate", {"subject": x}) for x in s["subjects"]]
    )
    builder.add_edge("generate", END)
    return builder.compile(checkpointer=checkpointer)


def test_send_runs_node_once_per_send_with_its_arg_in_send_order() -> None:
    result = fan_out_graph().invoke({"subjects": ["cats", "dogs", "ants"]})
    assert result["jokes"] == ["joke about cats", "joke about dogs", "joke about ants"]


def test_send_tasks_run_in_one_step(saver: Any) -> None:
    graph = fan_out_graph(saver)
    graph.invoke({"subjects": ["cats", "dogs", "ants"]}, thread("send"))
    snapshots = history(graph, thread("send"))
    assert steps(snapshots) == [1, 0, -1]
    assert snapshots[1].next == ("generate", "generate", "generate")


def test_send_with_no_targets_ends_the_run() -> None:
    assert fan_out_graph().invoke({"subjects": []}) == {"subjects": [], "jokes": []}


# --- deferred nodes -------------------------------------------------------------


def counting_join(defer: bool, checkpointer: Any = None) -> Any:
    """START -> a -> final and START -> b -> b2 -> final; each node logs how much it saw."""

    class S(TypedDict):
        log: Annotated[list, operator.add]

    def seen(name: str) -> Callable[[S], dict[str, Any]]:
        return lambda s: {"log": [f"{name}:{len(s['log'])}"]}

    builder = StateGraph(S)
    builder.add_node("a", seen("a")).add_node("b", seen("b")).add_node("b2", seen("b2"))
    builder.add_node("final", seen("final"), defer=defer)
    builder.add_edge(START, "a").add_edge(START, "b").add_edge("b", "b2")
    builder.add_edge("a", "final").add_edge("b2", "final")
    return builder.compile(checkpointer=checkpointer)


def test_deferred_node_runs_once_after_every_branch_finished(saver: Any) -> None:
    graph = counting_join(defer=True, checkpointer=saver)
    assert graph.invoke({"log": []}, thread("d")) == {"log": ["a:0", "b:0", "b2:2", "final:3"]}
    snapshots = history(graph, thread("d"))
    assert [(s.metadata["step"], s.next) for s in snapshots] == [
        (3, ()),
        (2, ("final",)),
        (1, ("b2",)),
        (0, ("a", "b")),
        (-1, ("__start__",)),
    ]


def test_node_without_defer_runs_each_time_an_edge_triggers_it() -> None:
    result = counting_join(defer=False).invoke({"log": []})
    assert result == {"log": ["a:0", "b:0", "b2:2", "final:2", "final:4"]}
