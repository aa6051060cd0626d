"""Reaching a PostgreSQL server: the URL checked, connections opened with a
bounded retry of the failures that may pass (a server not up yet), and every
failure turned into an error that says where, why and what to do. A failure
that cannot pass (a refused password, an SSL mismatch, an unknown host) is
reported at once."""

from __future__ import annotations

import os
import re
import select
import time
from typing import Any

from cairn.errors import ConfigError, MissingDependencyError, StorageError

try:
    import psycopg
    from psycopg.rows import tuple_row
    from psycopg import conninfo as _conninfo
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        "cairn.checkpoint.postgres needs psycopg 3 and psycopg_pool: "
        "pip install 'cairn[postgres]'"
    ) from exc

ATTEMPTS = 3
"""Tries to reach the server before giving up, a second apart."""
CONNECT_TIMEOUT = 5

_SERVER_DOWN = "check that the server is running and that the host and port are right"
_NO_SLOT = "the server has no connection slot free: raise its max_connections, or lower pool_size"
_UNKNOWN_HOST = "no name server knows this host: check the host in the URL"

# What libpq says, with the names it quotes blanked out ("" and ''), whether
# trying again may help, and what to do. The first match wins; a failure
# matching none is tried again, as a server that is not up yet.
_CAUSES = (
    (
        "Temporary failure in name resolution",
        True,
        "the name server did not answer: check the network and DNS",
    ),
    ("resolve host", False, _UNKNOWN_HOST),
    ("translate host name", False, _UNKNOWN_HOST),
    (
        "does not support SSL",
        False,
        "{ssl} asks for SSL and the server offers none: set sslmode=prefer or sslmode=disable "
        "in the URL, or turn SSL on in the server (ssl = on in postgresql.conf)",
    ),
    (
        'root certificate file "" does not exist',
        False,
        "give the certificate of the authority that signed the server's with "
        "sslrootcert=/path/to/root.crt in the URL, or set sslmode=require to encrypt "
        "without checking the server",
    ),
    (
        "certificate verify failed",
        False,
        "the server's certificate is not signed by the authority in sslrootcert: give the "
        "right one, or set sslmode=require to encrypt without checking",
    ),
    (
        "does not match host name",
        False,
        "connect with the host name the server's certificate names, or set sslmode=verify-ca",
    ),
    (
        "no password supplied",
        False,
        "the server asks for a password: put it in the URL "
        "(postgresql://user:password@host:5432/dbname), or in PGPASSWORD or ~/.pgpass",
    ),
    (
        "password authentication failed",
        False,
        "check the password in the URL (or in PGPASSWORD or ~/.pgpass) and the user",
    ),
    ('role "" does not exist', False, "check the user in the URL, or create the role"),
    ('database "" does not exist', False, "check the database in the URL, or create it (createdb)"),
    (
        "no pg_hba.conf entry",
        False,
        "the server's pg_hba.conf lets no connection from this host in as this user to this "
        "database: add a line for it, or connect as another user",
    ),
    ("permission denied", False, "grant the user CONNECT on the database, or use another user"),
    ("authentication", False, "check the user and password in the URL"),
    ("too many clients", True, _NO_SLOT),
    ("connection slots are reserved", True, _NO_SLOT),
    ("SSL", True, "check the URL's SSL settings (sslmode, sslnegotiation) against the server's"),
)
_INVALID = re.compile(r"\binvalid [\w ]*?(value|number|option)\b")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")


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
    _check_scheme(url)
    try:
        params = _conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"{_masked(url)!r} is not a PostgreSQL URL ({_reason(exc)}); write it as "
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


def _check_scheme(url: str) -> None:
    """A URL of another kind (SQLAlchemy's postgresql+psycopg://, sqlite://, ...)
    is refused naming its scheme; libpq would only say it misses an "="."""
    found = _SCHEME.match(url)
    if not found or found.group(1).lower() in ("postgresql", "postgres"):
        return
    scheme = found.group(1)
    if scheme.lower().startswith("sqlite"):
        advice = "a SQLite file goes to cairn.checkpoint.sqlite.SqliteSaver"
    elif "+" in scheme:
        advice = f"drop the driver name: write 'postgresql://' where the URL says '{scheme}://'"
    else:
        advice = "write it as 'postgresql://user:password@host:5432/dbname'"
    raise ConfigError(
        f"{_masked(url)!r} is a {scheme}:// URL, and PostgresSaver takes a postgresql:// one; "
        f"{advice}"
    )


def connect(url: str) -> "psycopg.Connection[Any]":
    """A new autocommit connection, after up to ``ATTEMPTS`` tries of a failure
    that may pass (a server not up yet, a name server not answering)."""
    where = describe(url)
    timeout = parse(url).get("connect_timeout") or CONNECT_TIMEOUT  # the URL's, if it says
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=int(timeout))
        except psycopg.OperationalError as exc:
            reason = _reason(exc)
            bare = _QUOTED.sub(lambda quoted: quoted.group(0)[0] * 2, reason)
            if _INVALID.search(bare):
                raise ConfigError(
                    f"the PostgreSQL URL {_masked(url)!r} holds a value libpq refuses: {reason}"
                ) from exc
            passing, advice = next(
                ((passing, advice) for words, passing, advice in _CAUSES if words in bare),
                (True, _SERVER_DOWN),
            )
            if not passing:
                advice = advice.format(ssl=_ssl_source(url))
                raise StorageError(f"cannot connect to {where}: {reason}; {advice}") from exc
            if attempt == ATTEMPTS:
                raise StorageError(
                    f"cannot connect to {where} after {ATTEMPTS} tries: {reason}; {advice}"
                ) from exc
            time.sleep(1.0)
    raise AssertionError("unreachable")  # pragma: no cover


def readable(fd: int) -> bool:
    """Whether socket ``fd`` has something to read, without waiting (poll, as
    select refuses descriptors past 1023)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    found, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows
    return bool(found)


def _ssl_source(url: str) -> str:
    """What asks for SSL: the URL's sslmode, or the environment's."""
    mode = parse(url).get("sslmode")
    if mode:
        return f"the URL (sslmode={mode!r})"
    if os.environ.get("PGSSLMODE"):
        return f"PGSSLMODE={os.environ['PGSSLMODE']!r}"
    return "the connection"


_PASSWORDS = (
    re.compile(r"(://[^:/@]*:)[^@]*@"),  # postgresql://user:secret@host
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", re.IGNORECASE),  # password=secret
)


def _masked(url: str) -> str:
    """``url`` with every password in it replaced by ***."""
    url = _PASSWORDS[0].sub(r"\1***@", url)
    return _PASSWORDS[1].sub(r"\1***", url)


def check_preparable(conn: Any, prepare: bool, owner: str) -> None:
    """Refuse ``prepare=True`` with a connection (or pool) whose
    ``prepare_threshold`` is None: psycopg then prepares nothing, whatever
    the ``owner`` asks, and the option would silently do nothing."""
    if not prepare:
        return
    kwargs = getattr(conn, "kwargs", None)  # a pool's connection arguments
    threshold = kwargs.get("prepare_threshold", 5) if isinstance(kwargs, dict) else (
        getattr(conn, "prepare_threshold", 5)
    )
    if threshold is None:
        raise ConfigError(
            f"{owner}(prepare=True) was given a {type(conn).__name__} made with "
            "prepare_threshold=None, on which psycopg prepares no statement; make it with "
            "prepare_threshold=0 (or leave the default), or pass prepare=False"
        )
