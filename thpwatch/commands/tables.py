"""rich tables shared by the human output of snapshot and doctor."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table

from thpwatch.snapshot import Histogram, Sample, SourceStatus, State

STATE_STYLE = {
    State.OK: "green",
    State.ABSENT: "dim",
    State.BLOCKED: "yellow",
    State.ERROR: "bold red",
}


def status_table(statuses: Iterable[SourceStatus], title: str = "Sources") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("source", "kind", "state", "ms", "reason"):
        table.add_column(column, overflow="fold", justify="right" if column == "ms" else "left")
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


def sample_table(samples: Iterable[Sample], title: str = "Metrics") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("labels", overflow="fold", min_width=24)
    table.add_column("value", justify="right")
    for s in sorted(samples, key=lambda s: (s.name, s.labels)):
        labels = ",".join(f"{k}={v}" for k, v in s.labels)
        table.add_row(s.name, labels, format_value(s))
    return table
