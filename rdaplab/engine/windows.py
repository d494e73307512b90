"""When work may run: off-peak windows (``22:00-06:00``, local time) of jobs and of
registry hosts (a profile's ``quiet_hours``), deadlines and durations as users type them.

A window is a daily span of wall-clock time; one that ends before it starts wraps past
midnight. Times are read in the worker's local time zone unless one is given (an IANA
name such as ``Europe/Paris``), so ``22:00-06:00`` means the same hours whatever day the
worker happens to be looking.

>>> from datetime import datetime
>>> w = Window.parse("22:00-06:00")
>>> w.is_open(datetime(2026, 12, 6, 23, 30)), w.is_open(datetime(2026, 12, 6, 12, 0))
(True, False)
>>> w.next_open(datetime(2026, 12, 6, 12, 0))
datetime.datetime(2026, 12, 6, 22, 0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rdaplab.errors import InputError

__all__ = ["Window", "parse_deadline", "parse_duration_s"]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*(?:\s+(\S+))?\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_s(text: str | float | timedelta) -> float:
    """Seconds of ``3600``, ``90s``, ``15m``, ``12h``, ``30d``, ``2w`` or a ``timedelta``."""
    if isinstance(text, timedelta):
        return text.total_seconds()
    if isinstance(text, int | float):
        if text < 0:
            raise InputError(f"a duration must not be negative, got {text}")
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise InputError(f"not a duration: {text!r} (try 3600, 12h, 30d)")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_deadline(value: str | float | datetime | timedelta, *, now: float) -> float:
    """Epoch seconds of a deadline: a ``datetime`` (naive is local time), an ISO date-time
    string, or a duration from ``now`` (``12h``, ``2d``, a ``timedelta``)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, timedelta | int | float):
        return now + parse_duration_s(value)
    try:
        return now + parse_duration_s(value)
    except InputError:
        pass
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        raise InputError(
            f"not a deadline: {value!r} (a date-time such as 2026-12-24T06:00, or a "
            "duration from now such as 12h)"
        ) from None


@dataclass(frozen=True)
class Window:
    """A daily span of wall-clock time in which a job may run.

    Parameters
    ----------
    start, end
        Its first and its end minute (``end`` excluded); ``end <= start`` wraps past
        midnight, and ``start == end`` is the whole day.
    zone
        An IANA time-zone name; ``None``: the worker's local time.
    """

    start: time
    end: time
    zone: str | None = None

    @classmethod
    def parse(cls, text: str) -> Window:
        """``HH:MM-HH:MM`` with an optional zone: ``22:00-06:00 Europe/Paris``."""
        m = _WINDOW.match(text)
        if not m:
            raise InputError(f"not a window: {text!r} (try 22:00-06:00)")
        h1, m1, h2, m2 = (int(g) for g in m.groups()[:4])
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise InputError(f"not a window: {text!r} (hours 00-23, minutes 00-59)")
        zone = m.group(5)
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InputError(f"unknown time zone {zone!r} in window {text!r}") from None
        return cls(time(h1, m1), time(0, 0) if h2 == 24 else time(h2, m2), zone)

    def __str__(self) -> str:
        text = f"{self.start:%H:%M}-{self.end:%H:%M}"
        return f"{text} {self.zone}" if self.zone else text

    @property
    def tz(self) -> tzinfo | None:
        return ZoneInfo(self.zone) if self.zone else None

    def _local(self, at: datetime | float) -> datetime:
        """``at`` as a naive wall-clock time in the window's zone."""
        if isinstance(at, int | float):
            at = datetime.fromtimestamp(at, timezone.utc)
        if at.tzinfo is None:
            if self.zone is None:
                return at
            at = at.astimezone()  # naive: the machine's local time
        return at.astimezone(self.tz).replace(tzinfo=None)

    def _minutes(self, t: time) -> int:
        return t.hour * 60 + t.minute

    def is_open(self, at: datetime | float) -> bool:
        """Whether a job may run at ``at`` (a ``datetime``, naive meaning local, or epoch
        seconds)."""
        local = self._local(at)
        now = local.hour * 60 + local.minute + local.second / 60
        start, end = self._minutes(self.start), self._minutes(self.end)
        if start == end:
            return True
        if start < end:
            return start <= now < end
        return now >= start or now < end

    def next_open(self, at: datetime | float) -> datetime:
        """When the window next opens (``at`` itself when open now), as a wall-clock
        time in the window's zone (naive)."""
        local = self._local(at)
        if self.is_open(at):
            return local
        opens = local.replace(
            hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
        )
        return opens if opens > local else opens + timedelta(days=1)

    def next_close(self, at: datetime | float) -> datetime | None:
        """When the window next closes after ``at`` (None: it never does)."""
        if self.start == self.end:
            return None
        local = self._local(at)
        closes = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return closes if closes > local else closes + timedelta(days=1)

    def seconds_until_open(self, at: float) -> float:
        """Seconds from epoch ``at`` until the window opens (0 when open)."""
        if self.is_open(at):
            return 0.0
        local = self._local(at)
        return (self.next_open(at) - local).total_seconds()
