"""The typed msgpack extensions of cairn's serializer: what each non-plain
type is stored as, and how it is rebuilt.

Rebuilding never imports a module and never runs a class's own code (no
``__init__``, ``__new__``, ``__post_init__``, validators or default
factories): a stored class name must be registered in the serializer's
``TypeRegistry`` (``cairn.checkpoint.registry``), and must be of the kind the
extension says (an enum for an enum, a dataclass for a dataclass...), so a
crafted blob cannot make one kind pass for another. A reader that asked for
it gets an ``OpaqueValue`` instead of a class it cannot rebuild.

Storing asks the same registry, so that what one process stores, a fresh
process of the same application loads: a value of a class is stored only if
the class is registered under its own name, and storing registers nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import functools
import uuid
from typing import Any, Callable, cast

from cairn.checkpoint.opaque import OpaqueValue
from cairn.checkpoint.registry import ClassNotLoadableError, TypeRegistry, type_name
from cairn.errors import SerializationError

TUPLE, SET, FROZENSET, BIGINT = 1, 2, 3, 4
DATETIME, DATE, TIME, TIMEDELTA = 5, 6, 7, 8
UUID, DECIMAL, ENUM, DATACLASS, PYDANTIC, NAMEDTUPLE = 9, 10, 11, 12, 13, 14
PICKLE = 15

def _stored_name(cls: type, types: TypeRegistry) -> str:
    """The name a value of ``cls`` is stored under; refuses a class that a
    fresh process of the application could not load back."""
    name = types.stored_name(cls)
    if name is not None:
        return name
    name = type_name(cls)
    short = cls.__qualname__
    if cls is OpaqueValue:
        raise SerializationError(
            "cannot store an OpaqueValue: it stands for a value of a class the reader could not "
            "load (Serializer(unknown='opaque')); store the value itself, read by a serializer "
            "that has its class registered"
        )
    if types.lookup(name) is not None:
        why = (
            "the class registered under that name is another class, which loading would "
            "rebuild the value as"
        )
    else:
        why = (
            "the class is not registered, so a fresh process of the application could not "
            "load the value back (storing registers nothing)"
        )
    raise SerializationError(
        f"cannot store a value of type {name}: {why}. To store it, {types.remedy(short)}, or "
        f"name {short} in the annotation of the state key that holds it"
    )


def _is_namedtuple_class(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


_KINDS: dict[int, tuple[str, Callable[[type], bool]]] = {
    ENUM: ("an enum", lambda cls: issubclass(cls, enum.Enum)),
    DATACLASS: (
        "a dataclass",
        lambda cls: dataclasses.is_dataclass(cls) and not hasattr(cls, "model_fields"),
    ),
    PYDANTIC: (
        "a pydantic model",
        lambda cls: hasattr(cls, "model_fields") and hasattr(cls, "model_construct"),
    ),
    NAMEDTUPLE: ("a NamedTuple", _is_namedtuple_class),
}


def _lookup(name: Any, code: int, types: TypeRegistry) -> type:
    if not isinstance(name, str):
        raise SerializationError(f"stored data names a class by {name!r:.80}, not a string; it is damaged")
    cls = types.lookup(name)
    if cls is None:
        short = name.rpartition(":")[2] or name
        raise ClassNotLoadableError(
            f"stored data names the class {name!r}, which this serializer has not registered; "
            f"the stored bytes are intact. To load them, {types.remedy(short)}, or compile the "
            "graph whose state schema names it with this saver; to look at them without the "
            "class, read with a serializer made with unknown='opaque'"
        )
    what, fits = _KINDS[code]
    if not fits(cls):
        raise ClassNotLoadableError(
            f"stored data says {name!r} is {what}, and the class registered under that name "
            "is not: the class was changed since, or the data was crafted; nothing was loaded"
        )
    return cls


# -- time zones ----------------------------------------------------------------


def _tz_payload(tz: dt.tzinfo | None) -> Any:
    if tz is None:
        return None
    if type(tz) is dt.timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        default = dt.timezone(offset).tzname(None)
        named = None if name == default else name
        return [0, offset.days, offset.seconds, offset.microseconds, named]
    key = getattr(tz, "key", None)
    if type(tz).__module__ == "zoneinfo" and isinstance(key, str):
        return [1, key]
    raise SerializationError(
        f"cannot store a time zone of type {type_name(type(tz))}; use zoneinfo.ZoneInfo or "
        "datetime.timezone"
    )


def _tz(payload: Any) -> dt.tzinfo | None:
    if payload is None:
        return None
    if payload[0] == 0:
        offset = dt.timedelta(days=payload[1], seconds=payload[2], microseconds=payload[3])
        return dt.timezone(offset, payload[4]) if payload[4] is not None else dt.timezone(offset)
    if payload[0] == 1:
        import zoneinfo

        try:
            return zoneinfo.ZoneInfo(payload[1])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise SerializationError(
                f"stored data names the time zone {payload[1]!r}, which this machine does not "
                f"know ({exc}); install its time zone data (the tzdata package)"
            ) from exc
    raise SerializationError(f"stored data holds an unknown kind of time zone {payload[0]!r}")


def _datetime(payload: Any) -> dt.datetime:
    if isinstance(payload, str):  # written by cairn 0.1 before time zones were kept whole
        return dt.datetime.fromisoformat(payload)
    (year, month, day, hour, minute, second, micro), tz, fold = payload
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=_tz(tz), fold=fold)


def _time(payload: Any) -> dt.time:
    if isinstance(payload, str):
        return dt.time.fromisoformat(payload)
    (hour, minute, second, micro), tz, fold = payload
    return dt.time(hour, minute, second, micro, tzinfo=_tz(tz), fold=fold)


# -- encoding --------------------------------------------------------------------


def encode(obj: Any, types: TypeRegistry) -> tuple[int, Any]:
    """The extension code and payload of ``obj``, a value msgpack has no type for;
    a value of a class only if ``types`` has it registered."""
    cls = type(obj)
    if isinstance(obj, type):
        raise SerializationError(
            f"cannot store a value of type {type_name(cls)}: the class {type_name(obj)} itself; "
            "store an instance, or the class's name"
        )
    if cls is tuple:
        return TUPLE, list(obj)
    if cls is int:  # only ints too large for msgpack's 64 bits reach here
        return BIGINT, obj.to_bytes((obj.bit_length() + 8) // 8, "big", signed=True)
    if cls is set:
        return SET, list(obj)
    if cls is frozenset:
        return FROZENSET, list(obj)
    if cls is dt.datetime:
        parts = [obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond]
        return DATETIME, [parts, _tz_payload(obj.tzinfo), obj.fold]
    if cls is dt.date:
        return DATE, obj.isoformat()
    if cls is dt.time:
        parts = [obj.hour, obj.minute, obj.second, obj.microsecond]
        return TIME, [parts, _tz_payload(obj.tzinfo), obj.fold]
    if cls is dt.timedelta:
        return TIMEDELTA, [obj.days, obj.seconds, obj.microseconds]
    if cls is uuid.UUID:
        return UUID, obj.bytes
    if cls is decimal.Decimal:
        return DECIMAL, str(obj)
    if isinstance(obj, enum.Enum):
        # The member's name too: loading finds the member by it, running none of the enum's code.
        return ENUM, [_stored_name(cls, types), obj.value, obj._name_]
    if hasattr(cls, "model_fields") and hasattr(obj, "__pydantic_fields_set__"):
        stored = _stored_name(cls, types)
        fields = {name: getattr(obj, name) for name in cls.model_fields}
        extra = getattr(obj, "__pydantic_extra__", None)
        private = getattr(obj, "__pydantic_private__", None)
        return PYDANTIC, [stored, fields, sorted(obj.model_fields_set), extra, private]
    if dataclasses.is_dataclass(obj):
        stored = _stored_name(cls, types)
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return DATACLASS, [stored, fields]
    if isinstance(obj, tuple) and hasattr(cls, "_fields"):
        return NAMEDTUPLE, [_stored_name(cls, types), list(obj)]
    if isinstance(obj, (str, int, float, bytes, list, dict)) and cls is not bool:
        base = next(b for b in cls.__mro__[1:] if b in (str, int, float, bytes, list, dict))
        raise SerializationError(
            f"cannot store a value of type {type_name(cls)} (a subclass of {base.__name__}); "
            f"store a plain {base.__name__} or make it a dataclass, enum or pydantic model"
        )
    raise SerializationError(
        f"cannot store a value of type {type_name(cls)}; use plain data, a dataclass, "
        "an enum or a pydantic model"
    )


# -- decoding --------------------------------------------------------------------


def _bigint(payload: Any) -> int:
    if isinstance(payload, str):  # written by cairn 0.1
        return int(payload)
    return int.from_bytes(payload, "big", signed=True)


def _enum(payload: list[Any], types: TypeRegistry) -> Any:
    """The member a payload names, found in the enum's own tables: never by
    calling the class, its ``_missing_`` or its members' ``__hash__`` /
    ``__eq__`` (only plain stored data is hashed or compared)."""
    cls = cast(Any, _lookup(payload[0], ENUM, types))
    value = payload[1]
    plain = _plain(value)
    name = payload[2] if len(payload) > 2 else None  # not stored before cairn 0.2
    if type(name) is str:
        member = cls._member_map_.get(name)
        if member is not None and (not plain or not _plain(member._value_) or member._value_ == value):
            return member
    if plain:
        try:
            return cls._value2member_map_[value]
        except (KeyError, TypeError):  # not a value, or unhashable
            pass
        for member in cls._member_map_.values():
            if _plain(member._value_) and member._value_ == value:
                return member
        if issubclass(cls, enum.Flag) and type(value) is int:
            member = _flag_combination(cls, value)
            if member is not None:
                return member
    raise ClassNotLoadableError(
        f"stored value {value!r:.80} is not a member of {payload[0]!r} (the stored bytes "
        "are intact): load it with the version of the enum that stored it"
    )


def _flag_combination(cls: Any, value: int) -> Any:
    """The member of Flag ``cls`` combining the bits of ``value``, made by
    the ``enum`` module's own ``_missing_`` (never the class's override), or
    None when the bits are not the flag's."""
    for base in cls.__mro__:
        made_by = vars(base).get("_missing_")
        if made_by is not None and base.__module__ == "enum":
            try:
                member = made_by.__func__(cls, value)
            except ValueError:
                return None
            return member if isinstance(member, cls) else None
    return None


