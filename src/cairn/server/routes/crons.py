"""Crons: runs on a schedule, on a thread (``POST /threads/{id}/runs/crons``)
or stateless (``POST /runs/crons``: each firing runs on a new thread);
searched, counted, read, updated (PATCH) and deleted under ``/runs/crons``.

A cron stores the fields of the run it makes (input, config, context,
interrupt_before/after, stream_mode, durability, multitask_strategy) and
checks them as ``POST /threads/{id}/runs`` would, when created and when
updated. How a cron fires, and what missed slots and busy threads do, is
``cairn.server.crons``'s.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import RequestError
from cairn.server.assistant_db import require_assistant
from cairn.server.cron_db import CronTable
from cairn.server.graphs import Assistant
from cairn.server.db import now_iso
from cairn.server.http import Server, body_of, json_response, server_of, thread_or_404
from cairn.server.records import matches
from cairn.server.runinput import STRATEGIES, check_run_fields
from cairn.server.schedule import check_schedule, check_timezone
from cairn.server.validate import Fields, check_uuid

__all__ = ["cron_json", "routes"]

RUN_FIELDS = (
    "input", "config", "context", "interrupt_before", "interrupt_after", "stream_mode",
    "stream_subgraphs", "stream_resumable", "durability", "multitask_strategy",
)
"""The fields of a cron's body that make its run (kept as its ``payload``)."""

FIELDS = (
    "cron_id", "assistant_id", "thread_id", "on_run_completed", "end_time", "schedule", "timezone",
    "created_at", "updated_at", "payload", "user_id", "next_run_date", "metadata", "enabled",
)
"""The fields of a cron as answered (``select`` picks among them)."""

SORTS = ("cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time")


