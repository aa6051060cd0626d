"""What a run hands to the subgraphs its nodes run: where to store, under
which lease and namespace. It travels in the node config, under ``PARENT``."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.checkpoint.base import BaseCheckpointSaver, Lease

PARENT = "__cairn_parent__"


@dataclass(frozen=True)
class Parent:
    saver: BaseCheckpointSaver
    lease: Lease | None
    durability: str
    ns: str
    replaying: bool = False
    """The parent is replaying an old checkpoint: its subgraphs start afresh
    instead of resuming what they stored the first time."""

    def child_ns(self, node: str, task_id: str) -> str:
        """The checkpoint namespace of the subgraph run by task ``task_id``."""
        own = f"{node}:{task_id}"
        return f"{self.ns}|{own}" if self.ns else own
