"""The contract every saver implements, and LangGraph's checkpoint shapes.

This is the only thing ``cairn.runtime`` knows about storage. A saver stores
``CheckpointRecord`` records (``cairn.checkpoint.records``), the log of what
each super-step wrote, and decides on its own when to also keep a full
snapshot of the state (``SnapshotPolicy``). It never folds writes into state
itself: that needs the graph's reducers, which the runtime owns. ``get_chain``
hands back the records from the nearest snapshot to the checkpoint asked
for, and the runtime folds them.

Every saver also speaks LangGraph's checkpointer interface (``get``,
``get_tuple``, ``list``, ``put``, ``put_writes``, ``delete_thread``,
``delete_for_runs`` and the async twins; ``cairn.checkpoint.interface``),
with LangGraph's shapes (``Checkpoint``, ``CheckpointTuple``, ... from
``cairn.checkpoint.shapes``), importable from here as from
``langgraph.checkpoint.base``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence, TypeVar

from cairn.checkpoint.interface import CheckpointerInterface
from cairn.checkpoint.records import (
    CheckpointRecord,
    PendingWrite,
    PutItem,
    TaskRecord,
    TaskWrite,
)
from cairn.checkpoint.shapes import (
    LATEST_VERSION,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    copy_checkpoint,
    create_checkpoint,
    empty_checkpoint,
    get_checkpoint_id,
    get_checkpoint_metadata,
)

if TYPE_CHECKING:
    from cairn.checkpoint.serializer import Serializer

__all__ = [
    "BaseCheckpointSaver",
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointRecord",
    "CheckpointTuple",
    "LATEST_VERSION",
    "Lease",
    "PendingWrite",
    "PruneResult",
    "PutItem",
    "SnapshotPolicy",
    "StoreStats",
    "TaskRecord",
    "TaskWrite",
    "ThreadInfo",
    "copy_checkpoint",
    "create_checkpoint",
    "empty_checkpoint",
    "get_checkpoint_id",
    "get_checkpoint_metadata",
]


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When to store the full state beside a checkpoint's writes.

    A snapshot is taken once the bytes of writes logged since the last
    snapshot reach ``ratio`` times that snapshot's size. For a state that
    grows by appends, the snapshots then add up to about ``(1 + ratio) / ratio``
    times the final state, and reading any checkpoint folds at most about
    ``ratio`` states' worth of writes.
    """

    ratio: float = 1.25

    def due(self, snapshot_bytes: int, log_bytes: int) -> bool:
        return log_bytes >= self.ratio * snapshot_bytes


@dataclass(frozen=True, slots=True)
class Lease:
    """A run's hold on a thread: one writer per thread.

    ``owner`` is unique to one acquisition, so a writer
    whose hold expired and was taken over is refused at its next write
    instead of forking the thread. The hold lasts ``ttl`` seconds unless
    renewed; a writer that died holds the thread no longer than that.
    """

    thread_id: str
    owner: str
    ttl: float


def thread_busy(thread_id: str, holder: str) -> Exception:
    from cairn.errors import ThreadBusyError

    return ThreadBusyError(
        f"thread {thread_id!r} is busy: another run ({holder}) is writing it; wait for that "
        "run to finish, or create the saver with wait_for_thread=SECONDS to wait for it"
    )


def lease_lost(lease: Lease) -> Exception:
    from cairn.errors import ThreadBusyError

    return ThreadBusyError(
        f"this run lost thread {lease.thread_id!r}: its hold ({lease.owner}) expired and another "
        f"run took the thread over, or the thread was deleted, so this step was not stored; "
        f"what was stored before is as it was: read it with get_state and run again. A step that "
        f"takes longer than the "
        f"lease ({lease.ttl:g} s) is renewed in the background; raise lease_ttl if this "
        "process is stalled for longer"
    )


