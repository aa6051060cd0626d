"""A thread's state: the head or a checkpoint (GET, ``/state/{id}``, POST
``/state/checkpoint``), an update (POST ``/state``: values written as a node,
a fork when it names an earlier checkpoint) and its history."""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.errors import RequestError
from cairn.runtime import CompiledStateGraph
from cairn.server.http import Server, body_of, json_response, query_of, server_of, thread_or_404
from cairn.server.validate import Fields
from cairn.server.wire import dumps, interrupt_json, snapshot_json

__all__ = ["refresh_thread", "routes"]

EMPTY: dict[str, Any] = {
    "values": {}, "next": [], "tasks": [], "metadata": None, "created_at": None, "checkpoint": None,
    "parent_checkpoint": None, "interrupts": [], "checkpoint_id": None, "parent_checkpoint_id": None,
}
"""The state of a thread no run has written yet."""


def _graph(server: Server, thread: Mapping[str, Any], required: bool) -> CompiledStateGraph | None:
    graph_id = (thread["metadata"] or {}).get("graph_id")
    assistant = server.assistants.find(graph_id)
    if assistant is None and required:
        raise RequestError(
            f"thread {thread['thread_id']!r} has no graph yet (no run was made on it): "
            "create a run with an assistant first", 409
        )
    return None if assistant is None else assistant.graph


def _config(thread_id: str, checkpoint: Mapping[str, Any] | None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint:
        if not isinstance(checkpoint, Mapping):
            raise RequestError(f"field 'checkpoint' must be an object with a checkpoint_id, got {checkpoint!r}")
        for key in ("checkpoint_id", "checkpoint_ns"):
            if checkpoint.get(key) is not None:
                configurable[key] = checkpoint[key]
    return {"configurable": configurable}


async def _state(request: Request, checkpoint: Mapping[str, Any] | None, subgraphs: bool) -> Response:
    server = server_of(request)
    thread = await thread_or_404(server, request.path_params["thread_id"])
    graph = _graph(server, thread, required=False)
    if graph is None:
        return json_response(EMPTY)
    snapshot = await graph.aget_state(_config(thread["thread_id"], checkpoint), subgraphs=subgraphs)
    if checkpoint and checkpoint.get("checkpoint_id") and snapshot.metadata is None:
        raise RequestError(f"thread {thread['thread_id']!r} has no checkpoint {checkpoint['checkpoint_id']!r}", 404)
    return json_response(snapshot_json(snapshot))


async def get_state(request: Request) -> Response:
    return await _state(request, None, query_of(request).flag("subgraphs"))


async def get_state_at(request: Request) -> Response:
    checkpoint = {"checkpoint_id": request.path_params["checkpoint_id"]}
    return await _state(request, checkpoint, query_of(request).flag("subgraphs"))


async def post_state_at(request: Request) -> Response:
    body = await body_of(request)
    return await _state(request, body.get("checkpoint", dict, {}), body.flag("subgraphs"))


async def update_state(request: Request) -> Response:
    server = server_of(request)
    thread = await thread_or_404(server, request.path_params["thread_id"])
    graph = _graph(server, thread, required=True)
    assert graph is not None
    body = await body_of(request)
    checkpoint = body.get("checkpoint", dict) or (
        {"checkpoint_id": body.get("checkpoint_id", str)} if body.get("checkpoint_id", str) else None
    )
    values = body.body.get("values")
    if values is not None and not isinstance(values, (dict, list)):
        raise RequestError(f"field 'values' must be an object (or a list of them), got {values!r}")
    if await server.call(server.db.thread_has_active_runs, thread["thread_id"]):
        raise RequestError(f"thread {thread['thread_id']!r} is busy with a run; update its state once it is over", 409)
    config = await graph.aupdate_state(_config(thread["thread_id"], checkpoint), values, as_node=body.get("as_node", str))
    await refresh_thread(server, graph, thread["thread_id"])
    c = config["configurable"]
    checkpoint = {"thread_id": c["thread_id"], "checkpoint_ns": c.get("checkpoint_ns", ""), "checkpoint_id": c["checkpoint_id"]}
    return json_response({"checkpoint": checkpoint, "configurable": checkpoint, "checkpoint_id": c["checkpoint_id"]})


async def refresh_thread(server: Server, graph: CompiledStateGraph, thread_id: str) -> None:
    """Record the thread's head values and status after its state changed."""
    state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    interrupts = {t.id: [interrupt_json(i) for i in t.interrupts] for t in state.tasks if t.interrupts}
    status = "interrupted" if interrupts or state.next else "idle"
    await server.call(
        partial(server.db.set_thread_state, thread_id, status=status, values=dumps(state.values), interrupts=dumps(interrupts))
    )


async def _history(request: Request, body: Fields) -> Response:
    server = server_of(request)
    thread = await thread_or_404(server, request.path_params["thread_id"])
    graph = _graph(server, thread, required=False)
    if graph is None:
        return json_response([])
    limit = body.number("limit", 10, 1, 1000)
    before = body.body.get("before")
    if isinstance(before, str):
        before = {"checkpoint_id": before}
    elif before is not None and not isinstance(before, dict):
        raise RequestError(f"field 'before' must be a checkpoint id or object, got {before!r}")
    metadata = body.get("metadata", dict)
    config = _config(thread["thread_id"], body.get("checkpoint", dict))
    before_config = _config(thread["thread_id"], before) if before else None
    snapshots = [
        snapshot_json(s)
        async for s in graph.aget_state_history(config, filter=metadata or None, before=before_config, limit=limit)
    ]
    return json_response(snapshots)


async def history_get(request: Request) -> Response:
    return await _history(request, query_of(request))


async def history_post(request: Request) -> Response:
    return await _history(request, await body_of(request))


routes = [
    Route("/threads/{thread_id}/state", get_state, methods=["GET"]),
    Route("/threads/{thread_id}/state", update_state, methods=["POST"]),
    Route("/threads/{thread_id}/state/checkpoint", post_state_at, methods=["POST"]),
    Route("/threads/{thread_id}/state/{checkpoint_id}", get_state_at, methods=["GET"]),
    Route("/threads/{thread_id}/history", history_get, methods=["GET"]),
    Route("/threads/{thread_id}/history", history_post, methods=["POST"]),
]
