"""The served graphs and their default assistants: one per graph, its id
``uuid5(NAMESPACE_URL, graph_id)`` as in LangGraph's server, so ids stay the
same across restarts and machines. (Assistants made with ``POST
/assistants`` are stored in the server's database: ``assistant_db.py``.)

Every graph runs on the server's saver (a builder not compiled yet is
compiled with it; a saver the graph was compiled with is replaced, as
LangGraph's server does: threads, runs and checkpoints live in one database)
and on the server's store when it has none of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Mapping

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.errors import ConfigError
from cairn.runtime import CompiledStateGraph
from cairn.server.config import ServerConfig

__all__ = ["Assistant", "Assistants", "assistant_id_of", "load_graphs"]


def assistant_id_of(graph_id: str) -> str:
    """The id of the assistant of graph ``graph_id``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, graph_id))


@dataclass(frozen=True)
class Assistant:
    """A served graph, under an assistant's id: the graph's own (``config``
    and ``context`` empty) or a stored one's, whose ``config`` and
    ``context`` its runs start from."""

    assistant_id: str
    graph_id: str
    graph: CompiledStateGraph
    created_at: str
    config: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)


class Assistants:
    """The served graphs, found by their own assistant's id or by graph id
    (``assistant_db.require_assistant`` finds stored assistants too)."""

    def __init__(self, graphs: Mapping[str, CompiledStateGraph]) -> None:
        now = datetime.now(timezone.utc).isoformat()
        self._by_id = {
            assistant_id_of(name): Assistant(assistant_id_of(name), name, graph, now)
            for name, graph in graphs.items()
        }
        self._by_graph = {a.graph_id: a for a in self._by_id.values()}

    def __iter__(self) -> Iterator[Assistant]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def find(self, assistant_id: Any) -> Assistant | None:
        if not isinstance(assistant_id, str):
            return None
        return self._by_id.get(assistant_id) or self._by_graph.get(assistant_id)

    def of_graph(self, graph_id: str) -> Assistant | None:
        """The default assistant of graph ``graph_id`` (None: no such graph is served)."""
        return self._by_graph.get(graph_id)

    @property
    def graph_ids(self) -> list[str]:
        return sorted(self._by_graph)


def load_graphs(
    config: ServerConfig, saver: BaseCheckpointSaver, store: Any = None
) -> dict[str, CompiledStateGraph]:
    """Each graph of ``config``, imported and bound to ``saver``; a file
    several graphs name is run once."""
    modules: dict[Path, ModuleType] = {}
    return {
        name: _bind(name, _load(name, target, config.root, modules), saver, store)
        for name, target in config.graphs.items()
    }


def _load(name: str, target: str, root: Path, modules: dict[Path, ModuleType]) -> Any:
    where, _, attribute = target.rpartition(":")
    if where.endswith(".py") or "/" in where:
        file = (root / where).resolve()
        if not file.is_file():
            raise ConfigError(f"graph {name!r}: file {where!r} does not exist (looked at {str(file)!r})")
        if file not in modules:
            module_name = f"cairn_served_{len(modules)}_{file.stem}"
            spec = importlib.util.spec_from_file_location(module_name, file)
            assert spec is not None and spec.loader is not None
            modules[file] = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = modules[file]
            spec.loader.exec_module(modules[file])
        module = modules[file]
    else:
        module = importlib.import_module(where)
    if not hasattr(module, attribute):
        raise ConfigError(f"graph {name!r}: {where!r} has no variable {attribute!r}")
    return getattr(module, attribute)


def _bind(name: str, value: Any, saver: BaseCheckpointSaver, store: Any) -> CompiledStateGraph:
    if isinstance(value, CompiledStateGraph):
        graph = value
    elif callable(getattr(value, "compile", None)):
        graph = value.compile()
    else:
        raise ConfigError(
            f"graph {name!r} is a {type(value).__name__}; give a compiled graph "
            "(builder.compile()) or a StateGraph builder"
        )
    if not isinstance(graph, CompiledStateGraph):
        raise ConfigError(f"graph {name!r}: compile() gave a {type(graph).__name__}, not a cairn graph")
    graph.checkpointer = saver
    if graph.store is None and store is not None:
        graph.store = store
    return graph
