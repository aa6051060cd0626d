"""What the SQLite and PostgreSQL stores share: the tables, the statements,
and running a batch of operations over a cursor. Each backend supplies its
connection, its placeholders and how it reads JSON.

A namespace is stored as its labels joined by ``"."``, with a ``"."`` after
the last: ``("tenant", "acme")`` is ``"tenant.acme."``. Labels never hold
``"."``, so the namespaces under a prefix are exactly the texts from
``"tenant.acme."`` up to (not including) ``"tenant.acme/"`` (``"/"`` follows
``"."``), compared byte by byte: ``("tenant", "acme-corp")`` is outside, and
``_`` or ``%`` in a label or key are only themselves (no LIKE anywhere).

    cairn_store_meta     key, value              (schema_version)
    cairn_store_items    ns, key, value (JSON), created_at, updated_at,
                         ttl_minutes, expires_at (seconds since the epoch)
    cairn_store_vectors  ns, key, field, vector  (float32, normalised)
"""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol, Sequence

from cairn.errors import StorageError, StoreInputError
from cairn.store import results, vectors
from cairn.store.aio import Offloaded
from cairn.store import ttl as _ttl
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

SCHEMA_VERSION = 1
TABLES = ("cairn_store_meta", "cairn_store_items", "cairn_store_vectors")

_UTC = timezone.utc
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_ROW = "ns, key, value, created_at, updated_at, ttl_minutes"
_ROW_NO_VALUE = "ns, key, NULL, created_at, updated_at, ttl_minutes"


def encode(ns: Sequence[str]) -> str:
    """A namespace as stored."""
    return ".".join(ns) + "."


def decode(text: str) -> tuple[str, ...]:
    return tuple(text[:-1].split("."))


def prefix_range(prefix: Sequence[str]) -> tuple[str, str]:
    """The stored namespaces ``[low, high)`` that start with ``prefix``."""
    low = encode(prefix)
    return low, low[:-1] + "/"


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, _UTC)


