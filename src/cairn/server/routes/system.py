"""``GET /ok`` (200 once the server is ready) and ``GET /info``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.server.http import json_response, server_of

__all__ = ["routes"]


async def ok(request: Request) -> Response:
    return json_response({"ok": True})


async def info(request: Request) -> Response:
    return json_response(server_of(request).info)


routes = [Route("/ok", ok, methods=["GET"]), Route("/info", info, methods=["GET"])]
