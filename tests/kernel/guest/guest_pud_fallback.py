"""A guest too small for a 1 GiB folio: PUD faults fall back, and thpwatch's PUD fault probe
sees the fallback the kernel counts. Only the fault probes are compiled (thpwatch's own bpf
source, faults group): the whole probe set takes minutes to compile in a 1 GiB TCG guest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thpcli import record
from workload import PUD_SIZE, Holder, Region, mthp_stat, touch

from thpwatch.probes.source import BpfSource
from thpwatch.sampler import Sampler
from thpwatch.snapshot import Snapshot

PUD = "1048576kB"
THP = "/sys/kernel/mm/transparent_hugepage"


@pytest.fixture
def fault_probes() -> Iterator[Sampler]:
    source = BpfSource(groups=("faults",))
    sampler = Sampler([source])
    first = sampler.snapshot()
    probe = first.status("do_huge_pud_anonymous_page", kind="probe")
    assert probe is not None and probe.state.value == "ok", first.statuses
    yield sampler
    source.close()


def pud_outcome(snap: Snapshot, outcome: str) -> float:
    value = snap.get("thpwatch_faults_total", fault="pud_anon", outcome=outcome)
    return 0.0 if value is None else float(value)  # type: ignore[arg-type]


def fault_in_1g_region() -> dict[str, int]:
    touch(Region(PUD_SIZE, PUD_SIZE), 0, 1)
    return {}


def test_pud_fault_falls_back_in_small_guest(fault_probes: Sampler, sysfs, record_property) -> None:  # type: ignore[no-untyped-def]
    sysfs(f"{THP}/hugepages-{PUD}/enabled", "always")
    sysfs("/proc/sys/vm/overcommit_memory", "1")  # a 2 GiB mapping in a 1 GiB guest
    before = fault_probes.snapshot()
    fallback_before = mthp_stat(PUD, "anon_fault_fallback")
    with Holder("pud-fallback", fault_in_1g_region):
        fallback = mthp_stat(PUD, "anon_fault_fallback") - fallback_before
    after = fault_probes.snapshot()
    assert fallback == 1
    probe = pud_outcome(after, "fallback") - pud_outcome(before, "fallback")
    assert probe >= fallback  # unsuitable-range bail-outs are VM_FAULT_FALLBACK too
    assert pud_outcome(after, "ok") == pud_outcome(before, "ok")
    record(record_property, anon_fault_fallback_1G=fallback, probe_fallbacks=probe)
