"""Type registries belong to serializers, not to the process.

Each serializer has its own registry of the classes whose values it stores
and loads: ``Serializer(types=...)``, ``serializer.register(...)``, and the
classes the state schema of a graph compiled with its saver reaches.
``register_type`` declares classes for savers made without ``serde=`` only.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Optional, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.serde import EncryptedSerializer, Serializer, TypeRegistry, register_type
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ConfigError, SerializationError
from cairn.graph import END, START, StateGraph
from tests.support import thread


@dataclasses.dataclass
class Invoice:
    number: int


@dataclasses.dataclass
class Parcel:
    weight: float


class Priority(enum.Enum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Declared:
    """Declared with register_type: for the savers made without serde=."""

    text: str


register_type(Declared)


class Billing(TypedDict):
    invoice: Optional[Invoice]
    extra: Any


class Shipping(TypedDict):
    parcel: Optional[Parcel]
    extra: Any


def _graph(schema: Any, saver: Any, update: dict[str, Any]) -> Any:
    builder = StateGraph(schema)
    builder.add_node("work", lambda state: update)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile(checkpointer=saver)


def test_two_savers_store_only_what_their_own_graphs_declare() -> None:
    billing_saver = InMemorySaver(serde=Serializer())
    shipping_saver = InMemorySaver(serde=Serializer())
    billing = _graph(Billing, billing_saver, {"invoice": Invoice(7)})
    shipping = _graph(Shipping, shipping_saver, {"parcel": Parcel(1.5)})
    assert billing.invoke({}, thread("b"))["invoice"] == Invoice(7)
    assert shipping.invoke({}, thread("s"))["parcel"] == Parcel(1.5)

    # Billing's saver has never heard of Parcel, nor shipping's of Invoice.
    for graph, value, name in ((billing, Parcel(2.0), "Parcel"), (shipping, Invoice(8), "Invoice")):
        with pytest.raises(SerializationError, match=f"tests.test_serde_registry:{name}"):
            graph.update_state(thread("x"), {"extra": value})
    with pytest.raises(SerializationError, match="intact"):
        shipping_saver.serde.loads(billing_saver.serde.dumps(Invoice(9)))


def test_savers_made_without_serde_keep_their_graphs_registrations_apart_too() -> None:
    billing = _graph(Billing, InMemorySaver(), {"invoice": Invoice(1)})
    shipping = _graph(Shipping, InMemorySaver(), {"parcel": Parcel(1.0)})
    billing.invoke({}, thread("b"))
    with pytest.raises(SerializationError, match="Invoice"):
        shipping.update_state(thread("s"), {"extra": Invoice(2)})


def test_register_type_reaches_the_savers_made_without_serde_only() -> None:
    default_saver = InMemorySaver()
    assert default_saver.serde.loads(default_saver.serde.dumps(Declared("d"))) == Declared("d")
    own = Serializer()
    with pytest.raises(SerializationError) as caught:
        own.dumps(Declared("d"))
    # The remedy fits the serializer: its own registry, not register_type.
    assert "serializer.register(Declared)" in str(caught.value)
    assert "register_type" not in str(caught.value)


def test_a_serializer_stores_the_classes_given_to_it_and_registered_later(tmp_path: Any) -> None:
    serde = Serializer(types=[Invoice])
    assert serde.loads(serde.dumps([Invoice(3)])) == [Invoice(3)]
    with pytest.raises(SerializationError, match="Priority"):
        serde.dumps(Priority.HIGH)
    serde.register(Priority)
    assert serde.loads(serde.dumps(Priority.HIGH)) is Priority.HIGH
    assert set(serde.types.classes()) == {Invoice, Priority}

    with SqliteSaver(tmp_path / "own.db", serde=serde) as saver:
        graph = _graph(Billing, saver, {"extra": Priority.LOW})
        assert graph.invoke({}, thread("p"))["extra"] is Priority.LOW
    # A fresh saver of that file with the same registrations reads it back.
    with SqliteSaver(tmp_path / "own.db", serde=Serializer(types=[Invoice, Priority])) as saver:
        assert saver.load("p", "").metadata["step"] == 1
        graph = _graph(Billing, saver, {})
        assert graph.get_state(thread("p")).values["extra"] is Priority.LOW


def test_serializers_given_one_registry_share_it() -> None:
    shared = TypeRegistry([Invoice])
    key = EncryptedSerializer.generate_key()
    plain, encrypted = Serializer(types=shared), EncryptedSerializer.from_key(key, types=shared)
    shared.register(Parcel)
    for serde in (plain, encrypted):
        assert serde.loads(serde.dumps(Parcel(4.0))) == Parcel(4.0)
    assert Serializer().types is not Serializer().types


def test_compiling_a_graph_registers_its_subgraphs_classes_in_the_parents_saver() -> None:
    inner = StateGraph(Shipping)
    inner.add_node("pack", lambda state: {"parcel": Parcel(9.0)})
    inner.add_edge(START, "pack")
    subgraph = inner.compile()

    saver = InMemorySaver(serde=Serializer())
    outer = StateGraph(Shipping)
    outer.add_node("ship", subgraph)
    outer.add_edge(START, "ship")
    graph = outer.compile(checkpointer=saver)
    assert Parcel in saver.serde.types.classes()
    assert graph.invoke({}, thread("sub"))["parcel"] == Parcel(9.0)


@pytest.mark.parametrize("value", [Invoice(1), "Invoice", None], ids=["instance", "name", "none"])
def test_registering_what_is_not_a_class_fails_naming_it(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        Serializer().register(value)
    assert repr(value) in str(caught.value) and "class itself" in str(caught.value)
