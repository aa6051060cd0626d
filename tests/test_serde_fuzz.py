"""Fuzzing the loading side ("Safe serialization"): stored bytes are untrusted.

The bulk is a seeded ``random.Random`` loop (``CASES`` byte strings fed to
``Serializer().loads``, ``CODEC_CASES`` to ``codec.unpack``): random bytes,
and valid blobs with bit flips, truncations, insertions, deletions, splices,
ext-type code changes, huge declared lengths and extra ext layers; plus a
deterministic crafted corpus (every ext code naming every registered kind of
class, unknown codes, msgpack's own timestamp ext, cairn's pickle ext) that
runs first. A smaller hypothesis part mutates generated values.

Requirements checked on every case:

* only ``cairn.errors.SerializationError`` escapes (MemoryError and
  RecursionError included: they must be turned into SerializationError);
* no module is imported (``sys.modules`` gains nothing while fuzzing);
* no code of a registered class runs: sentinel classes count calls of their
  ``__init__``, ``__post_init__``, ``__setattr__``, ``__new__``, validators,
  ``model_post_init`` and default factories, and the counts must stay 0;
* a loaded value holds only types cairn stores.

Deep ext nesting is kept below 100 levels in this process: deeper nesting
crashes the interpreter (a known bug, tested in a child process below).
Tests marked ``xfail(strict=True)`` pin known bugs; remove the mark when fixed.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import random
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, NamedTuple

import msgpack
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.checkpoint import serde as serde_module
from cairn.checkpoint.serde import MAX_DEPTH, Serializer, TypeRegistry
from cairn.errors import SerializationError
from tests.serde_support import (
    CLASSES,
    MESSAGE_CLASSES,
    AIMessage,
    Color,
    FrozenPoint,
    HumanMessage,
    Item,
    Level,
    Page,
    Pair,
    Perm,
    Point,
    Slotted,
    ToolMessage,
    Tree,
    WithFactory,
    codec_pack,
    codec_unpack,
    serializers,
    type_name,
    values,
)

CASES = 100_000
"""The fuzz test proper: byte strings fed to Serializer().loads by the seeded loop."""
CODEC_CASES = 100_000
"""Byte strings fed to codec.unpack by the seeded loop."""
SEED = 0x5AFE_5E2D
SAFE_EXT_DEPTH = MAX_DEPTH  # cairn refuses deeper typed nesting, both ways
"""Ext nesting kept below this in this process (see test_deeply_nested_ext_types_*)."""

# Values holding 4300-digit ints and long strings make hypothesis warn about long reprs.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")

ROOT = Path(__file__).resolve().parent.parent

_TUPLE = getattr(serde_module, "_TUPLE", 1)
_ENUM = getattr(serde_module, "_ENUM", 11)
_DATACLASS = getattr(serde_module, "_DATACLASS", 12)
_PYDANTIC = getattr(serde_module, "_PYDANTIC", 13)
_NAMEDTUPLE = getattr(serde_module, "_NAMEDTUPLE", 14)
_PICKLE = getattr(serde_module, "_PICKLE", 15)
CLASS_CODES = (_ENUM, _DATACLASS, _PYDANTIC, _NAMEDTUPLE)

# --- sentinel classes: every hook counts its calls ---------------------------------------

HOOKS: collections.Counter[str] = collections.Counter()


def _hit(name: str) -> None:
    HOOKS[name] += 1


def _record_factory() -> list[Any]:
    _hit("SentinelRecord.default_factory")
    return []


@dataclasses.dataclass
class SentinelRecord:
    a: Any = 0
    b: list[Any] = dataclasses.field(default_factory=_record_factory)

    def __post_init__(self) -> None:
        _hit("SentinelRecord.__post_init__")

    def __setattr__(self, name: str, value: Any) -> None:
        _hit("SentinelRecord.__setattr__")
        object.__setattr__(self, name, value)


_generated_init = SentinelRecord.__init__


def _counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _hit("SentinelRecord.__init__")
    _generated_init(self, *args, **kwargs)


SentinelRecord.__init__ = _counting_init  # type: ignore[method-assign]


def _model_factory() -> list[Any]:
    _hit("SentinelModel.default_factory")
    return []


class SentinelModel(pydantic.BaseModel):
    a: Any = 0
    b: list[Any] = pydantic.Field(default_factory=_model_factory)

    def __init__(self, **data: Any) -> None:
        _hit("SentinelModel.__init__")
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        _hit("SentinelModel.__setattr__")
        super().__setattr__(name, value)

    @pydantic.field_validator("a")
    @classmethod
    def _check_a(cls, value: Any) -> Any:
        _hit("SentinelModel.field_validator")
        return value

    @pydantic.model_validator(mode="before")
    @classmethod
    def _before(cls, data: Any) -> Any:
        _hit("SentinelModel.model_validator(before)")
        return data

    @pydantic.model_validator(mode="after")
    def _after(self) -> Any:
        _hit("SentinelModel.model_validator(after)")
        return self

    def model_post_init(self, context: Any) -> None:
        _hit("SentinelModel.model_post_init")


class _PairFields(NamedTuple):
    a: Any = 0
    b: Any = 0


class SentinelPair(_PairFields):
    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> "SentinelPair":
        _hit("SentinelPair.__new__")
        return super().__new__(cls, *args, **kwargs)


class SentinelEnum(enum.Enum):
    ONE = 1
    TWO = "two"


SENTINELS = (SentinelRecord, SentinelModel, SentinelPair, SentinelEnum)
HOOK_NAMES = [
    "SentinelRecord.__init__",
    "SentinelRecord.__post_init__",
    "SentinelRecord.__setattr__",
    "SentinelRecord.default_factory",
    "SentinelModel.__init__",
    "SentinelModel.__setattr__",
    "SentinelModel.field_validator",
    "SentinelModel.model_validator(before)",
    "SentinelModel.model_validator(after)",
    "SentinelModel.model_post_init",
    "SentinelModel.default_factory",
    "SentinelPair.__new__",
]

TYPES = TypeRegistry((*CLASSES, *MESSAGE_CLASSES, *SENTINELS))
"""The classes the serializers of this module store (each serializer has a registry)."""
KNOWN_CLASSES = frozenset((*CLASSES, *MESSAGE_CLASSES, *SENTINELS))
PLAIN_TYPES = frozenset(
    (type(None), bool, int, float, str, bytes, list, tuple, dict, set, frozenset,
     bytearray, dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID, decimal.Decimal)
)

# --- the seed corpus -----------------------------------------------------------------------


def _seed_values() -> list[Any]:
    seeds: list[Any] = [
        None, True, 0, -1, 2**63, -(2**63) - 1, 2**64, -(2**70), 10**100, 1.5, -0.0, float("nan"), "", "héllo",
        b"\x00\xff", [], [1, [2, [3]]], (), (1, (2,)), {}, {"a": 1, 2: "b", (1, 2): None}, {1, 2}, frozenset({"x"}),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.date(2024, 2, 29), dt.time(1, 2, 3, 4), dt.timedelta(days=-1, microseconds=3), uuid.UUID(int=12345),
        decimal.Decimal("-1.25E+7"), decimal.Decimal("NaN"), Color.GREEN, Level.HIGH, Perm.R | Perm.W,
        Point(1, (2, 3)), FrozenPoint("x"), WithFactory(items=[1]), Slotted(1, 2), Tree("t", [Tree("u")]),
        Pair(1, [2]), Item(name="i", color=Color.GREEN, child=Item(name="j")), Page[int](items=[1, 2]),
        SentinelRecord(1, [2]), SentinelRecord(), SentinelModel(a=1), SentinelModel(), SentinelPair(1, 2),
        SentinelEnum.TWO,
        {"state": [SentinelRecord(Point(1, 2)), SentinelModel(a=(1,)), SentinelPair(frozenset({1}), None)]},
    ]
    if HumanMessage is not None:
        seeds += [
            HumanMessage(content="hi", id="1"),
            AIMessage(content="", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c"}]),
            ToolMessage(content="r", tool_call_id="c"),
        ]
    nested: Any = SentinelRecord()
    for i in range(10):
        nested = SentinelModel(a=[nested, (i,), SentinelPair(i, nested)])
    seeds.append(nested)
    return seeds


def _ext(code: int, payload_bytes: bytes) -> bytes:
    """An ext object of any code, -128..127 (msgpack.ExtType takes only 0..127)."""
    n = len(payload_bytes)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fixed:
        head = bytes([fixed[n]])
    elif n < 1 << 8:
        head = b"\xc7" + n.to_bytes(1, "big")
    elif n < 1 << 16:
        head = b"\xc8" + n.to_bytes(2, "big")
    else:
        head = b"\xc9" + n.to_bytes(4, "big")
    return head + (code & 0xFF).to_bytes(1, "big") + payload_bytes


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _crafted() -> list[bytes]:
    """Deterministic cases: each class-kind ext code naming each registered
    class kind with payloads of every shape (the kind confusions), unknown
    codes, msgpack's timestamp ext, cairn's pickle ext, moderate nesting."""
    cases: list[bytes] = []
    names = [type_name(c) for c in (*SENTINELS, Point, Item, Pair, Color, Page[int])]
    # Names of modules this process has not imported: loading must not import them.
    names += [f"{m}:{attr}" for m, attr in (("antigravity", "Fly"), ("http.server", "HTTPServer"), ("xmlrpc.client", "ServerProxy"), ("this", "s")) if m not in sys.modules]
    shapes: list[Callable[[str], Any]] = [
        lambda n: [n],
        lambda n: [n, 1],
        lambda n: [n, "two"],
        lambda n: [n, None],
        lambda n: [n, {}],
        lambda n: [n, {"a": 1}],
        lambda n: [n, {"a": 1, "b": [1]}],
        lambda n: [n, {"zz": 1}],
        lambda n: [n, {"__class__": 1, "__dict__": {}}],
        lambda n: [n, []],
        lambda n: [n, [1]],
        lambda n: [n, [1, 2]],
        lambda n: [n, [1, 2, 3]],
        lambda n: [n, {}, []],
        lambda n: [n, {"a": 1}, ["a"]],
        lambda n: [n, {"a": 1}, ["a", "b", "zz"]],
        lambda n: [n, 1, 2, 3],
        lambda n: n,
        lambda n: {n: 1},
    ]
    for code in (*CLASS_CODES, *range(0, 17)):
        for name in names:
            for shape in shapes:
                cases.append(_ext(code, _pack(shape(name))))
    for code in [*range(16, 128), *range(-128, 0)]:
        cases.append(_ext(code, _pack([1])))
    cases += [
        b"\xd6\xff\x00\x00\x00\x01",  # msgpack timestamp 32
        b"\xd7\xff" + bytes(8),  # timestamp 64
        b"\xc7\x0c\xff" + bytes(12),  # timestamp 96
        b"\xc7\x0c\xff" + b"\xff" * 12,  # timestamp 96, out of range for datetime
        _ext(_PICKLE, b"chttp.server\nHTTPServer\n."),
        _ext(_PICKLE, b"\x80\x04K\x01."),
        _ext(_TUPLE, b""),
        _ext(_TUPLE, b"\xc1"),
    ]
    chain = _pack([])
    for _ in range(SAFE_EXT_DEPTH - 10):
        chain = _ext(_TUPLE, chain)
    cases.append(chain)
    for n in (10, 1000, 5000):
        cases += [b"\x91" * n + b"\xc0", b"\x81\xc0" * n + b"\xc0", b"\xdd\x00\x00\x00\x01" * n + b"\xc0"]
    return cases


# --- a small msgpack walker: where the headers of a valid blob are ----------------------------


class Header(NamedTuple):
    kind: str  # "str", "bin", "array", "map", "ext"
    offset: int
    size: int  # bytes of the header (type byte + length (+ ext code))
    code_offset: int  # ext only, else -1
    depth: int  # ext nesting depth at this header


_LEN_SIZES = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4, 0xC7: 1, 0xC8: 2, 0xC9: 4}
_FIXED_SIZES = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}


def headers(blob: bytes) -> list[Header]:
    out: list[Header] = []
    try:
        _walk(blob, 0, len(blob), 0, out)
    except (IndexError, ValueError):
        pass  # an invalid blob: the headers found before the error
    return [h for h in out if h.offset + h.size <= len(blob)]


def _walk(buf: bytes, pos: int, end: int, depth: int, out: list[Header]) -> int:
    items = 1
    while items:
        items -= 1
        b = buf[pos]
        if b <= 0x7F or b >= 0xE0:
            pos += 1
        elif b <= 0x8F:
            out.append(Header("map", pos, 1, -1, depth))
            items += 2 * (b & 0x0F)
            pos += 1
        elif b <= 0x9F:
            out.append(Header("array", pos, 1, -1, depth))
            items += b & 0x0F
            pos += 1
        elif b <= 0xBF:
            out.append(Header("str", pos, 1, -1, depth))
            pos += 1 + (b & 0x1F)
        elif b in _FIXED_SIZES:
            pos += 1 + _FIXED_SIZES[b]
        elif b in _LEN_SIZES:
            k = _LEN_SIZES[b]
            n = int.from_bytes(buf[pos + 1 : pos + 1 + k], "big")
            if b in (0xC4, 0xC5, 0xC6):
                out.append(Header("bin", pos, 1 + k, -1, depth))
                pos += 1 + k + n
            elif b in (0xD9, 0xDA, 0xDB):
                out.append(Header("str", pos, 1 + k, -1, depth))
                pos += 1 + k + n
            elif b in (0xDC, 0xDD):
                out.append(Header("array", pos, 1 + k, -1, depth))
                items += n
                pos += 1 + k
            elif b in (0xDE, 0xDF):
                out.append(Header("map", pos, 1 + k, -1, depth))
                items += 2 * n
                pos += 1 + k
            else:  # ext 8/16/32
                out.append(Header("ext", pos, 2 + k, pos + 1 + k, depth))
                start = pos + 2 + k
                _walk(buf, start, start + n, depth + 1, out)
                pos = start + n
        elif 0xD4 <= b <= 0xD8:  # fixext 1..16
            n = 1 << (b - 0xD4)
            out.append(Header("ext", pos, 2, pos + 1, depth))
            _walk(buf, pos + 2, pos + 2 + n, depth + 1, out)
            pos += 2 + n
        else:
            raise ValueError(f"byte {b:#x}")
        if pos > end:
            raise ValueError("past the end")
    return pos


def ext_depth(blob: bytes) -> int:
    return max((h.depth + 1 for h in headers(blob) if h.kind == "ext"), default=0)


# --- mutations ----------------------------------------------------------------------------------

_HUGE_HEADER = {"str": b"\xdb", "bin": b"\xc6", "array": b"\xdd", "map": b"\xdf", "ext": b"\xc9"}
_INTERESTING = bytes([0x00, 0x01, 0x7F, 0x80, 0xC0, 0xC1, 0xC7, 0xC9, 0xD4, 0xD6, 0xD8, 0xDB, 0xDD, 0xDF, 0xFF])


class Base(NamedTuple):
    blob: bytes
    headers: list[Header]
    depth: int


def _random_bytes(rng: random.Random) -> bytes:
    size = rng.choice((0, 1, 2, 3, 5, 8, 16, 32, 64, 200, 1024))
    return rng.randbytes(rng.randint(0, size))


def _huge_length(rng: random.Random, blob: bytes) -> int:
    return rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, rng.randint(1 << 20, 0xFFFFFFFF), len(blob) + rng.randint(1, 16)))


def mutate(rng: random.Random, base: Base, other: Base) -> bytes:
    blob = bytearray(base.blob)
    choice = rng.randrange(12)
    if not blob or choice == 0:  # random bytes
        return _random_bytes(rng)
    if choice == 1:  # bit flips
        for _ in range(rng.choice((1, 1, 2, 3, 8))):
            i = rng.randrange(len(blob))
            blob[i] ^= 1 << rng.randrange(8)
        return bytes(blob)
    if choice == 2:  # truncation
        return bytes(blob[: rng.randrange(len(blob))])
    if choice == 3:  # insertion
        i = rng.randrange(len(blob) + 1)
        return bytes(blob[:i] + _random_bytes(rng)[:16] + blob[i:])
    if choice == 4:  # deletion of a span
        i = rng.randrange(len(blob))
        return bytes(blob[:i] + blob[i + rng.randint(1, 8) :])
    if choice == 5:  # an interesting byte
        blob[rng.randrange(len(blob))] = rng.choice(_INTERESTING)
        return bytes(blob)
    if choice == 6:  # splice two blobs
        cut = rng.randrange(len(blob) + 1)
        return bytes(blob[:cut]) + other.blob[rng.randrange(len(other.blob) + 1) :]
    exts = [h for h in base.headers if h.kind == "ext"]
    if choice == 7 and exts:  # ext-type code change
        h = rng.choice(exts)
        code = rng.choice((rng.randint(0, 20), rng.choice(CLASS_CODES), 0xFF, 0x80, 0x7F, rng.randrange(256)))
        blob[h.code_offset] = code & 0xFF
        return bytes(blob)
    if choice == 8 and base.headers:  # a huge declared length
        h = rng.choice(base.headers)
        new = _HUGE_HEADER[h.kind] + _huge_length(rng, base.blob).to_bytes(4, "big")
        if h.kind == "ext":
            new += bytes([blob[h.code_offset]])
        return bytes(blob[: h.offset] + new + blob[h.offset + h.size :])
    if choice == 9 and base.depth < SAFE_EXT_DEPTH - 5:  # wrap in more ext layers
        out = bytes(blob)
        for _ in range(rng.randint(1, SAFE_EXT_DEPTH - 5 - base.depth)):
            out = _ext(rng.choice((_TUPLE, _TUPLE, 2, 3, 4, rng.randint(0, 16))), out)
        return out
    if choice == 10:  # the same blob twice, or a span duplicated
        i, j = sorted((rng.randrange(len(blob) + 1), rng.randrange(len(blob) + 1)))
        return bytes(blob[:j] + blob[i:j] + blob[j:])
    # several mutations at once
    once = mutate(rng, base, other)
    return mutate(rng, Base(once, headers(once), base.depth), other) if once else once


# --- running the fuzz ---------------------------------------------------------------------------


@dataclasses.dataclass
class FuzzReport:
    cases: int = 0
    refused: int = 0
    loaded: int = 0
    seconds: float = 0.0
    escaped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    escaped_examples: list[str] = dataclasses.field(default_factory=list)
    escaped_by_format: collections.Counter[tuple[str, int]] = dataclasses.field(default_factory=collections.Counter)
    odd_types: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    odd_examples: list[str] = dataclasses.field(default_factory=list)
    hooks: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    hook_examples: dict[str, str] = dataclasses.field(default_factory=dict)
    new_modules: set[str] = dataclasses.field(default_factory=set)

    def summary(self) -> str:
        return (
            f"{self.cases} cases in {self.seconds:.1f} s: {self.refused} refused, {self.loaded} loaded; "
            f"escaped {dict(self.escaped)}; odd types {dict(self.odd_types)}; hooks {dict(self.hooks)}; "
            f"new modules {sorted(self.new_modules)}"
        )


def _odd_types(value: Any) -> list[str]:
    """Types in ``value`` cairn does not store (iterative: values can be deep)."""
    odd: list[str] = []
    stack = [value]
    seen = 0
    while stack and seen < 100_000:
        seen += 1
        item = stack.pop()
        cls = type(item)
        if cls in PLAIN_TYPES:
            if cls in (list, tuple, set, frozenset):
                stack.extend(item)
            elif cls is dict:
                stack.extend(item.keys())
                stack.extend(item.values())
            continue
        if cls in KNOWN_CLASSES:
            if isinstance(item, tuple):
                stack.extend(item)
            elif isinstance(item, pydantic.BaseModel):
                stack.extend(item.__dict__.values())
                stack.extend((getattr(item, "__pydantic_extra__", None) or {}).values())
            elif dataclasses.is_dataclass(item):
                stack.extend(getattr(item, f.name) for f in dataclasses.fields(item) if hasattr(item, f.name))
                stack.extend(getattr(item, "__dict__", {}).values())
            continue
        odd.append(f"{cls.__module__}.{cls.__qualname__}")
    return odd


def run_fuzz(feed: Callable[[bytes], Any], corpus: list[bytes], bases: list[Base], cases: int, seed: int) -> FuzzReport:
    report = FuzzReport()
    rng = random.Random(seed)
    HOOKS.clear()
    modules_before = set(sys.modules)
    started = time.perf_counter()

    def one(data: bytes) -> None:
        hooks_before = sum(HOOKS.values())
        try:
            value = feed(data)
        except SerializationError:
            report.refused += 1
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - anything else escaping is the finding
            name = type(exc).__name__
            report.escaped[name] += 1
            report.escaped_by_format[(name, data[0] if data else -1)] += 1
            if len(report.escaped_examples) < 20:
                report.escaped_examples.append(f"{name}: {str(exc)[:160]} <- {data[:80].hex()}")
        else:
            report.loaded += 1
            odd = _odd_types(value)
            for name in odd:
                report.odd_types[name] += 1
            if odd and len(report.odd_examples) < 20:
                report.odd_examples.append(f"{odd[0]} <- {data[:80].hex()}")
        if sum(HOOKS.values()) != hooks_before:
            for name in HOOKS:
                report.hook_examples.setdefault(name, data[:120].hex())
        report.cases += 1

    for data in corpus[:cases]:
        one(data)
    while report.cases < cases:
        one(mutate(rng, rng.choice(bases), rng.choice(bases)))
    report.seconds = time.perf_counter() - started
    report.hooks = collections.Counter(HOOKS)
    report.new_modules = set(sys.modules) - modules_before
    HOOKS.clear()
    return report


SERDE = Serializer(types=TYPES)


def _warm_up(blobs: list[bytes], feed: Callable[[bytes], Any]) -> None:
    # Lazy imports of the libraries themselves (zstandard, pydantic internals)
    # happen on the first valid load, before the sys.modules snapshot.
    for blob in blobs:
        feed(blob)


@pytest.fixture(scope="module")
def valid_blobs() -> list[bytes]:
    blobs = [SERDE.dumps(v) for v in _seed_values()]
    HOOKS.clear()  # building the seed values ran their hooks; loading must not
    return blobs


@pytest.fixture(scope="module")
def loads_fuzz(valid_blobs: list[bytes]) -> FuzzReport:
    _warm_up(valid_blobs, SERDE.loads)
    corpus = _crafted() + valid_blobs
    bases = [Base(b, headers(b), ext_depth(b)) for b in corpus if ext_depth(b) < SAFE_EXT_DEPTH]
    report = run_fuzz(SERDE.loads, corpus, bases, CASES, SEED)
    print(f"\nSerializer().loads fuzz: {report.summary()}")
    return report


def _framings(raw: bytes) -> list[bytes]:
    framed = [b"\x01" + raw, b"\x02" + zlib.compress(raw, 1)]
    try:
        import zstandard

        framed.append(b"\x03" + zstandard.ZstdCompressor(level=3).compress(raw))
    except ImportError:  # pragma: no cover - zstd support is optional
        pass
    return framed


def _shifted(found: list[Header]) -> list[Header]:
    """Headers of a blob's body, at their offsets in the blob (after its format byte)."""
    return [h._replace(offset=h.offset + 1, code_offset=h.code_offset + 1 if h.code_offset >= 0 else -1) for h in found]


