"""The server's own tables: thread records and the run queue.

They live in the checkpoint database beside the saver's tables, named
``cairn_server_*`` with their own schema version (``cairn_server_meta``), as
the store's do. Statements are written once with "?" placeholders and
declared with the savers' table layout, so that a Postgres version is the
same SQL through its dialect.

Values are JSON text: metadata, a run's arguments, a thread's last values.
"""

from __future__ import annotations

from cairn.checkpoint.sql.layout import Column, Kind, Role, Table

__all__ = [
    "ASSISTANTS", "ASSISTANTS_INDEXES", "ASSISTANTS_VERSION", "ASSISTANT_VERSIONS", "CRONS", "CRONS_INDEXES",
    "CRONS_VERSION", "EVENTS", "INDEXES", "META", "RUNS", "SCHEMA_VERSION", "TABLES", "THREADS",
]

SCHEMA_VERSION = 1

META = Table(
    "cairn_server_meta",
    (Column("key", Kind.KEY, Role.KEY), Column("value", Kind.TEXT)),
)

THREADS = Table(
    "cairn_server_threads",
    (
        Column("thread_id", Kind.KEY, Role.KEY),
        Column("metadata", Kind.TEXT),
        Column("status", Kind.TEXT),
        Column("created_at", Kind.TEXT),
        Column("updated_at", Kind.TEXT),
        # The values of the thread's head as JSON, kept at the end of each run.
        Column("state_values", Kind.TEXT, null=True),
        Column("interrupts", Kind.TEXT, null=True),
        Column("error", Kind.TEXT, null=True),
    ),
)

RUNS = Table(
    "cairn_server_runs",
    (
        Column("run_id", Kind.KEY, Role.KEY),
        Column("thread_id", Kind.KEY),
        Column("assistant_id", Kind.TEXT),
        Column("status", Kind.TEXT),  # pending, running, success, error, interrupted
        Column("kwargs", Kind.TEXT),
        Column("metadata", Kind.TEXT),
        Column("multitask_strategy", Kind.TEXT),
        Column("created_at", Kind.TEXT),
        Column("updated_at", Kind.TEXT),
        Column("attempts", Kind.INT),
        # Who runs it (a lease owner naming its process), while it runs, and
        # until when (seconds since the epoch, the database's clock): past
        # that a live server may take the run over.
        Column("owner", Kind.TEXT, null=True),
        Column("lease_until", Kind.REAL, null=True),
        Column("cancel", Kind.TEXT, null=True),  # "interrupt" or "rollback" once asked for
        Column("error", Kind.TEXT, null=True),
        Column("temporary", Kind.INT),  # 1: a stateless run, whose thread goes when it ends
        Column("outcome", Kind.TEXT, null=True),  # JSON: what runs/wait answers, once over
    ),
)

EVENTS = Table(
    "cairn_server_events",
    (
        Column("run_id", Kind.KEY, Role.KEY),
        Column("seq", Kind.INT, Role.KEY),  # the event's number in its run's stream, from 0
        Column("event", Kind.TEXT),
        Column("data", Kind.TEXT),  # JSON text, as sent
    ),
)
"""Each run's stream events, written by the process running it, so that a
client of another process (or one joining again with Last-Event-ID after a
restart) gets them."""

TABLES = (META, THREADS, RUNS, EVENTS)

INDEXES = (
    "CREATE INDEX cairn_server_runs_queue ON cairn_server_runs (status, run_id)",
    "CREATE INDEX cairn_server_runs_thread ON cairn_server_runs (thread_id, run_id)",
    "CREATE INDEX cairn_server_threads_updated ON cairn_server_threads (updated_at)",
)

CRONS_VERSION = 1
"""The schema version of the crons table, kept in ``cairn_server_meta`` under
"crons_schema_version": a database made before crons gains the table."""

CRONS = Table(
    "cairn_server_crons",
    (
        Column("cron_id", Kind.KEY, Role.KEY),
        Column("assistant_id", Kind.TEXT),
        Column("thread_id", Kind.TEXT, null=True),  # None: each firing runs on a new thread
        Column("schedule", Kind.TEXT),  # five cron fields
        Column("timezone", Kind.TEXT, null=True),  # an IANA name; None: UTC
        Column("payload", Kind.TEXT),  # JSON: the run's fields (input, config, ...)
        Column("metadata", Kind.TEXT),
        Column("on_run_completed", Kind.TEXT, null=True),  # stateless: "delete" or "keep" the thread
        Column("end_time", Kind.TEXT, null=True),  # ISO time after which no slot fires
        Column("enabled", Kind.INT),
        # The next slot to fire, in whole seconds since the epoch (None: none
        # left, or disabled). A firing moves it from the slot it read to the
        # following one by a conditional UPDATE, in the transaction that
        # queues the run: whoever moves it fired the slot.
        Column("next_run_at", Kind.BIGINT, null=True),
        Column("created_at", Kind.TEXT),
        Column("updated_at", Kind.TEXT),
    ),
)

CRONS_INDEXES = ("CREATE INDEX cairn_server_crons_due ON cairn_server_crons (next_run_at)",)

ASSISTANTS_VERSION = 1
"""The schema version of the assistants tables, kept in ``cairn_server_meta``
under "assistants_schema_version": a database made before them gains them."""

ASSISTANTS = Table(
    "cairn_server_assistants",
    (
        Column("assistant_id", Kind.KEY, Role.KEY),
        # What the assistant is now: a copy of its latest version's fields.
        Column("graph_id", Kind.TEXT),
        Column("config", Kind.TEXT),  # JSON
        Column("context", Kind.TEXT),  # JSON
        Column("metadata", Kind.TEXT),  # JSON
        Column("name", Kind.TEXT),
        Column("description", Kind.TEXT, null=True),
        Column("version", Kind.INT),  # the latest version's number
        Column("created_at", Kind.TEXT),
        Column("updated_at", Kind.TEXT),
    ),
)
"""The assistants made with ``POST /assistants`` (each graph's own assistant
is not stored: it is the served graph itself, ``graphs.py``)."""

ASSISTANT_VERSIONS = Table(
    "cairn_server_assistant_versions",
    (
        Column("assistant_id", Kind.KEY, Role.KEY),
        Column("version", Kind.INT, Role.KEY),  # 1, 2, ...: each update makes the next
        Column("graph_id", Kind.TEXT),
        Column("config", Kind.TEXT),
        Column("context", Kind.TEXT),
        Column("metadata", Kind.TEXT),
        Column("name", Kind.TEXT),
        Column("description", Kind.TEXT, null=True),
        Column("created_at", Kind.TEXT),
    ),
)
"""Every version of each stored assistant, kept until the assistant is deleted."""

ASSISTANTS_INDEXES = ("CREATE INDEX cairn_server_assistants_graph ON cairn_server_assistants (graph_id)",)
