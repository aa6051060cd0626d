"""Reading a request: its JSON body and each field, checked before anything
changes. A bad one is a RequestError (answered 422, or 404 for an unknown
id) whose message names the field and the value given."""

from __future__ import annotations

import json
import uuid
from typing import Any, Mapping, Sequence

from cairn.errors import RequestError

__all__ = ["Fields", "check_uuid", "parse_body", "parse_json"]


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body is ``{}``)."""
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise RequestError(f"the request body must be a JSON object, got {type(value).__name__}")
    return value


def check_uuid(value: Any, what: str) -> str:
    """``value``, which must be a UUID string (as LangGraph's server requires of ids)."""
    if not isinstance(value, str):
        raise RequestError(f"{what} must be a UUID string, got {value!r}")
    try:
        uuid.UUID(value)
    except ValueError:
        raise RequestError(f"{what} must be a UUID, got {value!r}") from None
    return value


_TYPES: Mapping[type, str] = {dict: "an object", list: "a list", str: "a string", int: "a whole number", bool: "true or false"}


class Fields:
    """The fields of one request body (or query), read by name and type."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body

    def get(self, name: str, kind: type, default: Any = None) -> Any:
        """Field ``name`` (``default`` when absent or null), which must be a ``kind``."""
        value = self.body.get(name)
        if value is None:
            return default
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise RequestError(f"field {name!r} must be {_TYPES.get(kind, kind.__name__)}, got {value!r}")
        return value

    def number(self, name: str, default: int, low: int = 0, high: int | None = None) -> int:
        """A whole number field (a query's text too) in ``[low, high]``."""
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise RequestError(f"field {name!r} must be a whole number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            limit = f" between {low} and {high}" if high is not None else f" >= {low}"
            raise RequestError(f"field {name!r} must be a whole number{limit}, got {value!r}")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str | None) -> Any:
        value = self.body.get(name)
        if value is None:
            return default
        if value not in choices:
            raise RequestError(f"field {name!r} must be one of {list(choices)}, got {value!r}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean (a query's "true"/"false"/"1"/"0" too)."""
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise RequestError(f"field {name!r} must be true or false, got {value!r}")
        return value

    def names(self, name: str) -> list[str] | str | None:
        """A list of strings, or "*" (interrupt_before / interrupt_after)."""
        value = self.body.get(name)
        if value is None or value == "*":
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RequestError(f"field {name!r} must be \"*\" or a list of node names, got {value!r}")
        return value
