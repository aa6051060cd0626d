"""Following a run step by step: one ``StepEvent`` per committed checkpoint.

Events are plain data so that the day-1 child process can send them to the
parent as JSON lines, and the parent renders its own runs' events the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Mapping

from cairn.runtime import CompiledStateGraph
from cairn.types import StateSnapshot


@dataclass(frozen=True)
class StepEvent:
    """What one committed super-step did."""

    step: int
    source: str
    nodes: tuple[str, ...]
    summary: str
    checkpoint_id: str
    next: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"kind": "step", **asdict(self)})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StepEvent":
        return cls(
            step=int(data["step"]),
            source=str(data["source"]),
            nodes=tuple(data["nodes"]),
            summary=str(data["summary"]),
            checkpoint_id=str(data["checkpoint_id"]),
            next=tuple(data["next"]),
        )

    @classmethod
    def from_snapshot(
        cls, snapshot: StateSnapshot, describe: Callable[[Mapping[str, Any] | None], str]
    ) -> "StepEvent":
        metadata = snapshot.metadata or {}
        writes = metadata.get("writes")
        return cls(
            step=int(metadata.get("step", -1)),
            source=str(metadata.get("source", "?")),
            nodes=tuple(writes or ()),
            summary=describe(writes),
            checkpoint_id=checkpoint_id(snapshot.config),
            next=tuple(snapshot.next),
        )


def checkpoint_id(config: Mapping[str, Any] | None) -> str:
    """The checkpoint id a config returned by cairn names ("" for None)."""
    if not config:
        return ""
    return str(config.get("configurable", {}).get("checkpoint_id") or "")


def follow(
    graph: CompiledStateGraph,
    input: Any,
    config: Mapping[str, Any],
    describe: Callable[[Mapping[str, Any] | None], str],
) -> Iterator[StepEvent]:
    """Run ``graph`` like ``invoke(input, config)``, yielding each step once
    it is committed."""
    thread = {"configurable": {"thread_id": config["configurable"]["thread_id"]}}
    # "values" yields once per step (and, when resuming, first the state the
    # run goes on from, already reported); with durability "sync" the step's
    # checkpoint is stored by then, so the thread's head is that checkpoint
    # and a step reported here survives a kill that follows.
    seen = checkpoint_id(graph.get_state(thread).config)
    for _ in graph.stream(input, config, stream_mode="values", durability="sync"):
        snapshot = graph.get_state(thread)
        if checkpoint_id(snapshot.config) != seen:
            seen = checkpoint_id(snapshot.config)
            yield StepEvent.from_snapshot(snapshot, describe)
