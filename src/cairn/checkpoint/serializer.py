"""``Serializer``: stored values to bytes and back (msgpack with typed extensions).

Round-trips exactly the plain types plus tuples, sets, frozensets, big ints,
datetimes, UUIDs, Decimals, enums, dataclasses, NamedTuples and pydantic
models. Loading never imports a module: a stored class name is rebuilt only
if that class is registered, and never by calling the class's ``__init__``.

What one process stores, a fresh process of the same application loads, so
storing asks the same registry: a value of an enum, dataclass, NamedTuple or
pydantic model is stored only if its class is registered, and storing
registers nothing. Each serializer has a registry of its own (a
``TypeRegistry``): classes are registered by ``Serializer(types=[...])``,
``serializer.register(cls)``, and by compiling a graph with a saver
(``compile(checkpointer=saver)``), which registers every class the graph's
state schema reaches into that saver's serializer. The serializers of savers
made without ``serde=`` (``default_serializer``) also read the classes
declared with ``register_type(cls)``. Every process of the application must
make the same registrations before it stores or loads: at import time, where
the classes and graphs are defined.

Reading a value of a class that is not registered (or changed since) raises
``ClassNotLoadableError``; a serializer made with ``unknown="opaque"`` (for
tools that look at a store without the application's code) reads it as an
``OpaqueValue`` naming the class and holding its fields as plain data.

``pickle`` is used only by a serializer made with ``pickle_fallback=True``,
for values nothing else can store (unregistered classes too), and only such
a serializer loads them.

A serializer also says how blobs are compressed (``compression``: "zlib",
"zstd" with the ``zstandard`` package, or None); ``EncryptedSerializer``
(``cairn.checkpoint.encryption``) builds on this one. Import both from
``cairn.checkpoint.serde``.
"""

from __future__ import annotations

import enum
import functools
import pickle
import threading
from typing import Any, Iterable, Literal

import msgpack

from cairn.checkpoint import extensions
from cairn.checkpoint.registry import TypeRegistry
from cairn.errors import SerializationError

__all__ = ["MAX_DEPTH", "SEALED", "SEALED_BOUND", "Serializer"]

SEALED = 0x10
"""The first byte of an encrypted blob bound to its place only, as cairn
wrote them before it bound a row's structure (see ``cairn.checkpoint.codec``)."""
SEALED_BOUND = 0x11
"""The first byte of an encrypted blob (see ``cairn.checkpoint.encryption``)."""
ENCRYPTED = (bytes([SEALED]), bytes([SEALED_BOUND]))
"""The first bytes of encrypted blobs."""
COMPRESSIONS = ("zlib", "zstd", None)
UNKNOWN = ("error", "opaque")

MAX_DEPTH = 64
"""How deeply typed values (a tuple in a dataclass in a model...) may nest.
Each level is decoded by msgpack's C code on the thread's stack (about 40 kB
a level), so a value nested deeper is refused when stored, and a blob nested
deeper when loaded, before it can exhaust the stack."""


