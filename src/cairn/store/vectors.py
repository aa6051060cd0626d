"""Exact similarity search in cairn: vectors kept normalised (so cosine
similarity is a dot product), packed as float32 bytes, scored with numpy when
it is installed and in plain Python otherwise.

This is the search every store uses when no vector extension is loaded
(sqlite-vec, pgvector): it reads the vectors of the items under the searched
namespace prefix that pass the filter, so its cost grows with their number.
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Sequence

_np: Any
try:  # optional: the same scores, faster
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the environment
    _np = None


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays zero: it scores 0)."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        return [0.0] * len(vector)
    return [float(x) / norm for x in vector]


def pack(vector: Sequence[float]) -> bytes:
    """A normalised vector as the bytes stored (float32)."""
    return array("f", unit(vector)).tobytes()


def unpack(blob: bytes) -> Any:
    """Stored bytes back into a vector (a numpy array when numpy is there)."""
    if _np is not None:
        return _np.frombuffer(blob, dtype=_np.float32)
    found = array("f")
    found.frombytes(blob)
    return found


def scores(query: Sequence[float], vectors: list[Any]) -> list[float]:
    """Cosine similarity of ``query`` to each of the normalised ``vectors``."""
    if not vectors:
        return []
    q = unit(query)
    if _np is not None:
        matrix = _np.vstack([_np.asarray(v, dtype=_np.float32) for v in vectors])
        return [float(s) for s in matrix @ _np.asarray(q, dtype=_np.float32)]
    return [math.fsum(a * b for a, b in zip(q, v)) for v in vectors]
