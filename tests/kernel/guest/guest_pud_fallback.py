"""A guest too small for a 1 GiB folio: PUD faults fall back, and thpwatch's PUD fault probe
sees the fallback the kernel counts."""

from __future__ import annotations

from thpcli import Exporter, delta, record
from workload import PUD_SIZE, Holder, Region, mthp_stat, touch

PUD = "1048576kB"
THP = "/sys/kernel/mm/transparent_hugepage"


def fault_in_1g_region() -> dict[str, int]:
    touch(Region(PUD_SIZE, PUD_SIZE), 0, 1)
    return {}


def test_pud_fault_falls_back_in_small_guest(exporter: Exporter, sysfs, record_property) -> None:  # type: ignore[no-untyped-def]
    sysfs(f"{THP}/hugepages-{PUD}/enabled", "always")
    sysfs("/proc/sys/vm/overcommit_memory", "1")  # a 2 GiB mapping in a 1 GiB guest
    before = exporter.scrape()
    fallback_before = mthp_stat(PUD, "anon_fault_fallback")
    with Holder("pud-fallback", fault_in_1g_region):
        fallback = mthp_stat(PUD, "anon_fault_fallback") - fallback_before
    after = exporter.scrape()
    assert fallback == 1
    assert delta(before, after, "thpwatch_mthp_anon_fault_fallback_total", size=PUD) == 1
    probe = delta(before, after, "thpwatch_faults_total", fault="pud_anon", outcome="fallback")
    assert probe == fallback
    assert delta(before, after, "thpwatch_faults_total", fault="pud_anon", outcome="ok") == 0
    record(record_property, anon_fault_fallback_1G=fallback, probe_fallbacks=probe)
