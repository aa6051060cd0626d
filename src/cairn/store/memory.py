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
from typing import Any, Iterable

from cairn.store import ttl as _ttl
from cairn.store import results, vectors
from cairn.store.base import (
    BaseStore,
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
        self._lock = threading.RLock()

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
        old = self._live(ns, key, now)
        stamp = datetime.fromtimestamp(now, _UTC)
        item = Item(
            value=dict(op.value),
            key=key,
            namespace=ns,
            created_at=old.item.created_at if old is not None else stamp,
            updated_at=stamp,
        )
        entry = _Entry(item, next(self._seq), op.ttl, _ttl.expiry(now, op.ttl))
        if found:
            entry.vectors = [vectors.unpack(vectors.pack(v)) for _, v in found]
        items = self._data.get(ns)
        if items is None:
            items = self._data[ns] = {}
        items[key] = entry

    def _drop(self, ns: tuple[str, ...], key: str) -> None:
        items = self._data.get(ns)
        if items is not None and items.pop(key, None) is not None and not items:
            del self._data[ns]

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
