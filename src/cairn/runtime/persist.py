"""Committing a run's checkpoints with the chosen durability.

"sync": each save returns once stored. "async": saves go to one background
writer, in order, and ``flush`` waits for them. "exit": saves are held and
stored by ``flush`` when the run returns or raises.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from time import perf_counter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointRecord,
    Lease,
    PendingWrite,
    PutItem,
    TaskWrite,
)
from cairn.errors import ConfigError

if TYPE_CHECKING:
    from cairn.runtime.observe import RunObserver

DURABILITIES = ("sync", "async", "exit")


def check_durability(durability: str) -> None:
    if durability not in DURABILITIES:
        raise ConfigError(f"durability must be one of {DURABILITIES}, got {durability!r}")


def _without(keys: frozenset[str], update: Any) -> Any:
    if not isinstance(update, Mapping) or not keys.intersection(update):
        return update
    return {k: v for k, v in update.items() if k not in keys}


def storable(
    keys: frozenset[str],
    checkpoint: CheckpointRecord,
    values: Mapping[str, Any],
    pending: Sequence[PendingWrite] = (),
) -> tuple[CheckpointRecord, Mapping[str, Any], Sequence[PendingWrite]]:
    """What may be stored of a checkpoint, its state and its pending writes:
    all but the transient ``keys`` (``Annotated[..., Transient]``)."""
    if not keys:
        return checkpoint, values, pending
    writes = tuple(replace(w, update=_without(keys, w.update)) for w in checkpoint.writes)
    tasks = tuple(replace(t, arg=_without(keys, t.arg)) if t.push else t for t in checkpoint.tasks)
    return (
        replace(checkpoint, writes=writes, tasks=tasks),
        _without(keys, values),
        [_pending_without(keys, w) for w in pending],
    )


def _pending_without(keys: frozenset[str], write: PendingWrite) -> PendingWrite:
    value = write.value
    if isinstance(value, TaskWrite):
        return replace(write, value=replace(value, update=_without(keys, value.update)))
    if write.kind == "input":
        return replace(write, value=_without(keys, value))
    return write


class Persister:
    """Stores a run's checkpoints and pending writes on its saver."""

    stores = True
    observer: RunObserver | None = None
    """Told of each checkpoint commit (its latency and bytes), when set."""

    def __init__(
        self,
        saver: BaseCheckpointSaver,
        durability: str,
        lease: Lease | None = None,
        transient: frozenset[str] = frozenset(),
    ) -> None:
        check_durability(durability)
        self.transient = transient
        self.saver = saver
        self.lease = lease
        self.durability = durability
        self._held: list[Callable[[], None]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._futures: list[Future[None]] = []
        self._waiting: list[PutItem] = []

    def _do(self, action: Callable[[], None]) -> None:
        if self.durability == "sync":
            action()
        elif self.durability == "exit":
            self._held.append(action)
        else:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-writer")
            self._futures.append(self._writer.submit(action))

    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        *,
        hold: bool = False,
    ) -> None:
        """Store a checkpoint. With ``hold``, it is stored with the next one,
        in one commit (a run's input checkpoint, with the step that applies the
        input), or alone when the run saves nothing else."""
        checkpoint, values, pending = storable(self.transient, checkpoint, values, pending)
        if self.durability == "sync" and not hold and not self._waiting:
            if self.observer is None:
                self.saver.save(checkpoint, values, pending, self.lease)  # a step's usual save
            else:
                self._timed([(checkpoint, values, pending)])
            return
        if self.durability != "sync":
            values = dict(values)
        items = [*self._release_waiting(), (checkpoint, values, pending)]
        if hold:
            self._waiting = items
        elif self.durability == "sync":
            self._save_many(items)
        else:
            self._do(lambda: self._save_many(items))

    def _save_many(self, items: Sequence[PutItem]) -> None:
        if self.observer is None:
            self.saver.save_many(items, self.lease)
        else:
            self._timed(items)

    def _timed(self, items: Sequence[PutItem]) -> None:
        """Store ``items`` in one commit and tell the observer how long it took."""
        assert self.observer is not None
        began = perf_counter()
        if len(items) == 1:
            size = self.saver.save(*items[0], self.lease)
        else:
            size = self.saver.save_many(items, self.lease)
        self.observer.checkpoint_written(items[-1][0], perf_counter() - began, size)

    def _release_waiting(self) -> list[PutItem]:
        waiting, self._waiting = self._waiting, []
        return waiting

    def _store_waiting(self) -> None:
        waiting = self._release_waiting()
        if waiting:
            self._do(lambda: self._save_many(waiting))

    def save_pending(self, checkpoint: CheckpointRecord, writes: Sequence[PendingWrite]) -> None:
        self._store_waiting()
        if self.transient:
            writes = [_pending_without(self.transient, w) for w in writes]
        if writes:
            self._do(
                lambda: self.saver.save_pending(
                    checkpoint.thread_id, checkpoint.ns, checkpoint.id, writes, self.lease
                )
            )

    def flush(self) -> None:
        """Store everything still held or queued; raises the first storage error."""
        self._store_waiting()
        held, self._held = self._held, []
        for action in held:
            action()
        futures, self._futures = self._futures, []
        try:
            for future in futures:
                future.result()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None


class NoPersister:
    """Where a run without a checkpointer stores: nowhere."""

    stores = False
    observer: RunObserver | None = None

    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        *,
        hold: bool = False,
    ) -> None:
        """Store nothing."""

    def save_pending(self, checkpoint: CheckpointRecord, writes: Sequence[PendingWrite]) -> None:
        """Store nothing."""

    def flush(self) -> None:
        """Nothing is held."""
