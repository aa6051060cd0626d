"""``ToolNode``: a node that runs the tool calls of the last AI message.

    builder.add_node("tools", ToolNode([search, calculator]))
    builder.add_conditional_edges("agent", tools_condition)

``ToolNode`` reads the newest ``AIMessage`` of the state's messages, runs its
tool calls side by side (threads under ``invoke``, tasks under ``ainvoke``)
and returns one ``ToolMessage`` per call, in the order of the calls, as
LangGraph's does. A tool may also return a ``Command``. What happens when a
tool raises is ``handle_tool_errors``'s choice (see ``ToolNode``).
"""

from __future__ import annotations

from cairn.prebuilt import _requires  # noqa: F401  (first: names the extra when missing)

import asyncio
import contextvars
import functools
import inspect
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Literal, Mapping, Sequence, TypedDict, Union, cast, get_args, get_origin, get_type_hints

from langchain_core.messages import AIMessage, RemoveMessage, ToolCall, ToolMessage, convert_to_messages
from langchain_core.messages.tool import ToolOutputMixin
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool as as_tool
from langchain_core.tools.base import TOOL_MESSAGE_BLOCK_TYPES
from pydantic import ValidationError

from cairn.errors import (
    ArgumentTypeError,
    CairnError,
    InvalidChatHistoryError,
    InvalidToolOutputError,
    ParentCommand,
    is_invalid_resume,
    not_supported,
)
from cairn.graph.message import REMOVE_ALL_MESSAGES
from cairn.prebuilt.injection import InjectedState, InjectedStore, Injections, ToolRuntime, injections_of
from cairn.types import Command, Send

__all__ = [
    "INVALID_TOOL_NAME_ERROR_TEMPLATE",
    "InjectedState",
    "InjectedStore",
    "TOOL_CALL_ERROR_TEMPLATE",
    "ToolCallWithContext",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "msg_content_output",
    "tools_condition",
]

