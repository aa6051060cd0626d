"""Runs: created on a thread (in the background, streamed, or waited for)
or stateless (on a thread made for the run and deleted after it), listed,
read, joined, cancelled.

Creating a run only queues it: a worker of the server runs it (``worker.py``).
``multitask_strategy`` says what happens when the thread already has a run:
"reject" answers 409, "enqueue" (the default) runs it after, "interrupt"
stops the other between two steps first, "rollback" also undoes it.
"""

from __future__ import annotations

from functools import partial
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import RequestError
from cairn.server.assistant_db import require_assistant
from cairn.server.db import ACTIVE, now_iso
from cairn.server.http import Server, body_of, json_response, query_of, server_of, thread_or_404
from cairn.server.outcome import outcome_from_rows, watch
from cairn.server.records import run_json
from cairn.server.runinput import STRATEGIES, check_run_fields
from cairn.server.sse import events_of
from cairn.server.streams import RunStream
from cairn.server.validate import Fields, check_uuid, parse_json
from cairn.server.worker import LEASE

__all__ = ["routes"]


async def _create(request: Request, stateless: bool) -> tuple[Server, dict[str, Any], Fields]:
    server = server_of(request)
    body = await body_of(request)
    thread_id = None if stateless else request.path_params["thread_id"]
    run, make_thread = await _checked(server, body, thread_id)
    await _queue(server, run, make_thread)
    return server, run, body


