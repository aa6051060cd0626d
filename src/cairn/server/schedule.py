"""Cron schedules: checking a five-field cron expression and an IANA time
zone, and finding a schedule's next slot (croniter for the expression,
zoneinfo for the zone, so "0 9 * * *" in "Europe/Paris" is 9:00 in Paris on
either side of a daylight-saving change).

A slot is a whole second since the epoch: the crons table stores it so, and
a firing compares it exactly.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from cairn.errors import RequestError

__all__ = ["check_schedule", "check_timezone", "next_slot"]


def check_schedule(schedule: object) -> str:
    """``schedule``, which must be a cron expression of five fields
    (minute hour day-of-month month day-of-week)."""
    if not isinstance(schedule, str) or not schedule.strip():
        raise RequestError(f"field 'schedule' must be a cron expression such as '0 9 * * *', got {schedule!r}")
    fields = schedule.split()
    if len(fields) != 5:
        raise RequestError(
            f"field 'schedule' must have five fields (minute hour day month weekday), "
            f"got {len(fields)} in {schedule!r}"
        )
    if not croniter.is_valid(schedule):
        raise RequestError(f"field 'schedule' is not a valid cron expression: {schedule!r}")
    try:
        next_slot(schedule, None, time.time())
    except CroniterBadDateError:
        raise RequestError(f"field 'schedule' names a date that never comes (such as February 30): {schedule!r}") from None
    return schedule


def check_timezone(name: object) -> str | None:
    """``name``, an IANA time zone such as "America/New_York" (None: UTC)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise RequestError(f"field 'timezone' must be an IANA time zone name, got {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RequestError(
            f"field 'timezone' must be an IANA time zone name such as 'Europe/Paris', got {name!r}"
        ) from None
    return name


def next_slot(schedule: str, zone: str | None, after: float) -> int:
    """The first slot of ``schedule`` (read in ``zone``, None: UTC) strictly
    after ``after`` (seconds since the epoch)."""
    tz = ZoneInfo(zone) if zone else timezone.utc
    start = datetime.fromtimestamp(int(after), tz)
    return int(croniter(schedule, start).get_next(datetime).timestamp())
