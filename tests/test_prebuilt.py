"""cairn.prebuilt: create_react_agent, ToolNode, tools_condition and injected
tool arguments, with LangGraph 1.x's behaviour, driven by a scripted chat
model (tests/fake_chat.py) on every saver."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from pydantic import BaseModel

from cairn.errors import (
    CairnError,
    ConfigError,
    InvalidChatHistoryError,
    InvalidToolOutputError,
    MissingDependencyError,
    ToolInjectionError,
)
from cairn.graph import END, START, MessagesState, StateGraph
from cairn.managed import RemainingSteps
from cairn.types import Command
from cairn.prebuilt import (
    InjectedState,
    InjectedStore,
    ToolNode,
    ToolRuntime,
    create_react_agent,
    tools_condition,
)
from cairn.prebuilt.tool_node import ToolInvocationError
from tests.fake_chat import ScriptedChatModel, calls

THREAD = {"configurable": {"thread_id": "agent-1"}}


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def upper(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@tool
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot: {reason}")


def _contents(messages: list[Any]) -> list[tuple[str, Any]]:
    return [(type(m).__name__, m.content) for m in messages]


def _two_tools_then_answer() -> ScriptedChatModel:
    return ScriptedChatModel(
        script=[calls(("add", {"a": 2, "b": 3}), ("upper", {"text": "hi"})), AIMessage("2+3 is 5, HI")]
    )


# -- the agent loop ------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_agent_runs_the_tool_calls_then_stops_at_the_answer(version: str) -> None:
    model = _two_tools_then_answer()
    agent = create_react_agent(model, [add, upper], version=version)

    result = agent.invoke({"messages": [("user", "add and shout")]})

    assert _contents(result["messages"]) == [
        ("HumanMessage", "add and shout"),
        ("AIMessage", ""),
        ("ToolMessage", "5"),
        ("ToolMessage", "HI"),
        ("AIMessage", "2+3 is 5, HI"),
    ]
    assert [m.tool_call_id for m in result["messages"][2:4]] == ["call0", "call1"]
    assert len(model.calls) == 2  # called, tools ran, called again, stopped
    assert [t["function"]["name"] for t in model.tool_schemas[0]] == ["add", "upper"]


def test_v2_runs_each_tool_call_as_a_task_of_its_own_and_v1_in_one() -> None:
    for version, expected in (("v1", [["call0", "call1"]]), ("v2", [["call0"], ["call1"]])):
        agent = create_react_agent(_two_tools_then_answer(), [add, upper], version=version)
        tool_updates = [
            sorted(m.tool_call_id for m in update["tools"]["messages"])
            for update in agent.stream({"messages": [("user", "go")]}, stream_mode="updates")
            if "tools" in update
        ]
        assert sorted(tool_updates) == expected, version


def test_tool_calls_of_one_message_run_in_parallel() -> None:
    """Two tools that each wait for the other finish only when run at the same time."""
    both = threading.Barrier(2, timeout=10)

    @tool
    def meet(name: str) -> str:
        """Wait for the other call."""
        both.wait()
        return f"met {name}"

    for version in ("v1", "v2"):
        both.reset()
        model = ScriptedChatModel(script=[calls(("meet", {"name": "a"}), ("meet", {"name": "b"})), AIMessage("ok")])
        result = create_react_agent(model, [meet], version=version).invoke({"messages": [("user", "x")]})
        assert [m.content for m in result["messages"] if isinstance(m, ToolMessage)] == ["met a", "met b"]


def test_prompt_goes_before_the_messages_and_name_names_the_answers() -> None:
    model = ScriptedChatModel(script=[AIMessage("hello")])
    agent = create_react_agent(model, [add], prompt="Be brief.", name="helper")

    result = agent.invoke({"messages": [("user", "hi")]})

    assert _contents(model.calls[0]) == [("SystemMessage", "Be brief."), ("HumanMessage", "hi")]
    assert result["messages"][-1].name == "helper"
    assert agent.name == "helper"


def test_a_prompt_function_gets_the_state() -> None:
    model = ScriptedChatModel(script=[AIMessage("hello")])

    def prompt(state: dict[str, Any]) -> list[Any]:
        return [("system", f"{len(state['messages'])} messages so far"), *state["messages"]]

    create_react_agent(model, [], prompt=prompt).invoke({"messages": [("user", "hi")]})

    assert _contents(model.calls[0]) == [("SystemMessage", "1 messages so far"), ("HumanMessage", "hi")]


def test_response_format_adds_a_structured_response() -> None:
    class Weather(BaseModel):
        city: str
        degrees: int

    model = ScriptedChatModel(script=[calls(("add", {"a": 20, "b": 1})), AIMessage("21 in Paris")])
    model.structured = Weather(city="Paris", degrees=21)
    agent = create_react_agent(model, [add], response_format=("Answer as JSON.", Weather))

    result = agent.invoke({"messages": [("user", "weather?")]})

    assert result["structured_response"] == Weather(city="Paris", degrees=21)
    assert _contents(model.calls[-1])[0] == ("SystemMessage", "Answer as JSON.")
    assert _contents(model.calls[-1])[-1] == ("AIMessage", "21 in Paris")


def test_the_structured_response_is_stored_by_every_saver(saver: Any) -> None:
    class Weather(BaseModel):
        city: str

    model = ScriptedChatModel(script=[AIMessage("Paris")], structured=Weather(city="Paris"))
    agent = create_react_agent(model, [add], response_format=Weather, checkpointer=saver)
    agent.invoke({"messages": [("user", "where?")]}, THREAD)

    again = create_react_agent(model, [add], response_format=Weather, checkpointer=saver)
    assert again.get_state(THREAD).values["structured_response"] == Weather(city="Paris")


def test_a_tool_with_return_direct_ends_the_run() -> None:
    @tool(return_direct=True)
    def final(text: str) -> str:
        """Answer directly."""
        return f"final: {text}"

    model = ScriptedChatModel(script=[calls(("final", {"text": "x"})), AIMessage("never")])
    result = create_react_agent(model, [final]).invoke({"messages": [("user", "go")]})

    assert _contents(result["messages"])[-1] == ("ToolMessage", "final: x")
    assert len(model.calls) == 1


def test_hooks_run_before_and_after_the_model() -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 1, "b": 1})), AIMessage("2")])
    seen: list[int] = []

    def trim(state: dict[str, Any]) -> dict[str, Any]:
        return {"llm_input_messages": state["messages"][-2:]}

    def count(state: dict[str, Any]) -> None:
        seen.append(len(state["messages"]))

    agent = create_react_agent(model, [add], pre_model_hook=trim, post_model_hook=count)
    result = agent.invoke({"messages": [("user", "hi"), ("user", "one"), ("user", "plus one")]})

    assert _contents(result["messages"])[-1] == ("AIMessage", "2")
    assert _contents(model.calls[0]) == [("HumanMessage", "one"), ("HumanMessage", "plus one")]
    assert seen == [4, 6]


def test_the_agent_apologizes_when_a_tool_round_would_not_fit_the_recursion_limit() -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 1, "b": 1}), id_prefix=f"r{i}") for i in range(20)])
    agent = create_react_agent(model, [add])

    result = agent.invoke({"messages": [("user", "loop")]}, {"recursion_limit": 6})

    assert _contents(result["messages"])[-1] == ("AIMessage", "Sorry, need more steps to process this request.")
    assert result["messages"][-1].tool_calls == []
    assert "remaining_steps" not in result


def test_history_with_unanswered_tool_calls_is_refused() -> None:
    agent = create_react_agent(ScriptedChatModel(script=[AIMessage("x")]), [add])
    with pytest.raises(InvalidChatHistoryError, match="no ToolMessage") as caught:
        agent.invoke({"messages": [("user", "hi"), calls(("add", {"a": 1, "b": 2}))]})
    assert isinstance(caught.value, ValueError)


def test_bad_arguments_are_refused_naming_them() -> None:
    with pytest.raises(ConfigError, match="'v3'"):
        create_react_agent(ScriptedChatModel(script=[]), [add], version="v3")  # type: ignore[arg-type]

    class NoMessages(TypedDict):
        other: str

    with pytest.raises(ConfigError, match="messages"):
        create_react_agent(ScriptedChatModel(script=[]), [add], state_schema=NoMessages)


# -- persistence, pauses, async ----------------------------------------------------


def test_agent_resumes_its_conversation_across_a_second_compile(saver: Any) -> None:
    model = ScriptedChatModel(
        script=[calls(("add", {"a": 1, "b": 2})), AIMessage("3"), calls(("upper", {"text": "ok"}), id_prefix="b"), AIMessage("OK")]
    )
    create_react_agent(model, [add, upper], checkpointer=saver).invoke({"messages": [("user", "1+2")]}, THREAD)

    again = create_react_agent(model, [add, upper], checkpointer=saver)
    result = again.invoke({"messages": [("user", "shout ok")]}, THREAD)

    assert _contents(result["messages"]) == [
        ("HumanMessage", "1+2"),
        ("AIMessage", ""),
        ("ToolMessage", "3"),
        ("AIMessage", "3"),
        ("HumanMessage", "shout ok"),
        ("AIMessage", ""),
        ("ToolMessage", "OK"),
        ("AIMessage", "OK"),
    ]
    assert len(model.calls[-1]) == 7  # the model saw the whole stored conversation


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_interrupt_before_tools_pauses_and_resumes(saver: Any, version: str) -> None:
    ran: list[str] = []

    @tool
    def record(text: str) -> str:
        """Record a text."""
        ran.append(text)
        return "recorded"

    model = ScriptedChatModel(script=[calls(("record", {"text": "a"}), ("record", {"text": "b"})), AIMessage("done")])
    agent = create_react_agent(model, [record], checkpointer=saver, interrupt_before=["tools"], version=version)

    agent.invoke({"messages": [("user", "record a and b")]}, THREAD)
    paused = agent.get_state(THREAD)
    assert paused.next == ("tools", "tools") if version == "v2" else ("tools",)
    assert ran == []
    assert paused.values["messages"][-1].tool_calls[1]["args"] == {"text": "b"}

    again = create_react_agent(model, [record], checkpointer=saver, interrupt_before=["tools"], version=version)
    result = again.invoke(None, THREAD)

    assert sorted(ran) == ["a", "b"]
    assert _contents(result["messages"])[-1] == ("AIMessage", "done")
    assert again.get_state(THREAD).next == ()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_human_edits_the_tool_call_before_the_tools_run(saver: Any, version: str) -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 1, "b": 2})), AIMessage("done")])
    agent = create_react_agent(model, [add], checkpointer=saver, interrupt_before=["tools"], version=version)
    agent.invoke({"messages": [("user", "1+2")]}, THREAD)

    asked = agent.get_state(THREAD).values["messages"][-1]
    edited = AIMessage("", id=asked.id, tool_calls=[{**asked.tool_calls[0], "args": {"a": 10, "b": 20}}])
    agent.update_state(THREAD, {"messages": [edited]})
    assert agent.get_state(THREAD).next == ("tools",)

    result = agent.invoke(None, THREAD)
    assert _contents(result["messages"]) == [
        ("HumanMessage", "1+2"),
        ("AIMessage", ""),
        ("ToolMessage", "30"),
        ("AIMessage", "done"),
    ]


def test_an_interrupt_inside_a_tool_pauses_the_agent(saver: Any) -> None:
    from cairn.types import Command, interrupt

    @tool
    def ask(question: str) -> str:
        """Ask the human."""
        return f"human said {interrupt(question)}"

    model = ScriptedChatModel(script=[calls(("ask", {"question": "ok?"})), AIMessage("thanks")])
    agent = create_react_agent(model, [ask], checkpointer=saver)

    first = agent.invoke({"messages": [("user", "ask me")]}, THREAD)
    assert [i.value for i in first["__interrupt__"]] == ["ok?"]

    result = agent.invoke(Command(resume="yes"), THREAD)
    assert _contents(result["messages"])[-2:] == [("ToolMessage", "human said yes"), ("AIMessage", "thanks")]


def test_a_tools_interrupt_answer_its_schema_refuses_fails_the_run_and_can_be_answered_again() -> None:
    """As LangGraph 1.2.22's ToolNode (``is_invalid_resume``): not an error
    ToolMessage for the model, whatever ``handle_tool_errors`` says."""
    from pydantic import BaseModel, ValidationError

    from cairn.checkpoint.memory import InMemorySaver
    from cairn.types import Command, interrupt

    class Answer(BaseModel):
        ok: bool

    @tool
    def ask(question: str) -> str:
        """Ask the human."""
        return f"human said {interrupt(question, response_schema=Answer).ok}"

    model = ScriptedChatModel(script=[calls(("ask", {"question": "ok?"})), AIMessage("thanks")])
    agent = create_react_agent(model, ToolNode([ask], handle_tool_errors=True), checkpointer=InMemorySaver())
    agent.invoke({"messages": [("user", "ask me")]}, THREAD)
    with pytest.raises(ValidationError):
        agent.invoke(Command(resume={"ok": "maybe"}), THREAD)
    result = agent.invoke(Command(resume={"ok": True}), THREAD)
    assert _contents(result["messages"])[-2:] == [("ToolMessage", "human said True"), ("AIMessage", "thanks")]


def test_ainvoke_awaits_async_tools_and_the_model(saver: Any) -> None:
    @tool
    async def slow_add(a: int, b: int) -> int:
        """Add, asynchronously."""
        await asyncio.sleep(0)
        return a + b

    model = ScriptedChatModel(script=[calls(("slow_add", {"a": 4, "b": 5}), ("slow_add", {"a": 1, "b": 1})), AIMessage("9 and 2")])
    agent = create_react_agent(model, [slow_add], checkpointer=saver, prompt="p")

    async def main() -> Any:
        result = await agent.ainvoke({"messages": [("user", "add")]}, THREAD)
        chunks = [c async for c in agent.astream({"messages": [("user", "again")]}, THREAD, stream_mode="updates")]
        return result, chunks

    result, chunks = asyncio.run(main())
    assert _contents(result["messages"])[2:] == [("ToolMessage", "9"), ("ToolMessage", "2"), ("AIMessage", "9 and 2")]
    assert [next(iter(c)) for c in chunks][0] == "agent"


def test_an_async_tool_also_runs_under_invoke_through_toolnode() -> None:
    @tool
    async def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    graph = _tools_graph(ToolNode([shout]))
    with pytest.raises(NotImplementedError):  # langchain_core's own: an async-only tool has no sync call
        graph.invoke({"messages": [calls(("shout", {"text": "x"}))]})
    result = asyncio.run(graph.ainvoke({"messages": [calls(("shout", {"text": "x"}))]}))
    assert result["messages"][-1].content == "X"


# -- ToolNode in a graph of one's own -------------------------------------------------


def _chat_graph(tool_node: ToolNode, model: ScriptedChatModel, **compile: Any) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node(tool_node)  # named "tools", as in LangGraph
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


def test_toolnode_and_tools_condition_make_a_loop() -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 1, "b": 1})), calls(("add", {"a": 2, "b": 2}), id_prefix="x"), AIMessage("4")])
    result = _chat_graph(ToolNode([add]), model).invoke({"messages": [("user", "go")]})
    assert [m.content for m in result["messages"] if isinstance(m, ToolMessage)] == ["2", "4"]
    assert tools_condition({"messages": [AIMessage("x")]}) == END
    assert tools_condition([calls(("add", {}))]) == "tools"


def _tools_graph(node: ToolNode) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    return builder.compile()


def _run_calls(node: ToolNode, *names_args: tuple[str, dict[str, Any]]) -> list[ToolMessage]:
    """The ToolMessages of ``node`` run as a graph's node on one AI message's calls."""
    out = _tools_graph(node).invoke({"messages": [HumanMessage("q"), calls(*names_args)]})
    return list(out["messages"][2:])


def test_default_error_handling_sends_back_only_bad_arguments() -> None:
    node = ToolNode([add, fail])
    [bad] = _run_calls(node, ("add", {"a": "two", "b": 1}))
    assert bad.status == "error" and bad.tool_call_id == "call0" and bad.name == "add"
    assert bad.content.startswith("Error invoking tool 'add' with kwargs {'a': 'two', 'b': 1} with error:\n a: ")
    assert bad.content.endswith("Please fix the error and try again.")

    with pytest.raises(ValueError, match="cannot: now"):
        _run_calls(node, ("fail", {"reason": "now"}))


def test_handle_tool_errors_true_sends_back_every_error() -> None:
    [failed, unknown] = _run_calls(ToolNode([fail], handle_tool_errors=True), ("fail", {"reason": "x"}), ("nope", {}))
    assert (failed.content, failed.status) == ("Error: ValueError('cannot: x')\n Please fix your mistakes.", "error")
    assert unknown.content == "Error: nope is not a valid tool, try one of [fail]."
    assert unknown.status == "error"


def test_handle_tool_errors_as_text_function_and_types() -> None:
    [msg] = _run_calls(ToolNode([fail], handle_tool_errors="try again"), ("fail", {"reason": "x"}))
    assert (msg.content, msg.status) == ("try again", "error")

    def explain(error: ValueError) -> str:
        return f"explained {error}"

    [msg] = _run_calls(ToolNode([fail], handle_tool_errors=explain), ("fail", {"reason": "x"}))
    assert msg.content == "explained cannot: x"

    def only_keys(error: KeyError) -> str:
        return "key"

    with pytest.raises(ValueError):  # the function takes KeyErrors only
        _run_calls(ToolNode([fail], handle_tool_errors=only_keys), ("fail", {"reason": "x"}))

    [msg] = _run_calls(ToolNode([fail], handle_tool_errors=(KeyError, ValueError)), ("fail", {"reason": "x"}))
    assert msg.content == "Error: ValueError('cannot: x')\n Please fix your mistakes."
    with pytest.raises(ValueError):
        _run_calls(ToolNode([fail], handle_tool_errors=TypeError), ("fail", {"reason": "x"}))


def test_handle_tool_errors_false_raises_even_bad_arguments() -> None:
    with pytest.raises(ToolInvocationError, match="'add'") as caught:
        _run_calls(ToolNode([add], handle_tool_errors=False), ("add", {"a": "two", "b": 1}))
    assert isinstance(caught.value, CairnError)


def test_a_tool_error_fails_the_agent_run_and_resume_runs_only_the_tools(saver: Any) -> None:
    attempts: list[int] = []

    @tool
    def flaky(n: int) -> str:
        """Fails the first time."""
        attempts.append(n)
        if len(attempts) == 1:
            raise RuntimeError("down")
        return "up"

    model = ScriptedChatModel(script=[calls(("flaky", {"n": 1})), AIMessage("fine")])
    agent = create_react_agent(model, [flaky], checkpointer=saver)
    with pytest.raises(RuntimeError, match="down"):
        agent.invoke({"messages": [("user", "x")]}, THREAD)
    result = agent.invoke(None, THREAD)
    assert _contents(result["messages"])[-2:] == [("ToolMessage", "up"), ("AIMessage", "fine")]
    assert len(model.calls) == 2  # the model's first answer was not asked for again


def test_a_bad_handle_tool_errors_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="handle_tool_errors=3"):
        ToolNode([add], handle_tool_errors=3)  # type: ignore[arg-type]


def test_toolnode_without_an_ai_message_says_so() -> None:
    with pytest.raises(InvalidChatHistoryError, match="no AIMessage"):
        _tools_graph(ToolNode([add])).invoke({"messages": [HumanMessage("hi")]})


# -- injected arguments --------------------------------------------------------------


class Profile(MessagesState):
    user: str
    remaining_steps: RemainingSteps


@tool
def greet(
    greeting: str,
    state: Annotated[dict, InjectedState],
    user: Annotated[str, InjectedState("user")],
    call_id: Annotated[str, InjectedToolCallId],
) -> str:
    """Greet the user."""
    return f"{greeting} {user} ({len(state['messages'])} messages, call {call_id})"


def test_injected_state_reaches_the_tool_and_is_hidden_from_the_model() -> None:
    model = ScriptedChatModel(script=[calls(("greet", {"greeting": "hi", "user": "forged"})), AIMessage("done")])
    agent = create_react_agent(model, [greet], state_schema=Profile)

    result = agent.invoke({"messages": [("user", "greet me")], "user": "ada"})

    assert result["messages"][2].content == "hi ada (2 messages, call call0)"
    parameters = model.tool_schemas[0][0]["function"]["parameters"]
    assert parameters["properties"] == {"greeting": {"type": "string"}}
    assert parameters["required"] == ["greeting"]


def test_injected_store_reaches_the_tool(saver: Any) -> None:
    class Notes:
        def __init__(self) -> None:
            self.saved: dict[str, str] = {}

    @tool
    def remember(fact: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Remember a fact."""
        store.saved[fact] = fact
        return f"{len(store.saved)} facts"

    notes = Notes()
    model = ScriptedChatModel(script=[calls(("remember", {"fact": "sky is blue"})), AIMessage("noted")])
    agent = create_react_agent(model, [remember], checkpointer=saver, store=notes)
    result = agent.invoke({"messages": [("user", "remember")]}, THREAD)

    assert notes.saved == {"sky is blue": "sky is blue"}
    assert result["messages"][2].content == "1 facts"
    assert "store" not in model.tool_schemas[0][0]["function"]["parameters"]["properties"]

    with pytest.raises(ToolInjectionError, match="store"):
        create_react_agent(model, [remember]).invoke({"messages": [("user", "remember")]})


