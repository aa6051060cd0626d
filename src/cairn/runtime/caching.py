"""Node results served from the cache a graph is compiled with (``compile(cache=...)``).

A node with a ``cache_policy`` is looked up before it runs: under its
namespace (``("__cairn_ns_writes", "<module>.<function>", "<node>")``) and
the hash of ``key_func(input)``. A hit is the task's write (its update and
routes, as the node made them) without running it; a miss runs the node
and caches what it wrote if it finished (a failure, an interrupt or an error
handler's write is not cached). The write goes into the checkpoint either way.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any, Hashable, Mapping, Sequence

from cairn.cache.base import BaseCache, FullKey, Namespace
from cairn.checkpoint.base import TaskRecord, TaskWrite
from cairn.errors import CacheKeyError, ConfigError
from cairn.graph.spec import GraphSpec, NodeSpec
from cairn.types import CachePolicy

__all__ = ["CACHE_NS", "NodeCache", "cache_namespaces", "node_namespace"]

CACHE_NS = "__cairn_ns_writes"


def _freeze(obj: Any, depth: int = 10) -> Any:
    """``obj`` with its mappings and sequences made tuples (a mapping's items
    sorted), so that equal inputs give equal keys."""
    if depth <= 0 or isinstance(obj, Hashable) and not isinstance(obj, tuple):
        return obj
    if isinstance(obj, Mapping):
        return tuple(sorted(((k, _freeze(v, depth - 1)) for k, v in obj.items()), key=repr))
    if isinstance(obj, (list, tuple)):
        return tuple(_freeze(item, depth - 1) for item in obj)
    return obj


def default_cache_key(*args: Any, **kwargs: Any) -> bytes:
    """A node's (or task's) input as bytes that are equal for equal inputs:
    ``CachePolicy``'s default ``key_func``. Made with pickle, which is only
    written here, never read back."""
    return pickle.dumps((_freeze(args), _freeze(kwargs)), protocol=5)


def node_namespace(node: NodeSpec) -> Namespace:
    """Where the results of ``node`` are cached: apart from other graphs'
    nodes of the same name that run another function."""
    return (CACHE_NS, _identifier(node.fn), node.name)


def _identifier(fn: Any) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if qualname is None:  # a callable object: its class
        module, qualname = type(fn).__module__, type(fn).__qualname__
    return f"{module}.{qualname}"


def _digest(policy: CachePolicy, what: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The hash of ``policy.key_func(*args, **kwargs)``."""
    try:
        made = (policy.key_func or default_cache_key)(*args, **kwargs)
    except Exception as exc:
        raise CacheKeyError(
            f"{what}: its cache_policy's key_func failed on the input "
            f"({type(exc).__name__}: {exc}); give CachePolicy(key_func=...) a function of the "
            "input that returns a str or bytes"
        ) from exc
    if isinstance(made, str):
        made = made.encode()
    if not isinstance(made, bytes):
        raise CacheKeyError(f"{what}: its cache_policy's key_func returned {made!r}; it must return a str or bytes")
    return hashlib.blake2b(made, digest_size=16).hexdigest()


def cache_namespaces(
    cache: "NodeCache | None", spec: GraphSpec, nodes: Sequence[str] | None
) -> tuple[BaseCache, list[Namespace]]:
    """The cache of a graph and the namespaces of ``nodes`` in it (all the
    graph's nodes when None), for ``clear_cache``."""
    if cache is None:
        raise ConfigError(
            "this graph has no cache to clear; compile it with "
            "builder.compile(cache=InMemoryCache()) (from cairn.cache.memory)"
        )
    names = list(spec.nodes) if nodes is None else list(nodes)
    unknown = [n for n in names if n not in spec.nodes]
    if unknown:
        raise ConfigError(f"clear_cache: {unknown!r} are not nodes of this graph; the nodes are {sorted(spec.nodes)}")
    return cache.cache, [node_namespace(spec.nodes[n]) for n in names]


class NodeCache:
    """The cache of one compiled graph, as its tasks use it."""

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def key(self, node: NodeSpec, arg: Any) -> FullKey | None:
        """The key of ``node`` run on ``arg``; None when the node is not cached."""
        policy = node.cache_policy
        if policy is None:
            return None
        return node_namespace(node), _digest(policy, f"node {node.name!r}", (arg,), {})

    def call_key(
        self, name: str, fn: Any, policy: CachePolicy, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> FullKey:
        """The key of a ``@task`` call (``fn(*args, **kwargs)``)."""
        return (CACHE_NS, _identifier(fn)), _digest(policy, f"task {name!r}", args, kwargs)

    def hit(self, task: TaskRecord, node: NodeSpec, found: Mapping[FullKey, Any], key: FullKey) -> TaskWrite | None:
        """The task's write from what the cache held under ``key``, if anything."""
        if key not in found:
            return None
        update, goto = found[key]
        return TaskWrite(task.id, node.name, update, tuple(goto))

    def entry(self, node: NodeSpec, key: FullKey, write: TaskWrite) -> dict[FullKey, tuple[Any, int | None]]:
        """What to cache of ``write``, the node's own, under ``key``."""
        assert node.cache_policy is not None
        return {key: ((write.update, write.goto), node.cache_policy.ttl)}

    def get(self, node: NodeSpec, task: TaskRecord, key: FullKey) -> TaskWrite | None:
        return self.hit(task, node, self.cache.get([key]), key)

    async def aget(self, node: NodeSpec, task: TaskRecord, key: FullKey) -> TaskWrite | None:
        return self.hit(task, node, await self.cache.aget([key]), key)

    def put(self, node: NodeSpec, key: FullKey, write: TaskWrite) -> None:
        self.cache.set(self.entry(node, key, write))

    async def aput(self, node: NodeSpec, key: FullKey, write: TaskWrite) -> None:
        await self.cache.aset(self.entry(node, key, write))
