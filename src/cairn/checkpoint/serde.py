"""Turning stored values into bytes and back: the serializers a saver takes.

``Serializer`` (``cairn.checkpoint.serializer``) stores values with msgpack
and typed extensions; ``EncryptedSerializer`` (``cairn.checkpoint.encryption``,
AES-256-GCM) also encrypts every blob, and every saver made without
``serde=`` uses one when the environment variable ``CAIRN_ENCRYPTION_KEY`` is
set (``default_serializer``). ``register_type`` declares the classes whose
values may be stored and loaded back.

The layers: ``serializer`` <- ``encryption`` <- this module, which only
gathers them.
"""

from __future__ import annotations

import os
from typing import Any

from cairn.checkpoint.extensions import ClassNotLoadableError, register_type
from cairn.checkpoint.serializer import MAX_DEPTH, Serializer

__all__ = [
    "MAX_DEPTH",
    "ClassNotLoadableError",
    "EncryptedSerializer",
    "Serializer",
    "default_serializer",
    "register_type",
]


def default_serializer() -> Serializer:
    """What a saver made without ``serde=`` uses: an EncryptedSerializer when
    ``CAIRN_ENCRYPTION_KEY`` is set, else a plain Serializer."""
    if os.environ.get("CAIRN_ENCRYPTION_KEY"):
        from cairn.checkpoint.encryption import EncryptedSerializer

        return EncryptedSerializer.from_env()
    return Serializer()


def __getattr__(name: str) -> Any:
    # EncryptedSerializer lives with the cryptography it needs, imported on use.
    if name == "EncryptedSerializer":
        from cairn.checkpoint.encryption import EncryptedSerializer

        return EncryptedSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
