"""One writer per thread: a run holds its thread while it runs.

A run takes a lease on its thread before it reads the head; every
checkpoint it stores is stored only if the lease still holds (the saver
checks in the same statement), a background heartbeat renews it every third
of its ttl, and the run lets go when it returns. A second run on a busy thread waits up to the saver's
``wait_for_thread`` and then raises ThreadBusyError. A writer that died
holds the thread until its lease expires (the saver's ``lease_ttl``), unless
it ran on this very machine (same boot, same process namespace) and its
process is gone: then its hold is taken over at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import threading
import time
import uuid
import warnings

from cairn.checkpoint.base import BaseCheckpointSaver, Lease, thread_busy
from cairn.runtime import offload

_FIRST_PAUSE = 0.005
_LONGEST_PAUSE = 0.25


def _machine() -> str:
    """Who can see this process's pid: this boot of this machine, this pid namespace."""
    parts = []
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(open(path).read().strip() if "boot" in path else str(os.stat(path).st_ino))
        except OSError:
            return ""
    return hashlib.sha1(" ".join(parts).encode()).hexdigest()[:8]


_MACHINE = _machine()
_OWNER = re.compile(r"\(pid (\d+) on .*, ([0-9a-f]{8})\)$")


def new_owner() -> str:
    """A lease owner: unique, and telling a person which process holds it."""
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    return f"{uuid.uuid4().hex[:12]} ({where}, {_MACHINE})" if _MACHINE else f"{uuid.uuid4().hex[:12]} ({where})"


def _dead(holder: str) -> bool:
    """Whether ``holder`` ran in a process of this machine that is gone."""
    found = _OWNER.search(holder)
    if not found or not _MACHINE or found.group(2) != _MACHINE:
        return False
    pid = int(found.group(1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # killed, not yet reaped
    except (OSError, IndexError):
        return False


class _Heartbeat:
    """Renews the leases of running runs, every third of their ttl, from one
    daemon thread shared by the whole process."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._held: dict[int, tuple[BaseCheckpointSaver, Lease, float]] = {}
        self._thread: threading.Thread | None = None
        self._wakes_at: float | None = None
        """When the thread wakes next on its own (None: only when woken)."""

    def add(self, saver: BaseCheckpointSaver, lease: Lease) -> int:
        with self._wake:
            key = id(lease)
            due = time.monotonic() + lease.ttl / 3
            self._held[key] = (saver, lease, due)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="cairn-leases", daemon=True)
                self._thread.start()
            if self._wakes_at is None or due < self._wakes_at:
                self._wake.notify()  # else it wakes in time anyway: no thread switch per run
            return key

    def remove(self, key: int) -> None:
        with self._wake:
            self._held.pop(key, None)

    def _beat(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = [(k, s, lease) for k, (s, lease, at) in self._held.items() if at <= now]
                for key, saver, lease in due:
                    self._held[key] = (saver, lease, now + lease.ttl / 3)
            for _, saver, lease in due:
                try:
                    # Only ever extends a hold: a run whose thread was taken
                    # over stays refused, even once the thread is free again.
                    saver.renew(lease)
                except Exception:
                    # The store is unreachable for now: the next beat tries
                    # again, and a write finds the lease lost if it was taken.
                    pass
            with self._wake:
                if not due:
                    upcoming = [at for _, _, at in self._held.values()]
                    self._wakes_at = min(upcoming) if upcoming else None
                    timeout = None if self._wakes_at is None else max(0.0, self._wakes_at - time.monotonic())
                    self._wake.wait(timeout)
                    self._wakes_at = None


_heartbeat = _Heartbeat()


class ThreadHold:
    """A run's lease on its thread, from ``take`` (or ``atake``) to ``release``."""

    def __init__(self, saver: BaseCheckpointSaver, thread_id: str) -> None:
        self.saver = saver
        self.lease = Lease(thread_id, new_owner(), saver.lease_ttl)
        self._key: int | None = None
        self.took_over: str | None = None
        """The holder whose hold ``take`` took over (its process was gone), if one was."""

    def take(self) -> None:
        """Hold the thread, waiting up to the saver's ``wait_for_thread``."""
        pause = _FIRST_PAUSE
        deadline = time.monotonic() + self.saver.wait_for_thread
        while (holder := self._try()) is not None:
            pause = self._pause_or_raise(holder, deadline, pause)
            time.sleep(pause)
        self._key = _heartbeat.add(self.saver, self.lease)

    async def atake(self) -> None:
        """``take`` for the event loop: waits without blocking it."""
        pause = _FIRST_PAUSE
        deadline = time.monotonic() + self.saver.wait_for_thread
        while (holder := await offload.call(self.saver, self._try)) is not None:
            pause = self._pause_or_raise(holder, deadline, pause)
            await asyncio.sleep(pause)
        self._key = _heartbeat.add(self.saver, self.lease)

    def _try(self) -> str | None:
        holder = self.saver.acquire(self.lease)
        if holder is not None and _dead(holder):
            gone, holder = holder, self.saver.acquire(self.lease, replacing=holder)
            if holder is None:
                self.took_over = gone
        return holder

    def _pause_or_raise(self, holder: str, deadline: float, pause: float) -> float:
        """How long to wait before trying again; raises once time is up."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise thread_busy(self.lease.thread_id, holder)
        return min(pause * 2, _LONGEST_PAUSE, left)

    def release(self) -> None:
        if self._key is None:
            return
        _heartbeat.remove(self._key)
        self._key = None
        try:
            self.saver.release(self.lease)
        except Exception as exc:
            # Every step is stored; the hold frees itself when it expires.
            warnings.warn(
                f"could not release thread {self.lease.thread_id!r} ({exc}); other runs can "
                f"take it within {self.lease.ttl:g} s",
                RuntimeWarning,
                stacklevel=2,
            )


class NoHold:
    """The hold of a run that takes none: a subgraph's (its parent holds
    the thread) or a run without a checkpointer."""

    lease: Lease | None = None
    took_over: str | None = None

    def take(self) -> None:
        """Nothing to take."""

    async def atake(self) -> None:
        """Nothing to take."""

    def release(self) -> None:
        """Nothing to let go."""


def owner_is_gone(owner: str) -> bool:
    """Whether the lease owner ``owner`` (made by ``new_owner``) ran in a
    process of this machine that is gone: its holds can be taken over at once."""
    return _dead(owner)
