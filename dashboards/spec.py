"""What a dashboard shows, as plain data: rows of panels, each panel a list of PromQL queries.

The generator turns these into Grafana JSON (build.py); the tests run the very same queries
against a real Prometheus. Each query says which capability of the watched host it needs to
return data, so a test knows which panels must be filled on which target and which are expected
empty (a stock kernel has no reserved pool; a host without BPF has no probe data).
"""

from __future__ import annotations

from dataclasses import dataclass

# Capabilities a query's data depends on (a target in the e2e tests offers a subset).
KERNEL = "kernel"  # sysfs/procfs readers: present on every Linux host thpwatch runs on
RESERVED_THP = "reserved_thp"  # Reserved THP series: /sys/kernel/mm/reserved_thp
PUD_THP = "pud_thp"  # PUD THP series: hugepages-1048576kB
PMD_SWAP = "pmd_swap"  # PMD swap entries series: vmstat thp_swpout_pmd, do_huge_pmd_swap_page
TRACEPOINT_PROBES = "tracepoint_probes"  # BPF on tracepoints (root, bcc)
FUNCTION_PROBES = "function_probes"  # BPF on kernel functions (fentry/kprobe allowed)
CAPABILITIES = (KERNEL, RESERVED_THP, PUD_THP, PMD_SWAP, TRACEPOINT_PROBES, FUNCTION_PROBES)


# Columns hidden in tables of 0/1 state and _info series: the labels are the information.
STATE_TABLE = ("Time", "__name__", "Value")


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    needs: frozenset[str] = frozenset({KERNEL})
    instant: bool = False  # tables and stats: the latest value, not a range
    heatmap: bool = False  # histogram buckets rendered as a heatmap (format "heatmap")


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | stat | heatmap | table | bargauge
    queries: tuple[Query, ...]
    description: str
    unit: str = "short"
    width: int = 8
    height: int = 8
    max: float | None = None
    thresholds: tuple[tuple[float, str], ...] = ()  # (from value, colour) above the green base
    hidden_columns: tuple[str, ...] = ("Time", "__name__")  # table panels: columns not shown


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    query: str  # Grafana's label_values(selector, label)
    multi: bool = True


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = ("thpwatch",)

    def queries(self) -> list[tuple[Panel, Query]]:
        return [(p, q) for row in self.rows for p in row.panels for q in p.queries]


def needs(*capabilities: str) -> frozenset[str]:
    unknown = set(capabilities) - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"unknown capabilities {sorted(unknown)}; known: {CAPABILITIES}")
    return frozenset(capabilities)
