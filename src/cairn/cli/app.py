"""Loading the application's graph named by ``--graph``, bound to the CLI's saver.

``--graph FILE.py:ATTR`` imports the file (its folder first on the import
path, so its own imports work) and takes ``ATTR``: a StateGraph, or a
compiled graph, which is compiled again from its builder with the CLI's
saver (a compiled graph's own saver is not used). ``--graph NAME`` with
``--config langgraph.json`` looks NAME up in the file's ``"graphs"``, whose
values are ``./file.py:attr`` as LangGraph's CLI takes them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from cairn.checkpoint.base import BaseCheckpointSaver
from cairn.errors import ConfigError
from cairn.runtime import CompiledStateGraph


def graph_path(ref: str, config_file: str | None) -> str:
    """The ``FILE.py:ATTR`` that ``--graph`` (and ``--config``) name."""
    if ":" in ref and ref.split(":", 1)[0].endswith(".py"):
        return ref
    if config_file is None:
        raise ConfigError(
            f"--graph {ref!r} is not FILE.py:ATTR; give the file and the graph's name in it "
            "(--graph app.py:graph), or a langgraph.json with --config"
        )
    try:
        graphs = json.loads(Path(config_file).read_text()).get("graphs", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"--config {config_file!r} cannot be read as a langgraph.json: {exc}") from None
    if ref not in graphs:
        raise ConfigError(
            f"--config {config_file!r} names no graph {ref!r}; it names: "
            f"{', '.join(sorted(graphs)) or 'none'}"
        )
    file, _, attr = str(graphs[ref]).partition(":")
    return f"{Path(config_file).parent / file}:{attr}"


def load_graph(ref: str, config_file: str | None, saver: BaseCheckpointSaver) -> CompiledStateGraph:
    """The graph ``--graph`` names, compiled with ``saver``."""
    path, _, attr = graph_path(ref, config_file).partition(":")
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--graph: {path!r} is not a file")
    module = _import_file(file)
    found: Any = getattr(module, attr, None)
    if found is None:
        raise ConfigError(f"--graph: {path!r} has no {attr!r}")
    builder = found.builder if isinstance(found, CompiledStateGraph) else found
    if not hasattr(builder, "compile"):
        raise ConfigError(
            f"--graph: {attr!r} in {path!r} is a {type(found).__name__}, not a StateGraph or a "
            "compiled graph"
        )
    if isinstance(found, CompiledStateGraph):
        return builder.compile(  # type: ignore[no-any-return]
            checkpointer=saver,
            interrupt_before=list(found.interrupt_before_nodes),
            interrupt_after=list(found.interrupt_after_nodes),
            name=found.name,
            store=found.store,
        )
    return builder.compile(checkpointer=saver)  # type: ignore[no-any-return]


def _import_file(file: Path) -> ModuleType:
    """The module of ``file``, imported under its own name (its stem) as the
    application imports it, so that the names its classes are stored under
    (``module:Class``) are the same; under another name only if a different
    module holds that one."""
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = file.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == file.resolve():
            return loaded
        name = f"cairn_cli_app_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--graph: {str(file)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(
            f"--graph: importing {str(file)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module
