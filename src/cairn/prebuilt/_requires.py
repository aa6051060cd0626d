"""The one place ``cairn.prebuilt`` checks for ``langchain_core``.

Every module of the package imports this first, so that importing any of
them without ``langchain_core`` fails with one clear error naming the extra
to install, instead of an ``ImportError`` from deep inside.
"""

from __future__ import annotations

from cairn.errors import MissingDependencyError

try:
    import langchain_core  # noqa: F401
except ImportError as exc:
    raise MissingDependencyError(
        "cairn.prebuilt (create_react_agent, ToolNode, ...) needs langchain_core, which is "
        "not installed: pip install 'cairn[langchain]'"
    ) from exc
