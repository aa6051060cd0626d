"""Assistants: one per served graph. Search, count, get, and what a graph
is: its drawing (``/graph``, ``?xray``), its schemas and its subgraphs'."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.errors import RequestError
from cairn.server.graphs import Assistant
from cairn.server.http import body_of, json_response, query_of, server_of
from cairn.server.records import assistant_json, matches

__all__ = ["routes"]


def _found(request: Request, body: Any) -> list[Assistant]:
    graph_id = body.get("graph_id", str)
    metadata = body.get("metadata", dict, {})
    name = body.get("name", str)
    found = [
        a for a in server_of(request).assistants
        if (graph_id is None or a.graph_id == graph_id)
        and (name is None or name in a.graph_id)
        and matches({"created_by": "system"}, metadata)
    ]
    return sorted(found, key=lambda a: a.graph_id)


async def search(request: Request) -> Response:
    body = await body_of(request)
    limit, offset = body.number("limit", 10, 0, 1000), body.number("offset", 0)
    return json_response([assistant_json(a) for a in _found(request, body)[offset : offset + limit]])


async def count(request: Request) -> Response:
    return json_response(len(_found(request, await body_of(request))))


def _assistant(request: Request) -> Assistant:
    return server_of(request).assistants.get(request.path_params["assistant_id"])


async def get(request: Request) -> Response:
    return json_response(assistant_json(_assistant(request)))


async def graph(request: Request) -> Response:
    xray_text = request.query_params.get("xray", "false")
    xray: bool | int
    if xray_text.isdigit():
        xray = int(xray_text)
    elif xray_text.lower() in ("true", "false"):
        xray = xray_text.lower() == "true"
    else:
        raise RequestError(f"xray must be true, false or a depth, got {xray_text!r}")
    drawing = _assistant(request).graph.get_graph(xray=xray)
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
    assistant = _assistant(request)
    return json_response(_schemas(assistant, assistant.graph))


async def subgraphs(request: Request) -> Response:
    assistant = _assistant(request)
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
    Route("/assistants/search", search, methods=["POST"]),
    Route("/assistants/count", count, methods=["POST"]),
    Route("/assistants/{assistant_id}", get, methods=["GET"]),
    Route("/assistants/{assistant_id}/graph", graph, methods=["GET"]),
    Route("/assistants/{assistant_id}/schemas", schemas, methods=["GET"]),
    Route("/assistants/{assistant_id}/subgraphs", subgraphs, methods=["GET"]),
    Route("/assistants/{assistant_id}/subgraphs/{namespace}", subgraphs, methods=["GET"]),
]
