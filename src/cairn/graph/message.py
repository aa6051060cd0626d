"""``add_messages``, the reducer for chat histories, and ``MessagesState``.

A message may be given as a dict (``{"role": ..., "content": ...}``), a
``(role, content)`` tuple, a string (a user message) or, when
``langchain_core`` is installed, one of its message objects. As in LangGraph,
when ``langchain_core`` can be imported every message is stored as a LangChain
message object (chunks as their full message); when it cannot, every message
is stored as a plain dict. Every message gets an ``id``; a message whose id is
already in the history replaces the old one in place, and a removal
(``RemoveMessage(id=...)`` or ``{"type": "remove", "id": ...}``) deletes it.
A removal with the id ``REMOVE_ALL_MESSAGES`` deletes everything before it.
A message removed and later given again with its id goes to the end, so that
merging stored updates all at once (a cold read) gives the history the run
built update by update (``batchable``).

``MessageGraph`` (deprecated by LangGraph) is a ``StateGraph`` over one list
of messages: this module is part of the builder, above the runtime.
"""

from __future__ import annotations

import functools
import uuid
import warnings
from itertools import repeat
from operator import attrgetter
from types import ModuleType
from typing import Annotated, Any, Callable, Literal, TypedDict

from cairn.errors import ConfigError, InvalidUpdateError, MissingDependencyError
from cairn.graph.state import StateGraph
from cairn.warnings import LangGraphDeprecatedSinceV10

__all__ = ["REMOVE_ALL_MESSAGES", "MessageGraph", "MessagesState", "add_messages"]

REMOVE_ALL_MESSAGES = "__remove_all__"

_GONE = object()
"""Stands in the merged list for a removed message until the merge ends."""


@functools.lru_cache(maxsize=1)
def _langchain() -> ModuleType | None:
    """``langchain_core.messages``, or None when it cannot be imported."""
    try:
        from langchain_core import messages
    except ImportError:
        return None
    return messages


def _message_types() -> tuple[type, ...]:
    """LangChain's message classes, when langchain_core is installed."""
    lc = _langchain()
    if lc is None:
        return ()
    found = (getattr(lc, name, None) for name in getattr(lc, "__all__", ()))
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, lc.BaseMessage))


def _as_list(messages: Any) -> list[Any]:
    # As in LangGraph, anything but a list is one message; cairn also reads
    # a tuple that is not a (role, content) pair as a sequence of messages.
    if messages is None:
        return []
    if isinstance(messages, list):
        return messages
    if isinstance(messages, tuple) and not (len(messages) == 2 and isinstance(messages[0], str)):
        return list(messages)
    return [messages]


def _new_id() -> str:
    return str(uuid.uuid4())


def _to_object(lc: ModuleType, message: Any) -> Any:
    """``message`` as a LangChain message object with an id."""
    if isinstance(message, lc.BaseMessage):
        if isinstance(message, lc.BaseMessageChunk):
            message = lc.message_chunk_to_message(message)
    else:
        if isinstance(message, dict) and message.get("type") == "remove":
            message = {"content": "", **message}  # cairn's plain removal has no content
        try:
            [message] = lc.convert_to_messages([message])
        except (ValueError, NotImplementedError) as error:
            raise InvalidUpdateError(
                f"cannot read {message!r} as a message ({error}); give a dict with 'role' and "
                "'content', a (role, content) tuple, a string or a LangChain message"
            ) from error
    if message.id is None:
        message.id = _new_id()  # on the object itself, as LangGraph does
    return message


def _to_plain(message: Any) -> Any:
    """``message`` as a plain dict with an id (other objects keep their form)."""
    if isinstance(message, str):
        return {"role": "user", "content": message, "id": _new_id()}
    if isinstance(message, tuple) and len(message) == 2:
        return {"role": message[0], "content": message[1], "id": _new_id()}
    if isinstance(message, dict):
        return message if message.get("id") is not None else {**message, "id": _new_id()}
    if getattr(message, "id", "") is None:
        message.id = _new_id()
    return message


def _coerce(messages: list[Any]) -> list[Any]:
    """``messages`` in the stored form, each with an id."""
    lc = _langchain()
    if lc is None:
        return [_to_plain(m) for m in messages]
    return [_to_object(lc, m) for m in messages]


def _stored_ids(messages: list[Any]) -> list[Any] | None:
    """The ids of ``messages`` if all are in the stored form with an id, else
    None. (Runs on the whole history at every merge: kept to C-level loops.)"""
    lc = _langchain()
    # isinstance on LangChain's classes is slow (an ABC): test each class once.
    classes = set(map(type, messages))
    if lc is None:
        if not all(issubclass(cls, dict) for cls in classes):
            return None
        ids = list(map(dict.get, messages, repeat("id")))
    else:
        if not all(issubclass(cls, lc.BaseMessage) for cls in classes):
            return None
        ids = list(map(attrgetter("id"), messages))
    return None if None in ids else ids


def _id(message: Any) -> Any:
    return message.get("id") if isinstance(message, dict) else getattr(message, "id", None)


