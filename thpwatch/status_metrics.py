"""Metrics derived from the Snapshot's SourceStatus entries (sources and probes)."""

from thpwatch.metric import Metric

SOURCE_STATE = Metric(
    "thpwatch_source_state",
    "gauge",
    "1 for the state a source is in (ok, absent, blocked, error), 0 for the others.",
    ("source", "state"),
)
SOURCE_DURATION = Metric(
    "thpwatch_source_duration_seconds",
    "gauge",
    "Time the source took to read in this scrape.",
    ("source",),
    "seconds",
)
SOURCE_AGE = Metric(
    "thpwatch_source_age_seconds",
    "gauge",
    "Age of the data of a source refreshed on its own interval (process scan, cgroups).",
    ("source",),
    "seconds",
)
PROBE_STATE = Metric(
    "thpwatch_probe_state",
    "gauge",
    "1 for the state a BPF probe is in (ok, absent, blocked, error), 0 for the others.",
    ("probe", "state"),
)
METRICS = (SOURCE_STATE, SOURCE_DURATION, SOURCE_AGE, PROBE_STATE)

# SourceStatus.kind -> its 0/1 state metric; the metric's first label names the status.
STATE_METRICS = {"source": SOURCE_STATE, "probe": PROBE_STATE}