_PLAIN_TYPES = (type(None), bool, int, float, str, bytes)


def _plain(value: Any) -> bool:
    """Whether ``value`` is plain data (scalars, and lists, tuples and dicts
    of them), whose hashing and comparing runs no class's code."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN_TYPES:
            continue
        if kind is list or kind is tuple:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            return False
    return True


def _complete(name: str, fields: Any, declared: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a class, plus the plain defaults of fields added
    since they were stored. ``declared`` maps each field the class has now to
    its plain default (or ``_NO_DEFAULT``: required, or made by a factory,
    which loading will not run)."""
    if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
        raise SerializationError(f"stored fields of {name!r} are damaged")
    unknown = sorted(set(fields) - set(declared))
    if unknown:
        raise ClassNotLoadableError(
            f"stored data of {name!r} has fields the class no longer has ({unknown}); the "
            "stored bytes are intact: load them with the version of the class that stored them"
        )
    missing = [k for k in declared if k not in fields]
    lacking = [k for k in missing if declared[k] is _NO_DEFAULT]
    if lacking:
        raise ClassNotLoadableError(
            f"stored data of {name!r} lacks the fields {lacking}, which have no plain default "
            "(they are required or made by a default_factory, which loading does not run); the "
            "stored bytes are intact: give those fields a plain default, or load them with the "
            "version of the class that stored them"
        )
    return {**fields, **{k: declared[k] for k in missing}}


