"""Metrics derived from the Snapshot's SourceStatus entries (sources and probes)."""

from thpwatch.metric import Metric

METRICS = (
    Metric(
        "thpwatch_source_state",
        "gauge",
        "1 for the state a source is in (ok, absent, blocked, error), 0 for the others.",
        ("source", "state"),
    ),
    Metric(
        "thpwatch_source_duration_seconds",
        "gauge",
        "Time the source took to read in this scrape.",
        ("source",),
        "seconds",
    ),
    Metric(
        "thpwatch_source_age_seconds",
        "gauge",
        "Age of the data of a source refreshed on its own interval (process scan, cgroups).",
        ("source",),
        "seconds",
    ),
    Metric(
        "thpwatch_probe_state",
        "gauge",
        "1 for the state a BPF probe is in (ok, absent, blocked, error), 0 for the others.",
        ("probe", "state"),
    ),
)