class Cursor(Protocol):
    """What the shared code needs of a driver's cursor ("?" placeholders)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlStore(Offloaded, _ttl.Sweeping, BaseStore):
    """A store in SQL tables; subclasses give the connection and the dialect."""

    location = "the store"
    value_param = "?"
    """The placeholder of a JSON value as text."""
    one_statement_put = False
    """Whether ``_put_row`` and ``_delete_row`` are one statement each (a lone
    put then runs outside a transaction: one round trip)."""

    def __init__(self, index: IndexConfig | None, ttl: TTLConfig | None) -> None:
        _ttl.check_config(ttl)
        self.index_config = index
        self.ttl_config = ttl
        self._index = Index(index) if index is not None else None
        v = self.value_param
        self._upsert = (
            "INSERT INTO cairn_store_items (ns, key, value, created_at, updated_at, ttl_minutes,"
            f" expires_at) VALUES (?, ?, {v}, ?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET"
            " value = excluded.value, created_at = CASE WHEN cairn_store_items.expires_at"
            " <= excluded.updated_at THEN excluded.created_at ELSE cairn_store_items.created_at END,"
            " updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes,"
            " expires_at = excluded.expires_at"
        )

    def setup(self) -> None:
        """Create the store's tables, or check them (done when the store is made,
        or at first use for the ``Async*`` stores); idempotent."""
        self._ensure_open()

    # -- what a backend supplies ----------------------------------------------------

    @abstractmethod
    def _write(self) -> AbstractContextManager[Cursor]:
        """A cursor in a write transaction, committed on exit."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads."""

    @abstractmethod
    def _loads(self, raw: Any) -> dict[str, Any]:
        """A value column as a dict."""

    @abstractmethod
    def _condition(self, field: str, op: str, operand: Any) -> tuple[str, list[Any]] | None:
        """SQL keeping the rows whose value passes ``field op operand`` exactly as
        ``results.matches`` does, or None when it is checked in Python."""

    def _put_row(self, cur: Cursor, ns: str, key: str, row: Sequence[Any], indexed: bool) -> None:
        """Store the item ``row`` (its old vectors gone; ``indexed``: new ones follow)."""
        cur.execute("DELETE FROM cairn_store_vectors WHERE ns = ? AND key = ?", (ns, key))
        cur.execute(self._upsert, row)

    def _delete_row(self, cur: Cursor, ns: str, key: str) -> None:
        cur.execute("DELETE FROM cairn_store_vectors WHERE ns = ? AND key = ?", (ns, key))
        cur.execute("DELETE FROM cairn_store_items WHERE ns = ? AND key = ?", (ns, key))

    def _blob(self, data: bytes) -> Any:
        return data

    # -- batches --------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        plan = Plan(ops, self._index)
        if plan.embeds:
            plan.embed(self._index)  # type: ignore[arg-type]
        return self._run(plan)

    def _run(self, plan: Plan) -> list[Result]:
        now = time.time()
        refresh: list[tuple[str, str]] = []
        if self.one_statement_put and len(plan.ops) == 1 and type(plan.ops[0]) is PutOp and not plan.vectors:
            with self._read() as cur:  # one statement: atomic without a transaction
                return self._ops(cur, plan, now, refresh)
        if any(type(op) is PutOp for op in plan.ops):
            with self._write() as cur:
                found = self._ops(cur, plan, now, refresh)
                self._refresh(cur, refresh, now)
            return found
        with self._read() as cur:
            found = self._ops(cur, plan, now, refresh)
        if refresh:
            with self._write() as cur:
                self._refresh(cur, refresh, now)
        return found

    def _ops(self, cur: Cursor, plan: Plan, now: float, refresh: list[tuple[str, str]]) -> list[Result]:
        found: list[Result] = []
        for n, op in enumerate(plan.ops):
            kind = type(op)
            if kind is GetOp:
                found.append(self._get(cur, op, now, refresh))
            elif kind is PutOp:
                self._put(cur, op, plan.vectors.get(n), now)
                found.append(None)
            elif kind is SearchOp:
                found.append(self._search(cur, op, plan.queries.get(n), now, refresh))
            else:
                found.append(self._list(cur, op, now))
        return found

    def _refresh(self, cur: Cursor, refresh: list[tuple[str, str]], now: float) -> None:
        if refresh:
            cur.executemany(
                "UPDATE cairn_store_items SET expires_at = ? + ttl_minutes * 60 "
                "WHERE ns = ? AND key = ? AND ttl_minutes IS NOT NULL",
                [(now, ns, key) for ns, key in refresh],
            )

    def _get(self, cur: Cursor, op: GetOp, now: float, refresh: list[tuple[str, str]]) -> Item | None:
        ns = encode(op.namespace)
        cur.execute(
            "SELECT value, created_at, updated_at, ttl_minutes FROM cairn_store_items "
            f"WHERE ns = ? AND key = ? AND {_LIVE}",
            (ns, op.key, now),
        )
        row = cur.fetchone()
        if row is None:
            return None
        if op.refresh_ttl and row[3] is not None:
            refresh.append((ns, op.key))
        return Item(
            value=self._loads(row[0]),
            key=op.key,
            namespace=op.namespace,
            created_at=moment(row[1]),
            updated_at=moment(row[2]),
        )

    def _put(
        self, cur: Cursor, op: PutOp, found: list[tuple[str, list[float]]] | None, now: float
    ) -> None:
        ns = encode(op.namespace)
        if op.value is None:
            self._delete_row(cur, ns, op.key)
            return
        try:
            text = json.dumps(op.value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise StoreInputError(
                f"the value put at {op.namespace!r}/{op.key!r} cannot be stored as JSON ({exc}); "
                "store plain data: dicts, lists, strings, numbers, booleans and None"
            ) from exc
        expires = _ttl.expiry(now, op.ttl)
        self._put_row(cur, ns, op.key, (ns, op.key, text, now, now, op.ttl, expires), bool(found))
        if found:
            cur.executemany(
                "INSERT INTO cairn_store_vectors (ns, key, field, vector) VALUES (?, ?, ?, ?)",
                [(ns, op.key, field, self._blob(vectors.pack(vector))) for field, vector in found],
            )

    def _search(
        self,
        cur: Cursor,
        op: SearchOp,
        query: list[float] | None,
        now: float,
        refresh: list[tuple[str, str]],
    ) -> list[SearchItem]:
        where, params, rest = self._where(op, now)
        # A similarity search reads the values of the page it returns only.
        deferred = query is not None and not rest
        sql = (
            f"SELECT {_ROW_NO_VALUE if deferred else _ROW} FROM cairn_store_items "
            f"WHERE {' AND '.join(where)} ORDER BY updated_at DESC, ns, key"
        )
        paged = query is None and not rest
        if paged:
            sql += " LIMIT ? OFFSET ?"
            params += [op.limit, op.offset]
        cur.execute(sql, params)
        rows = cur.fetchall()
        values: dict[tuple[str, str], dict[str, Any]] = {}
        if rest:
            rows = [row for row in rows if self._kept(row, rest, values)]
        if query is not None:
            stored = self._vectors(cur, op.namespace_prefix)
            ranked = results.rank(
                [(row, stored.get((row[0], row[1]), [])) for row in rows], query, op.offset, op.limit
            )
            if deferred:
                values = self._values(cur, [row for row, _ in ranked])
                ranked = [(row, score) for row, score in ranked if (row[0], row[1]) in values]
        else:
            ranked = [(row, None) for row in (rows if paged else rows[op.offset : op.offset + op.limit])]
        if op.refresh_ttl:
            refresh.extend((row[0], row[1]) for row, _ in ranked if row[5] is not None)
        return [
            SearchItem(
                decode(row[0]),
                row[1],
                values[(row[0], row[1])] if values else self._loads(row[2]),
                moment(row[3]),
                moment(row[4]),
                score,
            )
            for row, score in ranked
        ]

    def _where(self, op: SearchOp, now: float) -> tuple[list[str], list[Any], dict[str, Any]]:
        """The conditions of a search in SQL, and the filter fields left to Python."""
        where: list[str] = [_LIVE]
        params: list[Any] = [now]
        if op.namespace_prefix:
            low, high = prefix_range(op.namespace_prefix)
            where.append("ns >= ? AND ns < ?")
            params += [low, high]
        rest: dict[str, Any] = {}
        for field, wanted in (op.filter or {}).items():
            pushed = self._pushed(field, wanted)
            if pushed is None:
                rest[field] = wanted
            else:
                where.append(pushed[0])
                params += pushed[1]
        return where, params, rest

    def _kept(self, row: Any, rest: dict[str, Any], values: dict[tuple[str, str], dict[str, Any]]) -> bool:
        """Whether ``row`` passes the filter fields left to Python (its value kept if so)."""
        value = self._loads(row[2])
        if results.matches(value, rest):
            values[(row[0], row[1])] = value
            return True
        return False

    def _values(self, cur: Cursor, rows: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """The values of ``rows`` (an item deleted since is missing)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for at in range(0, len(rows), 200):
            chunk = rows[at : at + 200]
            cur.execute(
                "SELECT ns, key, value FROM cairn_store_items WHERE "
                + " OR ".join(["(ns = ? AND key = ?)"] * len(chunk)),
                [part for row in chunk for part in (row[0], row[1])],
            )
            for ns, key, value in cur.fetchall():
                found[(ns, key)] = self._loads(value)
        return found

    def _pushed(self, field: str, wanted: Any) -> tuple[str, list[Any]] | None:
        """SQL for one filter field, when every part of it can be said in SQL."""
        if isinstance(wanted, dict) and wanted and all(
            isinstance(k, str) and k.startswith("$") for k in wanted
        ):
            parts = [self._condition(field, op, operand) for op, operand in wanted.items()]
        else:
            parts = [self._condition(field, "$eq", wanted)]
        if any(part is None for part in parts):
            return None
        return (
            " AND ".join(part[0] for part in parts if part),
            [p for part in parts if part for p in part[1]],
        )

    def _vectors(self, cur: Cursor, prefix: tuple[str, ...]) -> dict[tuple[str, str], list[Any]]:
        if prefix:
            cur.execute(
                "SELECT ns, key, vector FROM cairn_store_vectors WHERE ns >= ? AND ns < ?",
                prefix_range(prefix),
            )
        else:
            cur.execute("SELECT ns, key, vector FROM cairn_store_vectors")
        found: dict[tuple[str, str], list[Any]] = {}
        for ns, key, blob in cur.fetchall():
            found.setdefault((ns, key), []).append(blob if type(blob) is bytes else bytes(blob))
        return found

    def _list(self, cur: Cursor, op: ListNamespacesOp, now: float) -> list[tuple[str, ...]]:
        where: list[str] = [_LIVE]
        params: list[Any] = [now]
        for condition in op.match_conditions or ():
            if condition.match_type == "prefix" and condition.path and "*" not in condition.path:
                low, high = prefix_range(condition.path)
                where.append("ns >= ? AND ns < ?")
                params += [low, high]
                break
        cur.execute(f"SELECT DISTINCT ns FROM cairn_store_items WHERE {' AND '.join(where)}", params)
        return namespace_page((decode(row[0]) for row in cur.fetchall()), op)

    def sweep_ttl(self) -> int:
        """Delete expired items now; how many."""
        now = time.time()
        with self._write() as cur:
            cur.execute(
                "DELETE FROM cairn_store_vectors WHERE EXISTS (SELECT 1 FROM cairn_store_items i "
                "WHERE i.ns = cairn_store_vectors.ns AND i.key = cairn_store_vectors.key "
                "AND i.expires_at <= ?)",
                (now,),
            )
            cur.execute("DELETE FROM cairn_store_items WHERE expires_at <= ?", (now,))
            return int(getattr(cur, "rowcount", 0) or 0)


def check_version(version: int, location: str) -> None:
    """Refuse store tables of another cairn's schema version."""
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{location} holds store tables of a newer cairn (schema version {version}; this "
            f"cairn knows {SCHEMA_VERSION}); upgrade cairn to use them"
        )
    if version < 1:
        raise StorageError(
            f"{location} has a cairn_store_meta table without a schema version; it was not made "
            "by cairn or was damaged: point the store at another database"
        )
