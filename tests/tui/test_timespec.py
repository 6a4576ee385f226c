"""Times and durations as `top --prometheus` takes them (thpwatch.timespec)."""

from __future__ import annotations

from datetime import datetime

import pytest

from thpwatch.timespec import (
    TimeSpecError,
    format_duration,
    parse_duration,
    parse_time,
)

NOW = 1_796_659_500.0  # 2026-12-07T16:05:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-15m", NOW - 900),
        ("now-1h30m", NOW - 5400),
        (" -90s ", NOW - 90),
        ("-500ms", NOW - 0.5),
        ("1796659000", 1796659000.0),
        ("1796659000.25", 1796659000.25),
        ("2026-12-07T16:05:00Z", NOW),
        ("2026-12-07T17:05:00+01:00", NOW),
        ("2026-12-07 16:04:59.5z", NOW - 0.5),
    ],
)
def test_times(text, expected):
    assert parse_time(text, NOW) == pytest.approx(expected)


def test_clock_time_is_today_local():
    got = parse_time("09:30", NOW)
    local = datetime.fromtimestamp(got).astimezone()
    today = datetime.fromtimestamp(NOW).astimezone()
    assert (local.date(), local.hour, local.minute, local.second) == (today.date(), 9, 30, 0)
    assert datetime.fromtimestamp(parse_time("23:59:59", NOW)).second == 59


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("yesterday", "is not a time"),
        ("", "is not a time"),
        ("-15x", "is not a time"),
        ("now+5m", "future"),
        ("+5m", "future"),
        ("2026-12-07T16:05:00", "no time zone"),
        ("1796659500000", "milliseconds"),
        ("25:00", "not a clock time"),
        ("12:61", "not a clock time"),
        ("9" * 400, "milliseconds"),
        ("\x00\x1b[31m", "is not a time"),
    ],
)
def test_bad_times_say_what_is_wrong(text, says):
    with pytest.raises(TimeSpecError, match=says):
        parse_time(text, NOW)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1), ("90s", 90), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("250ms", 0.25),
     ("1y", 365 * 86400), ("15", 15), ("0.5", 0.5)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "0", "", "m", "1m1h", "-5s", "5 s", "1.5m", "nan"])
def test_bad_durations(text):
    with pytest.raises(TimeSpecError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(1, "1s"), (90, "1m30s"), (5400, "1h30m"), (0.25, "250ms"), (1.5, "1.5s")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
