"""Rendering Snapshots into Prometheus text: types, histograms, status series, unknown names."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from thpwatch.exporter.collector import SnapshotCollector
from thpwatch.sampler import Sampler

from .conftest import FixedSource, PoolFileSource


def render(sources, catalog) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(Sampler(sources), catalog))
    return generate_latest(registry).decode()


def test_each_type_is_rendered_with_catalog_help_and_type(pool_root, test_catalog):
    text = render([PoolFileSource(pool_root), FixedSource()], test_catalog)
    lines = text.splitlines()
    assert "# TYPE thpwatch_test_pool_hpages gauge" in lines
    assert "thpwatch_test_pool_hpages 12.0" in lines
    assert "# HELP thpwatch_test_events_total Events, per size." in lines
    assert "# TYPE thpwatch_test_events_total counter" in lines
    assert 'thpwatch_test_events_total{size="2048kB"} 7.0' in lines
    assert 'thpwatch_test_events_total{size="64kB"} 3.0' in lines
    assert 'thpwatch_test_kernel_info{release="6.18.0"} 1.0' in lines


def test_histogram_buckets_are_cumulative_seconds_with_inf(test_catalog):
    lines = render([FixedSource()], test_catalog).splitlines()
    assert "# TYPE thpwatch_test_fault_seconds histogram" in lines
    prefix = 'thpwatch_test_fault_seconds_bucket{fault="pmd_anon",le='
    assert [ln for ln in lines if ln.startswith(prefix)] == [
        prefix + '"1e-06"} 1.0',
        prefix + '"0.001"} 4.0',
        prefix + '"1.0"} 5.0',
        prefix + '"+Inf"} 6.0',
    ]
    assert 'thpwatch_test_fault_seconds_count{fault="pmd_anon"} 6.0' in lines
    assert 'thpwatch_test_fault_seconds_sum{fault="pmd_anon"} 2.5' in lines


def test_every_state_is_a_series_with_exactly_one_set(pool_root, test_catalog):
    lines = render([PoolFileSource(pool_root), FixedSource()], test_catalog).splitlines()
    for name in ("pool", "fixed"):
        states = {
            st: float(ln.rsplit(" ", 1)[1])
            for st in ("ok", "absent", "blocked", "error")
            for ln in lines
            if ln.startswith(f'thpwatch_source_state{{source="{name}",state="{st}"}}')
        }
        assert states == {"ok": 1.0, "absent": 0.0, "blocked": 0.0, "error": 0.0}
        assert any(
            ln.startswith(f'thpwatch_source_duration_seconds{{source="{name}"}}') for ln in lines
        )
    assert 'thpwatch_probe_state{probe="pmd_fault",state="blocked"} 1.0' in lines
    assert 'thpwatch_probe_state{probe="pmd_fault",state="ok"} 0.0' in lines
    assert any(ln.startswith("thpwatch_scrape_duration_seconds ") for ln in lines)


def test_no_sample_carries_a_timestamp(pool_root, test_catalog):
    text = render([PoolFileSource(pool_root), FixedSource()], test_catalog)
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    assert len(samples) > 20
    assert [s for s in samples if s.timestamp is not None] == []


def test_a_sample_outside_the_catalog_is_dropped_and_logged(test_catalog, caplog):
    class Rogue:
        name = "rogue"

        def collect(self, out):
            out.add("thpwatch_not_declared", 1)

    with caplog.at_level(logging.ERROR):
        text = render([Rogue()], test_catalog)
    assert "thpwatch_not_declared" not in text
    assert "thpwatch_not_declared is not in the metric catalog" in caplog.text
    assert 'thpwatch_source_state{source="rogue",state="ok"} 1.0' in text


def test_a_file_that_vanishes_flips_the_state_and_keeps_the_rest(pool_root, test_catalog):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SnapshotCollector(Sampler([PoolFileSource(pool_root), FixedSource()]), test_catalog)
    )
    assert (
        'thpwatch_source_state{source="pool",state="ok"} 1.0'
        in generate_latest(registry).decode().splitlines()
    )
    (pool_root / "pool").unlink()
    lines = generate_latest(registry).decode().splitlines()
    assert 'thpwatch_source_state{source="pool",state="error"} 1.0' in lines
    assert 'thpwatch_source_state{source="pool",state="ok"} 0.0' in lines
    assert not any(ln.startswith("thpwatch_test_pool_hpages ") for ln in lines)
    assert 'thpwatch_test_events_total{size="2048kB"} 7.0' in lines


class OddLabelSource:
    """A label value as os.fsdecode gives an undecodable name (a surrogate), and a huge one."""

    name = "odd"

    def collect(self, out):
        out.add("thpwatch_test_events_total", 1, size="cg-\udcff\udcfe")
        out.add("thpwatch_test_events_total", 2, size="x" * 1_000_000)
        out.add("thpwatch_test_events_total", 3, size="y" * 1_000_000)


def test_undecodable_and_huge_label_values_do_not_fail_the_scrape(test_catalog):
    """#17: a non-UTF-8 cgroup name made every --cgroups scrape a 500 (UnicodeEncodeError)."""
    text = render([OddLabelSource()], test_catalog)
    got = {
        s.labels["size"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "thpwatch_test_events_total"
    }
    assert got["cg-\\xff\\xfe"] == 1
    long = sorted((k for k in got if len(k) > 100), key=got.get)
    assert [len(k) for k in long] == [128, 128]  # capped, and two names stay two series
    assert [got[k] for k in long] == [2, 3] and long[0] != long[1]
