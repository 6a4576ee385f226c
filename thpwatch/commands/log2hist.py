"""A histogram as text bars per power-of-two bucket, the way bcc's tools print them
(`print_log2_hist`): one line per bucket from the first to the last that holds anything."""

from __future__ import annotations

from thpwatch.snapshot import Histogram

BAR_WIDTH = 40  # bcc's; narrower when the buckets' numbers are long and the lines must fit
LINE_WIDTH = 80
MIN_BAR_WIDTH = 10


def buckets(h: Histogram, scale: float = 1e9) -> list[tuple[int, int | None, int]]:
    """(low, high or None for +Inf, count) per bucket, bounds multiplied by scale (ns)."""
    rows: list[tuple[int, int | None, int]] = []
    low, below = 0, 0
    for bound, cum in zip(h.bounds, h.cumulative, strict=True):
        high = round(bound * scale)
        rows.append((low, high - 1, cum - below))
        low, below = high, cum
    rows.append((low, None, h.count - below))
    return rows


def log2_lines(
    h: Histogram, unit: str = "nsecs", scale: float = 1e9, line_width: int = LINE_WIDTH
) -> list[str]:
    """bcc-style lines (header included), at most line_width wide unless the bars would get
    shorter than MIN_BAR_WIDTH; [] for a histogram without observations."""
    rows = buckets(h, scale)
    filled = [i for i, (_, _, n) in enumerate(rows) if n]
    if not filled:
        return []
    shown = rows[filled[0] : filled[-1] + 1]
    peak = max(n for _, _, n in shown)
    width = max(len(str(x)) for lo, hi, _ in shown for x in (lo, "inf" if hi is None else hi))
    count_width = max(8, len(str(peak)))
    prefix = 2 * width + 4 + 3 + count_width + 2  # "lo -> hi" " : " count "  "
    bar_width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, line_width - prefix - 2))
    lines = [f"{unit:>{2 * width + 4}} : {'count':<{count_width}}  distribution"]
    for lo, hi, n in shown:
        span = f"{lo:>{width}} -> {'inf' if hi is None else hi:<{width}}"
        bar = "*" * round(bar_width * n / peak)
        lines.append(f"{span} : {n:<{count_width}}  |{bar:<{bar_width}}|")
    return lines
