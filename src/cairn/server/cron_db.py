"""``CronTable``: the crons of ``cairn serve`` in the server's database
(table ``cairn_server_crons``, ``tables.py``), and the firing of a due slot.

A slot fires exactly once however many servers and workers share the
database: a firing moves the cron's ``next_run_at`` from the slot it read
to the following one with a conditional UPDATE, in the transaction that
queues the run. Only one process's UPDATE finds the slot it read (SQLite
holds the file for the transaction; Postgres re-checks the row after the
other transaction commits), and a crash before the commit loses neither the
slot nor the run. The database's clock decides what is due, so hosts whose
clocks differ agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from cairn.server.db import ServerDB
from cairn.server.schedule import next_slot
from cairn.server.tables import CRONS, RUNS, THREADS

__all__ = ["CronTable", "Fired", "end_of"]

def end_of(row: Mapping[str, Any]) -> float | None:
    """The cron's end_time in seconds since the epoch (None: it has none)."""
    end = row.get("end_time")
    return None if end is None else datetime.fromisoformat(end).timestamp()


def following_slot(row: Mapping[str, Any], after: float) -> int | None:
    """The cron's first slot after ``after``; None when disabled or past its end_time."""
    if not row["enabled"]:
        return None
    slot = next_slot(row["schedule"], row["timezone"], after)
    end = end_of(row)
    return None if end is not None and slot > end else slot


@dataclass(frozen=True)
class Fired:
    """What a firing queued: the run (None: the slot passed without one) and
    the runs its multitask strategy asked to stop."""

    run: dict[str, Any] | None
    stopped: list[str]


Plan = Callable[[dict[str, Any]], "tuple[dict[str, Any], dict[str, Any]] | None"]
"""Makes a due cron's run and its thread's metadata (None: no run this slot)."""


