"""Moving a LangGraph checkpointer's database into cairn: reading its tables
(``source``), decoding its serializer's values without importing what the
data names (``decode``), and writing every checkpoint, parent link, metadata
and pending write through cairn's checkpointer interface (``write``)."""

from __future__ import annotations

from cairn.checkpoint.fromlanggraph.decode import Allowed, ClassNotAllowedError, loads_typed
from cairn.checkpoint.fromlanggraph.source import (
    LangGraphCheckpoint,
    LangGraphWrite,
    read_postgres,
    read_sqlite,
)
from cairn.checkpoint.fromlanggraph.renumber import LANGGRAPH_ID, in_order, renumbered
from cairn.checkpoint.fromlanggraph.write import ImportedCounts, import_checkpoints

__all__ = [
    "Allowed",
    "ClassNotAllowedError",
    "ImportedCounts",
    "LANGGRAPH_ID",
    "LangGraphCheckpoint",
    "LangGraphWrite",
    "import_checkpoints",
    "in_order",
    "loads_typed",
    "read_postgres",
    "read_sqlite",
    "renumbered",
]