def check_lease_options(lease_ttl: float, wait_for_thread: float) -> None:
    from cairn.errors import ConfigError

    if isinstance(lease_ttl, bool) or not isinstance(lease_ttl, (int, float)) or not lease_ttl > 0:
        raise ConfigError(f"lease_ttl must be a number of seconds > 0, got {lease_ttl!r}")
    if (
        isinstance(wait_for_thread, bool)
        or not isinstance(wait_for_thread, (int, float))
        or not wait_for_thread >= 0
    ):
        raise ConfigError(
            f"wait_for_thread must be a number of seconds >= 0, got {wait_for_thread!r}"
        )


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """One thread as ``list_threads`` shows it."""

    thread_id: str
    checkpoints: int
    created_at: str
    """When the thread's first checkpoint was made (ISO-8601, UTC)."""
    updated_at: str
    """When its head was made."""
    metadata: Mapping[str, Any]
    """The head checkpoint's metadata."""


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What a store holds; ``bytes`` counts the stored blobs (log, snapshots,
    plans, metadata and pending writes), not the database's own overhead."""

    threads: int
    checkpoints: int
    pending_writes: int
    log_bytes: int
    snapshot_bytes: int
    bytes: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    threads_deleted: int = 0
    checkpoints_deleted: int = 0


@dataclass(frozen=True, slots=True)
class ChainLink:
    """The little a prune needs to know of a stored checkpoint."""

    id: str
    parent_id: str | None
    has_snapshot: bool


def prunable(links: Iterable[ChainLink], keep_last: int) -> set[str]:
    """Ids that can go when keeping the newest ``keep_last`` checkpoints of
    one (thread, namespace): everything except those and the chain each of
    them needs to be read (its ancestors back to the nearest snapshot)."""
    ordered = sorted(links, key=lambda link: link.id, reverse=True)
    by_id = {link.id: link for link in ordered}
    keep: set[str] = set()
    for link in ordered[:keep_last]:
        current: ChainLink | None = link
        while current is not None and current.id not in keep:
            keep.add(current.id)
            if current.has_snapshot or current.parent_id is None:
                break
            current = by_id.get(current.parent_id)
    return {link.id for link in ordered if link.id not in keep}


def run_id_set(run_ids: Sequence[str], what: str = "delete_for_runs") -> frozenset[str]:
    """The run ids of a ``delete_for_runs`` call, checked: a list (or other
    sequence) of strings, not one string (whose letters would be the ids)."""
    from cairn.errors import ConfigError

    if isinstance(run_ids, (str, bytes)) or not isinstance(run_ids, (Sequence, set, frozenset)):
        hint = f"pass [{run_ids!r:.60}] for one run" if isinstance(run_ids, str) else "pass a list of strings"
        raise ConfigError(
            f"{what} takes a list of run ids, got {type(run_ids).__name__} {run_ids!r:.80}: {hint}"
        )
    strangers = [r for r in run_ids if not isinstance(r, str) or not r]
    if strangers:
        raise ConfigError(
            f"{what} takes run ids as non-empty strings (the metadata's 'run_id'), got "
            f"{strangers[0]!r:.80} in {list(run_ids)!r:.160}: pass str(run_id)"
        )
    return frozenset(run_ids)


def of_runs(metadata: Mapping[str, Any], run_ids: frozenset[str]) -> bool:
    """Whether a checkpoint's metadata names one of ``run_ids`` as its run
    (a UUID stored as one is compared as its text, as LangGraph's savers do)."""
    run_id = metadata.get("run_id")
    return run_id is not None and str(run_id) in run_ids


def check_still_readable(
    thread_id: str, ns: str, kept: Iterable[ChainLink], doomed: Mapping[str, str], where: str
) -> None:
    """Refuse to delete the ``doomed`` checkpoints of one (thread, namespace)
    (id -> the run that wrote it) when a checkpoint that stays holds no
    snapshot and its parent is doomed: its state is the fold of the writes
    from its parent, which could then not be read. One that holds a
    snapshot is read without its parent and stays (its parent link then
    names a deleted checkpoint, as after LangGraph's delete_for_runs)."""
    from cairn.errors import CheckpointInUseError

    for link in sorted(kept, key=lambda link: link.id):
        if link.has_snapshot or link.parent_id is None or link.parent_id not in doomed:
            continue
        space = f" (namespace {ns!r})" if ns else ""
        raise CheckpointInUseError(
            f"cannot delete the checkpoints of run {doomed[link.parent_id]!r}: checkpoint "
            f"{link.id!r} of thread {thread_id!r}{space} in {where}, which stays, is stored as "
            f"the writes of its step on top of that run's checkpoint {link.parent_id!r}, so it "
            "could no longer be read. Nothing was deleted: delete the runs that came after it "
            f"too (delete_for_runs with their ids), or the whole thread (delete_thread({thread_id!r}))"
        )


