"""``PostgresSaver``: checkpoints in PostgreSQL, shared by many processes and machines.

    saver = PostgresSaver.from_conn_string("postgresql://user:pass@host:5432/db")
    with PostgresSaver.from_conn_string(url) as saver: ...   # closed on exit
    saver = PostgresSaver(psycopg_pool.ConnectionPool(url))  # or a psycopg.Connection

Given a URL, the saver keeps its own pool. Before a pooled connection is used,
its socket is polled (no round trip): one the server dropped while idle (a
node ran for minutes, a restart or failover dropped them all) is replaced at
once, so the next call waits at most for one new connection
and never uses server-side prepared statements unless ``prepare=True``, so it
works behind PgBouncer in transaction mode. The schema is created or migrated
when the saver is made; ``setup()`` does it again, idempotently.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Iterator, Sequence, TypeVar, Union

from cairn.checkpoint.postgres import schema
from cairn.checkpoint.postgres import bridge
from cairn.checkpoint.postgres.connect import (
    check_preparable,
    connect,
    describe,
    parse,
    psycopg,
    readable,
    tuple_row,
)
from cairn.checkpoint.base import Lease, lease_lost
from cairn.checkpoint.postgres.dialect import POSTGRES
from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.sql import Cursor, SqlSaver
from cairn.checkpoint.sql.dialect import Statement
from cairn.errors import ConfigError, MissingDependencyError, StorageError

try:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "cairn.checkpoint.postgres needs psycopg_pool: pip install 'cairn[postgres]'"
    ) from exc

__all__ = ["PostgresSaver"]

_LEASE_LOCK_WAIT = 2.0
"""Seconds a lease write waits for a row lock before the thread counts as busy."""

_LEASE_SETTINGS = (
    f"SET LOCAL synchronous_commit TO OFF; SET LOCAL lock_timeout = '{int(_LEASE_LOCK_WAIT * 1000)}ms'; "
)

_Saver = TypeVar("_Saver", bound="PostgresSaver")

Connectable = Union[str, "psycopg.Connection[Any]", "ConnectionPool[Any]"]


class _Cursor:
    """A psycopg cursor speaking the shared SQL's "?" placeholders."""

    __slots__ = ("_cur", "_prepare")

    def __init__(self, cur: "psycopg.Cursor[Any]", prepare: bool | None) -> None:
        self._cur = cur
        self._prepare = prepare

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(sql, params, prepare=self._prepare)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


def _dropped(conn: "psycopg.Connection[Any]") -> bool:
    """Whether the server dropped ``conn`` while it sat idle in the pool. The
    server says when it drops a connection (a restart, a failover,
    pg_terminate_backend, an idle timeout): the socket of an idle connection
    then has something to read. Only then is the connection tried with a round
    trip: a connection in use costs one poll of its socket, no round trip."""
    if conn.closed:
        return True
    if not readable(conn.fileno()):
        return False
    try:
        ConnectionPool.check_connection(conn)
    except (psycopg.Error, OSError):
        return True
    return False


@contextmanager
def _pooled(pool: "ConnectionPool[Any]") -> Iterator["psycopg.Connection[Any]"]:
    """A live connection of ``pool``, returned to it afterwards. Connections
    the server dropped while idle are closed and handed back at once (the
    pool opens one in place of each), and the next is taken without a pause:
    after a server restart every idle connection is dead, and the pool's own
    check would wait 1, 2, 4... seconds between them (a pool of 10 reached
    its timeout). With all of them gone, the call waits for one new
    connection."""
    conn = live_connection(pool)
    try:
        with conn:
            yield conn
    finally:
        pool.putconn(conn)


def live_connection(pool: "ConnectionPool[Any]") -> "psycopg.Connection[Any]":
    """A connection of ``pool`` the server has not dropped (see ``_pooled``)."""
    conn: psycopg.Connection[Any] | None = pool.getconn()
    try:
        for _ in range(2 * pool.max_size):
            assert conn is not None
            if not _dropped(conn):
                break
            conn.close()
            pool.putconn(conn)
            conn = None  # not the pool's to take back if the next getconn fails
            conn = pool.getconn()
        assert conn is not None
        return conn
    except BaseException:
        if conn is not None:
            pool.putconn(conn)
        raise


