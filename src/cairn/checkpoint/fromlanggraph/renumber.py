"""New ids for LangGraph's checkpoints: cairn's own (UUID version 7, the same
instant), in the order parents-before-children and by time.

Why not keep LangGraph's: cairn finds a thread's newest checkpoint, and
pages its history, by the order of ids, which for its own ids is the order
of time. LangGraph's ids are UUID version 6, whose text sorts above every
version 7 id of our era: a run continuing an imported thread would add
checkpoints that sort below the imported ones, and the thread's head would
stay the old one. So each imported checkpoint gets a cairn id made from its
own time (``ts``), and keeps LangGraph's id in its metadata under
``LANGGRAPH_ID`` (``get_state_history(config, filter={LANGGRAPH_ID: id})``
finds it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from datetime import datetime, timezone
from typing import Sequence

from cairn.checkpoint.fromlanggraph.source import LangGraphCheckpoint
from cairn.errors import ConfigError

__all__ = ["LANGGRAPH_ID", "in_order", "renumbered"]

LANGGRAPH_ID = "langgraph_checkpoint_id"
"""The metadata key an imported checkpoint keeps its LangGraph id under."""

_UUID_EPOCH = 0x01B21DD213814000
"""100-ns intervals from 1582-10-15 (UUID time) to 1970-01-01."""


def _micros(cp: LangGraphCheckpoint) -> int:
    """When a checkpoint was made, in microseconds since 1970: its ``ts``,
    else the time in its version 6 id, else 0."""
    ts = cp.checkpoint.get("ts")
    if isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return int(moment.timestamp() * 1_000_000)
        except ValueError:
            pass
    digits = cp.id.replace("-", "")
    if len(digits) == 32 and digits[12] == "6":
        try:
            ticks = int(digits[:12] + digits[13:16], 16)
            return max(0, (ticks - _UUID_EPOCH) // 10)
        except ValueError:
            pass
    return 0


def in_order(checkpoints: Sequence[LangGraphCheckpoint]) -> dict[str, list[LangGraphCheckpoint]]:
    """Each thread's checkpoints, parents before children, otherwise by
    time; refuses a checkpoint whose parent is missing."""
    threads: dict[str, list[LangGraphCheckpoint]] = {}
    for cp in checkpoints:
        threads.setdefault(cp.thread_id, []).append(cp)
    return {thread_id: _ordered(thread_id, group) for thread_id, group in sorted(threads.items())}


def _ordered(thread_id: str, group: list[LangGraphCheckpoint]) -> list[LangGraphCheckpoint]:
    places = {(cp.ns, cp.id) for cp in group}
    children: dict[tuple[str, str | None], list[LangGraphCheckpoint]] = {}
    for cp in group:
        if cp.parent_id is not None and (cp.ns, cp.parent_id) not in places:
            raise ConfigError(
                f"thread {thread_id!r}: checkpoint {cp.id!r} names the parent {cp.parent_id!r}, "
                "which the LangGraph database does not hold; it is damaged, and nothing was imported"
            )
        children.setdefault((cp.ns, cp.parent_id), []).append(cp)
    ready = [(_micros(cp), cp.ns, cp.id, cp) for cp in group if cp.parent_id is None]
    heapq.heapify(ready)
    ordered = []
    while ready:
        *_, cp = heapq.heappop(ready)
        ordered.append(cp)
        for child in children.get((cp.ns, cp.id), []):
            heapq.heappush(ready, (_micros(child), child.ns, child.id, child))
    if len(ordered) != len(group):
        raise ConfigError(f"thread {thread_id!r}: its checkpoints' parent links form a loop; "
                          "the LangGraph database is damaged, and nothing was imported")
    return ordered


def _new_id(stamp: int, old: str) -> str:
    tail = int.from_bytes(hashlib.sha1(old.encode()).digest()[:8], "big") >> 2
    h = f"{stamp:015x}{tail | 1 << 63:016x}"
    return f"{h[:8]}-{h[8:12]}-7{h[12:15]}-{h[15:19]}-{h[19:]}"


def renumbered(ordered: list[LangGraphCheckpoint]) -> list[LangGraphCheckpoint]:
    """A thread's checkpoints (as ``in_order`` gives them) with cairn ids,
    increasing in that order, parent links and ``parents`` metadata
    following; LangGraph's id kept in the metadata."""
    new: dict[str, str] = {}
    last = 0
    for cp in ordered:
        micros = _micros(cp)
        stamp = max(((micros // 1000) << 12) | ((micros % 1000) * 4096 // 1000), last + 1)
        last = stamp
        new[cp.id] = _new_id(stamp, f"{cp.thread_id}\0{cp.ns}\0{cp.id}")
    out = []
    for cp in ordered:
        meta = dict(cp.metadata)
        if isinstance(meta.get("parents"), dict):
            meta["parents"] = {ns: new.get(cid, cid) for ns, cid in meta["parents"].items()}
        meta[LANGGRAPH_ID] = cp.id
        checkpoint = {**cp.checkpoint, "id": new[cp.id]}
        parent = new[cp.parent_id] if cp.parent_id is not None else None
        out.append(dataclasses.replace(cp, id=new[cp.id], parent_id=parent, checkpoint=checkpoint, metadata=meta))
    return out
