"""Running graphs: the super-step loop, tasks, state folding and snapshots."""

from cairn.runtime.compiled import CompiledStateGraph

__all__ = ["CompiledStateGraph"]