class CronTable:
    """The crons in ``db``; every method is one short transaction, run on
    the database's thread as ``ServerDB``'s are."""

    def __init__(self, db: ServerDB) -> None:
        self.db = db

    def _decoded(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            row["payload"] = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
            row["enabled"] = bool(row["enabled"])
        return rows

    def create(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store a new cron (``row`` holds every column but next_run_at,
        payload and metadata as values); its first slot comes after now."""
        with self.db._write() as cur:
            now = float(self.db._run(cur, "SELECT {now}").fetchone()[0])
            stored = {**row, "next_run_at": following_slot(row, now)}
            values = [json.dumps(stored[n]) if n in ("payload", "metadata") else stored[n] for n in CRONS.names]
            values[CRONS.position("enabled")] = int(bool(stored["enabled"]))
            self.db._run(cur, f"INSERT INTO {CRONS.name} ({', '.join(CRONS.names)}) VALUES ({CRONS.marks})", values)
        found = self.get(row["cron_id"])
        assert found is not None
        return found

    def get(self, cron_id: str) -> dict[str, Any] | None:
        rows = self._decoded(self.db._rows(f"SELECT * FROM {CRONS.name} WHERE cron_id = ?", (cron_id,)))
        return rows[0] if rows else None

    def search(self, assistant_id: str | None, thread_id: str | None, enabled: bool | None) -> list[dict[str, Any]]:
        """The crons of an assistant, of a thread, enabled or not (filters on
        metadata, sorting and paging are the caller's)."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("assistant_id", assistant_id), ("thread_id", thread_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if enabled is not None:
            where.append("enabled = ?")
            args.append(int(enabled))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._decoded(self.db._rows(f"SELECT * FROM {CRONS.name}{clause} ORDER BY cron_id", args))

    def update(self, cron_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Change the columns in ``changes``; the next slot is found again
        from now when the schedule, time zone, end_time or enabled change.
        None if there is no such cron."""
        with self.db._write() as cur:
            found = self.db._row(cur, f"SELECT * FROM {CRONS.name} WHERE cron_id = ?", (cron_id,))
            if found is None:
                return None
            row = {**found, **changes}
            sets = dict(changes)
            if {"schedule", "timezone", "end_time", "enabled"} & changes.keys():
                sets["next_run_at"] = following_slot(row, float(self.db._run(cur, "SELECT {now}").fetchone()[0]))
            for name in ("payload", "metadata"):
                if name in sets:
                    sets[name] = json.dumps(sets[name])
            if "enabled" in sets:
                sets["enabled"] = int(bool(sets["enabled"]))
            assignments = ", ".join(f"{name} = ?" for name in sets)
            self.db._run(cur, f"UPDATE {CRONS.name} SET {assignments} WHERE cron_id = ?", (*sets.values(), cron_id))
        return self.get(cron_id)

    def delete(self, cron_id: str) -> bool:
        with self.db._write() as cur:
            return bool(self.db._run(cur, f"DELETE FROM {CRONS.name} WHERE cron_id = ?", (cron_id,)).rowcount > 0)

    def due(self) -> list[tuple[str, int]]:
        """The crons whose next slot has come (by the database's clock): (cron id, slot)."""
        rows = self.db._rows(
            f"SELECT cron_id, next_run_at FROM {CRONS.name} WHERE next_run_at <= {{now}} ORDER BY next_run_at"
        )
        return [(r["cron_id"], int(r["next_run_at"])) for r in rows]

    def fire(self, cron_id: str, slot: int, plan: Plan, updated_at: str) -> Fired | None:
        """Fire ``slot`` of the cron, unless another process did (None).

        The cron's next slot becomes the first one after now: slots missed
        while no server ran give one run, not one each. ``plan`` makes the
        run; it is queued in this transaction under the cron's multitask
        strategy ("reject": the slot passes without a run when its thread
        is busy). A cron whose thread is gone is deleted."""
        with self.db._write() as cur:
            now = float(self.db._run(cur, "SELECT {now}").fetchone()[0])
            found = self.db._row(
                cur, f"SELECT * FROM {CRONS.name} WHERE cron_id = ? AND next_run_at = ?", (cron_id, slot)
            )
            if found is None:
                return None
            row = self._decoded([found])[0]
            row["metadata"] = json.loads(row["metadata"])
            moved = self.db._run(
                cur,
                f"UPDATE {CRONS.name} SET next_run_at = ?, updated_at = ? WHERE cron_id = ? AND next_run_at = ?",
                (following_slot(row, max(now, slot)), updated_at, cron_id, slot),
            ).rowcount
            if moved != 1:
                return None  # another process fired it first
            end = end_of(row)
            if end is not None and slot > end:
                return Fired(None, [])
            thread_id = row["thread_id"]
            if thread_id is not None and not self._exists(cur, thread_id):
                self.db._run(cur, f"DELETE FROM {CRONS.name} WHERE cron_id = ?", (cron_id,))
                return Fired(None, [])
            planned = plan(row)
            if planned is None:
                return Fired(None, [])
            run, thread_metadata = planned
            strategy = run["multitask_strategy"]
            if thread_id is None:
                self.db._run(
                    cur,
                    f"INSERT INTO {THREADS.name} (thread_id, metadata, status, created_at, updated_at) "
                    "VALUES (?, ?, 'idle', ?, ?)",
                    (run["thread_id"], json.dumps(thread_metadata), updated_at, updated_at),
                )
            else:
                if strategy == "reject" and self._busy(cur, thread_id):
                    return Fired(None, [])
                self._merge_metadata(cur, thread_id, thread_metadata)
            stopped = self.db._insert_run(cur, run, strategy)
            return Fired(run, stopped)

    def _exists(self, cur: Any, thread_id: str) -> bool:
        return self.db._run(cur, f"SELECT 1 FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).fetchone() is not None

    def _busy(self, cur: Any, thread_id: str) -> bool:
        found = self.db._run(
            cur, f"SELECT 1 FROM {RUNS.name} WHERE thread_id = ? AND status IN ('pending', 'running')", (thread_id,)
        )
        return found.fetchone() is not None

    def _merge_metadata(self, cur: Any, thread_id: str, metadata: Mapping[str, Any]) -> None:
        row = self.db._run(cur, f"SELECT metadata FROM {THREADS.name} WHERE thread_id = ?", (thread_id,)).fetchone()
        merged: Sequence[Any] = (json.dumps({**json.loads(row[0]), **metadata}), thread_id)
        self.db._run(cur, f"UPDATE {THREADS.name} SET metadata = ? WHERE thread_id = ?", merged)
