"""``ValidationNode``: a node that checks the tool calls of the last AI
message against schemas, without running any tool (LangGraph's
``langgraph.prebuilt.tool_validator``; deprecated there since 1.0, kept for
the programs that use it).

    builder.add_node("validation", ValidationNode([SelectNumber]))

For each tool call it returns a ``ToolMessage``: the arguments validated (as
the schema's JSON), or the validation error formatted by ``format_error``
and marked ``additional_kwargs={"is_error": True}``, so that a conditional
edge can send the model back to fix them. The state is a list of messages
or a dict with ``"messages"``; the output has the same form.
"""

from __future__ import annotations

from cairn.prebuilt import _requires  # noqa: F401  (first: names the extra when missing)

from typing import Any, Callable, Sequence

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool, create_schema_from_function
from pydantic import BaseModel, ValidationError
from pydantic.v1 import BaseModel as BaseModelV1
from pydantic.v1 import ValidationError as ValidationErrorV1

from cairn.errors import ArgumentTypeError, InvalidChatHistoryError

__all__ = ["ValidationNode"]

Schema = Any
"""A pydantic model class (v2 or v1)."""


def _default_format_error(error: BaseException, call: ToolCall, schema: Schema) -> str:
    return f"{error!r}\n\nRespond after fixing all validation errors."


class ValidationNode:
    """Validates every tool call of the last ``AIMessage`` against the
    schema named by the call: a pydantic model, a tool (its ``args_schema``)
    or a function (a schema made from its signature), given in ``schemas``.

    ``format_error(error, call, schema)`` makes an invalid call's message
    (by default the error's repr and a request to fix it); ``name``: the
    node's name when added without one."""

    def __init__(
        self,
        schemas: Sequence[BaseTool | type[BaseModel] | Callable[..., Any]],
        *,
        format_error: Callable[[BaseException, ToolCall, Schema], str] | None = None,
        name: str = "validation",
        tags: list[str] | None = None,
    ) -> None:
        self.name = name
        self.tags = list(tags or ())
        self._format_error = format_error or _default_format_error
        self.schemas_by_name: dict[str, Schema] = dict(_named(schema) for schema in schemas)

    def __repr__(self) -> str:
        return f"ValidationNode(schemas={list(self.schemas_by_name)}, name={self.name!r})"

    def __call__(self, input: Any) -> Any:
        as_list, message = self._last_message(input)
        outputs = [self._validate(call) for call in message.tool_calls]
        return outputs if as_list else {"messages": outputs}

    def _last_message(self, input: Any) -> tuple[bool, AIMessage]:
        if isinstance(input, list):
            as_list, messages = True, input
        elif isinstance(input, dict) and input.get("messages"):
            as_list, messages = False, input["messages"]
        else:
            raise InvalidChatHistoryError(
                f"ValidationNode {self.name!r} found no messages in its input {_short(input)}; "
                "give it a state that is a list of messages or has a 'messages' key"
            )
        message = messages[-1]
        if not isinstance(message, AIMessage):
            raise InvalidChatHistoryError(
                f"ValidationNode {self.name!r}: the last message is a {type(message).__name__}, "
                "not an AIMessage; route to it only after the model answered with tool calls"
            )
        return as_list, message

    def _validate(self, call: ToolCall) -> ToolMessage:
        schema = self.schemas_by_name.get(call["name"])
        if schema is None:
            raise InvalidChatHistoryError(
                f"ValidationNode {self.name!r}: the model called {call['name']!r}, which none of "
                f"its schemas {sorted(self.schemas_by_name)} validates; give ValidationNode that schema"
            )
        try:
            if issubclass(schema, BaseModel):
                content = schema.model_validate(call["args"]).model_dump_json()
            else:
                content = schema.validate(call["args"]).json()
        except (ValidationError, ValidationErrorV1) as exc:
            return ToolMessage(
                content=self._format_error(exc, call, schema),
                name=call["name"],
                tool_call_id=str(call["id"]),
                additional_kwargs={"is_error": True},
            )
        return ToolMessage(content=content, name=call["name"], tool_call_id=str(call["id"]))


def _named(schema: Any) -> tuple[str, Schema]:
    """The tool name a schema validates the calls of, and its model."""
    if isinstance(schema, BaseTool):
        args = schema.args_schema
        if not (isinstance(args, type) and issubclass(args, (BaseModel, BaseModelV1))):
            raise ArgumentTypeError(
                f"ValidationNode: tool {schema.name!r} has args_schema {args!r}, not a pydantic "
                "model; give the tool an args_schema=YourModel, or pass the model itself"
            )
        return schema.name, args
    if isinstance(schema, type) and issubclass(schema, (BaseModel, BaseModelV1)):
        return schema.__name__, schema
    if callable(schema):
        return schema.__name__, create_schema_from_function("Validation", schema)
    raise ArgumentTypeError(
        f"ValidationNode takes pydantic models, tools or functions; got {schema!r} "
        f"({type(schema).__name__})"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
