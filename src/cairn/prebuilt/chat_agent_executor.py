"""``create_react_agent``: a model calling tools in a loop, as a cairn graph.

    agent = create_react_agent(model, [get_weather], prompt="Be brief.", checkpointer=saver)
    agent.invoke({"messages": [("user", "weather in Paris?")]}, {"thread_id": "1"})

The graph is LangGraph's: a node ``"agent"`` calls the model (with the tools
bound), and while its answer has tool calls, ``"tools"`` (a ``ToolNode``)
runs them and the model is called again. ``version="v2"`` (the default) sends
each tool call to ``"tools"`` as a task of its own (``Send``), ``"v1"`` runs
all of them in one task. ``pre_model_hook`` / ``post_model_hook`` add nodes
before / after the model; ``response_format`` adds ``"generate_structured_response"``,
which asks the model once more for an answer in that schema, kept under
``structured_response``.
"""

from __future__ import annotations

from cairn.prebuilt import _requires  # noqa: F401  (first: names the extra when missing)

import inspect
from typing import Annotated, Any, Callable, Literal, Sequence, TypedDict, Union, cast, get_type_hints

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSequence
from langchain_core.tools import BaseTool
from pydantic import BaseModel
from typing_extensions import NotRequired

from cairn.errors import ArgumentTypeError, ConfigError, InvalidChatHistoryError, MissingDependencyError
from cairn.graph import END, StateGraph
from cairn.graph.message import add_messages
from cairn.managed import RemainingSteps
from cairn.prebuilt.tool_node import ToolNode
from cairn.types import Send

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "create_react_agent",
    "create_tool_calling_executor",
]

StructuredResponse = Union[dict, BaseModel]
StructuredResponseSchema = Union[dict, type[BaseModel]]


class AgentState(TypedDict):
    """The agent's state: the conversation, and the steps the run has left."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


class AgentStatePydantic(BaseModel):
    """The agent's state as a pydantic model."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: RemainingSteps = 25


class AgentStateWithStructuredResponse(AgentState):
    """The agent's state with the answer in ``response_format``'s schema."""

    structured_response: StructuredResponse


class AgentStateWithStructuredResponsePydantic(AgentStatePydantic):
    """``AgentStateWithStructuredResponse`` as a pydantic model."""

    structured_response: StructuredResponse


NEED_MORE_STEPS = "Sorry, need more steps to process this request."


def _value(state: Any, key: str, default: Any = None) -> Any:
    return state.get(key, default) if isinstance(state, dict) else getattr(state, key, default)


def _check_history(messages: Sequence[Any]) -> None:
    """Every tool call of an AI message must have its ToolMessage: models refuse otherwise."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    missing = [
        call for m in messages if isinstance(m, AIMessage) for call in m.tool_calls if call["id"] not in answered
    ]
    if missing:
        raise InvalidChatHistoryError(
            f"found AIMessages with tool calls that have no ToolMessage; the first of them: "
            f"{missing[:3]}. Every tool call in the history needs its ToolMessage (the tool's "
            "result) before the model is called again: add the missing ToolMessages with "
            "update_state, or resume the run that was to make them"
        )


class _Prompt:
    """Turns the state into the model's input, as ``prompt=`` says."""

    def __init__(self, prompt: Any) -> None:
        if not (prompt is None or isinstance(prompt, (str, SystemMessage, Runnable)) or callable(prompt)):
            raise ArgumentTypeError(
                f"prompt={prompt!r} is none of what create_react_agent takes: a string, a "
                "SystemMessage, a function of the state returning the model's input, or a Runnable"
            )
        self.prompt = prompt
        self.is_async = inspect.iscoroutinefunction(prompt)

    def __call__(self, state: Any, config: dict[str, Any]) -> Any:
        p = self.prompt
        if p is None:
            return _value(state, "messages")
        if isinstance(p, str):
            return [SystemMessage(content=p), *_value(state, "messages")]
        if isinstance(p, SystemMessage):
            return [p, *_value(state, "messages")]
        if isinstance(p, Runnable):
            return p.invoke(state, _model_config(config))
        if self.is_async:
            raise ConfigError(
                f"prompt={p!r} is an async function, which only the async API can call: run "
                "the agent with ainvoke() or astream(), or pass a sync function"
            )
        return p(state)

    async def acall(self, state: Any, config: dict[str, Any]) -> Any:
        p = self.prompt
        if isinstance(p, Runnable):
            return await p.ainvoke(state, _model_config(config))
        if self.is_async:
            return await p(state)
        return self(state, config)


