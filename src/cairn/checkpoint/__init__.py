"""Persisting checkpoints: the storage contract, the serializer, one package per backend."""

from cairn.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    PendingWrite,
    SnapshotPolicy,
    TaskRecord,
    TaskWrite,
)

__all__ = [
    "BaseCheckpointSaver",
    "Checkpoint",
    "PendingWrite",
    "SnapshotPolicy",
    "TaskRecord",
    "TaskWrite",
]