CODEC_SERIALIZERS = serializers(TYPES)


@pytest.fixture(scope="module")
def codec_fuzz(valid_blobs: list[bytes]) -> FuzzReport:
    plain = Serializer(types=TYPES)
    blobs = [codec_pack(serde, value) for _, serde in CODEC_SERIALIZERS for value in _seed_values()]
    for raw in valid_blobs:
        blobs += _framings(raw)
    HOOKS.clear()

    def feed(data: bytes) -> Any:
        return codec_unpack(plain, data)

    encrypted = [serde for label, serde in CODEC_SERIALIZERS if label == "encrypted"]

    def feed_all(data: bytes) -> Any:
        # Every 8th case also goes to an encrypting serializer, when this cairn has one.
        if encrypted and data and data[-1] % 8 == 0:
            try:
                codec_unpack(encrypted[0], data)
            except SerializationError:
                pass
        return feed(data)

    _warm_up([b for b in blobs if b[:1] in (b"\x01", b"\x02", b"\x03")], feed)
    corpus = [k + body for k in (b"\x00", b"\x04", b"\x10", b"\xff") for body in (b"", b"\x90", bytes(40))]
    corpus += [b"", b"\x01", b"\x02", b"\x03", b"\x02x\x9c", b"\x03(\xb5/\xfd"]
    # Valid compression around a mutated msgpack body: decompression succeeds.
    rng = random.Random(SEED + 1)
    raw_bases = [Base(b, headers(b), ext_depth(b)) for b in valid_blobs]
    for _ in range(2000):
        corpus += _framings(mutate(rng, rng.choice(raw_bases), rng.choice(raw_bases)))
    bases = [Base(b, _shifted(headers(b[1:])), ext_depth(b[1:])) for b in blobs + corpus]
    report = run_fuzz(feed_all, corpus, bases, CODEC_CASES, SEED + 2)
    print(f"\ncodec.unpack fuzz: {report.summary()}")
    return report


