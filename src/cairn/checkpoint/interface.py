"""LangGraph's checkpointer interface, on every cairn saver.

Code written for LangGraph calls a checkpointer directly: ``get(config)``,
``get_tuple(config)``, ``list(config, ...)``, ``put(config, checkpoint,
metadata, new_versions)``, ``put_writes(config, writes, task_id)`` and their
``a``-prefixed twins. ``CheckpointerInterface`` gives every saver those
methods over its own storage contract (``load``, ``save``, ``get_chain``,
``list_checkpoints``, ...), turning cairn's records into LangGraph's shapes
(``cairn.checkpoint.shapes``) and back.

A record stores the writes of its step, not the state: the state at a
checkpoint is a fold of writes through the graph's reducers, which a saver
does not know. A graph compiled with a saver hands it its fold
(``fold_with``), per subgraph path; a checkpoint stored with a snapshot
(every ``put`` of this interface is) reads back without one.
"""

from __future__ import annotations

import asyncio
import builtins
import heapq
from functools import partial
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
    Protocol,
    TypeVar,
    cast,
)

from cairn.checkpoint.records import CheckpointRecord, PendingWrite, TaskWrite
from cairn.checkpoint.shapes import (
    LATEST_VERSION,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    check_checkpoint,
    next_version,
)
from cairn.errors import ConfigError
from cairn.types import Interrupt

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["CheckpointerInterface", "Fold", "ns_path"]

T = TypeVar("T")

Fold = Callable[[Sequence[CheckpointRecord]], dict[str, Any]]
"""The state at the last record of a chain (as ``get_chain`` returns it)."""

_SPECIAL = {"__error__": "error", "__interrupt__": "interrupt", "__resume__": "resume"}
"""LangGraph's special write channels, and the kind of pending write cairn keeps each as."""

_KEPT_AS = "langgraph"
"""The key of ``carry`` where a checkpoint ``put`` through this interface keeps
what cairn does not store otherwise (its versions and time)."""

_NOT_METADATA = frozenset(
    (
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    )
)
"""Configurable keys never copied into a checkpoint's metadata."""


def ns_path(ns: str) -> tuple[str, ...]:
    """The node names of a checkpoint namespace ("outer:<task id>|inner:<task id>"
    is ("outer", "inner")): what picks a subgraph's fold."""
    return tuple(part.split(":", 1)[0] for part in ns.split("|")) if ns else ()


def address(config: Any, what: str, *, thread: bool = True) -> tuple[str, str, str | None]:
    """(thread id, namespace, checkpoint id) of a config, as ``read_config`` accepts it."""
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"{what} takes a config like {{'configurable': {{'thread_id': '1'}}}}, got "
            f"{type(config).__name__} {config!r}"
        )
    configurable = {**{k: config[k] for k in ("thread_id", "checkpoint_ns", "checkpoint_id") if k in config}}
    configurable.update(config.get("configurable") or {})
    thread_id = configurable.get("thread_id")
    if thread and (thread_id is None or thread_id == ""):
        raise ConfigError(
            f"{what} needs a thread: pass {{'configurable': {{'thread_id': '...'}}}}, got {config!r}"
        )
    ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(ns, str):
        raise ConfigError(f"config checkpoint_ns must be a string, got {ns!r}")
    checkpoint_id = configurable.get("checkpoint_id")
    return (
        "" if thread_id is None else str(thread_id),
        ns,
        None if checkpoint_id in (None, "") else str(checkpoint_id),
    )