def check_limit(limit: int | None) -> None:
    from cairn.errors import ConfigError

    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ConfigError(f"limit must be a whole number >= 0, got {limit!r}")


def metadata_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether ``metadata`` holds every key/value of ``filter`` (LangGraph's
    history filter: equality of each given key)."""
    return not filter or all(k in metadata and metadata[k] == v for k, v in filter.items())


def split_filter(
    filter: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A metadata filter as (column conditions, the rest): ``source`` (a str)
    and ``step`` (an int) are stored as columns and compared there, exactly
    as Python's ``==`` would; every other key (and a value of another type)
    is in the metadata blob, which only Python reads."""
    columns: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in (filter or {}).items():
        if (key == "source" and type(value) is str) or (key == "step" and type(value) is int):
            columns[key] = value
        else:
            rest[key] = value
    return columns, rest


def already_stored(checkpoint: CheckpointRecord, where: str) -> Exception:
    from cairn.errors import StorageError

    return StorageError(
        f"checkpoint {checkpoint.id!r} of thread {checkpoint.thread_id!r} is already stored in "
        f"{where}; stored checkpoints never change: make a new one with a new id"
    )


def looping_link(thread_id: str, ns: str, checkpoint_id: str, parent_id: str, where: str) -> Exception:
    """The error of a stored checkpoint whose parent link closes a loop.

    A parent is made before its children and ids sort by creation time
    (``ids.new_checkpoint_id``), so a walk up the parent links goes to
    smaller ids and ends; once a link goes to a parent that is not older
    (rows of machines whose clocks differed, damage, or a crafted row), the
    walk checks each link against the checkpoints it has passed, and a link
    back to one of them is this error, instead of a walk without end."""
    from cairn.errors import StorageError

    space = f" (namespace {ns!r})" if ns else ""
    return StorageError(
        f"checkpoint {checkpoint_id!r} of thread {thread_id!r}{space} in {where} names "
        f"{parent_id!r} as its parent, which is itself or descends from it: the stored parent links "
        "loop, so the rows are damaged or were crafted. Restore the database from a "
        f"backup, or delete the thread with delete_thread({thread_id!r})"
    )


def parent_missing(checkpoint: CheckpointRecord, where: str | None = None) -> Exception:
    """The error of a checkpoint that holds no snapshot and whose parent is not
    stored: its state cannot be known (rows were deleted, not pruned: prune
    keeps every row a kept checkpoint is read from)."""
    from cairn.errors import StorageError

    place = f" in {where}" if where else ""
    return StorageError(
        f"checkpoint {checkpoint.id!r} of thread {checkpoint.thread_id!r}{place} cannot be read: "
        f"its parent {checkpoint.parent_id!r} is not stored, and it holds no snapshot of the "
        "state to start from, so rows it needs were deleted from the database. Restore the "
        f"database from a backup, or delete the thread with delete_thread({checkpoint.thread_id!r})"
    )


def check_prune_args(keep_last: int | None, older_than: timedelta | None) -> None:
    from cairn.errors import ConfigError

    if keep_last is None and older_than is None:
        raise ConfigError("prune needs keep_last=N, older_than=timedelta(...), or both")
    if keep_last is not None and (not isinstance(keep_last, int) or keep_last < 1):
        raise ConfigError(f"prune(keep_last=...) must be a whole number >= 1, got {keep_last!r}")
    if older_than is not None and not isinstance(older_than, timedelta):
        raise ConfigError(
            f"prune(older_than=...) must be a datetime.timedelta, got {older_than!r}"
        )


_S = TypeVar("_S", bound="BaseCheckpointSaver")


