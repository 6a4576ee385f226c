"""Turns one Snapshot into Prometheus metric families, using the catalog for type and help.

Pure rendering: no reading, no timestamps (Prometheus stamps a scrape itself). Status metrics
(source/probe state, source duration) are derived here from the Snapshot's statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client.metrics_core import Metric as Family
from prometheus_client.utils import floatToGoString

from thpwatch.catalog import Catalog
from thpwatch.kernel.text import MAX_LABEL_CHARS, label_text
from thpwatch.metric import Metric
from thpwatch.snapshot import Histogram, Sample, Snapshot, SourceStatus, State
from thpwatch.status_metrics import SOURCE_DURATION, SOURCE_STATE, STATE_METRICS

log = logging.getLogger(__name__)


def snapshot_families(snapshot: Snapshot, catalog: Catalog) -> list[Family]:
    """Every family of a Snapshot: its samples, then the state of each source and probe."""
    samples = list(snapshot.samples) + list(status_samples(snapshot.statuses))
    return list(render_samples(samples, catalog))


def status_samples(statuses: Iterable[SourceStatus]) -> Iterator[Sample]:
    """One 0/1 series per possible state, so a state change is a value change, not a new series."""
    for st in statuses:
        metric = STATE_METRICS.get(st.kind, SOURCE_STATE)
        for state in State:
            yield Sample(
                metric.name,
                ((metric.labels[0], st.name), ("state", state.value)),
                1.0 if st.state is state else 0.0,
            )
        if st.kind == "source":
            yield Sample(SOURCE_DURATION.name, (("source", st.name),), st.duration_seconds)


def render_samples(samples: Iterable[Sample], catalog: Catalog) -> Iterator[Family]:
    """Groups samples by name (in first-seen order) into families typed by the catalog."""
    families: dict[str, Family] = {}
    for s in samples:
        family = families.get(s.name)
        if family is None:
            metric = catalog.lookup(s.name)
            if metric is None:
                log.error("sample %s is not in the metric catalog: not exported", s.name)
                continue
            family = families[s.name] = new_family(metric)
        add_sample(family, s)
    yield from families.values()


def safe_label(value: str) -> str:
    """A label value the exposition can carry: UTF-8 (names from the kernel or users are bytes,
    and one undecodable name must not fail a whole scrape) and of bounded length."""
    if value.isascii() and len(value) <= MAX_LABEL_CHARS:
        return value
    return label_text(value)


def family_name(metric: Metric) -> str:
    """prometheus_client names counter and info families without their _total/_info suffix."""
    suffix = {"counter": "_total", "info": "_info"}.get(metric.type, "")
    return metric.name.removesuffix(suffix) if suffix else metric.name


def new_family(metric: Metric) -> Family:
    unit = "" if metric.type == "info" else metric.unit
    return Family(family_name(metric), metric.help, metric.type, unit)


def add_sample(family: Family, sample: Sample) -> None:
    labels = {k: safe_label(v) for k, v in sample.labels}
    value = sample.value
    if family.type == "histogram":
        if not isinstance(value, Histogram):
            log.error("histogram %s got a plain value: not exported", sample.name)
            return
        add_histogram(family, labels, value)
        return
    if isinstance(value, Histogram):
        log.error("%s (%s) got a histogram value: not exported", sample.name, family.type)
        return
    name = sample.name if family.type in ("counter", "info") else family.name
    family.add_sample(name, labels, float(value))


def add_histogram(family: Family, labels: dict[str, str], h: Histogram) -> None:
    bucket = f"{family.name}_bucket"
    for bound, cumulative in zip(h.bounds, h.cumulative, strict=True):
        family.add_sample(bucket, {**labels, "le": format_bound(bound)}, cumulative)
    family.add_sample(bucket, {**labels, "le": "+Inf"}, h.count)
    family.add_sample(f"{family.name}_count", labels, h.count)
    family.add_sample(f"{family.name}_sum", labels, h.total)


def format_bound(bound: float) -> str:
    """le label spelled as prometheus_client's own histograms spell it."""
    return floatToGoString(bound)
