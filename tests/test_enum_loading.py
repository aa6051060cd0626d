"""Loading an enum value runs none of the enum's code: the member is found in
the enum's own tables by its stored name (or plain value), never by calling
the class, its ``_missing_`` or its members' ``__hash__``; from stored values
and from crafted rows, on every saver. Nor does loading a dataclass or a
pydantic model run a ``__new__`` of the application's."""

from __future__ import annotations

import dataclasses
import enum
import operator
from typing import Annotated, Any, TypedDict

import msgpack
import pydantic
import pytest

from cairn.checkpoint import extensions
from cairn.checkpoint.registry import type_name
from cairn.checkpoint.serde import Serializer
from cairn.errors import SerializationError, StorageError
from cairn.graph import START, StateGraph
from tests.damage import edit_checkpoint
from tests.support import cid, thread

CALLS: list[tuple[str, Any]] = []
"""What the enums' own code was called with, in order."""


class Color(enum.Enum):
    RED = 1
    SEA = (2, 3)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        CALLS.append(("Color._missing_", value))
        return None

    def __hash__(self) -> int:
        CALLS.append(("Color.__hash__", self._name_))
        return hash(self._name_)


class Perm(enum.Flag):
    READ = 1
    WRITE = 2
    RUN = 4

    @classmethod
    def _missing_(cls, value: object) -> Any:
        CALLS.append(("Perm._missing_", value))
        return super()._missing_(value)

    def __hash__(self) -> int:
        CALLS.append(("Perm.__hash__", self._name_))
        return hash(self._name_)


def serializer() -> Serializer:
    return Serializer(types=[Color, Perm])


def forget_combinations() -> None:
    """Drop the flag combinations Python made so far, as in a fresh process."""
    for value in [v for v in Perm._value2member_map_ if v not in (1, 2, 4)]:
        del Perm._value2member_map_[value]


def enum_blob(name: str, *payload: Any) -> msgpack.ExtType:
    """An enum value as a crafted row holds it: [stored class name, *payload]."""
    return msgpack.ExtType(extensions.ENUM, msgpack.packb([name, *payload], use_bin_type=True))


@pytest.fixture(autouse=True)
def no_calls_yet() -> None:
    CALLS.clear()
    forget_combinations()


@pytest.mark.parametrize(
    "value",
    [Color.RED, Color.SEA, Perm.READ, Perm.READ | Perm.WRITE, Perm(0), {"colors": [Color.SEA, Color.RED]}],
    ids=["member", "tuple-value", "flag", "flag-combination", "no-flag", "nested"],
)
def test_a_stored_enum_value_loads_without_running_the_enums_code(value: Any) -> None:
    serde = serializer()
    data = serde.dumps(value)
    forget_combinations()
    CALLS.clear()
    loaded = serde.loads(data)
    assert CALLS == []
    # A flag combination made afresh is another object than the one stored: same repr.
    assert repr(loaded) == repr(value)


def test_a_value_stored_before_names_were_kept_loads_without_running_the_enums_code() -> None:
    """cairn 0.1 stored [class, value]: found by the plain value, and a flag
    combination made by the enum module, not the class's _missing_."""
    serde = serializer()
    pair = msgpack.ExtType(extensions.TUPLE, msgpack.packb([2, 3]))
    old = [enum_blob(type_name(Color), 1), enum_blob(type_name(Color), pair), enum_blob(type_name(Perm), 5)]
    loaded = serde.loads(msgpack.packb(old, use_bin_type=True))
    assert CALLS == []
    assert loaded[0] is Color.RED and loaded[1] is Color.SEA
    assert repr(loaded[2]) == repr(Perm.READ | Perm.RUN)


@pytest.mark.parametrize(
    "payload",
    [
        ("member-as-value", lambda: [enum_blob(type_name(Color), 1, "RED")]),
        ("unknown-value", lambda: [99]),
        ("unknown-flag-bits", lambda: [64]),
        ("unknown-name", lambda: [99, "NOPE"]),
    ],
    ids=lambda p: p[0],
)
def test_a_crafted_enum_value_is_refused_without_running_the_enums_code(payload: Any) -> None:
    serde = serializer()
    for cls in (Color, Perm):
        crafted = msgpack.packb(enum_blob(type_name(cls), *payload[1]()), use_bin_type=True)
        with pytest.raises(SerializationError, match="not a member"):
            serde.loads(crafted)
    assert CALLS == []


# --- through a saver: a stored state, and a crafted row ---------------------------------


class State(TypedDict):
    colors: Annotated[list[Color], operator.add]
    perm: Perm


def graph_of(saver: Any) -> Any:
    def paint(state: State) -> dict[str, Any]:
        return {"colors": [Color.SEA], "perm": state["perm"] | Perm.RUN}

    builder = StateGraph(State).add_node("paint", paint).add_edge(START, "paint")
    return builder.compile(checkpointer=saver)  # registers Color and Perm in saver.serde


def test_reading_a_stored_state_runs_none_of_the_enums_code(saver: Any) -> None:
    graph_of(saver).invoke({"colors": [Color.RED], "perm": Perm.READ}, thread("t1"))
    forget_combinations()
    CALLS.clear()
    fresh = graph_of(saver)  # nothing kept in memory
    values = fresh.get_state(thread("t1")).values
    assert len(list(fresh.get_state_history(thread("t1")))) == 3
    assert CALLS == []
    assert values["colors"] == [Color.RED, Color.SEA]
    assert repr(values["perm"]) == repr(Perm.READ | Perm.RUN)


def test_a_crafted_row_holding_an_enum_runs_none_of_its_code(saver: Any) -> None:
    graph = graph_of(saver)
    graph.invoke({"colors": [], "perm": Perm.READ}, thread("t1"))
    head = cid(graph.get_state(thread("t1")).config)
    member_as_value = enum_blob(type_name(Color), enum_blob(type_name(Color), 1, "RED"))
    snapshot = {"colors": [member_as_value], "perm": enum_blob(type_name(Perm), 6)}
    edit_checkpoint(saver, "t1", head, snapshot=b"\x01" + msgpack.packb(snapshot, use_bin_type=True))
    CALLS.clear()
    with pytest.raises(StorageError, match="not a member"):
        graph_of(saver).get_state(thread("t1"))
    assert CALLS == []


# --- the other registered classes: no __new__ of the application's -----------------------


@dataclasses.dataclass
class Point:
    x: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        CALLS.append(("Point.__new__", args))
        return super().__new__(cls)


class Model(pydantic.BaseModel):
    x: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        CALLS.append(("Model.__new__", args))
        return super().__new__(cls)


@pytest.mark.parametrize("value", [Point(3), Model(x=4)], ids=["dataclass", "pydantic"])
def test_a_dataclass_or_model_loads_without_running_its_new(value: Any) -> None:
    serde = Serializer(types=[Point, Model])
    data = serde.dumps(value)
    CALLS.clear()
    loaded = serde.loads(data)
    assert CALLS == []
    assert type(loaded) is type(value) and loaded.x == value.x
