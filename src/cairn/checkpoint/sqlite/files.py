"""The file behind a SQLite saver: what is checked before SQLite touches the
disk, and why SQLite refused to open or write it.

SQLite opens a file it may not write read-only without a word, and says
"unable to open database file" or "attempt to write a readonly database"
whatever the cause. The checks here run on every open (a few ``stat``
calls); the diagnosis only after SQLite said no.
"""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
import stat

from cairn.errors import ConfigError, StorageError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
_EFFECTIVE = os.access in os.supports_effective_ids

# SQLite's primary result codes (the low byte of an extended one).
_PERM, _READONLY, _CORRUPT, _CANTOPEN, _NOTADB = 3, 8, 11, 14, 26
_WORDS = {
    _READONLY: "readonly",
    _CANTOPEN: "unable to open",
    _NOTADB: "not a database",
    _CORRUPT: "malformed",
}

_SIDE_FILES = ("-wal", "-shm", "-journal")
"""What SQLite keeps next to a database while it is in use."""


def check(path: str, location: str) -> None:
    """Raise unless cairn can open ``path`` for writing: its directory exists
    and can be reached, it is not a directory, and if it exists this
    process may write to it (SQLite would open it read-only, leave -wal and
    -shm files behind and fail at the first step)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _no_folder(path, folder, location)
    if os.path.isdir(path):
        raise StorageError(
            f"cannot open {location}: {path!r} is a directory; give the path of a "
            "database file (it is created if missing)"
        )
    if not _writable(path) and os.path.exists(path):
        raise StorageError(f"cannot open {location}: {_unwritable_file(path)}")


def is_code(exc: sqlite3.Error, code: int) -> bool:
    """Whether SQLite's error has the primary result ``code`` (from the message
    before Python 3.11, which does not give the code)."""
    found = getattr(exc, "sqlite_errorcode", None)
    if found is not None:
        return bool(found & 0xFF == code)
    return _WORDS.get(code, "\0") in str(exc)


def refused_write(exc: sqlite3.Error) -> bool:
    """Whether SQLite could not open or write a file (the cause may be permissions)."""
    return any(is_code(exc, code) for code in (_READONLY, _CANTOPEN, _PERM))


def not_a_database(exc: sqlite3.Error) -> bool:
    return is_code(exc, _NOTADB)


def damaged(exc: sqlite3.Error) -> bool:
    return is_code(exc, _CORRUPT)


def why_unwritable(path: str) -> str | None:
    """Why this process may not write the database ``path`` or the files SQLite
    keeps next to it, with what to do; None when permissions are not why."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(path):
        if _writable(folder):
            return None
        return (
            f"{_who()} may not create files in the directory {folder!r} ({_describe(folder)}); "
            "make the directory writable by this user, or choose a path in a directory it may write"
        )
    if not _writable(path):
        return _unwritable_file(path)
    for suffix in _SIDE_FILES:
        side = path + suffix
        if os.path.exists(side) and not _writable(side):
            return (
                f"{_who()} may not write to {side!r} ({_describe(side)}), which SQLite keeps next "
                "to the database while it is in use; make it writable by this user, or run as "
                "its owner"
            )
    if _writable(folder):
        return None
    name = os.path.basename(path)
    return (
        f"SQLite needs to create {name + '-wal'!r} and {name + '-shm'!r} next to the database, "
        f"and {_who()} may not create files in the directory {folder!r} ({_describe(folder)}); "
        "make the directory writable by this user, or move the database to a directory it may write"
    )


def _no_folder(path: str, folder: str, location: str) -> Exception:
    """The error for a ``path`` whose directory is not there to use."""
    scheme = _URL.match(path)
    if scheme:
        other = (
            "; for PostgreSQL use cairn.checkpoint.postgres.PostgresSaver"
            if scheme.group(1).lower().startswith("postgres")
            else ""
        )
        masked = _PASSWORD.sub(r"\1***@", path)
        return ConfigError(
            f"SqliteSaver takes the path of a database file, and {masked!r} is a URL; give a "
            f"path such as 'checkpoints.db'{other}"
        )
    reached = os.path.abspath(os.sep)
    for part in os.path.relpath(folder, reached).split(os.sep):
        current = os.path.join(reached, part)
        try:
            mode = os.stat(current).st_mode
        except PermissionError:
            return StorageError(
                f"cannot open {location}: {_who()} may not enter the directory {reached!r} "
                f"({_describe(reached)}); give this user access to it, or choose another path"
            )
        except OSError:
            break
        if not stat.S_ISDIR(mode):
            return StorageError(
                f"cannot open {location}: {current!r} is a file, not a directory; "
                "choose a path whose folders are directories"
            )
        reached = current
    return StorageError(
        f"cannot open {location}: the directory {folder!r} does not exist; "
        "create it first or choose another path"
    )


def _unwritable_file(path: str) -> str:
    return (
        f"{_who()} may not write to the file ({_describe(path)}), and cairn stores every "
        "step in it; make the file writable by this user, or copy it to a file it may write"
    )


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK, effective_ids=_EFFECTIVE)


def _who() -> str:
    return f"this process (user {_user(os.geteuid())!r})"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _describe(path: str) -> str:
    """The owner and mode of ``path``, and what else refuses writes to it."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    text = f"owner {_user(info.st_uid)!r}, {stat.filemode(info.st_mode)}"
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return text + ", on a read-only file system"
    if os.geteuid() == 0:  # root is refused only by a file attribute
        return text + ", marked immutable or append-only (see lsattr)"
    return text
