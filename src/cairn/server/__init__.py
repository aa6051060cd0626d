"""``cairn serve``: LangGraph's server API over cairn's storage.

The official ``langgraph_sdk`` client, ``RemoteGraph`` and UIs built on it
talk to it as to LangGraph's server: assistants (one per graph of
``langgraph.json``), threads, their state and history, and runs (background,
streamed or waited for), kept in the same SQLite file as the checkpoints
and run by worker tasks, so that a run whose server died is finished after a
restart from its last committed step.

    from cairn.server import serve
    serve("langgraph.json", port=2024)

Needs the ``cairn[server]`` extra (Starlette and uvicorn).
"""

from cairn.server import _requires  # noqa: F401  (the extra's check comes first)
from cairn.server.app import create_app
from cairn.server.serve import open_server, serve, work

__all__ = ["create_app", "open_server", "serve", "work"]
