"""cairn's modules import each other in layers, downwards, without a circle.

From the bottom up (a module imports from its own layer and those below):

0. shared: ``cairn.errors``, ``cairn.warnings``, ``cairn.current`` (the
   running task), ``cairn.types`` (Command, Send, interrupt...) and
   ``cairn.managed`` (RemainingSteps, IsLastStep), ``cairn.channels`` (what a
   key's annotation declares: EphemeralValue, Topic...);
1. ``cairn.checkpoint``: storing records;
1b. ``cairn.store``: long-term memory across threads (reuses the savers' connection helpers);
1c. ``cairn.cache``: caches of node results (their values stored with the savers' serializer);
2. graph's description: ``cairn.graph.constants``, ``schema``, ``spec``;
3. ``cairn.runtime``: running a described graph;
4. the builder: ``cairn.graph.state``, ``cairn.graph.message`` (add_messages,
   MessagesState, MessageGraph) and ``cairn.graph`` (which re-exports them);
5. ``cairn.server``: LangGraph's server API over all of the above, which
   nothing imports but the ``cairn serve`` command;
6. the surface: ``cairn``, ``cairn.config``, ``cairn.cli``, ``cairn.prebuilt``
   (agents built as graphs with the builder).

Every import statement counts: at module level, inside a function, and under
``if TYPE_CHECKING:`` (an annotation that names a module above is a
dependency on it all the same). ``from pkg import name`` is an edge to the
submodule ``pkg.name`` when there is one, else to ``pkg``. The package
``__init__`` files that Python runs on the way to a submodule are not edges:
importing ``cairn.graph.spec`` depends on that module only.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

LAYERS = [
    ("shared", ["cairn.errors", "cairn.warnings", "cairn.current", "cairn.types", "cairn.managed", "cairn.channels", "cairn.typing", "cairn.version"]),
    ("checkpoint", ["cairn.checkpoint"]),
    ("store", ["cairn.store"]),
    ("cache", ["cairn.cache"]),
    ("description", ["cairn.graph.constants", "cairn.graph.schema", "cairn.graph.spec", "cairn.graph.drawing"]),
    ("runtime", ["cairn.runtime"]),
    ("builder", ["cairn.graph.state", "cairn.graph.message", "cairn.graph"]),
    ("server", ["cairn.server"]),
    ("surface", ["cairn.config", "cairn.constants", "cairn.func", "cairn.cli", "cairn.prebuilt", "cairn.pregel", "cairn.otel", "cairn"]),
]
"""Each module belongs to the first layer with a prefix that names it or a package above it."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "cairn").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _known_module(name: str) -> str | None:
    """``name``, or the nearest package above it that is one of cairn's modules."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, statement: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(statement, ast.Import):
        names = [alias.name for alias in statement.names]
    else:
        base = statement.module or ""
        if statement.level:  # relative: from the module's package, up level - 1
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package.pop()
            package = package[: len(package) - statement.level + 1]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in statement.names]
    return {found for name in names if (found := _known_module(name)) and found != module}


def import_graph() -> dict[str, set[str]]:
    """Each module of cairn and the modules of cairn it imports, by any statement."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        statements = [
            node
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
        graph[module] = set().union(*(_targets(module, s) for s in statements))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import circle through each group of modules that reach each other."""
    found: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()

        def walk(module: str) -> list[str] | None:
            path.append(module)
            on_path.add(module)
            for target in sorted(graph[module]):
                if target in on_path:
                    return path[path.index(target) :] + [target]
                if target not in done and (circle := walk(target)):
                    return circle
            path.pop()
            on_path.discard(module)
            done.add(module)
            return None

        circle = walk(start)
        if circle:
            found.append(circle)
            done.update(circle)
    return found


def layer_of(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or (p != "cairn" and module.startswith(p + ".")) for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_the_import_graph_is_read_from_every_statement() -> None:
    graph = import_graph()
    assert {"cairn.graph.spec", "cairn.checkpoint.base"} <= graph["cairn.runtime.loop"]
    # inside a function (compile() makes the CompiledStateGraph)
    assert "cairn.runtime.compiled" in graph["cairn.graph.state"]
    # under TYPE_CHECKING
    assert "cairn.checkpoint.base" in graph["cairn.runtime.context"]
    # ``from cairn.runtime import offload`` names the submodule
    assert "cairn.runtime.offload" in graph["cairn.runtime.tasks"]


def test_no_module_of_cairn_imports_itself_through_others() -> None:
    circles = [" -> ".join(circle) for circle in _cycles(import_graph())]
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_every_module_imports_from_its_layer_or_below() -> None:
    wrong = [
        f"{module} ({LAYERS[layer_of(module)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert not wrong, "imports upwards:\n" + "\n".join(wrong)


def test_the_named_boundaries_hold() -> None:
    graph = import_graph()
    wrong = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if module.startswith("cairn.checkpoint") and target.startswith(("cairn.graph", "cairn.runtime")):
                wrong.append(f"{module} -> {target}: checkpoint/ imports neither graph/ nor runtime/")
            if module.startswith("cairn.runtime") and target in ("cairn.graph.state", "cairn.graph"):
                wrong.append(f"{module} -> {target}: runtime/ never imports the builder")
            if module == "cairn.types" and target.startswith("cairn.runtime"):
                wrong.append(f"{module} -> {target}: cairn.types imports nothing of runtime/")
            if target.startswith("cairn.server") and not module.startswith(("cairn.server", "cairn.cli.serve", "cairn.cli.ui")):
                wrong.append(f"{module} -> {target}: only the `cairn serve` and `cairn ui` commands import server/")
    serde, encryption = "cairn.checkpoint.serde", "cairn.checkpoint.encryption"
    if encryption in graph[serde] and serde in graph[encryption]:
        wrong.append(f"{serde} <-> {encryption}: one of them builds on the other, not both")
    assert not wrong, "\n".join(wrong)
