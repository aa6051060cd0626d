"""Turning stored values into bytes and back: the serializers a saver takes.

``Serializer`` (``cairn.checkpoint.serializer``) stores values with msgpack
and typed extensions; ``EncryptedSerializer`` (``cairn.checkpoint.encryption``,
AES-256-GCM) also encrypts every blob, and every saver made without
``serde=`` uses one when the environment variable ``CAIRN_ENCRYPTION_KEY`` is
set (``default_serializer``). Each serializer has its own ``TypeRegistry`` of
the classes whose values it may store and load back (``Serializer(types=...)``,
``serializer.register``, and the classes of the graphs compiled with its
saver); ``register_type`` declares classes for every saver made without
``serde=``. A reader without the application's classes reads them as
``OpaqueValue`` records with ``unknown="opaque"``.

The layers: ``serializer`` <- ``encryption`` <- this module, which only
gathers them.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from cairn.checkpoint.opaque import OpaqueValue
from cairn.checkpoint.registry import APPLICATION, ClassNotLoadableError, TypeRegistry, register_type
from cairn.checkpoint.serializer import MAX_DEPTH, Serializer

__all__ = [
    "MAX_DEPTH",
    "ClassNotLoadableError",
    "EncryptedSerializer",
    "OpaqueValue",
    "Serializer",
    "TypeRegistry",
    "default_serializer",
    "register_type",
]


def default_serializer(*, unknown: Literal["error", "opaque"] = "error") -> Serializer:
    """What a saver made without ``serde=`` uses: an EncryptedSerializer when
    ``CAIRN_ENCRYPTION_KEY`` is set, else a plain Serializer. Each has a
    registry of its own that also reads the classes ``register_type``
    declares. ``unknown``: as ``Serializer``'s."""
    types = TypeRegistry(parent=APPLICATION)
    if os.environ.get("CAIRN_ENCRYPTION_KEY"):
        from cairn.checkpoint.encryption import EncryptedSerializer

        return EncryptedSerializer.from_env(types=types, unknown=unknown)
    return Serializer(types=types, unknown=unknown)


def __getattr__(name: str) -> Any:
    # EncryptedSerializer lives with the cryptography it needs, imported on use.
    if name == "EncryptedSerializer":
        from cairn.checkpoint.encryption import EncryptedSerializer

        return EncryptedSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
