"""Off-peak windows and deadlines, as users type them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rdaplab.engine.windows import parse_deadline, parse_duration_s
from rdaplab.errors import InputError
from rdaplab.jobs import Window


def test_a_window_past_midnight_is_open_at_night_only() -> None:
    w = Window.parse("22:00-06:00")
    day = datetime(2026, 12, 6)
    assert [w.is_open(day.replace(hour=h)) for h in (21, 22, 23, 0, 5, 6, 12)] == [
        False, True, True, True, True, False, False,
    ]  # fmt: skip
    assert w.next_open(day.replace(hour=12)) == day.replace(hour=22)
    assert w.next_close(day.replace(hour=23)) == day.replace(hour=6) + timedelta(days=1)
    assert w.seconds_until_open(day.replace(hour=21, minute=30).timestamp()) == 1800


def test_a_daytime_window_and_the_whole_day() -> None:
    w = Window.parse("09:30-17:00")
    assert w.is_open(datetime(2026, 12, 6, 9, 30)) and not w.is_open(datetime(2026, 12, 6, 17))
    whole = Window.parse("00:00-24:00")
    assert whole.is_open(datetime(2026, 12, 6, 3)) and whole.next_close(0.0) is None


def test_a_window_in_a_named_zone_reads_that_zones_clock() -> None:
    w = Window.parse("22:00-06:00 Asia/Tokyo")  # UTC+9, no daylight saving
    assert str(w) == "22:00-06:00 Asia/Tokyo"
    assert w.is_open(datetime(2026, 12, 6, 14, 0, tzinfo=timezone.utc))  # 23:00 in Tokyo
    assert not w.is_open(datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc))  # 12:00 there


@pytest.mark.parametrize("text", ["22-06", "25:00-06:00", "22:00-06:61", "22:00-06:00 Mars/Base"])
def test_bad_windows_say_what_is_wrong(text: str) -> None:
    with pytest.raises(InputError, match=r"window|zone"):
        Window.parse(text)


def test_deadlines_and_durations() -> None:
    assert parse_duration_s("30d") == 30 * 86400
    assert parse_duration_s(timedelta(minutes=2)) == 120
    assert parse_deadline("12h", now=1000.0) == 1000.0 + 12 * 3600
    at = datetime(2026, 12, 24, 6, 0, tzinfo=timezone.utc)
    assert parse_deadline("2026-12-24T06:00+00:00", now=0.0) == at.timestamp()
    with pytest.raises(InputError, match="deadline"):
        parse_deadline("soon", now=0.0)
