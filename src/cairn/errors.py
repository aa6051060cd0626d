"""Every error cairn raises, under one base class.

    CairnError
    ├── GraphValidationError   the graph as built cannot run (raised by the builder / compile)
    │   └── NotCallableError   a node or a path that is not callable (a TypeError too)
    ├── InvalidUpdateError     a node, an input or update_state wrote something the state cannot take
    ├── GraphRecursionError    a run took more super-steps than its recursion_limit
    ├── ConfigError            a config is missing something or holds a bad value
    │   └── ArgumentTypeError  an argument of the wrong type (a TypeError too)
    ├── MissingDependencyError an optional extra (cairn[postgres], ...) is not installed
    ├── EmptyInputError        invoke(None, thread) on a thread with nothing to resume
    ├── InvalidResumeError     Command(resume=...) that matches no pending interrupt
    ├── ThreadBusyError        another run holds the thread
    ├── NodeTimeoutError       a node ran past its timeout
    ├── SerializationError     a value cannot be stored, or stored bytes cannot be read
    │   └── ClassNotLoadableError  intact bytes name a class the serializer has not registered
    │                              (cairn.checkpoint.serde)
    ├── StorageError           the checkpoint store failed or holds something cairn cannot use
    ├── StoreInputError        a namespace, key, value, filter or index given to a Store is unusable
    │   └── InvalidNamespaceError  a namespace that is empty or has a bad label (a ValueError too)
    ├── OutsideNodeError       get_config(), interrupt(), ... called while no node runs
    └── NotSupportedError      a LangGraph parameter cairn does not implement yet

Each message names the offending value and says what to do about it. The
built-in class each error also derives from (ValueError, RecursionError, ...)
keeps ``except ValueError`` blocks written for LangGraph working.

``GraphInterrupt`` is not an error: it is the signal ``interrupt()`` raises to
pause a node. It derives from ``BaseException`` so that a node's own
``except Exception`` does not swallow it.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = [
    "ArgumentTypeError",
    "CairnError",
    "ConfigError",
    "EmptyInputError",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphValidationError",
    "InvalidNamespaceError",
    "InvalidResumeError",
    "InvalidUpdateError",
    "MissingDependencyError",
    "NodeTimeoutError",
    "NotCallableError",
    "NotSupportedError",
    "OutsideNodeError",
    "SerializationError",
    "StorageError",
    "StoreInputError",
    "ThreadBusyError",
]


class CairnError(Exception):
    """Base class of every error cairn raises."""


class GraphValidationError(CairnError, ValueError):
    """The graph as built cannot run: an unknown node, a missing entry point, ..."""


class NotCallableError(GraphValidationError, TypeError):
    """A node's action or a conditional edge's path is not callable (a
    TypeError too, as LangGraph raises)."""


class InvalidUpdateError(CairnError, ValueError):
    """An update the state cannot take: two writes to a plain key in one step,
    a node returning something other than a dict, an unknown ``as_node``."""


class GraphRecursionError(CairnError, RecursionError):
    """A run took more super-steps than ``recursion_limit`` allows."""


class ConfigError(CairnError, ValueError):
    """A config is missing a required key or holds a value of the wrong kind."""


class ArgumentTypeError(ConfigError, TypeError):
    """An argument of the wrong type: a checkpointer that is not a saver, a
    config that is not a dict, a recursion_limit that is not a number (a
    TypeError too, as LangGraph raises)."""


class MissingDependencyError(CairnError, ImportError):
    """A backend needs a package that is not installed; the message says which extra."""


class EmptyInputError(CairnError, ValueError):
    """``invoke(None, thread)`` on a thread that has nothing to resume."""


class InvalidResumeError(CairnError, ValueError, RuntimeError):
    """``Command(resume=...)`` that matches no pending interrupt (a RuntimeError
    too, as LangGraph raises for an answer that fits several interrupts)."""


class ThreadBusyError(CairnError):
    """Another run is writing to the thread right now."""


class NodeTimeoutError(CairnError, TimeoutError):
    """A node ran longer than the ``timeout`` it was added with."""


class SerializationError(CairnError, TypeError):
    """A value cannot be stored, or stored bytes cannot be turned back into values."""


class StorageError(CairnError):
    """The checkpoint store failed, or holds data cairn cannot use."""


class StoreInputError(CairnError, ValueError):
    """A Store call with input it cannot take: a value that is not a dict, a
    key that is not a string, an unknown filter operator, a bad index path."""


class InvalidNamespaceError(StoreInputError):
    """A Store namespace that is empty, or has a label that is not a non-empty
    string without '.' (LangGraph's ``InvalidNamespaceError``)."""


class OutsideNodeError(CairnError, RuntimeError):
    """A call that only works inside a running node (``get_config()``,
    ``get_runtime()``, ``get_stream_writer()``, ``interrupt()``) was made outside one."""


class NotSupportedError(CairnError, NotImplementedError):
    """A parameter LangGraph has and cairn does not implement yet; the message names it."""


def not_supported(where: str, **given: object) -> None:
    """Raise ``NotSupportedError`` for the first of ``given`` that was set (not None/False/())."""
    for name, value in given.items():
        if value is not None and value is not False and value != ():
            raise NotSupportedError(
                f"{where}: {name}={value!r} is a LangGraph parameter cairn does not support yet; "
                f"leave it out (cairn would otherwise ignore it silently)"
            )


class GraphInterrupt(BaseException):
    """Raised by ``interrupt()`` to pause the running node; caught by the engine."""

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = tuple(interrupts)
