"""Reaching a PostgreSQL server: the URL checked, connections opened with a
bounded retry, and failures turned into errors that say where and why."""

from __future__ import annotations

import re
import time
from typing import Any

from cairn.errors import ConfigError, MissingDependencyError, StorageError

try:
    import psycopg
    from psycopg import conninfo as _conninfo
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "cairn.checkpoint.postgres needs psycopg 3 and psycopg_pool: "
        "pip install 'cairn[postgres]'"
    ) from exc

ATTEMPTS = 3
"""Tries to reach the server before giving up, a second apart."""
CONNECT_TIMEOUT = 5

# What the server says when retrying cannot help.
_FINAL = ("authentication", "does not exist", "permission denied", "no pg_hba.conf entry")


def describe(url: str) -> str:
    """The server, database and user a URL points at, without its password."""
    params = parse(url)
    return (
        f"PostgreSQL at {params.get('host', 'localhost')}:{params.get('port', '5432')} "
        f"(database {params['dbname']!r}, user {params.get('user', '(default)')!r})"
    )


def _reason(exc: Exception) -> str:
    """libpq's message on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def parse(url: str) -> dict[str, Any]:
    """The URL's connection parameters; it must name a database."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"a PostgreSQL URL is needed, like 'postgresql://user:password@host:5432/dbname'; "
            f"got {url!r}"
        )
    try:
        params = _conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"{_masked(url)!r} is not a PostgreSQL URL ({exc}); write it as "
            "'postgresql://user:password@host:5432/dbname'"
        ) from exc
    if not params.get("dbname"):
        raise ConfigError(
            f"the PostgreSQL URL {_masked(url)!r} names no database; add it after the host, "
            "as in 'postgresql://user@host:5432/dbname'"
        )
    timeout = params.get("connect_timeout")
    if timeout is not None and not str(timeout).strip().lstrip("-").isdigit():
        raise ConfigError(
            f"connect_timeout in the PostgreSQL URL {_masked(url)!r} must be a whole number of "
            f"seconds, got {timeout!r}"
        )
    return params


def connect(url: str, **options: Any) -> "psycopg.Connection[Any]":
    """A new autocommit connection, after up to ``ATTEMPTS`` tries."""
    where = describe(url)
    options = {"connect_timeout": CONNECT_TIMEOUT, **options}
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return psycopg.connect(url, autocommit=True, **options)
        except psycopg.OperationalError as exc:
            reason = _reason(exc)
            if "invalid" in reason:
                raise ConfigError(
                    f"the PostgreSQL URL {_masked(url)!r} holds a value libpq refuses: {reason}"
                ) from exc
            if any(word in reason for word in _FINAL):
                raise StorageError(
                    f"cannot connect to {where}: {reason}; check the user, password and "
                    "database in the URL"
                ) from exc
            if attempt == ATTEMPTS:
                raise StorageError(
                    f"cannot connect to {where} after {ATTEMPTS} tries: {reason}; check that "
                    "the server is running and that the host and port are right"
                ) from exc
            time.sleep(1.0)
    raise AssertionError("unreachable")  # pragma: no cover


_PASSWORDS = (
    re.compile(r"(://[^:/@]*:)[^@]*@"),  # postgresql://user:secret@host
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", re.IGNORECASE),  # password=secret
)


def _masked(url: str) -> str:
    """``url`` with every password in it replaced by ***."""
    url = _PASSWORDS[0].sub(r"\1***@", url)
    return _PASSWORDS[1].sub(r"\1***", url)