class BaseCheckpointSaver(CheckpointerInterface, ABC):
    """The storage contract. Implementations are safe to share between threads.

    Every method takes the thread id and the checkpoint namespace (``ns``,
    "" for the top-level graph) explicitly; a ``checkpoint_id`` of None means
    the thread's head, its newest checkpoint.
    """

    serde: Serializer
    """What values are stored with: its registry (``serde.types``) holds the
    classes this saver may store and load; compiling a graph with the saver
    registers there the classes the graph's state schema reaches."""
    snapshot_policy: SnapshotPolicy = SnapshotPolicy()
    lease_ttl: float = 30.0
    """Seconds a run holds its thread unless renewed (a live run renews it)."""
    wait_for_thread: float = 0.0
    """Seconds a run waits for a busy thread before raising ThreadBusyError."""
    io_threads: int = 1
    """How many calls of the async API this saver serves at once, each on a
    thread of its own (``io_executor``), so that the event loop never waits
    for storage; 0 for a saver that does no I/O (its calls run in place)."""
    _io: ThreadPoolExecutor | None = None
    _io_lock = threading.Lock()

    def io_executor(self) -> ThreadPoolExecutor | None:
        """The threads the async API runs this saver's calls on (None: in place)."""
        if self.io_threads <= 0:
            return None
        if self._io is None:
            with self._io_lock:
                if self._io is None:
                    self._io = ThreadPoolExecutor(self.io_threads, thread_name_prefix="cairn-io")
        return self._io

    def _set_lease_options(self, lease_ttl: float, wait_for_thread: float) -> None:
        check_lease_options(lease_ttl, wait_for_thread)
        self.lease_ttl = float(lease_ttl)
        self.wait_for_thread = float(wait_for_thread)

    @abstractmethod
    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Lease | None = None,
        *,
        snapshot: bool = False,
    ) -> int | None:
        """Store ``checkpoint`` and ``pending`` (writes against it) atomically;
        ``values`` is the full state at it, kept as a snapshot when
        ``snapshot_policy`` says one is due (always, with ``snapshot=True``:
        a checkpoint whose state is not the fold of its writes). Clears the
        pending writes of the checkpoint's parent, whose step is now complete.

        The checkpoint's id must sort after its parent's (ids are made by
        ``ids.new_checkpoint_id``); its ``created_at`` and ``snapshot`` are
        ignored. A checkpoint whose parent is not stored starts a new chain
        (with a snapshot). An id that is already stored raises StorageError.

        With ``lease``, stores only if its owner still holds the thread (a
        check no takeover can slip past; the saver may also renew the hold);
        otherwise raises ThreadBusyError and stores nothing.

        Returns the bytes of the checkpoint's row (its encoded blobs), or
        None when the saver does not know: what metrics report as written."""

    def save_many(self, items: Sequence[PutItem], lease: Lease | None = None) -> int | None:
        """``save`` each (checkpoint, values, pending) of ``items`` in order,
        each checkpoint the parent of the next; a saver may store them in one
        commit. Pending writes of a checkpoint but the last need not be stored:
        the save of its child clears them. Returns the bytes of their rows
        (None: unknown), as ``save``."""
        sizes = [self.save(checkpoint, values, pending, lease) for checkpoint, values, pending in items]
        return None if None in sizes else sum(s for s in sizes if s is not None)

    @abstractmethod
    def save_pending(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[PendingWrite],
        lease: Lease | None = None,
    ) -> None:
        """Record what tasks of the step after ``checkpoint_id`` left behind,
        replacing earlier pending writes of the same task and kind. ``lease``
        as for ``save``."""

    # -- one writer per thread ---------------------------------------------------

    @abstractmethod
    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        """Take the thread for ``lease.owner`` for ``lease.ttl`` seconds, or
        renew its hold. Returns None when the owner holds the thread now, or
        the owner of a live hold that prevents it. ``replacing`` names an
        owner known to be dead, whose hold is taken over even if unexpired."""

    @abstractmethod
    def renew(self, lease: Lease) -> bool:
        """Extend the hold of ``lease.owner`` by ``lease.ttl`` seconds, if it
        still holds the thread (never taking a thread afresh); whether it does."""

    @abstractmethod
    def release(self, lease: Lease) -> None:
        """Let go of the thread, if ``lease.owner`` still holds it."""

    @abstractmethod
    def load(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> CheckpointRecord | None:
        """The checkpoint (or the head when ``checkpoint_id`` is None), or None."""

    @abstractmethod
    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[CheckpointRecord]:
        """The checkpoints from the nearest ancestor holding a snapshot (or the
        root) down to ``checkpoint_id``, oldest first; the first carries its
        ``snapshot`` if it has one. Empty if the checkpoint does not exist."""

    @abstractmethod
    def list_checkpoints(
        self,
        thread_id: str,
        ns: str,
        *,
        before: str | None = None,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[CheckpointRecord]:
        """The thread's checkpoints in ``ns``, newest first, all branches, with
        their snapshots where stored; only ids below ``before`` when given,
        and only those whose metadata holds every key/value of ``filter``
        (``metadata_matches``); ``limit`` counts the checkpoints listed.

        A history reads a page through this call, so it reads no more rows
        than it must: ``limit`` and ``filter`` are applied where the rows are
        (``split_filter`` says which keys are plain columns)."""

    @abstractmethod
    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        """Pending writes recorded against ``checkpoint_id``."""

    def get_pending_many(
        self, thread_id: str, ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, list[PendingWrite]]:
        """The pending writes of each of ``checkpoint_ids`` that has any (a
        history page's: the head's, and the errors and interrupts that past
        checkpoints keep)."""
        found = {cid: self.get_pending(thread_id, ns, cid) for cid in checkpoint_ids}
        return {cid: writes for cid, writes in found.items() if writes}

    @abstractmethod
    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointRecord | None:
        """The oldest checkpoint whose parent is ``checkpoint_id`` (the step that
        first ran after it; replays and forks come later), or None."""

    @abstractmethod
    def namespaces(self, thread_id: str) -> list[str]:
        """The checkpoint namespaces the thread has checkpoints in, sorted
        ("" first: the top-level graph's)."""

    # -- thread management -----------------------------------------------------

    @abstractmethod
    def list_threads(
        self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None
    ) -> list[ThreadInfo]:
        """Threads, most recently updated first; ``filter`` keeps those whose
        head metadata holds every given key/value."""

    @abstractmethod
    def delete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint and pending write of the thread, and any
        run's hold on it: a run still writing the thread stores nothing more
        (its next write raises ThreadBusyError), so the thread stays deleted."""

    @abstractmethod
    def delete_runs(self, run_ids: Sequence[str], *, thread_id: str | None = None) -> int:
        """Remove every checkpoint whose metadata's ``run_id`` is one of
        ``run_ids``, in every namespace, with its pending writes; on thread
        ``thread_id`` only when given (a look at that thread's rows, not at
        the whole store). Returns how many checkpoints went.

        What stays is readable: a thread's head becomes its newest checkpoint
        left, and a thread left with none is gone. A checkpoint that stays
        and is stored as writes on top of one that would go (no snapshot of
        its own) makes it refuse with CheckpointInUseError, deleting nothing
        (``check_still_readable``). Pending writes that the run's first
        checkpoint cleared from its parent when it was stored (all but errors
        and interrupts) do not come back."""

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """LangGraph's: remove every checkpoint the runs ``run_ids`` wrote
        (their metadata's ``run_id``), with their pending writes, on every
        thread; ``delete_runs`` says what stays and when it refuses."""
        self.delete_runs(run_ids)

    @abstractmethod
    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and pending write of a thread to a new thread
        id (ids kept, so configs differ only in thread_id). Raises ConfigError
        if the target exists or the source does not."""

    @abstractmethod
    def prune(
        self,
        *,
        keep_last: int | None = None,
        older_than: timedelta | None = None,
        thread_id: str | None = None,
        dry_run: bool = False,
    ) -> PruneResult:
        """Drop threads whose head is older than ``older_than`` (but not one a
        run holds now: it is running, not idle), and keep only
        the newest ``keep_last`` checkpoints of each remaining thread (plus
        what those need to be read). ``thread_id`` limits it to one thread;
        ``dry_run=True`` counts what would go and deletes nothing."""

    @abstractmethod
    def stats(self) -> StoreStats:
        """Counts and bytes of what the store holds."""

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Let go of what the saver opened (a file, a pool) and its I/O threads."""
        io, self._io = self._io, None
        if io is not None:
            io.shutdown(wait=False)

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
