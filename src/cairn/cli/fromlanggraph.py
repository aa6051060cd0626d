"""``cairn import --from-langgraph FILE_OR_URL``: moving a LangGraph
checkpointer's database (a SqliteSaver file, or a PostgresSaver's tables at
a postgresql:// URL) into cairn's (``cairn.checkpoint.fromlanggraph``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from cairn.checkpoint.fromlanggraph import Allowed, import_checkpoints, read_postgres, read_sqlite
from cairn.cli.app import load_graph
from cairn.cli.store import is_postgres, open_db, shown
from cairn.errors import ConfigError

__all__ = ["allowed_class", "import_langgraph"]


def allowed_class(ref: str) -> type:
    """The class ``--allow module:Class`` names (its module imported, as the
    user asked)."""
    module_name, _, name = ref.partition(":")
    if not module_name or not name:
        raise ConfigError(f"--allow {ref!r} is not module:Class; e.g. --allow myapp.models:Order")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"--allow {ref!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    found = getattr(module, name, None)
    if not isinstance(found, type):
        raise ConfigError(f"--allow {ref!r}: {module_name!r} has no class {name!r}")
    return found


def import_langgraph(db: str, source: str, allow: tuple[str, ...], graph_ref: str | None,
                     config_file: str | None) -> dict[str, Any]:
    """Read every checkpoint of the LangGraph database ``source`` and write
    it into ``db``; returns what was imported."""
    extra = [allowed_class(ref) for ref in allow]
    made = None if is_postgres(db) or Path(db).exists() else Path(db)
    try:
        with open_db(db, reading=False, create=True) as saver:
            if graph_ref:
                load_graph(graph_ref, config_file, saver)  # registers the state's classes
            allowed = Allowed(saver.serde.types, extra)
            checkpoints = read_postgres(source, allowed) if is_postgres(source) else read_sqlite(source, allowed)
            if not checkpoints:
                raise ConfigError(f"--from-langgraph {shown(source)!r} holds no checkpoints; nothing was imported")
            counts = import_checkpoints(saver, checkpoints, allowed)
    except BaseException:
        if made is not None:  # a file this import made holds nothing: leave none behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{made}{suffix}").unlink(missing_ok=True)
        raise
    return {"threads": counts.threads, "checkpoints": counts.checkpoints, "pending": counts.pending}
