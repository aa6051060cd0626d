"""cairn's modules import each other in layers, without a circle.

graph/ describes a graph, runtime/ runs it, checkpoint/ stores it: graph may
import runtime and checkpoint, runtime may import checkpoint and graph's
description (constants, schema, spec: never the builder ``graph.state``),
checkpoint imports neither. Every import statement counts, at module level
or inside a function, except those under ``if TYPE_CHECKING:`` (annotations
only: they never run). A package's ``__init__`` that an import runs on the
way is not counted: the import of ``cairn.graph.spec`` is an edge to that
module only.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

KNOWN = {("cairn.types", "cairn.runtime.interrupts")}
"""Edges the layers do not want yet: LangGraph's path ``cairn.types.interrupt``
must work, and ``interrupt()`` needs the run context of runtime/ (it imports
it when called). Shrink this set; never grow it."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "cairn").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _runs(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``tree`` that run (not under TYPE_CHECKING)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _known_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, statement: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
    else:
        base = statement.module or ""
        if statement.level:
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package.pop()
            package = package[: len(package) - statement.level + 1]
            base = ".".join([*package, base] if base else package)
        # ``from pkg import sub`` imports the submodule ``pkg.sub``.
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in statement.names]
    return {found for name in names if (found := _known_module(name)) and found != module}


def import_graph() -> dict[str, set[str]]:
    return {
        module: set().union(*(_targets(module, s) for s in _runs(ast.parse(path.read_text()))))
        for module, path in MODULES.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := walk(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := walk(module)):
            return found
    return None


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or module in ("cairn.graph", "cairn.runtime", "cairn.checkpoint") else module


def test_the_import_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert "cairn.graph.spec" in graph["cairn.runtime.loop"]
    assert "cairn.checkpoint.base" in graph["cairn.runtime.loop"]
    # A function-level import counts; one under TYPE_CHECKING does not.
    assert "cairn.checkpoint.encryption" in graph["cairn.checkpoint.serde"]
    assert "cairn.runtime.compiled" not in graph["cairn.runtime.loop"]


def test_no_module_of_cairn_imports_itself_through_others() -> None:
    graph = import_graph()
    for source, target in KNOWN:
        graph[source].discard(target)
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph) or [])}"


def test_the_layers_import_downwards_only() -> None:
    wrong = []
    for module, targets in import_graph().items():
        for target in targets:
            if (module, target) in KNOWN:
                continue
            layer, other = _layer(module), _layer(target)
            if layer == "checkpoint" and other in ("graph", "runtime"):
                wrong.append(f"{module} -> {target} (checkpoint/ stores: it imports neither)")
            if layer == "runtime" and (target == "cairn.graph.state" or target == "cairn.graph"):
                wrong.append(f"{module} -> {target} (runtime/ never imports the builder)")
            if module == "cairn.types" and other == "runtime":
                wrong.append(f"{module} -> {target} (cairn.types holds data only)")
            if module == "cairn.checkpoint.encryption" and target == "cairn.checkpoint.serde":
                wrong.append(f"{module} -> {target} (serde gathers encryption, not the reverse)")
    assert wrong == []


def test_the_known_exceptions_are_still_needed() -> None:
    graph = import_graph()
    assert [edge for edge in KNOWN if edge[1] not in graph[edge[0]]] == []
