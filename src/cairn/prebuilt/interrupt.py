"""The shapes of a human-in-the-loop request and its answer, as LangGraph's
``langgraph.prebuilt.interrupt`` declares them (for Agent Inbox style UIs):
give ``interrupt()`` a ``HumanInterrupt`` and read a ``HumanResponse`` back.

    response: HumanResponse = interrupt(HumanInterrupt(
        action_request=ActionRequest(action="send_email", args={"to": to}),
        config=HumanInterruptConfig(allow_ignore=True, allow_respond=True, allow_edit=True, allow_accept=True),
        description="Send this email?",
    ))

Plain ``TypedDict``s: cairn stores and resumes them as the dicts they are.
"""

from __future__ import annotations

from typing import Literal, Optional, TypedDict, Union

__all__ = ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"]


class HumanInterruptConfig(TypedDict):
    """Which answers the person may give."""

    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class ActionRequest(TypedDict):
    """The action asked about: its name and arguments."""

    action: str
    args: dict


class HumanInterrupt(TypedDict):
    """What ``interrupt()`` is given: the action, the answers allowed and a description."""

    action_request: ActionRequest
    config: HumanInterruptConfig
    description: Optional[str]


class HumanResponse(TypedDict):
    """What the person answered: accept, ignore, a response text, or edited arguments."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: Union[None, str, ActionRequest]
