"""What a saver remembers of the checkpoints a run stored last, per thread.

While a run holds a thread's lease nobody else writes the thread, so the
checkpoint it stored last in a namespace (the tip) is still the newest there
and its counters are as this saver wrote them. The next put after the tip
then needs no read of the parent, and no delete of pending writes the parent
never had. The savers still check, in the same statement, that the parent is
there (a ``delete_thread`` or ``prune`` from elsewhere) and take the long way
when it is not. What is remembered ends with the lease.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from cairn.checkpoint.base import CheckpointRecord, Lease
from cairn.checkpoint.codec import Row

_MAX_THREADS = 4096
"""Threads remembered at most; the oldest entry goes first (a run's lease is
normally released, which forgets it, well before that)."""


@dataclass(slots=True)
class Tip:
    id: str
    counters: tuple[int, int]
    """The row's (snapshot_bytes, log_bytes): what decides the next snapshot."""
    pending: bool
    """Whether pending writes were stored against it."""


class Tips:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[str, dict[str, Tip]]] = {}
        """thread id -> (lease owner, namespace -> tip)"""

    def after(self, checkpoint: CheckpointRecord, lease: Lease | None) -> Tip | None:
        """The tip ``checkpoint`` follows, if its lease's run stored it."""
        if lease is None or checkpoint.parent_id is None:
            return None
        entry = self._threads.get(checkpoint.thread_id)
        if entry is None or entry[0] != lease.owner:
            return None
        tip = entry[1].get(checkpoint.ns)
        return tip if tip is not None and tip.id == checkpoint.parent_id else None

    def stored(self, lease: Lease, row: Row, pending: bool) -> None:
        """``row`` was stored under ``lease`` (with pending writes when ``pending``)."""
        entry = self._threads.get(row.thread_id)
        tip = entry[1].get(row.ns) if entry is not None and entry[0] == lease.owner else None
        if tip is not None:  # the run's next checkpoint there: only its run writes it
            tip.id, tip.counters, tip.pending = row.id, (row.snapshot_bytes, row.log_bytes), pending
            return
        tip = Tip(row.id, (row.snapshot_bytes, row.log_bytes), pending)
        with self._lock:
            entry = self._threads.get(row.thread_id)
            if entry is None or entry[0] != lease.owner:
                if len(self._threads) >= _MAX_THREADS:
                    del self._threads[next(iter(self._threads))]
                entry = self._threads[row.thread_id] = (lease.owner, {})
            entry[1][row.ns] = tip

    def pending(self, lease: Lease, ns: str, checkpoint_id: str) -> None:
        """Pending writes were stored against ``checkpoint_id`` under ``lease``."""
        entry = self._threads.get(lease.thread_id)
        if entry is not None and entry[0] == lease.owner:
            tip = entry[1].get(ns)
            if tip is not None and tip.id == checkpoint_id:
                tip.pending = True

    def forget(self, lease: Lease) -> None:
        """The lease ended: what its run stored may change from now on."""
        with self._lock:
            entry = self._threads.get(lease.thread_id)
            if entry is not None and entry[0] == lease.owner:
                del self._threads[lease.thread_id]