# --- the fuzz tests ----------------------------------------------------------------------------


def test_fuzz_loads_runs_all_its_cases(loads_fuzz: FuzzReport) -> None:
    assert loads_fuzz.cases == CASES
    # Both outcomes are exercised: the mutations are not all trivially refused.
    assert loads_fuzz.refused > CASES // 10 and loads_fuzz.loaded > CASES // 100, loads_fuzz.summary()


def test_fuzz_loads_lets_only_serialization_error_escape(loads_fuzz: FuzzReport) -> None:
    assert not loads_fuzz.escaped, "\n".join(loads_fuzz.escaped_examples)


def test_fuzz_loads_imports_no_module(loads_fuzz: FuzzReport) -> None:
    assert not loads_fuzz.new_modules


def test_fuzz_loads_gives_only_types_cairn_stores(loads_fuzz: FuzzReport) -> None:
    # msgpack's own Timestamp is a known bug (test_msgpack_timestamp_ext_is_refused):
    # left out here so that any *other* stray type still fails this test.
    odd = {k: v for k, v in loads_fuzz.odd_types.items() if k != "msgpack.ext.Timestamp"}
    assert not odd, "\n".join(loads_fuzz.odd_examples)


# Hooks that loading was once found to run (all fixed; a new finding goes here).
HOOK_BUGS: dict[str, str] = {}  # every hook bug found so far is fixed


