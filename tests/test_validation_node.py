"""cairn.prebuilt.ValidationNode: tool calls checked against schemas, with
the messages LangGraph 1.2.22's gives (checked with a probe)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, field_validator

from cairn.errors import ArgumentTypeError, InvalidChatHistoryError
from cairn.graph import END, START, MessagesState, StateGraph
from cairn.graph.message import add_messages
from cairn.prebuilt import ValidationNode


class SelectNumber(BaseModel):
    a: int

    @field_validator("a")
    @classmethod
    def only_37(cls, v: int) -> int:
        if v != 37:
            raise ValueError("Only 37 is allowed")
        return v


def pick(x: int, y: str = "k") -> str:
    """Pick."""
    return y


@tool
def search(query: str) -> str:
    """Search."""
    return query


def _asked(*calls: tuple[str, dict[str, Any]]) -> list[Any]:
    return [
        HumanMessage("hi", id="h"),
        AIMessage("", id="a", tool_calls=[{"name": n, "args": a, "id": f"c{i}"} for i, (n, a) in enumerate(calls)]),
    ]


def test_each_call_gets_its_validated_args_or_its_error() -> None:
    builder = StateGraph(Annotated[list, add_messages])
    builder.add_node(ValidationNode([SelectNumber, pick, search])).add_edge(START, "validation")
    out = builder.compile().invoke(
        _asked(("SelectNumber", {"a": 3}), ("SelectNumber", {"a": 37}), ("pick", {"x": 1}), ("search", {"query": "q"}))
    )
    replies = out[2:]
    assert all(isinstance(m, ToolMessage) for m in replies)
    assert [m.tool_call_id for m in replies] == ["c0", "c1", "c2", "c3"]
    assert "Only 37 is allowed" in replies[0].content
    assert replies[0].content.endswith("Respond after fixing all validation errors.")
    assert replies[0].additional_kwargs == {"is_error": True}
    assert [m.content for m in replies[1:]] == ['{"a":37}', '{"x":1,"y":"k"}', '{"query":"q"}']
    assert [m.additional_kwargs for m in replies[1:]] == [{}, {}, {}]


def test_reprompts_the_model_until_the_call_is_valid() -> None:
    """The loop of LangGraph's documented example, with a scripted model."""
    answers = iter([3, 37])

    def model(state: MessagesState) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage("", id=f"ai{n}", tool_calls=[{"name": "SelectNumber", "args": {"a": next(answers)}, "id": f"c{n}"}])]}

    def reprompt(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "model" if last.additional_kwargs.get("is_error") else END

    builder = StateGraph(MessagesState).add_node("model", model)
    builder.add_node("validation", ValidationNode([SelectNumber], format_error=lambda e, call, s: f"bad {call['args']}"))
    builder.add_edge(START, "model").add_edge("model", "validation").add_conditional_edges("validation", reprompt)

    async def run() -> Any:
        return await builder.compile().ainvoke({"messages": [HumanMessage("pick", id="h")]})

    messages = asyncio.run(run())["messages"]
    assert [m.content for m in messages if isinstance(m, ToolMessage)] == ["bad {'a': 3}", '{"a":37}']


def test_what_it_cannot_use_is_refused_by_name() -> None:
    with pytest.raises(ArgumentTypeError, match="takes pydantic models, tools or functions; got 42"):
        ValidationNode([42])  # type: ignore[list-item]
    node = ValidationNode([SelectNumber])
    with pytest.raises(InvalidChatHistoryError, match="found no messages"):
        node({"messages": []})
    with pytest.raises(InvalidChatHistoryError, match="the last message is a HumanMessage"):
        node([HumanMessage("hi")])
    with pytest.raises(InvalidChatHistoryError, match=r"called 'other', which none of its schemas \['SelectNumber'\]"):
        node(_asked(("other", {})))
