"""LangGraph's ``langgraph.constants``: the names programs import from it.

>>> from cairn.constants import START, END

``CONF`` is the config's ``"configurable"`` key. LangGraph's ``TASKS`` and
``CONFIG_KEY_CHECKPOINTER`` name its internals (the channel of ``Send``s, the
checkpointer passed in the config), which cairn does not have: a node
reaches its run through ``get_config()`` / ``get_runtime()``. ``Send`` and
``Interrupt`` still import from here with LangGraph's deprecation warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from cairn.graph.constants import END, START, TAG_HIDDEN, TAG_NOSTREAM
from cairn.warnings import LangGraphDeprecatedSinceV10

__all__ = ["CONF", "END", "START", "TAG_HIDDEN", "TAG_NOSTREAM"]

CONF = "configurable"
"""The config key holding ``thread_id``, ``checkpoint_id`` and the user's own keys."""


def __getattr__(name: str) -> Any:
    if name in ("Send", "Interrupt"):
        warnings.warn(
            f"Importing {name} from cairn.constants is deprecated. "
            f"Please use 'from cairn.types import {name}' instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        import cairn.types

        return getattr(cairn.types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
