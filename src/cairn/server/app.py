"""The ASGI application: the routes, JSON errors, the optional Bearer
token, the request size limit and the workers' lifetime."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.errors import CairnError, RequestError, ThreadBusyError
from cairn.server.http import Server
from cairn.server.routes import assistants, crons, runs, state, store, system, threads
from cairn.server.ui import PREFIX as UI_PREFIX
from cairn.server.ui import ui_routes

__all__ = ["ERROR_HANDLERS", "MAX_BODY", "create_app"]

log = logging.getLogger("cairn.server")

MAX_BODY = 16 * 1024 * 1024
"""Bytes a request body may hold by default."""

OPEN_PATHS = frozenset({"/ok"})
"""What answers without the Bearer token (and the web viewer's page under
``/ui``, which holds no data: it asks for the token to call the API)."""

LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
"""Browser pages allowed to call the server by default: those served from
this machine (a UI such as agent-chat-ui on localhost:3000), not any site
the user happens to visit."""


def _error(status: int, detail: str) -> Response:
    return Response(json.dumps({"detail": detail}), status, media_type="application/json")


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return _error(exc.status, str(exc))


async def _cairn_error(request: Request, exc: Exception) -> Response:
    return _error(409 if isinstance(exc, ThreadBusyError) else 422, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return _error(500, f"the server failed on {request.method} {request.url.path}: {type(exc).__name__}: {exc}")


ERROR_HANDLERS = {
    RequestError: _request_error,
    CairnError: _cairn_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
"""Every error as a JSON ``{"detail": ...}`` answer with its status."""


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


class Guard:
    """Refuses a request without the Bearer token (when the server has one)
    and a body over ``max_body`` bytes, before the routes see it."""

    def __init__(self, app: ASGIApp, token: str | None, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token is not None and not _open(scope["path"]):
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                await _error(401, "this server needs 'Authorization: Bearer <token>' (the --auth-token it was started with)")(scope, receive, send)
                return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _error(413, f"the request body is {length} bytes; this server takes at most {self.max_body}")(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise RequestError(f"the request body is over {self.max_body} bytes, this server's limit", 413)
            return message

        return limited


def create_app(
    server: Server,
    *,
    auth_token: str | None = None,
    max_body: int = MAX_BODY,
    cors_origins: tuple[str, ...] = (),
) -> ASGIApp:
    """The application serving ``server``'s graphs, threads and runs; pages
    of ``cors_origins`` (and of this machine) may call it from a browser."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.workers.start()
        try:
            yield
        finally:
            await server.workers.stop()

    app = Starlette(
        routes=[*system.routes, *assistants.routes, *threads.routes, *state.routes, *runs.routes, *store.routes,
                *crons.routes, *ui_routes()],
        exception_handlers=dict(ERROR_HANDLERS),
        lifespan=lifespan,
    )
    app.state.server = server
    guarded: Any = Guard(app, auth_token, max_body)
    # CORS outside the token check: a browser's preflight carries no token.
    return CORSMiddleware(  # type: ignore[no-any-return]
        guarded,
        allow_origins=list(cors_origins),
        allow_origin_regex=LOCAL_ORIGINS,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Content-Location", "Location"],
    )
