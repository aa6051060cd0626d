"""Assistants beyond one per graph: ``AssistantTable`` keeps those made with
``POST /assistants`` and their versions in the server's database (tables
``cairn_server_assistants`` and ``cairn_server_assistant_versions``,
``tables.py``), and ``find_assistant`` finds what a request or a run names:
a stored assistant, or a graph's own (by its id or the graph's id).

A stored assistant's row holds the fields of its latest version. An update
writes the next version (the highest number so far plus one) and makes it
the latest; ``set_latest`` copies an older version's fields back into the
row. Each graph's own assistant is not stored: it is the served graph,
with empty config and context, and it is never changed or deleted.

As in LangGraph's server, an assistant's ``context`` and its config's
``configurable`` mirror each other: given one, the other is the same.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Mapping, Protocol

from cairn.errors import RequestError
from cairn.server.db import ServerDB, now_iso
from cairn.server.graphs import Assistant, Assistants
from cairn.server.tables import ASSISTANT_VERSIONS, ASSISTANTS, CRONS

__all__ = ["AssistantTable", "Host", "bind", "find_assistant", "is_uuid", "mirrored", "new_row", "require_assistant"]

_JSON = ("config", "context", "metadata")
_FIELDS = ("graph_id", "config", "context", "metadata", "name", "description")
"""What a version holds besides its number and time."""


def mirrored(config: Mapping[str, Any], context: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``config`` and ``context`` made to agree: the context is the config's
    ``configurable`` when that is given, else ``configurable`` becomes the
    context. Both given is refused, as LangGraph's server does."""
    config = dict(config)
    configurable = config.get("configurable")
    if configurable is not None and not isinstance(configurable, dict):
        raise RequestError(f"config.configurable must be an object, got {configurable!r}")
    if configurable and context:
        raise RequestError(
            f"give either config.configurable ({configurable!r}) or context ({dict(context)!r}), not both: "
            "an assistant's context and its configurable are the same values (prefer context)"
        )
    if configurable:
        return config, dict(configurable)
    if context:
        config["configurable"] = dict(context)
        return config, dict(context)
    return config, {}


