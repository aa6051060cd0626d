"""cairn's stored checkpoints as LangGraph's ``CheckpointTuple``s: what the
checkpointer interface's reads (``get_tuple``, ``list``) hand out.

A record stores the writes of its step, not the state: the state at a
checkpoint is the fold of the writes along its chain (back to a stored
snapshot) through the graph's reducers. A saver does not know them: a graph
compiled with it hands it its fold (``Fold``), per subgraph path
(``ns_path``). A listing folds a page of checkpoints oldest first, each from
its parent's state, so it reads one chain per page, not one per checkpoint.
"""

from __future__ import annotations

import builtins
import heapq
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol, Sequence

from cairn.checkpoint.records import CheckpointRecord, PendingWrite, TaskWrite, interrupt_entries
from cairn.checkpoint.shapes import LATEST_VERSION, ChannelVersions, Checkpoint, CheckpointTuple
from cairn.errors import StorageError
from cairn.types import Interrupt

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["KEPT_AS", "Fold", "Storage", "config_of", "listed", "ns_path", "one_tuple"]

Fold = Callable[[Sequence[CheckpointRecord]], dict[str, Any]]
"""The state at the last record of a chain (as ``get_chain`` returns it)."""

KEPT_AS = "langgraph"
"""The key of ``carry`` where a checkpoint ``put`` through the interface keeps
what cairn does not store otherwise (its versions and time)."""

_PAGE = 64
"""How many checkpoints a listing folds together."""