INVALID_TOOL_NAME_ERROR_TEMPLATE = "Error: {requested_tool} is not a valid tool, try one of [{available_tools}]."
TOOL_CALL_ERROR_TEMPLATE = "Error: {error}\n Please fix your mistakes."
TOOL_INVOCATION_ERROR_TEMPLATE = (
    "Error invoking tool '{tool_name}' with kwargs {tool_kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)

InputType = Literal["list", "dict", "tool_calls"]
_POOL_SIZE = min(32, (os.cpu_count() or 1) + 4)
"""Threads of a ToolNode's pool (as LangChain's default executor): calls
beyond it and the one run on the calling thread wait for a free thread."""
ErrorHandling = Union[bool, str, Callable[..., str], type[Exception], tuple[type[Exception], ...]]
Output = Union[ToolMessage, Command, list[Union[ToolMessage, Command]]]


class ToolInvocationError(CairnError, ToolException):
    """The model called a tool with arguments its schema refuses. Its
    ``message`` (what the default ``handle_tool_errors`` sends back to the
    model) names the tool, the arguments and what is wrong with them."""

    def __init__(self, tool_name: str, source: ValidationError, tool_kwargs: Mapping[str, Any], hidden: frozenset[str] = frozenset()) -> None:
        problems = [
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in source.errors()
            if not error.get("loc") or error["loc"][0] not in hidden
        ]
        self.message = TOOL_INVOCATION_ERROR_TEMPLATE.format(
            tool_name=tool_name, tool_kwargs=dict(tool_kwargs), error="\n".join(problems) or str(source)
        )
        self.tool_name = tool_name
        self.tool_kwargs = dict(tool_kwargs)
        self.source = source
        super().__init__(self.message)


class ToolCallWithContext(TypedDict):
    """What ``create_react_agent(version="v2")`` sends ``ToolNode`` for each
    tool call: the call, and the state the model saw."""

    __type: Literal["tool_call_with_context"]
    tool_call: ToolCall
    state: Any


def msg_content_output(output: Any) -> Union[str, list[dict[str, Any]]]:
    """A tool's result as ``ToolMessage`` content: a string or content blocks
    as they are, anything else as JSON (or ``str()`` when it is not JSON)."""
    if isinstance(output, str) or (
        isinstance(output, list)
        and all(isinstance(x, dict) and x.get("type") in TOOL_MESSAGE_BLOCK_TYPES for x in output)
    ):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except Exception:
        return str(output)


def _default_handle_tool_errors(e: Exception) -> str:
    """The default: arguments the tool refused go back to the model (so that
    it can fix them); any other error fails the node."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def _handled_types(handler: ErrorHandling) -> tuple[type[BaseException], ...]:
    """The errors ``handle_tool_errors`` takes (a handler function: those its
    first parameter is annotated with, every ``Exception`` without one)."""
    if isinstance(handler, type):
        return (handler,)
    if isinstance(handler, tuple):
        return handler
    if isinstance(handler, (bool, str)):
        return (Exception,)
    params = [p for p in inspect.signature(handler).parameters.values() if p.name not in ("self", "cls")]
    if not params:
        return (Exception,)
    try:
        hints = get_type_hints(handler)
    except Exception:
        return (Exception,)
    annotation = hints.get(params[0].name)
    if annotation is None:
        return (Exception,)
    kinds = get_args(annotation) if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType" else (annotation,)
    if not all(isinstance(k, type) and issubclass(k, Exception) for k in kinds):
        raise ArgumentTypeError(
            f"handle_tool_errors={handler!r} annotates its error as {annotation!r}; annotate it "
            "with an Exception class or a union of them (def handle(e: ValueError) -> str)"
        )
    return tuple(kinds)


def _check_handling(handler: Any) -> None:
    ok = (
        isinstance(handler, (bool, str))
        or (isinstance(handler, type) and issubclass(handler, Exception))
        or (isinstance(handler, tuple) and all(isinstance(k, type) and issubclass(k, Exception) for k in handler))
        or (callable(handler) and not isinstance(handler, type))
    )
    if not ok:
        raise ArgumentTypeError(
            f"handle_tool_errors={handler!r} is none of what ToolNode takes: True/False, a "
            "message string, a function of the error returning the message, or an Exception "
            "class (or a tuple of them)"
        )


class ToolNode:
    """A node running the tool calls of the last ``AIMessage`` in the state.

    ``tools``: LangChain tools, or plain functions (made tools with
    langchain_core's ``@tool``). Input: the state (a dict or an object with
    ``messages_key``), a list of messages, a list of tool calls, or what
    ``create_react_agent(version="v2")`` sends. Output: ``{"messages":
    [ToolMessage, ...]}`` (a list of messages for a list input), one per call
    in the calls' order, plus the ``Command`` tools returned.

    ``handle_tool_errors``, when a tool raises:

    - by default, arguments the tool's schema refuses (``ToolInvocationError``)
      come back to the model as an error ``ToolMessage``; other errors fail the node;
    - ``True``: every error comes back as ``"Error: <repr(error)>\\n Please fix your mistakes."``;
    - a string: that text; a function ``f(error) -> str``: its answer (only
      for the errors its parameter is annotated with, when it is);
    - an Exception class or tuple of them: only those come back, as with ``True``;
    - ``False``: every error fails the node.

    An error that comes back is a ``ToolMessage`` with ``status="error"``.
    A call to an unknown tool always comes back, naming the tools there are.
    """

    name: str = "tools"

    def __init__(
        self,
        tools: Sequence[Union[BaseTool, Callable[..., Any]]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: ErrorHandling = _default_handle_tool_errors,
        messages_key: str = "messages",
        wrap_tool_call: Callable[..., Any] | None = None,
        awrap_tool_call: Callable[..., Any] | None = None,
    ) -> None:
        not_supported("ToolNode", wrap_tool_call=wrap_tool_call, awrap_tool_call=awrap_tool_call)
        _check_handling(handle_tool_errors)
        self.name = name
        self.tags = list(tags or [])
        self.messages_key = messages_key
        self.handle_tool_errors = handle_tool_errors
        self._threads: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._tools: dict[str, BaseTool] = {}
        self._injections: dict[str, Injections] = {}
        for given in tools:
            made = given if isinstance(given, BaseTool) else _make_tool(given)
            self._injections[made.name] = injections_of(made)
            self._tools[made.name] = _carrying_commands(made)

    @property
    def tools_by_name(self) -> dict[str, BaseTool]:
        """The tools, by the name the model calls them with."""
        return dict(self._tools)

    def __repr__(self) -> str:
        return f"ToolNode(tools={list(self._tools)}, name={self.name!r})"

    # -- as a node: cairn calls __call__ under invoke, acall under ainvoke ------

    def __call__(self, input: Any, config: dict[str, Any], runtime: Any) -> Any:
        calls, kind, state = self._parse_input(input)
        cfg = _tool_config(config)
        limit = cfg.get("max_concurrency") or None
        if len(calls) <= 1 or limit == 1:
            outputs = [self._run_one(c, kind, state, cfg, runtime) for c in calls]
        elif limit:
            with ThreadPoolExecutor(max_workers=limit) as pool:
                outputs = self._side_by_side(pool, calls, kind, state, cfg, runtime)
        else:
            outputs = self._side_by_side(self._pool(), calls, kind, state, cfg, runtime)
        return self._combine(outputs, kind)

    def _side_by_side(
        self, pool: ThreadPoolExecutor, calls: list[ToolCall], kind: InputType, state: Any, cfg: RunnableConfig, runtime: Any
    ) -> list[Output]:
        """Run the calls at once: the first on this thread, the others on
        ``pool``'s, each in a copy of this context (interrupt(), get_config()...)."""
        futures = [
            pool.submit(contextvars.copy_context().run, self._run_one, c, kind, state, cfg, runtime)
            for c in calls[1:]
        ]
        try:
            first = self._run_one(calls[0], kind, state, cfg, runtime)
        finally:
            rest = [f.result() for f in futures]
        return [first, *rest]

    def _pool(self) -> ThreadPoolExecutor:
        # One pool per ToolNode, kept between calls: making threads on every
        # call costs more than most tools.
        with self._pool_lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix=f"cairn-{self.name}")
            return self._threads

    async def acall(self, input: Any, config: dict[str, Any], runtime: Any) -> Any:
        calls, kind, state = self._parse_input(input)
        cfg = _tool_config(config)
        outputs = await asyncio.gather(*(self._arun_one(c, kind, state, cfg, runtime) for c in calls))
        return self._combine(list(outputs), kind)

    def invoke(self, input: Any, config: dict[str, Any] | None = None) -> Any:
        """Run the tool calls outside a graph (no store to inject)."""
        return self(input, dict(config or {}), None)

    async def ainvoke(self, input: Any, config: dict[str, Any] | None = None) -> Any:
        """The async twin of ``invoke``."""
        return await self.acall(input, dict(config or {}), None)

    # -- one call ----------------------------------------------------------------

    def _run_one(self, call: ToolCall, kind: InputType, state: Any, config: RunnableConfig, runtime: Any) -> Output:
        prepared = self._prepare(call, state, config, runtime)
        if isinstance(prepared, ToolMessage):
            return prepared
        tool, args = prepared
        try:
            try:
                response = tool.invoke(args, config)
            except ValidationError as exc:
                if is_invalid_resume(exc):  # an interrupt()'s answer, not the model's arguments
                    raise
                raise ToolInvocationError(call["name"], exc, call["args"], self._injections[call["name"]].hidden) from exc
            return self._normalize(response, call, kind)
        except ParentCommand:
            raise
        except Exception as exc:
            if is_invalid_resume(exc):  # the model cannot fix an answer: the run fails, the interrupt waits
                raise
            return self._handle(exc, call)

    async def _arun_one(self, call: ToolCall, kind: InputType, state: Any, config: RunnableConfig, runtime: Any) -> Output:
        prepared = self._prepare(call, state, config, runtime)
        if isinstance(prepared, ToolMessage):
            return prepared
        tool, args = prepared
        try:
            try:
                response = await tool.ainvoke(args, config)
            except ValidationError as exc:
                if is_invalid_resume(exc):  # an interrupt()'s answer, not the model's arguments
                    raise
                raise ToolInvocationError(call["name"], exc, call["args"], self._injections[call["name"]].hidden) from exc
            return self._normalize(response, call, kind)
        except ParentCommand:
            raise
        except Exception as exc:
            if is_invalid_resume(exc):  # the model cannot fix an answer: the run fails, the interrupt waits
                raise
            return self._handle(exc, call)

    def _prepare(
        self, call: ToolCall, state: Any, config: RunnableConfig, runtime: Any
    ) -> Union[ToolMessage, tuple[BaseTool, dict[str, Any]]]:
        tool = self._tools.get(call["name"])
        if tool is None:
            content = INVALID_TOOL_NAME_ERROR_TEMPLATE.format(
                requested_tool=call["name"], available_tools=", ".join(self._tools)
            )
            return ToolMessage(content, name=call["name"], tool_call_id=call["id"], status="error")
        def tool_runtime() -> ToolRuntime[Any, Any]:
            return ToolRuntime(
                state=state,
                context=getattr(runtime, "context", None),
                config=config,
                stream_writer=getattr(runtime, "stream_writer", None) or _no_stream,
                tool_call_id=call["id"],
                store=getattr(runtime, "store", None),
                tools=list(self._tools.values()),
            )

        store = getattr(runtime, "store", None)
        args = self._injections[call["name"]].fill(call["name"], call.get("args") or {}, state, store, tool_runtime)
        return tool, {**call, "args": args, "type": "tool_call"}

    def _handle(self, exc: Exception, call: ToolCall) -> ToolMessage:
        handler = self.handle_tool_errors
        if handler is False or not isinstance(exc, _handled_types(handler)):
            raise exc
        if isinstance(handler, (bool, tuple, type)):
            content: Any = TOOL_CALL_ERROR_TEMPLATE.format(error=repr(exc))
        elif isinstance(handler, str):
            content = handler
        else:
            content = handler(exc)
        return ToolMessage(content=content, name=call["name"], tool_call_id=call["id"], status="error")

    # -- reading input, shaping output ---------------------------------------------

    def _parse_input(self, input: Any) -> tuple[list[ToolCall], InputType, Any]:
        """The calls to run, the input's kind, and the state tools may be given."""
        if isinstance(input, list):
            if input and isinstance(input[-1], dict) and input[-1].get("type") == "tool_call":
                return list(input), "tool_calls", {}
            messages, kind, state = input, cast(InputType, "list"), {self.messages_key: input}
        elif isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], "tool_calls", input.get("state", {})
        elif isinstance(input, dict):
            messages, kind, state = input.get(self.messages_key) or [], "dict", input
        else:
            messages, kind, state = getattr(input, self.messages_key, None) or [], "dict", input
        if not messages:
            raise InvalidChatHistoryError(
                f"ToolNode found no messages under {self.messages_key!r} in its input "
                f"{_short(input)}; give it the state holding the AI message whose tool calls to run"
            )
        last_ai = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if last_ai is None:
            raise InvalidChatHistoryError(
                f"ToolNode found no AIMessage among the {len(messages)} messages under "
                f"{self.messages_key!r}; it runs the tool calls of the newest AIMessage"
            )
        return list(last_ai.tool_calls), kind, state

    def _normalize(self, response: Any, call: ToolCall, kind: InputType) -> Output:
        if isinstance(response, _Carried):
            response = response.value
        if isinstance(response, Command):
            return self._check_command(response, call, kind)
        if isinstance(response, ToolMessage):
            response.content = msg_content_output(response.content)  # type: ignore[assignment]
            return response
        if isinstance(response, list) and all(isinstance(r, (Command, ToolMessage)) for r in response):
            answers = sum(
                1
                for r in response
                for m in ([r] if isinstance(r, ToolMessage) else self._command_messages(r))
                if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]
            )
            if answers != 1:
                raise InvalidToolOutputError(
                    f"tool {call['name']!r} returned a list with {answers} ToolMessages answering "
                    f"call {call['id']!r}; return exactly one"
                )
            for r in response:
                if isinstance(r, ToolMessage):
                    r.content = msg_content_output(r.content)  # type: ignore[assignment]
            return [
                self._check_command(r, call, kind, answered=False) if isinstance(r, Command) else r
                for r in response
            ]
        raise InvalidToolOutputError(
            f"tool {call['name']!r} returned {type(response).__name__} {_short(response)}; a tool "
            "run by ToolNode returns its result, a ToolMessage or a Command"
        )

    def _command_messages(self, command: Command) -> list[Any]:
        if isinstance(command.update, dict):
            return list(convert_to_messages(command.update.get(self.messages_key, [])))
        if isinstance(command.update, list):
            return list(convert_to_messages(command.update))
        return []

    def _check_command(self, command: Command, call: ToolCall, kind: InputType, answered: bool = True) -> Command:
        """``command``, its messages as message objects; it must answer the call
        with a ToolMessage unless it goes to the parent graph."""
        if isinstance(command.update, dict):
            if kind == "list":
                raise InvalidToolOutputError(
                    f"tool {call['name']!r} returned a Command whose update is a dict, but ToolNode "
                    "was given a list of messages; give ToolNode the state, or update with a list"
                )
            messages = self._command_messages(command)
            update: Any = {**command.update, self.messages_key: messages}
        elif isinstance(command.update, list):
            if kind != "list":
                raise InvalidToolOutputError(
                    f"tool {call['name']!r} returned a Command whose update is a list, but ToolNode "
                    f"was given the state; update with {{{self.messages_key!r}: [...]}}"
                )
            messages = self._command_messages(command)
            update = messages
        else:
            return command
        if [(type(m), m.id) for m in messages] == [(RemoveMessage, REMOVE_ALL_MESSAGES)]:
            return replace(command, update=update)
        matched = False
        for message in messages:
            if isinstance(message, ToolMessage) and message.tool_call_id == call["id"]:
                message.name = call["name"]
                matched = True
        if answered and command.graph is None and not matched:
            raise InvalidToolOutputError(
                f"tool {call['name']!r} returned a Command without a ToolMessage answering its call "
                f"{call['id']!r} (every tool call needs one); add ToolMessage(..., "
                "tool_call_id=...) to the Command's messages"
            )
        return replace(command, update=update)

    def _combine(self, outputs: list[Output], kind: InputType) -> Any:
        flat: list[Union[ToolMessage, Command]] = []
        for output in outputs:
            flat.extend(output if isinstance(output, list) else [output])
        if not any(isinstance(o, Command) for o in flat):
            return flat if kind == "list" else {self.messages_key: flat}
        combined: list[Any] = []
        parent: Command | None = None
        for output in flat:
            if isinstance(output, Command):
                goto = output.goto
                if output.graph == Command.PARENT and isinstance(goto, list) and all(isinstance(s, Send) for s in goto):
                    parent = Command(graph=Command.PARENT, goto=[*(parent.goto if parent else []), *goto])  # type: ignore[misc]
                else:
                    combined.append(output)
            else:
                combined.append([output] if kind == "list" else {self.messages_key: [output]})
        if parent is not None:
            combined.append(parent)
        return combined