class PostgresSaver(SqlSaver):
    """Checkpoints in PostgreSQL; safe to share between threads and processes."""

    dialect = POSTGRES

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
        self._pool: ConnectionPool[Any] | bridge.Pool | None = None
        self._conn: psycopg.Connection[Any] | bridge.Connection | None = None
        self._lock = threading.RLock()
        self._owns = isinstance(conn, str)
        if isinstance(conn, str):
            self._pool = self._open_pool(conn, pool_size, max_idle, max_lifetime)
        elif isinstance(conn, ConnectionPool):
            check_preparable(conn, prepare, type(self).__name__)
            self._pool = conn
            self.location = f"PostgreSQL pool {conn.name!r}"
        elif isinstance(conn, psycopg.Connection):
            check_preparable(conn, prepare, type(self).__name__)
            self._conn = conn
            self.location = _where(conn)
        elif isinstance(conn, (psycopg.AsyncConnection, AsyncConnectionPool)):
            self._adopt_async(conn)
        else:
            raise ConfigError(
                "PostgresSaver takes a URL ('postgresql://user@host:5432/db'), a "
                f"psycopg.Connection or a psycopg_pool.ConnectionPool; got {type(conn).__name__}"
            )
        # The async API runs as many calls at once as there are connections.
        self.io_threads = self._pool.max_size if self._pool is not None else 1
        self._set_up_when_made()

    def _set_up_when_made(self) -> None:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise

    def _adopt_async(self, conn: Any) -> None:
        raise ConfigError(
            f"PostgresSaver was given a psycopg {type(conn).__name__}; use "
            "cairn.checkpoint.postgres.aio.AsyncPostgresSaver for async connections and pools, "
            "or give PostgresSaver a URL, a psycopg.Connection or a psycopg_pool.ConnectionPool"
        )

    @classmethod
    def from_conn_string(
        cls: type[_Saver],
        conn_string: str,
        *,
        pool_size: int = 10,
        max_idle: float = 600.0,
        max_lifetime: float = 3600.0,
        prepare: bool = False,
        serde: Serializer | None = None,
        lease_ttl: float = 30.0,
        wait_for_thread: float = 0.0,
    ) -> _Saver:
        """A saver with its own pool on ``conn_string``; use it directly or as a
        context manager (``with PostgresSaver.from_conn_string(url) as saver``),
        which closes the pool on exit."""
        return cls(
            conn_string,
            pool_size=pool_size,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            prepare=prepare,
            serde=serde,
            lease_ttl=lease_ttl,
            wait_for_thread=wait_for_thread,
        )

    def _open_pool(
        self, url: str, size: int, max_idle: float, max_lifetime: float
    ) -> "ConnectionPool[Any]":
        pool = self._new_pool(url, size, max_idle, max_lifetime)
        open_pool(pool, url)
        return pool

    def _new_pool(
        self, url: str, size: int, max_idle: float, max_lifetime: float
    ) -> "ConnectionPool[Any]":
        """A pool on ``url``, not opened yet: no I/O."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"pool_size must be a whole number >= 1, got {size!r}")
        parse(url)
        self.location = describe(url)
        return ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
            # psycopg prepares nothing at a threshold of None, whatever execute() asks
            kwargs={"autocommit": True, "prepare_threshold": 0 if self._prepare else None},
            name=self.location,
            open=False,
        )

    def setup(self) -> None:
        """Create cairn's tables, or migrate them from an older cairn. Idempotent,
        safe to run from several processes at once, and inside or outside a
        transaction of the connection given to the saver."""
        with self._write() as cur:
            schema.setup(cur, self.location)

    # -- transactions ------------------------------------------------------------

    def _connection(self) -> AbstractContextManager[Any]:
        """A psycopg.Connection, or an async one through the bridge."""
        return borrowed(self._pool, self._conn, self._lock, self.location, "saver")

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[Cursor]:
        # Lease writes (durable=False) have their own statements: _lease_write.
        with self._connection() as conn:
            with self._errors(conn), conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                yield _Cursor(cur, self._prepare)

    def _lease_write(self, sql: str, args: Sequence[Any]) -> tuple[int, list[Any]]:
        """A lease statement (rows changed, rows returned), in one round trip
        with the settings of a lease write: no wait for the disk (a lease lost
        in a power cut only frees the thread), and no endless wait for a lease
        row locked by a transaction that stalled. The statements go as one
        simple query (parameters bound by psycopg), which the server runs as
        one transaction."""
        with self._connection() as conn, self._errors(conn):
            with conn.client_cursor() if bridge.bridged(conn) else psycopg.ClientCursor(conn, row_factory=tuple_row) as cur:
                with nullcontext() if conn.autocommit else conn.transaction():
                    cur.execute(_LEASE_SETTINGS + sql, args)
                    for _ in range(_LEASE_SETTINGS.count(";")):
                        cur.nextset()
                    return cur.rowcount, cur.fetchall() if cur.description else []

    def acquire(self, lease: Lease, replacing: str | None = None) -> str | None:
        try:
            _, found = self._lease_write(*self.dialect.take_lease(lease, replacing or ""))
        except StorageError as exc:
            if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                return (
                    "a transaction that stalled while writing this thread (its lease row "
                    f"stayed locked for {_LEASE_LOCK_WAIT:g} s)"
                )
            raise
        if not found:  # taken by a run that committed while this statement ran
            return "a run that took the thread at the same moment"
        holder = str(found[0][0])
        return None if holder == lease.owner else holder

    def renew(self, lease: Lease) -> bool:
        changed, _ = self._lease_write(*self.dialect.renew_lease(lease))
        return changed == 1

    def release(self, lease: Lease) -> None:
        self._tips.forget(lease)
        self._lease_write(*self.dialect.release_lease(lease))

    def _put_at_once(self, statement: Statement, lease: Lease) -> bool:
        with self._connection() as conn, self._errors(conn), conn.cursor(row_factory=tuple_row) as cur:
            with nullcontext() if conn.autocommit else conn.transaction():
                found = cur.execute(*statement, prepare=self._prepare).fetchone()
        leased, stored = found or (False, False)
        if not leased:
            raise lease_lost(lease)
        return bool(stored)

    @contextmanager
    def _snapshot(self, about: str | None = None, writing: bool = False) -> Iterator[Cursor]:
        # Under READ COMMITTED each statement takes a new snapshot; REPEATABLE
        # READ keeps the first one for the whole transaction. A user's
        # connection outside autocommit may be inside their own transaction,
        # where the level can no longer be set: its reads are as they are.
        level = "REPEATABLE READ" if writing else "REPEATABLE READ, READ ONLY"
        with self._connection() as conn:
            with self._errors(conn, about), conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                if conn.autocommit:
                    cur.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
                yield _Cursor(cur, self._prepare)

    @contextmanager
    def _read(self, about: str | None = None) -> Iterator[Cursor]:
        with self._connection() as conn:
            if conn.autocommit:
                with self._errors(conn, about), conn.cursor(row_factory=tuple_row) as cur:
                    yield _Cursor(cur, self._prepare)
            else:
                with self._errors(conn, about), conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                    yield _Cursor(cur, self._prepare)

    @contextmanager
    def _errors(self, conn: "psycopg.Connection[Any]", about: str | None = None) -> Iterator[None]:
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
            where = self.location if about is None else f"{self.location} (reading {about})"
            raise StorageError(f"{where}: {str(exc).strip()}") from exc

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool (only if this saver made it)."""
        super().close()
        if self._owns and self._pool is not None:
            self._pool.close()


