"""LangGraph's shapes of a checkpoint, as its checkpointer interface hands
them out and takes them in: ``Checkpoint`` (a dict), ``CheckpointMetadata``,
``CheckpointTuple``, and the helpers programs build them with.

These are what code written for ``langgraph.checkpoint.base`` reads and
passes; cairn's own records (``cairn.checkpoint.records``) are what it
stores. ``cairn.checkpoint.interface`` turns one into the other.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone
from typing import Any, Literal, Mapping, NamedTuple, TypedDict

from cairn.checkpoint.ids import new_checkpoint_id
from cairn.errors import ConfigError

__all__ = [
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "LATEST_VERSION",
    "copy_checkpoint",
    "create_checkpoint",
    "empty_checkpoint",
    "get_checkpoint_id",
    "get_checkpoint_metadata",
    "next_version",
]

LATEST_VERSION = 4
"""The ``v`` of the checkpoints cairn hands out (LangGraph 1.x's format)."""

ChannelVersions = dict[str, str | int | float]
"""A version per channel (state key), increasing each time it is written."""


class Checkpoint(TypedDict, total=False):
    """A checkpoint as LangGraph's checkpointer interface shows it.

    ``channel_values`` is the state at the checkpoint; ``id`` sorts by
    creation time; ``ts`` is when it was made (ISO-8601, UTC).
    """

    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    channel_versions: ChannelVersions
    versions_seen: dict[str, ChannelVersions]
    updated_channels: list[str] | None
    pending_sends: list[Any]


class CheckpointMetadata(TypedDict, total=False):
    """What is known of how a checkpoint came to be (and what the run's
    config added): ``source`` ("input", "loop", "update" or "fork"),
    ``step`` (-1 for the input), ``parents`` (namespace -> checkpoint id)."""

    source: Literal["input", "loop", "update", "fork"]
    step: int
    parents: dict[str, str]
    run_id: str


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata, parent's config and the writes
    of the tasks that ran (or failed, or paused) after it, as
    ``(task_id, channel, value)`` triples."""

    config: dict[str, Any]
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: dict[str, Any] | None = None
    pending_writes: list[tuple[str, str, Any]] | None = None


def empty_checkpoint() -> Checkpoint:
    """A checkpoint of nothing, with a fresh id: what a program fills in and ``put``s."""
    return Checkpoint(
        v=LATEST_VERSION,
        id=new_checkpoint_id(),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values={},
        channel_versions={},
        versions_seen={},
        updated_channels=None,
    )


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    """A copy of ``checkpoint`` whose dicts can be changed without changing it."""
    copied = Checkpoint(**checkpoint)  # type: ignore[typeddict-item]
    copied["channel_values"] = dict(checkpoint.get("channel_values") or {})
    copied["channel_versions"] = dict(checkpoint.get("channel_versions") or {})
    copied["versions_seen"] = {k: dict(v) for k, v in (checkpoint.get("versions_seen") or {}).items()}
    return copied


def create_checkpoint(
    checkpoint: Checkpoint, channels: Mapping[str, Any] | None, step: int, *, id: str | None = None
) -> Checkpoint:
    """A new checkpoint (fresh id and time) with ``checkpoint``'s values and
    versions. ``channels`` (LangGraph's channel objects) is not supported:
    cairn keeps no channel objects; pass None."""
    if channels is not None:
        raise ConfigError(
            f"create_checkpoint(checkpoint, channels, step) takes channels=None in cairn (got "
            f"{type(channels).__name__}): cairn keeps no channel objects; put the values in "
            "the checkpoint's channel_values instead"
        )
    created = copy_checkpoint(checkpoint)
    created["v"] = LATEST_VERSION
    created["id"] = id or new_checkpoint_id()
    created["ts"] = datetime.now(timezone.utc).isoformat()
    created["updated_channels"] = None
    return created


def get_checkpoint_id(config: Mapping[str, Any]) -> str | None:
    """The ``checkpoint_id`` a config names, or None."""
    return (config.get("configurable") or {}).get("checkpoint_id")


_NOT_METADATA = frozenset(
    (
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    )
)
"""Configurable keys never copied into a checkpoint's metadata."""


def get_checkpoint_metadata(config: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` plus what a run's config adds to a checkpoint's metadata,
    as LangGraph does: the keys of ``config["metadata"]``, then of
    ``config["configurable"]``, whose values are strings, numbers or booleans,
    except keys starting with "__", the checkpoint's address and LangGraph's
    task keys (the first of two equal keys wins)."""
    stored = dict(metadata)
    for source in (config.get("metadata"), config.get("configurable")):
        for key, value in (source or {}).items():
            if (
                isinstance(value, (str, int, float))  # bool is an int
                and key not in stored
                and key not in _NOT_METADATA
                and not key.startswith("__")
            ):
                stored[key] = value
    return stored


def next_version(current: str | int | float | None) -> str | int | float:
    """The version after ``current``: whole numbers count up from 1; a
    string version (LangGraph's InMemorySaver and PostgresSaver make them)
    gets the next one of the same form."""
    if current is None:
        return 1
    if isinstance(current, str):
        try:
            number = int(current.split(".", 1)[0])
        except ValueError:
            raise ConfigError(
                f"channel version {current!r} does not start with a whole number; versions "
                "are whole numbers or strings like '00000000000000000000000000000001.0.5'"
            ) from None
        return f"{number + 1:032}.{random.random():016}"
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        raise ConfigError(f"a channel version is a number or a string, got {current!r}")
    return current + 1


def check_checkpoint(checkpoint: Any) -> tuple[str, dict[str, Any]]:
    """The id and channel values of a checkpoint given to ``put``, checked."""
    if not isinstance(checkpoint, Mapping):
        raise ConfigError(
            f"put(config, checkpoint, metadata, new_versions) takes a checkpoint dict "
            f"(from empty_checkpoint()), got {type(checkpoint).__name__} {checkpoint!r}"
        )
    checkpoint_id = checkpoint.get("id")
    try:
        uuid.UUID(str(checkpoint_id))
    except ValueError:
        raise ConfigError(
            f"a checkpoint's id must be a UUID string that sorts by time (empty_checkpoint() "
            f"makes one), got {checkpoint_id!r}"
        ) from None
    values = checkpoint.get("channel_values", {})
    if not isinstance(values, Mapping):
        raise ConfigError(f"a checkpoint's channel_values must be a dict, got {values!r}")
    return str(checkpoint_id), dict(values)