class Storage(Protocol):
    """What of a saver's storage contract (``cairn.checkpoint.base``) the interface uses."""

    _folds: dict[tuple[str, ...], Fold] | None

    def io_executor(self) -> ThreadPoolExecutor | None: ...
    def load(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> CheckpointRecord | None: ...
    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> builtins.list[CheckpointRecord]: ...
    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointRecord | None: ...
    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> builtins.list[PendingWrite]: ...
    def get_pending_many(
        self, thread_id: str, ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, builtins.list[PendingWrite]]: ...
    def list_checkpoints(
        self,
        thread_id: str,
        ns: str,
        *,
        before: str | None = None,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[CheckpointRecord]: ...
    def list_threads(self, *, filter: Mapping[str, Any] | None = None, limit: int | None = None) -> Any: ...
    def namespaces(self, thread_id: str) -> builtins.list[str]: ...
    def delete_thread(self, thread_id: str) -> None: ...
    def delete_for_runs(self, run_ids: Sequence[str]) -> None: ...
    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Any = None,
        *,
        snapshot: bool = False,
    ) -> int | None: ...
    def save_pending(
        self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[PendingWrite], lease: Any = None
    ) -> None: ...


def ns_path(ns: str) -> tuple[str, ...]:
    """The node names of a checkpoint namespace ("outer:<task id>|inner:<task id>"
    is ("outer", "inner")): what picks a subgraph's fold."""
    return tuple(part.split(":", 1)[0] for part in ns.split("|")) if ns else ()


def config_of(thread_id: str, ns: str, checkpoint_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


# -- one checkpoint ----------------------------------------------------------------


def one_tuple(saver: Storage, record: CheckpointRecord) -> CheckpointTuple:
    """``record`` as a CheckpointTuple, read on its own (``get_tuple``)."""
    thread_id, ns = record.thread_id, record.ns
    chain = saver.get_chain(thread_id, ns, record.id)
    values = _fold(saver, record, chain) if chain else {}
    versions = _versions(chain) if chain else {}
    child = saver.first_child(thread_id, ns, record.id)
    return _shaped(record, values, versions, child, saver.get_pending(thread_id, ns, record.id))


def _fold(saver: Storage, record: CheckpointRecord, chain: Sequence[CheckpointRecord]) -> dict[str, Any]:
    """The state at the last record of ``chain``: its snapshot, or the chain
    folded by the fold a graph compiled with the saver gave it."""
    if len(chain) == 1 and chain[0].snapshot is not None:
        return dict(chain[0].snapshot)
    fold = (saver._folds or {}).get(ns_path(record.ns))
    if fold is None:
        raise StorageError(
            f"checkpoint {record.id!r} of thread {record.thread_id!r} stores the writes of its "
            "step, and its state is those writes folded through the graph's reducers: compile "
            "the graph with this saver first (builder.compile(checkpointer=saver)), or read the "
            "state with graph.get_state(config)"
        )
    return fold(chain)


def _versions(chain: Sequence[CheckpointRecord]) -> ChannelVersions:
    """Versions made up from a chain: a key's version is its last writer's
    step + 2 (whole numbers that grow along a branch, 1 for the input)."""
    first = chain[0]
    versions: ChannelVersions = {key: first.step + 2 for key in first.snapshot or ()}
    for record in chain if first.snapshot is None else chain[1:]:
        versions.update(_written(record))
    return versions


def _written(record: CheckpointRecord) -> dict[str, int]:
    return {key: record.step + 2 for write in record.writes for key in write.update or ()}


# -- a listing ---------------------------------------------------------------------


def listed(
    saver: Storage,
    threads: Sequence[str],
    ns: str | None,
    checkpoint_id: str | None,
    filter: Mapping[str, Any] | None,
    before: str | None,
    limit: int | None,
) -> Iterator[CheckpointTuple]:
    """The checkpoints of ``threads`` in namespace ``ns`` (every namespace
    when None), newest first, a page at a time."""
    count = 0
    # A child lists before its parent (ids sort by time): the first children
    # seen give the pending writes of their parents, when nothing was skipped.
    whole = not filter and before is None and checkpoint_id is None
    for thread_id in threads:
        spaces = [ns] if ns is not None else saver.namespaces(thread_id)
        left = None if limit is None else limit - count
        records = _records(saver, thread_id, spaces, checkpoint_id, filter, before, left)
        children: dict[tuple[str, str], CheckpointRecord] = {}
        while True:
            page = _take(records, _PAGE if limit is None else min(_PAGE, limit - count))
            if not page:
                break
            yield from _page(saver, page, children, whole)
            count += len(page)
            if limit is not None and count >= limit:
                return


def _take(items: Iterator[CheckpointRecord], count: int) -> builtins.list[CheckpointRecord]:
    page: builtins.list[CheckpointRecord] = []
    for item in items:
        page.append(item)
        if len(page) >= count:
            break
    return page


def _records(
    saver: Storage,
    thread_id: str,
    spaces: Sequence[str],
    checkpoint_id: str | None,
    filter: Mapping[str, Any] | None,
    before: str | None,
    limit: int | None,
) -> Iterator[CheckpointRecord]:
    """A thread's records in ``spaces``, newest first."""
    if checkpoint_id is not None:
        found = (saver.load(thread_id, space, checkpoint_id) for space in spaces)
        return iter([r for r in found if r is not None and _matches(r, filter, before)][:1])
    if len(spaces) == 1:
        return saver.list_checkpoints(thread_id, spaces[0], before=before, filter=filter, limit=limit)
    each = [
        builtins.list(saver.list_checkpoints(thread_id, space, before=before, filter=filter, limit=limit))
        for space in spaces
    ]
    return heapq.merge(*each, key=lambda record: record.id, reverse=True)


def _matches(record: CheckpointRecord, filter: Mapping[str, Any] | None, before: str | None) -> bool:
    if before is not None and not record.id < before:
        return False
    return all(k in record.metadata and record.metadata[k] == v for k, v in (filter or {}).items())


def _page(
    saver: Storage,
    page: Sequence[CheckpointRecord],
    children: dict[tuple[str, str], CheckpointRecord],
    whole: bool,
) -> Iterator[CheckpointTuple]:
    """A page of records (newest first) as tuples: their states folded oldest
    first, each from its parent's when the parent is on the page."""
    states: dict[tuple[str, str], tuple[CheckpointRecord, dict[str, Any], ChannelVersions]] = {}
    for record in reversed(page):
        parent = states.get((record.ns, record.parent_id or ""))
        if record.snapshot is not None:
            chain: Sequence[CheckpointRecord] = [record]
        elif parent is not None:
            chain = [replace(parent[0], snapshot=parent[1]), record]
        else:
            chain = saver.get_chain(record.thread_id, record.ns, record.id)
        values = _fold(saver, record, chain) if chain else {}
        if parent is not None and record.snapshot is None:
            versions = {**parent[2], **_written(record)}
        else:
            versions = _versions(chain) if chain else {}
        states[(record.ns, record.id)] = (record, values, versions)
    pending = _pending_of(saver, page)
    for record in page:
        _, values, versions = states[(record.ns, record.id)]
        if whole:
            child = children.get((record.ns, record.id))
        else:
            child = saver.first_child(record.thread_id, record.ns, record.id)
        if record.parent_id is not None:
            children[(record.ns, record.parent_id)] = record
        yield _shaped(record, values, versions, child, pending.get((record.ns, record.id), []))


def _pending_of(
    saver: Storage, page: Sequence[CheckpointRecord]
) -> dict[tuple[str, str], builtins.list[PendingWrite]]:
    """The pending writes of a page's records, one read per namespace."""
    found: dict[tuple[str, str], builtins.list[PendingWrite]] = {}
    by_ns: dict[tuple[str, str], builtins.list[str]] = {}
    for record in page:
        by_ns.setdefault((record.thread_id, record.ns), []).append(record.id)
    for (thread_id, ns), ids in by_ns.items():
        for checkpoint_id, writes in saver.get_pending_many(thread_id, ns, ids).items():
            found[(ns, checkpoint_id)] = writes
    return found


# -- the shape ---------------------------------------------------------------------


def _shaped(
    record: CheckpointRecord,
    values: dict[str, Any],
    versions: ChannelVersions,
    child: CheckpointRecord | None,
    stored: Sequence[PendingWrite],
) -> CheckpointTuple:
    """``record`` in LangGraph's shape; ``child`` is its first child, whose
    writes (of the step that ran after it) are among its pending writes."""
    thread_id, ns = record.thread_id, record.ns
    kept = _kept(record)
    metadata: dict[str, Any] = {"source": record.source, "step": record.step, "parents": {}}
    metadata.update(record.metadata)
    if kept is not None:
        checkpoint = Checkpoint(**kept["checkpoint"])  # type: ignore[typeddict-item]
        checkpoint["channel_values"] = values
        metadata = dict(kept["metadata"])
    else:
        written = sorted({key for write in record.writes for key in write.update or ()})
        checkpoint = Checkpoint(
            v=LATEST_VERSION,
            id=record.id,
            ts=record.created_at,
            channel_values=values,
            channel_versions=versions,
            versions_seen={},
            updated_channels=written or None,
        )
    pending: builtins.list[tuple[str, str, Any]] = []
    if child is not None and child.source == "loop":
        for write in child.writes:
            pending.extend(_update_triples(write))
    # A task's error, interrupts and answers before its writes, as LangGraph orders them.
    for left in sorted(stored, key=lambda w: w.kind in ("result", "update", "input")):
        pending.extend(_triples(left))
    return CheckpointTuple(
        config_of(thread_id, ns, record.id),
        checkpoint,
        metadata,  # type: ignore[arg-type]
        config_of(thread_id, ns, record.parent_id) if record.parent_id is not None else None,
        pending,
    )


def _kept(record: CheckpointRecord) -> Mapping[str, Any] | None:
    """What ``put`` kept of the checkpoint dict and metadata it was given, if
    this record was put through the interface (a record the runtime made
    from it may carry it on: its id tells)."""
    kept = record.carry.get(KEPT_AS) if isinstance(record.carry, Mapping) else None
    if isinstance(kept, Mapping) and isinstance(kept.get("checkpoint"), Mapping):
        if kept["checkpoint"].get("id") == record.id:
            return kept
    return None


def _triples(write: PendingWrite) -> builtins.list[tuple[str, str, Any]]:
    """A stored pending write as LangGraph's (task_id, channel, value) triples."""
    kind, value, task_id = write.kind, write.value, write.task_id
    if kind in ("result", "update"):
        return _update_triples(value)
    if kind == "error":
        return [(task_id, "__error__", value)]
    if kind == "interrupt":
        return [(task_id, "__interrupt__", [Interrupt(value=v, id=i, response_schema=r) for i, v, r in interrupt_entries(value)])]
    if kind == "resume":
        return [(task_id, "__resume__", value)]
    if kind == "input" and isinstance(value, Mapping):
        return [(task_id, key, item) for key, item in value.items()]
    return [(task_id, "__start__", value)]


def _update_triples(write: TaskWrite) -> builtins.list[tuple[str, str, Any]]:
    return [(write.task_id, key, value) for key, value in (write.update or {}).items()]
