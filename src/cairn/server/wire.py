"""Values as LangGraph's server puts them on the wire: JSON, with messages
as LangChain's dicts (``type``, ``content``, ``id``, ``tool_calls``...),
interrupts as ``{"value", "id"}`` and snapshots, tasks and checkpoints in
the shapes ``langgraph_sdk`` reads."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from datetime import date, datetime
from enum import Enum
from typing import Any, Mapping
from uuid import UUID

from cairn.types import Interrupt, PregelTask, StateSnapshot

try:
    import orjson
except ImportError:  # the standard library's json, slower
    orjson = None  # type: ignore[assignment]

__all__ = ["dumps", "encode", "interrupt_json", "jsonable", "snapshot_json"]


def jsonable(value: Any) -> Any:
    """``value`` made of JSON's types only."""
    kind = type(value)  # the common types first, by their exact type: a state is mostly these
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [v if type(v) is str else jsonable(v) for v in value]
    if kind is dict:
        return {(k if type(k) is str else str(k)): (v if type(v) is str else jsonable(v)) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Interrupt):
        return interrupt_json(value)
    return jsonable(_plain(value))


def _plain(value: Any) -> Any:
    """One value of a type JSON lacks, as plain data."""
    dump = getattr(value, "model_dump", None)  # pydantic models: LangChain's messages among them
    if callable(dump):
        return dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return repr(value)


def dumps(value: Any) -> str:
    """``value`` as JSON text: by orjson when installed (the ``server``
    extra installs it), else (or for an int past 64 bits, or text orjson
    refuses) by the standard library. NaN and infinities are written as
    null, as LangGraph's server does (``json`` alone would write ``NaN``,
    which is not JSON)."""
    plain = jsonable(value)
    if orjson is not None:
        try:
            return orjson.dumps(plain).decode()  # type: ignore[no-any-return]
        except orjson.JSONEncodeError:
            pass
    return _stdlib(plain)


def encode(value: Any) -> bytes:
    """``dumps(value)`` in UTF-8 (an answer's body)."""
    plain = jsonable(value)
    if orjson is not None:
        try:
            return orjson.dumps(plain)  # type: ignore[no-any-return]
        except orjson.JSONEncodeError:
            pass
    return _stdlib(plain).encode()


def _stdlib(plain: Any) -> str:
    return json.dumps(_finite(plain), separators=(",", ":"), ensure_ascii=False)


def _finite(value: Any) -> Any:
    """Plain JSON data with null for NaN and infinities (as orjson writes them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def interrupt_json(value: Interrupt) -> dict[str, Any]:
    """An interrupt as LangGraph's server sends it: ``response_schema`` only when the graph gave one."""
    found = {"value": jsonable(value.value), "id": value.id}
    if value.response_schema is not None:
        found["response_schema"] = jsonable(value.response_schema)
    return found


def _task_json(task: PregelTask) -> dict[str, Any]:
    state = task.state
    return {
        "id": task.id,
        "name": task.name,
        "path": jsonable(task.path),
        "error": task.error,
        "interrupts": [interrupt_json(i) for i in task.interrupts],
        "checkpoint": _checkpoint(state) if isinstance(state, Mapping) else None,
        "state": snapshot_json(state) if isinstance(state, StateSnapshot) else None,
        "result": jsonable(task.result),
    }


def _checkpoint(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    c = config.get("configurable", {})
    return {
        "checkpoint_id": c.get("checkpoint_id"),
        "thread_id": c.get("thread_id"),
        "checkpoint_ns": c.get("checkpoint_ns", ""),
    }


def snapshot_json(snapshot: StateSnapshot) -> dict[str, Any]:
    """A thread state as ``GET /threads/{id}/state`` answers it."""
    checkpoint = _checkpoint(snapshot.config)
    parent = _checkpoint(snapshot.parent_config)
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [_task_json(t) for t in snapshot.tasks],
        "metadata": jsonable(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }
