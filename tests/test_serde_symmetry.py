"""What one process stores, a fresh process of the same application loads.

A value is stored only if a fresh process running the same code could load
it back: its class is registered, under its own name, in the serializer of
the saver that stores it: reachable from the annotations of the state schema
of a graph compiled with that saver, or registered with ``register_type``
(savers made without ``serde=``) or ``Serializer(types=...)``/``register``. Anything else fails when it is stored, naming the state
key, the node and the class, and storing never registers anything. A process
that loads a class it has not registered gets an error saying the stored
bytes are intact and how to load them, never "damaged ... delete the thread".

The cross-process tests run the application tests/symmetry_app.py in child
processes (tests/symmetry_child.py), on a real SQLite file and a real PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, NamedTuple, Optional, TypedDict

import msgpack
import pydantic
import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.serde import Serializer, register_type
from cairn.errors import SerializationError
from cairn.graph import END, START, StateGraph
from cairn.types import Send, interrupt
from tests.pg import fresh_schema
from tests.support import thread

ROOT = Path(__file__).resolve().parents[1]
CHILD = "tests.symmetry_child"


# --- child processes ------------------------------------------------------------------


def app(*args: str) -> dict[str, Any]:
    """Run ``python -m tests.symmetry_child ARGS`` in a fresh process; its JSON line."""
    return child(CHILD, *args)


def child(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m MODULE ARGS`` in a fresh process; its last line, as JSON."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(KIND, TARGET) of an empty store the child processes share."""
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "app.db")
    else:
        with fresh_schema() as url:
            yield "postgres", url


def expected(case: str) -> str:
    """The state a run of ``case`` ends with, as the children print it."""
    from tests import symmetry_app

    return repr({"case": case, **symmetry_app.CASES[case]()})


# --- across processes -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["card", "box", "mood", "tag"])
def test_what_one_process_stores_a_fresh_process_of_the_same_application_loads(
    case: str, store: tuple[str, str]
) -> None:
    stored = app("store", *store, "t", case)
    assert "ok" in stored, stored
    loaded = app("load", *store, "t")
    assert loaded.get("ok") == expected(case), loaded
    assert loaded["steps"] == [1, 0, -1]


@pytest.mark.parametrize(
    ("case", "key"), [("loose", "extra"), ("nested-loose", "card")]
)
def test_a_class_a_fresh_process_could_not_load_fails_when_stored_naming_key_node_and_class(
    case: str, key: str, store: tuple[str, str]
) -> None:
    stored = app("store", *store, "t", case)
    assert stored.get("error") == "SerializationError", stored
    message = stored["message"]
    for part in (repr(key), "'write'", "tests.symmetry_app:Loose", "register_type(Loose)"):
        assert part in message, f"{part!r} is not in: {message}"
    # Nothing stored half-way: the thread ends at the step before, and reads.
    loaded = app("load", *store, "t")
    assert loaded.get("ok") == repr({"case": case}), loaded
    assert loaded["steps"] == [0, -1]


def test_a_stored_class_a_fresh_process_has_not_registered_is_reported_intact(
    store: tuple[str, str],
) -> None:
    # The storing process registered Late while it ran; a fresh one has not yet.
    assert "ok" in app("store", *store, "t", "late")
    refused = app("load", *store, "t")
    assert refused.get("error") == "StorageError", refused
    message = refused["message"]
    for part in ("tests.symmetry_app:Late", "intact", "register_type"):
        assert part in message, f"{part!r} is not in: {message}"
    for wrong in ("damaged", "delete", "restore"):
        assert wrong not in message, f"{wrong!r} is in: {message}"
    # The bytes were intact: registering the class is all it takes.
    loaded = app("load", *store, "t", "register-late")
    assert loaded.get("ok") == expected("late"), loaded


def test_a_class_only_another_graphs_schema_names_is_not_stored_by_this_graphs_saver(
    store: tuple[str, str],
) -> None:
    # Registries belong to serializers: compiling the other graph with a saver
    # of its own registered OtherOnly there, not in the saver of this graph,
    # so a fresh process compiling only this graph could not load it.
    stored = app("store", *store, "t", "other")
    assert stored.get("error") == "SerializationError", stored
    message = stored["message"]
    for part in ("'extra'", "'write'", "tests.symmetry_app:OtherOnly", "not registered"):
        assert part in message, f"{part!r} is not in: {message}"
    loaded = app("load", *store, "t")
    assert loaded.get("ok") == repr({"case": "other"}), loaded
    assert loaded["steps"] == [0, -1]


# --- the serializer -----------------------------------------------------------------------


@dataclasses.dataclass
class Unlisted:
    text: str


class UnlistedEnum(enum.Enum):
    A = 1


class UnlistedPair(NamedTuple):
    left: Any
    right: Any