def _chat_model(model: Any) -> BaseChatModel:
    """The chat model under a binding (``model.bind_tools(...)``) or a sequence."""
    if isinstance(model, RunnableSequence):
        model = next((s for s in model.steps if isinstance(s, (RunnableBinding, BaseChatModel))), model)
    if isinstance(model, RunnableBinding):
        model = model.bound
    if not isinstance(model, BaseChatModel):
        raise ArgumentTypeError(
            f"expected a chat model or a chat model with bound tools (model.bind_tools(...)), "
            f"got {type(model).__name__} {model!r}"
        )
    return model


def _needs_binding(model: Any, tools: Sequence[BaseTool], builtin: int) -> bool:
    """Whether to bind the tools to ``model``; a model with tools bound
    already must have bound these very tools."""
    if isinstance(model, RunnableSequence):
        model = next((s for s in model.steps if isinstance(s, (RunnableBinding, BaseChatModel))), model)
    if not isinstance(model, RunnableBinding) or "tools" not in model.kwargs:
        return True
    bound = model.kwargs["tools"]
    if len(tools) != len(bound) - builtin:
        raise ConfigError(
            f"the model has {len(bound) - builtin} tools bound (model.bind_tools(...)) but "
            f"create_react_agent was given {len(tools)}; bind the same tools, or pass the "
            "model without bound tools and let create_react_agent bind them"
        )
    names = {
        b["function"]["name"] if b.get("type") == "function" else b.get("name") for b in bound
    }
    if missing := {t.name for t in tools} - names:
        raise ConfigError(
            f"tools {sorted(missing)} were given to create_react_agent but are not bound to "
            "the model; bind the same tools with model.bind_tools(...)"
        )
    return False


def _init_model(name: str) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise MissingDependencyError(
            f"model={name!r} ('<provider>:<model>') needs the langchain package to make the "
            "model: pip install langchain (and the provider's package), or pass a chat model object"
        ) from exc
    made: BaseChatModel = init_chat_model(name)
    return made


class _Agent:
    """What the agent's model nodes share: the model (static or chosen per
    call), the prompt, and the limits of the loop."""

    def __init__(self, model: Any, tools: Sequence[BaseTool], builtin: list[dict[str, Any]], prompt: Any, name: str | None, hooked: bool, pydantic_state: bool) -> None:
        self.dynamic = callable(model) and not isinstance(model, (str, Runnable))
        self.async_dynamic = self.dynamic and inspect.iscoroutinefunction(model)
        if not self.dynamic:
            if isinstance(model, str):
                model = _init_model(model)
            if (tools or builtin) and _needs_binding(model, tools, len(builtin)):
                model = _chat_model(model).bind_tools([*tools, *builtin])
        self.model = model
        self.prompt = _Prompt(prompt)
        self.name = name
        self.hooked = hooked
        self.pydantic_state = pydantic_state
        self.return_direct = {t.name for t in tools if t.return_direct}

    def resolve(self, state: Any, runtime: Any) -> Any:
        if not self.dynamic:
            return self.model
        if self.async_dynamic:
            raise ConfigError(
                "the model is chosen by an async function, which only the async API can call: "
                "run the agent with ainvoke() or astream(), or pass a sync function"
            )
        return self.model(state, runtime)

    async def aresolve(self, state: Any, runtime: Any) -> Any:
        if self.async_dynamic:
            return await self.model(state, runtime)
        return self.resolve(state, runtime)

    def model_input(self, state: Any) -> Any:
        """The state the prompt sees: with a pre-model hook, its
        ``llm_input_messages`` (when set) stand in for the messages."""
        messages = (_value(state, "llm_input_messages") if self.hooked else None) or _value(state, "messages")
        if messages is None:
            raise InvalidChatHistoryError(
                f"the agent's model node found no 'messages' in its input {state!r}; the state "
                "must hold the conversation under 'messages'"
            )
        _check_history(messages)
        if self.pydantic_state:
            state.messages = messages
        else:
            state = {**state, "messages": messages}
        return state

    def answer(self, state: Any, response: Any) -> dict[str, Any]:
        """The model node's update: the model's message, or an apology when
        the run has too few steps left to run its tool calls."""
        response.name = self.name
        calls = response.tool_calls if isinstance(response, AIMessage) else []
        remaining = _value(state, "remaining_steps")
        if remaining is not None:
            all_direct = bool(calls) and all(c["name"] in self.return_direct for c in calls)
            if (remaining < 1 and all_direct) or (remaining < 2 and calls):
                return {"messages": [AIMessage(id=response.id, content=NEED_MORE_STEPS)]}
        return {"messages": [response]}


