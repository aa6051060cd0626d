"""``PostgresSaver``: checkpoints in PostgreSQL, shared by many processes and machines.

    saver = PostgresSaver.from_conn_string("postgresql://user:pass@host:5432/db")
    with PostgresSaver.from_conn_string(url) as saver: ...   # closed on exit
    saver = PostgresSaver(psycopg_pool.ConnectionPool(url))  # or a psycopg.Connection

Given a URL, the saver keeps its own pool, checks each connection before
using it (so one the server dropped while a node ran for minutes is replaced)
and never uses server-side prepared statements unless ``prepare=True``, so it
works behind PgBouncer in transaction mode. The schema is created or migrated
when the saver is made; ``setup()`` does it again, idempotently.
"""

from __future__ import annotations

import functools
import select
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence, Union

from cairn.checkpoint.postgres import schema
from cairn.checkpoint.postgres.connect import connect, describe, parse, psycopg
from cairn.checkpoint import codec
from cairn.checkpoint.base import Lease, lease_lost
from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.sql import Cursor, Link, SqlSaver
from cairn.checkpoint.sql.tables import COLUMNS, params
from cairn.errors import ConfigError, MissingDependencyError, StorageError

try:
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "cairn.checkpoint.postgres needs psycopg_pool: pip install 'cairn[postgres]'"
    ) from exc

__all__ = ["PostgresSaver"]

_LEASE_LOCK_WAIT = 2.0
"""Seconds a lease write waits for a row lock before the thread counts as busy."""

_LEASE_SETTINGS = (
    "SET LOCAL synchronous_commit TO OFF",
    f"SET LOCAL lock_timeout = '{int(_LEASE_LOCK_WAIT * 1000)}ms'",
)

Connectable = Union[str, "psycopg.Connection[Any]", "ConnectionPool[Any]"]


class _Cursor:
    """A psycopg cursor speaking the shared SQL's "?" placeholders."""

    __slots__ = ("_cur", "_prepare", "_pipeline")

    def __init__(
        self, cur: "psycopg.Cursor[Any]", prepare: bool | None, pipeline: "psycopg.Pipeline | None" = None
    ) -> None:
        self._cur = cur
        self._prepare = prepare
        self._pipeline = pipeline

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(sql, params, prepare=self._prepare)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        if self._pipeline is not None:
            self._pipeline.sync()  # the count comes back with the results
        return self._cur.rowcount


def _check_idle(conn: "psycopg.Connection[Any]") -> None:
    """The pool's check of a connection it hands out. The server says when it
    drops a connection (a shutdown, pg_terminate_backend, an idle timeout): the
    socket of an idle connection then has something to read. Only then is
    the connection tried with a round trip (and replaced when it fails)."""
    if not conn.closed:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        if not readable:
            return
    ConnectionPool.check_connection(conn)