class Named(MessagesState):
    user: str
    remaining_steps: RemainingSteps


@tool
def set_user(name: str, call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Set the user's name."""
    return Command(update={"user": name, "messages": [ToolMessage(f"hello {name}", tool_call_id=call_id)]})


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_tool_returning_a_command_updates_the_state(saver: Any, version: str) -> None:
    model = ScriptedChatModel(script=[calls(("set_user", {"name": "ada"})), AIMessage("hi ada")])
    agent = create_react_agent(model, [set_user], state_schema=Named, checkpointer=saver, version=version)

    result = agent.invoke({"messages": [("user", "I am ada")], "user": "?"}, THREAD)

    assert result["user"] == "ada"
    tool_message = result["messages"][2]
    assert (tool_message.content, tool_message.name, tool_message.tool_call_id) == ("hello ada", "set_user", "call0")


def test_a_tool_command_without_its_tool_message_is_refused() -> None:
    @tool
    def silent(name: str) -> Command:
        """Forgets to answer the call."""
        return Command(update={"user": name})

    with pytest.raises(InvalidToolOutputError, match="'silent'.*ToolMessage"):
        _run_calls(ToolNode([silent]), ("silent", {"name": "x"}))


def test_a_model_chosen_per_call_sees_the_state_and_the_context() -> None:
    class Context(TypedDict):
        tier: str

    cheap = ScriptedChatModel(script=[AIMessage("cheap answer")])
    rich = ScriptedChatModel(script=[AIMessage("rich answer")])

    def choose(state: dict[str, Any], runtime: Any) -> Any:
        return (rich if runtime.context["tier"] == "gold" else cheap).bind_tools([add])

    agent = create_react_agent(choose, [add], context_schema=Context)
    assert agent.invoke({"messages": [("user", "q")]}, context={"tier": "gold"})["messages"][-1].content == "rich answer"
    assert agent.invoke({"messages": [("user", "q")]}, context={"tier": "free"})["messages"][-1].content == "cheap answer"


def test_tool_runtime_brings_the_state_context_store_and_call_id() -> None:
    class Context(TypedDict):
        user: str

    @tool
    def whoami(prefix: str, runtime: ToolRuntime) -> str:
        """Say who the user is."""
        runtime.stream_writer({"tool": "whoami"})
        return (
            f"{prefix} {runtime.context['user']}, {len(runtime.state['messages'])} messages, "
            f"call {runtime.tool_call_id}, store {runtime.store['kind']}, {len(runtime.tools)} tools"
        )

    model = ScriptedChatModel(script=[calls(("whoami", {"prefix": "you are"})), AIMessage("ok")])
    agent = create_react_agent(model, [whoami, add], context_schema=Context, store={"kind": "notes"})

    chunks = list(agent.stream({"messages": [("user", "who?")]}, context={"user": "ada"}, stream_mode=["custom", "values"]))

    assert ("custom", {"tool": "whoami"}) in chunks
    final = [chunk for mode, chunk in chunks if mode == "values"][-1]
    assert final["messages"][2].content == "you are ada, 2 messages, call call0, store notes, 2 tools"
    assert model.tool_schemas[0][0]["function"]["parameters"]["properties"] == {"prefix": {"type": "string"}}


def test_an_async_model_chooser_runs_under_ainvoke_and_is_refused_under_invoke() -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 2, "b": 2})), AIMessage("4")])

    async def choose(state: dict[str, Any], runtime: Any) -> Any:
        return model.bind_tools([add])

    agent = create_react_agent(choose, [add])
    result = asyncio.run(agent.ainvoke({"messages": [("user", "2+2")]}))
    assert _contents(result["messages"])[-2:] == [("ToolMessage", "4"), ("AIMessage", "4")]
    with pytest.raises(ConfigError, match="ainvoke"):
        agent.invoke({"messages": [("user", "2+2")]})


