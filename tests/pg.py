"""A real PostgreSQL for the tests that need one.

The server is read from ``CAIRN_TEST_POSTGRES_URL`` (default: the local one,
``postgresql://postgres@127.0.0.1:5432/postgres``). Each test gets a schema
of its own, dropped afterwards, reached through a URL whose ``search_path``
points at it. When no server answers, the tests that need one are skipped
with the reason, except under CI (``CI=true``), where that fails the run.
"""

from __future__ import annotations

import functools
import os
import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import quote

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("CAIRN_TEST_POSTGRES_URL", DEFAULT_URL)


@functools.lru_cache(maxsize=1)
def _unreachable() -> str | None:
    """Why the test server cannot be used, or None when it answers."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    try:
        psycopg.connect(server_url(), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL answers at {server_url()} ({str(exc).strip()})"
    return None


def require_postgres() -> None:
    """Skip the calling test when no server answers (fail under CI)."""
    reason = _unreachable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}: .ci/run should have started it")
    pytest.skip(f"{reason}; set CAIRN_TEST_POSTGRES_URL to run the PostgreSQL tests")


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose tables land in a new, empty schema; dropped on exit."""
    require_postgres()
    import psycopg

    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(server_url(), name)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
