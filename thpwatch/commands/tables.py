"""rich tables shared by the human output of snapshot and doctor.

They stay readable at 80 columns (a pipe, `| less`): the value column is never cut, long
metric names, labels and reasons fold instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from thpwatch.commands.log2hist import log2_lines
from thpwatch.snapshot import Histogram, Sample, SourceStatus, State

STATE_STYLE = {
    State.OK: "green",
    State.ABSENT: "dim",
    State.BLOCKED: "yellow",
    State.ERROR: "bold red",
}
LABEL_INDENT = "  "


def status_table(statuses: Iterable[SourceStatus], title: str = "Sources") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("source", overflow="fold")
    table.add_column("kind", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for s in statuses:
        style = STATE_STYLE[s.state]
        table.add_row(
            s.name,
            s.kind,
            f"[{style}]{s.state.value}[/]",
            f"{s.duration_seconds * 1000:.1f}",
            s.reason,
        )
    return table


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_value(sample: Sample) -> str:
    v = sample.value
    if isinstance(v, Histogram):
        p50, p99 = v.quantile(0.5), v.quantile(0.99)
        quantiles = "" if p50 is None else f" p50 {p50:.6f}s p99 {p99:.6f}s"
        return f"count {v.count}{quantiles}"
    text = f"{v:g}" if v != int(v) else f"{int(v)}"
    if sample.name.endswith("_bytes") and abs(v) >= 1024:
        text += f" ({human_bytes(v)})"
    return text


def label_text(sample: Sample) -> str:
    return ",".join(f"{k}={v}" for k, v in sample.labels)


def sample_table(samples: Iterable[Sample], title: str = "Metrics") -> Table:
    """One row per metric name, its label sets indented under it; values right-aligned."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric / labels", overflow="fold", ratio=1)
    table.add_column("value", justify="right", no_wrap=True)
    ordered = sorted(samples, key=lambda s: (s.name, s.labels))
    for name, family in groupby(ordered, key=lambda s: s.name):
        members = list(family)
        if len(members) == 1 and not members[0].labels:
            table.add_row(Text(name, style="bold"), format_value(members[0]))
            continue
        table.add_row(Text(name, style="bold"), "")
        for s in members:
            table.add_row(LABEL_INDENT + label_text(s), format_value(s))
    return table


def histograms(samples: Iterable[Sample], title: str = "Histograms") -> RenderableType | None:
    """Every histogram with observations as log2 text bars (bcc style); None if there is none."""
    parts: list[RenderableType] = []
    for s in sorted(samples, key=lambda s: (s.name, s.labels)):
        if not isinstance(s.value, Histogram):
            continue
        lines = log2_lines(s.value)
        if not lines:
            continue
        labels = label_text(s)
        heading = f"{s.name}{{{labels}}}" if labels else s.name
        parts.append(Text(f"{heading}  ({format_value(s)})", style="bold", overflow="fold"))
        parts.append(Text("\n".join(lines) + "\n", no_wrap=True))
    if not parts:
        return None
    return Group(Text(title, style="italic"), *parts)
