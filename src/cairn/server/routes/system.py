"""``GET /ok`` (200 once the server is ready), ``GET /info`` and ``GET
/metrics`` (Prometheus' text format: ``cairn.server.metrics`` lists them)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.server.http import json_response, server_of
from cairn.server.metrics import CONTENT_TYPE

__all__ = ["routes"]


async def ok(request: Request) -> Response:
    return json_response({"ok": True})


async def info(request: Request) -> Response:
    return json_response(server_of(request).info)


async def metrics(request: Request) -> Response:
    server = server_of(request)
    body = await server.call(server.metrics.render) if server.metrics is not None else b""
    return Response(body, headers={"Content-Type": CONTENT_TYPE})


routes = [
    Route("/ok", ok, methods=["GET"]),
    Route("/info", info, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
