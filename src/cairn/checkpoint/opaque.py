"""``OpaqueValue``: a stored value of a class the reader cannot load, shown as data.

A serializer made with ``unknown="opaque"`` reads a value of a class it has
not registered (or whose class changed since) as an ``OpaqueValue`` instead
of raising ``ClassNotLoadableError``: so that a tool without the
application's code (an operator's script, the ``cairn`` command) can look at
any store. Nothing of the class is imported or run: the record holds its
stored name and its stored fields as plain data.

An ``OpaqueValue`` is for looking: it cannot be stored, and a graph does not
run on a saver that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["OpaqueValue"]


@dataclass(frozen=True)
class OpaqueValue:
    """A stored value of the class ``type_name`` (``module:qualname``), unloaded.

    ``kind``: "enum", "dataclass", "pydantic model" or "NamedTuple".
    ``data``: what was stored, as plain data: an enum member's value, the
    fields of a dataclass or pydantic model (a dict, with a model's extra
    fields), the values of a NamedTuple (a list). Values inside it that are
    themselves of unknown classes are ``OpaqueValue`` too.
    """

    type_name: str
    kind: str
    data: Any

    def __repr__(self) -> str:
        return f"<opaque {self.kind} {self.type_name} {self.data!r}>"
