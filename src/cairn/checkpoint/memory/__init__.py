"""``InMemorySaver``: checkpoints in process memory, for development and tests.

It stores the same encoded rows as the durable savers (so what a node does to
its state after a step cannot change a stored checkpoint), and is lost when
the process exits.
"""

from __future__ import annotations

import bisect
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.records import KEPT
from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    ChainLink,
    CheckpointRecord,
    Lease,
    PendingWrite,
    PruneResult,
    StoreStats,
    ThreadInfo,
    already_stored,
    check_limit,
    check_prune_args,
    check_still_readable,
    lease_lost,
    looping_link,
    metadata_matches,
    of_runs,
    prunable,
    run_id_set,
    split_filter,
)
from cairn.checkpoint.ids import created_at_of, id_floor
from cairn.checkpoint.serde import Serializer, default_serializer
from cairn.errors import ConfigError, StorageError

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

    io_threads = 0  # no I/O: the async API calls it in place

    def __init__(
        self,
        *,
        serde: Serializer | None = None,
        lease_ttl: float = 30.0,
        wait_for_thread: float = 0.0,
    ) -> None:
        self.serde = serde or default_serializer()
        self._set_lease_options(lease_ttl, wait_for_thread)
        self._lock = threading.RLock()
        self._threads: dict[str, dict[str, _Namespace]] = {}
        self._leases: dict[str, tuple[str, float]] = {}

    def _decode(self, row: codec.Row, with_snapshot: bool = True) -> CheckpointRecord:
        """The checkpoint of a stored row; a row that cannot be read (changed
        behind the saver's back) is a StorageError naming it."""
        try:
            return codec.decode(self.serde, row, with_snapshot=with_snapshot)
        except Exception as exc:
            raise StorageError(
                f"checkpoint {row.id!r} of thread {row.thread_id!r} in this InMemorySaver cannot "
                f"be read: {exc}. {codec.stored_bytes_remedy(exc, row.thread_id)}"
            ) from exc

    def _space(self, thread_id: str, ns: str) -> _Namespace | None:
        spaces = self._threads.get(thread_id)
        return spaces.get(ns) if spaces else None

    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Lease | None = None,
        *,
        snapshot: bool = False,
    ) -> int:
        at = (checkpoint.thread_id, checkpoint.ns, checkpoint.id)
        encoded = [((w.task_id, w.kind), codec.encode_pending(self.serde, at, w)) for w in pending]
        with self._lock:
            self._check(lease)
            space = self._threads.setdefault(checkpoint.thread_id, {}).setdefault(
                checkpoint.ns, _Namespace()
            )
            if checkpoint.id in space.rows:
                raise already_stored(checkpoint, "this InMemorySaver")
            parent = space.rows.get(checkpoint.parent_id) if checkpoint.parent_id else None
            row = codec.encode(
                self.serde,
                checkpoint,
                values,
                (parent.snapshot_bytes, parent.log_bytes) if parent else None,
                0.0 if snapshot else self.snapshot_policy.ratio,
            )
            if not space.order or space.order[-1] < checkpoint.id:
                space.order.append(checkpoint.id)
            else:
                bisect.insort(space.order, checkpoint.id)
            space.rows[checkpoint.id] = row
            if checkpoint.parent_id in space.pending:  # cleared but for the kinds past snapshots show
                kept = {k: v for k, v in space.pending[checkpoint.parent_id].items() if k[1] in KEPT}
                if kept:
                    space.pending[checkpoint.parent_id] = kept
                else:
                    del space.pending[checkpoint.parent_id]
            if encoded:
                space.pending.setdefault(checkpoint.id, {}).update(encoded)
        return row.size

    def save_pending(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[PendingWrite],
        lease: Lease | None = None,
    ) -> None:
        at = (thread_id, ns, checkpoint_id)
        encoded = [((w.task_id, w.kind), codec.encode_pending(self.serde, at, w)) for w in writes]
        with self._lock:
            self._check(lease)
            space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            space.pending.setdefault(checkpoint_id, {}).update(encoded)

    # -- one writer per thread ---------------------------------------------------

    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        now = time.monotonic()
        with self._lock:
            held = self._leases.get(lease.thread_id)
            if held is not None and held[0] not in (lease.owner, replacing) and held[1] > now:
                return held[0]
            self._leases[lease.thread_id] = (lease.owner, now + lease.ttl)
            return None

    def renew(self, lease: Lease) -> bool:
        with self._lock:
            return self._extend(lease)

    def _extend(self, lease: Lease) -> bool:
        """``renew`` for a caller holding the lock."""
        held = self._leases.get(lease.thread_id)
        if held is None or held[0] != lease.owner:
            return False
        self._leases[lease.thread_id] = (lease.owner, time.monotonic() + lease.ttl)
        return True

    def release(self, lease: Lease) -> None:
        with self._lock:
            held = self._leases.get(lease.thread_id)
            if held is not None and held[0] == lease.owner:
                del self._leases[lease.thread_id]

    def _check(self, lease: Lease | None) -> None:
        """Renew ``lease`` or refuse the write (called holding the lock)."""
        if lease is not None and not self._extend(lease):
            raise lease_lost(lease)

    def load(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> CheckpointRecord | None:
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None or not space.order:
                return None
            row = space.rows.get(checkpoint_id or space.order[-1])
        return self._decode(row, with_snapshot=False) if row else None

    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[CheckpointRecord]:
        with self._lock:
            space = self._space(thread_id, ns)
            rows: list[codec.Row] = []
            row = space.rows.get(checkpoint_id) if space else None
            seen: set[str] | None = None
            while row is not None:
                if seen is not None:
                    if row.id in seen:
                        raise looping_link(thread_id, ns, rows[-1].id, row.id, "this InMemorySaver")
                    seen.add(row.id)
                rows.append(row)
                if row.snapshot is not None or row.parent_id is None:
                    break
                if seen is None and not row.parent_id < row.id:
                    # A parent that is not older (a clock ahead, or a loop):
                    # from here on every link is checked against those seen.
                    seen = {r.id for r in rows}
                row = space.rows.get(row.parent_id) if space else None
        rows.reverse()
        return [self._decode(row) for row in rows]

    def list_checkpoints(
        self,
        thread_id: str,
        ns: str,
        *,
        before: str | None = None,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[CheckpointRecord]:
        # A walk back from ``before`` that stops at ``limit`` matches; a row's
        # source and step are compared before its metadata is decoded, and
        # only the rows listed are decoded whole.
        columns, rest = split_filter(filter)
        rows: list[codec.Row] = []
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None:
                return iter(())
            order = space.order
            end = bisect.bisect_left(order, before) if before else len(order)
            for index in range(end - 1, -1, -1):
                if limit is not None and len(rows) >= limit:
                    break
                row = space.rows[order[index]]
                if columns and not all(getattr(row, k) == v for k, v in columns.items()):
                    continue
                if rest and not metadata_matches(
                    codec.decode_metadata(
                        self.serde,
                        row.metadata,
                        row.source,
                        row.step,
                        (thread_id, ns, row.id),
                        parent_id=row.parent_id,
                        has_snapshot=row.snapshot is not None,
                    ),
                    rest,
                ):
                    continue
                rows.append(row)
        return (self._decode(row) for row in rows)

    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        with self._lock:
            space = self._space(thread_id, ns)
            items = list(space.pending.get(checkpoint_id, {}).items()) if space else []
        try:
            return [
                codec.decode_pending(self.serde, (thread_id, ns, checkpoint_id), task_id, kind, blob)
                for (task_id, kind), blob in items
            ]
        except Exception as exc:
            raise StorageError(
                f"pending writes of checkpoint {checkpoint_id!r} of thread {thread_id!r} in this "
                f"InMemorySaver cannot be read: {exc}. {codec.stored_bytes_remedy(exc, thread_id)}"
            ) from exc

    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointRecord | None:
        with self._lock:
            space = self._space(thread_id, ns)
            if space is None:
                return None
            start = bisect.bisect_right(space.order, checkpoint_id)
            for cid in space.order[start:]:
                row = space.rows[cid]
                if row.parent_id == checkpoint_id:
                    return self._decode(row, with_snapshot=False)
        return None

    def namespaces(self, thread_id: str) -> list[str]:
        with self._lock:
            return sorted(ns for ns, space in self._threads.get(thread_id, {}).items() if space.order)

    # -- thread management -----------------------------------------------------

    def list_threads(
        self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[ThreadInfo]:
        check_limit(limit)
        with self._lock:
            # Newest first by each thread's newest id (the last of each
            # namespace's order); heads are decoded only until ``limit`` match.
            newest = [
                (max(space.order[-1] for space in spaces.values() if space.order), thread_id)
                for thread_id, spaces in self._threads.items()
                if any(space.order for space in spaces.values())
            ]
            newest.sort(reverse=True)
            found: list[ThreadInfo] = []
            for _, thread_id in newest:
                if limit is not None and len(found) >= limit:
                    break
                info = self._thread_info(thread_id, self._threads[thread_id])
                if all(info.metadata.get(k) == v for k, v in (filter or {}).items()):
                    found.append(info)
        return found

    def _thread_info(self, thread_id: str, spaces: dict[str, _Namespace]) -> ThreadInfo:
        """A thread that has checkpoints, as ``list_threads`` shows it."""
        filled = [space for space in spaces.values() if space.order]
        root = spaces.get("")
        if root and root.order:
            head = root.rows[root.order[-1]]
        else:
            last = max(filled, key=lambda space: space.order[-1])
            head = last.rows[last.order[-1]]
        return ThreadInfo(
            thread_id=thread_id,
            checkpoints=sum(len(space.order) for space in filled),
            created_at=created_at_of(min(space.order[0] for space in filled)),
            updated_at=created_at_of(max(space.order[-1] for space in filled)),
            metadata=codec.decode_metadata(
                self.serde,
                head.metadata,
                head.source,
                head.step,
                (thread_id, head.ns, head.id),
                parent_id=head.parent_id,
                has_snapshot=head.snapshot is not None,
            ),
        )

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self._threads.pop(thread_id, None)
            self._leases.pop(thread_id, None)  # a run still writing it stores nothing more

    def delete_runs(self, run_ids: Sequence[str], *, thread_id: str | None = None) -> int:
        wanted = run_id_set(run_ids)
        if not wanted:
            return 0
        with self._lock:  # found, checked and deleted under one hold: no writer comes between
            chosen = [thread_id] if thread_id is not None else list(self._threads)
            found: list[tuple[str, str, dict[str, str]]] = []
            for tid in chosen:
                for ns, space in self._threads.get(tid, {}).items():
                    doomed = self._of_runs(tid, ns, space, wanted)
                    if doomed:
                        kept = (
                            ChainLink(r.id, r.parent_id, r.snapshot is not None)
                            for r in space.rows.values()
                            if r.id not in doomed
                        )
                        check_still_readable(tid, ns, kept, doomed, "this InMemorySaver")
                        found.append((tid, ns, doomed))
            for tid, ns, doomed in found:
                spaces = self._threads[tid]
                space = spaces[ns]
                for cid in doomed:
                    del space.rows[cid]
                    space.pending.pop(cid, None)
                space.order = [cid for cid in space.order if cid not in doomed]
                if not space.order:
                    del spaces[ns]
                if not spaces:
                    del self._threads[tid]
        return sum(len(doomed) for _, _, doomed in found)

    def _of_runs(self, thread_id: str, ns: str, space: _Namespace, run_ids: frozenset[str]) -> dict[str, str]:
        """The checkpoints of ``space`` that runs ``run_ids`` wrote: id -> run id."""
        found: dict[str, str] = {}
        for row in space.rows.values():
            metadata = codec.read_metadata(
                self.serde,
                row.metadata,
                row.source,
                row.step,
                (thread_id, ns, row.id),
                parent_id=row.parent_id,
                has_snapshot=row.snapshot is not None,
                location="this InMemorySaver",
            )
            if of_runs(metadata, run_ids):
                found[row.id] = str(metadata["run_id"])
        return found

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        with self._lock:
            source = self._threads.get(source_thread_id)
            if not source or not any(space.order for space in source.values()):
                raise ConfigError(f"cannot copy thread {source_thread_id!r}: it has no checkpoints")
            if self._threads.get(target_thread_id):
                raise ConfigError(
                    f"cannot copy to thread {target_thread_id!r}: it exists already; "
                    "delete it first or pick another id"
                )
            copies: dict[str, _Namespace] = {}
            for ns, space in source.items():
                copy = _Namespace()
                copy.rows = {
                    cid: codec.move_row(self.serde, row, target_thread_id)
                    for cid, row in space.rows.items()
                }
                copy.order = list(space.order)
                copy.pending = {
                    cid: {
                        (task_id, kind): codec.move_pending(
                            self.serde, blob, (source_thread_id, ns, cid), target_thread_id, task_id, kind
                        )
                        for (task_id, kind), blob in items.items()
                    }
                    for cid, items in space.pending.items()
                }
                copies[ns] = copy
            self._threads[target_thread_id] = copies

    def prune(
        self,
        *,
        keep_last: int | None = None,
        older_than: timedelta | None = None,
        thread_id: str | None = None,
        dry_run: bool = False,
    ) -> PruneResult:
        check_prune_args(keep_last, older_than)
        threads_deleted = checkpoints_deleted = 0
        cutoff = id_floor(datetime.now(timezone.utc) - older_than) if older_than is not None else None
        with self._lock:
            chosen = [thread_id] if thread_id is not None else list(self._threads)
            for tid in chosen:
                spaces = self._threads.get(tid)
                if not spaces:
                    continue
                stored = [cid for space in spaces.values() for cid in space.rows]
                held = self._leases.get(tid)
                running = held is not None and held[1] > time.monotonic()  # not idle: a run holds it
                if cutoff is not None and stored and max(stored) < cutoff and not running:
                    checkpoints_deleted += len(stored)
                    threads_deleted += 1
                    if not dry_run:
                        del self._threads[tid]
                    continue
                if keep_last is None:
                    continue
                for space in spaces.values():
                    links = [
                        ChainLink(r.id, r.parent_id, r.snapshot is not None)
                        for r in space.rows.values()
                    ]
                    gone = prunable(links, keep_last)
                    checkpoints_deleted += len(gone)
                    if dry_run:
                        continue
                    for cid in gone:
                        del space.rows[cid]
                        space.pending.pop(cid, None)
                    space.order = [cid for cid in space.order if cid not in gone]
        return PruneResult(threads_deleted, checkpoints_deleted)

    def stats(self) -> StoreStats:
        with self._lock:
            rows = [
                row
                for spaces in self._threads.values()
                for space in spaces.values()
                for row in space.rows.values()
            ]
            pending = [
                blob
                for spaces in self._threads.values()
                for space in spaces.values()
                for items in space.pending.values()
                for blob in items.values()
            ]
            threads = sum(1 for spaces in self._threads.values() if any(s.rows for s in spaces.values()))
        log = sum(len(r.writes) for r in rows)
        snapshots = sum(len(r.snapshot or b"") for r in rows)
        other = sum(len(r.plan) + len(r.metadata) for r in rows) + sum(len(b) for b in pending)
        return StoreStats(
            threads=threads,
            checkpoints=len(rows),
            pending_writes=len(pending),
            log_bytes=log,
            snapshot_bytes=snapshots,
            bytes=log + snapshots + other,
        )


MemorySaver = InMemorySaver
