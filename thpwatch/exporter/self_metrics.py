"""Metrics about the exporter itself (besides prometheus_client's process_* metrics)."""

from thpwatch.metric import Metric

SCRAPE_DURATION = Metric(
    "thpwatch_scrape_duration_seconds",
    "gauge",
    "Time taken to read every source and render this scrape.",
    (),
    "seconds",
)

METRICS = (SCRAPE_DURATION,)
