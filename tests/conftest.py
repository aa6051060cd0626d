"""Shared fixtures for cairn's tests (plain helpers live in tests/support.py).

``saver`` is the one place that says which checkpoint savers the
saver-facing tests run against. It yields only ``InMemorySaver`` for now;
the SQLite and Postgres savers join by adding a param here.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from cairn.checkpoint.memory import InMemorySaver
from tests.support import FakeLLM, build_joke_workflow


@pytest.fixture(params=["memory"])
def saver(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, empty checkpoint saver, for each saver kind."""
    if request.param == "memory":
        yield InMemorySaver()
    else:  # pragma: no cover - a new kind must be wired in above
        raise AssertionError(f"unknown saver kind {request.param!r}")


@pytest.fixture
def llm() -> FakeLLM:
    """A deterministic stand-in for a chat model."""
    return FakeLLM()


@pytest.fixture
def joke_workflow(llm: FakeLLM, saver: Any) -> Any:
    """Seed 000's joke workflow compiled with ``saver``."""
    return build_joke_workflow(llm, saver)
