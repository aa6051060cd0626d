"""``GraphSpec``: a validated graph, as ``compile()`` hands it to the runtime.

The description of a graph (its nodes, edges, branches and state schema),
apart from the builder that makes it, so that the runtime never imports the
builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Mapping

from cairn.graph.schema import StateSchema
from cairn.types import CachePolicy, RetryPolicy, Send, TimeoutPolicy

__all__ = ["Branch", "GraphSpec", "NodeSpec"]


@dataclass(frozen=True)
class NodeSpec:
    """A node as the runtime sees it."""

    name: str
    fn: Callable[..., Any]
    retry_policy: tuple[RetryPolicy, ...] = ()
    """Tried in order: the first whose ``retry_on`` accepts an error retries it."""
    defer: bool = False
    timeout: TimeoutPolicy | None = None
    destinations: tuple[str, ...] | None = None
    """Where a Command returned by the node may go; None when unknown."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    subgraph: bool = False
    """``fn`` is a compiled graph, run as a nested graph with checkpoints of its own."""
    input_schema: StateSchema | None = None
    """The schema the node reads the state through, when not the state's:
    it sees only that schema's keys."""
    error_handler: "NodeSpec | None" = None
    """Runs, in the failed task's place, when ``fn`` fails for good (after its
    retries): given the task's input and a ``NodeError``, its update and
    routes are the task's (LangGraph's ``add_node(..., error_handler=...)``)."""
    cache_policy: CachePolicy | None = None
    """How the node's results are cached, in the cache the graph is compiled with."""

    def retry_for(self, error: BaseException) -> RetryPolicy | None:
        """The first policy that retries ``error``, if any."""
        for policy in self.retry_policy:
            if policy.should_retry(error):
                return policy
        return None


@dataclass(frozen=True)
class Branch:
    """A conditional edge: ``path(state)`` picks the next node(s)."""

    path: Callable[..., Any]
    ends: Mapping[Hashable, str] | None = None

    def resolve(self, result: Any) -> list[Any]:
        """The destinations named by what ``path`` returned."""
        items = result if isinstance(result, (list, tuple)) else [result]
        if self.ends is None:
            return list(items)
        return [
            item if isinstance(item, Send) or item not in self.ends else self.ends[item]
            for item in items
        ]


@dataclass(frozen=True)
class GraphSpec:
    """A validated graph: what ``compile()`` gives the runtime."""

    schema: StateSchema
    nodes: Mapping[str, NodeSpec]
    edges: Mapping[str, tuple[str, ...]]
    """Static single-source edges, by source (START included)."""
    joins: Mapping[str, frozenset[str]]
    """Join target -> the sources it waits for (``add_edge([a, b], c)``)."""
    branches: Mapping[str, tuple[Branch, ...]]
    joins_by_source: Mapping[str, tuple[str, ...]]
    order: Mapping[str, int]
    """Each node's position in the order nodes were added (tasks are listed so)."""
    plain_routes: dict[tuple[Any, ...], tuple[str, ...] | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The runtime's memo: a task's routes (when all are node names) -> the
    nodes they start, or None when a deferred node is among them."""
