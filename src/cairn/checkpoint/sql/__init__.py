"""What the SQL savers share: the tables, the statements and the logic of the
saver contract over them. A backend supplies a connection with transactions
(``_write`` / ``_read``) and its placeholder style; the statements here are
plain SQL that SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from cairn.checkpoint import codec
from cairn.checkpoint.base import (
    Checkpoint,
    Lease,
    PendingWrite,
    PutItem,
    already_stored,
    lease_lost,
    metadata_matches,
    split_filter,
)
from cairn.checkpoint.sql.tables import (
    CLEAR_PENDING,
    COLUMNS,
    INSERT,
    INSERT_LINKED,
    INSERT_PENDING,
    NO_SNAPSHOT,
    RENEW_LEASE,
    SCHEMA_VERSION,
    Cursor,
    params,
    upgrade,
)
from cairn.checkpoint.sql.threads import SqlThreads
from cairn.checkpoint.serde import Serializer
from cairn.checkpoint.tips import Tips
from cairn.errors import StorageError

__all__ = ["SCHEMA_VERSION", "Cursor", "Link", "SqlSaver", "upgrade"]


def _bytes(blob: Any) -> bytes:
    """A blob column as bytes (some drivers hand back memoryviews)."""
    return bytes(blob) if isinstance(blob, memoryview) else blob


_NARROW_PAGE = 1024
"""The most rows of ids and metadata a filter on metadata keys reads at a time."""
_IDS_AT_ONCE = 256
"""Ids a statement names (drivers bound the number of parameters)."""


class _LongWay(Exception):
    """Rolls back a short-way put that has to take the long way."""


@dataclass(frozen=True, slots=True)
class Link:
    """A row to store after its parent, with its pending writes, and whether
    the parent's pending writes are cleared."""

    row: codec.Row
    pending: Sequence[PendingWrite]
    clear: bool


