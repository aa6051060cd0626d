"""Checkpoint ids: UUID-v7 strings that sort by creation time.

Within one process ids are strictly increasing even when the clock stalls or
steps back, and a child's id is made after its parent's (``after``) even
when the parent came from a machine whose clock is ahead, so a child
checkpoint's id always sorts after its parent's.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from datetime import datetime, timezone

_lock = threading.Lock()
_last = 0
# The random part only keeps ids of one millisecond apart; it need not be
# secret, and a generator seeded from the OS is far cheaper than a syscall.
_random = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(16)))


def new_checkpoint_id(after: str | None = None) -> str:
    """A fresh time-ordered id (UUID version 7 layout, 60 bits of time); with
    ``after``, one that sorts after that id too (a child's after its parent's,
    even when the parent was made by a machine whose clock is ahead)."""
    global _last
    ns = time.time_ns()
    stamp = ((ns // 1_000_000) << 12) | ((ns % 1_000_000) * 4096 // 1_000_000)
    with _lock:
        if stamp <= _last:
            stamp = _last + 1
        _last = stamp
    if after is not None:
        # Only this id moves past ``after``: a parent from the future (a clock
        # ahead, or a crafted row) does not move the ids of other threads.
        stamp = min(max(stamp, _stamp(after) + 1), _MAX_STAMP)
    # 60 bits of time, then the variant bits (10) and 62 random bits.
    h = f"{stamp:015x}{_random.getrandbits(62) | 1 << 63:016x}"
    return f"{h[:8]}-{h[8:12]}-7{h[12:15]}-{h[15:19]}-{h[19:]}"


_MAX_STAMP = (1 << 60) - 1
"""The last time an id can hold (a parent there has no child sorting after it)."""


def _text(value: int) -> str:
    """A 128-bit value in the UUID text form (what ``str(uuid.UUID(int=value))`` gives)."""
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stamp(checkpoint_id: str) -> int:
    try:
        high = int(checkpoint_id[:8] + checkpoint_id[9:13] + checkpoint_id[15:18], 16)
    except ValueError:
        value = uuid.UUID(checkpoint_id).int  # another spelling of a UUID: let uuid read it
        return ((value >> 80) << 12) | ((value >> 64) & 0xFFF)
    return high


def created_at_of(checkpoint_id: str) -> str:
    """When a checkpoint was made (ISO-8601, UTC, microseconds), read from its id:
    what ``datetime.isoformat()`` gives, without the fraction when it is 0."""
    # Ids read together (a thread's history) often share their millisecond,
    # the first 13 characters: its text is kept, and the rest of the fraction
    # comes from a table of the 4096 sub-millisecond steps.
    head, text, whole_second = _milli
    if checkpoint_id[:13] == head:
        micros = _SUB_MILLI.get(checkpoint_id[15:18])
        if micros is not None and not (whole_second and micros == "000"):
            return f"{text}{micros}+00:00"
    return _created_at(checkpoint_id)


def _created_at(checkpoint_id: str) -> str:
    global _milli, _second
    try:
        stamp = int(checkpoint_id[:8] + checkpoint_id[9:13] + checkpoint_id[15:18], 16)
        usual = checkpoint_id[8:9] == "-" and checkpoint_id[13:14] == "-"
    except ValueError:
        stamp, usual = _stamp(checkpoint_id), False  # another spelling of a UUID
    seconds, milli = divmod(stamp >> 12, 1000)
    sub = (stamp & 0xFFF) * 1000 // 4096  # the microseconds within the millisecond
    cached = _second
    if cached[0] == seconds:
        prefix = cached[1]
    else:
        prefix = datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None).isoformat()
        _second = (seconds, prefix)
    text = f"{prefix}.{milli:03d}"
    if usual:
        _milli = (checkpoint_id[:13], text, milli == 0)
    return f"{text}{sub:03d}+00:00" if milli or sub else f"{prefix}+00:00"


_SUB_MILLI = {f"{step:03x}": f"{step * 1000 // 4096:03d}" for step in range(4096)}
"""The microseconds (within the millisecond) of each 12-bit sub-millisecond
step of an id, as lowercase hex and as the 3 digits of the fraction."""
_second: tuple[int, str] = (-1, "")
"""The last second ``_created_at`` formatted, and its text."""
_milli: tuple[str, str, bool] = ("", "", False)
"""The millisecond part of the last usual id read (its first 13 characters),
the text of its time up to the millisecond, and whether that millisecond
starts a second. Each cache is one tuple, swapped whole: threads never see
half of one."""


def id_floor(moment: datetime) -> str:
    """The smallest checkpoint id made at or after ``moment``: ids sort by time,
    so ``id < id_floor(t)`` means "made before t"."""
    micros = int(moment.timestamp() * 1_000_000)
    stamp = ((micros // 1000) << 12) | ((micros % 1000) * 4096 // 1000)
    value = ((stamp >> 12) << 80) | (0x7 << 76) | ((stamp & 0xFFF) << 64) | (0b10 << 62)
    return _text(value)


_TASK_NAMESPACE = uuid.UUID("5b0e8a4c-3f4e-4c2a-9d8e-6a1f0c2b7e11")


_TASK_PREFIX = _TASK_NAMESPACE.bytes


def task_id(checkpoint_id: str, name: str, index: int) -> str:
    """A task's id: the same for the same checkpoint, node and position (a
    UUID version 5, computed without building UUID objects)."""
    h = hashlib.sha1(_TASK_PREFIX + f"{checkpoint_id}|{name}|{index}".encode()).hexdigest()
    # The version digit set to 5, the variant bits of the next group to 10.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
