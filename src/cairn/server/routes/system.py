"""``GET /ok`` (200 once the server is ready), ``GET /info`` and ``GET
/metrics`` (Prometheus' text format: runs by status, threads, workers)."""

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


async def metrics(request: Request) -> Response:
    server = server_of(request)
    counts = await server.call(server.db.counts)
    lines = ["# HELP cairn_runs Runs in the database, by status.", "# TYPE cairn_runs gauge"]
    for status in ("pending", "running", "success", "error", "interrupted"):
        lines.append(f'cairn_runs{{status="{status}"}} {counts.get(status, 0)}')
    lines += [
        "# HELP cairn_threads Threads in the database.", "# TYPE cairn_threads gauge",
        f"cairn_threads {counts['threads']}",
        "# HELP cairn_workers Worker tasks of this process.", "# TYPE cairn_workers gauge",
        f"cairn_workers {server.workers.count}",
        "# HELP cairn_runs_here Runs this process is executing now.", "# TYPE cairn_runs_here gauge",
        f"cairn_runs_here {server.workers.busy}",
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/ok", ok, methods=["GET"]),
    Route("/info", info, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