class Serializer:
    """msgpack-based serializer; one instance is safe to share between threads.

    ``compression``: how blobs of 256 bytes and more are compressed ("zlib",
    the default; "zstd", which needs ``pip install 'cairn[zstd]'``; or None).
    ``pickle_fallback``: store values of other types (and of unregistered
    classes) with pickle, and load them back (loading a pickle runs code:
    turn it on only for a store only you can write to).
    ``types``: the classes (enums, dataclasses, NamedTuples, pydantic models)
    whose values it stores and loads, more with ``register``; or a
    ``TypeRegistry`` to use (shared with whoever else uses it).
    ``unknown``: what loading a value of a class it cannot rebuild gives:
    "error" (``ClassNotLoadableError``) or "opaque" (an ``OpaqueValue``, for
    looking at a store without the application's code; a graph does not run
    on it).
    """

    encrypted = False

    def __init__(
        self,
        *,
        compression: str | None = "zlib",
        pickle_fallback: bool = False,
        types: Iterable[type] | TypeRegistry = (),
        unknown: Literal["error", "opaque"] = "error",
    ) -> None:
        from cairn.errors import ConfigError

        if unknown not in UNKNOWN:
            raise ConfigError(f"unknown must be one of {UNKNOWN}, got {unknown!r}")
        if compression not in COMPRESSIONS:
            raise ConfigError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        if compression == "zstd":
            try:
                import zstandard  # noqa: F401
            except ImportError as exc:
                raise ConfigError(
                    "compression='zstd' needs the zstandard package: pip install 'cairn[zstd]'"
                ) from exc
        self.compression = compression
        self.pickle_fallback = pickle_fallback
        self.types = types if isinstance(types, TypeRegistry) else TypeRegistry(types)
        """The classes whose values this serializer stores and loads."""
        self.unknown = unknown
        self._decoders = extensions.decoders(self.types, opaque=unknown == "opaque")
        self._local = threading.local()

    def register(self, *classes: type) -> None:
        """Allow values of these classes to be stored by this serializer, and
        loaded back (``TypeRegistry.register``)."""
        self.types.register(*classes)

    def seal(self, blob: bytes, aad: bytes) -> bytes:
        """The blob as stored (an encrypting serializer encrypts it, bound to ``aad``)."""
        return blob

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """The blob ``seal`` was given; refuses an encrypted one."""
        if blob[:1] in ENCRYPTED:
            raise SerializationError(
                "this row is encrypted and the saver has no key: make the saver with "
                "serde=EncryptedSerializer.from_key(key), or set CAIRN_ENCRYPTION_KEY"
            )
        return blob

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj``; raises SerializationError naming a type it cannot
        store, or a class that is not registered (which a fresh process
        could not load back)."""
        return self._dumps(obj, 0)

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by ``dumps``; raises SerializationError on bad
        data, and its subclass ClassNotLoadableError on intact data naming a
        class this serializer has not registered (or that has changed since),
        which ``unknown="opaque"`` reads as an ``OpaqueValue`` instead."""
        return self._loads(data, 0)

    def _dumps(self, obj: Any, depth: int) -> bytes:
        if depth > MAX_DEPTH:
            raise SerializationError(
                f"cannot store a value whose typed parts (tuples, sets, dataclasses, models...) "
                f"nest more than {MAX_DEPTH} deep"
            )
        try:
            return self._packer(depth).pack(obj)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"cannot store value: {_why(exc)}") from exc

    def _packer(self, depth: int) -> msgpack.Packer:
        """This thread's packer for values ``depth`` typed levels down (made
        once: a packer is much dearer to make than to use)."""
        packers: dict[int, msgpack.Packer] | None = getattr(self._local, "packers", None)
        if packers is None:
            packers = self._local.packers = {}
        packer = packers.get(depth)
        if packer is None:
            packer = packers[depth] = msgpack.Packer(
                default=functools.partial(self._default, depth=depth + 1),
                strict_types=True,
                use_bin_type=True,
            )
        return packer

    def _loads(self, data: bytes, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SerializationError(
                f"stored data nests typed values more than {MAX_DEPTH} deep; cairn never "
                "writes that: the data is damaged or was crafted"
            )
        try:
            return msgpack.unpackb(
                data,
                ext_hook=lambda code, body: self._ext_hook(code, body, depth + 1),
                strict_map_key=False,
                raw=False,
                use_list=True,
            )
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"stored bytes are not valid cairn data: {_why(exc)}") from exc

    def _default(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, str) and not isinstance(obj, enum.Enum):
            # A subclass of str (LangChain's AIMessage.text returns one) is
            # stored as the plain str it equals, as LangGraph stores it; a
            # str enum stays an enum.
            return str.__str__(obj)
        try:
            code, payload = extensions.encode(obj, self.types)
        except SerializationError:
            if not self.pickle_fallback:
                raise
            pickled = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            return msgpack.ExtType(extensions.PICKLE, pickled)
        return msgpack.ExtType(code, self._dumps(payload, depth))

    def _ext_hook(self, code: int, data: bytes, depth: int) -> Any:
        if code == extensions.PICKLE:
            if not self.pickle_fallback:
                raise SerializationError(
                    "stored data holds a pickled value, and loading a pickle runs code: load it "
                    "only with a serializer made with pickle_fallback=True, if you trust the store"
                )
            return pickle.loads(data)
        decode = self._decoders.get(code)
        if decode is None:
            raise SerializationError(f"stored data holds an unknown extension type {code}")
        return decode(self._loads(data, depth))


def _why(exc: BaseException) -> str:
    """An exception's message, safely: the text of some msgpack errors holds
    the (damaged) data itself."""
    try:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    except Exception:  # noqa: BLE001 - a message that cannot even be shown
        return type(exc).__name__