class UnlistedModel(pydantic.BaseModel):
    text: str = ""


@dataclasses.dataclass
class Listed:
    text: Any


@dataclasses.dataclass
class ListedChild(Listed):
    pass


UNLISTED = [Unlisted("u"), UnlistedEnum.A, UnlistedPair(1, 2), UnlistedModel(text="m")]


@pytest.mark.parametrize("value", UNLISTED, ids=lambda v: type(v).__name__)
def test_storing_a_value_of_an_unregistered_class_fails_and_registers_nothing(value: Any) -> None:
    serde = Serializer()
    name = f"{type(value).__module__}:{type(value).__qualname__}"
    for _ in range(2):  # the first failure registered nothing
        with pytest.raises(SerializationError) as caught:
            serde.dumps({"k": [value]})
        assert name in str(caught.value)
        assert f"serializer.register({type(value).__qualname__})" in str(caught.value)


def test_a_subclass_of_a_registered_class_must_be_registered_itself() -> None:
    serde = Serializer(types=[Listed])
    serde.dumps(Listed("ok"))
    with pytest.raises(SerializationError, match="ListedChild"):
        serde.dumps(ListedChild("child"))


def test_a_class_whose_name_was_registered_for_another_class_is_refused() -> None:
    def make() -> type:
        @dataclasses.dataclass
        class Twin:
            text: str

        return Twin

    first, second = make(), make()
    serde = Serializer(types=[first])
    assert type(serde.loads(serde.dumps(first("a")))) is first
    serde.register(second)  # loading that name now rebuilds `second`
    with pytest.raises(SerializationError, match="another class"):
        serde.dumps(first("a"))
    assert type(serde.loads(serde.dumps(second("b")))) is second


def test_pickle_fallback_stores_an_unregistered_class_with_pickle() -> None:
    serde = Serializer(pickle_fallback=True)
    blob = serde.dumps(Unlisted("p"))
    assert serde.loads(blob) == Unlisted("p")
    with pytest.raises(SerializationError, match="pickle"):
        Serializer().loads(blob)


def test_loading_an_unregistered_class_says_the_bytes_are_intact() -> None:
    body = msgpack.packb(["tests.nowhere:Gone", {"text": "x"}], use_bin_type=True)
    blob = msgpack.packb(msgpack.ExtType(12, body), use_bin_type=True)
    with pytest.raises(SerializationError) as caught:
        Serializer().loads(blob)
    message = str(caught.value)
    assert "tests.nowhere:Gone" in message and "intact" in message and "register(Gone)" in message
    assert "damaged" not in message


# --- where a graph stores values ----------------------------------------------------------


def _one_node_graph(node: Any, schema: Any = None) -> Any:
    class S(TypedDict):
        value: Any

    builder = StateGraph(schema or S)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_an_update_state_of_an_unregistered_class_fails_naming_the_key() -> None:
    graph = _one_node_graph(lambda state: {"value": 1})
    graph.invoke({"value": 0}, thread("u"))
    with pytest.raises(SerializationError) as caught:
        graph.update_state(thread("u"), {"value": Unlisted("x")})
    assert "'value'" in str(caught.value) and "Unlisted" in str(caught.value)
    assert graph.get_state(thread("u")).values == {"value": 1}


