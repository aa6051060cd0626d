"""``InMemoryStore``: a store in the process's memory, for tests and scripts.

    store = InMemoryStore()
    store = InMemoryStore(index={"dims": 1536, "embed": embeddings, "fields": ["text"]})

Values are kept as given (a shallow copy of the dict), not serialized.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Literal, Mapping

from cairn.store import ttl as _ttl
from cairn.store import results, vectors
from cairn.store.base import (
    NOT_GIVEN,
    BaseStore,
    NotProvided,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from cairn.store.plan import Plan, namespace_page
from cairn.store.prepare import Index

__all__ = ["InMemoryStore"]

_UTC = timezone.utc


class _Entry:
    __slots__ = ("item", "seq", "ttl", "expires", "vectors")

    def __init__(self, item: Item, seq: int, ttl: float | None, expires: float | None) -> None:
        self.item = item
        self.seq = seq
        self.ttl = ttl
        self.expires = expires
        self.vectors: list[Any] = []


class InMemoryStore(_ttl.Sweeping, BaseStore):
    """A store in a dict: ``{namespace: {key: item}}``; safe to share between threads."""

    def __init__(self, *, index: IndexConfig | None = None, ttl: TTLConfig | None = None) -> None:
        _ttl.check_config(ttl)
        self.index_config = index
        self.ttl_config = ttl
        self._index = Index(index) if index is not None else None
        self._data: dict[tuple[str, ...], dict[str, _Entry]] = {}
        self._seq = itertools.count()
        self._known: set[tuple[str, ...]] = set()
        """Namespaces checked and holding items: get and put skip checking them again."""
        self._default_ttl = (ttl or {}).get("default_ttl")
        self._lock = threading.RLock()

    # -- the common calls, without building a batch ---------------------------------

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        if type(namespace) is not tuple or type(key) is not str or namespace not in self._known:
            return super().get(namespace, key, refresh_ttl=refresh_ttl)  # checked, then run
        items = self._data.get(namespace)
        entry = items.get(key) if items is not None else None
        if entry is None:
            return None
        if entry.expires is not None:
            with self._lock:
                return self._get(GetOp(namespace, key, self._refreshes(refresh_ttl)), time.time())
        return entry.item

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None | NotProvided = NOT_GIVEN,
    ) -> None:
        if (
            self._index is not None
            or type(namespace) is not tuple
            or type(key) is not str
            or type(value) is not dict
            or namespace not in self._known
            or (index is not None and index is not False)
            or (ttl is not None and (ttl is not NOT_GIVEN or self._default_ttl is not None))
        ):
            return super().put(namespace, key, value, index, ttl=ttl)  # checked, then run
        with self._lock:
            self._store(namespace, key, value, None, None, time.time())

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        plan = Plan(ops, self._index)
        if plan.embeds:
            plan.embed(self._index)  # type: ignore[arg-type]
        return self._run(plan)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        plan = Plan(ops, self._index)
        if plan.embeds:
            await plan.aembed(self._index)  # type: ignore[arg-type]
        return self._run(plan)

    # -- running -------------------------------------------------------------------

    def _run(self, plan: Plan) -> list[Result]:
        found: list[Result] = []
        now = time.time()
        with self._lock:
            for n, op in enumerate(plan.ops):
                kind = type(op)
                if kind is GetOp:
                    found.append(self._get(op, now))
                elif kind is PutOp:
                    self._put(op, plan.vectors.get(n), now)
                    found.append(None)
                elif kind is SearchOp:
                    found.append(self._search(op, plan.queries.get(n), now))
                else:
                    found.append(self._list(op, now))
        return found

    def _live(self, ns: tuple[str, ...], key: str, now: float) -> _Entry | None:
        items = self._data.get(ns)
        entry = items.get(key) if items is not None else None
        if entry is not None and entry.expires is not None and entry.expires <= now:
            self._drop(ns, key)
            return None
        return entry

    def _get(self, op: GetOp, now: float) -> Item | None:
        entry = self._live(op.namespace, op.key, now)
        if entry is None:
            return None
        if op.refresh_ttl and entry.ttl is not None:
            entry.expires = _ttl.expiry(now, entry.ttl)
        return entry.item

    def _put(self, op: PutOp, found: list[tuple[str, list[float]]] | None, now: float) -> None:
        ns, key = op.namespace, op.key
        if op.value is None:
            self._drop(ns, key)
            return
        self._store(ns, key, op.value, op.ttl, found, now)

    def _store(
        self,
        ns: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        ttl: float | None,
        found: list[tuple[str, list[float]]] | None,
        now: float,
    ) -> None:
        """Keep a checked item (the caller holds the lock)."""
        items = self._data.get(ns)
        if items is None:
            items = self._data[ns] = {}
            self._known.add(ns)
        old = items.get(key)
        stamp = datetime.fromtimestamp(now, _UTC)
        created = stamp if old is None or (old.expires is not None and old.expires <= now) else old.item.created_at
        item = Item(value=dict(value), key=key, namespace=ns, created_at=created, updated_at=stamp)
        entry = _Entry(item, next(self._seq), ttl, None if ttl is None else now + ttl * 60.0)
        if found:
            entry.vectors = [vectors.pack(v) for _, v in found]
        items[key] = entry

    def _drop(self, ns: tuple[str, ...], key: str) -> None:
        items = self._data.get(ns)
        if items is not None and items.pop(key, None) is not None and not items:
            del self._data[ns]
            self._known.discard(ns)

    def _search(self, op: SearchOp, query: list[float] | None, now: float) -> list[SearchItem]:
        prefix = op.namespace_prefix
        depth = len(prefix)
        conditions = op.filter
        kept: list[_Entry] = []
        expired: list[tuple[tuple[str, ...], str]] = []
        for ns, items in self._data.items():
            if ns[:depth] != prefix:
                continue
            for key, entry in items.items():
                if entry.expires is not None and entry.expires <= now:
                    expired.append((ns, key))
                elif not conditions or results.matches(entry.item.value, conditions):
                    kept.append(entry)
        for ns, key in expired:
            self._drop(ns, key)
        if query is not None:
            ranked = results.rank([(e, e.vectors) for e in kept], query, op.offset, op.limit)
        else:
            newest = heapq.nlargest(op.offset + op.limit, kept, key=lambda e: e.seq)
            ranked = [(e, None) for e in newest[op.offset :]]
        if op.refresh_ttl:
            for entry, _ in ranked:
                if entry.ttl is not None:
                    entry.expires = _ttl.expiry(now, entry.ttl)
        return [_found(entry.item, score) for entry, score in ranked]

    def _list(self, op: ListNamespacesOp, now: float) -> list[tuple[str, ...]]:
        live = [
            ns
            for ns, items in self._data.items()
            if any(e.expires is None or e.expires > now for e in items.values())
        ]
        return namespace_page(live, op)

    def sweep_ttl(self) -> int:
        """Delete expired items now; how many."""
        now = time.time()
        with self._lock:
            gone = [
                (ns, key)
                for ns, items in self._data.items()
                for key, entry in items.items()
                if entry.expires is not None and entry.expires <= now
            ]
            for ns, key in gone:
                self._drop(ns, key)
        return len(gone)


def _found(item: Item, score: float | None) -> SearchItem:
    return SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score)
