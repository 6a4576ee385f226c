"""The reserved THP pool: how full it is, who can't get at it, and whether it adds up."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from thpwatch.rates import ratio
from thpwatch.tui import names
from thpwatch.tui.fmt import ABSENT_STYLE, absent, count, per_second, percent, size_bytes
from thpwatch.tui.frame import Frame


def pool_bar(frame: Frame, width: int) -> RenderableType:
    total = frame.value(names.POOL_HPAGES)
    used = frame.value(names.POOL_USED_HPAGES)
    free = frame.value(names.POOL_FREE_HPAGES)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    bar_width = max(10, min(30, width - 50))
    bar: RenderableType = (
        ProgressBar(total=max(total, 1), completed=used, width=bar_width)
        if total is not None and used is not None
        else Text("")
    )
    label = Text.assemble("used ", hpages(used), " / ", hpages(total))
    share = ratio(used, total)
    if share is not None:
        label.append(f" ({percent(share)})")
    label.append_text(Text.assemble("  free ", hpages(free, "yellow")))
    total_bytes = frame.value(names.POOL_BYTES)
    if total_bytes is not None:
        label.append(f"  ({size_bytes(total_bytes)} pool)")
    grid.add_row(bar, label)
    return grid


def hpages(v: float | None, style_if_zero: str = "") -> Text:
    if v is None:
        return absent()
    return Text(count(v), style=style_if_zero if v == 0 and style_if_zero else "bold")


def holdings_line(frame: Frame) -> Text:
    return Text.assemble(
        "resident ",
        hpages(frame.value(names.RESIDENT_HPAGES)),
        "   requested at boot ",
        hpages(frame.value(names.REQUESTED_HPAGES)),
        "   boot shortfall ",
        hpages(frame.value(names.BOOT_SHORTFALL_HPAGES)),
        "  (huge pages)",
    )


def counter_text(frame: Frame, name: str, **match: str) -> Text:
    """Total and rate of a counter family, "n/a" when nothing reports it."""
    total = frame.total_sum(name, **match)
    if total is None:
        return Text("n/a", style=ABSENT_STYLE)
    rate = frame.rate_sum(name, **match)
    style = "bold red" if rate else ""
    text = Text(count(total), style=style)
    if rate is not None:
        text.append(f" ({per_second(rate)}/s)", style=style)
    return text


def failures_line(frame: Frame) -> Text:
    line = Text("madvise(MADV_RESERVED_THP) failed: ")
    for errno, meaning in names.MADVISE_ERRNOS:
        line.append(f"{errno} ")
        line.append_text(
            counter_text(
                frame, names.MADVISE_CALLS, advice=names.MADVISE_RESERVED_THP, result=errno
            )
        )
        line.append(f" [{meaning}]  ", style="dim")
    return line


def oom_line(frame: Frame) -> Text:
    return Text.assemble(
        "pool-empty OOM faults: ",
        counter_text(frame, names.FAULTS, outcome=names.OOM_OUTCOME),
        "   kernel log 'VM_FAULT_OOM leaked': ",
        counter_text(frame, names.KMSG_OOM_LEAKED),
    )


def violation_lines(frame: Frame) -> list[Text]:
    """One red line per failing consistency check, with the numbers behind it."""
    lines = []
    for s in frame.series(names.CHECK_VIOLATION):
        if not s.value:
            continue
        check = s.label("check")
        line = Text(f"VIOLATION {check}", style="bold white on red")
        observed = frame.value(names.CHECK_OBSERVED, check=check)
        limit = frame.value(names.CHECK_LIMIT, check=check)
        if observed is not None and limit is not None:
            line.append(f"  observed {count(observed)}, limit {count(limit)}")
        lines.append(line)
    return lines


def render_pool(frame: Frame, width: int) -> RenderableType:
    title = "Reserved THP pool"
    if frame.value(names.POOL_HPAGES) is None:
        note = Text.assemble(
            (f"{title}: ", "bold"),
            ("absent on this kernel (no /sys/kernel/mm/reserved_thp)", ABSENT_STYLE),
        )
        return Group(note, *violation_lines(frame))
    body = [pool_bar(frame, width), holdings_line(frame), failures_line(frame), oom_line(frame)]
    body += violation_lines(frame)
    for line in body:
        if isinstance(line, Text):
            line.no_wrap, line.overflow = True, "ellipsis"
    return Panel(Group(*body), title=title, title_align="left")
