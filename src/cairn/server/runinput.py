"""A run's request fields, checked when the run is created, and the call of
``astream`` they make when a worker runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from cairn.errors import RequestError
from cairn.server.graphs import Assistant
from cairn.server.validate import Fields
from cairn.types import Command

__all__ = ["RunArgs", "STREAM_MODES", "check_run_fields", "merged_config", "run_arguments"]

STREAM_MODES = {
    "values": "values",
    "updates": "updates",
    "messages-tuple": "messages",
    "messages": "messages",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
}
"""The server's stream modes and the graph's mode each one streams."""

STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")


def check_run_fields(body: Mapping[str, Any], assistant: Assistant) -> dict[str, Any]:
    """The ``kwargs`` stored with a run: the request's fields, checked."""
    f = Fields(body)
    if body.get("input") is not None and body.get("command") is not None:
        raise RequestError("give either 'input' or 'command', not both")
    command = f.get("command", dict)
    if command is not None:
        unknown = set(command) - {"resume", "update", "goto"}
        if unknown:
            raise RequestError(f"field 'command' may hold resume, update and goto; got {sorted(unknown)}")
    config = f.get("config", dict, {})
    if not isinstance(config.get("configurable", {}), dict):
        raise RequestError(f"config.configurable must be an object, got {config['configurable']!r}")
    modes = body.get("stream_mode") or ["values"]
    modes = [modes] if isinstance(modes, str) else modes
    if not isinstance(modes, list) or any(m not in STREAM_MODES for m in modes):
        raise RequestError(f"field 'stream_mode' must be one or a list of {sorted(STREAM_MODES)}, got {body.get('stream_mode')!r}")
    for key in ("interrupt_before", "interrupt_after"):
        names = f.names(key)
        if isinstance(names, list):
            strangers = [n for n in names if n not in assistant.graph.nodes]
            if strangers:
                raise RequestError(f"field {key!r} names unknown nodes {strangers}; the graph's nodes are {sorted(assistant.graph.nodes)}")
    checkpoint = f.get("checkpoint", dict)
    checkpoint_id = f.get("checkpoint_id", str) or (checkpoint or {}).get("checkpoint_id")
    return {
        "input": body.get("input"),
        "command": command,
        "config": config,
        "context": f.get("context", dict),
        "stream_mode": modes,
        "subgraphs": f.flag("stream_subgraphs"),
        "resumable": f.flag("stream_resumable"),
        "interrupt_before": f.names("interrupt_before"),
        "interrupt_after": f.names("interrupt_after"),
        "checkpoint_id": checkpoint_id,
        "checkpoint_ns": (checkpoint or {}).get("checkpoint_ns", ""),
        "durability": f.choice("durability", ("sync", "async", "exit"), None),
    }


@dataclass(frozen=True)
class RunArgs:
    input: Any
    config: dict[str, Any]
    options: dict[str, Any]
    """The keyword arguments of ``astream``."""
    subgraphs: bool


def merged_config(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """``own`` over ``base`` (a run's config over its assistant's): each key
    of ``own`` wins, ``configurable`` and ``metadata`` merged key by key."""
    merged = {**base, **own}
    for key in ("configurable", "metadata"):
        if key in base or key in own:
            merged[key] = {**(base.get(key) or {}), **(own.get(key) or {})}
    return merged


def run_arguments(run: Mapping[str, Any], assistant: Assistant, resumed: bool) -> RunArgs:
    """What to call ``astream`` with for ``run``; ``resumed``: the run wrote
    checkpoints in an attempt that died, so it goes on from the thread's head.
    The assistant's config and context are under the run's own."""
    kwargs = run["kwargs"]
    config = merged_config(assistant.config, kwargs.get("config") or {})
    context = kwargs.get("context")
    if assistant.context:
        context = {**assistant.context, **(context or {})}
    configurable = {
        **(config.get("configurable") or {}),
        "thread_id": run["thread_id"],
        "run_id": run["run_id"],
        "graph_id": assistant.graph_id,
        "assistant_id": assistant.assistant_id,
    }
    if kwargs.get("checkpoint_id") and not resumed:
        configurable["checkpoint_id"] = kwargs["checkpoint_id"]
        configurable["checkpoint_ns"] = kwargs.get("checkpoint_ns") or ""
    config["configurable"] = configurable
    config["run_id"] = run["run_id"]  # the checkpoints' metadata names the run (a retry reads it)
    config["metadata"] = {**(config.get("metadata") or {}), **run["metadata"], "run_attempt": run["attempts"]}
    if resumed:
        value: Any = None
    elif kwargs.get("command") is not None:
        value = Command(**kwargs["command"])
    else:
        value = kwargs.get("input")
    modes = list(dict.fromkeys(STREAM_MODES[m] for m in kwargs["stream_mode"]))
    options = {
        "stream_mode": modes,
        "subgraphs": bool(kwargs.get("subgraphs")),
        "context": context,
        "interrupt_before": kwargs.get("interrupt_before"),
        "interrupt_after": kwargs.get("interrupt_after"),
        "durability": kwargs.get("durability"),
    }
    return RunArgs(value, config, options, bool(kwargs.get("subgraphs")))