def _make_tool(fn: Any) -> BaseTool:
    if not callable(fn):
        raise ArgumentTypeError(
            f"ToolNode got {fn!r} as a tool; give it LangChain tools or functions"
        )
    made = as_tool(fn)
    assert isinstance(made, BaseTool)
    return made


class _Carried(ToolOutputMixin):
    """A tool's ``Command`` (or list of Commands and ToolMessages) on its way
    through langchain_core, which passes a ``ToolOutputMixin`` on as it is
    and would turn anything else into a ToolMessage's text."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _carry(result: Any) -> Any:
    if isinstance(result, Command) or (
        isinstance(result, list) and result and all(isinstance(r, (Command, ToolMessage)) for r in result)
    ):
        return _Carried(result)
    return result


def _carrying_commands(tool: BaseTool) -> BaseTool:
    """``tool``, its function's ``Command`` results carried through
    langchain_core (LangGraph's Command is a ToolOutputMixin; cairn's Command
    does not import langchain_core). Other tools are used as they are."""
    if not isinstance(tool, StructuredTool):
        return tool
    update: dict[str, Any] = {}
    if (fn := tool.func) is not None:

        @functools.wraps(fn)
        def carried(*args: Any, **kwargs: Any) -> Any:
            return _carry(fn(*args, **kwargs))

        update["func"] = carried
    if (afn := tool.coroutine) is not None:

        @functools.wraps(afn)
        async def acarried(*args: Any, **kwargs: Any) -> Any:
            return _carry(await afn(*args, **kwargs))

        update["coroutine"] = acarried
    return tool.model_copy(update=update) if update else tool


def _tool_config(config: Mapping[str, Any]) -> RunnableConfig:
    # The run id of the graph is not the tools' own: each tool call is a run
    # of its own for LangChain's callbacks.
    return cast(RunnableConfig, {k: v for k, v in config.items() if k != "run_id"})


def _no_stream(chunk: Any) -> None:
    """The stream writer of a ToolNode run outside a graph: chunks go nowhere."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def tools_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "__end__"]:
    """Route to ``"tools"`` when the last message has tool calls, else to the end.

    >>> builder.add_conditional_edges("agent", tools_condition)
    """
    if isinstance(state, list):
        messages = state
    elif isinstance(state, dict):
        messages = state.get(messages_key) or []
    else:
        messages = getattr(state, messages_key, None) or []
    if not messages:
        raise InvalidChatHistoryError(
            f"tools_condition found no messages under {messages_key!r} in {_short(state)}; "
            "route on a state holding the model's messages"
        )
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else "__end__"
