"""What the SQL savers share: the logic of the saver contract over the tables
of ``tables.py``. A backend supplies a connection with transactions
(``_write`` / ``_read``), how it runs a put of one statement
(``_put_at_once``) and its ``Dialect``; the statements here are plain SQL
that SQLite and PostgreSQL both accept, with "?" placeholders.
"""

from __future__ import annotations

from abc import abstractmethod
from operator import itemgetter
from typing import Any, Iterator, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import (
    CheckpointRecord,
    Lease,
    PendingWrite,
    PutItem,
    already_stored,
    lease_lost,
    looping_link,
    metadata_matches,
    parent_missing,
    split_filter,
)
from cairn.checkpoint.sql.dialect import Statement
from cairn.checkpoint.sql.tables import (
    CHECKPOINTS,
    CLEAR_PENDING,
    COLUMNS,
    INSERT,
    INSERT_PENDING,
    NO_SNAPSHOT,
    SCHEMA_VERSION,
    Cursor,
    Link,
    checkpoint_row,
    checkpoint_values,
    leased_insert,
    pending_values,
    upgrade,
)
from cairn.checkpoint.sql.threads import SqlThreads
from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.tips import Tips
from cairn.errors import StorageError

__all__ = ["SCHEMA_VERSION", "Cursor", "Link", "SqlSaver", "upgrade"]


_NARROW_PAGE = 1024
"""The most rows of ids and metadata a filter on metadata keys reads at a time."""
_IDS_AT_ONCE = 256
"""Ids a statement names (drivers bound the number of parameters)."""

# Each link is found from the one before by the whole key, taken from that
# row, and the rows are read from the chain by their keys (not with the
# thread and namespace as parameters): then PostgreSQL's planner, with no
# statistics yet (a table written and not yet analyzed), still finds each
# link by the primary key. With the parameters, it guessed the thread held
# one row and read all of its rows once per link (530 ms for a chain of 138
# rows of a 10,000-checkpoint thread, 4 ms once analyzed; now 3 ms either
# way: benchmarks/chain_plan.py).
_CHAIN = (
    "WITH RECURSIVE chain(thread_id, ns, id, parent_id, done) AS ("
    " SELECT thread_id, ns, id, parent_id, snapshot IS NOT NULL"
    "  FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?"
    " UNION ALL"
    " SELECT c.thread_id, c.ns, c.id, c.parent_id, c.snapshot IS NOT NULL"
    "  FROM chain JOIN cairn_checkpoints c ON c.thread_id = chain.thread_id"
    "  AND c.ns = chain.ns AND c.id = chain.parent_id AND c.id < chain.id WHERE NOT chain.done)"
    f" SELECT {CHECKPOINTS.select(alias='c')} FROM chain JOIN cairn_checkpoints c"
    " ON c.thread_id = chain.thread_id AND c.ns = chain.ns AND c.id = chain.id"
)
"""A checkpoint's chain, back to its first row with a snapshot, in no order
(sorted by id once read: an ORDER BY made SQLite copy every row, snapshot
included, through a sorter). It follows only links to a smaller id (a parent
is made before its children), so a damaged row whose parent link loops ends
it instead of making it endless: the oldest row read then has no snapshot and
a parent that is not older, and ``get_chain`` reads on from there a link at a
time, refusing a loop."""
_BY_ID = itemgetter(CHECKPOINTS.position("id"))
_ONE_ROW = f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE {CHECKPOINTS.where_key()}"
_PARENT_ID = CHECKPOINTS.position("parent_id")
_SNAPSHOT = CHECKPOINTS.position("snapshot")


def _about(thread_id: str, ns: str, checkpoint_id: str | None = None, what: str = "") -> str:
    """What a read is of, for its errors: "checkpoint 'c' of thread 't'"..."""
    space = f" (namespace {ns!r})" if ns else ""
    row = f"checkpoint {checkpoint_id!r} of " if checkpoint_id is not None else ""
    return f"{what}{row}thread {thread_id!r}{space}"


class _LongWay(Exception):
    """Rolls back a short-way put that has to take the long way."""


