"""The public value types of ``cairn.types``."""

import pytest

from cairn.errors import ConfigError
from cairn.types import Command, PregelTask, RetryPolicy, Send, StateSnapshot


def test_send_carries_node_and_arg() -> None:
    send = Send("generate", {"subject": "cats"})
    assert send.node == "generate"
    assert send.arg == {"subject": "cats"}


def test_sends_with_same_node_and_arg_are_equal() -> None:
    assert Send("n", {"x": 1}) == Send("n", {"x": 1})
    assert Send("n", {"x": 1}) != Send("n", {"x": 2})


def test_command_takes_update_goto_and_resume() -> None:
    command = Command(update={"x": 1}, goto="next_node")
    assert command.update == {"x": 1}
    assert command.goto == "next_node"
    assert Command(resume="yes").resume == "yes"


def test_command_goto_accepts_sends_and_lists() -> None:
    command = Command(goto=[Send("a", 1), "b"])
    assert list(command.goto) == [Send("a", 1), "b"]


def test_retry_policy_defaults_match_langgraph() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 3
    assert policy.initial_interval == 0.5
    assert policy.backoff_factor == 2.0
    assert policy.max_interval == 128
    assert policy.jitter is True


def test_retry_policy_positional_fields_are_in_langgraphs_order() -> None:
    policy = RetryPolicy(1.0, 3.0, 10.0, 5, False)
    assert (policy.initial_interval, policy.backoff_factor, policy.max_interval) == (1.0, 3.0, 10.0)
    assert (policy.max_attempts, policy.jitter) == (5, False)


@pytest.mark.parametrize("attempts", [0, -1])
def test_retry_policy_rejects_non_positive_max_attempts(attempts: int) -> None:
    with pytest.raises(ConfigError, match=f"max_attempts={attempts}"):
        RetryPolicy(max_attempts=attempts)


def test_state_snapshot_fields_are_langgraphs() -> None:
    assert StateSnapshot._fields == (
        "values",
        "next",
        "config",
        "metadata",
        "created_at",
        "parent_config",
        "tasks",
        "interrupts",
    )


def test_pregel_task_fields_are_langgraphs() -> None:
    assert PregelTask._fields == (
        "id",
        "name",
        "path",
        "error",
        "interrupts",
        "state",
        "result",
    )
