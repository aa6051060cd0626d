"""Threads: create, get, patch, delete, search, count and copy.

A thread's record (metadata, status, its values at the end of its last run)
is the server's; its checkpoints are the saver's, under the same id.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import RequestError
from cairn.server.http import body_of, json_response, server_of, thread_or_404
from cairn.server.records import matches, thread_json
from cairn.server.validate import check_uuid
from cairn.server.wire import dumps

__all__ = ["routes"]

STATUSES = ("idle", "busy", "interrupted", "error")


async def create(request: Request) -> Response:
    server = server_of(request)
    body = await body_of(request)
    thread_id = body.get("thread_id", str) or new_checkpoint_id()
    check_uuid(thread_id, "thread_id")
    metadata = body.get("metadata", dict, {})
    if_exists = body.choice("if_exists", ("raise", "do_nothing"), "raise")
    row = await server.call(server.db.create_thread, thread_id, metadata, if_exists)
    return json_response(thread_json(row))


async def get(request: Request) -> Response:
    server = server_of(request)
    return json_response(thread_json(await thread_or_404(server, request.path_params["thread_id"])))


async def patch(request: Request) -> Response:
    server = server_of(request)
    thread_id = request.path_params["thread_id"]
    await thread_or_404(server, thread_id)
    metadata = (await body_of(request)).get("metadata", dict, {})
    row = await server.call(server.db.patch_thread, thread_id, metadata)
    if row is None:
        raise RequestError(f"thread {thread_id!r} not found", 404)
    return json_response(thread_json(row))


async def delete(request: Request) -> Response:
    server = server_of(request)
    thread_id = request.path_params["thread_id"]
    await thread_or_404(server, thread_id)
    if await server.call(server.db.thread_has_active_runs, thread_id):
        raise RequestError(f"thread {thread_id!r} has a run that is not over; cancel it first", 409)
    await asyncio.to_thread(server.saver.delete_thread, thread_id)
    await server.call(server.db.delete_thread, thread_id)
    return Response(status_code=204)


async def _search(request: Request) -> list[dict[str, Any]]:
    server = server_of(request)
    body = await body_of(request)
    metadata = body.get("metadata", dict, {})
    values = body.get("values", dict, {})
    status = body.choice("status", STATUSES, None)
    ids = body.get("ids", list)
    if ids is not None:
        for each in ids:
            check_uuid(each, "ids[]")
    rows = await server.call(server.db.list_threads, status, ids)
    return [
        row for row in rows
        if matches(row["metadata"], metadata) and (not values or matches(row["state_values"] or {}, values))
    ]


async def search(request: Request) -> Response:
    body = await body_of(request)
    limit, offset = body.number("limit", 10, 0, 10000), body.number("offset", 0)
    sort_by = body.choice("sort_by", ("thread_id", "status", "created_at", "updated_at"), "updated_at")
    order = body.choice("sort_order", ("asc", "desc"), "desc")
    rows = await _search(request)
    rows.sort(key=lambda r: (r[sort_by], r["thread_id"]), reverse=order == "desc")
    return json_response([thread_json(r) for r in rows[offset : offset + limit]])


async def count(request: Request) -> Response:
    return json_response(len(await _search(request)))


async def copy(request: Request) -> Response:
    server = server_of(request)
    source = await thread_or_404(server, request.path_params["thread_id"])
    target = new_checkpoint_id()
    if await asyncio.to_thread(server.saver.load, source["thread_id"], ""):
        await asyncio.to_thread(server.saver.copy_thread, source["thread_id"], target)
    await server.call(server.db.create_thread, target, source["metadata"], "raise")
    copied = partial(
        server.db.set_thread_state,
        target,
        status="idle" if source["status"] == "busy" else source["status"],
        values=dumps(source["state_values"]) if source["state_values"] is not None else None,
        interrupts=dumps(source["interrupts"] or {}),
        error=dumps(source["error"]) if source["error"] is not None else None,
    )
    await server.call(copied)
    row = await server.call(server.db.get_thread, target)
    return json_response(thread_json(row))


routes = [
    Route("/threads", create, methods=["POST"]),
    Route("/threads/search", search, methods=["POST"]),
    Route("/threads/count", count, methods=["POST"]),
    Route("/threads/{thread_id}", get, methods=["GET"]),
    Route("/threads/{thread_id}", patch, methods=["PATCH"]),
    Route("/threads/{thread_id}", delete, methods=["DELETE"]),
    Route("/threads/{thread_id}/copy", copy, methods=["POST"]),
]
