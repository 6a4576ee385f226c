"""The fixture trees' /metrics bodies are pinned (tests/golden/, rule in golden.py): a refactor
that changes a name, a label, a value or the order of what is served shows up here as a diff."""

from __future__ import annotations

import pytest

from exporter.golden import TREES, golden_path, served, stable


@pytest.mark.parametrize("tree", TREES)
def test_served_metrics_match_the_golden_file(tree, tmp_path, request):
    body = stable(served(tree, tmp_path))
    path = golden_path(tree)
    if request.config.getoption("update_golden"):
        path.write_text(body)
    assert path.exists(), f"{path} missing: run pytest {__file__} --update-golden"
    assert body == path.read_text(), f"{tree}: /metrics differs from {path}"


def test_the_rule_drops_only_what_varies_between_runs(tmp_path):
    """Two runs of the same tree serve the same stable body, and the rule kept the kernel's
    families (it did not drop everything)."""
    first, second = (stable(served("patched", tmp_path / str(i))) for i in range(2))
    assert first == second
    assert "thpwatch_vmstat_thp_fault_alloc_total" in first
    assert "thpwatch_source_state" in first
    for gone in ("process_", "_duration_seconds", "thpwatch_source_age_seconds"):
        assert gone not in first


def test_the_rule_on_a_hand_written_body():
    body = (
        "# HELP process_cpu_seconds_total CPU.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 0.3\n"
        "# HELP thpwatch_build_info Build.\n"
        "# TYPE thpwatch_build_info gauge\n"
        'thpwatch_build_info{version="1.2.3"} 1.0\n'
        "# HELP thpwatch_scrape_duration_seconds Took.\n"
        "# TYPE thpwatch_scrape_duration_seconds gauge\n"
        "thpwatch_scrape_duration_seconds 0.01\n"
        "# HELP thpwatch_x_seconds Latency.\n"
        "# TYPE thpwatch_x_seconds histogram\n"
        'thpwatch_x_seconds_bucket{le="+Inf"} 1.0\n'
        "thpwatch_x_seconds_count 1.0\n"
    )
    assert stable(body) == (
        "# HELP thpwatch_build_info Build.\n"
        "# TYPE thpwatch_build_info gauge\n"
        'thpwatch_build_info{version="VERSION"} 1.0\n'
        "# HELP thpwatch_x_seconds Latency.\n"
        "# TYPE thpwatch_x_seconds histogram\n"
        'thpwatch_x_seconds_bucket{le="+Inf"} 1.0\n'
        "thpwatch_x_seconds_count 1.0\n"
    )