def test_a_pydantic_agent_state() -> None:
    from cairn.prebuilt.chat_agent_executor import AgentStatePydantic

    model = ScriptedChatModel(script=[calls(("add", {"a": 2, "b": 2})), AIMessage("4")])
    result = create_react_agent(model, [add], state_schema=AgentStatePydantic).invoke({"messages": [("user", "2+2")]})
    assert _contents(result["messages"])[-2:] == [("ToolMessage", "4"), ("AIMessage", "4")]


def test_a_missing_state_key_for_a_tool_is_named() -> None:
    model = ScriptedChatModel(script=[calls(("greet", {"greeting": "hi"})), AIMessage("x")])
    with pytest.raises(ToolInjectionError, match="'user'"):
        create_react_agent(model, [greet]).invoke({"messages": [("user", "hi")]})


# -- the dependency ---------------------------------------------------------------


def test_cairn_imports_without_langchain_and_prebuilt_names_the_extra() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'langchain_core':\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import cairn, cairn.graph\n"
        "from cairn.errors import MissingDependencyError\n"
        "try:\n"
        "    import cairn.prebuilt\n"
        "except MissingDependencyError as e:\n"
        "    print('missing:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "cairn[langchain]" in out.stdout
    assert issubclass(MissingDependencyError, ImportError)


