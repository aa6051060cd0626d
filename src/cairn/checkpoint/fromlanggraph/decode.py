"""Reading the values LangGraph's ``JsonPlusSerializer`` stored: its
``(type, bytes)`` pairs, and the msgpack extension types it writes for
values that are not plain data.

LangGraph stores a value of a class as the class's module and name with its
fields, and rebuilds it by importing that module. cairn imports nothing on
the data's say: a class is rebuilt only when it is allowed (``Allowed``):

- standard library value types (datetime, date, time, timedelta, timezone,
  ZoneInfo, UUID, Decimal, Path, set, frozenset, deque, ipaddress types,
  compiled patterns);
- LangGraph's own ``Interrupt`` and ``Send``, read as cairn's;
- LangChain's message classes (``langchain_core.messages``), when installed;
- classes registered with the target saver's serializer (``register_type``,
  the state types of a graph compiled with it) or named by the user
  (``--allow module:Class``).

Anything else is refused with ``ClassNotAllowedError`` naming the class.

The extension codes (LangGraph 1.x's ``jsonplus``): 0 constructor with one
argument, 1 with positional arguments, 2 with keyword arguments, 3 a class
method with one argument, 4 a pydantic v1 model, 5 a pydantic v2 model,
6 a numpy array, 7 a delta channel's snapshot. Payloads are msgpack arrays
``[module, name, argument(s), (method)]``.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import importlib.util
import ipaddress
import json
import pathlib
import re
import uuid
import zoneinfo
from typing import Any, Callable, Iterable

import msgpack

from cairn.checkpoint.registry import TypeRegistry
from cairn.errors import SerializationError
from cairn.types import Interrupt, Send

__all__ = ["Allowed", "ClassNotAllowedError", "loads_typed"]

SINGLE, POSITIONAL, KEYWORDS, METHOD, PYDANTIC_V1, PYDANTIC_V2, NUMPY, DELTA = range(8)


class ClassNotAllowedError(SerializationError):
    """The LangGraph data holds a value of a class cairn was not allowed to load."""


def _from_uuid(hex_: str) -> uuid.UUID:
    return uuid.UUID(hex=hex_)


_STDLIB: dict[tuple[str, str], Callable[..., Any]] = {
    ("uuid", "UUID"): _from_uuid,
    ("decimal", "Decimal"): decimal.Decimal,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("collections", "deque"): collections.deque,
    ("zoneinfo", "ZoneInfo"): zoneinfo.ZoneInfo,
    ("datetime", "timedelta"): dt.timedelta,
    ("datetime", "date"): dt.date,
    ("datetime", "time"): dt.time,
    ("datetime", "timezone"): dt.timezone,
    ("re", "compile"): re.compile,
    ("langgraph.types", "Interrupt"): Interrupt,
    ("langgraph.types", "Send"): Send,
    **{("pathlib", name): pathlib.Path for name in ("Path", "PosixPath", "WindowsPath")},
    **{("pathlib", name): getattr(pathlib, name) for name in ("PurePath", "PurePosixPath", "PureWindowsPath")},
    **{("ipaddress", name): getattr(ipaddress, name) for name in (
        "IPv4Address", "IPv4Interface", "IPv4Network", "IPv6Address", "IPv6Interface", "IPv6Network")},
}
"""What LangGraph names standard types by, and what rebuilds them."""

_METHODS = {("datetime", name, "fromisoformat"): getattr(dt, name).fromisoformat
            for name in ("datetime", "date", "time")}


class Allowed:
    """The classes a LangGraph value may be rebuilt as: ``types`` (a
    serializer's registry, read by ``module:Name``), ``extra`` classes, and
    the standard and LangChain ones the module docstring lists. ``used``
    collects the application classes that were rebuilt (to register them
    with the saver the values go to)."""

    def __init__(self, types: TypeRegistry | None = None, extra: Iterable[type] = ()) -> None:
        self.types = types if types is not None else TypeRegistry()
        self.extra = {(cls.__module__, cls.__name__): cls for cls in extra}
        self.used: set[type] = set()

    def lookup(self, module: Any, name: Any) -> Callable[..., Any]:
        """What rebuilds LangGraph's ``module.name``; refuses any other."""
        if not isinstance(module, str) or not isinstance(name, str):
            raise SerializationError(f"a LangGraph value names its class by {module!r}.{name!r}; it is damaged")
        key = (module, name)
        if key in _STDLIB:
            return _STDLIB[key]
        cls = self.extra.get(key) or self.types.lookup(f"{module}:{name}") or _langchain(module, name)
        if cls is None and module.startswith("langchain_core.") and not _has_langchain():
            raise ClassNotAllowedError(
                f"the LangGraph data holds a LangChain value ({module}.{name}), and langchain_core "
                "is not installed: pip install langchain-core (or 'cairn[langchain]'), then import again"
            )
        if cls is None:
            raise ClassNotAllowedError(
                f"the LangGraph data holds a value of class {module}.{name}, which cairn loads only "
                f"when allowed: pass --graph FILE.py:ATTR (the graph whose state names it) or "
                f"--allow {module}:{name} to cairn import, or register_type({name}) in code"
            )
        self.used.add(cls)
        return cls


def _has_langchain() -> bool:
    return importlib.util.find_spec("langchain_core") is not None


def _langchain(module: str, name: str) -> type | None:
    """LangChain's message class ``module.name``, if installed and one."""
    if not module.startswith("langchain_core.messages"):
        return None
    try:
        from langchain_core import messages
    except ImportError:
        return None
    cls = getattr(messages, name, None)
    return cls if isinstance(cls, type) and cls.__module__ == module else None


def loads_typed(type_: str, data: bytes | None, allowed: Allowed) -> Any:
    """A value LangGraph's serializer stored as ``(type_, data)``."""
    if type_ in ("null", "empty") or data is None:
        return None
    if type_ == "bytes":
        return bytes(data)
    if type_ == "bytearray":
        return bytearray(data)
    if type_ == "json":
        return json.loads(bytes(data))
    if type_ == "msgpack":
        return _unpack(bytes(data), allowed)
    if type_ == "pickle":
        raise SerializationError(
            "the LangGraph data holds a pickled value (its serializer had pickle_fallback=True); "
            "cairn does not unpickle data it imports: store that value in a form msgpack "
            "can hold in LangGraph first"
        )
    raise SerializationError(f"the LangGraph data holds a value of unknown type {type_!r}; it is damaged")


def _unpack(data: bytes, allowed: Allowed) -> Any:
    def hook(code: int, payload: bytes) -> Any:
        return _extension(code, msgpack.unpackb(payload, ext_hook=hook, raw=False, strict_map_key=False), allowed)

    try:
        return msgpack.unpackb(data, ext_hook=hook, raw=False, strict_map_key=False)
    except (msgpack.UnpackException, ValueError) as exc:
        raise SerializationError(f"a LangGraph value cannot be read as msgpack: {exc}") from exc


def _extension(code: int, tup: Any, allowed: Allowed) -> Any:
    """The value of one extension, from its unpacked payload."""
    if code == NUMPY:
        raise SerializationError("the LangGraph data holds a numpy array, which cairn does not import")
    if code == DELTA:
        raise SerializationError(
            "the LangGraph data holds a delta channel's snapshot, which cairn does not import"
        )
    if not isinstance(tup, list) or len(tup) < 3:
        raise SerializationError(f"a LangGraph value of extension {code} holds {tup!r:.80}; it is damaged")
    module, name, arg = tup[0], tup[1], tup[2]
    if code == METHOD:
        called = (str(module), str(name), str(tup[3]) if len(tup) > 3 else "")
        method = _METHODS.get(called)
        if method is None:
            raise ClassNotAllowedError(
                f"the LangGraph data calls {'.'.join(called)} to rebuild a value; cairn "
                "only rebuilds dates and times that way"
            )
        return method(arg)
    build = allowed.lookup(module, name)
    try:
        return _built(code, build, arg)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"a LangGraph value of class {module}.{name} cannot be rebuilt from {arg!r:.120}: {exc}"
        ) from exc


def _built(code: int, build: Callable[..., Any], arg: Any) -> Any:
    if code == SINGLE:
        return build(arg)
    if code == POSITIONAL:
        if build is Interrupt:  # (value, id[, response_schema])
            return Interrupt(*arg[:2], response_schema=arg[2] if len(arg) > 2 else None)
        return build(*arg[:2]) if build is Send else build(*arg)
    if code == KEYWORDS:
        if build is Interrupt:
            return Interrupt(value=arg.get("value"), id=arg.get("id", ""), response_schema=arg.get("response_schema"))
        return build(**arg)
    if code in (PYDANTIC_V1, PYDANTIC_V2):
        try:
            return build(**arg)
        except Exception:
            construct = getattr(build, "model_construct", None)
            if construct is None:
                raise
            return construct(**arg)
    raise SerializationError(f"a LangGraph value has extension code {code}, which LangGraph 1.x does not write")
