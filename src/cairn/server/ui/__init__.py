"""The web viewer: a page of plain HTML, JavaScript and CSS (no build step)
that reads and acts on threads through the server's public HTTP API.

``cairn serve`` serves it at ``/ui``; ``cairn ui --db DB`` serves it over
a database alone, read-only (``viewer.py``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["PREFIX", "STATIC", "ui_routes"]

STATIC = Path(__file__).resolve().parent / "static"
"""The page's files, shipped inside the package."""

PREFIX = "/ui"
"""Where the page is served; it carries no data, so it answers without the Bearer token."""


async def _to_page(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


def ui_routes() -> list[BaseRoute]:
    """``/ui`` (redirected to ``/ui/``) and the page's files under it."""
    return [
        Route(PREFIX, _to_page, methods=["GET"]),
        Mount(PREFIX, app=StaticFiles(directory=STATIC, html=True), name="ui"),
    ]