def config_of(thread_id: str, ns: str, checkpoint_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def stored_metadata(config: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` plus what LangGraph's savers add from the config: keys of
    ``config["metadata"]`` and ``configurable`` with plain values, but for the
    checkpoint's address, LangGraph's task keys and keys starting with "__"."""
    stored = dict(metadata)
    for source in (config.get("metadata"), config.get("configurable")):
        for key, value in (source or {}).items():
            if (
                isinstance(value, (str, int, float))
                and key not in stored
                and key not in _NOT_METADATA
                and not key.startswith("__")
            ):
                stored[key] = value
    return stored


def _triples(write: PendingWrite) -> list[tuple[str, str, Any]]:
    """A stored pending write as LangGraph's (task_id, channel, value) triples."""
    kind, value, task_id = write.kind, write.value, write.task_id
    if kind in ("result", "update"):
        return _update_triples(value)
    if kind == "error":
        return [(task_id, "__error__", value)]
    if kind == "interrupt":
        return [(task_id, "__interrupt__", [Interrupt(value=v, id=i) for i, v in value])]
    if kind == "resume":
        return [(task_id, "__resume__", value)]
    if kind == "input" and isinstance(value, Mapping):
        return [(task_id, key, item) for key, item in value.items()]
    return [(task_id, "__start__", value)]


def _update_triples(write: TaskWrite) -> list[tuple[str, str, Any]]:
    return [(write.task_id, key, value) for key, value in (write.update or {}).items()]


def _versions(chain: Sequence[CheckpointRecord]) -> ChannelVersions:
    """Versions made up from a chain: a key's version is its last writer's
    step + 2 (whole numbers that grow along a branch, 1 for the input)."""
    versions: ChannelVersions = {}
    first = chain[0]
    for key in first.snapshot or ():
        versions[key] = first.step + 2
    for record in chain if first.snapshot is None else chain[1:]:
        for write in record.writes:
            for key in write.update or ():
                versions[key] = record.step + 2
    return versions


def _parse_writes(
    writes: Sequence[tuple[str, Any]], task_id: str, name: str
) -> list[PendingWrite]:
    """LangGraph's writes of one task as cairn's pending writes: one result
    (the task's update), and an error, interrupts or answers when written."""
    update: dict[str, Any] = {}
    found: list[PendingWrite] = []
    for item in writes:
        if not isinstance(item, (tuple, builtins.list)) or len(item) != 2 or not isinstance(item[0], str):
            raise ConfigError(
                f"put_writes takes a list of (channel, value) pairs, got {item!r} among {writes!r}"
            )
        channel, value = item
        kind = _SPECIAL.get(channel)
        if kind is None:
            update[channel] = value
        elif kind == "error":
            found.append(PendingWrite(task_id, kind, value if isinstance(value, str) else repr(value)))
        elif kind == "interrupt":
            items = value if isinstance(value, (builtins.list, tuple)) else [value]
            pairs = [(getattr(i, "id", ""), getattr(i, "value", i)) for i in items]
            found.append(PendingWrite(task_id, kind, pairs))
        else:
            found.append(PendingWrite(task_id, kind, value))
    if update:
        found.insert(0, PendingWrite(task_id, "result", TaskWrite(task_id, name, update)))
    return found


class Storage(Protocol):
    """What of a saver's storage contract (``cairn.checkpoint.base``) the interface uses."""

    _folds: dict[tuple[str, ...], Fold] | None

    def io_executor(self) -> ThreadPoolExecutor | None: ...
    def load(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> CheckpointRecord | None: ...
    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> builtins.list[CheckpointRecord]: ...
    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointRecord | None: ...
    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> builtins.list[PendingWrite]: ...
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
    def delete_thread(self, thread_id: str) -> None: ...
    def namespaces(self, thread_id: str) -> builtins.list[str]: ...
    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Any = None,
        *,
        snapshot: bool = False,
    ) -> None: ...
    def save_pending(
        self, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[PendingWrite], lease: Any = None
    ) -> None: ...


class CheckpointerInterface:
    """LangGraph's ``BaseCheckpointSaver`` methods, over a cairn saver's storage.

    A config names the thread (``thread_id``, required), the namespace
    (``checkpoint_ns``, "" for the top-level graph) and a checkpoint
    (``checkpoint_id``; without it, the thread's newest).
    """

    _folds: dict[tuple[str, ...], Fold] | None = None

    def fold_with(self, fold: Fold, path: tuple[str, ...] = ()) -> None:
        """How reads rebuild the state of the checkpoints in namespaces of
        ``path`` (``ns_path``; () is the top-level graph): called by a graph
        compiled with this saver. The graph compiled last wins a path."""
        if self._folds is None:
            self._folds = {}
        self._folds[path] = fold

    # -- reads ---------------------------------------------------------------

    def get(self, config: Mapping[str, Any]) -> Checkpoint | None:
        """The checkpoint a config names (the thread's newest without a
        ``checkpoint_id``), as LangGraph's dict, or None."""
        found = self.get_tuple(config)
        return found.checkpoint if found is not None else None

    def get_tuple(self, config: Mapping[str, Any]) -> CheckpointTuple | None:
        """The checkpoint a config names, with its config, metadata, parent's
        config and pending writes, or None when there is none."""
        thread_id, ns, checkpoint_id = address(config, "get_tuple(config)")
        record = _saver(self).load(thread_id, ns, checkpoint_id)
        if record is None:
            return None
        child = _saver(self).first_child(thread_id, ns, record.id)
        return _tuple(_saver(self), record, child)

    def list(
        self,
        config: Mapping[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """A thread's checkpoints (every thread's, for config None), newest
        first: in the config's ``checkpoint_ns``, or in every namespace (the
        subgraphs' too) when it names none; the one ``checkpoint_id`` names if
        the config has one; those whose metadata holds every key/value of
        ``filter``; only those older than ``before``'s checkpoint; at most
        ``limit``."""
        ns: str | None = None
        if config is None:
            threads = [info.thread_id for info in _saver(self).list_threads()]
            checkpoint_id = None
        else:
            thread_id, given_ns, checkpoint_id = address(config, "list(config)")
            threads = [thread_id]
            if _names_ns(config):
                ns = given_ns
        below = address(before, "list(before=...)", thread=False)[2] if before is not None else None
        if limit is not None and limit <= 0:
            return iter(())
        return _listed(_saver(self), threads, ns, checkpoint_id, filter, below, limit)

    # -- writes --------------------------------------------------------------

    def put(
        self,
        config: Mapping[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        """Store ``checkpoint`` (its ``channel_values`` as the state) as the
        child of the config's ``checkpoint_id`` (a root without one); returns
        the config of the stored checkpoint. An id that is already stored
        raises StorageError: stored checkpoints never change."""
        thread_id, ns, parent_id = address(config, "put(config, ...)")
        checkpoint_id, values = check_checkpoint(checkpoint)
        meta = stored_metadata(config, metadata or {})
        parent = _saver(self).load(thread_id, ns, parent_id) if parent_id is not None else None
        step = meta.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            step = parent.step + 1 if parent is not None else -1
        source = meta.get("source")
        if not isinstance(source, str):
            source = "update"
        kept = {
            "id": checkpoint_id,
            "v": checkpoint.get("v", LATEST_VERSION),
            "ts": checkpoint.get("ts"),
            "channel_versions": {**(checkpoint.get("channel_versions") or {}), **(new_versions or {})},
            "versions_seen": checkpoint.get("versions_seen") or {},
            "updated_channels": checkpoint.get("updated_channels"),
        }
        record = CheckpointRecord(
            thread_id,
            ns,
            checkpoint_id,
            parent_id,
            step,
            source,
            "",
            {**meta, "source": source, "step": step},
            carry={_KEPT_AS: kept},
        )
        _saver(self).save(record, values, snapshot=True)
        return config_of(thread_id, ns, checkpoint_id)

    def put_writes(
        self,
        config: Mapping[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store what task ``task_id`` wrote (``(channel, value)`` pairs)
        against the config's checkpoint, as pending writes: read back as
        that checkpoint's ``pending_writes``; a run resuming from it keeps
        them and does not run the task again. Writes of the same task to
        other channels are added to what it wrote before."""
        thread_id, ns, checkpoint_id = address(config, "put_writes(config, ...)")
        if checkpoint_id is None:
            raise ConfigError(
                f"put_writes(config, ...) needs the checkpoint the writes belong to: a config "
                f"with 'checkpoint_id' (what put returns), got {config!r}"
            )
        record = _saver(self).load(thread_id, ns, checkpoint_id)
        name = next((t.name for t in record.tasks if t.id == task_id), None) if record else None
        found = _parse_writes(writes, task_id, name or task_path or task_id)
        if found and found[0].kind == "result":
            before = _saver(self).get_pending(thread_id, ns, checkpoint_id)
            earlier = next((w for w in before if w.task_id == task_id and w.kind == "result"), None)
            if earlier is not None:
                write: TaskWrite = found[0].value
                done: TaskWrite = earlier.value
                merged = {**(done.update or {}), **(write.update or {})}
                found[0] = PendingWrite(task_id, "result", TaskWrite(task_id, write.name, merged))
        if found:
            _saver(self).save_pending(thread_id, ns, checkpoint_id, found)

    def get_next_version(self, current: Any, channel: Any = None) -> Any:
        """The version of a channel after ``current`` (None: the first, 1)."""
        return next_version(current)

    @property
    def config_specs(self) -> builtins.list[Any]:
        """The configurable fields a saver takes (none)."""
        return []

    # -- async twins: on the saver's I/O threads (in place for InMemorySaver) --

    async def aget(self, config: Mapping[str, Any]) -> Checkpoint | None:
        """``get``, off the event loop."""
        return await _offload(_saver(self), partial(self.get, config))

    async def aget_tuple(self, config: Mapping[str, Any]) -> CheckpointTuple | None:
        """``get_tuple``, off the event loop."""
        return await _offload(_saver(self), partial(self.get_tuple, config))

    async def alist(
        self,
        config: Mapping[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """``list``, off the event loop: fetched a page at a time."""
        items = await _offload(_saver(self), partial(self.list, config, filter=filter, before=before, limit=limit))
        while True:
            page = await _offload(_saver(self), partial(_take, items, 32))
            for item in page:
                yield item
            if len(page) < 32:
                return

    async def aput(
        self,
        config: Mapping[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        """``put``, off the event loop."""
        return await _offload(_saver(self), partial(self.put, config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: Mapping[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """``put_writes``, off the event loop."""
        await _offload(_saver(self), partial(self.put_writes, config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """``delete_thread``, off the event loop."""
        await _offload(_saver(self), partial(_saver(self).delete_thread, thread_id))


def _saver(interface: CheckpointerInterface) -> Storage:
    """The saver the interface is a part of (only savers inherit it)."""
    return cast(Storage, interface)


def _take(items: Iterator[T], count: int) -> builtins.list[T]:
    page = []
    for item in items:
        page.append(item)
        if len(page) >= count:
            break
    return page


async def _offload(saver: Storage, fn: Callable[[], T]) -> T:
    executor = saver.io_executor()
    if executor is None:
        return fn()
    return await asyncio.get_running_loop().run_in_executor(executor, fn)


def _names_ns(config: Mapping[str, Any]) -> bool:
    """Whether a config names a namespace (LangGraph lists every one otherwise)."""
    configurable = config.get("configurable") or {}
    return (configurable.get("checkpoint_ns", config.get("checkpoint_ns"))) is not None


def _listed(
    saver: Storage,
    threads: Sequence[str],
    ns: str | None,
    checkpoint_id: str | None,
    filter: Mapping[str, Any] | None,
    before: str | None,
    limit: int | None,
) -> Iterator[CheckpointTuple]:
    count = 0
    # A child lists before its parent (ids sort by time): the first children
    # seen give the pending writes of their parents, when nothing was skipped.
    whole = not filter and before is None and checkpoint_id is None
    for thread_id in threads:
        spaces = [ns] if ns is not None else saver.namespaces(thread_id)
        left = None if limit is None else limit - count
        children: dict[tuple[str, str], CheckpointRecord] = {}
        for record in _records(saver, thread_id, spaces, checkpoint_id, filter, before, left):
            if whole:
                child = children.get((record.ns, record.id))
            else:
                child = saver.first_child(thread_id, record.ns, record.id)
            yield _tuple(saver, record, child)
            if record.parent_id is not None:
                children[(record.ns, record.parent_id)] = record
            count += 1
            if limit is not None and count >= limit:
                return


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


def _tuple(
    saver: Storage, record: CheckpointRecord, child: CheckpointRecord | None
) -> CheckpointTuple:
    """``record`` in LangGraph's shape; ``child`` is its first child, whose
    writes (of the step that ran after it) are among its pending writes."""
    thread_id, ns = record.thread_id, record.ns
    chain = saver.get_chain(thread_id, ns, record.id)
    values = _values(saver, record, chain)
    kept = record.carry.get(_KEPT_AS) if isinstance(record.carry, Mapping) else None
    if isinstance(kept, Mapping) and kept.get("id") == record.id:
        checkpoint = Checkpoint(
            v=kept.get("v", LATEST_VERSION),
            id=record.id,
            ts=kept.get("ts") or record.created_at,
            channel_values=values,
            channel_versions=dict(kept.get("channel_versions") or {}),
            versions_seen=dict(kept.get("versions_seen") or {}),
            updated_channels=kept.get("updated_channels"),
        )
    else:
        written = sorted({key for write in record.writes for key in write.update or ()})
        checkpoint = Checkpoint(
            v=LATEST_VERSION,
            id=record.id,
            ts=record.created_at,
            channel_values=values,
            channel_versions=_versions(chain) if chain else {},
            versions_seen={},
            updated_channels=written or None,
        )
    metadata: dict[str, Any] = {"source": record.source, "step": record.step, "parents": {}}
    metadata.update(record.metadata)
    pending: builtins.list[tuple[str, str, Any]] = []
    if child is not None and child.source == "loop":
        for write in child.writes:
            pending.extend(_update_triples(write))
    # A task's error, interrupts and answers before its writes, as LangGraph orders them.
    stored = saver.get_pending(thread_id, ns, record.id)
    for left in sorted(stored, key=lambda w: w.kind in ("result", "update", "input")):
        pending.extend(_triples(left))
    return CheckpointTuple(
        config_of(thread_id, ns, record.id),
        checkpoint,
        metadata,  # type: ignore[arg-type]
        config_of(thread_id, ns, record.parent_id) if record.parent_id is not None else None,
        pending,
    )


def _values(
    saver: Storage, record: CheckpointRecord, chain: Sequence[CheckpointRecord]
) -> dict[str, Any]:
    """The state at ``record``: its snapshot, or its chain folded by the
    fold a graph compiled with the saver gave it."""
    if not chain:
        return {}
    if len(chain) == 1 and chain[0].snapshot is not None:
        return dict(chain[0].snapshot)
    fold = (saver._folds or {}).get(ns_path(record.ns))
    if fold is None:
        from cairn.errors import StorageError

        raise StorageError(
            f"checkpoint {record.id!r} of thread {record.thread_id!r} stores the writes of its "
            "step, and its state is those writes folded through the graph's reducers: compile "
            "the graph with this saver first (builder.compile(checkpointer=saver)), or read the "
            "state with graph.get_state(config)"
        )
    return fold(chain)
