"""Fault latency by page size from the function probes, or a plain word on why there is none."""

from __future__ import annotations

from itertools import pairwise

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from thpwatch.snapshot import Histogram, State
from thpwatch.tui import names
from thpwatch.tui.fmt import ABSENT_STYLE, per_second, seconds
from thpwatch.tui.frame import Frame

BARS = " ▁▂▃▄▅▆▇█"
QUANTILES = (0.5, 0.9, 0.99)


def spark(h: Histogram) -> str:
    """One character per bucket: how many observations fell in it, relative to the fullest."""
    edges = (0, *h.cumulative, h.count)  # the last bucket is +Inf
    per_bucket = [b - a for a, b in pairwise(edges)]
    top = max(per_bucket, default=0)
    if top == 0:
        return ""
    return "".join(BARS[0 if n == 0 else 1 + (n * (len(BARS) - 2)) // top] for n in per_bucket)


def quantile_cells(h: Histogram) -> list[Text]:
    cells = []
    for q in QUANTILES:
        v = h.quantile(q)
        cells.append(Text("n/a", style=ABSENT_STYLE) if v is None else Text(seconds(v)))
    return cells


def why_no_latency(frame: Frame, bpf_note: str) -> Text:
    """Name the reason the fault-latency histograms are missing."""
    if bpf_note:
        return Text(f"no fault latency: {bpf_note}", style=ABSENT_STYLE)
    reasons = sorted(
        {
            f"{st.name}: {st.state.value}" + (f" ({st.reason})" if st.reason else "")
            for st in frame.now.statuses
            if st.kind == "probe" and "fault" in st.name and st.state is not State.OK
        }
    )
    if reasons:
        return Text("no fault latency — probes not attached: " + "; ".join(reasons), "yellow")
    return Text("no fault latency: no BPF fault probes loaded", style=ABSENT_STYLE)


def render_latency(frame: Frame, bpf_note: str = "", show_spark: bool = True) -> RenderableType:
    table = Table(
        title="Fault latency by page size (last interval)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("fault", no_wrap=True)
    table.add_column("/s", justify="right", no_wrap=True)
    for q in QUANTILES:
        table.add_column(f"p{q * 100:g}", justify="right", no_wrap=True)
    if show_spark:
        table.add_column("histogram", no_wrap=True, style="cyan")
    known = dict(names.FAULT_KINDS)
    kinds = [k for k, _ in names.FAULT_KINDS] + sorted(
        {s.label("fault") for s in frame.series(names.FAULT_SECONDS)} - set(known)
    )
    for kind in kinds:
        h = frame.histogram(names.FAULT_SECONDS, fault=kind)
        if h is None:
            continue
        elapsed = frame.elapsed
        rate = Text(per_second(h.count / elapsed)) if elapsed else Text("…", style="dim")
        row = [Text(known.get(kind, kind)), rate, *quantile_cells(h)]
        if show_spark:
            row.append(Text(spark(h)))
        table.add_row(*row)
    if not table.row_count:
        return why_no_latency(frame, bpf_note)
    return table
