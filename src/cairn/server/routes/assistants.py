"""Assistants: each served graph's own (``graphs.py``: id
``uuid5(NAMESPACE_URL, graph_id)``, the graph id accepted in its place,
never changed) and those made with ``POST /assistants``, stored with their
versions (``assistant_db.py``). Create, read, search, count, update (a new
version, which becomes the latest), list versions, set the latest, delete;
and what a graph is: its drawing (``/graph``, ``?xray``), its schemas and
its subgraphs'."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.errors import RequestError
from cairn.server.assistant_db import AssistantTable, is_uuid, mirrored, new_row, require_assistant
from cairn.server.graphs import Assistant
from cairn.server.http import Server, body_of, json_response, query_of, server_of
from cairn.server.records import ASSISTANT_FIELDS, assistant_json, matches, system_assistant
from cairn.server.validate import Fields, check_uuid

__all__ = ["routes"]

SORTS = ("assistant_id", "graph_id", "name", "created_at", "updated_at")


def _graph_id(server: Server, body: Fields, required: bool) -> str | None:
    """The body's ``graph_id``, which must name a served graph."""
    graph_id = body.get("graph_id", str)
    if graph_id is None and not required:
        return None
    if graph_id is None or server.assistants.of_graph(graph_id) is None:
        raise RequestError(
            f"field 'graph_id' must name a graph this server serves, one of {server.assistants.graph_ids}; "
            f"got {graph_id!r}"
        )
    return graph_id


async def _row(server: Server, assistant_id: str) -> tuple[dict[str, Any], Assistant | None]:
    """The assistant the path names, as a row; and the graph's own
    assistant when it is one (None: a stored one)."""
    own = server.assistants.find(assistant_id)
    if own is not None:
        return system_assistant(own), own
    row = await server.call(AssistantTable(server.db).get, assistant_id) if is_uuid(assistant_id) else None
    if row is None:
        raise RequestError(
            f"no assistant {assistant_id!r}: give the id of an assistant (POST /assistants/search lists them) "
            f"or one of the graph ids {server.assistants.graph_ids}",
            404,
        )
    return row, None


def _refuse_system(own: Assistant, verb: str) -> NoReturn:
    """409 for changing (``verb``) a graph's own assistant, saying what to do instead."""
    raise RequestError(
        f"assistant {own.assistant_id!r} is graph {own.graph_id!r}'s own assistant (created_by: system), which "
        f"cairn serve keeps as the graph is: you cannot {verb} it. Create an assistant of that graph "
        f"(POST /assistants with graph_id {own.graph_id!r}) and {verb} that one",
        409,
    )


async def create(request: Request) -> Response:
    """``POST /assistants``: a new assistant of a served graph (version 1)."""
    server = server_of(request)
    body = await body_of(request)
    graph_id = _graph_id(server, body, required=True)
    assert graph_id is not None
    assistant_id = check_uuid(body.get("assistant_id", str) or str(uuid.uuid4()), "assistant_id")
    if_exists = body.choice("if_exists", ("raise", "do_nothing"), "raise")
    config, context = mirrored(body.get("config", dict, {}), body.get("context", dict))
    fields = {
        "config": config,
        "context": context,
        "metadata": body.get("metadata", dict, {}),
        "name": body.get("name", str) or "Untitled",
        "description": body.get("description", str),
    }
    own = server.assistants.find(assistant_id)
    if own is not None:
        if if_exists != "do_nothing":
            raise RequestError(
                f"assistant {assistant_id!r} already exists: it is graph {own.graph_id!r}'s own; "
                "pass if_exists='do_nothing' to get it, or leave assistant_id out for a new id",
                409,
            )
        return json_response(assistant_json(system_assistant(own)))
    row = await server.call(AssistantTable(server.db).create, new_row(assistant_id, graph_id, fields), if_exists)
    return json_response(assistant_json(row))


async def _found(request: Request, body: Fields) -> list[dict[str, Any]]:
    """The assistants a search or count body selects, graphs' own and stored."""
    server = server_of(request)
    graph_id = body.get("graph_id", str)
    metadata = body.get("metadata", dict, {})
    name = body.get("name", str)
    own = [system_assistant(a) for a in server.assistants if graph_id is None or a.graph_id == graph_id]
    stored = await server.call(AssistantTable(server.db).of_graph, graph_id)
    return [
        row for row in [*own, *stored]
        if matches(row["metadata"], metadata) and (name is None or name.lower() in str(row["name"]).lower())
    ]


