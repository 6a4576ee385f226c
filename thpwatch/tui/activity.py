"""Splits and their failures, PMD swap-in whole vs split fallback, compaction/reclaim stalls."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from thpwatch.tui import names
from thpwatch.tui.fmt import ABSENT_STYLE, pending, per_second, seconds
from thpwatch.tui.frame import Frame


def rate_item(frame: Frame, label: str, name: str, bad: bool = False, **match: str) -> Text:
    """ "label 1.5/s", summed over the series matching; "absent" when none is there."""
    text = Text(f"{label} ")
    if not frame.has(name, **match):
        return text.append("absent", style=ABSENT_STYLE)
    rate = frame.rate_sum(name, **match)
    if rate is None:
        return text.append_text(pending())
    style = ("bold red" if bad else "green") if rate > 0 else ""
    return text.append(f"{per_second(rate)}/s", style=style)


def latency_item(frame: Frame, label: str, name: str, **labels: str) -> Text | None:
    """ "label p99 1.2ms (3/s)" for a histogram; None when no probe reports it."""
    h = frame.histogram(name, **labels)
    if h is None:
        return None
    text = Text(f"{label} ")
    p99 = h.quantile(0.99)
    text.append("idle" if p99 is None else f"p99 {seconds(p99)}")
    if frame.elapsed:
        text.append(f" ({per_second(h.count / frame.elapsed)}/s)")
    return text


def join(items: list[Text | None]) -> Text:
    out = Text()
    for item in items:
        if item is not None:
            if out:
                out.append("  ")
            out.append_text(item)
    return out


def split_items(frame: Frame) -> list[Text | None]:
    items: list[Text | None] = [
        rate_item(frame, "PMD", names.vmstat_counter("thp_split_pmd")),
        rate_item(frame, "PUD", names.vmstat_counter("thp_split_pud")),
        rate_item(frame, "folio", names.vmstat_counter("thp_split_page")),
        rate_item(frame, "failed", names.vmstat_counter("thp_split_page_failed"), bad=True),
        rate_item(frame, "mTHP failed", names.mthp_counter("split_failed"), bad=True),
    ]
    levels = sorted({s.label("level") for s in frame.series(names.SPLITS)})
    for level in levels:
        items.append(
            rate_item(
                frame, f"{level} aborted", names.SPLITS, bad=True, level=level, result="failed"
            )
        )
        items.append(latency_item(frame, f"{level}", names.SPLIT_SECONDS, level=level))
    return items


def swapin_items(frame: Frame) -> list[Text | None]:
    items: list[Text | None] = [
        rate_item(frame, "2M whole", names.mthp_counter("swpin"), size="2048kB"),
        rate_item(
            frame, "split fallback", names.mthp_counter("swpin_fallback"), bad=True, size="2048kB"
        ),
    ]
    for outcome in sorted({s.label("outcome") for s in frame.series(names.PMD_SWAPIN)}):
        items.append(rate_item(frame, f"probe {outcome}", names.PMD_SWAPIN, outcome=outcome))
    return items


def stall_items(frame: Frame) -> list[Text | None]:
    return [
        rate_item(frame, "compact stall", names.vmstat_counter("compact_stall")),
        rate_item(frame, "fail", names.vmstat_counter("compact_fail"), bad=True),
        latency_item(frame, "compaction", names.COMPACTION_SECONDS),
        latency_item(frame, "direct reclaim", names.DIRECT_RECLAIM_SECONDS),
    ]


def render_activity(frame: Frame) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.title = "Splits · PMD swap-in · stalls"
    grid.title_justify, grid.title_style = "left", "bold"
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("splits", join(split_items(frame)))
    grid.add_row("swap-in", join(swapin_items(frame)))
    grid.add_row("stalls", join(stall_items(frame)))
    return grid