# -- agents as nodes of a graph ---------------------------------------------------


def test_an_agent_runs_as_a_subgraph_and_streams_its_steps(saver: Any) -> None:
    model = ScriptedChatModel(script=[calls(("add", {"a": 1, "b": 2})), AIMessage("3")])
    parent = StateGraph(MessagesState)
    parent.add_node("math", create_react_agent(model, [add], name="math"))
    parent.add_edge(START, "math")
    graph = parent.compile(checkpointer=saver)

    chunks = list(graph.stream({"messages": [("user", "1+2")]}, THREAD, subgraphs=True, stream_mode="updates"))

    assert [(bool(ns), next(iter(chunk))) for ns, chunk in chunks] == [
        (True, "agent"),
        (True, "tools"),
        (True, "agent"),
        (False, "math"),
    ]
    messages = graph.get_state(THREAD).values["messages"]
    assert [(type(m).__name__, m.content, m.name) for m in messages] == [
        ("HumanMessage", "1+2", None),
        ("AIMessage", "", "math"),
        ("ToolMessage", "3", "add"),
        ("AIMessage", "3", "math"),
    ]


def test_a_tool_hands_off_to_another_agent_with_a_parent_command(saver: Any) -> None:
    @tool
    def transfer_to_b(state: Annotated[dict, InjectedState], call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """Hand the conversation to agent b."""
        done = ToolMessage("Transferred to b", tool_call_id=call_id, name="transfer_to_b")
        return Command(goto="b", graph=Command.PARENT, update={"messages": [*state["messages"], done]})

    a = create_react_agent(ScriptedChatModel(script=[calls(("transfer_to_b", {}))]), [transfer_to_b], name="a")
    b = create_react_agent(ScriptedChatModel(script=[AIMessage("b here")]), [], name="b")
    parent = StateGraph(MessagesState)
    parent.add_node("a", a, destinations=("b",))
    parent.add_node("b", b)
    parent.add_edge(START, "a")

    result = parent.compile(checkpointer=saver).invoke({"messages": [("user", "hi")]}, THREAD)

    assert [(type(m).__name__, m.content, m.name) for m in result["messages"]] == [
        ("HumanMessage", "hi", None),
        ("AIMessage", "", "a"),
        ("ToolMessage", "Transferred to b", "transfer_to_b"),
        ("AIMessage", "b here", "b"),
    ]