async def search(request: Request) -> Response:
    """``POST /assistants/search``: filters (graph_id, metadata, name),
    sort_by / sort_order (newest first by default), limit / offset (the
    next page's offset in ``X-Pagination-Next``), select."""
    body = await body_of(request)
    limit, offset = body.number("limit", 10, 0, 1000), body.number("offset", 0)
    sort_by = body.choice("sort_by", SORTS, "created_at")
    order = body.choice("sort_order", ("asc", "desc"), "desc")
    select = body.get("select", list)
    if select is not None:
        unknown = [name for name in select if name not in ASSISTANT_FIELDS]
        if unknown:
            raise RequestError(f"field 'select' names unknown fields {unknown}; an assistant has {list(ASSISTANT_FIELDS)}")
    found = await _found(request, body)
    found.sort(key=lambda row: (str(row[sort_by]), row["assistant_id"]), reverse=order == "desc")
    page = [assistant_json(row) for row in found[offset : offset + limit]]
    if select is not None:
        page = [{name: a[name] for name in select} for a in page]
    headers = {"X-Pagination-Total": str(len(found))}
    if offset + limit < len(found):
        headers["X-Pagination-Next"] = str(offset + limit)
    return json_response(page, headers=headers)


async def count(request: Request) -> Response:
    return json_response(len(await _found(request, await body_of(request))))


async def get(request: Request) -> Response:
    row, _ = await _row(server_of(request), request.path_params["assistant_id"])
    return json_response(assistant_json(row))


async def update(request: Request) -> Response:
    """``PATCH /assistants/{id}``: a new version with the fields given
    (metadata merged into the assistant's; config, context, graph_id, name
    and description replaced), which becomes the latest."""
    server = server_of(request)
    row, own = await _row(server, request.path_params["assistant_id"])
    if own is not None:
        _refuse_system(own, "update")
    body = await body_of(request)
    changes: dict[str, Any] = {}
    graph_id = _graph_id(server, body, required=False)
    if graph_id is not None:
        changes["graph_id"] = graph_id
    config, context = body.get("config", dict), body.get("context", dict)
    if config is not None or context is not None:
        if config is None:  # a new context: the config's configurable goes with it
            config = {k: v for k, v in row["config"].items() if k != "configurable"}
        changes["config"], changes["context"] = mirrored(config, context)
    if body.body.get("metadata") is not None:
        changes["metadata"] = body.get("metadata", dict)
    for name in ("name", "description"):
        if body.body.get(name) is not None:
            changes[name] = body.get(name, str)
    updated = await server.call(AssistantTable(server.db).update, row["assistant_id"], changes)
    if updated is None:
        raise RequestError(f"no assistant {row['assistant_id']!r}: it was deleted meanwhile", 404)
    return json_response(assistant_json(updated))


async def delete(request: Request) -> Response:
    """``DELETE /assistants/{id}``: the assistant, its versions and its
    crons; with ``?delete_threads=true`` also the threads whose metadata
    names it, their runs and checkpoints (refused while one has a run going)."""
    server = server_of(request)
    row, own = await _row(server, request.path_params["assistant_id"])
    if own is not None:
        _refuse_system(own, "delete")
    assistant_id = row["assistant_id"]
    threads: list[str] = []
    if query_of(request).flag("delete_threads"):
        every = await server.call(server.db.list_threads, None, None)
        threads = [t["thread_id"] for t in every if (t["metadata"] or {}).get("assistant_id") == assistant_id]
        busy = [t for t in threads if await server.call(server.db.thread_has_active_runs, t)]
        if busy:
            raise RequestError(
                f"assistant {assistant_id!r} has threads with a run that is not over ({busy}); "
                "cancel those runs first, or delete without delete_threads",
                409,
            )
    if not await server.call(AssistantTable(server.db).delete, assistant_id):
        raise RequestError(f"no assistant {assistant_id!r}: it was deleted meanwhile", 404)
    for thread_id in threads:
        await asyncio.to_thread(server.saver.delete_thread, thread_id)
        await server.call(server.db.delete_thread, thread_id)
    return Response(status_code=204)


