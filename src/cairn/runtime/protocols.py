"""What a run needs of the compiled graph it runs, as a Protocol.

``compiled.py`` makes each ``Run`` (``loop.py``) and hands it itself; the run
names only this Protocol, so that loop.py never imports compiled.py, even for
an annotation: the runtime's modules import each other without a circle.
"""

from __future__ import annotations

from typing import Any, Protocol

from cairn.checkpoint.base import BaseCheckpointSaver, CheckpointRecord
from cairn.graph.spec import GraphSpec
from cairn.runtime.heads import HeadCache
from cairn.runtime.tasks import TaskRunner

__all__ = ["RunGraph"]


class RunGraph(Protocol):
    """The graph of a run: ``CompiledStateGraph`` is the one there is."""

    name: str
    """``compile(name=...)``: what the checkpoints' metadata call the graph."""
    spec: GraphSpec
    checkpointer: BaseCheckpointSaver | None
    store: Any
    """What nodes receive as ``store``."""
    runner: TaskRunner
    heads: HeadCache
    """The states at the heads of recently used threads."""
    observers: tuple[Any, ...]
    """``compile(observers=...)``: what watches every run of the graph."""

    def values_at(self, checkpoint: CheckpointRecord) -> dict[str, Any]:
        """The state at ``checkpoint``."""
        ...
