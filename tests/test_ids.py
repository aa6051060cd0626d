"""Checkpoint and task ids: the UUID layouts users and other tools read them as."""

from __future__ import annotations

import hashlib
import random
import uuid

from cairn.checkpoint.ids import _TASK_PREFIX, new_checkpoint_id, task_id


def test_checkpoint_ids_are_uuid7_strings_in_creation_order() -> None:
    made = [new_checkpoint_id() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    for cid in made[::97]:
        parsed = uuid.UUID(cid)
        assert str(parsed) == cid
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_task_ids_are_the_uuid5_layout_of_their_checkpoint_node_and_position() -> None:
    rng = random.Random(3)
    for _ in range(5_000):
        cid, name, index = new_checkpoint_id(), rng.choice(["a", "node", "é", "__start__"]), rng.randrange(64)
        digest = hashlib.sha1(_TASK_PREFIX + f"{cid}|{name}|{index}".encode()).digest()
        expected = str(uuid.UUID(bytes=digest[:16], version=5))
        assert task_id(cid, name, index) == expected
        assert task_id(cid, name, index) == task_id(cid, name, index)  # the same every time
