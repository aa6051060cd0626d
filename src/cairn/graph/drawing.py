"""A graph's shape for drawing: ``compiled.get_graph()``.

The shape is LangChain's ``langchain_core.runnables.graph.Graph`` (what
LangGraph returns), so ``draw_mermaid()``, ``draw_mermaid_png()``,
``draw_ascii()`` (with ``grandalf``) and ``to_json()`` draw it as they draw
LangGraph's. Edges: the static ones solid, those a conditional edge or a
node's ``Command`` may take dashed, labelled with the path map's key when it
differs from the node it leads to. With ``xray``, a subgraph node is drawn
as the subgraph's own nodes, named ``"node:inner"``.
"""

from __future__ import annotations

import typing
from typing import Any, Iterator, Literal, Union

from cairn.errors import MissingDependencyError
from cairn.graph.constants import END, START
from cairn.graph.spec import Branch, GraphSpec

__all__ = ["draw"]

Edge = tuple[str, str, bool, Union[str, None]]
"""(source, target, conditional, label)."""


def draw(spec: GraphSpec, xray: Union[bool, int] = False) -> Any:
    """The ``langchain_core`` Graph of ``spec``; subgraphs expanded ``xray``
    levels deep (True: every level)."""
    try:
        from langchain_core.runnables.graph import Graph
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "get_graph() draws with LangChain's graph: pip install 'cairn[langchain]' "
            "(langchain_core)"
        ) from exc
    graph = Graph()
    nodes, edges = _shape(spec, xray if isinstance(xray, bool) else int(xray), "")
    own = [n for n in nodes if ":" not in n]
    for name in (START, *own, END, *(n for n in nodes if ":" in n)):
        graph.add_node(None, name)
    for source, target, conditional, label in edges:
        graph.add_edge(graph.nodes[source], graph.nodes[target], label, conditional)
    return graph


def _shape(spec: GraphSpec, xray: Union[bool, int], prefix: str) -> tuple[list[str], list[Edge]]:
    """The node names and edges of ``spec``, names prefixed with ``prefix``
    (START and END of a subgraph are its parent node's entry and exit)."""
    nodes: list[str] = []
    edges: list[Edge] = _by_source(spec, list(_edges(spec)))
    expand = xray is True or (xray is not False and xray > 0)
    for name, node in spec.nodes.items():
        inner_spec = getattr(node.fn, "spec", None) if node.subgraph else None
        if not expand or inner_spec is None:
            nodes.append(name)
            continue
        deeper = xray if xray is True else int(xray) - 1
        inner_nodes, inner_edges = _shape(inner_spec, deeper, f"{name}:")
        nodes.extend(inner_nodes)
        edges = list(_splice(edges, name, inner_nodes, inner_edges))
    named = [f"{prefix}{n}" for n in nodes]
    renamed = [(_in(prefix, s), _in(prefix, t), c, label) for s, t, c, label in edges]
    return named, renamed


def _in(prefix: str, name: str) -> str:
    if not prefix or name in (START, END):
        return name if not prefix else f"{prefix}{name}"
    return name if name.startswith(prefix) else f"{prefix}{name}"


def _splice(edges: list[Edge], node: str, inner_nodes: list[str], inner: list[Edge]) -> Iterator[Edge]:
    """``edges`` with ``node`` replaced by a subgraph's edges: what led to
    the node leads to the subgraph's first nodes, what left it leaves from
    the subgraph's last ones (those that lead to its end, or nowhere)."""
    entry = f"{node}:{START}"
    exit_ = f"{node}:{END}"
    firsts = [t for s, t, _, _ in inner if s == entry]
    leaving = {s for s, _, _, _ in inner}
    lasts = [s for s, t, _, _ in inner if t == exit_] + [n for n in inner_nodes if n not in leaving]
    for source, target, conditional, label in edges:
        sources = lasts if source == node else [source]
        targets = firsts if target == node else [target]
        for s in sources:
            for t in targets:
                yield (s, t, conditional, label)
    yield from ((s, t, c, label) for s, t, c, label in inner if s != entry and t != exit_)


def _edges(spec: GraphSpec) -> Iterator[Edge]:
    for source, targets in spec.edges.items():
        for target in targets:
            yield (source, target, False, None)
    for target, sources in spec.joins.items():
        for source in sorted(sources, key=lambda n: spec.order.get(n, -1)):
            yield (source, target, False, None)
    for source, branches in spec.branches.items():
        for branch in branches:
            yield from _branch_edges(source, branch)
    for name, node in spec.nodes.items():
        if node.destinations:  # a Command's destinations, from its annotation or add_node
            for target in sorted(node.destinations):
                yield (name, target, True, None)


def _by_source(spec: GraphSpec, edges: list[Edge]) -> list[Edge]:
    """``edges`` grouped by their source, in the order the nodes were added."""
    order = {START: -1, **spec.order}
    return sorted(edges, key=lambda e: order.get(e[0], len(order)))


def _branch_edges(source: str, branch: Branch) -> Iterator[Edge]:
    if branch.ends is not None:
        for key, target in branch.ends.items():
            yield (source, target, True, None if key == target else str(key))
        return
    targets = _literal_targets(branch.path)
    if not targets:  # where it leads is known only when it runs: drawn as an end, as LangGraph does
        yield (source, END, False, None)
    for target in targets:
        yield (source, target, True, None)


def _literal_targets(path: Any) -> list[str]:
    """The node names a path function's ``Literal[...]`` return annotation lists."""
    try:
        hint = typing.get_type_hints(path).get("return")
    except Exception:  # noqa: BLE001 - unreadable annotations: no names
        return []
    if typing.get_origin(hint) is Literal:
        return [str(a) for a in typing.get_args(hint)]
    return []
