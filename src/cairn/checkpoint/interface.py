"""LangGraph's checkpointer interface, on every cairn saver.

Code written for LangGraph calls a checkpointer directly: ``get(config)``,
``get_tuple(config)``, ``list(config, ...)``, ``put(config, checkpoint,
metadata, new_versions)``, ``put_writes(config, writes, task_id)`` and their
``a``-prefixed twins. ``CheckpointerInterface`` gives every saver those
methods over its own storage contract (``load``, ``save``, ``get_chain``,
``list_checkpoints``, ...), turning cairn's records into LangGraph's shapes
(``cairn.checkpoint.shapes``) and back.

Reads are shaped in ``cairn.checkpoint.tuples``: a state there is a fold of
writes through the graph's reducers, which a graph compiled with the saver
hands it (``fold_with``); a checkpoint stored with a snapshot (every ``put``
of this interface is) reads back without one.
"""

from __future__ import annotations

import asyncio
import builtins
from functools import partial
from typing import Any, AsyncIterator, Callable, Iterator, Mapping, Sequence, TypeVar, cast

from cairn.checkpoint.records import CheckpointRecord, PendingWrite, TaskWrite, interrupt_entry
from cairn.checkpoint.shapes import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    check_checkpoint,
    get_checkpoint_metadata,
    next_version,
)
from cairn.checkpoint.tuples import KEPT_AS, Fold, Storage, config_of, listed, one_tuple
from cairn.errors import ConfigError

__all__ = ["CheckpointerInterface"]

T = TypeVar("T")

_SPECIAL = {"__error__": "error", "__interrupt__": "interrupt", "__resume__": "resume"}
"""LangGraph's special write channels, and the kind of pending write cairn keeps each as."""

def address(config: Any, what: str, *, thread: bool = True) -> tuple[str, str, str | None]:
    """(thread id, namespace, checkpoint id) of a config, as ``read_config``
    accepts it (a bare thread id string too)."""
    if isinstance(config, str) and config:
        return config, "", None
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
            entries = [
                interrupt_entry(getattr(i, "id", ""), getattr(i, "value", i), getattr(i, "response_schema", None))
                for i in items
            ]
            found.append(PendingWrite(task_id, kind, entries))
        else:  # the task's answers, as LangGraph reads them: a list is all of them, else the one
            found.append(PendingWrite(task_id, kind, list(value) if isinstance(value, builtins.list) else [value]))
    if update:
        found.insert(0, PendingWrite(task_id, "result", TaskWrite(task_id, name, update)))
    return found


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
        return one_tuple(_saver(self), record)

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
            if isinstance(config, Mapping) and _names_ns(config):
                ns = given_ns
        below = address(before, "list(before=...)", thread=False)[2] if before is not None else None
        if limit is not None and limit <= 0:
            return iter(())
        return listed(_saver(self), threads, ns, checkpoint_id, filter, below, limit)

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
        meta = get_checkpoint_metadata(config if isinstance(config, Mapping) else {}, metadata or {})
        parent = _saver(self).load(thread_id, ns, parent_id) if parent_id is not None else None
        step = meta.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            step = parent.step + 1 if parent is not None else -1
        source = meta.get("source")
        if not isinstance(source, str):
            source = "update"
        # What cairn's record has no place for is kept beside it, to be read
        # back as given: the checkpoint dict but its values, and the metadata.
        given = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        versions = {**(checkpoint.get("channel_versions") or {}), **(new_versions or {})}
        kept = {"checkpoint": {**given, "channel_versions": versions}, "metadata": meta}
        record = CheckpointRecord(
            thread_id,
            ns,
            checkpoint_id,
            parent_id,
            step,
            source,
            "",
            {**meta, "source": source, "step": step},
            carry={KEPT_AS: kept},
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
        them and does not run the task again, when ``task_id`` is one of the
        tasks due there. Writes of the same task to other channels are added
        to what it wrote before."""
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

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """``delete_for_runs``, off the event loop."""
        await _offload(_saver(self), partial(_saver(self).delete_for_runs, run_ids))


def _names_ns(config: Mapping[str, Any]) -> bool:
    """Whether a config names a namespace (LangGraph lists every one otherwise)."""
    configurable = config.get("configurable") or {}
    return configurable.get("checkpoint_ns", config.get("checkpoint_ns")) is not None


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


