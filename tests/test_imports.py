"""The import paths of SPEC section 1, the public surface of ``cairn`` and the error tree."""

import importlib
import types

import pytest

SECTION_1 = {
    "cairn.graph": ["StateGraph", "START", "END", "MessagesState", "add_messages", "MessageGraph"],
    "cairn.graph.message": ["add_messages", "MessagesState", "MessageGraph", "REMOVE_ALL_MESSAGES"],
    "cairn.types": [
        "Command",
        "Send",
        "interrupt",
        "Interrupt",
        "StateSnapshot",
        "RetryPolicy",
        "Durability",
        "PregelTask",
        "CachePolicy",
        # stream(version="v2") / invoke(version="v2")
        "StreamPart",
        "ValuesStreamPart",
        "UpdatesStreamPart",
        "MessagesStreamPart",
        "CustomStreamPart",
        "CheckpointStreamPart",
        "TasksStreamPart",
        "DebugStreamPart",
        "TaskPayload",
        "TaskResultPayload",
        "CheckpointTask",
        "CheckpointPayload",
        "DebugPayload",
        "GraphOutput",
    ],
    "cairn.errors": [
        "CairnError",
        "GraphRecursionError",
        "InvalidUpdateError",
        "ThreadBusyError",
        "GraphValidationError",
        "ConfigError",
        "EmptyInputError",
        # LangGraph 1.2's langgraph.errors
        "EmptyChannelError",
        "ErrorCode",
        "GraphBubbleUp",
        "GraphDrained",
        "GraphInterrupt",
        "NodeCancelledError",
        "NodeError",
        "NodeInterrupt",
        "NodeTimeoutError",
        "ParentCommand",
        "TaskNotFound",
        "UnknownInterruptError",
        "create_error_message",
    ],
    "cairn.checkpoint.memory": ["InMemorySaver", "MemorySaver"],
    "cairn.runtime": ["ExecutionInfo", "Runtime", "ServerInfo", "get_runtime"],
    "cairn.constants": ["START", "END", "TAG_HIDDEN", "TAG_NOSTREAM", "CONF"],
    "cairn.managed": ["RemainingSteps", "IsLastStep"],
    "cairn.managed.is_last_step": ["IsLastStep", "RemainingSteps", "IsLastStepManager", "RemainingStepsManager"],
    "cairn.managed.base": ["ManagedValue", "ManagedValueSpec", "ManagedValueMapping"],
    "cairn.version": ["__version__"],
    "cairn.warnings": [
        "LangGraphDeprecationWarning",
        "LangGraphDeprecatedSinceV05",
        "LangGraphDeprecatedSinceV10",
        "LangGraphDeprecatedSinceV11",
    ],
    "cairn.channels": [
        "AnyValue",
        "BaseChannel",
        "BinaryOperatorAggregate",
        "EphemeralValue",
        "LastValue",
        "Topic",
        "UntrackedValue",
    ],
    "cairn.channels.any_value": ["AnyValue"],
    "cairn.channels.base": ["BaseChannel"],
    "cairn.channels.binop": ["BinaryOperatorAggregate"],
    "cairn.channels.ephemeral_value": ["EphemeralValue"],
    "cairn.channels.last_value": ["LastValue"],
    "cairn.channels.topic": ["Topic"],
    "cairn.channels.untracked_value": ["UntrackedValue"],
    "cairn.cache.base": ["BaseCache"],
    "cairn.cache.memory": ["InMemoryCache"],
    "cairn.cache.sqlite": ["SqliteCache"],
    "cairn.typing": ["ContextT", "InputT", "OutputT", "StateT"],
    "cairn.prebuilt.interrupt": ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"],
    "cairn.prebuilt.tool_validator": ["ValidationNode"],
}


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in SECTION_1.items() for name in names],
)
def test_spec_import_path_works(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_graph_and_message_modules_share_add_messages_and_messages_state() -> None:
    from cairn.graph import MessagesState, add_messages
    from cairn.graph import message

    assert message.add_messages is add_messages
    assert message.MessagesState is MessagesState


def test_start_and_end_are_langgraph_sentinels() -> None:
    from cairn.graph import END, START

    assert START == "__start__"
    assert END == "__end__"


def test_memory_saver_is_an_alias_of_in_memory_saver() -> None:
    from cairn.checkpoint.memory import InMemorySaver, MemorySaver

    assert MemorySaver is InMemorySaver


def test_cairn_reexports_the_common_names() -> None:
    import cairn
    from cairn.checkpoint.memory import InMemorySaver
    from cairn.graph import END, START, StateGraph
    from cairn.types import Command, Send, interrupt

    assert cairn.StateGraph is StateGraph
    assert cairn.START is START
    assert cairn.END is END
    assert cairn.Command is Command
    assert cairn.Send is Send
    assert cairn.interrupt is interrupt
    assert cairn.InMemorySaver is InMemorySaver


def test_cairn_all_is_sorted() -> None:
    import cairn

    assert list(cairn.__all__) == sorted(cairn.__all__)


def test_cairn_all_names_resolve() -> None:
    import cairn

    missing = [name for name in cairn.__all__ if not hasattr(cairn, name)]
    assert missing == []


def test_cairn_all_lists_every_public_name() -> None:
    import __future__

    import cairn

    public = {
        name
        for name, value in vars(cairn).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # subpackages, e.g. cairn.graph
        and not isinstance(value, __future__._Feature)  # `from __future__ import annotations`
    }
    assert public == set(cairn.__all__)


def test_every_error_derives_from_cairn_error() -> None:
    from cairn import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if name in ("GraphBubbleUp", "GraphInterrupt", "NodeInterrupt"):
            # control-flow signals, not errors: no except Exception takes them
            assert issubclass(cls, BaseException) and not issubclass(cls, Exception), name
            continue
        if name in ("NodeError", "ErrorCode", "create_error_message", "is_invalid_resume"):
            continue  # what an error handler is told of a failure; LangGraph's codes and helpers
        assert issubclass(cls, errors.CairnError), name


def test_errors_keep_langgraph_era_except_clauses_working() -> None:
    from cairn.errors import ConfigError, GraphRecursionError, GraphValidationError

    assert issubclass(GraphValidationError, ValueError)
    assert issubclass(GraphRecursionError, RecursionError)
    assert issubclass(ConfigError, ValueError)


def test_graph_interrupt_is_not_caught_by_except_exception() -> None:
    from cairn.errors import GraphInterrupt

    assert issubclass(GraphInterrupt, BaseException)
    assert not issubclass(GraphInterrupt, Exception)