class SqlSaver(SqlThreads):
    """The saver contract over SQL tables ``cairn_checkpoints`` and ``cairn_pending``."""

    def __init__(self, serde: Serializer | None = None) -> None:
        super().__init__(serde)
        self._tips = Tips()

    # -- decoding ------------------------------------------------------------

    def _decode(self, values: Sequence[Any], with_snapshot: bool = True) -> Checkpoint:
        """The checkpoint of a row selected as ``COLUMNS`` (or ``NO_SNAPSHOT``)."""
        thread_id, ns, cid, parent_id, step, source, metadata, writes, plan, snapshot = values[:10]
        try:
            return codec.decode_columns(
                self.serde,
                thread_id,
                ns,
                cid,
                parent_id,
                step,
                source,
                _bytes(metadata),
                _bytes(writes),
                _bytes(plan),
                _bytes(snapshot) if with_snapshot and snapshot is not None else None,
            )
        except Exception as exc:
            raise StorageError(
                f"checkpoint {cid!r} of thread {thread_id!r} in {self.location} cannot be "
                f"read: {exc}. {codec.stored_bytes_remedy(exc, thread_id)}"
            ) from exc

    # -- the contract ----------------------------------------------------------

    def put(
        self,
        checkpoint: Checkpoint,
        values: Mapping[str, Any],
        pending: Sequence[PendingWrite] = (),
        lease: Lease | None = None,
    ) -> None:
        if lease is not None and self._put_leased([(checkpoint, values, pending)], lease):
            return
        with self._write() as cur:
            self._check(cur, lease)
            # The parent's counters are read in the same transaction: if another
            # process deleted the parent, this checkpoint becomes a root with a
            # snapshot instead of a link to nothing.
            parent = self._counters(cur, checkpoint) if checkpoint.parent_id is not None else None
            row = codec.encode(self.serde, checkpoint, values, parent, self.snapshot_policy.ratio)
            cur.execute(self._sql(INSERT), params(row))
            if cur.rowcount != 1:
                raise already_stored(checkpoint, self.location)
            if checkpoint.parent_id is not None:
                cur.execute(self._sql(CLEAR_PENDING), (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id))
            self._insert_pending(cur, row.thread_id, row.ns, row.id, pending)
        if lease is not None:
            self._tips.stored(lease, row, bool(pending))

    def put_many(self, items: Sequence[PutItem], lease: Lease | None = None) -> None:
        if lease is None or len(items) < 2 or not self._put_leased(items, lease):
            super().put_many(items, lease)

    def _put_leased(self, items: Sequence[PutItem], lease: Lease) -> bool:
        """The short way of puts under a lease, all in one commit; False, with
        nothing stored, when they have to take the long way (the parent is
        gone, or a checkpoint is already stored).

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
            with self._read() as cur:
                counters, clear = self._counters(cur, checkpoint), True
            if counters is None:
                return False
        links = []
        for index, (checkpoint, values, pending) in enumerate(items):
            row = codec.encode(self.serde, checkpoint, values, counters, self.snapshot_policy.ratio)
            # Pending writes of a checkpoint whose child is stored with it
            # would be cleared by that child at once: they are not stored.
            last = index == len(items) - 1
            links.append(Link(row, pending if last else (), clear))
            counters, clear = (row.snapshot_bytes, row.log_bytes), False
        if not self._put_links(links, lease):
            return False
        self._tips.stored(lease, links[-1].row, bool(links[-1].pending))
        return True

    def _counters(self, cur: Cursor, checkpoint: Checkpoint) -> tuple[int, int] | None:
        """The (snapshot_bytes, log_bytes) of ``checkpoint``'s parent, if stored."""
        cur.execute(
            self._sql(
                "SELECT snapshot_bytes, log_bytes FROM cairn_checkpoints "
                "WHERE thread_id = ? AND ns = ? AND id = ?"
            ),
            (checkpoint.thread_id, checkpoint.ns, checkpoint.parent_id),
        )
        found = cur.fetchone()
        return (int(found[0]), int(found[1])) if found else None

    def _put_links(self, links: Sequence[Link], lease: Lease) -> bool:
        """Store ``links`` in one transaction, each after its parent; False,
        with nothing stored, when a parent is not there or a row already is.
        Raises when ``lease`` was lost."""
        try:
            with self._write() as cur:
                for link in links:
                    if not self._insert_link(cur, link, lease):
                        raise _LongWay
        except _LongWay:
            return False
        return True

    def _insert_link(self, cur: Cursor, link: Link, lease: Lease) -> bool:
        """Store one link inside a write: renew the lease, insert the row if
        its parent is there, clear the parent's pending writes when asked,
        add the row's; False when the row was not inserted."""
        self._check(cur, lease)
        row = link.row
        if row.parent_id is None:
            cur.execute(self._sql(INSERT), params(row))
        else:
            cur.execute(self._sql(INSERT_LINKED), (*params(row), row.thread_id, row.ns, row.parent_id))
        if cur.rowcount != 1:
            return False
        if link.clear:
            cur.execute(self._sql(CLEAR_PENDING), (row.thread_id, row.ns, row.parent_id))
        self._insert_pending(cur, row.thread_id, row.ns, row.id, link.pending)
        return True

    def put_pending(
        self,
        thread_id: str,
        ns: str,
        checkpoint_id: str,
        writes: Sequence[PendingWrite],
        lease: Lease | None = None,
    ) -> None:
        with self._write() as cur:
            self._check(cur, lease)
            self._insert_pending(cur, thread_id, ns, checkpoint_id, writes)
        if lease is not None and writes:
            self._tips.pending(lease, ns, checkpoint_id)

    def _insert_pending(
        self, cur: Cursor, thread_id: str, ns: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        for w in writes:
            blob = codec.encode_pending(self.serde, (thread_id, ns, checkpoint_id), w)
            params = (thread_id, ns, checkpoint_id, w.task_id, w.kind, blob)
            cur.execute(self._sql(INSERT_PENDING), params)

    # -- one writer per thread ---------------------------------------------------

    # acquire, renew and release: each backend's own statements (lease writes
    # skip the wait for the disk, each in its own way).

    def _renewed(self, cur: Cursor, lease: Lease) -> bool:
        cur.execute(self._sql(RENEW_LEASE), (lease.ttl, lease.thread_id, lease.owner))
        return bool(cur.rowcount == 1)

    def _check(self, cur: Cursor, lease: Lease | None) -> None:
        """Renew ``lease`` inside a write, or refuse the write."""
        if lease is not None and not self._renewed(cur, lease):
            raise lease_lost(lease)

    def get(self, thread_id: str, ns: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        with self._read() as cur:
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
        return self._decode(found, with_snapshot=False) if found else None

    def get_chain(self, thread_id: str, ns: str, checkpoint_id: str) -> list[Checkpoint]:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "WITH RECURSIVE chain(id, parent_id, done) AS ("
                    " SELECT id, parent_id, snapshot IS NOT NULL FROM cairn_checkpoints"
                    "  WHERE thread_id = ? AND ns = ? AND id = ?"
                    " UNION ALL"
                    " SELECT c.id, c.parent_id, c.snapshot IS NOT NULL FROM cairn_checkpoints c"
                    "  JOIN chain ON c.id = chain.parent_id"
                    "  WHERE c.thread_id = ? AND c.ns = ? AND NOT chain.done)"
                    f" SELECT {COLUMNS} FROM cairn_checkpoints"
                    " WHERE thread_id = ? AND ns = ? AND id IN (SELECT id FROM chain) ORDER BY id"
                ),
                (thread_id, ns, checkpoint_id, thread_id, ns, thread_id, ns),
            )
            rows = cur.fetchall()
        return [self._decode(r) for r in rows]

    def list_checkpoints(
        self,
        thread_id: str,
        ns: str,
        *,
        before: str | None = None,
        limit: int | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Iterator[Checkpoint]:
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
        with self._read() as cur:
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
        together = codec.decode_many(self.serde, rows) if rows and type(rows[0][6]) is bytes else None
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
            sql = f"SELECT thread_id, ns, id, source, step, metadata FROM cairn_checkpoints WHERE {where}"
            page_args = list(args)
            if before is not None:
                sql, page_args = sql + " AND id < ?", [*page_args, before]
            cur.execute(self._sql(sql + " ORDER BY id DESC LIMIT ?"), [*page_args, size])
            page = cur.fetchall()
            for thread_id, ns, cid, source, step, blob in page:
                try:
                    metadata = codec.decode_metadata(
                        self.serde, _bytes(blob), source, step, (thread_id, ns, cid)
                    )
                except Exception as exc:
                    raise StorageError(
                        f"the metadata of checkpoint {cid!r} of thread {thread_id!r} in "
                        f"{self.location} cannot be read: {exc}. "
                        f"{codec.stored_bytes_remedy(exc, thread_id)}"
                    ) from exc
                if metadata_matches(metadata, rest):
                    found.append(cid)
                    if limit is not None and len(found) >= limit:
                        break
            if len(page) < size:
                break
            before, size = page[-1][2], min(2 * size, _NARROW_PAGE)
        return found

    def get_pending(self, thread_id: str, ns: str, checkpoint_id: str) -> list[PendingWrite]:
        with self._read() as cur:
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
            return [codec.decode_pending(self.serde, at, t, k, bytes(v)) for t, k, v in rows]
        except Exception as exc:
            raise StorageError(
                f"pending writes of checkpoint {checkpoint_id!r} of thread {thread_id!r} in "
                f"{self.location} cannot be read: {exc}. {codec.stored_bytes_remedy(exc, thread_id)}"
            ) from exc

    def first_child(self, thread_id: str, ns: str, checkpoint_id: str) -> Checkpoint | None:
        with self._read() as cur:
            cur.execute(
                self._sql(
                    f"SELECT {NO_SNAPSHOT} FROM cairn_checkpoints "
                    "WHERE thread_id = ? AND ns = ? AND id > ? AND parent_id = ? ORDER BY id LIMIT 1"
                ),
                (thread_id, ns, checkpoint_id, checkpoint_id),
            )
            found = cur.fetchone()
        return self._decode(found, with_snapshot=False) if found else None
