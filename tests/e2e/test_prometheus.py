"""A real Prometheus scrapes a real `thpwatch run`; its HTTP API must hold the kernel's values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import FIXTURES, require

from e2e import kernelfiles
from e2e.harness import probes_in_this_checkout, scrape_config
from thpwatch.kernel.facts import is_gauge_stat
from thpwatch.sources.common import stat_metric

pytestmark = pytest.mark.e2e

PATCHED = FIXTURES / "patched"
RESERVED_HPAGES = {
    "total": "thpwatch_reserved_thp_pool_hpages",
    "free": "thpwatch_reserved_thp_free_hpages",
    "used": "thpwatch_reserved_thp_used_hpages",
}
RESERVED_BYTES = {
    "total": "thpwatch_reserved_thp_pool_bytes",
    "free": "thpwatch_reserved_thp_free_bytes",
    "used": "thpwatch_reserved_thp_used_bytes",
}


def by_size_and_name(result: list[dict]) -> dict[tuple[str, str], float]:
    return {(r["metric"]["size"], r["metric"]["__name__"]): float(r["value"][1]) for r in result}


def test_patched_fixture_values_reach_prometheus_unchanged(prometheus, thpwatch_exporter):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch")

    pool = kernelfiles.reserved_pool(PATCHED)
    hpage = kernelfiles.hpage_pmd_size(PATCHED)
    for field, name in RESERVED_HPAGES.items():
        assert prom.value(name) == pool[field], name
    for field, name in RESERVED_BYTES.items():
        assert prom.value(name) == pool[field] * hpage, name

    sizes = kernelfiles.size_dirs(PATCHED)
    assert "1048576kB" in sizes  # the PUD THP size of the patched tree
    scraped = by_size_and_name(prom.query('{__name__=~"thpwatch_mthp_.+", mode=""}'))
    expected = {
        (size, stat_metric("mthp", stat)): float(value)
        for size, d in sizes.items()
        for stat, value in kernelfiles.stats(d).items()
    }
    assert scraped == expected
    for size, d in sizes.items():
        mode = kernelfiles.current_mode(d / "enabled")
        assert prom.value(f'thpwatch_mthp_enabled{{size="{size}",mode="{mode}"}}') == 1
        assert (
            prom.query(f'thpwatch_mthp_enabled{{size="{size}"}} == 1')[0]["metric"]["mode"] == mode
        )


def test_live_host_per_size_counters_equal_the_kernel_files(prometheus, thpwatch_exporter):
    require(os.geteuid() == 0, "needs root (/proc/pagetypeinfo, as the daemon runs)")
    exporter = thpwatch_exporter("--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    root = Path("/")
    sizes = kernelfiles.size_dirs(root)
    assert sizes, "this kernel has no hugepages-*kB directories"

    def read_counters() -> dict[tuple[str, str], int]:
        return {
            (size, stat_metric("mthp", stat)): value
            for size, d in sizes.items()
            for stat, value in kernelfiles.stats(d).items()
            if not is_gauge_stat(stat)
        }

    start, before, after = prom.bracketed_scrape("thpwatch", read_counters)
    scraped = by_size_and_name(prom.query('{__name__=~"thpwatch_mthp_.+_total"}', at=start))
    assert set(scraped) == set(before)
    for key, value in scraped.items():
        assert before[key] <= value <= after[key], key

    for size, d in sizes.items():
        if not (d / "enabled").exists():  # e.g. 8kB: file-backed only, no anon mode to set
            assert not prom.query(f'thpwatch_mthp_enabled{{size="{size}"}}')
            continue
        mode = kernelfiles.current_mode(d / "enabled")
        assert prom.value(f'thpwatch_mthp_enabled{{size="{size}",mode="{mode}"}}') == 1


def test_live_host_probe_states_reach_prometheus(prometheus, thpwatch_exporter):
    require(os.geteuid() == 0, "needs root (BPF)")
    require(probes_in_this_checkout(), "needs thpwatch.probes.source (the BPF probes)")
    exporter = thpwatch_exporter()
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch")
    states = prom.query("thpwatch_probe_state")
    assert states, "no thpwatch_probe_state series reached Prometheus"
    probes = {r["metric"]["probe"] for r in states}
    for probe in probes:
        ones = [r for r in states if r["metric"]["probe"] == probe and r["value"][1] == "1"]
        assert len(ones) == 1, f"probe {probe}: {len(ones)} states set"
    exported = [
        ln for ln in exporter.metrics().splitlines() if ln.startswith("thpwatch_probe_state{")
    ]
    assert len(exported) == len(states)


def test_source_states_reach_prometheus(prometheus, thpwatch_exporter):
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    exporter = thpwatch_exporter("--root", str(PATCHED), "--no-bpf")
    prom = prometheus([scrape_config("thpwatch", exporter.target)])
    prom.wait_for_scrapes("thpwatch")
    states = prom.query("thpwatch_source_state == 1")
    assert states
    ok = {r["metric"]["source"] for r in states if r["metric"]["state"] == "ok"}
    assert ok, states
    assert prom.value("up{job='thpwatch'}") == 1
    assert prom.value("thpwatch_scrape_duration_seconds") > 0


def test_scraped_targets_absent_is_no_series_and_periodic_sources_age(scraped_targets):
    prom = scraped_targets.prometheus
    for job in scraped_targets.jobs():
        assert prom.value(f'up{{job="{job}"}}') == 1
        ages = prom.query(f'thpwatch_source_age_seconds{{job="{job}"}}')
        assert {r["metric"]["source"] for r in ages} == {"procscan", "cgroups", "pagetypeinfo"}
    patched = kernelfiles.reserved_pool(PATCHED)["total"]
    assert prom.value('thpwatch_reserved_thp_pool_hpages{job="thpwatch-patched"}') == patched
    if not (Path("/") / kernelfiles.RESERVED).is_dir():  # a stock kernel: absent, not zero
        assert prom.query('thpwatch_reserved_thp_pool_hpages{job="thpwatch-live"}') == []
        state = 'thpwatch_source_state{job="thpwatch-live",source="reserved_thp",state="absent"}'
        assert prom.value(state) == 1
    assert prom.query('rate(thpwatch_vmstat_pgfault_total{job="thpwatch-live"}[5s])')
