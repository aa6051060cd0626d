"""Persisting checkpoints: the storage contract, the serializer, one package per backend."""

from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointRecord,
    CheckpointTuple,
    PendingWrite,
    SnapshotPolicy,
    TaskRecord,
    TaskWrite,
)

__all__ = [
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointRecord",
    "CheckpointTuple",
    "PendingWrite",
    "SnapshotPolicy",
    "TaskRecord",
    "TaskWrite",
]
