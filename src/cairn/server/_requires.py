"""The one place ``cairn.server`` checks for its extra's packages.

Every module of the package that needs them imports this first, so that
importing the server without them fails with one clear error naming the
extra to install, instead of an ``ImportError`` from deep inside.
"""

from __future__ import annotations

from cairn.errors import MissingDependencyError

try:
    import croniter  # noqa: F401
    import prometheus_client  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:
    raise MissingDependencyError(
        f"cairn serve needs {exc.name}, which is not installed: pip install 'cairn[server]'"
    ) from exc
