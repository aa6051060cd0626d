"""What a store refuses before it touches its data, with the reason and the fix.

Namespaces are tuples of non-empty string labels without ``"."`` (the SQL
stores join labels with it, so a label holding one would address another
namespace) and without NUL. Keys are strings; values are dicts; filters use
``$eq $ne $gt $gte $lt $lte``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.errors import InvalidNamespaceError, StoreInputError

OPERATORS = frozenset(("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"))


def namespace(ns: Any, *, what: str = "namespace", empty: bool = False) -> tuple[str, ...]:
    """``ns`` as a tuple of valid labels; ``empty`` allows ``()`` (a search prefix)."""
    if type(ns) is not tuple:
        if isinstance(ns, (list, tuple)):
            ns = tuple(ns)
        else:
            raise InvalidNamespaceError(
                f"a {what} is a tuple of strings, like ('users', 'u1'); got {ns!r} "
                f"({type(ns).__name__})"
            )
    if not ns and not empty:
        raise InvalidNamespaceError(
            f"the {what} is empty; give at least one label, like ('users', 'u1')"
        )
    for label in ns:
        if type(label) is not str or not label or "." in label or "\x00" in label:
            _bad_label(ns, label, what)
    return ns  # type: ignore[no-any-return]


def pattern(ns: Any, what: str) -> tuple[str, ...]:
    """A list_namespaces prefix or suffix: labels, or "*" for any one."""
    return namespace(ns, what=what, empty=True)


def _bad_label(ns: tuple[Any, ...], label: Any, what: str) -> None:
    if not isinstance(label, str):
        why = f"is a {type(label).__name__}; labels must be strings"
    elif not label:
        why = "is empty; labels must be non-empty strings"
    elif "." in label:
        why = "contains '.', which separates labels; use another character, or split it into two labels"
    else:
        why = "contains a NUL character ('\\x00'); remove it"
    raise InvalidNamespaceError(f"the label {label!r} of the {what} {ns!r} {why}")


def key(ns: tuple[str, ...], k: Any) -> None:
    if type(k) is not str:
        raise StoreInputError(
            f"the key {k!r} in namespace {ns!r} is a {type(k).__name__}; keys must be strings "
            f"(str({k!r}) if you meant that)"
        )


def value(ns: Any, k: Any, v: Any) -> None:
    """Raise unless ``v`` is a dict (a delete passes None through PutOp, not put())."""
    if type(v) is not dict and not isinstance(v, Mapping):
        raise StoreInputError(
            f"the value put at {ns!r}/{k!r} is a {type(v).__name__} ({_short(v)}); a store "
            f"holds dicts: wrap it, as in {{'value': ...}}, or use delete() to remove an item"
        )


def ttl(ns: tuple[str, ...], k: str, minutes: Any) -> None:
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0
    ):
        raise StoreInputError(
            f"the ttl {minutes!r} of {ns!r}/{k!r} is not a positive number of minutes; "
            "give one (e.g. ttl=60), or None for an item that never expires"
        )


def page(limit: Any, offset: Any, what: str) -> None:
    for name, number in (("limit", limit), ("offset", offset)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise StoreInputError(
                f"{what}: {name}={number!r} must be a whole number, 0 or more"
            )


def filter_(conditions: Any) -> None:
    """Raise on a filter that is not a dict of field -> value or {"$op": value}."""
    if conditions is None:
        return
    if not isinstance(conditions, dict):
        raise StoreInputError(
            f"a search filter is a dict of field -> value, like {{'status': 'done'}}; "
            f"got {conditions!r}"
        )
    for field, wanted in conditions.items():
        if not isinstance(field, str):
            raise StoreInputError(f"the filter field {field!r} is not a string; name a field of the values")
        if isinstance(wanted, dict) and any(isinstance(k, str) and k.startswith("$") for k in wanted):
            unknown = [k for k in wanted if k not in OPERATORS]
            if unknown:
                raise StoreInputError(
                    f"the filter on {field!r} uses the operator {unknown[0]!r}, which stores do "
                    f"not know; use one of {', '.join(sorted(OPERATORS))}"
                )


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
