"""Encryption at rest: AES-256-GCM over every stored blob.

    from cairn.checkpoint.serde import EncryptedSerializer

    serde = EncryptedSerializer.from_key(key)                  # 32 bytes, hex or base64
    serde = EncryptedSerializer.from_key(new, old_keys=[old])  # rotation: reads both
    saver = SqliteSaver("checkpoints.db", serde=serde)

or set ``CAIRN_ENCRYPTION_KEY`` (a key, or several separated by commas, the
first used to write) and every saver made without ``serde=`` encrypts.

An encrypted blob is ``0x11 | key id (4 bytes) | nonce (12) | ciphertext+tag``;
the key id (the start of the key's SHA-256) picks the key to read with. Each
blob is bound, as associated data, to where it is stored (thread, namespace,
checkpoint id and field) and to its row's structure (parent id, step,
source, whether a snapshot is stored; ``cairn.checkpoint.codec``), so a blob
copied into another row, or a row whose columns were edited, does not open.
Blobs written before the structure was bound start with 0x10 and are bound
to their place only; they are still read. A saver with a key refuses
unencrypted rows, and one without a key refuses encrypted rows: neither
loads anything it cannot vouch for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any, Iterable, Literal, Sequence

from cairn.checkpoint.registry import TypeRegistry
from cairn.checkpoint.serializer import ENCRYPTED, SEALED_BOUND, Serializer
from cairn.errors import ConfigError, MissingDependencyError, SerializationError

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "encryption needs the cryptography package: pip install cryptography"
    ) from exc

__all__ = ["EncryptedSerializer"]

ENV = "CAIRN_ENCRYPTION_KEY"
_NONCE = 12
_HEAD = 1 + 4 + _NONCE


def _key_bytes(key: Any) -> bytes:
    """A 32-byte key from bytes, 64 hex characters or base64."""
    if isinstance(key, (bytes, bytearray)) and len(key) == 32:
        return bytes(key)
    if isinstance(key, str):
        text = key.strip()
        try:
            if len(text) == 64:
                return bytes.fromhex(text)
        except ValueError:
            pass
        try:
            standard = text.replace("-", "+").replace("_", "/")  # url-safe base64 too
            raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 32:
            return raw
    shown = f"{len(key)} bytes" if isinstance(key, (bytes, bytearray)) else "a value that is not one"
    raise ConfigError(
        f"an encryption key must be 32 bytes (AES-256), given as bytes, 64 hex characters or "
        f"base64; got {shown}. Make one with EncryptedSerializer.generate_key()"
    )


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]


class EncryptedSerializer(Serializer):
    """A Serializer whose blobs are encrypted with AES-256-GCM."""

    encrypted = True

    def __init__(
        self,
        key: Any,
        *,
        old_keys: Sequence[Any] = (),
        compression: str | None = "zlib",
        pickle_fallback: bool = False,
        types: Iterable[type] | TypeRegistry = (),
        unknown: Literal["error", "opaque"] = "error",
    ) -> None:
        super().__init__(
            compression=compression, pickle_fallback=pickle_fallback, types=types, unknown=unknown
        )
        keys = [_key_bytes(k) for k in (key, *old_keys)]
        self._current = key_id(keys[0])
        self._ciphers = {key_id(k): AESGCM(k) for k in reversed(keys)}

    @classmethod
    def from_key(
        cls,
        key: Any,
        *,
        old_keys: Iterable[Any] = (),
        compression: str | None = "zlib",
        pickle_fallback: bool = False,
        types: Iterable[type] | TypeRegistry = (),
        unknown: Literal["error", "opaque"] = "error",
    ) -> "EncryptedSerializer":
        """Encrypt with ``key``; read blobs written with it or any of ``old_keys``.
        The other options are ``Serializer``'s."""
        return cls(
            key,
            old_keys=tuple(old_keys),
            compression=compression,
            pickle_fallback=pickle_fallback,
            types=types,
            unknown=unknown,
        )

    @classmethod
    def from_env(
        cls,
        *,
        compression: str | None = "zlib",
        pickle_fallback: bool = False,
        types: Iterable[type] | TypeRegistry = (),
        unknown: Literal["error", "opaque"] = "error",
    ) -> "EncryptedSerializer":
        """Keys from ``CAIRN_ENCRYPTION_KEY``: the first writes, the rest are read
        too. The other options are ``Serializer``'s."""
        keys = [k for k in os.environ.get(ENV, "").split(",") if k.strip()]
        if not keys:
            raise ConfigError(
                f"{ENV} is not set; set it to a key from EncryptedSerializer.generate_key()"
            )
        return cls(
            keys[0],
            old_keys=keys[1:],
            compression=compression,
            pickle_fallback=pickle_fallback,
            types=types,
            unknown=unknown,
        )

    @staticmethod
    def generate_key() -> str:
        """A new random key, as base64 text."""
        return base64.b64encode(os.urandom(32)).decode()

    def seal(self, blob: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self._current].encrypt(nonce, blob, aad)
        return bytes([SEALED_BOUND]) + self._current + nonce + sealed

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if blob[:1] not in ENCRYPTED:
            raise SerializationError(
                "this row is not encrypted, and a saver with a key loads only encrypted rows "
                "(a plain row may have been written or swapped in by someone without the key)"
            )
        if len(blob) < _HEAD + 16:
            raise SerializationError("an encrypted row is cut short; it is damaged")
        cipher = self._ciphers.get(blob[1:5])
        if cipher is None:
            raise SerializationError(
                f"this row was encrypted with another key (key id {blob[1:5].hex()}); give the "
                "saver that key, as the key or in old_keys"
            )
        try:
            return cipher.decrypt(blob[5:_HEAD], blob[_HEAD:], aad)
        except InvalidTag as exc:
            raise SerializationError(
                "an encrypted row failed its integrity check: it was changed (a blob, or a column "
                "its blobs are bound to: its parent, step or source, or its snapshot removed), "
                "damaged, or moved from another thread or checkpoint; nothing of it was loaded"
            ) from exc
