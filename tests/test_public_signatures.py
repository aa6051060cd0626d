"""Every public signature names its parameters: a misspelt argument is a
``TypeError`` as anywhere in Python, and a LangGraph parameter cairn does not
implement yet is refused with a ``NotSupportedError`` naming it; nothing is
silently ignored."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import operator
import pkgutil
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, TypedDict

import pytest

import cairn
from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.serde import EncryptedSerializer, Serializer
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import CairnError, ConfigError, NotSupportedError
from cairn.graph import START, StateGraph
from cairn.types import RetryPolicy
from tests.support import history, thread


class State(TypedDict):
    log: Annotated[list, operator.add]


def node(state: State) -> dict[str, Any]:
    return {"log": ["n"]}


def builder() -> StateGraph:
    return StateGraph(State).add_node("n", node).add_edge(START, "n")


def drain(result: Any) -> Any:
    """Run what a call returned to its end: a list, a generator or an async one."""
    if inspect.isasyncgen(result):

        async def collect() -> list[Any]:
            return [chunk async for chunk in result]

        return asyncio.run(collect())
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isgenerator(result):
        return list(result)
    return result


RUNS = ["invoke", "ainvoke", "stream", "astream"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: StateGraph(State, contex_schema=dict),
        lambda: builder().add_node("m", node, retyr_policy=RetryPolicy()),
        lambda: builder().compile(interupt_before=["n"]),
        lambda: builder().compile().get_state_history(thread("t"), limt=1),
        lambda: builder().compile(checkpointer=InMemorySaver()).update_state(
            thread("t"), {"log": []}, asnode="n"
        ),
    ],
    ids=["StateGraph", "add_node", "compile", "get_state_history", "update_state"],
)
def test_a_misspelt_argument_of_the_builder_and_the_readers_is_a_type_error(
    make: Callable[[], Any],
) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        drain(make())


@pytest.mark.parametrize("method", RUNS)
def test_a_misspelt_argument_of_a_run_is_a_type_error(method: str) -> None:
    graph = builder().compile()
    with pytest.raises(TypeError, match="unexpected keyword argument 'stream_mod'"):
        drain(getattr(graph, method)({"log": []}, stream_mod="updates"))


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: builder().compile(debug=True), "debug"),
        (lambda: builder().compile().invoke({"log": []}, output_keys=["log"]), "output_keys"),
        (lambda: builder().compile().ainvoke({"log": []}, print_mode="updates"), "print_mode"),
        (
            lambda: builder().compile(checkpointer=InMemorySaver()).update_state(
                thread("t"), {"log": []}, task_id="x"
            ),
            "task_id",
        ),
    ],
)
def test_a_langgraph_parameter_cairn_lacks_is_refused_naming_it(
    make: Callable[[], Any], name: str
) -> None:
    with pytest.raises(NotSupportedError, match=f"{name}=") as raised:
        drain(make())
    assert isinstance(raised.value, CairnError) and isinstance(raised.value, NotImplementedError)


def test_store_and_context_are_taken_not_ignored() -> None:
    """``compile(store=)`` and ``invoke(context=)`` reach the nodes
    (tests/test_node_signatures.py shows how); here: they are accepted."""
    store = object()
    graph = builder().compile(store=store)
    assert graph.store is store
    assert graph.invoke({"log": []}, context={"user": "ada"}) == {"log": ["n"]}


def test_langgraphs_older_checkpoint_during_chooses_the_durability() -> None:
    saver = InMemorySaver()
    stored_while_running: list[int] = []

    def second(state: State) -> dict[str, Any]:
        stored_while_running.append(len(history(graph, thread("t"))))
        return {"log": ["m"]}

    graph = builder().add_node("m", second).add_edge("n", "m").compile(checkpointer=saver)
    graph.invoke({"log": []}, thread("t"), checkpoint_during=False)  # durability="exit"
    graph.invoke({"log": []}, thread("t"), checkpoint_during=True)  # durability="async"
    assert stored_while_running[0] == 0  # nothing was stored before the run ended
    assert [s.metadata["step"] for s in history(graph, thread("t"))] == [6, 5, 4, 3, 2, 1, 0, -1]
    with pytest.raises(ConfigError, match="checkpoint_during"):
        graph.invoke({"log": []}, thread("x"), durability="sync", checkpoint_during=True)


def _public_functions() -> Iterator[Callable[..., Any]]:
    """Every function and method cairn defines that a module's ``__all__``
    exports (the savers and serializers with their extras included)."""
    for module in pkgutil.walk_packages(cairn.__path__, "cairn."):
        if module.name.endswith("__main__"):
            continue
        exported = importlib.import_module(module.name)
        for name in getattr(exported, "__all__", ()):
            obj = getattr(exported, name)
            members = [getattr(obj, n) for n in dir(obj)] if isinstance(obj, type) else [obj]
            for fn in members:
                fn = getattr(fn, "__func__", fn)
                if inspect.isfunction(fn) and fn.__module__.startswith("cairn"):
                    yield fn


def test_no_public_signature_takes_catch_all_keywords() -> None:
    functions = {f"{fn.__module__}.{fn.__qualname__}": fn for fn in _public_functions()}
    assert "cairn.graph.state.StateGraph.compile" in functions
    assert "cairn.checkpoint.postgres.PostgresSaver.from_conn_string" in functions
    catch_alls = [
        f"{where}(**{p.name})"
        for where, fn in functions.items()
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.VAR_KEYWORD
    ]
    assert catch_alls == []


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: SqliteSaver.from_conn_string(str(tmp / "c.db"), synchronus="normal"),
        lambda tmp: EncryptedSerializer.from_key(EncryptedSerializer.generate_key(), compresion=None),
        lambda tmp: EncryptedSerializer(EncryptedSerializer.generate_key(), pickle_fallbak=True),
    ],
    ids=["SqliteSaver.from_conn_string", "EncryptedSerializer.from_key", "EncryptedSerializer"],
)
def test_a_misspelt_option_of_a_saver_or_serializer_is_a_type_error(
    make: Callable[[Path], Any], tmp_path: Path
) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        make(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no file was made for a refused call


def test_the_options_of_from_conn_string_reach_the_saver(tmp_path: Path) -> None:
    serde = Serializer(compression=None)
    with SqliteSaver.from_conn_string(str(tmp_path / "c.db"), serde=serde, lease_ttl=7.0) as saver:
        assert saver.serde is serde and saver.lease_ttl == 7.0