async def _checked(server: Server, body: Fields, thread_id: str | None) -> tuple[dict[str, Any], bool]:
    """The run a request asks for (on ``thread_id``, or stateless), checked
    without changing anything; and whether its thread is to be made."""
    assistant = await require_assistant(server, body.body.get("assistant_id"), 422)
    kwargs = check_run_fields(body.body, assistant)
    kwargs["temporary"] = thread_id is None
    metadata = {**body.get("metadata", dict, {}), "graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
    strategy = body.choice("multitask_strategy", STRATEGIES, "enqueue")
    make_thread = thread_id is None
    if thread_id is not None:
        check_uuid(thread_id, "thread_id")
        if_not_exists = body.choice("if_not_exists", ("reject", "create"), "reject")
        if not await server.call(server.db.has_thread, thread_id):
            if if_not_exists != "create":
                raise RequestError(f"thread {thread_id!r} not found; pass if_not_exists='create' to make it", 404)
            make_thread = True
    now = now_iso()
    run = {
        "run_id": new_checkpoint_id(),
        "thread_id": thread_id or new_checkpoint_id(),
        "assistant_id": assistant.assistant_id,
        "status": "pending",
        "kwargs": kwargs,
        "metadata": metadata,
        "multitask_strategy": strategy,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "temporary": 1 if thread_id is None else 0,
    }
    return run, make_thread


async def _queue(server: Server, run: dict[str, Any], make_thread: bool) -> None:
    """Queue a checked run (making its thread first if asked), and stop the
    runs its multitask strategy stops; all in one transaction, which also
    claims the run for an idle worker of this process when its thread is free."""
    strategy = run["multitask_strategy"]
    graph_keys = {k: run["metadata"][k] for k in ("graph_id", "assistant_id")}
    workers = server.workers
    claiming = workers.reserve()
    try:
        stopped, claimed = await server.call(partial(
            server.db.queue_run, run, strategy,
            new_thread=(graph_keys if run["temporary"] else {}) if make_thread else None,
            # the thread's state is read with this graph from now on
            metadata=None if run["temporary"] else graph_keys,
            owner=workers.owner if claiming else None, lease=LEASE,
        ))
    except BaseException:
        if claiming:
            workers.release()
        raise
    stream = server.streams.open(run["run_id"])
    if claimed is not None:
        workers.run_claimed(claimed)  # its end reaches the stream here
    else:
        if claiming:
            workers.release()
        watch(server, run["run_id"], stream)  # another process may run it
    for run_id in stopped:
        await _stop(server, run_id, strategy)
    workers.wake()


async def batch(request: Request) -> Response:
    """``POST /runs/batch``: several background runs (stateless, or on the
    ``thread_id`` each names), all checked before any is queued."""
    server = server_of(request)
    payloads = parse_json(await request.body())
    if not isinstance(payloads, list) or not all(isinstance(p, dict) for p in payloads):
        raise RequestError("the body of /runs/batch must be a list of run objects")
    checked = [await _checked(server, Fields(p), p.get("thread_id")) for p in payloads]
    for run, make_thread in checked:
        await _queue(server, run, make_thread)
    return json_response([run_json(run) for run, _ in checked])


async def cancel_many(request: Request) -> Response:
    """``POST /runs/cancel``: stop the runs named by ids, or a thread's, or
    every run of a status ("pending", "running", "all")."""
    server = server_of(request)
    body = await body_of(request)
    action = query_of(request).choice("action", ("interrupt", "rollback"), "interrupt")
    thread_id = body.get("thread_id", str)
    run_ids = body.get("run_ids", list)
    status = body.choice("status", ("pending", "running", "all"), None)
    if thread_id is None and run_ids is None and status is None:
        raise RequestError("name the runs to cancel: thread_id, run_ids or status")
    for run_id in run_ids or []:
        check_uuid(run_id, "run_ids[]")
    found = await server.call(server.db.active_runs, thread_id, run_ids, None if status == "all" else status)
    for run_id in found:
        await server.call(server.db.cancel_run, run_id, action)
        await _stop(server, run_id, action)
    return Response(status_code=204)


async def _stop(server: Server, run_id: str, action: str) -> None:
    """Ask a run to stop: a running one stops between steps; a queued one is over now."""
    server.workers.cancel(run_id, action)
    row = await server.call(server.db.get_run, run_id)
    stream = server.streams.get(run_id)
    if stream is not None and row is not None and row["status"] not in ACTIVE and not stream.done:
        stream.finish(row["status"], {})


def _locations(run: dict[str, Any], stateless: bool) -> dict[str, str]:
    if stateless:
        return {"Content-Location": f"/runs/{run['run_id']}"}
    at = f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    return {"Content-Location": at, "Location": f"{at}/stream"}


def _sse(stream: RunStream, headers: dict[str, str], start: int = 0, ids: bool = False,
         on_disconnect: tuple[Server, str] | None = None) -> Response:
    async def body() -> AsyncIterator[bytes]:
        finished = False
        try:
            async for chunk in events_of(stream, start, ids):
                yield chunk
            finished = True
        finally:
            if not finished and on_disconnect is not None:
                server, run_id = on_disconnect
                await server.call(server.db.cancel_run, run_id, "interrupt")
                server.workers.cancel(run_id, "interrupt")

    headers = {**headers, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


async def create(request: Request) -> Response:
    stateless = "thread_id" not in request.path_params
    _, run, _ = await _create(request, stateless)
    return json_response(run_json(run), headers=_locations(run, stateless))


async def stream(request: Request) -> Response:
    stateless = "thread_id" not in request.path_params
    server, run, body = await _create(request, stateless)
    follow = server.streams.open(run["run_id"])
    cancel = body.choice("on_disconnect", ("cancel", "continue"), "continue") == "cancel"
    return _sse(follow, _locations(run, stateless), ids=body.flag("stream_resumable"),
                on_disconnect=(server, run["run_id"]) if cancel else None)


async def wait(request: Request) -> Response:
    stateless = "thread_id" not in request.path_params
    server, run, _ = await _create(request, stateless)
    result = await server.streams.open(run["run_id"]).wait()
    headers = _locations(run, stateless)
    if not stateless:
        headers["Location"] = f"/threads/{run['thread_id']}/runs/{run['run_id']}/join"
    return json_response(result, headers=headers)


async def _run(request: Request) -> tuple[Server, dict[str, Any]]:
    server = server_of(request)
    thread = await thread_or_404(server, request.path_params["thread_id"])
    run_id = check_uuid(request.path_params["run_id"], "run_id")
    row = await server.call(server.db.get_run, run_id, thread["thread_id"])
    if row is None:
        raise RequestError(f"run {run_id!r} not found on thread {thread['thread_id']!r}", 404)
    return server, row


async def list_runs(request: Request) -> Response:
    server = server_of(request)
    thread = await thread_or_404(server, request.path_params["thread_id"])
    query = query_of(request)
    status = query.choice("status", ("pending", "running", "success", "error", "interrupted", "timeout"), None)
    rows = await server.call(server.db.list_runs, thread["thread_id"], status, query.number("limit", 10, 0, 1000), query.number("offset", 0))
    return json_response([run_json(r) for r in rows])


async def get(request: Request) -> Response:
    _, row = await _run(request)
    return json_response(run_json(row))


async def delete(request: Request) -> Response:
    server, row = await _run(request)
    if row["status"] in ACTIVE:
        raise RequestError(f"run {row['run_id']!r} is {row['status']}; cancel it before deleting it", 409)
    await server.call(server.db.delete_run, row["run_id"])
    return Response(status_code=204)


async def _result_of(server: Server, row: dict[str, Any]) -> Any:
    """What ``join`` answers: the run's outcome, once it is over."""
    stream = server.streams.get(row["run_id"])
    if stream is None:
        if row["status"] not in ACTIVE:
            return outcome_from_rows(row, await server.call(server.db.get_thread, row["thread_id"]))
        stream = server.streams.open(row["run_id"])
        watch(server, row["run_id"], stream)
    return await stream.wait()


async def join(request: Request) -> Response:
    server, row = await _run(request)
    return json_response(await _result_of(server, row))


async def join_stream(request: Request) -> Response:
    server, row = await _run(request)
    last = request.headers.get("Last-Event-ID")
    start = 0
    if last is not None:
        if not last.strip().isdigit():
            raise RequestError(f"Last-Event-ID must be an event number this server sent, got {last!r}")
        start = int(last) + 1
    stream = server.streams.get(row["run_id"])
    if stream is None:  # over, or run by another process: its end only
        stream = server.streams.open(row["run_id"])
        watch(server, row["run_id"], stream)
    return _sse(stream, {}, start, ids=True)


async def cancel(request: Request) -> Response:
    server, row = await _run(request)
    query = query_of(request)
    action = query.choice("action", ("interrupt", "rollback"), "interrupt")
    wait_for_it = query.flag("wait")
    if row["status"] in ACTIVE:
        await server.call(server.db.cancel_run, row["run_id"], action)
        await _stop(server, row["run_id"], action)
    if not wait_for_it:
        return Response(status_code=202)
    await _result_of(server, row)
    return json_response({})


routes = [
    Route("/runs", create, methods=["POST"]),
    Route("/runs/batch", batch, methods=["POST"]),
    Route("/runs/cancel", cancel_many, methods=["POST"]),
    Route("/runs/stream", stream, methods=["POST"]),
    Route("/runs/wait", wait, methods=["POST"]),
    Route("/threads/{thread_id}/runs", create, methods=["POST"]),
    Route("/threads/{thread_id}/runs", list_runs, methods=["GET"]),
    Route("/threads/{thread_id}/runs/stream", stream, methods=["POST"]),
    Route("/threads/{thread_id}/runs/wait", wait, methods=["POST"]),
    Route("/threads/{thread_id}/runs/{run_id}", get, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}", delete, methods=["DELETE"]),
    Route("/threads/{thread_id}/runs/{run_id}/join", join, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/stream", join_stream, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/cancel", cancel, methods=["POST"]),
]
