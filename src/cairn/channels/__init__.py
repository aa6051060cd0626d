"""Channels: how a state key takes the values written to it in a step.

Declared in a schema's annotations, as in LangGraph (``langgraph.channels``)::

    from cairn.channels import BinaryOperatorAggregate, EphemeralValue, Topic

    class State(TypedDict):
        query: Annotated[str, EphemeralValue]                     # cleared after the step that follows
        seen: Annotated[list[str], Topic(str, accumulate=True)]   # every value ever written
        events: Annotated[list[str], Topic(str)]                  # the values written in the last step
        total: Annotated[int, BinaryOperatorAggregate(int, operator.add)]

A channel class (``EphemeralValue``) or an instance (``EphemeralValue(str,
guard=False)``) may be given. A key with none of them keeps the last value
written (``LastValue``), or folds them through the reducer its annotation
names (``Annotated[list, operator.add]``).

What each channel holds after a step:

- ``LastValue``: the value written; two writes in one step raise ``InvalidUpdateError``.
- ``AnyValue``: the last of the values written in the step; a step that writes
  none clears the key.
- ``EphemeralValue``: the value written; a step that writes none clears the key
  (two writes in one step raise, unless ``guard=False``).
- ``Topic``: a list of the values written (a list written adds its items);
  without ``accumulate`` only those of the last step, with it all of them.
  A topic that holds nothing is left out of the state.
- ``BinaryOperatorAggregate``: ``operator(old, new)`` for each value, starting
  from ``typ()`` when the type can be built empty.
- ``UntrackedValue``: the value written, never stored (as ``Transient``): a
  resumed run or another process sees the key as never written.

A key that is cleared ("a step that writes none") is cleared by every step
that runs a task, the input's included, and by ``update_state``; a state
rebuilt from the stored log (``get_state``, history, resume, time travel) is
the same as the live run's.
"""

from cairn.channels.base import (
    AnyValue,
    BaseChannel,
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    Topic,
    UntrackedValue,
)

__all__ = [
    "AnyValue",
    "BaseChannel",
    "BinaryOperatorAggregate",
    "EphemeralValue",
    "LastValue",
    "Topic",
    "UntrackedValue",
]
