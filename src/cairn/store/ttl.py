"""Expiry of store items: a TTL in minutes, an absolute expiry time in
seconds since the epoch, and a thread that deletes expired items now and then.

Reads never return an expired item, swept or not; sweeping only gives the
space back.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, Callable

from cairn.errors import StoreInputError

DEFAULT_SWEEP_MINUTES = 60


def check_config(config: Any) -> None:
    """Raise on a TTLConfig a store cannot follow."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise StoreInputError(
            f"ttl={config!r}: give a dict such as {{'default_ttl': 60, 'refresh_on_read': True}}"
        )
    unknown = set(config) - {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
    if unknown:
        raise StoreInputError(
            f"ttl config key {sorted(unknown)[0]!r} is not known; use default_ttl, "
            "refresh_on_read and sweep_interval_minutes"
        )
    default = config.get("default_ttl")
    if default is not None and (isinstance(default, bool) or not isinstance(default, (int, float)) or default <= 0):
        raise StoreInputError(f"ttl default_ttl={default!r} must be a positive number of minutes, or None")


def expiry(now: float, minutes: float | None) -> float | None:
    """When an item stored (or read, refreshing) at ``now`` with ``minutes`` expires."""
    return None if minutes is None else now + minutes * 60.0


class Sweeper:
    """A daemon thread calling ``sweep`` every ``minutes`` until stopped."""

    def __init__(self, sweep: Callable[[], int], minutes: float) -> None:
        self._sweep = sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(minutes * 60.0,), daemon=True,
                                        name="cairn-store-ttl-sweeper")
        self._thread.start()

    def _run(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self._sweep()
            except Exception:  # noqa: BLE001 - a failed sweep is retried at the next interval
                continue

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread; whether it ended within ``timeout`` seconds."""
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()


class Sweeping(ABC):
    """``start_ttl_sweeper`` / ``stop_ttl_sweeper`` over a store's ``sweep_ttl``."""

    ttl_config: Any = None
    _sweeper: Sweeper | None = None

    @abstractmethod
    def sweep_ttl(self) -> int:
        """Delete the expired items now; how many."""

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Delete expired items every ``sweep_interval_minutes`` (default: the
        ttl config's, else 60) on a daemon thread, until ``stop_ttl_sweeper()``."""
        if self._sweeper is not None:
            return
        minutes = sweep_interval_minutes or (self.ttl_config or {}).get(
            "sweep_interval_minutes"
        ) or DEFAULT_SWEEP_MINUTES
        self._sweeper = Sweeper(self.sweep_ttl, float(minutes))

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it ended within ``timeout`` seconds."""
        sweeper, self._sweeper = self._sweeper, None
        return True if sweeper is None else sweeper.stop(timeout)
