"""A scripted chat model for the prebuilt agent's tests (langchain_core's
``BaseChatModel``, no network): the answer to a conversation is the script's
entry for the number of AI messages already in it, so a resumed or replayed
run gets the same answers as the first."""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


class ScriptedChatModel(BaseChatModel):
    script: list[AIMessage]
    structured: Any = None
    """What ``with_structured_output(...)`` answers."""
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    """Each conversation the model was called with."""
    tool_schemas: list[list[dict[str, Any]]] = Field(default_factory=list)
    """The tools bound at each call, as OpenAI function schemas."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        self.tool_schemas.append(list(kwargs.get("tools", [])))
        turn = sum(isinstance(m, AIMessage) for m in messages)
        answer = self.script[min(turn, len(self.script) - 1)].model_copy(deep=True)
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        def answer(messages: Any) -> Any:
            self.calls.append(list(messages))
            return self.structured

        return RunnableLambda(answer)


def calls(*names_args: tuple[str, dict[str, Any]], id_prefix: str = "call") -> AIMessage:
    """An AI message asking for the tool calls ``(name, args)``, ids ``call0``, ``call1``..."""
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": args, "id": f"{id_prefix}{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(names_args)
        ],
    )