class SqlSaver(SqlThreads):
    """The saver contract over SQL tables ``cairn_checkpoints`` and ``cairn_pending``."""

    def __init__(self, serde: Serializer | None = None) -> None:
        super().__init__(serde)
        self._tips = Tips()

    # -- decoding ------------------------------------------------------------

    def _decode(self, values: Sequence[Any]) -> CheckpointRecord:
        """The checkpoint of a row selected as ``COLUMNS`` (or ``NO_SNAPSHOT``)."""
        row = checkpoint_row(values)
        try:
            return codec.decode(self.serde, row)
        except Exception as exc:
            raise StorageError(
                f"checkpoint {row.id!r} of thread {row.thread_id!r} in {self.location} cannot "
                f"be read: {exc}. {codec.stored_bytes_remedy(exc, row.thread_id)}"
            ) from exc

    # -- the contract ----------------------------------------------------------

    def save(
        self,
        checkpoint: CheckpointRecord,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Lease | None = None,
        *,
        snapshot: bool = False,
    ) -> int:
        if lease is not None and not snapshot:
            size = self._put_leased([(checkpoint, values, pending)], lease)
            if size is not None:
                return size
        with self._write() as cur:
            self._check(cur, lease)
            # The parent's counters are read in the same transaction: if another
            # process deleted the parent, this checkpoint becomes a root with a
            # snapshot instead of a link to nothing.
            parent = self._counters(cur, checkpoint) if checkpoint.parent_id is not None else None
            ratio = 0.0 if snapshot else self.snapshot_policy.ratio
            row = codec.encode(self.serde, checkpoint, values, parent, ratio)
            cur.execute(self._sql(INSERT), checkpoint_values(row))
            if cur.rowcount != 1:
                raise already_stored(checkpoint, self.location)
            if checkpoint.parent_id is not None:
                cur.execute(self._sql(CLEAR_PENDING), (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id))
            self._insert_pending(cur, self._pending_rows((row.thread_id, row.ns, row.id), pending))
        if lease is not None:
            self._tips.stored(lease, row, bool(pending))
        return row.size

    def save_many(self, items: Sequence[PutItem], lease: Lease | None = None) -> int | None:
        if lease is not None and len(items) >= 2:
            size = self._put_leased(items, lease)
            if size is not None:
                return size
        return super().save_many(items, lease)

    def _put_leased(self, items: Sequence[PutItem], lease: Lease) -> int | None:
        """The short way of puts under a lease, all in one commit: the bytes
        of their rows; None, with nothing stored, when they have to take the
        long way (the parent is gone, or a checkpoint is already stored).

        Nobody else writes the thread while the lease holds, so the parent's
        counters can be read before the write, and after the run's own last
        checkpoint (its tip) they are known, as is whether the parent has
        pending writes to clear."""
        checkpoint = items[0][0]
        tip = self._tips.after(checkpoint, lease)
        if tip is not None:
            counters, clear = tip.counters, tip.pending
        elif checkpoint.parent_id is None:
            counters, clear = None, False
        else:
            with self._read(_about(checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id)) as cur:
                counters, clear = self._counters(cur, checkpoint), True
            if counters is None:
                return None
        links = []
        for index, (checkpoint, values, pending) in enumerate(items):
            row = codec.encode(self.serde, checkpoint, values, counters, self.snapshot_policy.ratio)
            # Pending writes of a checkpoint whose child is stored with it
            # would be cleared by that child at once: they are not stored.
            last = index == len(items) - 1
            rows = self._pending_rows((row.thread_id, row.ns, row.id), pending) if last and pending else ()
            links.append(Link(row, rows, clear))
            counters, clear = (row.snapshot_bytes, row.log_bytes), False
        if not self._put_links(links, lease):
            return None
        self._tips.stored(lease, links[-1].row, bool(links[-1].pending))
        return sum(link.row.size for link in links)

    def _counters(self, cur: Cursor, checkpoint: CheckpointRecord) -> tuple[int, int] | None:
        """The (snapshot_bytes, log_bytes) of ``checkpoint``'s parent, if stored."""
        cur.execute(
            self._sql(
                "SELECT snapshot_bytes, log_bytes FROM cairn_checkpoints "
                "WHERE thread_id = ? AND ns = ? AND id = ?"
            ),
            (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id),
        )
        found = cur.fetchone()
        if found is None:
            return None
        try:
            return (int(found[0]), int(found[1]))
        except (TypeError, ValueError) as exc:
            raise StorageError(
                f"checkpoint {checkpoint.parent_id!r} of thread {checkpoint.thread_id!r} in "
                f"{self.location} holds damaged sizes {tuple(found)!r:.80}: {exc}. "
                f"{codec.stored_bytes_remedy(exc, checkpoint.thread_id)}"
            ) from exc

    def _put_links(self, links: Sequence[Link], lease: Lease) -> bool:
        """Store ``links`` in one transaction, each after its parent; False,
        with nothing stored, when a parent is not there or a row already is.
        Raises when ``lease`` was lost. One statement when the dialect has
        one for them and the backend can run it now, else one statement per
        row and per pending write."""
        statement = self.dialect.put(links, lease)
        if statement is not None:
            stored = self._put_at_once(statement, lease)
            if stored is not None:
                return stored
        try:
            with self._write() as cur:
                for link in links:
                    if not self._insert_link(cur, link, lease):
                        raise _LongWay
        except _LongWay:
            return False
        return True

    @abstractmethod
    def _put_at_once(self, statement: Statement, lease: Lease) -> bool | None:
        """Run the one statement of a put (``Dialect.put``) as a transaction
        of its own: whether it stored the rows (raising when ``lease`` was
        lost), or None, with nothing done, when it cannot run alone now (the
        connection is inside a transaction of the application's)."""

    def _insert_link(self, cur: Cursor, link: Link, lease: Lease) -> bool:
        """Store one link inside a write: insert the row if the lease holds
        and its parent is there (in one statement: writers of a thread take
        turns under its lease), clear the parent's pending writes when asked,
        add the row's; False when the row was not inserted."""
        row = link.row
        sql, args = leased_insert(row, lease)
        cur.execute(self._sql(sql), args)
        if cur.rowcount != 1:
            return self._still_held(cur, lease)
        if link.clear:
            cur.execute(self._sql(CLEAR_PENDING), (row.thread_id, row.ns, row.parent_id))
        self._insert_pending(cur, link.pending)
        return True

    def _still_held(self, cur: Cursor, lease: Lease) -> bool:
        """After an INSERT under ``lease`` that stored nothing: False (take
        the long way) if the lease still holds, else raise."""
        cur.execute(
            self._sql("SELECT 1 FROM cairn_leases WHERE thread_id = ? AND owner = ?"),
            (lease.thread_id, lease.owner),
        )
        if cur.fetchone() is None:
            raise lease_lost(lease)
        return False

    def save_pending(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[PendingWrite],
        lease: Lease | None = None,
    ) -> None:
        rows = self._pending_rows((thread_id, ns, checkpoint_id), writes)
        with self._write() as cur:
            self._check(cur, lease)
            self._insert_pending(cur, rows)
        if lease is not None and writes:
            self._tips.pending(lease, ns, checkpoint_id)

    def _pending_rows(
        self, at: tuple[str, str, str], writes: Sequence[PendingWrite]
    ) -> tuple[tuple[Any, ...], ...]:
        """The rows of ``writes``, pending writes of checkpoint ``at``."""
        return tuple(
            pending_values(at, w.task_id, w.kind, codec.encode_pending(self.serde, at, w))
            for w in writes
        )

    def _insert_pending(self, cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
        for values in rows:
            cur.execute(self._sql(INSERT_PENDING), values)

    # -- one writer per thread ---------------------------------------------------

    # acquire, renew and release: the dialect's statements, each backend's
    # way of running them (lease writes skip the wait for the disk).

    def _renewed(self, cur: Cursor, lease: Lease) -> bool:
        cur.execute(*self.dialect.renew_lease(lease))
        return bool(cur.rowcount == 1)

    def _check(self, cur: Cursor, lease: Lease | None) -> None:
        """Renew ``lease`` inside a write, or refuse the write."""
        if lease is not None and not self._renewed(cur, lease):
            raise lease_lost(lease)

    def load(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> CheckpointRecord | None:
        with self._read(_about(thread_id, ns, checkpoint_id)) as cur:
            if checkpoint_id is None:
                cur.execute(
                    self._sql(
                        f"SELECT {NO_SNAPSHOT} FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? "
                        "ORDER BY id DESC LIMIT 1"
                    ),
                    (thread_id, ns),
                )
            else:
                cur.execute(
                    self._sql(
                        f"SELECT {NO_SNAPSHOT} FROM cairn_checkpoints "
                        "WHERE thread_id = ? AND ns = ? AND id = ?"
                    ),
                    (thread_id, ns, checkpoint_id),
                )
            found = cur.fetchone()
        return self._decode(found) if found else None

    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[CheckpointRecord]:
        with self._read(_about(thread_id, ns, checkpoint_id)) as cur:
            cur.execute(self._sql(_CHAIN), (thread_id, ns, checkpoint_id))
            rows = cur.fetchall()
            rows.sort(key=_BY_ID)
            if rows:
                oldest = rows[0]
                parent_id = oldest[_PARENT_ID]
                if oldest[_SNAPSHOT] is None and parent_id is not None and not parent_id < _BY_ID(oldest):
                    rows = self._walk_on(cur, thread_id, ns, rows) + rows
        chain = [self._decode(r) for r in rows]
        if chain and chain[0].snapshot is None and chain[0].parent_id is not None:
            raise parent_missing(chain[0], self.location)
        return chain

    def _walk_on(self, cur: Cursor, thread_id: str, ns: str, chain: list[Any]) -> list[Any]:
        """The rest of a chain whose oldest row read names a parent that is
        not older (written by a machine whose clock was ahead, or a loop),
        oldest first: read a link at a time, each checked against the rows
        seen, so a loop is refused rather than followed."""
        seen = {_BY_ID(row) for row in chain}
        found: list[Any] = []
        row = chain[0]
        while row[_SNAPSHOT] is None and row[_PARENT_ID] is not None:
            parent_id = row[_PARENT_ID]
            if parent_id in seen:
                raise looping_link(thread_id, ns, _BY_ID(row), parent_id, self.location)
            seen.add(parent_id)
            cur.execute(self._sql(_ONE_ROW), (thread_id, ns, parent_id))
            row = cur.fetchone()
            if row is None:
                break
            found.append(row)
        found.reverse()
        return found

    def list_checkpoints(
        self,
        thread_id: str,
        ns: str,
        *,
        before: str | None = None,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[CheckpointRecord]:
        # ``source`` and ``step`` are compared in the WHERE clause and LIMIT
        # counts what it keeps; other filter keys are in the metadata blob:
        # those select the ids from narrow rows first (``_matching``).
        columns, rest = split_filter(filter)
        where = "thread_id = ? AND ns = ?"
        args: list[Any] = [thread_id, ns]
        for name, value in columns.items():
            where += f" AND {name} = ?"
            args.append(value)
        rows: list[Any] = []
        with self._read(_about(thread_id, ns)) as cur:
            if not rest:
                sql = f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE {where}"
                if before is not None:
                    sql, args = sql + " AND id < ?", [*args, before]
                sql += " ORDER BY id DESC" + (" LIMIT ?" if limit is not None else "")
                cur.execute(self._sql(sql), args + ([limit] if limit is not None else []))
                rows = cur.fetchall()
            else:
                ids = self._matching(cur, where, args, before, limit, rest)
                for start in range(0, len(ids), _IDS_AT_ONCE):
                    part = ids[start : start + _IDS_AT_ONCE]
                    cur.execute(
                        self._sql(
                            f"SELECT {COLUMNS} FROM cairn_checkpoints WHERE thread_id = ? AND ns = ? "
                            f"AND id IN ({', '.join('?' * len(part))}) ORDER BY id DESC"
                        ),
                        [thread_id, ns, *part],
                    )
                    rows += cur.fetchall()
        # All rows' blobs decoded together; else one by one, naming a damaged row.
        together = codec.decode_many(self.serde, rows)
        return iter(together) if together is not None else (self._decode(r) for r in rows)

    def _matching(
        self,
        cur: Cursor,
        where: str,
        args: list[Any],
        before: str | None,
        limit: int | None,
        rest: Mapping[str, Any],
    ) -> list[str]:
        """The ids, newest first, of rows meeting ``where`` below ``before``
        whose metadata holds ``rest``: up to ``limit`` of them, read from
        pages of narrow rows (no log, plan or snapshot), the first of four
        times ``limit``, each next one twice the last up to ``_NARROW_PAGE``."""
        found: list[str] = []
        size = _NARROW_PAGE if limit is None else max(32, 4 * limit)
        while limit is None or len(found) < limit:
            sql = (
                "SELECT thread_id, ns, id, source, step, metadata, parent_id, snapshot IS NOT NULL "
                f"FROM cairn_checkpoints WHERE {where}"
            )
            page_args = list(args)
            if before is not None:
                sql, page_args = sql + " AND id < ?", [*page_args, before]
            cur.execute(self._sql(sql + " ORDER BY id DESC LIMIT ?"), [*page_args, size])
            page = cur.fetchall()
            for thread_id, ns, cid, source, step, blob, parent_id, has_snapshot in page:
                metadata = codec.read_metadata(
                    self.serde,
                    blob,
                    source,
                    step,
                    (thread_id, ns, cid),
                    parent_id=parent_id,
                    has_snapshot=bool(has_snapshot),
                    location=self.location,
                )
                if metadata_matches(metadata, rest):
                    found.append(cid)
                    if limit is not None and len(found) >= limit:
                        break
            if len(page) < size:
                break
            before, size = page[-1][2], min(2 * size, _NARROW_PAGE)
        return found

    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        with self._read(_about(thread_id, ns, checkpoint_id, "pending writes of ")) as cur:
            cur.execute(
                self._sql(
                    "SELECT task_id, kind, value FROM cairn_pending "
                    "WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?"
                ),
                (thread_id, ns, checkpoint_id),
            )
            rows = cur.fetchall()
        try:
            at = (thread_id, ns, checkpoint_id)
            return [codec.decode_pending(self.serde, at, t, k, v) for t, k, v in rows]
        except Exception as exc:
            raise StorageError(
                f"pending writes of checkpoint {checkpoint_id!r} of thread {thread_id!r} in "
                f"{self.location} cannot be read: {exc}. {codec.stored_bytes_remedy(exc, thread_id)}"
            ) from exc

    def get_pending_many(
        self, thread_id: str, ns: str, checkpoint_ids: Sequence[str]
    ) -> dict[str, list[PendingWrite]]:
        if not checkpoint_ids:
            return {}
        wanted = set(checkpoint_ids)
        with self._read(_about(thread_id, ns, None, "pending writes of ")) as cur:  # one range of the key (ids sort by time), not one query each
            cur.execute(
                self._sql(
                    "SELECT checkpoint_id, task_id, kind, value FROM cairn_pending "
                    "WHERE thread_id = ? AND ns = ? AND checkpoint_id >= ? AND checkpoint_id <= ?"
                ),
                (thread_id, ns, min(wanted), max(wanted)),
            )
            rows = [row for row in cur.fetchall() if row[0] in wanted]
        found: dict[str, list[PendingWrite]] = {}
        try:
            for cid, task_id, kind, value in rows:
                write = codec.decode_pending(self.serde, (thread_id, ns, cid), task_id, kind, value)
                found.setdefault(cid, []).append(write)
        except Exception as exc:
            raise StorageError(
                f"pending writes of thread {thread_id!r} in {self.location} cannot be read: "
                f"{exc}. {codec.stored_bytes_remedy(exc, thread_id)}"
            ) from exc
        return found

    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointRecord | None:
        with self._read(_about(thread_id, ns, checkpoint_id, "the first child of ")) as cur:
            cur.execute(
                self._sql(
                    f"SELECT {NO_SNAPSHOT} FROM cairn_checkpoints "
                    "WHERE thread_id = ? AND ns = ? AND id > ? AND parent_id = ? ORDER BY id LIMIT 1"
                ),
                (thread_id, ns, checkpoint_id, checkpoint_id),
            )
            found = cur.fetchone()
        return self._decode(found) if found else None
