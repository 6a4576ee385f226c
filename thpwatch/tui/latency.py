"""Fault latency by page size from the function probes, or a plain word on why there is none."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from thpwatch.snapshot import Histogram, SourceStatus, State
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


def not_attached(probes: list[SourceStatus]) -> Text:
    """Fault probes grouped by state, each group with the gist of its reason (doctor has it all)."""
    by_state: dict[State, list[SourceStatus]] = defaultdict(list)
    for st in probes:
        by_state[st.state].append(st)
    text = Text("no fault latency — fault probes ", style="yellow")
    for state, group in by_state.items():
        gist = "not in this kernel" if state is State.ABSENT else group[0].reason.split(":")[0]
        text.append(f"{state.value}: {gist} ({', '.join(st.name for st in group)})  ")
    return text


def why_no_latency(frame: Frame, bpf_note: str) -> Text:
    """Say plainly why there are no fault-latency histograms."""
    if bpf_note:
        return Text(f"no fault latency: {bpf_note}", style=ABSENT_STYLE)
    probes = [
        st
        for st in frame.now.statuses
        if st.kind == "probe" and dict(st.detail).get("group") in names.FAULT_PROBE_GROUPS
    ]
    if any(st.state is State.OK for st in probes):
        return Text("fault probes attached; no fault measured yet", style=ABSENT_STYLE)
    if probes:
        return not_attached(probes)
    bpf = frame.now.status(names.BPF_SOURCE, "source")
    if bpf is not None and bpf.state is not State.OK:
        return Text(f"no fault latency: BPF {bpf.state.value}: {bpf.reason}", style="yellow")
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