def cron_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A cron as LangGraph's server answers it."""
    slot = row["next_run_at"]
    return {
        "cron_id": row["cron_id"],
        "assistant_id": row["assistant_id"],
        "thread_id": row["thread_id"],
        "on_run_completed": row["on_run_completed"],
        "end_time": row["end_time"],
        "schedule": row["schedule"],
        "timezone": row["timezone"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "payload": row["payload"],
        "user_id": None,
        "next_run_date": None if slot is None else datetime.fromtimestamp(int(slot), timezone.utc).isoformat(),
        "metadata": row["metadata"],
        "enabled": row["enabled"],
    }


def _end_time(value: Any) -> str | None:
    """An ISO 8601 time (UTC when it names no offset), as stored."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"field 'end_time' must be an ISO 8601 time such as '2030-01-01T00:00:00Z', got {value!r}")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(f"field 'end_time' must be an ISO 8601 time such as '2030-01-01T00:00:00Z', got {value!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).isoformat()


def _payload(assistant: Assistant, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The run fields of a cron, checked against its assistant's graph."""
    payload = {k: fields[k] for k in RUN_FIELDS if fields.get(k) is not None}
    Fields(payload).choice("multitask_strategy", STRATEGIES, None)
    check_run_fields(payload, assistant)
    return payload


def _no_webhook(body: Fields) -> None:
    if body.body.get("webhook") is not None:
        raise RequestError(
            f"field 'webhook' is not supported by cairn serve (got {body.body['webhook']!r}); "
            "watch the cron's runs instead (runs.list on its thread, or threads.search by metadata cron_id)"
        )


async def create(request: Request) -> Response:
    """``POST /runs/crons`` (stateless) and ``POST /threads/{thread_id}/runs/crons``."""
    server = server_of(request)
    body = await body_of(request)
    thread_id = request.path_params.get("thread_id")
    if thread_id is not None:
        await thread_or_404(server, thread_id)
    assistant = await require_assistant(server, body.body.get("assistant_id"), 422)
    _no_webhook(body)
    on_completed = body.choice("on_run_completed", ("delete", "keep"), None)
    if thread_id is not None and on_completed is not None:
        raise RequestError("field 'on_run_completed' applies to stateless crons (POST /runs/crons) only")
    now = now_iso()
    row = {
        "cron_id": new_checkpoint_id(),
        "assistant_id": assistant.assistant_id,
        "thread_id": thread_id,
        "schedule": check_schedule(body.body.get("schedule")),
        "timezone": check_timezone(body.body.get("timezone")),
        "payload": _payload(assistant, body.body),
        "metadata": body.get("metadata", dict, {}),
        "on_run_completed": None if thread_id is not None else on_completed or "delete",
        "end_time": _end_time(body.body.get("end_time")),
        "enabled": body.flag("enabled", True),
        "created_at": now,
        "updated_at": now,
    }
    return json_response(cron_json(await server.call(CronTable(server.db).create, row)))


async def update(request: Request) -> Response:
    """``PATCH /runs/crons/{cron_id}``: change the fields given ("metadata"
    replaces the cron's; the run fields are merged into its payload and
    checked again; "end_time": null clears it)."""
    server = server_of(request)
    table = CronTable(server.db)
    cron = await _cron_or_404(server, table, request.path_params["cron_id"])
    body = await body_of(request)
    _no_webhook(body)
    changes: dict[str, Any] = {}
    if body.body.get("schedule") is not None:
        changes["schedule"] = check_schedule(body.body["schedule"])
    if body.body.get("timezone") is not None:
        changes["timezone"] = check_timezone(body.body["timezone"])
    if "end_time" in body.body:
        changes["end_time"] = _end_time(body.body["end_time"])
    if body.body.get("enabled") is not None:
        changes["enabled"] = body.flag("enabled")
    if body.body.get("metadata") is not None:
        changes["metadata"] = body.get("metadata", dict)
    on_completed = body.choice("on_run_completed", ("delete", "keep"), None)
    if on_completed is not None:
        if cron["thread_id"] is not None:
            raise RequestError("field 'on_run_completed' applies to stateless crons only; this cron runs on a thread")
        changes["on_run_completed"] = on_completed
    if any(body.body.get(k) is not None for k in RUN_FIELDS):
        assistant = await require_assistant(server, cron["assistant_id"], 422)
        changes["payload"] = _payload(assistant, {**cron["payload"], **body.body})
    changes["updated_at"] = now_iso()
    row = await server.call(table.update, cron["cron_id"], changes)
    if row is None:
        raise RequestError(f"cron {cron['cron_id']!r} not found", 404)
    return json_response(cron_json(row))


async def get(request: Request) -> Response:
    """``GET /runs/crons/{cron_id}`` (LangGraph's server has it; the SDK 0.4 does not call it)."""
    server = server_of(request)
    return json_response(cron_json(await _cron_or_404(server, CronTable(server.db), request.path_params["cron_id"])))


async def delete(request: Request) -> Response:
    server = server_of(request)
    table = CronTable(server.db)
    cron = await _cron_or_404(server, table, request.path_params["cron_id"])
    await server.call(table.delete, cron["cron_id"])
    return Response(status_code=204)


async def _cron_or_404(server: Server, table: CronTable, cron_id: str) -> dict[str, Any]:
    check_uuid(cron_id, "cron_id")
    found = await server.call(table.get, cron_id)
    if found is None:
        raise RequestError(f"cron {cron_id!r} not found", 404)
    return found  # type: ignore[no-any-return]


async def _search(server: Server, body: Fields) -> list[dict[str, Any]]:
    """The crons a search or count body selects."""
    assistant_id = body.get("assistant_id", str)
    if assistant_id is not None:
        found = server.assistants.find(assistant_id)
        assistant_id = found.assistant_id if found is not None else assistant_id
    thread_id = body.get("thread_id", str)
    if thread_id is not None:
        check_uuid(thread_id, "thread_id")
    enabled = None if body.body.get("enabled") is None else body.flag("enabled")
    metadata = body.get("metadata", dict, {})
    rows = await server.call(CronTable(server.db).search, assistant_id, thread_id, enabled)
    return [row for row in rows if matches(row["metadata"], metadata)]


async def search(request: Request) -> Response:
    """``POST /runs/crons/search``: filters, sort_by / sort_order, limit / offset, select."""
    server = server_of(request)
    body = await body_of(request)
    limit, offset = body.number("limit", 10, 0, 10000), body.number("offset", 0)
    sort_by = body.choice("sort_by", SORTS, "created_at")
    order = body.choice("sort_order", ("asc", "desc"), "desc")
    select = body.get("select", list)
    crons = [cron_json(row) for row in await _search(server, body)]
    if select is not None:
        unknown = [name for name in select if name not in FIELDS]
        if unknown:
            raise RequestError(f"field 'select' names unknown fields {unknown}; a cron has {list(FIELDS)}")
    present = [c for c in crons if c[sort_by] is not None]
    present.sort(key=lambda c: (c[sort_by], c["cron_id"]), reverse=order == "desc")
    ordered = present + [c for c in crons if c[sort_by] is None]  # those without the field last
    page = ordered[offset : offset + limit]
    if select is not None:
        page = [{name: c[name] for name in select} for c in page]
    return json_response(page)


async def count(request: Request) -> Response:
    server = server_of(request)
    return json_response(len(await _search(server, await body_of(request))))


routes = [
    Route("/runs/crons", create, methods=["POST"]),
    Route("/runs/crons/search", search, methods=["POST"]),
    Route("/runs/crons/count", count, methods=["POST"]),
    Route("/runs/crons/{cron_id}", get, methods=["GET"]),
    Route("/runs/crons/{cron_id}", update, methods=["PATCH"]),
    Route("/runs/crons/{cron_id}", delete, methods=["DELETE"]),
    Route("/threads/{thread_id}/runs/crons", create, methods=["POST"]),
]
