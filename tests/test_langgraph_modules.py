"""The smaller modules of LangGraph 1.2's public API, at cairn's paths:
``cairn.managed.is_last_step`` / ``.base``, ``cairn.version``,
``MessageGraph``, ``cairn.constants.CONF`` (and its deprecated ``Send``),
``cairn.warnings``' deprecation classes. Behaviour as LangGraph 1.2.22's for
the same code (checked under benchmarks/.venv-langgraph)."""

from __future__ import annotations

import operator
import warnings
from typing import Annotated, TypedDict

import pytest

from cairn.graph import END, START, StateGraph
from cairn.managed.is_last_step import IsLastStepManager, RemainingStepsManager


def test_managed_values_import_from_langgraphs_submodules() -> None:
    from cairn import managed
    from cairn.managed.base import ManagedValue, ManagedValueSpec
    from cairn.managed.is_last_step import IsLastStep, IsLastStepManager, RemainingSteps, RemainingStepsManager

    assert managed.IsLastStep is IsLastStep and managed.RemainingSteps is RemainingSteps
    assert managed.ManagedValue is ManagedValue
    assert issubclass(IsLastStepManager, ManagedValue) and issubclass(RemainingStepsManager, ManagedValue)
    assert ManagedValueSpec == type[ManagedValue]


def test_a_managed_key_annotated_with_the_manager_class_as_langgraph_writes_it() -> None:
    class State(TypedDict):
        seen: Annotated[list, operator.add]
        left: Annotated[int, RemainingStepsManager]
        last: Annotated[bool, IsLastStepManager]

    builder = StateGraph(State).add_node("step", lambda s: {"seen": [(s["left"], s["last"])]})
    builder.add_edge(START, "step").add_conditional_edges("step", lambda s: END if len(s["seen"]) >= 2 else "step")
    result = builder.compile().invoke({"seen": []}, {"recursion_limit": 3})
    assert result == {"seen": [(2, False), (1, True)]}


def test_version_is_the_installed_packages() -> None:
    from importlib import metadata

    import cairn
    from cairn.version import __version__

    assert __version__ == metadata.version("cairn") == cairn.__version__


def test_message_graph_is_a_state_graph_over_one_list_of_messages_and_warns() -> None:
    pytest.importorskip("langchain_core")
    from cairn.graph import MessageGraph
    from cairn.graph import message
    from cairn.warnings import LangGraphDeprecatedSinceV10

    assert message.MessageGraph is MessageGraph
    with pytest.warns(LangGraphDeprecatedSinceV10, match="StateGraph with a `messages` key") as caught:
        builder = MessageGraph()
    assert caught[0].filename == __file__  # points at the caller, as LangGraph's does
    builder.add_node("chatbot", lambda messages: [("assistant", f"Hello! ({len(messages)})")])
    builder.set_entry_point("chatbot").set_finish_point("chatbot")
    out = builder.compile().invoke([("user", "Hi there.")])
    assert [(type(m).__name__, m.content) for m in out] == [("HumanMessage", "Hi there."), ("AIMessage", "Hello! (1)")]
    assert isinstance(builder, StateGraph)


def test_constants_conf_and_the_deprecated_send_import() -> None:
    from cairn import constants, types
    from cairn.warnings import LangGraphDeprecatedSinceV10

    assert constants.CONF == "configurable"
    with pytest.warns(LangGraphDeprecatedSinceV10, match="cairn.types"):
        assert constants.Send is types.Send
    with pytest.warns(LangGraphDeprecatedSinceV10):
        assert constants.Interrupt is types.Interrupt
    with pytest.raises(AttributeError, match="TASKS"):
        constants.TASKS  # noqa: B018 - LangGraph's internal channel: cairn has none


def test_langgraphs_deprecation_warnings_say_since_and_until_when() -> None:
    from cairn.warnings import (
        CairnDeprecationWarning,
        LangGraphDeprecatedSinceV05,
        LangGraphDeprecatedSinceV10,
        LangGraphDeprecatedSinceV11,
        LangGraphDeprecationWarning,
    )

    assert LangGraphDeprecationWarning is CairnDeprecationWarning
    assert issubclass(CairnDeprecationWarning, DeprecationWarning)
    # The texts of LangGraph 1.2.22's classes for the same message.
    assert str(LangGraphDeprecatedSinceV05("Old.")) == "Old. Deprecated in LangGraph V0.5 to be removed in V2.0."
    assert str(LangGraphDeprecatedSinceV10("Old")) == "Old. Deprecated in LangGraph V1.0 to be removed in V2.0."
    assert str(LangGraphDeprecatedSinceV11("Old")) == "Old. Deprecated in LangGraph V1.1 to be removed in V3.0."
    warning = LangGraphDeprecatedSinceV11("Old")
    assert (warning.since, warning.expected_removal, warning.message) == ((1, 1), (3, 0), "Old")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LangGraphDeprecationWarning)
        with pytest.raises(LangGraphDeprecatedSinceV10):
            warnings.warn(LangGraphDeprecatedSinceV10("x"))


