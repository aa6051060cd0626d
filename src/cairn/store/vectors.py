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


def scores(query: Sequence[float], blobs: list[bytes]) -> list[float]:
    """Cosine similarity of ``query`` to each of the packed normalised vectors
    (all of the query's length)."""
    if not blobs:
        return []
    q = unit(query)
    if _np is not None:
        matrix = _np.frombuffer(b"".join(blobs), dtype=_np.float32).reshape(len(blobs), len(q))
        return (matrix @ _np.asarray(q, dtype=_np.float32)).tolist()  # type: ignore[no-any-return]
    found = []
    for blob in blobs:
        vector = array("f")
        vector.frombytes(blob)
        found.append(math.fsum(a * b for a, b in zip(q, vector)))
    return found
