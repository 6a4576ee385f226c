"""Snapshots rebuilt from what a Prometheus server recorded of one thpwatch exporter.

Every scrape of thpwatch stores all its series under one timestamp, so the Snapshot of a past
moment is an instant query at the timestamp of the last scrape before it: the same samples (catalog
names and labels, minus the target's labels), histograms rebuilt from their buckets, and the
source and probe states from their 0/1 state series. Rates then come from two such Snapshots
exactly as `top` computes them live (thpwatch.rates), the scrape times standing in for the
monotonic clock.

What the exporter did not export has no series: a source without a state series (the exporter
ran without --processes, say) is "not recorded", which is neither absent nor zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from thpwatch.catalog import Catalog, catalog
from thpwatch.promapi import PrometheusAPI
from thpwatch.snapshot import Histogram, Sample, Snapshot, SourceStatus, State, labels_of
from thpwatch.status_metrics import SOURCE_DURATION, STATE_METRICS
from thpwatch.timespec import format_time

# In every scrape, with no labels of its own: its labels are the target's, its timestamps the
# scrapes'. Added by the exporter around the Snapshot, so not part of one.
REFERENCE = "thpwatch_scrape_duration_seconds"
STATE_SERIES = {m.name: (kind, m.labels[0]) for kind, m in STATE_METRICS.items()}
DURATION_SERIES = SOURCE_DURATION.name
LOOKBACK = 300.0  # seconds: Prometheus' default lookback delta for instant queries
REASON_NOT_RECORDED = "reason not recorded"  # Prometheus keeps states, not reasons
HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")
CACHED_SNAPSHOTS = 32  # stepping back and forth re-reads none of these

# The sources live `top` reads (thpwatch.assembly), by their names: a recording without the
# state series of one of them did not record that source.
LIVE_SOURCES = (
    "features",
    "kmsg",
    "procscan",
    "cgroups",
    "thp_settings",
    "mthp",
    "reserved_thp",
    "cmdline",
    "vmstat",
    "meminfo",
    "pagetypeinfo",
    "checks",
    "bpf",
)
# What a user sees missing when one of these is not recorded, and the exporter flag behind it.
NOT_RECORDED_HINTS = {
    "procscan": "process rows: the exporter ran without --processes",
    "cgroups": "cgroup rows: the exporter ran without --cgroups",
    "bpf": "probes: the exporter ran without BPF (--no-bpf or --root)",
}


class NoData(Exception):
    """Prometheus answered, but has nothing of this exporter there: the message says what."""


def promql_string(value: str) -> str:
    """A PromQL double-quoted string literal (Go escapes, which JSON's are a subset of)."""
    return json.dumps(value)


@dataclass(frozen=True)
class Target:
    """Which exporter's series to read: its instance label, and the job when several scrape it."""

    instance: str
    job: str | None = None

    def selector(self, name: str = "", *extra: str) -> str:
        matchers = [*extra, f"instance={promql_string(self.instance)}"]
        if self.job is not None:
            matchers.append(f"job={promql_string(self.job)}")
        return f"{name}{{{','.join(matchers)}}}"

    def describe(self) -> str:
        return self.instance + (f" (job {self.job})" if self.job else "")


def probe_specs() -> tuple[Any, ...]:
    from thpwatch.probes.specs import PROBES

    return PROBES


def probe_groups() -> dict[str, str]:
    """Probe name -> group, as the live probe statuses carry it (the latency panel reads it)."""
    return {p.name: p.group for p in probe_specs()}


def live_order(kind: str, name: str) -> tuple[int, int, str]:
    """Statuses in the order live top has them: sources as assembled, then probes as loaded."""
    order = LIVE_SOURCES if kind == "source" else tuple(p.name for p in probe_specs())
    base = name.split(".")[0]  # sub-statuses (procscan.smaps) follow their source
    return (kind != "source", order.index(base) if base in order else len(order), name)


def snapshot_from_vector(
    result: Iterable[Mapping[str, Any]],
    timestamp: float,
    target_labels: Iterable[str],
    metric_catalog: Catalog | None = None,
) -> Snapshot:
    """The Snapshot an exporter rendered, from an instant query's result of all its series."""
    cat = metric_catalog or catalog()
    strip = {"__name__", *target_labels}
    groups = probe_groups()
    samples: list[Sample] = []
    parts: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    states: dict[tuple[str, str], State] = {}
    durations: dict[str, float] = {}
    for series in result:
        metric = series["metric"]
        name = metric.get("__name__", "")
        labels = {k: v for k, v in metric.items() if k not in strip}
        value = float(series["value"][1])
        if name in STATE_SERIES:
            kind, key = STATE_SERIES[name]
            if value == 1 and labels.get("state") in State._value2member_map_ and key in labels:
                states.setdefault((kind, labels[key]), State(labels["state"]))
            continue
        if name == DURATION_SERIES:
            durations[labels.get("source", "")] = value
            continue
        if name == REFERENCE:
            continue
        base, part = histogram_part(name, cat)
        if base:
            le = labels.pop("le", None)
            entry = parts.setdefault((base, labels_of(labels)), {"buckets": {}})
            if part == "_bucket" and le is not None:
                entry["buckets"][le] = value
            else:
                entry[part] = value
            continue
        samples.append(Sample(name, labels_of(labels), value))
    for (base, labels), entry in parts.items():
        h = histogram_of(entry)
        if h is not None:
            samples.append(Sample(base, labels, h))
    statuses = [
        SourceStatus(
            name,
            kind,
            state,
            "" if state is State.OK else REASON_NOT_RECORDED,
            durations.get(name, 0.0),
            labels_of(group=groups[name]) if kind == "probe" and name in groups else (),
        )
        for (kind, name), state in sorted(states.items(), key=lambda item: live_order(*item[0]))
    ]
    return Snapshot(timestamp, timestamp, tuple(samples), tuple(statuses))


def histogram_part(name: str, cat: Catalog) -> tuple[str, str]:
    """("thpwatch_fault_seconds", "_bucket") for a histogram's series; ("", "") otherwise."""
    for part in HISTOGRAM_PARTS:
        if name.endswith(part):
            base = name.removesuffix(part)
            metric = cat.lookup(base)
            if metric is not None and metric.type == "histogram":
                return base, part
    return "", ""


def histogram_of(entry: Mapping[str, Any]) -> Histogram | None:
    """A Histogram from its le buckets (+Inf is the count); None when the buckets are missing."""
    finite: list[tuple[float, int]] = []
    count = entry.get("_count")
    for le, cumulative in entry["buckets"].items():
        bound = float(le)
        if bound == float("inf"):
            count = cumulative
        else:
            finite.append((bound, round(cumulative)))
    if count is None or not finite:
        return None
    finite.sort()
    return Histogram(
        tuple(b for b, _ in finite),
        tuple(c for _, c in finite),
        round(count),
        entry.get("_sum", 0.0),
    )


def not_recorded(snapshot: Snapshot) -> list[str]:
    """Sources live `top` reads that this recorded Snapshot has no state for."""
    recorded = {st.name for st in snapshot.statuses if st.kind == "source"}
    return [name for name in LIVE_SOURCES if name not in recorded]


@dataclass
class History:
    """One exporter's recorded Snapshots, read from Prometheus as they are asked for."""

    api: PrometheusAPI
    target: Target
    _snapshots: dict[float, Snapshot] = field(default_factory=dict)

    def scrape_before(self, t: float) -> float | None:
        """Timestamp of the last scrape at or before t (within the lookback), None if none."""
        result = self.api.query(f"timestamp({self.target.selector(REFERENCE)})", t)
        if len(result) > 1:
            raise NoData(self._ambiguous([r["metric"].get("job", "") for r in result]))
        if not result:
            return None
        return round(float(result[0]["value"][1]), 3)

    def last_good_scrape(self, t: float) -> float | None:
        """The last successful scrape at or before t, even across failed ones (whose staleness
        markers hide earlier scrapes from scrape_before): the earlier end of a step."""
        stamps = self._scrapes_before(t)
        return round(max(stamps), 3) if stamps else None

    def _scrapes_before(self, t: float) -> list[float]:
        """Timestamps of the successful scrapes in the lookback before t (raw samples)."""
        window = f"{self.target.selector(REFERENCE)}[{int(LOOKBACK)}s]"
        result = self.api.matrix(window, t)
        if len(result) > 1:
            raise NoData(self._ambiguous([r["metric"].get("job", "") for r in result]))
        return [float(ts) for ts, _ in result[0]["values"]] if result else []

    def snapshot(self, scrape: float) -> Snapshot:
        """The Snapshot scraped at `scrape` (a timestamp from scrape_before), cached."""
        cached = self._snapshots.pop(scrape, None)
        if cached is not None:
            self._snapshots[scrape] = cached  # now the most recently used
            return cached
        result = self.api.query(self.target.selector("", '__name__=~"thpwatch_.+"'), scrape)
        reference = [r["metric"] for r in result if r["metric"].get("__name__") == REFERENCE]
        target_labels = tuple(reference[0]) if reference else ("instance", "job")
        snap = snapshot_from_vector(result, scrape, target_labels)
        self._snapshots[scrape] = snap
        while len(self._snapshots) > CACHED_SNAPSHOTS:
            del self._snapshots[next(iter(self._snapshots))]  # the oldest asked for
        return snap

    def pair_at(self, t: float, step: float) -> tuple[Snapshot | None, Snapshot]:
        """(the Snapshot one step before, the Snapshot at t): what a live frame at t compared.

        The earlier one is the last scrape at or before t - step, and always an earlier scrape
        than the later one (a step shorter than the scrape interval takes the scrape before).
        """
        now_scrape = self.scrape_before(t)
        if now_scrape is None:
            raise NoData(self.why_no_data(t))
        before_scrape = self.last_good_scrape(min(t - step, now_scrape - 0.001))
        before = None if before_scrape is None else self.snapshot(before_scrape)
        return before, self.snapshot(now_scrape)

    def scrape_interval(self, t: float) -> float | None:
        """The median time between the target's successful scrapes in the lookback before t."""
        stamps = sorted(self._scrapes_before(t))
        gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
        return round(gaps[len(gaps) // 2], 3) if gaps else None

    def check(self, start: float, end: float) -> None:
        """Raise NoData (saying what Prometheus does have) unless the target has data in
        [start - lookback, end], or when several jobs scrape the instance and none was chosen."""
        window = f"{int(end - start + LOOKBACK) + 1}s"
        ours = f"count_over_time({self.target.selector(REFERENCE)}[{window}])"
        jobs = [r["metric"].get("job", "") for r in self.api.query(f"count by (job) ({ours})", end)]
        if len(jobs) > 1:
            raise NoData(self._ambiguous(jobs))
        if jobs:
            return
        others = self.api.query(
            f"count by (instance) (count_over_time({REFERENCE}[{window}]))", end
        )
        known = sorted(r["metric"].get("instance", "") for r in others)
        span = (
            f"at {format_time(end)}"
            if start == end
            else f"between {format_time(start)} and {format_time(end)}"
        )
        message = f"Prometheus has no thpwatch data of instance {self.target.describe()} {span}"
        if known:
            message += f"; instances with thpwatch data then: {', '.join(known)}"
        else:
            message += "; no thpwatch instance at all then (does this Prometheus scrape thpwatch?)"
        raise NoData(message)

    def why_no_data(self, t: float) -> str:
        """Why there is no scrape at t: the target was down, or not scraped then."""
        up = self.api.query(f"up{self.target.selector()}", t)
        when = format_time(t)
        if up and float(up[0]["value"][1]) == 0:
            return f"no data at {when}: Prometheus could not scrape {self.target.instance} (up 0)"
        return f"no data at {when}: no scrape of {self.target.describe()} in the 5 minutes before"

    def _ambiguous(self, jobs: list[str]) -> str:
        return (
            f"instance {self.target.instance} is scraped by several jobs "
            f"({', '.join(sorted(jobs))}): choose one with --job"
        )