class _CallModel:
    """The ``"agent"`` node: the prompt, then the model."""

    def __init__(self, agent: _Agent) -> None:
        self.agent = agent

    def __call__(self, state: Any, config: dict[str, Any], runtime: Any) -> dict[str, Any]:
        a = self.agent
        model_input = a.model_input(state)
        response = a.resolve(state, runtime).invoke(a.prompt(model_input, config), _model_config(config))
        return a.answer(state, response)

    async def acall(self, state: Any, config: dict[str, Any], runtime: Any) -> dict[str, Any]:
        a = self.agent
        model_input = a.model_input(state)
        model = await a.aresolve(state, runtime)
        response = await model.ainvoke(await a.prompt.acall(model_input, config), _model_config(config))
        return a.answer(state, response)


class _StructuredResponse:
    """The ``"generate_structured_response"`` node: the conversation, asked
    once more of the model, answered in ``response_format``'s schema."""

    def __init__(self, agent: _Agent, response_format: Any) -> None:
        self.agent = agent
        self.system, self.schema = response_format if isinstance(response_format, tuple) else (None, response_format)

    def _messages(self, state: Any) -> list[Any]:
        messages = list(_value(state, "messages"))
        return [SystemMessage(content=self.system), *messages] if self.system is not None else messages

    def __call__(self, state: Any, config: dict[str, Any], runtime: Any) -> dict[str, Any]:
        model = _chat_model(self.agent.resolve(state, runtime)).with_structured_output(self.schema)
        return {"structured_response": model.invoke(self._messages(state), _model_config(config))}

    async def acall(self, state: Any, config: dict[str, Any], runtime: Any) -> dict[str, Any]:
        model = _chat_model(await self.agent.aresolve(state, runtime)).with_structured_output(self.schema)
        return {"structured_response": await model.ainvoke(self._messages(state), _model_config(config))}


def _model_config(config: dict[str, Any]) -> RunnableConfig:
    # The graph's run id is not the model call's own run (LangChain callbacks).
    return cast(RunnableConfig, {k: v for k, v in config.items() if k != "run_id"})


def _state_schema(state_schema: Any, response_format: Any) -> Any:
    """The state schema, checked; by default one whose ``structured_response``
    names ``response_format``'s class, so that a saver stores its instances."""
    if state_schema is not None:
        required = {"messages", "remaining_steps"} | ({"structured_response"} if response_format is not None else set())
        if missing := required - set(get_type_hints(state_schema)):
            raise ConfigError(
                f"state_schema {state_schema.__name__} lacks the key(s) {sorted(missing)} the "
                "agent needs; derive it from cairn.prebuilt.chat_agent_executor.AgentState "
                "(AgentStateWithStructuredResponse with response_format), or add "
                "remaining_steps: RemainingSteps (cairn.managed)"
            )
        return state_schema
    if response_format is None:
        return AgentState
    schema = response_format[1] if isinstance(response_format, tuple) else response_format
    if isinstance(schema, type):
        return TypedDict(  # type: ignore[operator]
            "AgentStateWithStructuredResponse",
            {
                "messages": Annotated[Sequence[BaseMessage], add_messages],
                "remaining_steps": NotRequired[RemainingSteps],
                "structured_response": schema,
            },
        )
    return AgentStateWithStructuredResponse


def _model_input_schema(state_schema: Any) -> Any:
    """The ``"agent"`` node's input with a pre-model hook: the state plus
    ``llm_input_messages``, the messages the hook gives the model instead."""
    if isinstance(state_schema, type) and issubclass(state_schema, BaseModel):
        from pydantic import create_model

        return create_model("CallModelInputSchema", llm_input_messages=(list[AnyMessage], ...), __base__=state_schema)
    hints = get_type_hints(state_schema, include_extras=True)
    return TypedDict("CallModelInputSchema", {**hints, "llm_input_messages": list[AnyMessage]})  # type: ignore[operator]


