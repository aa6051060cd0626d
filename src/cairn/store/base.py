"""The Store contract: long-term memory shared across threads (LangGraph's
``langgraph.store.base``).

A store holds JSON-like dicts under a ``namespace`` (a tuple of labels, such
as ``("users", "u1", "memories")``) and a ``key``. Every store implements two
methods, ``batch(ops)`` and ``abatch(ops)``, over four kinds of operation
(``GetOp``, ``PutOp``, ``SearchOp``, ``ListNamespacesOp``); ``get``, ``put``,
``delete``, ``search``, ``list_namespaces`` and their ``a``-twins are one
operation each.

    store.put(("users", "u1"), "prefs", {"food": "pizza"})
    store.get(("users", "u1"), "prefs").value          # {"food": "pizza"}
    store.search(("users",), filter={"food": "pizza"})  # [SearchItem(...)]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import abc
from datetime import datetime
from typing import (
    Any,
    Awaitable,
    Callable,
    Iterable,
    Literal,
    Mapping,
    NamedTuple,
    Sequence,
    TypedDict,
    Union,
)

from cairn.store import checks

__all__ = [
    "NOT_GIVEN",
    "BaseStore",
    "GetOp",
    "IndexConfig",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
]


class NotProvided:
    """The type of ``NOT_GIVEN``: ``put(..., ttl=NOT_GIVEN)`` takes the store's default TTL."""

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotProvided()