@pytest.mark.parametrize(
    "hook",
    [
        pytest.param(h, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=HOOK_BUGS[h])) if h in HOOK_BUGS else h
        for h in HOOK_NAMES
    ],
)
def test_fuzz_loads_runs_no_code_of_a_registered_class(hook: str, loads_fuzz: FuzzReport) -> None:
    assert loads_fuzz.hooks[hook] == 0, (
        f"{hook} ran {loads_fuzz.hooks[hook]} times while loading; first input: {loads_fuzz.hook_examples.get(hook)}"
    )


def test_fuzz_codec_unpack_runs_all_its_cases(codec_fuzz: FuzzReport) -> None:
    assert codec_fuzz.cases == CODEC_CASES
    assert codec_fuzz.refused > CODEC_CASES // 10 and codec_fuzz.loaded > CODEC_CASES // 100, codec_fuzz.summary()


_ZSTD_MEMORY_ERROR = (
    "codec.unpack: zstandard.ZstdDecompressor().decompress() allocates the content size a zstd "
    "frame header declares; a mutated header declaring petabytes raises a raw MemoryError "
    "(see test_a_zstd_blob_declaring_a_huge_size_is_refused)"
)


def test_fuzz_codec_unpack_lets_only_serialization_error_escape(codec_fuzz: FuzzReport) -> None:
    assert not codec_fuzz.escaped, "\n".join(codec_fuzz.escaped_examples)


