"""What every route shares: the server's parts, reading a request's body and
query, and JSON answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.errors import RequestError
from cairn.server.db import ServerDB
from cairn.server.graphs import Assistants
from cairn.server.metrics import ServerMetrics
from cairn.server.streams import Streams
from cairn.server.validate import Fields, check_uuid, parse_body
from cairn.server.wire import encode
from cairn.server.worker import Workers

__all__ = ["Server", "body_of", "json_response", "query_of", "server_of", "thread_or_404"]


@dataclass
class Server:
    """The parts a request is served with."""

    db: ServerDB
    saver: BaseCheckpointSaver
    store: Any
    """The store the graphs share (``cairn.store``), served at ``/store``."""
    assistants: Assistants
    streams: Streams
    workers: Workers
    info: dict[str, Any]
    metrics: ServerMetrics | None = None
    """What ``/metrics`` serves (None: an empty page)."""

    async def call(self, fn: Any, *args: Any) -> Any:
        return await self.workers.call(fn, *args)


def server_of(request: Request) -> Server:
    return request.app.state.server  # type: ignore[no-any-return]


async def body_of(request: Request) -> Fields:
    return Fields(parse_body(await request.body()))


def query_of(request: Request) -> Fields:
    return Fields(dict(request.query_params))


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(value), status, headers=headers, media_type="application/json")


async def thread_or_404(server: Server, thread_id: str) -> dict[str, Any]:
    check_uuid(thread_id, "thread_id")
    found = await server.call(server.db.get_thread, thread_id)
    if found is None:
        raise RequestError(f"thread {thread_id!r} not found", 404)
    return found  # type: ignore[no-any-return]
