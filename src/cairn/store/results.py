"""What a search returns: which values pass a filter, and in what order.

Filters compare as JSON does: ``True`` is not ``1``, and a number is never
equal to a string. ``{"f": v}`` and ``{"f": {"$eq": v}}`` keep values whose
field ``f`` equals ``v`` (a dict ``v`` without operators compares field by
field, a list element by element); ``$ne`` keeps values whose ``f`` differs
or is missing; ``$gt $gte $lt $lte`` keep values whose ``f`` is a number
(or a string) on the right side of ``v``, of the same kind.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Sequence, TypeVar

from cairn.store import vectors

T = TypeVar("T")

_MISSING = object()


def matches(value: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """Whether ``value`` passes every condition of ``conditions``."""
    for field, wanted in conditions.items():
        found = value.get(field, _MISSING)
        if type(wanted) is str:  # the common case, without the general comparison
            if type(found) is not str or found != wanted:
                return False
        elif isinstance(wanted, dict) and wanted and all(
            isinstance(k, str) and k.startswith("$") for k in wanted
        ):
            if not all(_apply(found, op, operand) for op, operand in wanted.items()):
                return False
        elif found is _MISSING or not same(found, wanted):
            return False
    return True


def same(a: Any, b: Any) -> bool:
    """JSON equality: booleans apart from numbers, dicts and lists by content."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict):
            return False
        if any(isinstance(k, str) and k.startswith("$") for k in b):
            return matches(a, {k: v for k, v in b.items()})
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, (int, float)) != isinstance(b, (int, float)):
        return False
    return bool(a == b)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _apply(found: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return found is not _MISSING and same(found, operand)
    if op == "$ne":
        return found is _MISSING or not same(found, operand)
    if found is _MISSING or isinstance(found, bool) or isinstance(operand, bool):
        return False
    if isinstance(found, (int, float)) and isinstance(operand, (int, float)):
        return _ORDER[op](found, operand)
    if isinstance(found, str) and isinstance(operand, str):
        return _ORDER[op](found, operand)
    return False


def rank(
    candidates: Sequence[tuple[T, list[Any]]],
    query: Sequence[float],
    offset: int,
    limit: int,
) -> list[tuple[T, float | None]]:
    """The page ``[offset:offset+limit]`` of ``candidates`` by their best
    vector's similarity to ``query``, best first; candidates without a vector
    come after every scored one, in the order given."""
    flat: list[bytes] = []
    owners: list[int] = []
    size = 4 * len(query)  # a vector stored under another index's dims is left out
    for n, (_, found) in enumerate(candidates):
        for blob in found:
            if len(blob) == size:
                flat.append(blob)
                owners.append(n)
    best: dict[int, float] = {}
    for owner, score in zip(owners, vectors.scores(query, flat)):
        if score > best.get(owner, -2.0):  # cosine similarity is at least -1
            best[owner] = score
    # nlargest keeps the candidates' order among equal scores, as a stable sort
    order = heapq.nlargest(offset + limit, best, key=best.__getitem__)
    if len(order) < offset + limit:
        order.extend(n for n in range(len(candidates)) if n not in best)
    return [(candidates[n][0], best.get(n)) for n in order[offset : offset + limit]]