def test_fuzz_codec_unpack_lets_nothing_escape_but_the_known_zstd_memory_error(codec_fuzz: FuzzReport) -> None:
    # The test above pins the known bug; this one keeps every *other* escape failing.
    others = {k: v for k, v in codec_fuzz.escaped_by_format.items() if k != ("MemoryError", 0x03)}
    assert not others, "\n".join(codec_fuzz.escaped_examples)


def test_fuzz_codec_unpack_imports_no_module(codec_fuzz: FuzzReport) -> None:
    assert not codec_fuzz.new_modules


# --- the structured part (hypothesis) ------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_random_bytes_are_refused_or_loaded(data: bytes) -> None:
    for feed in (SERDE.loads, lambda d: codec_unpack(SERDE, d)):
        try:
            feed(data)
        except SerializationError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(value=values, data=st.data())
def test_mutated_blobs_of_generated_values_are_refused_or_loaded(value: Any, data: st.DataObject) -> None:
    blob = bytearray(SERDE.dumps(value))
    assert ext_depth(bytes(blob)) < SAFE_EXT_DEPTH
    how = data.draw(st.sampled_from(["flip", "truncate", "insert", "ext-code", "huge-length"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "truncate":
        del blob[data.draw(st.integers(0, len(blob) - 1)) :]
    elif how == "insert":
        i = data.draw(st.integers(0, len(blob)))
        blob[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        found = [h for h in headers(bytes(blob)) if how == "huge-length" or h.kind == "ext"]
        if found:
            h = data.draw(st.sampled_from(found))
            if how == "ext-code":
                blob[h.code_offset] = data.draw(st.integers(0, 255))
            else:
                new = _HUGE_HEADER[h.kind] + data.draw(st.integers(len(blob), 0xFFFFFFFF)).to_bytes(4, "big")
                blob[h.offset : h.offset + h.size] = new + (bytes([blob[h.code_offset]]) if h.kind == "ext" else b"")
    HOOKS.clear()
    before = set(sys.modules)
    try:
        out = SERDE.loads(bytes(blob))
    except SerializationError:
        pass
    else:
        assert not [t for t in _odd_types(out) if t != "msgpack.ext.Timestamp"]
    assert set(sys.modules) == before
    for _, serde in CODEC_SERIALIZERS:
        try:
            codec_unpack(serde, bytes(blob))
        except SerializationError:
            pass


# --- crafted blobs: each known way to run code or crash, pinned ------------------------------------


def _class_blob(code: int, cls: type, *payload: Any) -> bytes:
    return _ext(code, _pack([type_name(cls), *payload]))


def _load_counting(blob: bytes) -> tuple[str, dict[str, int]]:
    HOOKS.clear()
    try:
        out = SERDE.loads(blob)
        result = f"loaded {type(out).__name__}"
    except SerializationError as exc:
        result = f"SerializationError: {exc}"
    counts = dict(HOOKS)
    HOOKS.clear()
    return result, counts


def test_a_valid_sentinel_blob_loads_without_running_dataclass_code() -> None:
    # The documented promise that holds today: a dataclass is rebuilt without __init__.
    blob = SERDE.dumps(SentinelRecord(a=1, b=[2]))
    result, counts = _load_counting(blob)
    assert result == "loaded SentinelRecord" and counts == {}


@pytest.mark.parametrize(
    ("code", "cls", "payload"),
    [
        pytest.param(_ENUM, SentinelRecord, [5], id="enum-code-names-a-dataclass"),
        pytest.param(_NAMEDTUPLE, SentinelRecord, [[1, 2]], id="namedtuple-code-names-a-dataclass"),
        pytest.param(_NAMEDTUPLE, SentinelModel, [[]], id="namedtuple-code-names-a-model"),
    ],
)
def test_an_ext_code_of_another_kind_is_refused_without_running_the_class(code: int, cls: type, payload: list[Any]) -> None:
    result, counts = _load_counting(_class_blob(code, cls, *payload))
    assert counts == {}, f"loading ran {counts}"
    assert result.startswith("SerializationError"), result


def test_a_dataclass_ext_naming_a_model_is_refused() -> None:
    result, _ = _load_counting(_class_blob(_DATACLASS, Item, {"name": "x"}))
    assert result.startswith("SerializationError"), result


def test_loading_a_model_runs_none_of_its_code() -> None:
    result, counts = _load_counting(SERDE.dumps(SentinelModel(a=1, b=[])))
    assert result == "loaded SentinelModel", result
    assert counts == {}, f"loading ran {counts}"


def test_a_model_missing_a_field_made_by_a_factory_is_refused_without_running_it() -> None:
    # 'a' has a plain default (filled in); 'b' only a default_factory, which is code.
    result, counts = _load_counting(_class_blob(_PYDANTIC, SentinelModel, {}, []))
    assert result.startswith("SerializationError") and "['b']" in result, result
    assert counts == {}, f"loading ran {counts}"


def test_loading_a_namedtuple_runs_no_overridden_new() -> None:
    result, counts = _load_counting(SERDE.dumps(SentinelPair(1, 2)))
    assert result == "loaded SentinelPair" and counts == {}, (result, counts)


@pytest.mark.xfail(
    strict=True,
    reason="known and harmless: msgpack decodes its own timestamp extension (-1) itself, "
    "without asking cairn, into a msgpack Timestamp; no code runs and cairn never writes one",
)
@pytest.mark.parametrize("blob", [b"\xd6\xff\x00\x00\x00\x01", b"\xd7\xff" + bytes(8)], ids=["ts32", "ts64"])
def test_msgpack_timestamp_ext_is_refused(blob: bytes) -> None:
    try:
        out = SERDE.loads(blob)
    except SerializationError:
        return
    raise AssertionError(f"loads gave a {type(out).__module__}.{type(out).__qualname__}: {out!r}")


def test_pickle_ext_is_refused_by_a_serializer_without_pickle_fallback() -> None:
    before = set(sys.modules)
    with pytest.raises(SerializationError, match="pickle"):
        SERDE.loads(_ext(_PICKLE, b"chttp.server\nHTTPServer\n."))
    assert set(sys.modules) == before


def test_unknown_ext_codes_are_refused_naming_the_code() -> None:
    for code in (0, 17, 42, 127, -2, -128):
        with pytest.raises(SerializationError, match=str(code)):
            SERDE.loads(_ext(code, _pack([1])))


def test_moderately_nested_ext_types_are_loaded_or_refused() -> None:
    for depth in (10, 50, SAFE_EXT_DEPTH):
        chain = _pack([])
        for _ in range(depth):
            chain = _ext(_TUPLE, chain)
        SERDE.loads(chain)
        broken = _pack([])
        for _ in range(depth):
            broken = _ext(_TUPLE, broken + b"\xc1")
        with pytest.raises(SerializationError):
            SERDE.loads(broken)


DEEP_CHILD = r"""
import sys, threading, msgpack
from cairn.checkpoint.serde import Serializer
from cairn.errors import SerializationError
depth, code = int(sys.argv[1]), int(sys.argv[2])
blob = msgpack.packb([])
for _ in range(depth):
    blob = msgpack.packb(msgpack.ExtType(code, blob))


def load():
    try:
        Serializer().loads(blob)
        print("loaded")
    except SerializationError as exc:
        print("SerializationError")
    except BaseException as exc:
        print("raw", type(exc).__name__)


# An 8 MB stack whatever `ulimit -s` says (Linux's default for the main thread).
threading.stack_size(8 << 20)
worker = threading.Thread(target=load)
worker.start()
worker.join()
"""


@pytest.mark.parametrize("depth", [250, 2000], ids=["250", "2000"])
def test_deeply_nested_ext_types_are_refused_without_crashing(depth: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DEEP_CHILD, str(depth), str(_TUPLE)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, f"the loading process died with return code {done.returncode}"
    assert done.stdout.strip() == "SerializationError", done.stdout


ZSTD_CHILD = r"""
import struct, sys
sys.path.insert(0, sys.argv[1])
from cairn.checkpoint.serde import Serializer
from cairn.errors import SerializationError
from tests.serde_support import codec_unpack
declared = int(sys.argv[2])
frame = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", declared) + b"\x01\x00\x00"
try:
    codec_unpack(Serializer(), b"\x03" + frame)
    print("loaded")
except SerializationError:
    print("SerializationError")
except BaseException as exc:
    print("raw", type(exc).__name__)
"""


def test_a_zstd_blob_declaring_a_huge_size_is_refused() -> None:
    pytest.importorskip("zstandard")
    done = subprocess.run(
        [sys.executable, "-c", ZSTD_CHILD, str(ROOT), str(1 << 40)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SerializationError", done.stdout


ZLIB_BOMB_CHILD = r"""
import resource, sys, zlib
sys.path.insert(0, sys.argv[1])
from cairn.checkpoint.serde import Serializer
from cairn.errors import SerializationError
from tests.serde_support import codec_unpack
size = 3 << 28  # 768 MiB of zeros behind a msgpack bin32 header, about 0.75 MB compressed
packer = zlib.compressobj(9)
parts = [packer.compress(b"\xc6" + size.to_bytes(4, "big"))]
zeros = bytes(1 << 24)
for _ in range(size >> 24):
    parts.append(packer.compress(zeros))
parts.append(packer.flush())
blob = b"\x02" + b"".join(parts)
del parts, zeros
resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
try:
    codec_unpack(Serializer(), blob)
    print("loaded")
except SerializationError:
    print("SerializationError")
except BaseException as exc:
    print("raw", type(exc).__name__)
"""


def test_a_zlib_bomb_is_refused_with_serialization_error() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ZLIB_BOMB_CHILD, str(ROOT)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SerializationError", done.stdout