def test_a_send_argument_of_an_unregistered_class_fails_naming_the_node() -> None:
    class S(TypedDict):
        value: Any

    builder = StateGraph(S)
    builder.add_node("fan", lambda state: {})
    builder.add_node("worker", lambda arg: {"value": 1})
    builder.add_edge(START, "fan")
    builder.add_conditional_edges("fan", lambda state: [Send("worker", Unlisted("arg"))])
    builder.add_edge("worker", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    with pytest.raises(SerializationError) as caught:
        graph.invoke({"value": 0}, thread("s"))
    message = str(caught.value)
    assert "'worker'" in message and "Unlisted" in message and "register_type" in message


def test_an_interrupt_value_of_an_unregistered_class_fails_naming_the_interrupt() -> None:
    def ask(state: Any) -> dict[str, Any]:
        return {"value": interrupt(Unlisted("question"))}

    graph = _one_node_graph(ask)
    with pytest.raises(SerializationError) as caught:
        graph.invoke({"value": 0}, thread("i"))
    message = str(caught.value)
    assert "interrupt" in message and "Unlisted" in message and "register_type" in message


def test_run_metadata_other_than_strings_numbers_and_booleans_is_not_stored() -> None:
    """As LangGraph: checkpoint metadata copies only plain scalars of the
    config's metadata, so an object there never reaches the serializer."""
    graph = _one_node_graph(lambda state: {"value": 1})
    config = {**thread("m"), "metadata": {"owner": Unlisted("me"), "user": "ada"}}
    assert graph.invoke({"value": 0}, config) == {"value": 1}
    metadata = graph.get_state(thread("m")).metadata
    assert metadata["user"] == "ada" and "owner" not in metadata


# --- what the schema makes loadable -------------------------------------------------------


@dataclasses.dataclass
class InOptional:
    text: str


@dataclasses.dataclass
class InList:
    text: str


@dataclasses.dataclass
class InDictValue:
    text: str


@dataclasses.dataclass
class InTypedDict:
    text: str


class Wrapper(TypedDict):
    inner: InTypedDict


class InLiteral(enum.Enum):
    X = "x"


@dataclasses.dataclass
class InNamedTupleField:
    text: str


class Row(NamedTuple):
    cell: InNamedTupleField


@dataclasses.dataclass
class InModelField:
    text: str


class Model(pydantic.BaseModel):
    field: Optional[InModelField] = None


def _add(a: Any, b: Any) -> Any:
    return a + b


class Reachable(TypedDict, total=False):
    optional: Optional[InOptional]
    listed: Annotated[list[InList], _add]
    mapped: dict[str, InDictValue]
    wrapped: Wrapper
    literal: Literal[InLiteral.X]
    row: Row
    model: Model


REACHABLE = {
    "optional": InOptional("o"),
    "listed": [InList("l")],
    "mapped": {"k": InDictValue("d")},
    "wrapped": {"inner": InTypedDict("t")},
    "literal": InLiteral.X,
    "row": Row(InNamedTupleField("n")),
    "model": Model(field=InModelField("m")),
}


def _crafted(cls: type, payload: Any) -> bytes:
    """A blob naming ``cls`` as a fresh process reads it (made by hand: storing
    a value must not be what registers its class)."""
    name = f"{cls.__module__}:{cls.__qualname__}"
    code = 11 if issubclass(cls, enum.Enum) else 12
    body = msgpack.packb([name, payload], use_bin_type=True)
    return msgpack.packb(msgpack.ExtType(code, body), use_bin_type=True)


def test_compiling_a_graph_registers_every_class_its_schema_annotations_reach() -> None:
    blobs: dict[type, bytes] = {
        cls: _crafted(cls, {"text": "x"})
        for cls in (InOptional, InList, InDictValue, InTypedDict, InNamedTupleField, InModelField)
    }
    blobs[InLiteral] = _crafted(InLiteral, "x")
    graph = _one_node_graph(lambda state: REACHABLE, Reachable)
    for cls, blob in blobs.items():
        assert type(graph.checkpointer.serde.loads(blob)) is cls
    graph.invoke({}, thread("r"))
    assert graph.get_state(thread("r")).values == REACHABLE
    # Into that saver's serializer only: not another one, nor the process.
    for serde in (Serializer(), InMemorySaver().serde):
        for cls, blob in blobs.items():
            with pytest.raises(SerializationError, match="intact"):
                serde.loads(blob)


# --- "damaged" only for bytes that do not decode ------------------------------------------


def _version(new: bool) -> type:
    """A version of one class (the same stored name every time): the new one
    lost ``note`` and gained ``size``, which has no default."""
    if new:

        @dataclasses.dataclass
        class Versioned:
            text: str
            size: int

    else:

        @dataclasses.dataclass
        class Versioned:  # type: ignore[no-redef]
            text: str
            note: str = ""

    return Versioned


def _stored_thread(path: Path, value: Any) -> Any:
    from cairn.checkpoint.sqlite import SqliteSaver

    graph = _one_node_graph(lambda state: {"value": value})
    graph.checkpointer = SqliteSaver(path)
    graph.invoke({"value": 0}, thread("v"))
    return graph


def test_a_class_changed_since_its_values_were_stored_is_reported_intact(tmp_path: Path) -> None:
    old, new = _version(new=False), _version(new=True)
    assert old.__qualname__ == new.__qualname__
    register_type(old)
    graph = _stored_thread(tmp_path / "v.db", old("t", "n"))
    register_type(new)  # the application now has the other version
    with pytest.raises(Exception) as caught:
        graph.get_state(thread("v"))
    message = str(caught.value)
    assert "no longer has" in message and "intact" in message, message
    assert "delete" not in message and "damaged" not in message, message
    register_type(old)  # the version that stored them loads them
    assert graph.get_state(thread("v")).values["value"] == old("t", "n")


def test_bytes_that_do_not_decode_are_still_reported_damaged(tmp_path: Path) -> None:
    import sqlite3

    graph = _stored_thread(tmp_path / "d.db", "fine")
    conn = sqlite3.connect(tmp_path / "d.db")
    with conn:
        conn.execute("UPDATE cairn_checkpoints SET writes = x'01c1'")
    conn.close()
    with pytest.raises(Exception) as caught:
        graph.get_state(thread("v"))
    message = str(caught.value)
    assert "damaged" in message and "delete_thread('v')" in message, message