_NO_DEFAULT = object()


def _bare(cls: type) -> Any:
    """An instance of ``cls`` with nothing set, made by the ``__new__`` of
    the first built-in class it derives from (``object``'s, mostly): a
    ``__new__`` of the application's is never run."""
    for base in cls.__mro__:
        if base.__module__ == "builtins" and "__new__" in vars(base):
            return cast(Any, base).__new__(cls)
    return object.__new__(cls)  # pragma: no cover - every class derives from object


def _dataclass(payload: list[Any], types: TypeRegistry) -> Any:
    cls = _lookup(payload[0], DATACLASS, types)
    declared = {
        f.name: _NO_DEFAULT if f.default is dataclasses.MISSING else f.default
        for f in dataclasses.fields(cast(Any, cls))
    }
    obj = _bare(cls)
    for name, value in _complete(payload[0], payload[1], declared).items():
        object.__setattr__(obj, name, value)
    return obj


def _pydantic(payload: list[Any], types: TypeRegistry) -> Any:
    name, fields, fields_set = payload[0], payload[1], payload[2]
    extra = payload[3] if len(payload) > 3 else None
    private = payload[4] if len(payload) > 4 else None
    cls = cast(Any, _lookup(name, PYDANTIC, types))
    declared = {
        key: _NO_DEFAULT if info.is_required() or info.default_factory is not None else info.default
        for key, info in cls.model_fields.items()
    }
    values = _complete(name, fields, declared)
    if (
        not isinstance(fields_set, list)
        or not (extra is None or isinstance(extra, dict))
        or not set(fields_set) <= set(values) | set(extra or ())
        or not (private is None or isinstance(private, dict))
    ):
        raise SerializationError(f"stored data of {name!r} is damaged")
    obj = _bare(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields_set))
    object.__setattr__(obj, "__pydantic_extra__", extra)
    object.__setattr__(obj, "__pydantic_private__", private)
    return obj


