"""Draws a dashboard's panels from a real Prometheus into one PNG (no Grafana needed).

    python -m dashboards.render --prometheus http://127.0.0.1:9090 --out docs/host-dashboard.png

Runs every panel's queries exactly as Grafana would (variables expanded to match everything) as
range queries over the last --minutes, and draws the panels that returned data: time series as
lines, stats and bar gauges as bars of the latest value, tables as their label sets, heatmaps as
bucket rates over time.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dashboards.promql import expand_variables
from dashboards.spec import Dashboard, Panel

COLUMNS = 3
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused a query; the message says which."""


@dataclass(frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    times: list[float]
    values: list[float]


def query_range(url: str, expr: str, start: float, end: float, step: float) -> list[dict]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    except (urllib.error.URLError, OSError) as e:
        raise PrometheusError(f"cannot reach Prometheus at {url}: {e}") from None
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus refused {expr!r}: {body.get('error')}")
    return body["data"]["result"]


def legend(template: str, labels: dict[str, str]) -> str:
    if not template:
        return (
            ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
        )
    return _LEGEND_LABEL.sub(lambda m: labels.get(m.group(1), ""), template)


def panel_series(url: str, panel: Panel, start: float, end: float, step: float) -> list[Series]:
    found = []
    for q in panel.queries:
        for r in query_range(url, expand_variables(q.expr), start, end, step):
            labels = r["metric"]
            name = legend("{{le}}" if q.heatmap else q.legend, labels)
            times = [float(t) for t, _ in r["values"]]
            values = [float(v) for _, v in r["values"]]
            found.append(Series(name, labels, times, values))
    return found


def render(url: str, dashboard: Dashboard, out: Path, minutes: float = 10) -> list[str]:
    """Write the PNG; returns the titles of the panels drawn (those with data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = time.time()
    start = end - minutes * 60
    step = max(1.0, minutes * 60 / 300)
    drawn = [
        (row.title, panel, series)
        for row in dashboard.rows
        for panel in row.panels
        if (series := panel_series(url, panel, start, end, step))
    ]
    if not drawn:
        raise PrometheusError(f"no panel of {dashboard.title!r} has data at {url}")
    rows = math.ceil(len(drawn) / COLUMNS)
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(6 * COLUMNS, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(drawn) :]:
        ax.set_visible(False)
    for ax, (row_title, panel, series) in zip(axes.flat, drawn, strict=False):
        ax.set_title(f"{row_title} · {panel.title}", fontsize=10, loc="left")
        _DRAW[panel.kind](ax, panel, series)
    fig.suptitle(f"{dashboard.title} — {url}, last {minutes:g} min", fontsize=13)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return [panel.title for _, panel, _ in drawn]


def _draw_lines(ax, panel: Panel, series: list[Series]) -> None:
    for s in series:
        ax.plot([t - series[0].times[0] for t in s.times], s.values, label=s.name, linewidth=1.2)
    ax.set_xlabel("seconds")
    _unit_axis(ax, panel.unit)
    if len(series) <= 8:
        ax.legend(fontsize=7, loc="best")


def _draw_bars(ax, panel: Panel, series: list[Series]) -> None:
    names = [s.name for s in series]
    last = [s.values[-1] for s in series]
    ax.barh(names, last, color="tab:orange")
    for i, v in enumerate(last):
        ax.text(v, i, f" {_format(v, panel.unit)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xticks([])


def _draw_table(ax, panel: Panel, series: list[Series]) -> None:
    hidden = set(panel.hidden_columns)
    lines = [
        "  ".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k not in hidden)
        + ("" if "Value" in hidden else f"  → {_format(s.values[-1], panel.unit)}")
        for s in series
    ]
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines[:14]), va="top", family="monospace", fontsize=7)


def _draw_heatmap(ax, panel: Panel, series: list[Series]) -> None:
    ordered = sorted(series, key=lambda s: float(s.labels.get("le", "inf")))
    grid = [s.values for s in ordered]
    ax.imshow(grid, aspect="auto", origin="lower", cmap="Oranges")
    ax.set_yticks(range(len(ordered)), [s.labels.get("le", "") for s in ordered], fontsize=6)
    ax.set_xlabel("samples")


def _unit_axis(ax, unit: str) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _format(v, unit)))
    ax.tick_params(labelsize=8)


def _format(value: float, unit: str) -> str:
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.0f}%"
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024 or suffix == "TiB":
                return f"{value:.3g} {suffix}"
            value /= 1024
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "ops":
        return f"{value:.3g}/s"
    return f"{value:.4g}"


_DRAW = {
    "timeseries": _draw_lines,
    "stat": _draw_bars,
    "bargauge": _draw_bars,
    "table": _draw_table,
    "heatmap": _draw_heatmap,
}


def main(argv: list[str] | None = None) -> int:
    from dashboards.generate import DASHBOARDS

    parser = argparse.ArgumentParser(prog="python -m dashboards.render", description=__doc__)
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--dashboard", default="host.json", choices=sorted(DASHBOARDS))
    parser.add_argument("--minutes", type=float, default=10, help="time range to draw")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    try:
        drawn = render(args.prometheus, DASHBOARDS[args.dashboard], args.out, args.minutes)
    except PrometheusError as e:
        print(f"render: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(drawn)} panels with data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