class Item:
    """A stored value with its address and times (``created_at`` and
    ``updated_at`` are timezone-aware UTC datetimes; ISO-8601 strings are
    read into them). Items are equal when their address, value and times
    are (a SearchItem's score aside), as LangGraph's."""

    __slots__ = ("value", "key", "namespace", "created_at", "updated_at")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime,
        updated_at: datetime,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = datetime.fromisoformat(created_at) if type(created_at) is str else created_at
        self.updated_at = datetime.fromisoformat(updated_at) if type(updated_at) is str else updated_at

    def dict(self) -> dict[str, Any]:
        """The item as plain data (times as ISO-8601 strings), as LangGraph's."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def _fields(self) -> tuple[Any, ...]:
        return (self.namespace, self.key, self.value, self.created_at, self.updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return Item._fields(self) == Item._fields(other)

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(namespace={self.namespace!r}, key={self.key!r}, "
            f"value={self.value!r}, created_at={self.created_at!r}, updated_at={self.updated_at!r})"
        )


class SearchItem(Item):
    """An item found by ``search``, with its similarity ``score`` to the query
    (None when the search had no query, or the item has no vector)."""

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        score: float | None = None,
    ) -> None:
        super().__init__(
            value=value, key=key, namespace=namespace, created_at=created_at, updated_at=updated_at
        )
        self.score = score

    def dict(self) -> dict[str, Any]:
        return {**super().dict(), "score": self.score}

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", score={self.score!r})"


class GetOp(NamedTuple):
    """Read one item."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Find items under a namespace prefix, by ``filter`` on their values and,
    with ``query``, by similarity of meaning (on a store with an index)."""

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True


NamespacePath = tuple[str, ...]
"""A namespace pattern for ``list_namespaces``; ``"*"`` matches any one label."""


class MatchCondition(NamedTuple):
    """Namespaces whose first (``"prefix"``) or last (``"suffix"``) labels are ``path``."""

    match_type: Literal["prefix", "suffix"]
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List the namespaces that hold items, matching all ``match_conditions``,
    cut to ``max_depth`` labels, sorted."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Store (or, with ``value=None``, delete) one item. ``index``: None indexes
    the store's configured fields, False none, a list those paths. ``ttl``:
    minutes until the item expires (None: never)."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]  # as LangGraph names it
    ttl: float | None = None


Op = Union[GetOp, SearchOp, PutOp, ListNamespacesOp]
Result = Union[Item, list[Item], list[SearchItem], list[tuple[str, ...]], None]


EmbeddingsFunc = Callable[[Sequence[str]], list[list[float]]]
AEmbeddingsFunc = Callable[[Sequence[str]], Awaitable[list[list[float]]]]


class IndexConfig(TypedDict, total=False):
    """How a store embeds items for ``search(query=...)``.

    ``dims``: the vectors' length. ``embed``: a LangChain ``Embeddings`` object
    (``embed_documents``/``embed_query``), or a function from a list of texts
    to their vectors (sync or async). ``fields``: the paths of the value to
    embed, dotted (``"profile.bio"``), with ``[*]`` for every element of a list
    and ``[0]``/``[-1]`` for one; default ``["$"]``, the whole value.
    """

    dims: int
    embed: Any
    fields: list[str] | None


class TTLConfig(TypedDict, total=False):
    """Expiry of items. ``default_ttl``: minutes an item lives when ``put`` gives
    no ``ttl`` (None: forever). ``refresh_on_read``: whether reads push an
    item's expiry back by its TTL (default True). ``sweep_interval_minutes``:
    how often ``start_ttl_sweeper()`` deletes expired items. Expired items are
    never returned, swept or not."""

    refresh_on_read: bool
    default_ttl: float | None
    sweep_interval_minutes: int | None


class BaseStore(ABC):
    """What every store does: ``batch`` and ``abatch`` run operations in order
    and return one result each; the other methods are made of them."""

    supports_ttl: bool = True
    ttl_config: TTLConfig | None = None
    index_config: IndexConfig | None = None

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; one result each (None for a put)."""

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` for async code; never blocks the event loop."""

    # -- one operation each --------------------------------------------------------

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item at ``namespace``/``key``, or None."""
        result: Any = self.batch([self._get_op(namespace, key, refresh_ttl)])[0]
        return result  # type: ignore[no-any-return]

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items whose namespace starts with ``namespace_prefix`` (label by label:
        ``("a",)`` never matches ``("ab",)``), that match ``filter`` (equality,
        or ``$eq $ne $gt $gte $lt $lte`` on a top-level field), the ``limit``
        best after ``offset``: most similar to ``query`` first when given (and
        the store has an index), else most recently updated first."""
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl)
        result: Any = self.batch([op])[0]
        return result  # type: ignore[no-any-return]

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None | NotProvided = NOT_GIVEN,
    ) -> None:
        """Store ``value`` (a dict) at ``namespace``/``key``, replacing what was there."""
        self.batch([self._put_op(namespace, key, value, index, ttl)])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Remove the item at ``namespace``/``key`` (nothing if there is none)."""
        self.batch([self._delete_op(namespace, key)])

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """The namespaces that hold items, sorted; ``prefix``/``suffix`` keep those
        that start/end with those labels (``"*"`` matches any one), ``max_depth``
        cuts them to that many labels (merging the ones that become equal)."""
        result: Any = self.batch([_list_op(prefix, suffix, max_depth, limit, offset)])[0]
        return result  # type: ignore[no-any-return]

    async def aget(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """``get`` for async code."""
        result: Any = (await self.abatch([self._get_op(namespace, key, refresh_ttl)]))[0]
        return result  # type: ignore[no-any-return]

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """``search`` for async code."""
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl)
        result: Any = (await self.abatch([op]))[0]
        return result  # type: ignore[no-any-return]

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | None | NotProvided = NOT_GIVEN,
    ) -> None:
        """``put`` for async code."""
        await self.abatch([self._put_op(namespace, key, value, index, ttl)])

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """``delete`` for async code."""
        await self.abatch([self._delete_op(namespace, key)])

    async def alist_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """``list_namespaces`` for async code."""
        op = _list_op(prefix, suffix, max_depth, limit, offset)
        result: Any = (await self.abatch([op]))[0]
        return result  # type: ignore[no-any-return]

    # -- making the operations ----------------------------------------------------

    def _refreshes(self, refresh_ttl: bool | None) -> bool:
        if refresh_ttl is not None:
            return refresh_ttl
        config = self.ttl_config
        return True if config is None else config.get("refresh_on_read", True)

    def _get_op(self, namespace: tuple[str, ...], key: str, refresh_ttl: bool | None) -> GetOp:
        return GetOp(namespace, key, self._refreshes(refresh_ttl))

    def _search_op(
        self,
        namespace_prefix: tuple[str, ...],
        query: str | None,
        filter: dict[str, Any] | None,
        limit: int,
        offset: int,
        refresh_ttl: bool | None,
    ) -> SearchOp:
        return SearchOp(namespace_prefix, filter, limit, offset, query, self._refreshes(refresh_ttl))

    def _put_op(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None,
        ttl: float | None | NotProvided,
    ) -> PutOp:
        if type(value) is not dict and not isinstance(value, abc.Mapping):
            checks.value(namespace, key, value)  # raises, naming it
        if isinstance(ttl, NotProvided):
            ttl = None if self.ttl_config is None else self.ttl_config.get("default_ttl")
        return PutOp(namespace, key, value, index, ttl)  # type: ignore[arg-type]

    def _delete_op(self, namespace: tuple[str, ...], key: str) -> PutOp:
        return PutOp(namespace, key, None)


def _list_op(
    prefix: NamespacePath | None,
    suffix: NamespacePath | None,
    max_depth: int | None,
    limit: int,
    offset: int,
) -> ListNamespacesOp:
    conditions = []
    if prefix:
        conditions.append(MatchCondition("prefix", tuple(prefix)))
    if suffix:
        conditions.append(MatchCondition("suffix", tuple(suffix)))
    return ListNamespacesOp(tuple(conditions) or None, max_depth, limit, offset)