def _is_removal(message: Any) -> bool:
    kind = message.get("type") if isinstance(message, dict) else getattr(message, "type", None)
    return kind == "remove"


def add_messages(
    left: Any = None, right: Any = None, *, format: Literal["langchain-openai"] | None = None
) -> Any:
    """Merge ``right`` into ``left``: append new messages, replace by id, remove.

    Both sides are first brought to the stored form (LangChain message objects
    when langchain_core can be imported, else dicts) and given ids.

    ``add_messages(format="langchain-openai")`` (without ``left`` and
    ``right``) is a reducer whose merged messages are rewritten as LangChain
    reads OpenAI's format (content blocks normalised, ids dropped), as
    LangGraph's; it needs langchain_core.
    """
    if left is None and right is None:
        return _reducer(format)
    merged = _merged(left, right)
    return merged if format is None else _reformat(merged, format)


def _merged(left: Any, right: Any) -> list[Any]:
    merged = _as_list(left)
    ids = _stored_ids(merged)
    if ids is None:
        merged = _coerce(merged)
        ids = [_id(m) for m in merged]
    updates = _coerce(_as_list(right))
    removals = [i for i, m in enumerate(updates) if _is_removal(m)]
    if removals:
        cleared = [i for i in removals if _id(updates[i]) == REMOVE_ALL_MESSAGES]
        if cleared:
            merged, ids, updates = [], [], updates[cleared[-1] + 1 :]
    if not removals:
        keys = {_id(m) for m in updates}
        if len(keys) == len(updates) and keys.isdisjoint(ids):
            return merged + updates  # the common case: only new messages
    return _merge(merged, updates, dict(zip(ids, range(len(ids)))))


def _merge(merged: list[Any], updates: list[Any], position: dict[Any, int]) -> list[Any]:
    # A removed message leaves a gap at once, so a message added again later
    # with its id goes to the end: merging stored updates in one call (as a
    # cold read does) gives the same history as merging them one by one.
    merged = list(merged)
    removed: set[Any] = set()
    for message in updates:
        key = _id(message)
        if _is_removal(message):
            at = position.pop(key, None)
            if at is not None:
                merged[at] = _GONE
                removed.add(key)
            elif key not in removed:
                raise InvalidUpdateError(
                    f"cannot remove message with id {key!r}: no message with that id exists; "
                    "remove only ids that are in the state's messages"
                )
        elif (at := position.get(key)) is not None:
            merged[at] = message
        else:
            position[key] = len(merged)
            merged.append(message)
    return [m for m in merged if m is not _GONE]


_FORMATS = ("langchain-openai",)


def _reducer(format: str | None) -> Callable[[Any, Any], Any]:
    """``add_messages`` itself, or a reducer that reformats what it merges."""
    if format is None:
        return add_messages
    _check_format(format)

    def add_formatted_messages(left: Any, right: Any) -> list[Any]:
        return _reformat(_merged(left, right), format)

    # Not batchable: a reformatted history loses its ids, so merging stored
    # updates at once could replace by an id the step-by-step run had dropped.
    add_formatted_messages.prepare = _prepare  # type: ignore[attr-defined]
    add_formatted_messages.stored_types = _message_types  # type: ignore[attr-defined]
    return add_formatted_messages


def _check_format(format: str) -> None:
    if format not in _FORMATS:
        raise ConfigError(
            f"add_messages got format={format!r}; use format={_FORMATS[0]!r} or leave it out"
        )
    if _langchain() is None:
        raise MissingDependencyError(
            f"add_messages(format={format!r}) needs langchain_core: pip install langchain-core"
        )


def _reformat(messages: list[Any], format: str) -> list[Any]:
    """``messages`` through OpenAI's format and back, as LangChain converts them."""
    _check_format(format)
    lc = _langchain()
    assert lc is not None
    return list(lc.convert_to_messages(lc.convert_to_openai_messages(messages)))


def _prepare(update: Any) -> list[Any]:
    """Bring new messages to the stored form, ids included, once, when the
    update is stored: folding stored updates then gives the same state."""
    return _coerce(_as_list(update))


add_messages.prepare = _prepare  # type: ignore[attr-defined]
add_messages.batchable = True  # type: ignore[attr-defined]
add_messages.stored_types = _message_types  # type: ignore[attr-defined]


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by ``add_messages``."""

    messages: Annotated[list, add_messages]


class MessageGraph(StateGraph):
    """A graph whose whole state is one list of messages, merged with
    ``add_messages``: each node takes the list and returns messages to add.
    Deprecated by LangGraph (1.0, to be removed in 2.0), kept for ported
    code with its warning: use ``StateGraph(MessagesState)`` instead.

    >>> builder = MessageGraph()
    >>> builder.add_node("chatbot", lambda messages: [("assistant", "Hello!")])
    """

    def __init__(self) -> None:
        warnings.warn(
            "MessageGraph is deprecated in LangGraph v1.0.0, to be removed in v2.0.0. "
            "Please use StateGraph with a `messages` key instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        super().__init__(Annotated[list, add_messages])
