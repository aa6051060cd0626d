"""``PostgresStore``: the store in PostgreSQL, shared by many processes and machines.

    store = PostgresStore("postgresql://user:pass@host:5432/db")
    with PostgresStore.from_conn_string(url) as store: ...        # closed on exit
    store = PostgresStore(psycopg_pool.ConnectionPool(url, kwargs={"autocommit": True}))

Given a URL, the store keeps its own pool (``pool_size`` connections), checks
a connection the server dropped before using it, and uses no server-side
prepared statements unless ``prepare=True`` (so it works behind PgBouncer in
transaction mode; prepared, a put is about a sixth faster). Its tables
(``cairn_store_*``, with their own schema version) are created when the
store is made, in the first schema of the connection's ``search_path``, and
can share a database with PostgresSaver's.

Semantic search is the exact search of ``cairn.store.vectors``: pgvector is
not used yet, so a vector search reads the vectors under its namespace prefix.
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterable, Iterator, Sequence, Union

from cairn.checkpoint.postgres import KeptConnection, borrowed, open_pool
from cairn.checkpoint.postgres.connect import check_preparable, describe, parse, psycopg, tuple_row
from cairn.errors import ConfigError, MissingDependencyError, StorageError
from cairn.store.base import IndexConfig, TTLConfig
from cairn.store.sql import SCHEMA_VERSION, Cursor, SqlStore, check_version

try:
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "cairn.store.postgres needs psycopg_pool: pip install 'cairn[postgres]'"
    ) from exc

__all__ = ["PostgresStore"]

# pg_advisory_xact_lock key: setups of several processes run one at a time.
_SETUP_LOCK = 0x6361_6972_6E00_0016

_SCHEMA = (
    "CREATE TABLE cairn_store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    'CREATE TABLE cairn_store_items (ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,'
    " value JSONB NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " updated_at DOUBLE PRECISION NOT NULL, ttl_minutes DOUBLE PRECISION,"
    " expires_at DOUBLE PRECISION, has_vectors BOOLEAN NOT NULL DEFAULT false,"
    " PRIMARY KEY (ns, key))",
    "CREATE INDEX cairn_store_items_expiry ON cairn_store_items (expires_at)"
    " WHERE expires_at IS NOT NULL",
    'CREATE TABLE cairn_store_vectors (ns TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,'
    ' field TEXT COLLATE "C" NOT NULL, vector BYTEA NOT NULL, PRIMARY KEY (ns, key, field))',
    # An item's vectors go when it is replaced or deleted, by the server, and
    # only for items that have some: a put of an item without vectors is one
    # plain upsert. SET search_path pins the tables the function names.
    "CREATE FUNCTION cairn_store_drop_vectors() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$ BEGIN"
    " DELETE FROM cairn_store_vectors WHERE ns = OLD.ns AND key = OLD.key; RETURN NULL; END $$",
    "CREATE TRIGGER cairn_store_replaced AFTER UPDATE ON cairn_store_items FOR EACH ROW"
    " WHEN (OLD.has_vectors) EXECUTE FUNCTION cairn_store_drop_vectors()",
    "CREATE TRIGGER cairn_store_deleted AFTER DELETE ON cairn_store_items FOR EACH ROW"
    " WHEN (OLD.has_vectors) EXECUTE FUNCTION cairn_store_drop_vectors()",
)

_PUT = (
    "INSERT INTO cairn_store_items (ns, key, value, created_at, updated_at, ttl_minutes, expires_at,"
    " has_vectors) VALUES (?, ?, ?::jsonb, ?, ?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET"
    " value = excluded.value, created_at = CASE WHEN cairn_store_items.expires_at"
    " <= excluded.updated_at THEN excluded.created_at ELSE cairn_store_items.created_at END,"
    " updated_at = excluded.updated_at, ttl_minutes = excluded.ttl_minutes,"
    " expires_at = excluded.expires_at, has_vectors = excluded.has_vectors"
)
_ORDER = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

Connectable = Union[str, "psycopg.Connection[Any]", "ConnectionPool[Any]"]


class _Cursor:
    """A psycopg cursor speaking the shared SQL's "?" placeholders."""

    __slots__ = ("_cur", "_prepare")
    _sql: dict[str, str] = {}

    def __init__(self, cur: "psycopg.Cursor[Any]", prepare: bool) -> None:
        self._cur = cur
        self._prepare = prepare

    @classmethod
    def _translate(cls, sql: str) -> str:
        found = cls._sql.get(sql)
        if found is None:
            found = cls._sql[sql] = sql.replace("?", "%s")
        return found

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(self._translate(sql), params, prepare=self._prepare)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any:
        return self._cur.executemany(self._translate(sql), params)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PostgresStore(SqlStore):
    """A store in PostgreSQL; safe to share between threads and processes."""

    value_param = "?::jsonb"
    one_statement_put = True

    def __init__(
        self,
        conn: Connectable,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        pool_size: int = 10,
        prepare: bool = False,
    ) -> None:
        super().__init__(index, ttl)
        self._prepare = bool(prepare)
        self._lock = threading.RLock()
        self._url: str | None = None
        self._pool: ConnectionPool[Any] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._held: KeptConnection | None = None
        if isinstance(conn, str):
            if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
                raise ConfigError(f"pool_size must be a whole number >= 1, got {pool_size!r}")
            parse(conn)
            self._url = conn
            self.location = describe(conn)
            self.io_threads = pool_size
            self._pool = ConnectionPool(
                conn,
                min_size=1,
                max_size=pool_size,
                # psycopg prepares nothing at a threshold of None, whatever execute() asks
                kwargs={"autocommit": True, "prepare_threshold": 0 if self._prepare else None},
                name=self.location,
                open=False,
            )
            # Its own pool: one connection of it serves back-to-back calls.
            self._held = KeptConnection(self._pool, self.location, "store")
        elif isinstance(conn, ConnectionPool):
            check_preparable(conn, prepare, "PostgresStore")
            self._pool = conn
            self.location = f"PostgreSQL pool {conn.name!r}"
            self.io_threads = conn.max_size
        elif isinstance(conn, psycopg.Connection):
            check_preparable(conn, prepare, "PostgresStore")
            self._conn = conn
            info = conn.info
            self.location = f"PostgreSQL at {info.host}:{info.port} (database {info.dbname!r})"
        else:
            raise ConfigError(
                f"{type(self).__name__} takes a URL ('postgresql://user@host:5432/db'), a "
                f"psycopg.Connection or a psycopg_pool.ConnectionPool; got {type(conn).__name__}"
            )
        self._start()

    @classmethod
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        pool_size: int = 10,
        prepare: bool = False,
    ) -> "PostgresStore":
        """A store with its own pool on ``conn_string``; use it directly or as a
        context manager, which closes the pool on exit."""
        return cls(conn_string, index=index, ttl=ttl, pool_size=pool_size, prepare=prepare)

    # -- opening ---------------------------------------------------------------------

    def _open(self) -> None:
        try:
            if self._url is not None and self._pool is not None:
                open_pool(self._pool, self._url)
            with self._transaction() as cur:
                self._setup(cur)
        except BaseException:
            if self._url is not None and self._pool is not None:
                self._pool.close()
            raise

    def _setup(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(?)", (_SETUP_LOCK,))
        cur.execute("SELECT to_regclass('cairn_store_meta') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT value FROM cairn_store_meta WHERE key = 'schema_version'")
            found = cur.fetchone()
            check_version(int(found[0]) if found else 0, self.location)
            return
        for statement in _SCHEMA:
            cur.execute(statement)
        cur.execute(
            "INSERT INTO cairn_store_meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    # -- transactions ----------------------------------------------------------------

    def _connection(self) -> AbstractContextManager["psycopg.Connection[Any]"]:
        if self._held is not None:
            return self._held.connection()
        return borrowed(self._pool, self._conn, self._lock, self.location, "store")

    def _write(self) -> AbstractContextManager[Cursor]:
        self._ensure_open()
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._connection() as conn, _errors(self.location):
            with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                yield _Cursor(cur, self._prepare)  # type: ignore[misc]

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        self._ensure_open()
        with self._connection() as conn, _errors(self.location):
            if conn.autocommit:
                with conn.cursor(row_factory=tuple_row) as cur:
                    yield _Cursor(cur, self._prepare)  # type: ignore[misc]
            else:
                with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                    yield _Cursor(cur, self._prepare)  # type: ignore[misc]

    # -- the dialect -----------------------------------------------------------------

    def _put_row(self, cur: Cursor, ns: str, key: str, row: Sequence[Any], indexed: bool) -> None:
        cur.execute(_PUT, (*row, indexed))  # the triggers drop the old vectors

    def _delete_row(self, cur: Cursor, ns: str, key: str) -> None:
        cur.execute("DELETE FROM cairn_store_items WHERE ns = ? AND key = ?", (ns, key))

    def _loads(self, raw: Any) -> dict[str, Any]:
        return raw if isinstance(raw, dict) else json.loads(raw)  # type: ignore[no-any-return]

    def _condition(self, field: str, op: str, operand: Any) -> tuple[str, list[Any]] | None:
        if op == "$ne":
            return None
        if op == "$eq":
            if _has_operators(operand):
                return None
            try:
                text = json.dumps(operand, allow_nan=False)
            except (TypeError, ValueError):
                return None
            return ("value -> ?::text = ?::jsonb", [field, text])
        compare = _ORDER[op]
        if isinstance(operand, bool) or operand is None:
            return ("false", [])
        if isinstance(operand, (int, float)):
            return (
                f"(CASE WHEN jsonb_typeof(value -> ?::text) = 'number' THEN "
                f"(value ->> ?::text)::numeric {compare} ?::numeric ELSE false END)",
                [field, field, operand],
            )
        if isinstance(operand, str):
            return (
                f"(CASE WHEN jsonb_typeof(value -> ?::text) = 'string' THEN "
                f'(value ->> ?::text) COLLATE "C" {compare} ?::text ELSE false END)',
                [field, field, operand],
            )
        return None

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool (only if this store made it)."""
        self.stop_ttl_sweeper()
        self._close_io()
        if self._url is not None and self._pool is not None:
            if self._held is not None:
                self._held.release()
            self._pool.close()


def _has_operators(operand: Any) -> bool:
    if isinstance(operand, dict):
        return any(isinstance(k, str) and k.startswith("$") for k in operand) or any(
            _has_operators(v) for v in operand.values()
        )
    if isinstance(operand, list):
        return any(_has_operators(v) for v in operand)
    return False


@contextmanager
def _errors(location: str) -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as exc:
        raise StorageError(
            f"{location}: {str(exc).strip()}; nothing of this batch was stored, retry once "
            "the server answers"
        ) from exc
    except psycopg.Error as exc:
        raise StorageError(f"{location}: {str(exc).strip()}") from exc
