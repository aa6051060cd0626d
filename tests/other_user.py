"""Running part of a test as a user whom file permissions apply to.

Root ignores permission bits, and the tests may run as root. There
``as_other_user`` runs the function in a forked child that has become user
``nobody`` (the interpreter lives under /root, which nobody may not read, so
the child does not exec anything: it runs code already imported). As any
other user it runs the function in this process, to which the bits apply.

The files such a test makes must be reachable by nobody: ``reachable_tmp``
is a fresh directory under the system's temporary directory that everyone
may enter (pytest's ``tmp_path`` sits under a root-only directory).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

NOBODY = 65534

RUNS_AS_ROOT = os.geteuid() == 0


def as_other_user(action: Callable[[], Any]) -> Any:
    """``action()``'s result (JSON-able), run as a user the permission bits
    apply to; an exception it raises comes back as the string
    'TypeName: message'."""
    if not RUNS_AS_ROOT:
        return _outcome(action)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, json.dumps(_outcome(action)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child running as nobody failed"
    return json.loads(b"".join(chunks))


def _outcome(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as exc:  # the test looks at the type and message
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A new directory that every user may enter, removed afterwards (with
    write permission restored on everything inside, so that it can be)."""
    folder = Path(tempfile.mkdtemp(prefix="cairn-perm-")).resolve()
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IRWXU)
    shutil.rmtree(folder)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what a refused open must leave as it was."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<dir>"
        for path in sorted(folder.rglob("*"))
    }