async def versions(request: Request) -> Response:
    """``POST /assistants/{id}/versions``: its versions, newest first
    (metadata filter, limit / offset)."""
    server = server_of(request)
    body = await body_of(request)
    limit, offset = body.number("limit", 10, 0, 1000), body.number("offset", 0)
    metadata = body.get("metadata", dict, {})
    row, own = await _row(server, request.path_params["assistant_id"])
    found = [row] if own is not None else await server.call(AssistantTable(server.db).versions, row["assistant_id"])
    chosen = [v for v in found if matches(v["metadata"], metadata)][offset : offset + limit]
    return json_response([assistant_json(v, version=True) for v in chosen])


async def set_latest(request: Request) -> Response:
    """``POST /assistants/{id}/latest``: make one of its versions the latest."""
    server = server_of(request)
    body = await body_of(request)
    version = body.body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RequestError(f"field 'version' must be a version number (1, 2, ...), got {version!r}")
    row, own = await _row(server, request.path_params["assistant_id"])
    if own is not None:
        if version != 1:
            raise RequestError(f"graph {own.graph_id!r}'s own assistant has version 1 only, not {version}", 404)
        return json_response(assistant_json(row))
    latest = await server.call(AssistantTable(server.db).set_latest, row["assistant_id"], version)
    if latest is None:
        raise RequestError(
            f"assistant {row['assistant_id']!r} has no version {version}; "
            f"POST /assistants/{row['assistant_id']}/versions lists them",
            404,
        )
    return json_response(assistant_json(latest))


async def _assistant(request: Request) -> Assistant:
    return await require_assistant(server_of(request), request.path_params["assistant_id"])


async def graph(request: Request) -> Response:
    xray_text = request.query_params.get("xray", "false")
    xray: bool | int
    if xray_text.isdigit():
        xray = int(xray_text)
    elif xray_text.lower() in ("true", "false"):
        xray = xray_text.lower() == "true"
    else:
        raise RequestError(f"xray must be true, false or a depth, got {xray_text!r}")
    drawing = (await _assistant(request)).graph.get_graph(xray=xray)
    return json_response(drawing.to_json())


def _schemas(assistant: Assistant, graph: Any) -> dict[str, Any]:
    return {
        "graph_id": assistant.graph_id,
        "input_schema": graph.get_input_jsonschema(),
        "output_schema": graph.get_output_jsonschema(),
        "state_schema": graph.get_output_jsonschema(),
        "config_schema": None,
        "context_schema": None,
    }


async def schemas(request: Request) -> Response:
    assistant = await _assistant(request)
    return json_response(_schemas(assistant, assistant.graph))


async def subgraphs(request: Request) -> Response:
    assistant = await _assistant(request)
    wanted = request.path_params.get("namespace")
    recurse = query_of(request).flag("recurse")
    found: dict[str, Any] = {}

    def walk(graph: Any, prefix: str) -> None:
        for name, node in graph.spec.nodes.items():
            if not node.subgraph:
                continue
            ns = f"{prefix}|{name}" if prefix else name
            if wanted is None or ns == wanted:
                found[ns] = _schemas(assistant, node.fn)
            if recurse:
                walk(node.fn, ns)

    walk(assistant.graph, "")
    return json_response(found)


routes = [
    Route("/assistants", create, methods=["POST"]),
    Route("/assistants/search", search, methods=["POST"]),
    Route("/assistants/count", count, methods=["POST"]),
    Route("/assistants/{assistant_id}", get, methods=["GET"]),
    Route("/assistants/{assistant_id}", update, methods=["PATCH"]),
    Route("/assistants/{assistant_id}", delete, methods=["DELETE"]),
    Route("/assistants/{assistant_id}/versions", versions, methods=["POST"]),
    Route("/assistants/{assistant_id}/latest", set_latest, methods=["POST"]),
    Route("/assistants/{assistant_id}/graph", graph, methods=["GET"]),
    Route("/assistants/{assistant_id}/schemas", schemas, methods=["GET"]),
    Route("/assistants/{assistant_id}/subgraphs", subgraphs, methods=["GET"]),
    Route("/assistants/{assistant_id}/subgraphs/{namespace}", subgraphs, methods=["GET"]),
]
