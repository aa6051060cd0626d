"""cairn's version (``langgraph.version``'s ``__version__``)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]

try:
    __version__ = metadata.version("cairn")
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = ""
