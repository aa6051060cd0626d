"""``astream_events(version="v2")``: a run as LangChain's event stream.

The events LangChain users rely on, in LangGraph's shape (``event``,
``name``, ``run_id``, ``tags``, ``metadata``, ``data``, ``parent_ids``):
``on_chain_start`` / ``on_chain_stream`` / ``on_chain_end`` for the graph
and for each node's task, and ``on_chat_model_start`` / ``_stream`` /
``_end`` for the chat models nodes call (runtime/messages.py records those).
Made from the run's own streams: "debug" for the tasks, "values" for the
graph's state, "events" for the chat models.
"""

from __future__ import annotations

import uuid
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from cairn.errors import NotSupportedError

__all__ = ["EventFilter", "event_stream"]


class EventFilter:
    """LangChain's include_/exclude_ names, types and tags."""

    def __init__(
        self,
        include_names: Sequence[str] | None,
        include_types: Sequence[str] | None,
        include_tags: Sequence[str] | None,
        exclude_names: Sequence[str] | None,
        exclude_types: Sequence[str] | None,
        exclude_tags: Sequence[str] | None,
    ) -> None:
        self.include = (include_names, include_types, include_tags)
        self.exclude = (exclude_names, exclude_types, exclude_tags)

    def keeps(self, event: Mapping[str, Any]) -> bool:
        kind = event["event"][3:].rpartition("_")[0]  # on_chat_model_start -> chat_model
        features = ({event["name"]}, {kind}, set(event["tags"]))
        included = [set(f or ()) & got for f, got in zip(self.include, features) if f is not None]
        if included and not any(included):
            return False
        return not any(set(f or ()) & got for f, got in zip(self.exclude, features))


async def event_stream(
    name: str,
    input: Any,
    run: Callable[[], AsyncIterator[tuple[str, Any]]],
    keep: EventFilter,
    version: str,
) -> AsyncIterator[dict[str, Any]]:
    """The events of ``run()`` (an ``astream`` over the modes "debug",
    "values" and "events" yielding ``(mode, chunk)``)."""
    if version != "v2":
        raise NotSupportedError(
            f"astream_events(version={version!r}) is not supported; use version='v2'"
        )
    graph_id = str(uuid.uuid4())
    top = {"name": name, "run_id": graph_id, "tags": [], "metadata": {"ls_integration": "langgraph"}, "parent_ids": []}
    tasks: dict[str, dict[str, Any]] = {}
    output: Any = None
    events = [{"event": "on_chain_start", **top, "data": {"input": input}}]
    async for mode, chunk in run():
        if mode == "values":
            output = chunk
        elif mode == "events":  # a chat model's, under the graph and the task that called it
            task = tasks.get(chunk["metadata"].get("langgraph_checkpoint_ns", "").rpartition(":")[2])
            events.append({**chunk, "parent_ids": [graph_id, *([task["run_id"]] if task else [])]})
        elif mode == "debug" and chunk["type"] in ("task", "task_result"):
            events.extend(_task_events(chunk, tasks, graph_id))
        for event in events:
            if keep.keeps(event):
                yield event
        events = []
    final = [
        {"event": "on_chain_stream", **top, "data": {"chunk": output}},
        {"event": "on_chain_end", **top, "data": {"output": output}},
    ]
    for event in [*events, *final]:
        if keep.keeps(event):
            yield event


def _task_events(chunk: Mapping[str, Any], tasks: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    payload, step = chunk["payload"], chunk["step"]
    if chunk["type"] == "task":
        name = payload["name"]
        started = {
            "name": name,
            "run_id": str(uuid.uuid4()),
            "tags": [f"graph:step:{step}"],
            "metadata": {
                "langgraph_step": step,
                "langgraph_node": name,
                "langgraph_triggers": payload["triggers"],
                "langgraph_path": ("__pregel_pull", name),
                "langgraph_checkpoint_ns": f"{name}:{payload['id']}",
                "ls_integration": "langgraph",
            },
            "parent_ids": [parent],
            "input": payload["input"],
        }
        tasks[payload["id"]] = started
        return [{"event": "on_chain_start", **_shown(started), "data": {"input": started["input"]}}]
    started = tasks.pop(payload["id"], {})
    if not started or payload["error"] is not None:
        return []
    output = payload["result"]
    return [
        {"event": "on_chain_stream", **_shown(started), "data": {"chunk": output}},
        {"event": "on_chain_end", **_shown(started), "data": {"output": output, "input": started["input"]}},
    ]


def _shown(started: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in started.items() if k != "input"}
