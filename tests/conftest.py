"""Shared fixtures for cairn's tests (plain helpers live in tests/support.py).

``saver`` is the one place that says which checkpoint savers the
saver-facing tests run against: in memory, a real SQLite file, and a real
PostgreSQL (a schema of its own per test, see tests/pg.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.checkpoint.sqlite import SqliteSaver
from tests.pg import fresh_schema
from tests.support import FakeLLM, build_joke_workflow

SAVER_URLS: dict[int, str] = {}
"""The URL each PostgreSQL saver the fixture made was opened on (by ``id``)."""


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh, empty checkpoint saver, for each saver kind."""
    if request.param == "memory":
        yield InMemorySaver()
    elif request.param == "sqlite":
        with SqliteSaver(tmp_path / "checkpoints.db") as sqlite_saver:
            yield sqlite_saver
    elif request.param == "postgres":
        from cairn.checkpoint.postgres import PostgresSaver

        with fresh_schema() as url, PostgresSaver(url, pool_size=4) as pg_saver:
            SAVER_URLS[id(pg_saver)] = url
            yield pg_saver
            del SAVER_URLS[id(pg_saver)]
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
