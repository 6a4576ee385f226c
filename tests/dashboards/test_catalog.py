"""Every metric a panel, a variable or a rule selects is one thpwatch exports (or a built-in)."""

from __future__ import annotations

import re

import pytest

from dashboards import inventory
from dashboards.promql import metric_names, selectors
from thpwatch.catalog import catalog

# Series a Prometheus scrape of thpwatch has besides the catalog: Prometheus's own per-target
# series and prometheus_client's process collector.
BUILTINS = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
}
HISTOGRAM_SERIES = re.compile(r"(?P<base>.+)_(bucket|sum|count)$")
RECORDING_NAME = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")

EXPRESSIONS = [
    e for path in inventory.DASHBOARD_FILES for e in inventory.dashboard_expressions(path)
] + inventory.rule_expressions()


# Labels every scraped series has (target labels) besides the ones the catalog declares.
TARGET_LABELS = {"job", "instance"}


def catalog_metric(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(catalog name, labels a selector may match) of a series name, or None if unknown."""
    m = catalog().lookup(name)
    if m is not None:
        return m.name, m.labels
    h = HISTOGRAM_SERIES.match(name)
    m = catalog().lookup(h.group("base")) if h else None
    if m is not None and m.type == "histogram":
        return m.name, (*m.labels, "le")
    return None


def unknown_names(expr: str) -> set[str]:
    recorded = inventory.recording_rule_names()
    return {
        name
        for name in metric_names(expr)
        if name not in BUILTINS and name not in recorded and catalog_metric(name) is None
    }


def undeclared_labels(expr: str) -> set[str]:
    """name{label} for each label a selector matches on that its catalog metric does not have."""
    bad = set()
    for name, labels in selectors(expr):
        known = catalog_metric(name)
        if known is not None:
            bad |= {f"{name}{{{lb}}}" for lb in labels - TARGET_LABELS - set(known[1])}
    return bad


@pytest.mark.parametrize("e", EXPRESSIONS, ids=[e.where for e in EXPRESSIONS])
def test_expression_uses_only_catalog_metrics(e: inventory.Expression) -> None:
    assert unknown_names(e.expr) == set(), f"{e.where}: {e.expr}"
    assert undeclared_labels(e.expr) == set(), f"{e.where}: {e.expr}"


def test_recording_rules_used_by_dashboards_are_defined() -> None:
    recorded = inventory.recording_rule_names()
    used = {
        name
        for path in inventory.DASHBOARD_FILES
        for e in inventory.dashboard_expressions(path)
        for name in metric_names(e.expr)
        if ":" in name
    }
    assert used, "the fleet dashboard reads recording rules"
    assert used <= recorded, f"not recorded by {inventory.RULES_FILE.name}: {used - recorded}"


def test_recording_rules_are_named_level_metric_operations() -> None:
    bad = [n for n in inventory.recording_rule_names() if not RECORDING_NAME.match(n)]
    assert bad == []


def test_label_not_declared_by_the_catalog_is_reported() -> None:
    assert undeclared_labels(
        'thpwatch_probe_state{probe="x", colour="red", job="thpwatch"}'
        ' + on (instance) thpwatch_source_duration_seconds{instance="a"}'
    ) == {"thpwatch_probe_state{colour}"}


def test_unknown_metric_is_reported() -> None:
    assert unknown_names("rate(thpwatch_no_such_metric_total[5m]) + up") == {
        "thpwatch_no_such_metric_total"
    }
