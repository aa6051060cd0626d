"""The config dict users pass, read once into a typed record.

Accepted forms: ``{"configurable": {"thread_id": ...}}``, ``{"thread_id": ...}``
at the top level, and a bare thread id string. Configs cairn hands back are
always ``{"configurable": {"thread_id", "checkpoint_ns", "checkpoint_id"}}``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from cairn.checkpoint.shapes import get_checkpoint_metadata
from cairn.errors import ArgumentTypeError, ConfigError
from cairn.runtime.observe import check_observers

DEFAULT_RECURSION_LIMIT = 25
_IDENTITY_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id")


@dataclass(frozen=True)
class RunConfig:
    thread_id: str | None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    recursion_limit: int = DEFAULT_RECURSION_LIMIT
    metadata: Mapping[str, Any] = field(default_factory=dict)
    configurable: Mapping[str, Any] = field(default_factory=dict)
    """Every configurable key the user gave, for nodes that take ``config``."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other top-level keys (tags, callbacks, ...), passed through to nodes."""
    observers: tuple[Any, ...] = ()
    """What watches this call's run (``config["observers"]``, cairn's own
    key; ``runtime/observe.py``): not handed to nodes."""

    @property
    def stored_metadata(self) -> dict[str, Any]:
        """What a checkpoint written under this config adds to its metadata,
        as LangGraph does (``get_checkpoint_metadata``)."""
        return get_checkpoint_metadata({"metadata": self.metadata, "configurable": self.configurable}, {})


def _as_id(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"config {key} must be a string, got {type(value).__name__} {value!r}")


def read_config(config: Any) -> RunConfig:
    """Read a user's config (dict, thread id string or None) into a RunConfig."""
    if config is None:
        return RunConfig(thread_id=None)
    if isinstance(config, (str, int, uuid.UUID)) and not isinstance(config, bool):
        return RunConfig(thread_id=str(config), configurable={"thread_id": str(config)})
    if not isinstance(config, Mapping):
        raise ArgumentTypeError(
            f"config must be a dict like {{'configurable': {{'thread_id': '1'}}}} or a thread id "
            f"string, got {type(config).__name__} {config!r}"
        )
    configurable = dict(config.get("configurable") or {})
    for key in _IDENTITY_KEYS:
        if key in config and key not in configurable:
            configurable[key] = config[key]
    limit = config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ArgumentTypeError(f"recursion_limit must be a whole number >= 1, got {limit!r}")
    if limit < 1:
        raise ConfigError(f"recursion_limit must be a whole number >= 1, got {limit!r}")
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ConfigError(f"config metadata must be a dict, got {metadata!r}")
    ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(ns, str):
        raise ConfigError(f"config checkpoint_ns must be a string, got {ns!r}")
    observers = config.get("observers")
    extra = {
        k: v
        for k, v in config.items()
        if k not in ("configurable", "recursion_limit", "metadata", "observers", *_IDENTITY_KEYS)
    }
    return RunConfig(
        thread_id=_as_id(configurable.get("thread_id"), "thread_id"),
        checkpoint_ns=ns,
        checkpoint_id=_as_id(configurable.get("checkpoint_id"), "checkpoint_id") or None,
        recursion_limit=limit,
        metadata=dict(metadata),
        configurable=configurable,
        extra=extra,
        observers=check_observers(observers, 'config["observers"]') if observers is not None else (),
    )


def canonical(thread_id: str, ns: str, checkpoint_id: str | None) -> dict[str, Any]:
    """The config form cairn hands back."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def require_thread(config: RunConfig, what: str) -> str:
    if config.thread_id is None:
        raise ConfigError(
            f"{what} needs a thread: pass config={{'configurable': {{'thread_id': '...'}}}} "
            "(or just the thread id string); the graph has a checkpointer, so every run "
            "belongs to a thread_id"
        )
    return config.thread_id
