"""Hand-built checkpoint records for the saver conformance suite (test_saver_contract.py).

The suite calls the saver contract directly, without a graph. Its states
follow one toy reducer (``apply``): a list in an update is appended to the
key's list, anything else replaces the key's value. ``Recorder`` puts
checkpoints of such a state into a saver and remembers the full values at each
one, so that a test can fold ``get_chain`` with ``fold`` and compare.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointRecord,
    Lease,
    PendingWrite,
    TaskRecord,
    TaskWrite,
)
from cairn.checkpoint.ids import new_checkpoint_id
from cairn.checkpoint.serde import Serializer

# --- ids and times -----------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def checkpoint_id_at(moment: datetime) -> str:
    """A checkpoint id made at ``moment`` (which may lie in the past), laid out
    as ``new_checkpoint_id`` lays them out: a UUIDv7 whose 48 + 12 leading bits
    are the milliseconds since the epoch and the fraction of a millisecond."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    millis, sub = divmod(micros, 1000)
    fraction = -(-sub * 4096 // 1000)  # rounded up, so that created_at() gives ``sub`` back
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (fraction << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))


def created_at(checkpoint_id: str) -> str:
    """When the checkpoint with this id was made (ISO-8601, UTC), read from the id."""
    value = uuid.UUID(checkpoint_id).int
    micros = (value >> 80) * 1000 + ((value >> 64) & 0xFFF) * 1000 // 4096
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def same_time(got: str, want: str) -> bool:
    """Two ISO-8601 timestamps of the same moment, to the millisecond."""

    def instant(timestamp: str) -> datetime:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))

    return abs(instant(got) - instant(want)) < timedelta(milliseconds=1)


# --- records -------------------------------------------------------------------------


def write(name: str, update: Mapping[Any, Any] | None, goto: Sequence[Any] = ()) -> TaskWrite:
    """One task's write, with a fresh task id."""
    return TaskWrite(task_id=str(uuid.uuid4()), name=name, update=update, goto=tuple(goto))


def make_checkpoint(
    thread_id: str,
    *,
    ns: str = "",
    parent_id: str | None = None,
    step: int = 0,
    writes: Sequence[TaskWrite] = (),
    tasks: Sequence[TaskRecord] = (),
    carry: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    source: str = "loop",
    checkpoint_id: str | None = None,
) -> CheckpointRecord:
    """A checkpoint record. Its id is ``checkpoint_id``, or one made ``at`` a
    given moment, or a fresh one; ``created_at`` is the time the id carries, and
    ``metadata`` by default the runtime's (source, step, parents)."""
    if checkpoint_id is None:
        checkpoint_id = checkpoint_id_at(at) if at is not None else new_checkpoint_id()
    if metadata is None:
        metadata = {"source": source, "step": step, "parents": {}}
    return CheckpointRecord(
        thread_id=thread_id,
        ns=ns,
        id=checkpoint_id,
        parent_id=parent_id,
        step=step,
        source=source,
        created_at=created_at(checkpoint_id),
        metadata=dict(metadata),
        writes=tuple(writes),
        tasks=tuple(tasks),
        carry=dict(carry or {}),
    )


# --- the toy state ---------------------------------------------------------------------


def apply(values: Mapping[Any, Any], writes: Sequence[TaskWrite]) -> dict[Any, Any]:
    """The toy reducer: lists append, anything else replaces."""
    result = dict(values)
    for task_write in writes:
        for key, value in (task_write.update or {}).items():
            result[key] = [*result.get(key, []), *value] if isinstance(value, list) else value
    return result


def fold(chain: Sequence[CheckpointRecord]) -> dict[Any, Any]:
    """The state at the last record of ``chain``, as the runtime folds it."""
    if chain and chain[0].snapshot is not None:
        values, rest = dict(chain[0].snapshot), chain[1:]
    else:
        values, rest = {}, chain
    for checkpoint in rest:
        values = apply(values, checkpoint.writes)
    return values


_LAST: Any = object()


@dataclass
class Recorder:
    """Puts checkpoints of one (thread, namespace) and remembers their values."""

    saver: BaseCheckpointSaver
    thread_id: str
    ns: str = ""
    records: dict[str, CheckpointRecord] = field(default_factory=dict)
    values: dict[str, dict[Any, Any]] = field(default_factory=dict)
    last_id: str | None = None
    lease: Lease | None = None
    """Put under this lease (as a run does), or without one."""

    @property
    def last(self) -> str:
        """The id of the last checkpoint this recorder put."""
        assert self.last_id is not None, "nothing put yet"
        return self.last_id

    def step(
        self,
        update: Mapping[Any, Any] | None = None,
        *,
        parent: str | None = _LAST,
        metadata: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        pending: Sequence[PendingWrite] = (),
    ) -> CheckpointRecord:
        """Put a checkpoint after ``parent`` (the last one put unless given;
        None for a root) whose step wrote ``update``, with ``pending`` writes;
        ``metadata`` adds to the runtime's keys (source, step, parents)."""
        parent_id = self.last_id if parent is _LAST else parent
        before = self.values[parent_id] if parent_id is not None else {}
        step = self.records[parent_id].step + 1 if parent_id is not None else -1
        checkpoint = make_checkpoint(
            self.thread_id,
            ns=self.ns,
            parent_id=parent_id,
            step=step,
            writes=[write("node", update, goto=("node",))] if update is not None else [],
            tasks=[TaskRecord(str(uuid.uuid4()), "node")],
            metadata={"source": "loop", "step": step, "parents": {}, **(metadata or {})},
            at=at,
        )
        values = apply(before, checkpoint.writes)
        self.saver.save(checkpoint, values, pending, lease=self.lease)
        self.records[checkpoint.id] = checkpoint
        self.values[checkpoint.id] = values
        self.last_id = checkpoint.id
        return checkpoint

    def run(self, count: int, key: str = "log", size: int = 48) -> list[CheckpointRecord]:
        """``count`` steps each appending ``size`` random bytes to ``key``
        (random, so that a saver that compresses stores them at their size)."""
        return [self.step({key: [os.urandom(size)]}) for _ in range(count)]


