"""How numbers and missing values look on screen. Never a fake zero: a series the kernel lacks
is "absent", a ratio with nothing to divide is "n/a", a rate before the second reading is "…"."""

from __future__ import annotations

from rich.text import Text

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


def value_cell(frame: Frame, name: str, fmt=count, **labels: str) -> Text:
    """Current value of a gauge, or "absent"."""
    v = frame.value(name, **labels)
    return absent() if v is None else Text(fmt(v))


def rate_cell(frame: Frame, name: str, style: str = "", **labels: str) -> Text:
    """Per-second rate of a counter: "absent" if the kernel lacks it, "…" before two readings."""
    if frame.value(name, **labels) is None:
        return absent()
    r = frame.rate(name, **labels)
    if r is None:
        return pending()
    return Text(per_second(r), style=style if r > 0 else "")