def _namedtuple(payload: list[Any], types: TypeRegistry) -> Any:
    cls = _lookup(payload[0], NAMEDTUPLE, types)
    values = payload[1]
    if not isinstance(values, list):
        raise SerializationError(f"stored values of {payload[0]!r} are damaged")
    if len(values) != len(cast(Any, cls)._fields):
        raise ClassNotLoadableError(
            f"stored data of {payload[0]!r} holds {len(values)} values, and the class has "
            f"{len(cast(Any, cls)._fields)} fields; the stored bytes are intact: load them with "
            "the version of the class that stored them"
        )
    return tuple.__new__(cls, values)


DECODERS: dict[int, Callable[[Any], Any]] = {
    TUPLE: tuple,
    SET: set,
    FROZENSET: frozenset,
    BIGINT: _bigint,
    DATETIME: _datetime,
    DATE: dt.date.fromisoformat,
    TIME: _time,
    TIMEDELTA: lambda p: dt.timedelta(days=p[0], seconds=p[1], microseconds=p[2]),
    UUID: lambda p: uuid.UUID(bytes=p),
    DECIMAL: decimal.Decimal,
}
"""The extensions of values of Python's own types."""

CLASS_DECODERS: dict[int, tuple[str, Callable[[Any, TypeRegistry], Any]]] = {
    ENUM: ("enum", _enum),
    DATACLASS: ("dataclass", _dataclass),
    PYDANTIC: ("pydantic model", _pydantic),
    NAMEDTUPLE: ("NamedTuple", _namedtuple),
}
"""The extensions of values of the application's classes: each kind's name
and its decoder, which rebuilds a registered class."""


def decoders(types: TypeRegistry, opaque: bool) -> dict[int, Callable[[Any], Any]]:
    """Each extension code's decoder for a serializer: classes rebuilt from
    ``types``; with ``opaque``, an ``OpaqueValue`` for a class ``types``
    cannot rebuild the value as."""
    table = dict(DECODERS)
    for code, (kind, decode) in CLASS_DECODERS.items():
        table[code] = functools.partial(_decode_class, code, kind, decode, types, opaque)
    return table


def _decode_class(
    code: int,
    kind: str,
    decode: Callable[[Any, TypeRegistry], Any],
    types: TypeRegistry,
    opaque: bool,
    payload: Any,
) -> Any:
    try:
        return decode(payload, types)
    except ClassNotLoadableError:
        if not opaque:
            raise
    return OpaqueValue(payload[0], kind, _plain_data(code, payload))


def _plain_data(code: int, payload: Any) -> Any:
    """What an unloadable value stored, as plain data (never a class's code)."""
    if code == ENUM:
        return payload[1]
    if code == PYDANTIC:
        extra = payload[3] if len(payload) > 3 else None
        if isinstance(payload[1], dict) and isinstance(extra, dict):
            return {**payload[1], **extra}
    return payload[1]
