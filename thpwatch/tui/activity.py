"""Splits and their failures, THP swap-out kept huge vs split, PMD swap-in whole vs split
fallback, compaction/reclaim stalls."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text

from thpwatch.snapshot import Sample
from thpwatch.tui import names
from thpwatch.tui.fmt import per_second, rate_cell, seconds
from thpwatch.tui.frame import Frame


def rate_item(
    frame: Frame,
    label: str,
    name: str,
    bad: bool = False,
    where: Callable[[Sample], bool] | None = None,
    **match: str,
) -> Text:
    """ "label 1.5/s" (see rate_cell for absent, pending and never-seen failures)."""
    style = "bold red" if bad else "green"
    return Text(f"{label} ").append_text(rate_cell(frame, name, style, "/s", where, **match))


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


def counted(frame: Frame, name: str, label: str) -> list[str]:
    """Values of label that have counted something: the probes export their known label sets
    at 0 from the start, and a line of every advice or outcome at 0/s says nothing."""
    return sorted({s.label(label) for s in frame.series(name) if s.value})


def idle(items: list[Text | None], frame: Frame, name: str) -> list[Text | None]:
    """items, or "idle" when the family is there but nothing was counted yet."""
    if not items and frame.has(name):
        return [Text("idle", style="dim")]
    return items


def split_items(frame: Frame) -> list[Text | None]:
    items: list[Text | None] = [
        rate_item(frame, "PMD", names.VMSTAT_SPLIT_PMD),
        rate_item(frame, "PUD", names.VMSTAT_SPLIT_PUD),
        rate_item(frame, "folio", names.VMSTAT_SPLIT_PAGE),
        rate_item(frame, "failed", names.VMSTAT_SPLIT_PAGE_FAILED, bad=True),
        rate_item(frame, "mTHP failed", names.MTHP_SPLIT_FAILED, bad=True),
    ]
    levels = sorted({s.label("level") for s in frame.series(names.SPLITS)})
    for level in levels:
        items.append(rate_item(frame, f"probe {level}", names.SPLITS, level=level))
        items.append(
            rate_item(frame, "failed", names.SPLITS, bad=True, where=split_failed, level=level)
        )
        items.append(latency_item(frame, f"{level}", names.SPLIT_SECONDS, level=level))
    return items


def split_failed(sample: Sample) -> bool:
    return sample.label("result") not in names.SPLIT_SUCCESS


def swapout_items(frame: Frame) -> list[Text | None]:
    """THP swap-outs: kept huge as one PMD swap entry (PMD swap series; absent elsewhere),
    written whole, and split before swap-out (no PMD-order swap space on the device)."""
    return [
        rate_item(frame, "2M kept huge", names.VMSTAT_SWPOUT_PMD),
        rate_item(frame, "written whole", names.VMSTAT_SWPOUT),
        rate_item(frame, "split", names.VMSTAT_SWPOUT_FALLBACK, bad=True),
    ]


def swapin_items(frame: Frame) -> list[Text | None]:
    items: list[Text | None] = [
        rate_item(frame, "2M whole", names.MTHP_SWPIN, size=names.PMD_SIZE),
        rate_item(
            frame, "split fallback", names.MTHP_SWPIN_FALLBACK, bad=True, size=names.PMD_SIZE
        ),
    ]
    for outcome in counted(frame, names.PMD_SWAPIN, "outcome"):
        bad = outcome not in (*names.PMD_SWAPIN_WHOLE, *names.PMD_SWAPIN_NOT_SWAPIN)
        items.append(rate_item(frame, f"PMD {outcome}", names.PMD_SWAPIN, bad, outcome=outcome))
    return items


def stall_items(frame: Frame) -> list[Text | None]:
    return [
        rate_item(frame, "compact stall", names.VMSTAT_COMPACT_STALL),
        rate_item(frame, "fail", names.VMSTAT_COMPACT_FAIL, bad=True),
        latency_item(frame, "compaction", names.COMPACTION_SECONDS),
        latency_item(frame, "direct reclaim", names.DIRECT_RECLAIM_SECONDS),
    ]


def madvise_failed(sample: Sample) -> bool:
    return sample.label("result") != names.MADVISE_OK


def madvise_items(frame: Frame) -> list[Text | None]:
    """Calls per advice (MADV_HUGEPAGE, MADV_COLLAPSE, ...) and how many of them failed."""
    items: list[Text | None] = []
    for advice in counted(frame, names.MADVISE_CALLS, "advice"):
        items.append(rate_item(frame, advice, names.MADVISE_CALLS, advice=advice))
        items.append(
            rate_item(
                frame, "failed", names.MADVISE_CALLS, bad=True, where=madvise_failed, advice=advice
            )
        )
    return idle(items, frame, names.MADVISE_CALLS)


def render_activity(frame: Frame) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.title = "Splits · THP swap-out · PMD swap-in · stalls"
    grid.title_justify, grid.title_style = "left", "bold"
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("splits", join(split_items(frame)))
    grid.add_row("swap-out", join(swapout_items(frame)))
    grid.add_row("swap-in", join(swapin_items(frame)))
    grid.add_row("stalls", join(stall_items(frame)))
    if frame.has(names.MADVISE_CALLS):
        grid.add_row("madvise", join(madvise_items(frame)))
    return grid