@contextmanager
def borrowed(pool: Any, conn: Any, lock: Any, location: str, owner: str) -> Iterator[Any]:
    """A connection of ``pool``, or the one connection ``conn`` given (under
    ``lock``), for the ``owner`` ("saver", "store") at ``location``; what
    keeps it from being had is a StorageError saying what to do."""
    if pool is not None:
        with borrowing(location, owner):
            with _pooled(pool) if isinstance(pool, ConnectionPool) else pool.connection() as got:
                yield got
        return
    assert conn is not None
    with lock:
        if conn.closed or conn.broken:
            raise StorageError(
                f"{location}: the connection given to the {owner} is closed or was dropped by "
                f"the server; give the {owner} a URL or a ConnectionPool so it can reconnect"
            )
        yield conn


class KeptConnection:
    """One connection of a pool kept by its owner (a store) between calls, so
    that back-to-back calls from one thread skip the pool's checkout and
    return (about 40 us of a 350 us put). A call that finds it in use by
    another thread borrows from the pool as usual. Before each use it is
    polled as a pooled one is (a connection the server dropped is handed back
    and replaced)."""

    def __init__(self, pool: "ConnectionPool[Any]", location: str, owner: str) -> None:
        self._pool = pool
        self._location = location
        self._owner = owner
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    @contextmanager
    def connection(self) -> Iterator["psycopg.Connection[Any]"]:
        """The kept connection, or one borrowed from the pool while it is in use."""
        if not self._lock.acquire(blocking=False):
            with borrowed(self._pool, None, None, self._location, self._owner) as conn:
                yield conn
            return
        try:
            conn = self._live()
            with conn:  # committed, or rolled back on an error, as a pooled one
                yield conn
        finally:
            self._lock.release()

    def _live(self) -> "psycopg.Connection[Any]":
        conn = self._conn
        if conn is not None and (conn.broken or _dropped(conn)):
            self._conn = None
            conn.close()
            self._pool.putconn(conn)
            conn = None
        if conn is None:
            with borrowing(self._location, self._owner):
                conn = self._conn = live_connection(self._pool)
        return conn

    def release(self) -> None:
        """Hand the kept connection back to the pool (before it is closed)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                self._pool.putconn(conn)


@contextmanager
def borrowing(location: str, owner: str) -> Iterator[None]:
    """What keeps a connection of a pool from being had, as a StorageError
    saying what to do."""
    try:
        yield
    except PoolTimeout as exc:
        raise StorageError(
            f"{location}: no connection free or reachable ({exc}); check the "
            f"server, or raise pool_size if many threads share this {owner}"
        ) from exc
    except PoolClosed as exc:
        raise StorageError(f"{location}: the {owner} was closed; open a new one to use it again") from exc


def open_pool(pool: "ConnectionPool[Any]", url: str) -> None:
    """Open ``pool`` on ``url``, one connection first: a clear error, after a
    bounded retry, when the server cannot be reached or refuses the user."""
    connect(url).close()
    pool.open()


def _where(conn: Any) -> str:
    info = conn.info
    return f"PostgreSQL at {info.host}:{info.port} (database {info.dbname!r})"
