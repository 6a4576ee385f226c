"""How numbers and missing values look on screen. Never a fake zero: a series the kernel lacks
is "absent", a ratio with nothing to divide is "n/a", a rate before the second reading is "…"."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from thpwatch.snapshot import Sample
from thpwatch.tui.frame import Frame

ABSENT_STYLE = "dim italic"


def absent() -> Text:
    return Text("absent", style=ABSENT_STYLE)


def not_applicable() -> Text:
    return Text("n/a", style=ABSENT_STYLE)


def pending() -> Text:
    """A rate that needs a second reading."""
    return Text("…", style="dim")


def count(v: float) -> str:
    """Compact count: 999, 12.3k, 4.5M."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.1f}{suffix}"
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def per_second(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) < 0.1:
        return f"{v:.2f}"
    return count(v) if abs(v) >= 1000 else f"{v:.1f}"


def size_bytes(v: float) -> str:
    for div, unit in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(v) >= div:
            return f"{v / div:.1f} {unit}"
    return f"{v:.0f} B"


def seconds(v: float) -> str:
    for mult, unit in ((1e-6, "µs"), (1e-3, "ms")):
        if v < mult * 1000:
            return f"{v / mult:.3g}{unit}" if v >= mult else f"{v * 1e9:.0f}ns"
    return f"{v:.2f}s"


def percent(v: float) -> str:
    return f"{v * 100:.1f}%"


def rate_cell(
    frame: Frame,
    name: str,
    style: str = "",
    unit: str = "",
    where: Callable[[Sample], bool] | None = None,
    **match: str,
) -> Text:
    """Per-second rate of a counter, summed over its series whose labels include `match` (and
    pass `where`): "absent" if there are none, "…" before two readings.

    A family that is there but has no series passing `where` (a probe counts a failure only
    once one happens) had none in the interval: 0.
    """
    if not frame.has(name, **match):
        return absent()
    if frame.before is None:
        return pending()
    selected = [s for s in frame.series(name, **match) if where is None or where(s)]
    rate = frame.rate_sum(name, where, **match) if selected else 0.0
    if rate is None:
        return pending()
    return Text(per_second(rate) + unit, style=style if rate > 0 else "")