class AssistantTable:
    """The stored assistants of ``db``; every method is one short
    transaction, run on the database's thread as ``ServerDB``'s are."""

    def __init__(self, db: ServerDB) -> None:
        self.db = db

    @staticmethod
    def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            for name in _JSON:
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
        return rows

    @staticmethod
    def _values(row: Mapping[str, Any], names: tuple[str, ...]) -> list[Any]:
        return [json.dumps(row[n]) if n in _JSON else row[n] for n in names]

    def get(self, assistant_id: str) -> dict[str, Any] | None:
        rows = self.db._rows(f"SELECT * FROM {ASSISTANTS.name} WHERE assistant_id = ?", (assistant_id,))
        return self._decoded(rows)[0] if rows else None

    def of_graph(self, graph_id: str | None) -> list[dict[str, Any]]:
        """The stored assistants (of graph ``graph_id`` if given); filters on
        metadata and name, sorting and paging are the caller's."""
        if graph_id is None:
            return self._decoded(self.db._rows(f"SELECT * FROM {ASSISTANTS.name}"))
        return self._decoded(self.db._rows(f"SELECT * FROM {ASSISTANTS.name} WHERE graph_id = ?", (graph_id,)))

    def create(self, row: Mapping[str, Any], if_exists: str) -> dict[str, Any]:
        """Store ``row`` (every column of an assistant) as version 1; when
        its id is taken, the assistant there if ``if_exists`` is
        "do_nothing", else RequestError 409."""
        assistant_id = row["assistant_id"]
        with self.db._write() as cur:
            made = self.db._run(cur, ASSISTANTS.insert(), self._values(row, ASSISTANTS.names)).rowcount
            if made == 1:
                self.db._run(cur, ASSISTANT_VERSIONS.insert(keep_existing=False), self._values(row, ASSISTANT_VERSIONS.names))
            elif if_exists != "do_nothing":
                raise RequestError(
                    f"assistant {assistant_id!r} already exists; pass if_exists='do_nothing' to get it, "
                    "or update it (PATCH /assistants/{id})",
                    409,
                )
        found = self.get(assistant_id)
        assert found is not None
        return found

    def update(self, assistant_id: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Write the next version: the latest's fields with ``changes``
        (``metadata`` merged into the assistant's), and make it the latest.
        None if there is no such assistant."""
        now = now_iso()
        with self.db._write() as cur:
            # Written first: a second update of the assistant waits for this one, then reads what it wrote.
            touched = self.db._run(
                cur, f"UPDATE {ASSISTANTS.name} SET updated_at = ? WHERE assistant_id = ?", (now, assistant_id)
            ).rowcount
            if touched == 0:
                return None
            found = self.db._row(cur, f"SELECT * FROM {ASSISTANTS.name} WHERE assistant_id = ?", (assistant_id,))
            assert found is not None  # its row was just updated
            row = self._decoded([found])[0]
            top = self.db._run(
                cur, f"SELECT MAX(version) FROM {ASSISTANT_VERSIONS.name} WHERE assistant_id = ?", (assistant_id,)
            ).fetchone()[0]
            version = int(top or 0) + 1
            new = {**row, **changes, "version": version, "created_at": now, "updated_at": now}
            if "metadata" in changes:
                new["metadata"] = {**row["metadata"], **changes["metadata"]}
            self.db._run(cur, ASSISTANT_VERSIONS.insert(keep_existing=False), self._values(new, ASSISTANT_VERSIONS.names))
            self._set(cur, assistant_id, new, version, now)
        return self.get(assistant_id)

    def _set(self, cur: Any, assistant_id: str, fields: Mapping[str, Any], version: int, now: str) -> None:
        assignments = ", ".join(f"{name} = ?" for name in _FIELDS)
        self.db._run(
            cur,
            f"UPDATE {ASSISTANTS.name} SET {assignments}, version = ?, updated_at = ? WHERE assistant_id = ?",
            (*self._values(fields, _FIELDS), version, now, assistant_id),
        )

    def versions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version of the assistant, the newest first (filters on
        metadata and paging are the caller's)."""
        rows = self.db._rows(
            f"SELECT * FROM {ASSISTANT_VERSIONS.name} WHERE assistant_id = ? ORDER BY version DESC", (assistant_id,)
        )
        return self._decoded(rows)

    def set_latest(self, assistant_id: str, version: int) -> dict[str, Any] | None:
        """Make ``version`` the assistant's latest: its fields become the
        assistant's. None if the assistant has no such version."""
        with self.db._write() as cur:
            found = self.db._row(
                cur, f"SELECT * FROM {ASSISTANT_VERSIONS.name} WHERE assistant_id = ? AND version = ?", (assistant_id, version)
            )
            if found is None:
                return None
            chosen = self._decoded([found])[0]
            self._set(cur, assistant_id, chosen, version, now_iso())
        return self.get(assistant_id)

    def delete(self, assistant_id: str) -> bool:
        """Forget the assistant, its versions and its crons; False if there was none."""
        with self.db._write() as cur:
            # The assistant's row first: an update under way finishes before, so its version goes too.
            gone = self.db._run(cur, f"DELETE FROM {ASSISTANTS.name} WHERE assistant_id = ?", (assistant_id,)).rowcount
            self.db._run(cur, f"DELETE FROM {ASSISTANT_VERSIONS.name} WHERE assistant_id = ?", (assistant_id,))
            self.db._run(cur, f"DELETE FROM {CRONS.name} WHERE assistant_id = ?", (assistant_id,))
            return bool(gone > 0)


class Host(Protocol):
    """What finding an assistant needs: the server's (``http.Server``) or a worker's (``worker.Workers``) parts."""

    db: ServerDB
    assistants: Assistants

    async def call(self, fn: Any, *args: Any) -> Any: ...


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID string (a stored assistant's id is one)."""
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def bind(assistants: Assistants, row: Mapping[str, Any]) -> Assistant:
    """Stored assistant ``row`` with the served graph it runs; RequestError
    (422) when this server does not serve that graph."""
    own = assistants.of_graph(row["graph_id"])
    if own is None:
        raise RequestError(
            f"assistant {row['assistant_id']!r} runs graph {row['graph_id']!r}, which this server does not serve "
            f"(it serves {assistants.graph_ids}): serve that graph, or point the assistant at another (PATCH graph_id)"
        )
    return Assistant(row["assistant_id"], row["graph_id"], own.graph, row["created_at"], row["config"], row["context"])


async def find_assistant(host: Host, assistant_id: Any) -> Assistant | None:
    """The assistant ``assistant_id`` names, with the graph it runs: a
    graph's own (by its id or the graph id) or a stored one. None when
    there is none; RequestError (422) when it runs a graph not served here."""
    own = host.assistants.find(assistant_id)
    if own is not None:
        return own
    if not is_uuid(assistant_id):
        return None
    row = await host.call(AssistantTable(host.db).get, assistant_id)
    return None if row is None else bind(host.assistants, row)


async def require_assistant(host: Host, assistant_id: Any, status: int = 404) -> Assistant:
    """``find_assistant``'s, or RequestError with ``status`` naming the id."""
    found = await find_assistant(host, assistant_id)
    if found is None:
        raise RequestError(
            f"no assistant {assistant_id!r}: give the id of an assistant (POST /assistants/search lists them) "
            f"or one of the graph ids {host.assistants.graph_ids}",
            status,
        )
    return found


def new_row(assistant_id: str, graph_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The row of a new assistant: version 1 with ``fields`` (config,
    context, metadata, name, description)."""
    now = now_iso()
    return {"assistant_id": assistant_id, "graph_id": graph_id, **fields, "version": 1, "created_at": now, "updated_at": now}