class PostgresSaver(SqlSaver):
    """Checkpoints in PostgreSQL; safe to share between threads and processes."""

    placeholder = "%s"
    now = "extract(epoch from clock_timestamp())"

    def __init__(
        self,
        conn: Connectable,
        *,
        pool_size: int = 10,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        prepare: bool = False,
        serde: Serializer | None = None,
        lease_ttl: float = 30.0,
        wait_for_thread: float = 0.0,
    ) -> None:
        super().__init__(serde)
        self._set_lease_options(lease_ttl, wait_for_thread)
        # False: never prepare (poolers); True: prepare every statement once per connection.
        self._prepare: bool | None = True if prepare else False
        self._pool: ConnectionPool[Any] | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()
        self._owns = isinstance(conn, str)
        if isinstance(conn, str):
            self._pool = self._open_pool(conn, pool_size, max_idle, max_lifetime)
        elif isinstance(conn, ConnectionPool):
            self._pool = conn
            self.location = f"PostgreSQL pool {conn.name!r}"
        elif isinstance(conn, psycopg.Connection):
            self._conn = conn
            info = conn.info
            self.location = f"PostgreSQL at {info.host}:{info.port} (database {info.dbname!r})"
        else:
            raise ConfigError(
                "PostgresSaver takes a URL ('postgresql://user@host:5432/db'), a "
                f"psycopg.Connection or a psycopg_pool.ConnectionPool; got {type(conn).__name__}"
            )
        try:
            self.setup()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_conn_string(cls, conn_string: str, **options: Any) -> "PostgresSaver":
        """A saver with its own pool on ``conn_string``; use it directly or as a
        context manager (``with PostgresSaver.from_conn_string(url) as saver``),
        which closes the pool on exit."""
        return cls(conn_string, **options)

    def _open_pool(
        self, url: str, size: int, max_idle: float, max_lifetime: float
    ) -> "ConnectionPool[Any]":
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"pool_size must be a whole number >= 1, got {size!r}")
        parse(url)
        self.location = describe(url)
        # One connection first: a clear error, after a bounded retry, when the
        # server cannot be reached or refuses the user.
        connect(url).close()
        return ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            kwargs={"autocommit": True, "prepare_threshold": None},
            check=_check_idle,
            name=self.location,
            open=True,
        )

    def setup(self) -> None:
        """Create cairn's tables, or migrate them from an older cairn. Idempotent,
        safe to run from several processes at once, and inside or outside a
        transaction of the connection given to the saver."""
        with self._write() as cur:
            schema.setup(cur, self.location)

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator["psycopg.Connection[Any]"]:
        if self._pool is not None:
            try:
                with self._pool.connection() as conn:
                    yield conn
            except PoolTimeout as exc:
                raise StorageError(
                    f"{self.location}: no connection free or reachable ({exc}); check the "
                    "server, or raise pool_size if many threads share this saver"
                ) from exc
            except PoolClosed as exc:
                raise StorageError(
                    f"{self.location}: the saver was closed; open a new PostgresSaver to use it again"
                ) from exc
            return
        assert self._conn is not None
        with self._lock:
            if self._conn.closed or self._conn.broken:
                raise StorageError(
                    f"{self.location}: the connection given to the saver is closed or was "
                    "dropped by the server; give the saver a URL or a ConnectionPool so it "
                    "can reconnect"
                )
            yield self._conn

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[Cursor]:
        with self._connection() as conn:
            if durable:
                with self._errors(conn), conn.transaction(), conn.cursor() as cur:
                    yield _Cursor(cur, self._prepare)
                return
            # A lease write: no wait for the disk, and no endless wait for a
            # lease row locked by a transaction that stalled. Pipelined: the
            # statements go out together, and come back when a result is read.
            with self._errors(conn), conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as cur:
                for setting in _LEASE_SETTINGS:
                    cur.execute(setting, prepare=False)
                yield _Cursor(cur, self._prepare, pipeline)

    def _put_links(self, links: Sequence[Link], lease: Lease) -> bool:
        # One statement a link: renew the lease, store the row if the lease
        # held and the parent is there, clear the parent's pending writes, add
        # the row's. One link is one statement in its own transaction; more
        # go out together, pipelined, in one transaction: one round trip.
        statements = [self._link_statement(link, lease) for link in links]
        with self._connection() as conn, self._errors(conn):
            if len(statements) == 1 and conn.autocommit:
                with conn.cursor() as cur:
                    found = [cur.execute(*statements[0], prepare=self._prepare).fetchone()]
            else:
                cursors = [conn.cursor() for _ in statements]
                with conn.pipeline(), conn.transaction():
                    for cur, (sql, args) in zip(cursors, statements):
                        cur.execute(sql, args, prepare=self._prepare)
                found = [cur.fetchone() for cur in cursors]
                for cur in cursors:
                    cur.close()
        results = [row or (False, False) for row in found]
        if not all(leased for leased, _ in results):
            raise lease_lost(lease)
        # A later link's parent is the one before it: if one was not stored,
        # none after it was either.
        return all(stored for _, stored in results)

    def _link_statement(self, link: Link, lease: Lease) -> tuple[str, list[Any]]:
        row, pending = link.row, link.pending
        args: list[Any] = [lease.ttl, lease.thread_id, lease.owner, *params(row)]
        if row.parent_id is not None:
            args += (row.thread_id, row.ns, row.parent_id)
        if link.clear:
            args += (row.thread_id, row.ns, row.parent_id)
        at = (row.thread_id, row.ns, row.id)
        for w in pending:
            args += (*at, w.task_id, w.kind, codec.encode_pending(self.serde, at, w))
        return _linked_sql(self.now, row.parent_id is not None, link.clear, len(pending)), args

    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        try:
            return super().acquire(lease, replacing)
        except StorageError as exc:
            if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                return (
                    "a transaction that stalled while writing this thread (its lease row "
                    f"stayed locked for {_LEASE_LOCK_WAIT:g} s)"
                )
            raise

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        with self._connection() as conn:
            if conn.autocommit:
                with self._errors(conn), conn.cursor() as cur:
                    yield _Cursor(cur, self._prepare)
            else:
                with self._errors(conn), conn.transaction(), conn.cursor() as cur:
                    yield _Cursor(cur, self._prepare)

    @contextmanager
    def _errors(self, conn: "psycopg.Connection[Any]") -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            if conn is self._conn and conn.broken:
                raise StorageError(
                    f"{self.location}: the server dropped the connection given to the saver "
                    f"({str(exc).strip()}); give the saver a URL or a ConnectionPool so it can "
                    "reconnect. The step was not stored; resume the run with invoke(None, config)"
                ) from exc
            raise StorageError(
                f"{self.location}: {str(exc).strip()}; the step was not stored, and the run "
                "can be resumed once the server answers"
            ) from exc
        except psycopg.Error as exc:
            raise StorageError(f"{self.location}: {str(exc).strip()}") from exc

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool (only if this saver made it)."""
        if self._owns and self._pool is not None:
            self._pool.close()


@functools.lru_cache(maxsize=64)
def _linked_sql(now: str, linked: bool, clear: bool, pending: int) -> str:
    """The statement of one link of ``PostgresSaver._put_links``."""
    parent = (
        " AND EXISTS (SELECT 1 FROM cairn_checkpoints WHERE thread_id = %s AND ns = %s AND id = %s)"
        if linked
        else ""
    )
    parts = [
        f"WITH lease AS (UPDATE cairn_leases SET expires_at = {now} + %s "
        "WHERE thread_id = %s AND owner = %s RETURNING 1), "
        f"saved AS (INSERT INTO cairn_checkpoints ({COLUMNS}) SELECT {', '.join(['%s'] * 12)} "
        f"WHERE EXISTS (SELECT 1 FROM lease){parent} "
        "ON CONFLICT (thread_id, ns, id) DO NOTHING RETURNING 1)"
    ]
    if clear:
        parts.append(
            ", cleared AS (DELETE FROM cairn_pending WHERE thread_id = %s AND ns = %s "
            "AND checkpoint_id = %s AND EXISTS (SELECT 1 FROM saved))"
        )
    if pending:
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s::bytea)"] * pending)
        parts.append(
            ", added AS (INSERT INTO cairn_pending (thread_id, ns, checkpoint_id, task_id, kind, value) "
            f"SELECT * FROM (VALUES {rows}) AS v WHERE EXISTS (SELECT 1 FROM saved) "
            "ON CONFLICT (thread_id, ns, checkpoint_id, task_id, kind) DO UPDATE SET value = excluded.value)"
        )
    parts.append(" SELECT EXISTS (SELECT 1 FROM lease), EXISTS (SELECT 1 FROM saved)")
    return "".join(parts)
