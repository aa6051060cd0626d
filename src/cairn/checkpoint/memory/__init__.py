"""``InMemorySaver``: checkpoints in process memory, for development and tests.

It stores the same encoded rows as the durable savers (so what a node does to
its state after a step cannot change a stored checkpoint), and is lost when
the process exits.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Iterator, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import BaseCheckpointSaver, Checkpoint, PendingWrite
from cairn.checkpoint.serde import Serializer

__all__ = ["InMemorySaver", "MemorySaver"]


class _Namespace:
    """The rows of one (thread, namespace), ordered by id."""

    __slots__ = ("rows", "order", "pending")

    def __init__(self) -> None:
        self.rows: dict[str, codec.Row] = {}
        self.order: list[str] = []
        self.pending: dict[str, dict[tuple[str, str], bytes]] = {}


class InMemorySaver(BaseCheckpointSaver):
    """Holds every thread's checkpoints in this process's memory."""

    def __init__(self, *, serde: Serializer | None = None) -> None:
        self.serde = serde or Serializer()
        self._lock = threading.RLock()
        self._threads: dict[str, dict[str, _Namespace]] = {}

    def _space(self, thread_id: str, ns: str) -> _Namespace | None:
        spaces = self._threads.get(thread_id)
        return spaces.get(ns) if spaces else None

    def put(self, checkpoint: Checkpoint, values: Mapping[str, Any]) -> None:
        with self._lock:
            space = self._threads.setdefault(checkpoint.thread_id, {}).setdefault(
                checkpoint.ns, _Namespace()
            )
            parent = space.rows.get(checkpoint.parent_id) if checkpoint.parent_id else None
            row = codec.encode(
                self.serde,
                checkpoint,
                values,
                (parent.snapshot_bytes, parent.log_bytes) if parent else None,
                self.snapshot_policy.ratio,
            )
            if checkpoint.id not in space.rows:
                if not space.order or space.order[-1] < checkpoint.id:
                    space.order.append(checkpoint.id)
                else:
                    bisect.insort(space.order, checkpoint.id)
            space.rows[checkpoint.id] = row
            if checkpoint.parent_id:
                space.pending.pop(checkpoint.parent_id, None)

    def put_pending(
        self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        encoded = [((w.task_id, w.kind), codec.encode_pending(self.serde, w)) for w in writes]
        with self._lock:
            space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            space.pending.setdefault(checkpoint_id, {}).update(encoded)

    def get(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None or not space.order:
                return None
            row = space.rows.get(checkpoint_id or space.order[-1])
        return codec.decode(self.serde, row, with_snapshot=False) if row else None

    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[Checkpoint]:
        with self._lock:
            space = self._space(thread_id, ns)
            rows: list[codec.Row] = []
            row = space.rows.get(checkpoint_id) if space else None
            while row is not None:
                rows.append(row)
                if row.snapshot is not None or row.parent_id is None:
                    break
                row = space.rows.get(row.parent_id) if space else None
        rows.reverse()
        return codec.decode_all(self.serde, rows)

    def list_checkpoints(
        self, thread_id: str, ns: str, *, before: str | None = None, limit: int | None = None
    ) -> Iterator[Checkpoint]:
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None:
                return iter(())
            end = bisect.bisect_left(space.order, before) if before else len(space.order)
            ids = space.order[:end][::-1]
            if limit is not None:
                ids = ids[:limit]
            rows = [space.rows[i] for i in ids]
        return (codec.decode(self.serde, row) for row in rows)

    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        with self._lock:
            space = self._space(thread_id, ns)
            items = list(space.pending.get(checkpoint_id, {}).items()) if space else []
        return [
            codec.decode_pending(self.serde, task_id, kind, blob)
            for (task_id, kind), blob in items
        ]

    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> Checkpoint | None:
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None:
                return None
            start = bisect.bisect_right(space.order, checkpoint_id)
            for cid in space.order[start:]:
                row = space.rows[cid]
                if row.parent_id == checkpoint_id:
                    return codec.decode(self.serde, row, with_snapshot=False)
        return None

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._threads.pop(thread_id, None)


MemorySaver = InMemorySaver
