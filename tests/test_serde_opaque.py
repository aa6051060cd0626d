"""A reader without the application's classes sees everything, never running them.

A serializer made with ``unknown="opaque"`` reads a value of a class it has
not registered (or that changed since) as an ``OpaqueValue`` naming the class
and holding its stored fields as plain data; metadata, the write log and
plain values read exactly. The default stays ``ClassNotLoadableError``, and a
graph does not run on an opaque reader.

The cross-process tests store with the application tests/symmetry_app.py
and read in a fresh process that never imports it (tests/reader_child.py).
"""

from __future__ import annotations

import dataclasses
import enum
import sys
from typing import Any, NamedTuple

import msgpack
import pydantic
import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.serde import ClassNotLoadableError, OpaqueValue, Serializer
from cairn.errors import ConfigError, SerializationError
from cairn.graph import START, StateGraph
from tests.test_serde_symmetry import app, child, store  # noqa: F401 - store: the fixture


def reader(*args: str) -> dict[str, Any]:
    """Run ``python -m tests.reader_child ARGS`` in a fresh process; its JSON line."""
    return child("tests.reader_child", *args)


CARD = {
    "opaque": "tests.symmetry_app:Card",
    "kind": "dataclass",
    "data": {
        "title": "c",
        "detail": {"opaque": "tests.symmetry_app:Detail", "kind": "dataclass", "data": {"text": "d"}},
    },
}


# --- across processes ----------------------------------------------------------------------


def test_a_reader_without_the_application_sees_metadata_writes_and_opaque_values(
    store: tuple[str, str],
) -> None:
    assert "ok" in app("store", *store, "t", "card")
    seen = reader(*store, "t", "opaque")
    assert seen["imported"] == [], "reading imported the application"
    steps = seen["checkpoints"]
    assert [(c["step"], c["source"]) for c in steps] == [(1, "loop"), (0, "loop"), (-1, "input")]
    for checkpoint in steps:
        assert checkpoint["metadata"]["step"] == checkpoint["step"]
        assert checkpoint["metadata"]["source"] == checkpoint["source"]
    assert steps[1]["writes"] == [["__start__", {"case": "card"}]]  # plain values, exactly
    assert steps[0]["writes"] == [["write", {"card": CARD}]]
    assert steps[0]["snapshot"] in (None, {"case": "card", "card": CARD})


def test_an_enum_member_of_an_unknown_class_reads_as_its_value(store: tuple[str, str]) -> None:
    assert "ok" in app("store", *store, "t", "mood")
    seen = reader(*store, "t", "opaque")
    assert seen["imported"] == []
    mood = {"opaque": "tests.symmetry_app:Mood", "kind": "enum", "data": "angry"}
    assert seen["checkpoints"][0]["writes"] == [["write", {"mood": mood}]]


def test_without_opting_in_a_reader_is_told_the_bytes_are_intact_and_how_to_look(
    store: tuple[str, str],
) -> None:
    assert "ok" in app("store", *store, "t", "card")
    seen = reader(*store, "t", "error")
    assert seen["imported"] == []
    assert seen.get("error") == "StorageError", seen
    for part in ("tests.symmetry_app:", "intact", "unknown='opaque'"):
        assert part in seen["message"], f"{part!r} is not in: {seen['message']}"
    assert "delete" not in seen["message"]


# --- the serializer -------------------------------------------------------------------------


@dataclasses.dataclass
class Note:
    text: str
    tags: Any = None


class Shade(enum.Enum):
    DARK = "dark"


class Span(NamedTuple):
    start: int
    end: int


class Profile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    name: str = ""


VALUES = [
    (Note("n", (1, 2)), "dataclass", {"text": "n", "tags": (1, 2)}),
    (Shade.DARK, "enum", "dark"),
    (Span(1, 5), "NamedTuple", [1, 5]),
    (Profile(name="ada", team="ops"), "pydantic model", {"name": "ada", "team": "ops"}),
]


@pytest.mark.parametrize(("value", "kind", "data"), VALUES, ids=lambda v: type(v).__name__)
def test_a_value_of_an_unregistered_class_reads_as_an_opaque_record(value: Any, kind: str, data: Any) -> None:
    blob = Serializer(types=[type(value)]).dumps({"kept": [value, "plain", 3]})
    name = f"{type(value).__module__}:{type(value).__qualname__}"
    read = Serializer(unknown="opaque").loads(blob)
    assert read == {"kept": [OpaqueValue(name, kind, data), "plain", 3]}
    assert name in repr(read["kept"][0]) and "opaque" in repr(read["kept"][0])
    with pytest.raises(ClassNotLoadableError, match="intact"):
        Serializer().loads(blob)


def test_registered_classes_still_load_as_themselves_when_reading_opaquely() -> None:
    blob = Serializer(types=[Note, Shade]).dumps([Note("a", Shade.DARK)])
    assert Serializer(types=[Note], unknown="opaque").loads(blob) == [
        Note("a", OpaqueValue(f"{__name__}:Shade", "enum", "dark"))
    ]


def test_a_class_changed_since_reads_as_an_opaque_record() -> None:
    def version(new: bool) -> type:
        if new:

            @dataclasses.dataclass
            class Moved:
                size: int

        else:

            @dataclasses.dataclass
            class Moved:  # type: ignore[no-redef]
                text: str

        return Moved

    old, new = version(False), version(True)
    blob = Serializer(types=[old]).dumps(old("t"))
    read = Serializer(types=[new], unknown="opaque").loads(blob)
    assert read == OpaqueValue(f"{__name__}:{old.__qualname__}", "dataclass", {"text": "t"})


def test_a_class_that_was_never_imported_is_not_imported_to_read_it() -> None:
    body = msgpack.packb(["tests.never_imported_module:Gone", {"text": "x"}], use_bin_type=True)
    blob = msgpack.packb(msgpack.ExtType(12, body), use_bin_type=True)
    read = Serializer(unknown="opaque").loads(blob)
    assert read == OpaqueValue("tests.never_imported_module:Gone", "dataclass", {"text": "x"})
    assert "tests.never_imported_module" not in sys.modules


def test_an_opaque_record_cannot_be_stored() -> None:
    record = OpaqueValue("app:Thing", "dataclass", {"a": 1})
    with pytest.raises(SerializationError, match="OpaqueValue"):
        Serializer(unknown="opaque").dumps({"k": record})


def test_a_graph_does_not_run_on_a_saver_that_reads_opaquely() -> None:
    builder = StateGraph(dict)
    builder.add_node("n", lambda state: {})
    builder.add_edge(START, "n")
    with pytest.raises(ConfigError, match="unknown='opaque'"):
        builder.compile(checkpointer=InMemorySaver(serde=Serializer(unknown="opaque")))


def test_an_unknown_reading_mode_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="'skip'"):
        Serializer(unknown="skip")  # type: ignore[arg-type]
