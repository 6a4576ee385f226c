"""The per-size table: one row for every THP size the kernel has (1 GiB when present)."""

from __future__ import annotations

import re

from rich import box
from rich.table import Table
from rich.text import Text

from thpwatch.rates import ratio
from thpwatch.tui import names
from thpwatch.tui.fmt import absent, count, not_applicable, pending, percent, rate_cell
from thpwatch.tui.frame import Frame

# (header, compact header, stats file) for every rate column, in screen order
RATE_COLUMNS = (
    ("alloc/s", "alloc", "anon_fault_alloc"),
    ("fallback/s", "fback", "anon_fault_fallback"),
    ("split/s", "split", "split"),
    ("swpout/s", "swpout", "swpout"),
    ("swpin/s", "swpin", "swpin"),
    ("swpin fb/s", "sin fb", "swpin_fallback"),
)
_SIZE = re.compile(r"(\d+)kB")


def size_key(size: str) -> int:
    m = _SIZE.fullmatch(size)
    return int(m.group(1)) if m else 0


def kernel_sizes(frame: Frame) -> list[str]:
    """Every size label any per-size series carries, smallest first."""
    found = {
        s.label("size")
        for s in frame.now.samples
        if s.name.startswith(names.MTHP_PREFIX) and s.label("size")
    }
    return sorted(found, key=size_key)


def enabled_mode(frame: Frame, size: str) -> Text:
    for s in frame.series(names.MTHP_ENABLED, size=size):
        if s.value == 1:
            return Text(s.label("mode"))
    return absent()


def fallback_share(frame: Frame, size: str) -> Text:
    """Fallbacks as a share of all THP fault attempts of this size in the interval."""
    alloc_name = names.MTHP_ALLOC
    fb_name = names.MTHP_FALLBACK
    if frame.value(alloc_name, size=size) is None or frame.value(fb_name, size=size) is None:
        return absent()
    alloc, fb = frame.rate(alloc_name, size=size), frame.rate(fb_name, size=size)
    if alloc is None or fb is None:
        return pending()
    share = ratio(fb, alloc + fb)
    if share is None:
        return not_applicable()
    return Text(percent(share), style="yellow" if share > 0.1 else "")


def render_sizes(frame: Frame, compact: bool = False) -> Table:
    table = Table(
        title="THP by size (rates per second over the last interval)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0) if compact else (0, 1),
    )
    table.add_column("size", style="bold", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    table.add_column("nr_anon", justify="right", no_wrap=True)
    for header, short, stat in RATE_COLUMNS:
        table.add_column(short if compact else header, justify="right", no_wrap=True)
        if stat == "anon_fault_fallback":
            table.add_column("fb%" if compact else "fb %", justify="right", no_wrap=True)
    for size in kernel_sizes(frame):
        nr = frame.value(names.MTHP_NR_ANON, size=size)
        cells = [Text(size), enabled_mode(frame, size), absent() if nr is None else Text(count(nr))]
        for _header, _short, stat in RATE_COLUMNS:
            style = "red" if "fallback" in stat else "green"
            cells.append(rate_cell(frame, names.mthp_counter(stat), style=style, size=size))
            if stat == "anon_fault_fallback":
                cells.append(fallback_share(frame, size))
        table.add_row(*cells)
    if not table.row_count:
        table.add_row(Text("no per-size THP directories (THP absent on this kernel)"))
    return table
