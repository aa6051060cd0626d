"""A batch of store operations, checked and ready to run: the texts its puts
index and the queries its searches embed, embedded in one call each (sync or
async), before the store touches its data."""

from __future__ import annotations

from typing import Any, Iterable

from cairn.errors import StoreInputError
from cairn.store import checks
from cairn.store.base import GetOp, ListNamespacesOp, Op, PutOp, SearchOp
from cairn.store.prepare import Index


class Plan:
    """``ops`` checked; ``vectors[i]``: the (field, vector) pairs of put ``i``
    (None: the put indexes nothing, and drops the item's old vectors);
    ``queries[i]``: the query vector of search ``i``."""

    __slots__ = ("ops", "texts", "query_texts", "vectors", "queries")

    def __init__(self, ops: Iterable[Op], index: Index | None) -> None:
        self.ops: list[Any] = list(ops)
        self.texts: dict[int, list[tuple[str, str]]] = {}
        self.query_texts: dict[int, str] = {}
        self.vectors: dict[int, list[tuple[str, list[float]]]] = {}
        self.queries: dict[int, list[float]] = {}
        for n, op in enumerate(self.ops):
            kind = type(op)
            if kind is not ListNamespacesOp and type(op[0]) is not tuple and isinstance(op[0], list):
                op = self.ops[n] = op._replace(**{op._fields[0]: tuple(op[0])})  # type: ignore[union-attr]
            if kind is GetOp:
                checks.namespace(op.namespace)
                checks.key(op.namespace, op.key)
            elif kind is PutOp:
                _check_put(op)  # type: ignore[arg-type]
                if index is not None and op.value is not None:
                    found = index.texts(op.value, op.index)  # type: ignore[attr-defined]
                    if found:
                        self.texts[n] = found
            elif kind is SearchOp:
                _check_search(op)  # type: ignore[arg-type]
                if index is not None and op.query:  # type: ignore[attr-defined]
                    self.query_texts[n] = op.query  # type: ignore[attr-defined]
            elif kind is ListNamespacesOp:
                _check_list(op)  # type: ignore[arg-type]
            else:
                raise StoreInputError(
                    f"a store runs GetOp, PutOp, SearchOp and ListNamespacesOp; got {op!r}"
                )

    @property
    def embeds(self) -> bool:
        return bool(self.texts or self.query_texts)

    def embed(self, index: Index) -> None:
        """Embed the puts' texts and the searches' queries (blocking)."""
        texts = [text for found in self.texts.values() for _, text in found]
        if texts:
            self._place(index, index.embedder.documents(texts), len(texts))
        for n, query in self.query_texts.items():
            self.queries[n] = index.embedder.query(query)

    async def aembed(self, index: Index) -> None:
        """``embed`` for async code."""
        texts = [text for found in self.texts.values() for _, text in found]
        if texts:
            self._place(index, await index.embedder.adocuments(texts), len(texts))
        for n, query in self.query_texts.items():
            self.queries[n] = await index.embedder.aquery(query)

    def _place(self, index: Index, vectors: list[list[float]], count: int) -> None:
        index.check(vectors, count)
        at = 0
        for n, found in self.texts.items():
            self.vectors[n] = [(field, vectors[at + i]) for i, (field, _) in enumerate(found)]
            at += len(found)


def _check_put(op: PutOp) -> None:
    checks.namespace(op.namespace)
    checks.key(op.namespace, op.key)
    if op.value is not None:
        checks.value(op.namespace, op.key, op.value)
        checks.ttl(op.namespace, op.key, op.ttl)
    if op.index is not None and op.index is not False and not isinstance(op.index, list):
        raise StoreInputError(
            f"index={op.index!r} for {op.namespace!r}/{op.key!r}: give None (the store's "
            "fields), False (not indexed) or a list of field paths"
        )


def _check_search(op: SearchOp) -> None:
    checks.namespace(op.namespace_prefix, what="namespace prefix", empty=True)
    checks.filter_(op.filter)
    checks.page(op.limit, op.offset, f"search({op.namespace_prefix!r})")
    if op.query is not None and not isinstance(op.query, str):
        raise StoreInputError(f"search query={op.query!r} must be a string (or None)")


def _check_list(op: ListNamespacesOp) -> None:
    for condition in op.match_conditions or ():
        if condition.match_type not in ("prefix", "suffix"):
            raise StoreInputError(
                f"list_namespaces match type {condition.match_type!r}: use 'prefix' or 'suffix'"
            )
        checks.pattern(condition.path, condition.match_type)
    if op.max_depth is not None and (
        isinstance(op.max_depth, bool) or not isinstance(op.max_depth, int) or op.max_depth < 1
    ):
        raise StoreInputError(f"list_namespaces max_depth={op.max_depth!r} must be an int >= 1")
    checks.page(op.limit, op.offset, "list_namespaces")


def matches_namespace(ns: tuple[str, ...], op: ListNamespacesOp) -> bool:
    """Whether ``ns`` passes every match condition of ``op`` ("*" matches any label)."""
    for condition in op.match_conditions or ():
        path = condition.path
        if len(ns) < len(path):
            return False
        part = ns[: len(path)] if condition.match_type == "prefix" else ns[len(ns) - len(path) :]
        if any(p != "*" and p != label for p, label in zip(path, part)):
            return False
    return True


def namespace_page(found: Iterable[tuple[str, ...]], op: ListNamespacesOp) -> list[tuple[str, ...]]:
    """The sorted page of list_namespaces from the namespaces that hold items."""
    kept = {ns if op.max_depth is None else ns[: op.max_depth] for ns in found if matches_namespace(ns, op)}
    return sorted(kept)[op.offset : op.offset + op.limit]
