"""Writes ``paused_before_response_schema.sqlite``: a SqliteSaver file whose
thread "t" is paused in ``interrupt("name?")``, its pending interrupt stored
as cairn stored them before interrupts had a ``response_schema`` (an
``[id, value]`` pair). Made once, with the cairn of commit db7bb67 (run from
a checkout of it, with ``PYTHONPATH=src``):

    python3 -m tests.stored_formats.make

tests/test_response_schema.py checks that a newer cairn reads and resumes it.
"""

from __future__ import annotations

from pathlib import Path

from cairn.checkpoint.sqlite import SqliteSaver
from tests.stored_formats.graph import build

HERE = Path(__file__).parent

if __name__ == "__main__":
    target = HERE / "paused_before_response_schema.sqlite"
    target.unlink(missing_ok=True)
    with SqliteSaver(target) as saver:
        build(saver).invoke({"log": []}, {"configurable": {"thread_id": "t"}})
    # one file: the WAL folded in
    import sqlite3

    con = sqlite3.connect(target)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