# --- what a saver gives back -------------------------------------------------------------


def assert_same_records(got: Sequence[CheckpointRecord | None], want: Sequence[CheckpointRecord]) -> None:
    """``got`` are the records ``want`` as put (snapshots aside; ``created_at``
    to the millisecond, as a saver reads it back from the id)."""
    assert len(got) == len(want), f"{len(got)} records, expected {len(want)}"
    for found, expected in zip(got, want):
        assert found is not None, f"{expected.id} is missing"
        assert same_time(found.created_at, expected.created_at), (
            f"{found.created_at} != {expected.created_at}"
        )
        assert replace(found, snapshot=None, created_at=expected.created_at) == expected


def assert_whole(chain: Sequence[CheckpointRecord], checkpoint_id: str) -> None:
    """A chain as get_chain must return it: linked oldest first, ending at
    ``checkpoint_id``, starting at a snapshot or the root, only the first
    carrying a snapshot."""
    assert chain, f"no chain for {checkpoint_id}"
    assert chain[-1].id == checkpoint_id
    assert chain[0].snapshot is not None or chain[0].parent_id is None, "chain is cut short"
    for parent, child in zip(chain, chain[1:]):
        assert child.parent_id == parent.id, "chain is not linked oldest first"
        assert child.snapshot is None, "only the first record of a chain carries a snapshot"


def assert_reads_back(rec: Recorder, checkpoint_id: str) -> None:
    """get_chain of ``checkpoint_id`` is whole and folds to the values it was put with."""
    chain = rec.saver.get_chain(rec.thread_id, rec.ns, checkpoint_id)
    assert_whole(chain, checkpoint_id)
    assert fold(chain) == rec.values[checkpoint_id]


def assert_exactly_equal(got: Any, want: Any, path: str = "value") -> None:
    """Equal, and of the same types all the way down (a tuple stays a tuple,
    a frozenset a frozenset, an int key an int key)."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert {(type(k), k) for k in got} == {(type(k), k) for k in want}, f"{path}: keys differ"
        for key, value in want.items():
            assert_exactly_equal(got[key], value, f"{path}[{key!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for index, (a, b) in enumerate(zip(got, want)):
            assert_exactly_equal(a, b, f"{path}[{index}]")
    elif isinstance(want, (set, frozenset)):
        assert {(type(x), x) for x in got} == {(type(x), x) for x in want}, f"{path}: {got!r}"
    elif isinstance(want, datetime):
        assert got == want and got.utcoffset() == want.utcoffset(), f"{path}: {got!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


EXOTIC: dict[str, Any] = {
    "tuple": (1, "two", (3.0, None, [4])),
    "set": {1, 2, 3},
    "frozenset": frozenset({"a", "b"}),
    "utc": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
    "offset": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "naive": datetime(2024, 1, 1, 12, 0),
    "date": date(2024, 2, 29),
    "duration": timedelta(days=1, seconds=2, microseconds=3),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": Decimal("1.10"),
    "bytes": b"\x00\xff\x80 binary",
    "big": 2**100,
    "negative_big": -(2**80),
    "u64_max": 2**64 - 1,
    "i64_min": -(2**63),
    "float": 1.5,
    "bool": True,
    "none": None,
    "text": "snow \u2603 and \U0001f600",
    "nested": {1: {"x": [1, (2, 3)]}, (2, "b"): {3.5: b"raw"}, "empty": {}, "list": []},
}
"""Values of every kind a state may hold, which must come back exactly."""


# --- bytes -------------------------------------------------------------------------------


@dataclass
class Sizes:
    """Stored bytes of each checkpoint's writes and snapshot (0: none), read off stats()."""

    writes: dict[str, int] = field(default_factory=dict)
    snapshot: dict[str, int] = field(default_factory=dict)

    def step(self, rec: Recorder, update: Mapping[Any, Any], **options: Any) -> CheckpointRecord:
        """``rec.step(update, **options)``, noting what it stored."""
        before = rec.saver.stats()
        checkpoint = rec.step(update, **options)
        after = rec.saver.stats()
        self.writes[checkpoint.id] = after.log_bytes - before.log_bytes
        self.snapshot[checkpoint.id] = after.snapshot_bytes - before.snapshot_bytes
        return checkpoint


def blob_sizes(
    saver: BaseCheckpointSaver, checkpoint: CheckpointRecord, values: Mapping[Any, Any]
) -> tuple[int, int]:
    """The sizes of ``checkpoint``'s writes blob and of a snapshot blob of
    ``values`` as ``codec`` (the row format every cairn saver stores) makes them."""
    serde = getattr(saver, "serde", None) or Serializer()
    row = codec.encode(serde, checkpoint, values, None, saver.snapshot_policy.ratio)
    assert row.snapshot is not None
    return len(row.writes), len(row.snapshot)