def create_react_agent(
    model: Any,
    tools: Union[Sequence[Union[BaseTool, Callable[..., Any], dict[str, Any]]], ToolNode],
    *,
    prompt: Any = None,
    response_format: Union[StructuredResponseSchema, tuple[str, StructuredResponseSchema], None] = None,
    pre_model_hook: Callable[..., Any] | None = None,
    post_model_hook: Callable[..., Any] | None = None,
    state_schema: Any = None,
    context_schema: Any = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: list[str] | None = None,
    interrupt_after: list[str] | None = None,
    debug: bool = False,
    version: Literal["v1", "v2"] = "v2",
    name: str | None = None,
) -> Any:
    """A compiled graph running ``model`` with ``tools`` until it answers
    without tool calls (LangGraph's ``create_react_agent``).

    ``model``: a chat model (its ``bind_tools`` is called with the tools), a
    model with the tools bound already, ``"provider:model"`` (needs the
    ``langchain`` package), or a function ``(state, runtime) -> model``
    choosing one per call. ``tools``: tools, functions, provider tools (dicts,
    bound but not run) or a ``ToolNode``. ``prompt``: a string or
    ``SystemMessage`` put before the messages, or a function (or Runnable) of
    the state returning the model's input. The rest is passed to ``compile``;
    ``name`` also names the model's messages.
    """
    if version not in ("v1", "v2"):
        raise ConfigError(f"version={version!r} is not a create_react_agent version; use 'v1' or 'v2'")
    schema = _state_schema(state_schema, response_format)
    builtin: list[dict[str, Any]] = []
    if isinstance(tools, ToolNode):
        tool_node = tools
    else:
        builtin = [t for t in tools if isinstance(t, dict)]
        tool_node = ToolNode([t for t in tools if not isinstance(t, dict)])
    tool_list = list(tool_node.tools_by_name.values())
    pydantic_state = isinstance(schema, type) and issubclass(schema, BaseModel)
    agent = _Agent(model, tool_list, builtin, prompt, name, pre_model_hook is not None, pydantic_state)

    graph = StateGraph(schema, context_schema=context_schema)
    input_schema = _model_input_schema(schema) if pre_model_hook is not None else schema
    graph.add_node("agent", _CallModel(agent), input_schema=input_schema)
    entry = "agent"
    if pre_model_hook is not None:
        graph.add_node("pre_model_hook", pre_model_hook)
        graph.add_edge("pre_model_hook", "agent")
        entry = "pre_model_hook"
    graph.set_entry_point(entry)
    if post_model_hook is not None:
        graph.add_node("post_model_hook", post_model_hook)
        graph.add_edge("agent", "post_model_hook")
    if response_format is not None:
        graph.add_node("generate_structured_response", _StructuredResponse(agent, response_format))
    finish = "generate_structured_response" if response_format is not None else END

    if not tool_list:
        graph.add_edge("post_model_hook" if post_model_hook is not None else "agent", finish)
        return _compile(graph, checkpointer, store, interrupt_before, interrupt_after, debug, name)

    graph.add_node("tools", tool_node)
    routes = _Routes(agent, version, entry, finish, post_model_hook is not None)
    if post_model_hook is not None:
        graph.add_conditional_edges("post_model_hook", routes.after_hook, [entry, "tools", finish])
    else:
        graph.add_conditional_edges("agent", routes.after_model, ["tools", finish])
    if agent.return_direct:
        graph.add_conditional_edges("tools", routes.after_tools, [entry, END])
    else:
        graph.add_edge("tools", entry)
    return _compile(graph, checkpointer, store, interrupt_before, interrupt_after, debug, name)


def _compile(graph: StateGraph, checkpointer: Any, store: Any, before: Any, after: Any, debug: bool, name: str | None) -> Any:
    return graph.compile(
        checkpointer=checkpointer, store=store, interrupt_before=before, interrupt_after=after, debug=debug, name=name
    )


class _Routes:
    """Where the agent goes after the model, its post-model hook and the tools."""

    def __init__(self, agent: _Agent, version: str, entry: str, finish: str, hooked: bool) -> None:
        self.agent = agent
        self.version = version
        self.entry = entry
        self.finish = finish
        self.hooked = hooked

    def _sends(self, calls: Sequence[Any], state: Any) -> list[Send]:
        return [
            Send("tools", {"__type": "tool_call_with_context", "tool_call": call, "state": state}) for call in calls
        ]

    def after_model(self, state: Any) -> Union[str, list[Send]]:
        last = _value(state, "messages")[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return self.finish
        if self.version == "v1":
            return "tools"
        return self._sends(last.tool_calls, state)

    def after_hook(self, state: Any) -> Union[str, list[Send]]:
        messages = _value(state, "messages")
        answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
        last_ai = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        pending = [c for c in (last_ai.tool_calls if last_ai else []) if c["id"] not in answered]
        if pending:
            return self._sends(pending, state)
        if isinstance(messages[-1], ToolMessage):
            return self.entry
        return self.finish

    def after_tools(self, state: Any) -> str:
        direct = self.agent.return_direct
        message: Any = None
        for message in reversed(_value(state, "messages")):
            if not isinstance(message, ToolMessage):
                break
            if message.name in direct:
                return END
        if isinstance(message, AIMessage) and any(c["name"] in direct for c in message.tool_calls):
            return END
        return self.entry


create_tool_calling_executor = create_react_agent
