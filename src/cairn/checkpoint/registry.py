"""``TypeRegistry``: the classes a serializer may store, and loads back.

A serializer owns one registry (``Serializer(types=...)``,
``serializer.register(...)``); compiling a graph with a saver registers the
classes its state schema reaches into that saver's serializer. Nothing here
is process-wide except ``APPLICATION``, the registry ``register_type``
declares classes in, which the serializers of savers made without ``serde=``
read through (each still registers what its own graphs reach in its own).

A class is stored only if loading its stored name rebuilds that very class,
so what one process stores, a fresh process making the same registrations
loads; storing and loading register nothing.
"""

from __future__ import annotations

import threading
from typing import Iterable

from cairn.errors import ConfigError, SerializationError

__all__ = ["APPLICATION", "ClassNotLoadableError", "TypeRegistry", "register_type", "type_name"]


class ClassNotLoadableError(SerializationError):
    """Stored bytes that are intact name a class this serializer cannot rebuild
    them as: one it has not registered, or one that has changed since (fields
    added without a plain default, or removed, or another kind of class).
    Nothing in the store is wrong: make the class loadable, and load again
    (or read with ``Serializer(unknown="opaque")`` to see it as an ``OpaqueValue``)."""


def type_name(cls: type) -> str:
    """The name a class is stored under: ``module:qualname``."""
    return f"{cls.__module__}:{cls.__qualname__}"


class TypeRegistry:
    """Stored name <-> class, for the classes whose values may be stored.

    ``parent``: a registry read through after this one's own registrations
    (a name registered here hides the parent's). Safe to share between threads.
    """

    def __init__(self, classes: Iterable[type] = (), *, parent: TypeRegistry | None = None) -> None:
        self.parent = parent
        self._classes: dict[str, type] = {}
        """Stored name -> the class loading rebuilds it as."""
        self._names: dict[type, str] = {}
        """Registered class -> its stored name (exactly the classes loading
        rebuilds, so storing and loading never disagree)."""
        self._lock = threading.Lock()
        self.register(*classes)

    def register(self, *classes: type) -> None:
        """Allow values of these classes to be stored, and loaded back. A class
        registered under the name of another one replaces it: values of the
        other are then refused when stored."""
        for cls in classes:
            if not isinstance(cls, type):
                raise ConfigError(
                    f"register takes classes (a dataclass, enum, NamedTuple or pydantic model), "
                    f"got {cls!r:.80}; pass the class itself"
                )
        with self._lock:
            for cls in classes:
                name = type_name(cls)
                replaced = self._classes.get(name)
                if replaced is not None and replaced is not cls:
                    self._names.pop(replaced, None)
                self._classes[name] = cls
                self._names[cls] = name

    def classes(self) -> tuple[type, ...]:
        """Every class this registry stores, its parent's included."""
        own = tuple(self._classes.values())
        if self.parent is None:
            return own
        hidden = set(self._classes)
        return (*own, *(c for c in self.parent.classes() if type_name(c) not in hidden))

    def lookup(self, name: str) -> type | None:
        """The class loading rebuilds ``name`` as, or None."""
        cls = self._classes.get(name)
        if cls is None and self.parent is not None:
            return self.parent.lookup(name)
        return cls

    def stored_name(self, cls: type) -> str | None:
        """The name a value of ``cls`` is stored under, or None when loading
        that name would not rebuild ``cls``."""
        name = self._names.get(cls)
        if name is not None:
            return name
        if self.parent is None or type_name(cls) in self._classes:
            return None
        return self.parent.stored_name(cls)

    def remedy(self, short: str) -> str:
        """How to register the class ``short`` for this registry (for messages)."""
        if self.parent is APPLICATION or self is APPLICATION:
            return f"call cairn.checkpoint.serde.register_type({short}) where {short} is defined"
        return (
            f"register it with the serializer: Serializer(types=[{short}]) or "
            f"serializer.register({short})"
        )


APPLICATION = TypeRegistry()
"""What ``register_type`` declares; read by the serializers of savers made
without ``serde=``."""


def register_type(*classes: type) -> None:
    """Allow values of these classes to be stored, and loaded back, by every
    saver made without ``serde=`` (a serializer of your own has its own
    registry: ``Serializer(types=[...])`` or ``serializer.register(...)``).

    Call it where the classes are defined (when the application starts), so
    that every process of the application has registered them before it
    stores or loads."""
    APPLICATION.register(*classes)
