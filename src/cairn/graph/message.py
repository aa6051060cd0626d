"""``add_messages``, the reducer for chat histories, and ``MessagesState``.

Messages are plain dicts (``{"role": ..., "content": ...}``) or, when
``langchain_core`` is installed, its message objects. Every message gets an
``id``; a new message whose id is already in the list replaces the old one in
place, and a removal (``{"type": "remove", "id": ...}`` or LangChain's
``RemoveMessage``) deletes it.
"""

from __future__ import annotations

import functools
import importlib.util
import uuid
from typing import Annotated, Any, TypedDict

from cairn.errors import InvalidUpdateError

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"]

REMOVE_ALL_MESSAGES = "__remove_all__"


def _langchain_convert() -> Any:
    try:
        from langchain_core.messages import convert_to_messages
    except ImportError:
        return None
    return convert_to_messages


@functools.lru_cache(maxsize=1)
def _langchain_message_types() -> tuple[type, ...]:
    """LangChain's message classes, when langchain_core is installed."""
    if importlib.util.find_spec("langchain_core") is None:
        return ()
    from langchain_core import messages

    found = (getattr(messages, name, None) for name in getattr(messages, "__all__", ()))
    return tuple(
        cls for cls in found if isinstance(cls, type) and issubclass(cls, messages.BaseMessage)
    )


def _as_list(messages: Any) -> list[Any]:
    if messages is None:
        return []
    if isinstance(messages, (list, tuple)):
        return list(messages)
    return [messages]


def _is_object(message: Any) -> bool:
    return not isinstance(message, (dict, str))


def _normalize(messages: list[Any], as_objects: bool = False) -> list[Any]:
    """Give each message an id, converting all to LangChain objects if any is
    one (or ``as_objects``: the history they join holds objects)."""
    convert = _langchain_convert()
    if convert is not None and (as_objects or any(_is_object(m) for m in messages)):
        messages = list(convert(messages))
    out = []
    for message in messages:
        if isinstance(message, str):
            message = {"role": "user", "content": message}
        if isinstance(message, dict):
            if message.get("id") is None:
                message = {**message, "id": str(uuid.uuid4())}
        elif getattr(message, "id", "") is None:
            message = message.model_copy(update={"id": str(uuid.uuid4())})
        out.append(message)
    return out


def _id(message: Any) -> Any:
    return message.get("id") if isinstance(message, dict) else getattr(message, "id", None)


def _is_removal(message: Any) -> bool:
    kind = message.get("type") if isinstance(message, dict) else getattr(message, "type", None)
    return kind == "remove"


def add_messages(left: Any, right: Any) -> list[Any]:
    """Merge ``right`` into ``left``: append new messages, replace by id, remove."""
    merged = _as_list(left)
    updates = _normalize(_as_list(right), as_objects=bool(merged) and _is_object(merged[-1]))
    for i, message in enumerate(updates):
        if _is_removal(message) and _id(message) == REMOVE_ALL_MESSAGES:
            merged, updates = [], updates[i + 1 :]
            break
    if merged and any(_id(m) is None for m in merged):
        merged = _normalize(merged)
    position = {_id(m): i for i, m in enumerate(merged)}
    if not any(_id(m) in position or _is_removal(m) for m in updates):
        return merged + updates  # the common case: only new messages
    merged = list(merged)
    removed: set[Any] = set()
    for message in updates:
        key = _id(message)
        if _is_removal(message):
            if key not in position:
                raise InvalidUpdateError(
                    f"cannot remove message with id {key!r}: no message with that id exists; "
                    "remove only ids that are in the state's messages"
                )
            removed.add(key)
        elif key in position:
            merged[position[key]] = message
            removed.discard(key)
        else:
            position[key] = len(merged)
            merged.append(message)
    return [m for m in merged if _id(m) not in removed] if removed else merged


def _prepare(update: Any) -> list[Any]:
    """Give new messages their ids once, when the update is stored."""
    return _normalize(_as_list(update))


add_messages.prepare = _prepare  # type: ignore[attr-defined]
add_messages.batchable = True  # type: ignore[attr-defined]
add_messages.stored_types = _langchain_message_types  # type: ignore[attr-defined]


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by ``add_messages``."""

    messages: Annotated[list, add_messages]
