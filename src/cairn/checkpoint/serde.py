"""Turning stored values into bytes and back (msgpack with typed extensions).

Round-trips exactly the plain types plus tuples, sets, frozensets, big ints,
datetimes, UUIDs, Decimals, enums, dataclasses, NamedTuples and pydantic
models. Loading never imports a module: a stored class name is rebuilt only
if that class is registered (classes are registered when a value of theirs
is stored in this process, and a compiled graph registers the classes its
state schema names). Loading never calls the class's ``__init__`` either.
``pickle`` is used only by a serializer made with ``pickle_fallback=True``,
for values nothing else can store, and only such a serializer loads them.

A serializer also says how blobs are compressed (``compression``: "zlib",
"zstd" with the ``zstandard`` package, or None) and whether they are
encrypted: ``EncryptedSerializer.from_key(key)`` (AES-256-GCM, in
``cairn.checkpoint.encryption``), which every saver uses by default when the
environment variable ``CAIRN_ENCRYPTION_KEY`` is set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import os
import pickle
import threading
import uuid
from typing import Any, Callable, cast

import msgpack

from cairn.errors import SerializationError

__all__ = ["EncryptedSerializer", "Serializer", "default_serializer", "register_type"]

_TUPLE, _SET, _FROZENSET, _BIGINT = 1, 2, 3, 4
_DATETIME, _DATE, _TIME, _TIMEDELTA = 5, 6, 7, 8
_UUID, _DECIMAL, _ENUM, _DATACLASS, _PYDANTIC, _NAMEDTUPLE = 9, 10, 11, 12, 13, 14
_PICKLE = 15

SEALED = 0x10
"""The first byte of an encrypted blob (see ``cairn.checkpoint.encryption``)."""
COMPRESSIONS = ("zlib", "zstd", None)

_registry: dict[str, type] = {}
_registry_lock = threading.Lock()


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def register_type(*classes: type) -> None:
    """Allow values of these classes to be loaded back from storage."""
    with _registry_lock:
        for cls in classes:
            _registry[_type_name(cls)] = cls


def _lookup(name: str) -> type:
    cls = _registry.get(name)
    if cls is None:
        raise SerializationError(
            f"stored data names the class {name!r}, which is not registered; "
            "import it and call cairn.checkpoint.serde.register_type(cls) before loading, "
            "or use it in the graph's state schema"
        )
    return cls


def _is_pydantic(obj: Any) -> bool:
    return hasattr(type(obj), "model_fields") and hasattr(obj, "__pydantic_fields_set__")


class Serializer:
    """msgpack-based serializer; one instance is safe to share between threads.

    ``compression``: how blobs of 256 bytes and more are compressed ("zlib",
    the default; "zstd", which needs ``pip install 'cairn[zstd]'``; or None).
    ``pickle_fallback``: store values of other types with pickle, and load
    them back (loading a pickle runs code: turn it on only for a store only
    you can write to).
    """

    encrypted = False

    def __init__(self, *, compression: str | None = "zlib", pickle_fallback: bool = False) -> None:
        from cairn.errors import ConfigError

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

    def seal(self, blob: bytes, aad: bytes) -> bytes:
        """The blob as stored (an encrypting serializer encrypts it, bound to ``aad``)."""
        return blob

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """The blob ``seal`` was given; refuses an encrypted one."""
        if blob[:1] == bytes([SEALED]):
            raise SerializationError(
                "this row is encrypted and the saver has no key: make the saver with "
                "serde=EncryptedSerializer.from_key(key), or set CAIRN_ENCRYPTION_KEY"
            )
        return blob

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj``; raises SerializationError naming a type it cannot store."""
        try:
            return msgpack.packb(obj, default=self._default, strict_types=True, use_bin_type=True)
        except SerializationError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise SerializationError(f"cannot store value: {exc}") from exc

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by ``dumps``; raises SerializationError on bad data."""
        try:
            return msgpack.unpackb(
                data, ext_hook=self._ext_hook, strict_map_key=False, raw=False, use_list=True
            )
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"stored bytes are not valid cairn data: {exc}") from exc

    def _default(self, obj: Any) -> Any:
        try:
            code, payload = _encode(obj)
        except SerializationError:
            if not self.pickle_fallback:
                raise
            return msgpack.ExtType(_PICKLE, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        return msgpack.ExtType(code, self.dumps(payload))

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _PICKLE:
            if not self.pickle_fallback:
                raise SerializationError(
                    "stored data holds a pickled value, and loading a pickle runs code: load it "
                    "only with a serializer made with pickle_fallback=True, if you trust the store"
                )
            return pickle.loads(data)
        decode = _DECODERS.get(code)
        if decode is None:
            raise SerializationError(f"stored data holds an unknown extension type {code}")
        return decode(self.loads(data))


def _encode(obj: Any) -> tuple[int, Any]:
    cls = type(obj)
    if cls is tuple:
        return _TUPLE, list(obj)
    if cls is int:  # only ints too large for msgpack's 64 bits reach here
        return _BIGINT, str(obj)
    if cls is set:
        return _SET, list(obj)
    if cls is frozenset:
        return _FROZENSET, list(obj)
    if cls is dt.datetime:
        return _DATETIME, obj.isoformat()
    if cls is dt.date:
        return _DATE, obj.isoformat()
    if cls is dt.time:
        return _TIME, obj.isoformat()
    if cls is dt.timedelta:
        return _TIMEDELTA, [obj.days, obj.seconds, obj.microseconds]
    if cls is uuid.UUID:
        return _UUID, obj.bytes
    if cls is decimal.Decimal:
        return _DECIMAL, str(obj)
    if isinstance(obj, enum.Enum):
        register_type(cls)
        return _ENUM, [_type_name(cls), obj.value]
    if dataclasses.is_dataclass(obj):
        register_type(cls)
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _DATACLASS, [_type_name(cls), fields]
    if _is_pydantic(obj):
        register_type(cls)
        fields = {name: getattr(obj, name) for name in cls.model_fields}
        return _PYDANTIC, [_type_name(cls), fields, sorted(obj.model_fields_set)]
    if isinstance(obj, tuple) and hasattr(cls, "_fields"):
        register_type(cls)
        return _NAMEDTUPLE, [_type_name(cls), list(obj)]
    if isinstance(obj, (str, int, float, bytes, list, dict)) and cls is not bool:
        # A subclass of a plain type that is none of the above: store its plain value.
        raise SerializationError(
            f"cannot store a value of type {_type_name(cls)} (a subclass of "
            f"{cls.__mro__[1].__name__}); store a plain {cls.__mro__[1].__name__} "
            "or make it a dataclass, enum or pydantic model"
        )
    raise SerializationError(
        f"cannot store a value of type {_type_name(cls)}; use plain data, a dataclass, "
        "an enum or a pydantic model"
    )


def _build_fields(cls: type, fields: dict[str, Any]) -> Any:
    obj = cast(Any, cls).__new__(cls)
    for name, value in fields.items():
        object.__setattr__(obj, name, value)
    return obj


def _decode_pydantic(payload: list[Any]) -> Any:
    name, fields, fields_set = payload
    return cast(Any, _lookup(name)).model_construct(_fields_set=set(fields_set), **fields)


_DECODERS: dict[int, Callable[[Any], Any]] = {
    _TUPLE: tuple,
    _SET: set,
    _FROZENSET: frozenset,
    _BIGINT: int,
    _DATETIME: dt.datetime.fromisoformat,
    _DATE: dt.date.fromisoformat,
    _TIME: dt.time.fromisoformat,
    _TIMEDELTA: lambda p: dt.timedelta(days=p[0], seconds=p[1], microseconds=p[2]),
    _UUID: lambda p: uuid.UUID(bytes=p),
    _DECIMAL: decimal.Decimal,
    _ENUM: lambda p: _lookup(p[0])(p[1]),
    _DATACLASS: lambda p: _build_fields(_lookup(p[0]), p[1]),
    _PYDANTIC: _decode_pydantic,
    _NAMEDTUPLE: lambda p: _lookup(p[0])(*p[1]),
}


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
