"""Times and durations as Prometheus users write them.

Times: RFC 3339 (`2026-12-07T16:05:00Z`, with an offset or Z), unix seconds (`1796659500`,
`1796659500.25`), `now`, relative to now (`-15m`, `now-1h30m`), or a clock time today in local
time (`16:05`, `16:05:30`). Durations: Prometheus' units (`90s`, `1h30m`, `500ms`) or seconds.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
# After this, a unix time in seconds is surely a mistake (milliseconds typed as seconds).
LATEST_UNIX_SECONDS = 1e11

TIME_FORMATS = "RFC 3339 (2026-12-07T16:05:00Z), unix seconds, now, -15m / now-15m, or HH:MM[:SS]"
DURATION_FORMATS = "a duration such as 30s, 5m, 1h30m, or seconds"


class TimeSpecError(ValueError):
    """What was wrong with a time or duration, worded for the user."""


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (`1h30m`) or a plain number of seconds; must be > 0."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        seconds = float(text)
    else:
        m = _DURATION.fullmatch(text)
        if not text or m is None or not any(m.groups()):
            raise TimeSpecError(f"{text!r} is not {DURATION_FORMATS}")
        units = ("y", "w", "d", "h", "m", "s", "ms")
        seconds = sum(int(g) * UNITS[u] for g, u in zip(m.groups(), units, strict=True) if g)
    if not seconds > 0:
        raise TimeSpecError(f"{text!r}: a duration must be more than 0 seconds")
    return seconds


def parse_time(text: str, now: float | None = None) -> float:
    """Seconds since the epoch for one of TIME_FORMATS."""
    now = time.time() if now is None else now
    spec = text.strip()
    if spec == "now":
        return now
    relative = spec.removeprefix("now")
    if relative.startswith("-"):
        return now - _relative(text, relative[1:])
    if relative.startswith("+"):
        raise TimeSpecError(f"{text!r}: times in the future have no history")
    if _NUMBER.fullmatch(spec):
        seconds = float(spec)
        if seconds >= LATEST_UNIX_SECONDS:
            raise TimeSpecError(f"{text!r}: too large for unix seconds (milliseconds?)")
        return seconds
    clock = _CLOCK.fullmatch(spec)
    if clock:
        return _clock_today(text, clock, now)
    return _rfc3339(text, spec)


def _relative(text: str, duration: str) -> float:
    try:
        return parse_duration(duration)
    except TimeSpecError:
        raise TimeSpecError(f"{text!r} is not a time: use {TIME_FORMATS}") from None


def _clock_today(text: str, clock: re.Match[str], now: float) -> float:
    hour, minute, second = (int(g or 0) for g in clock.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise TimeSpecError(f"{text!r} is not a clock time (HH:MM[:SS])")
    today = datetime.fromtimestamp(now).astimezone()
    return today.replace(hour=hour, minute=minute, second=second, microsecond=0).timestamp()


def _rfc3339(text: str, spec: str) -> float:
    try:
        parsed = datetime.fromisoformat(spec.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise TimeSpecError(f"{text!r} is not a time: use {TIME_FORMATS}") from None
    if parsed.tzinfo is None:
        raise TimeSpecError(f"{text!r} has no time zone: add Z (UTC) or an offset like +01:00")
    return parsed.timestamp()


def format_time(seconds: float) -> str:
    """Local clock time with the date, as the replay banner shows it."""
    return datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def format_duration(seconds: float) -> str:
    """30s, 5m, 1h30m: the shortest Prometheus spelling (ms when under a second)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    out, rest = "", int(seconds)
    for unit in ("d", "h", "m", "s"):
        n, rest = divmod(rest, UNITS[unit])
        if n:
            out += f"{int(n)}{unit}"
    return out or "0s"
