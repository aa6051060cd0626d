"""Hand-built checkpoint records for the saver conformance suite (test_saver_contract.py).

The suite calls the saver contract directly, without a graph. States here follow
one toy reducer (``apply``): a list in an update is appended to the key's list,
anything else replaces the key's value. ``Recorder`` puts checkpoints of such a
state into a saver and remembers the full values at each one, so a test can
fold ``get_chain`` with ``fold`` and compare.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from cairn.checkpoint.base import BaseCheckpointSaver, Checkpoint, TaskRecord, TaskWrite
from cairn.checkpoint.ids import new_checkpoint_id


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


def instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def same_time(got: str, want: str) -> bool:
    """Two ISO-8601 timestamps of the same moment, to the millisecond."""
    return abs(instant(got) - instant(want)) < timedelta(milliseconds=1)


def write(name: str, update: Mapping[str, Any] | None, goto: Sequence[Any] = ()) -> TaskWrite:
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
) -> Checkpoint:
    """A checkpoint record. Its id is ``checkpoint_id``, or one made ``at`` a
    given moment, or a fresh one; ``created_at`` is the time the id carries,
    as the runtime's records have it."""
    if checkpoint_id is None:
        checkpoint_id = checkpoint_id_at(at) if at is not None else new_checkpoint_id()
    return Checkpoint(
        thread_id=thread_id,
        ns=ns,
        id=checkpoint_id,
        parent_id=parent_id,
        step=step,
        source=source,
        created_at=created_at(checkpoint_id),
        metadata=dict(
            metadata if metadata is not None else {"source": source, "step": step, "parents": {}}
        ),
        writes=tuple(writes),
        tasks=tuple(tasks),
        carry=dict(carry or {}),
    )


def apply(values: Mapping[str, Any], writes: Sequence[TaskWrite]) -> dict[str, Any]:
    """The toy reducer: lists append, anything else replaces."""
    result = dict(values)
    for task_write in writes:
        for key, value in (task_write.update or {}).items():
            result[key] = [*result.get(key, []), *value] if isinstance(value, list) else value
    return result


def fold(chain: Sequence[Checkpoint]) -> dict[str, Any]:
    """The state at the last record of ``chain``, as the runtime folds it."""
    if chain and chain[0].snapshot is not None:
        values, rest = dict(chain[0].snapshot), chain[1:]
    else:
        values, rest = {}, chain
    for checkpoint in rest:
        values = apply(values, checkpoint.writes)
    return values


def without_snapshot(checkpoint: Checkpoint) -> Checkpoint:
    return checkpoint.with_snapshot(None)


def assert_same_records(got: Sequence[Checkpoint | None], want: Sequence[Checkpoint]) -> None:
    """``got`` are the records ``want`` as put (snapshots aside; ``created_at``
    to the millisecond, as a saver may read it back from the id)."""
    assert len(got) == len(want), f"{len(got)} records, expected {len(want)}"
    for found, expected in zip(got, want):
        assert found is not None, f"{expected.id} is missing"
        assert same_time(found.created_at, expected.created_at), f"{found.created_at} != {expected.created_at}"
        assert replace(found, snapshot=None, created_at=expected.created_at) == expected


_LAST: Any = object()


@dataclass
class Recorder:
    """Puts checkpoints of one (thread, namespace) and remembers their values."""

    saver: BaseCheckpointSaver
    thread_id: str
    ns: str = ""
    records: dict[str, Checkpoint] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    last: str | None = None

    def step(
        self,
        update: Mapping[str, Any] | None = None,
        *,
        parent: str | None = _LAST,
        metadata: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        writes: Sequence[TaskWrite] | None = None,
    ) -> Checkpoint:
        """Put a checkpoint after ``parent`` (the last one put unless given;
        None for a root) whose step wrote ``update`` (or ``writes``);
        ``metadata`` adds to the runtime's keys (source, step, parents)."""
        parent_id = self.last if parent is _LAST else parent
        before = self.values[parent_id] if parent_id is not None else {}
        step = self.records[parent_id].step + 1 if parent_id is not None else -1
        if writes is None:
            writes = [write("node", update, goto=("node",))] if update is not None else []
        checkpoint = make_checkpoint(
            self.thread_id,
            ns=self.ns,
            parent_id=parent_id,
            step=step,
            writes=writes,
            tasks=[TaskRecord(str(uuid.uuid4()), "node")],
            metadata={"source": "loop", "step": step, "parents": {}, **(metadata or {})},
            at=at,
        )
        values = apply(before, checkpoint.writes)
        self.saver.put(checkpoint, values)
        self.records[checkpoint.id] = checkpoint
        self.values[checkpoint.id] = values
        self.last = checkpoint.id
        return checkpoint

    def run(self, count: int, key: str = "log", size: int = 48) -> list[Checkpoint]:
        """``count`` steps each appending ``size`` random bytes to ``key``
        (random, so that a saver that compresses stores them as they are)."""
        return [self.step({key: [os.urandom(size)]}) for _ in range(count)]


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
