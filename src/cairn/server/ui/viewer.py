"""``cairn ui``: the web viewer over a database alone, read-only.

It answers the read endpoints of the server's API the page uses (threads
search, a thread, its state and history) from the saver, without the
server's tables, so it shows any cairn database, one the library wrote as
well as one ``cairn serve`` did, and changes nothing in it. Every other
request is refused: 405 for a write, 404 for a path it does not serve.

With the application's graph, states are folded with its reducers, as the
server's are. Without it, a checkpoint's values are shown only where a
full snapshot of the state is stored beside it (``values_folded`` false
elsewhere), and the checkpoints' metadata and writes always.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from typing import Any, Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.checkpoint.base import BaseCheckpointSaver, CheckpointRecord, PendingWrite
from cairn.errors import RequestError
from cairn.runtime import CompiledStateGraph
from cairn.server.app import ERROR_HANDLERS
from cairn.server.http import body_of, json_response, query_of
from cairn.server.ui import ui_routes
from cairn.server.validate import Fields
from cairn.server.wire import jsonable, snapshot_json

__all__ = ["ThreadLister", "create_viewer"]

ThreadLister = Callable[[Mapping[str, Any] | None, "str | None"], Sequence[Mapping[str, Any]]]
"""``(metadata, thread_id)``: the threads whose head metadata holds the
pairs (and whose id is ``thread_id``, when given), most recent first, as
records with ``thread_id``, ``status``, ``metadata``, ``created_at``,
``updated_at`` (the operator commands' records)."""

READ_ONLY = (
    "cairn ui is read-only: it changes nothing in the database. To fork, replay or answer an "
    "interrupt, open the viewer of `cairn serve` (its /ui page)"
)


class Viewer:
    """The read endpoints over ``saver`` (and ``graph`` when given)."""

    def __init__(self, saver: BaseCheckpointSaver, graph: CompiledStateGraph | None, threads: ThreadLister) -> None:
        self.saver, self.graph, self.threads = saver, graph, threads
        graphs = {"graph": graph is not None}
        self.info = {
            "version": importlib.metadata.version("cairn"),
            "server": "cairn ui",
            "flags": {"read_only": True, "assistants": False, "crons": False, **graphs},
        }

    async def _threads(self, metadata: Mapping[str, Any] | None, thread_id: str | None = None) -> list[dict[str, Any]]:
        found = await asyncio.to_thread(self.threads, metadata or None, thread_id)
        return [
            {
                "thread_id": t["thread_id"],
                "status": t["status"],
                "metadata": jsonable(t["metadata"]),
                "created_at": t["created_at"],
                "updated_at": t["updated_at"],
                "values": None,
                "interrupts": {},
            }
            for t in found
        ]

    async def search(self, request: Request) -> Response:
        body = await body_of(request)
        limit, offset = body.number("limit", 10, 0, 10000), body.number("offset", 0)
        status = body.get("status", str)
        ids = body.get("ids", list)
        found = [
            t for t in await self._threads(body.get("metadata", dict, {}))
            if (status is None or t["status"] == status) and (ids is None or t["thread_id"] in ids)
        ]
        return json_response(found[offset : offset + limit])

    async def thread(self, request: Request) -> Response:
        return json_response(await self._thread(request.path_params["thread_id"]))

    async def _thread(self, thread_id: str) -> dict[str, Any]:
        for found in await self._threads(None, thread_id):
            return found
        raise RequestError(f"thread {thread_id!r} not found: it has no checkpoints in this database", 404)

    async def state(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        await self._thread(thread_id)
        checkpoint_id = request.path_params.get("checkpoint_id")
        if request.method == "POST":
            checkpoint_id = ((await body_of(request)).get("checkpoint", dict) or {}).get("checkpoint_id")
        found = await self._history(thread_id, checkpoint_id, None, 1)
        if not found:
            raise RequestError(f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}", 404)
        return json_response(found[0])

    async def history(self, request: Request) -> Response:
        body = query_of(request) if request.method == "GET" else await body_of(request)
        thread_id = request.path_params["thread_id"]
        await self._thread(thread_id)
        before = body.body.get("before")
        if isinstance(before, dict):
            before = before.get("checkpoint_id")
        if before is not None and not isinstance(before, str):
            raise RequestError(f"field 'before' must be a checkpoint id or object, got {before!r}")
        checkpoint = body.get("checkpoint", dict) or {}
        return json_response(await self._history(thread_id, checkpoint.get("checkpoint_id"), before, _limit(body)))

    async def _history(self, thread_id: str, at: str | None, before: str | None, limit: int) -> list[dict[str, Any]]:
        """Checkpoints newest first: ``at`` and its ancestors, else the thread's."""
        if self.graph is not None:
            config = _config(thread_id, at)
            if at is not None and limit == 1:
                snapshot = await self.graph.aget_state(config)
                return [snapshot_json(snapshot)] if snapshot.metadata is not None else []
            history = self.graph.aget_state_history(
                config, before=_config(thread_id, before) if before else None, limit=limit
            )
            return [snapshot_json(s) async for s in history]
        return await asyncio.to_thread(self._records, thread_id, at, before, limit)

    def _records(self, thread_id: str, at: str | None, before: str | None, limit: int) -> list[dict[str, Any]]:
        if at is not None:
            chain = self.saver.get_chain(thread_id, "", at)
            if not chain:
                return []
            found = [chain[-1]]
            if limit > 1:
                found += self.saver.list_checkpoints(thread_id, "", before=at, limit=limit - 1)
        else:
            found = list(self.saver.list_checkpoints(thread_id, "", before=before, limit=limit))
        pending = self.saver.get_pending_many(thread_id, "", [c.id for c in found])
        return [self._record_json(c, pending.get(c.id, ())) for c in found]

    def _record_json(self, checkpoint: CheckpointRecord, pending: Sequence[PendingWrite]) -> dict[str, Any]:
        """A checkpoint as the server's snapshot JSON, from its record alone."""
        chain = self.saver.get_chain(checkpoint.thread_id, "", checkpoint.id)
        snapshot = chain[0].snapshot if len(chain) == 1 else None
        asked: dict[str, list[dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        for write in pending:
            if write.kind == "interrupt":
                asked.setdefault(write.task_id, []).extend(
                    {"id": pair[0], "value": jsonable(pair[1])} for pair in write.value
                )
            elif write.kind == "error":
                errors[write.task_id] = str(write.value)
        tasks = [
            {"id": task.id, "name": task.name, "path": [], "error": errors.get(task.id),
             "interrupts": asked.get(task.id, []), "checkpoint": None, "state": None, "result": None}
            for task in checkpoint.tasks
        ]
        grouped: dict[str, list[Any]] = {}
        for done in checkpoint.writes:
            grouped.setdefault(done.name, []).append(jsonable(done.update))
        # One task's update as it is; several tasks of one node (sends) as a list, as LangGraph's.
        writes = {name: found[0] if len(found) == 1 else found for name, found in grouped.items()}
        parent = _checkpoint(checkpoint.thread_id, checkpoint.parent_id)
        metadata = {**jsonable(checkpoint.metadata), "step": checkpoint.step, "source": checkpoint.source,
                    "writes": writes or None}
        return {
            "values": jsonable(snapshot) if snapshot is not None else {},
            "values_folded": snapshot is not None,
            "next": [task.name for task in checkpoint.tasks],
            "tasks": tasks,
            "metadata": metadata,
            "created_at": checkpoint.created_at,
            "checkpoint": _checkpoint(checkpoint.thread_id, checkpoint.id),
            "parent_checkpoint": parent,
            "interrupts": [i for found in asked.values() for i in found],
            "checkpoint_id": checkpoint.id,
            "parent_checkpoint_id": checkpoint.parent_id,
        }

    async def runs(self, request: Request) -> Response:
        await self._thread(request.path_params["thread_id"])
        return json_response([])

    async def info_route(self, request: Request) -> Response:
        return json_response(self.info)


def _limit(body: Fields) -> int:
    return body.number("limit", 10, 1, 1000)


def _config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _checkpoint(thread_id: str, checkpoint_id: str | None) -> dict[str, Any] | None:
    if checkpoint_id is None:
        return None
    return {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}


async def _refused(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        raise RequestError(f"cairn ui serves no {request.url.path}", 404)
    raise RequestError(f"{READ_ONLY}; refused: {request.method} {request.url.path}", 405)


async def _ok(request: Request) -> Response:
    return json_response({"ok": True})


def create_viewer(saver: BaseCheckpointSaver, graph: CompiledStateGraph | None, threads: ThreadLister) -> Starlette:
    """The read-only application over ``saver``: the page at ``/ui`` and
    the read endpoints it calls; ``threads`` lists the database's threads."""
    viewer = Viewer(saver, graph, threads)
    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/ok", _ok, methods=["GET"]),
        Route("/info", viewer.info_route, methods=["GET"]),
        Route("/threads/search", viewer.search, methods=["POST"]),
        Route("/threads/{thread_id}", viewer.thread, methods=["GET"]),
        Route("/threads/{thread_id}/state", viewer.state, methods=["GET"]),
        Route("/threads/{thread_id}/state/checkpoint", viewer.state, methods=["POST"]),
        Route("/threads/{thread_id}/state/{checkpoint_id}", viewer.state, methods=["GET"]),
        Route("/threads/{thread_id}/history", viewer.history, methods=["GET", "POST"]),
        Route("/threads/{thread_id}/runs", viewer.runs, methods=["GET"]),
        *ui_routes(),
        Route("/{path:path}", _refused, methods=every),
    ]
    return Starlette(
        routes=routes,
        exception_handlers=dict(ERROR_HANDLERS),
    )
